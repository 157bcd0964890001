//! `lib/starrocks_be` as a process: its arguments, the pid file, glog, the signal handling, and
//! the order of the start phases, then the wait for the first heartbeat.
//!
//! The phases live in their own files; this one keeps their order, which is the behaviour (a BE
//! with two problems reports the one its release meets first), and how each failure exits.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{SigHandler, Signal};

use super::conf::Conf;
use super::steps::{self, Steps};
use super::{checks, heartbeat, servers, storage};
use crate::cluster;
use crate::logs::{self, Glog};
use crate::release::Behaviour as _;
use crate::{proc, Fault, Release};

/// `lib/starrocks_be` as the start script runs it.
pub fn be_main(args: Vec<String>) -> i32 {
    if args.iter().any(|a| a == "--version" || a == "-v") {
        // A real build carries its version inside the binary, so it answers without
        // STARROCKS_HOME; this one reads the release file of the package it sits in.
        let home = std::env::var_os("STARROCKS_HOME")
            .map(std::path::PathBuf::from)
            .or_else(|| {
                let exe = std::env::current_exe().ok()?;
                Some(exe.parent()?.parent()?.to_path_buf())
            });
        if let Some(r) = home.and_then(|h| Release::load(&h).ok()) {
            println!(
                "{}",
                steps::banner(r.version)
                    .trim_start()
                    .trim_start_matches("version ")
            );
        }
        return 0;
    }
    let Ok(home) = std::env::var("STARROCKS_HOME") else {
        eprintln!("you need set STARROCKS_HOME environment variable.");
        return 255;
    };
    let home = PathBuf::from(home);
    let mut release = match Release::load(&home) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return 255;
        }
    };
    // A host of a simulated cluster may be unable to run this build (see the `cluster` module).
    if let Some(f) = cluster::host_fault(&home, release.version) {
        release.fault = Some(f);
    }
    // The test-only host guard (`cluster::host`): before the environment checks,
    // the pid file or any log.
    if let Some(conf) = Conf::read(&home) {
        if let Err(refused) = cluster::guard_host("BE", &own_host(&conf), &home) {
            eprintln!("{refused}");
            return 1;
        }
    }
    if let Some(code) = checks::refuse_to_start(&home, &release) {
        return code;
    }
    run(&home, &release)
}

/// The address `BackendOptions` selects: the simulated host's inside `priority_networks`, else
/// the loopback.
fn own_host(conf: &Conf) -> String {
    cluster::host_of_networks(&conf.get("priority_networks", ""))
        .unwrap_or_else(|| cluster::LOOPBACK.to_string())
}

/// The BE's `main`, once nothing outside it stops the build from running.
fn run(home: &Path, release: &Release) -> i32 {
    let v = release.version;
    let started_millis = starrocks_common::timefmt::unix_millis();
    let sigset = proc::block_signals();
    let pid_dir =
        std::env::var("PID_DIR").unwrap_or_else(|_| home.join("bin").display().to_string());
    if proc::write_pid_file(&Path::new(&pid_dir).join("be.pid")).is_err() {
        eprintln!("fail to create pid file.");
        return 255;
    }
    let Some(conf) = Conf::read(home) else {
        eprintln!("error read config file. ");
        return 255;
    };
    let home_s = home.display().to_string();
    let log_dir = conf.get("sys_log_dir", &format!("{home_s}/log"));
    // init_glog's result is ignored by the daemon: a level it rejects leaves glog uninitialised.
    let level = logs::min_level(&conf.get("sys_log_level", "INFO"));
    if level.is_none() {
        eprintln!("sys_log_level needs to be INFO, WARNING, ERROR, FATAL");
    }
    let log = match Glog::open(Path::new(&log_dir), v, level) {
        Ok(l) => Arc::new(l),
        Err(e) => {
            eprintln!("fail to init glog in {log_dir}: {e}");
            return 255;
        }
    };
    let ignore_term = release.fault_is(Fault::IgnoreSigterm);
    let exit_log = log.clone();
    let numbered = v.be_start_steps();
    proc::spawn_signal_thread(sigset, move |sig| {
        if ignore_term && matches!(sig, Signal::SIGTERM | Signal::SIGINT) {
            return;
        }
        if numbered {
            steps::log_exit_steps(&exit_log);
        }
        exit_log.flush();
        std::process::exit(0);
    });
    if release.fault_is(Fault::Grandchild) {
        proc::spawn_lingering_helper(600);
    }
    let host = own_host(&conf);
    steps::log_daemon_start(&log, v, &conf.get("priority_networks", ""), &host);

    let mut say = Steps::new(log.clone(), v);
    say.done("daemon threads start");
    say.done("jdbc driver manager init");
    say.done("backend network options init");
    say.done("global env init");
    if v.glog_year() {
        say.done("cache env init");
    }

    // Storage: storage_root_path rules, then the tablet meta load per path.
    let Some(usable) = storage::usable_paths(&conf, &home_s, &log) else {
        return 255;
    };
    let cluster_id = storage::read_cluster_id(&usable, &conf.map);
    storage::load_tablets(&usable, &log, release);
    say.done("storage engine init");
    say.done("exec engine init");
    if v.glog_year() {
        say.done("storage engine start bg threads");
    } else if numbered {
        say.done("block cache init");
    }

    let bound = match servers::bind_servers(&host, &conf, &log, release, &mut say) {
        Ok(b) => b,
        Err(code) => return code,
    };
    // The reply carries the BE's start time, as the real one reports it (SHOW BACKENDS'
    // LastStartTime).
    let reply = format!(
        "OK version={} be_port={} http_port={} brpc_port={} start_time={}",
        v.full(),
        bound.be_port,
        bound.http_port,
        bound.brpc_port,
        started_millis
    );
    let got_first = heartbeat::serve(bound.heartbeat, &log, cluster_id, &usable, reply);
    if numbered {
        say.done("start heartbeat server");
        if steps::logs_started_successfully(v) {
            log.log('I', "starrocks_be.cpp:300", "BE started successfully");
        }
    } else {
        log.log(
            'I',
            "starrocks_main.cpp:300",
            "StarRocks BE HeartBeat Service started correctly.",
        );
    }
    if release.fault_is(Fault::CrashAfterReady) {
        let secs = release.fault_secs;
        let crash_log = log.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(secs));
            let t = starrocks_common::timefmt::unix_millis() / 1000;
            eprintln!(
                "*** Aborted at {t} (unix time) try \"date -d @{t}\" if you are using GNU date ***"
            );
            eprintln!(
                "*** SIGSEGV (@0x0) received by PID {} (TID 0x7f3a2b) from PID 0; stack trace: ***",
                std::process::id()
            );
            // glog's failure signal handler flushes the log files before the stack trace.
            crash_log.flush();
            unsafe {
                let _ = nix::sys::signal::signal(Signal::SIGSEGV, SigHandler::SigDfl);
            }
            let _ = nix::sys::signal::raise(Signal::SIGSEGV);
        });
    }
    loop {
        if !*got_first.lock().unwrap() {
            log.log(
                'I',
                "task_worker_pool.cpp:1387",
                "Waiting to receive first heartbeat from frontend",
            );
        }
        std::thread::sleep(Duration::from_secs(10));
    }
}
