//! SIGINT and SIGTERM to the tool: remember them, let the pipeline stop cleanly.
//!
//! The pipeline polls [`interrupted`] between steps and inside every wait, so a signal ends the run
//! through the same stop-and-clean path as any failure, with the shell's exit code for the signal:
//! 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP (see [`exit_code`]).

use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

static RECEIVED: AtomicI32 = AtomicI32::new(0);
static COUNT: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_signal(sig: i32) {
    RECEIVED.store(sig, Ordering::SeqCst);
    COUNT.fetch_add(1, Ordering::SeqCst);
}

/// How many signals have arrived: a step that began after one (the in-place rollback a SIGINT
/// started) tells a further signal from the one it is already handling.
pub fn count() -> u32 {
    COUNT.load(Ordering::SeqCst)
}

/// Installs the handlers for SIGINT, SIGTERM and SIGHUP.
///
/// With `SA_RESTART`, so that a signal never turns a read or write of a library (the MySQL client,
/// the HTTP client, a copy) into an error: the flag is what ends the run. The price is that a call
/// blocked in the kernel stays blocked, so the tool never makes one that can wait without end: a
/// FIFO `scan` reads is opened without waiting for its writer and polled with a timeout
/// (`scan::input`), and a report path that is a FIFO is refused before the run (`report::file`).
pub fn install() {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores into an atomic, which is async-signal-safe.
        unsafe {
            let _ = sigaction(s, &action);
        }
    }
}

/// The exit code of a run ended by the signal received: 128 + its number, as a shell reports a
/// process killed by it, so a CI log tells a Ctrl-C (130) from a job stopped by its runner (143).
/// 130 when none was received (an interruption seen some other way, e.g. a copy cut short).
pub fn exit_code() -> i32 {
    interrupted().map_or(crate::report::exit::INTERRUPTED, |s| 128 + s)
}

/// The signal received, if any.
pub fn interrupted() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}
