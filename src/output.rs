//! Writing to stdout and stderr without ever failing the run.
//!
//! `print!` panics when the reader of stdout went away (`sr-rehearse demo | head`: EPIPE, since
//! Rust ignores SIGPIPE), and a panic there would skip the stop of the sandbox. What the tool
//! prints is a courtesy to the reader; the reports and the exit code are the result, so a closed
//! stdout or stderr is ignored.

use std::io::Write;

/// Writes `s` to stdout and flushes it, ignoring a closed or failing stdout.
pub fn out(s: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}

/// `s` and a newline to stdout.
pub fn outln(s: &str) {
    out(&format!("{s}\n"));
}

/// Writes `s` to stderr, ignoring a closed stderr.
pub fn err(s: &str) {
    let _ = std::io::stderr().lock().write_all(s.as_bytes());
}
