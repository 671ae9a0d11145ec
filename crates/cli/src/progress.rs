//! One line on a terminal's stderr while a slow analysis runs (a first run inflates
//! debug files and reads a compressed core; later ones use the cache), erased when it
//! ends. Nothing when stderr is not a terminal, nothing for a fast analysis.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long an analysis runs before the line appears.
const AFTER: Duration = Duration::from_millis(500);

/// The line, shown until dropped.
pub struct Progress {
    done: Arc<AtomicBool>,
    shown: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// Show `what` after half a second, if stderr is a terminal.
    pub fn start(what: String) -> Progress {
        let done = Arc::new(AtomicBool::new(false));
        let shown = Arc::new(AtomicBool::new(false));
        let thread = std::io::stderr().is_terminal().then(|| {
            let (done, shown) = (done.clone(), shown.clone());
            std::thread::spawn(move || {
                let step = Duration::from_millis(25);
                let mut waited = Duration::ZERO;
                while waited < AFTER {
                    if done.load(Ordering::Acquire) {
                        return;
                    }
                    std::thread::sleep(step);
                    waited = waited.saturating_add(step);
                }
                if !done.load(Ordering::Acquire) {
                    let mut err = std::io::stderr().lock();
                    let _ = write!(err, "pycoroner: {what}...");
                    let _ = err.flush();
                    shown.store(true, Ordering::Release);
                }
            })
        });
        Progress { done, shown, thread }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if self.shown.load(Ordering::Acquire) {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
        }
    }
}
