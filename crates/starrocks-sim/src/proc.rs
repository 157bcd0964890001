//! Process plumbing shared by the simulated FE and BE: pid files, signals, helper processes.
//!
//! Real StarRocks servers write their own pid file (the FE also locks it), exit on SIGTERM after a
//! shutdown hook, and some deployments leave helper processes behind. Doing this once, here, keeps
//! the FE and BE servers about StarRocks behaviour only.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};

static PID_FILE: OnceLock<PathBuf> = OnceLock::new();

/// Whether `sig` is ignored in this process now (inherited: `nohup` ignores SIGHUP for the
/// process it starts).
fn ignored(sig: Signal) -> bool {
    // SAFETY: a query only (no new action), into a zeroed struct sigaction of our own.
    unsafe {
        let mut old: nix::libc::sigaction = std::mem::zeroed();
        nix::libc::sigaction(sig as nix::libc::c_int, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == nix::libc::SIG_IGN
    }
}

/// Blocks the termination signals in this thread (and so in every thread spawned after it), so
/// that one dedicated thread receives them with `sigwait`. A signal ignored at start stays
/// ignored, as in the JVM (`JVM_RegisterSignal` installs no shutdown handler for a HUP, INT or
/// TERM that is ignored): a node started by `start_fe.sh --daemon` (`nohup`) over an SSH session
/// outlives that session's SIGHUP. (A blocked signal is queued even when ignored, so it must not
/// be blocked.)
pub fn block_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGUSR1,
        Signal::SIGHUP,
    ] {
        if !ignored(s) {
            set.add(s);
        }
    }
    let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
    set
}

/// Runs `on_signal` for every termination signal received, on its own thread.
pub fn spawn_signal_thread(set: SigSet, on_signal: impl Fn(Signal) + Send + 'static) {
    std::thread::spawn(move || loop {
        if let Ok(sig) = set.wait() {
            on_signal(sig);
        }
    });
}

/// Locks `path` (creating it) and writes our pid, `newline` deciding the BE's `"<pid>\n"` versus
/// the FE's bare digits. Returns false when another process holds the lock.
pub fn lock_pid_file(path: &Path, newline: bool) -> std::io::Result<bool> {
    let f: File = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)?;
    let mut lock = match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Ok(l) => l,
        Err(_) => return Ok(false),
    };
    lock.set_len(0)?;
    let text = if newline {
        format!("{}\n", std::process::id())
    } else {
        std::process::id().to_string()
    };
    lock.write_all(text.as_bytes())?;
    lock.flush()?;
    // The lock lives as long as the process, like the FE's FileLock.
    std::mem::forget(lock);
    let _ = PID_FILE.set(path.to_path_buf());
    Ok(true)
}

/// Writes our pid without locking, as the BE does.
pub fn write_pid_file(path: &Path) -> std::io::Result<()> {
    std::fs::write(path, format!("{}\n", std::process::id()))
}

/// Exits like the JVM does after `System.exit`: the pid file registered with `deleteOnExit` goes.
pub fn exit_deleting_pid(code: i32) -> ! {
    if let Some(p) = PID_FILE.get() {
        let _ = std::fs::remove_file(p);
    }
    std::process::exit(code)
}

/// Starts a helper process that outlives the server (the grandchild fault). It stays in our process
/// group, ignores SIGTERM like a stuck worker would, and ends by itself after `max_secs`, so a
/// broken test can never leave it behind for long.
pub fn spawn_lingering_helper(max_secs: u64) {
    let Ok(me) = std::env::current_exe() else {
        return;
    };
    let mut cmd = Command::new(me);
    cmd.arg0("starrocks-sim")
        .args(["linger", "--secs", &max_secs.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    unsafe {
        cmd.pre_exec(|| {
            let _ = nix::sys::signal::pthread_sigmask(
                SigmaskHow::SIG_SETMASK,
                Some(&SigSet::empty()),
                None,
            );
            Ok(())
        });
    }
    if let Ok(child) = cmd.spawn() {
        // Never waited for: it must outlive us.
        std::mem::forget(child);
    }
}

/// The `linger` helper: ignore SIGTERM and sleep until the deadline.
pub fn linger(secs: u64) -> i32 {
    unsafe {
        let _ = nix::sys::signal::signal(Signal::SIGTERM, nix::sys::signal::SigHandler::SigIgn);
    }
    std::thread::sleep(Duration::from_secs(secs));
    0
}

/// Parks the calling thread forever; the signal thread ends the process.
pub fn park_forever() -> ! {
    loop {
        std::thread::park();
    }
}
