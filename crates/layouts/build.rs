//! Embeds every table under data/ (written by `pycoroner layouts`, never by hand).

use std::fmt::Write;

fn main() {
    let dir = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir")).join("data");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("crates/layouts/data")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    let mut out = String::from("/// Built-in tables: (file name, JSON).\npub static TABLES: &[(&str, &str)] = &[\n");
    for n in names {
        println!("cargo:rerun-if-changed={}", dir.join(&n).display());
        let _ = writeln!(out, "    ({n:?}, include_str!({:?})),", dir.join(&n).display().to_string());
    }
    out.push_str("];\n");
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").expect("out dir")).join("builtin_tables.rs");
    std::fs::write(dest, out).expect("write builtin_tables.rs");
}
