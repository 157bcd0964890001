//! StarRocksFE's `main` as a process: the pid-file lock, the shutdown hook, and the exit status.
//!
//! These belong to the process rather than to any startup phase: the lock comes before the
//! configuration is read, the hook must work whatever phase a signal interrupts, and how a failed
//! start ends (exit 255, or a JVM that lingers on 2.5/3.0) depends on the release, not the phase.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::Signal;

use super::boot::{Fe, Stop, START};
use super::start::start;
use crate::cluster;
use crate::logs::{FeLog, Level};
use crate::release::Behaviour as _;
use crate::{proc, Fault, Release};

/// StarRocksFE's `main`, after the JVM has started.
pub fn run(args: Vec<String>) -> i32 {
    if args.iter().any(|a| a == "-v" || a == "--version") {
        if let Some(r) = home_release() {
            println!("Build version: {}", r.version.full());
        }
        return 0;
    }
    let Ok(home) = std::env::var("STARROCKS_HOME") else {
        println!("env STARROCKS_HOME is not set.");
        return 255;
    };
    let Ok(pid_dir) = std::env::var("PID_DIR") else {
        println!("env PID_DIR is not set.");
        return 255;
    };
    let home = PathBuf::from(home);
    let mut release = match Release::load(&home) {
        Ok(r) => r,
        Err(e) => {
            println!("Error: {e}");
            return 1;
        }
    };
    // A host of a simulated cluster may carry a fault of its own (see the `cluster` module).
    if let Some(f) = cluster::host_fault(&home, release.version) {
        release.fault = Some(f);
    }
    let sigset = proc::block_signals();

    // Lock the pid file first, as StarRocksFE.start does; three tries ten seconds apart.
    let pid_path = Path::new(&pid_dir).join("fe.pid");
    let mut locked = false;
    for attempt in 1..=3 {
        match proc::lock_pid_file(&pid_path, false) {
            Ok(true) => {
                locked = true;
                break;
            }
            _ => {
                println!("get pid file lock failed, retried: {attempt}");
                if attempt < 3 {
                    std::thread::sleep(Duration::from_secs(10));
                }
            }
        }
    }
    if !locked {
        println!("StarRocksFE start failed");
        println!("java.io.IOException: pid file is already locked.");
        return 255;
    }

    let ignore_term = release.fault_is(Fault::IgnoreSigterm);
    let v = release.version;
    let mut fe = Fe {
        home,
        release,
        v,
        conf: HashMap::new(),
        log: None,
        config: Arc::new(crate::frontend_config::FeConfig::from_conf(
            &HashMap::new(),
            v,
        )),
    };
    let log_slot: Arc<Mutex<Option<Arc<FeLog>>>> = Arc::new(Mutex::new(None));
    let slot = log_slot.clone();
    proc::spawn_signal_thread(sigset, move |sig| {
        if ignore_term && matches!(sig, Signal::SIGTERM | Signal::SIGINT) {
            return;
        }
        if let Some(log) = slot.lock().unwrap().as_ref() {
            log.log(
                Level::Info,
                "Thread-0|40",
                "StarRocksFE.lambda$start$0():98",
                "start to execute shutdown hook",
            );
            log.log(
                Level::Info,
                "Thread-0|40",
                "StarRocksFE.lambda$start$0():108",
                "shutdown hook end",
            );
        }
        proc::exit_deleting_pid(if sig == Signal::SIGUSR1 { 0 } else { 143 });
    });
    if fe.release.fault_is(Fault::Grandchild) {
        proc::spawn_lingering_helper(600);
    }

    match start(&mut fe, &log_slot) {
        Ok(()) => proc::park_forever(),
        Err(Stop::Exit) => proc::exit_deleting_pid(255),
        Err(Stop::StartFailed(trace)) => {
            let text = format!("StarRocksFE start failed\n{trace}");
            match &fe.log {
                Some(log) => log.error(START, &text),
                None => println!("{text}"),
            }
            if fe.v.start_failure_exits() {
                proc::exit_deleting_pid(255)
            }
            // 2.5/3.0 never call System.exit here: the JVM lingers with nothing listening.
            proc::park_forever()
        }
    }
}

fn home_release() -> Option<Release> {
    let home = std::env::var("STARROCKS_HOME").ok()?;
    Release::load(Path::new(&home)).ok()
}
