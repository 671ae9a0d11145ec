from pycoroner import main

main()
