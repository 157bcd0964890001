//! Waiting on a condition with a deadline, the tests' only way to synchronise with a process: a
//! sleep would pass or fail with the machine's load, a polled condition does not.

use std::process::Child;
use std::time::{Duration, Instant};

/// Polls `f` until it returns Some or the deadline passes.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > end {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Like `wait_for`, but returns None at the deadline instead of panicking.
pub fn wait_for_or_none<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for a child with a deadline and returns its exit status.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    wait_for("process exit", timeout, || child.try_wait().unwrap())
}
