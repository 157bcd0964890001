//! The simulated backend: `lib/starrocks_be` of a simulated release.
//!
//! It starts the way the real BE does for its version: the environment checks that only show in
//! be.out, glog files with the version's prefix, the `storage_root_path` rules, the tablet meta load
//! (which can be slow, or fail), the four ports with each era's failure wording, `BE start step N`
//! lines from 3.0 and `BE started successfully` from 3.1 (PR #24079), glog's INFO buffering and
//! `sys_log_level`, `/api/health` with its exact body, and a heartbeat
//! service that accepts the simulated FE's heartbeats and rejects a foreign cluster id.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{SigHandler, Signal};

use super::http::{self, Request, Response};
use super::logs::{self, Glog};
use super::{proc, Fault, Release};
use crate::release::Behaviour as _;
use starrocks_common::props;
use starrocks_common::version::Version;

const HEARTBEAT_LOC: &str = "heartbeat_server.cpp:74";

fn banner(v: Version) -> String {
    if v.glog_year() {
        format!(
            " version {}\nBuildType: RELEASE\nBuild distributor id: ubuntu\nBuild arch: x86_64\nBuilt on 2025-01-01 00:00:00 by sim@starrocks-sim",
            v.full()
        )
    } else {
        format!(
            " version {v} RELEASE (build {})\nBuilt on 2025-01-01 00:00:00 by sim@starrocks-sim",
            v.commit()
        )
    }
}

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
                banner(r.version)
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
    // A host of a simulated cluster may be unable to run this build (see sim/cluster.rs).
    if let Some(f) = super::cluster::host_fault(&home, release.version) {
        release.fault = Some(f);
    }
    let v = release.version;
    if std::env::var("TCMALLOC_HEAP_LIMIT_MB").is_err() || release.fault_is(Fault::LibWithoutBin) {
        eprintln!("Environment variable TCMALLOC_HEAP_LIMIT_MB is not set, maybe you forgot to replace bin directory");
        return 255;
    }
    if release.fault_is(Fault::MissingLibrary) {
        // What ld.so prints before main() when a build for a newer OS meets an older one.
        eprintln!("{}/lib/starrocks_be: error while loading shared libraries: libbfd-2.38-system.so: cannot open shared object file: No such file or directory", home.display());
        return 127;
    }
    if release.fault_is(Fault::NoAvx2) {
        if v.be_start_steps() {
            eprintln!("CPU flags check failed! The following instruction sets are enabled during compiling but not supported in current running env: avx2!");
            return 255;
        }
        // 2.x has no check: the first AVX2 instruction kills the process with SIGILL.
        unsafe {
            let _ = nix::sys::signal::signal(Signal::SIGILL, SigHandler::SigDfl);
        }
        let _ = nix::sys::signal::raise(Signal::SIGILL);
        return 132;
    }
    let sigset = proc::block_signals();
    let pid_dir =
        std::env::var("PID_DIR").unwrap_or_else(|_| home.join("bin").display().to_string());
    if proc::write_pid_file(&Path::new(&pid_dir).join("be.pid")).is_err() {
        eprintln!("fail to create pid file.");
        return 255;
    }
    let conf_text = match fs::read_to_string(home.join("conf/be.conf")) {
        Ok(t) => t,
        Err(_) => {
            eprintln!("error read config file. ");
            return 255;
        }
    };
    let lookup = |n: &str| std::env::var(n).ok();
    let mut conf: HashMap<String, String> = HashMap::new();
    for e in props::parse(&conf_text) {
        if e.key.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
            continue;
        }
        match props::expand_vars(&e.value, &lookup) {
            Ok(val) => {
                conf.insert(e.key, val);
            }
            Err(_) => {
                eprintln!("error read config file. ");
                return 255;
            }
        }
    }
    let home_s = home.display().to_string();
    let get = |k: &str, d: &str| conf.get(k).cloned().unwrap_or_else(|| d.to_string());
    let log_dir = get("sys_log_dir", &format!("{home_s}/log"));
    // init_glog's result is ignored by the daemon: a level it rejects leaves glog uninitialised.
    let level = logs::min_level(&get("sys_log_level", "INFO"));
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
    let steps = v.be_start_steps();
    proc::spawn_signal_thread(sigset, move |sig| {
        if ignore_term && matches!(sig, Signal::SIGTERM | Signal::SIGINT) {
            return;
        }
        if steps {
            for (i, what) in [
                "wait exec engine tasks finish",
                "heartbeat server exit",
                "http server exit",
                "brpc server exit",
                "thrift server exit",
            ]
            .iter()
            .enumerate()
            {
                exit_log.log(
                    'I',
                    "starrocks_be.cpp:340",
                    &format!("BE exit step {}: {what} successfully", i + 1),
                );
            }
            exit_log.log('I', "starrocks_be.cpp:372", "BE exited successfully");
        }
        exit_log.flush();
        std::process::exit(0);
    });
    if release.fault_is(Fault::Grandchild) {
        proc::spawn_lingering_helper(600);
    }
    log.log('I', "daemon.cpp:188", &banner(v));
    log.log(
        'I',
        "daemon.cpp:285",
        "Cpu Info:\n  Model: starrocks-sim virtual cpu\n  Cores: 2",
    );
    log.log('I', "backend_options.cpp:80", "priority cidrs in conf: ");
    log.log('I', "backend_options.cpp:95", "localhost 127.0.0.1");

    let mut step = 0;
    let mut say_step = |what: &str| {
        if steps {
            step += 1;
            log.log(
                'I',
                "starrocks_be.cpp:140",
                &format!("BE start step {step}: {what} successfully"),
            );
        }
    };
    say_step("daemon threads start");
    say_step("jdbc driver manager init");
    say_step("backend network options init");
    say_step("global env init");
    if v.glog_year() {
        say_step("cache env init");
    }

    // Storage: storage_root_path rules, then the tablet meta load per path.
    let root_value = get("storage_root_path", &format!("{home_s}/storage"));
    let ignore_broken = get("ignore_broken_disk", "false") == "true";
    let paths = match parse_storage_paths(&root_value, &log, ignore_broken) {
        Ok(p) => p,
        Err(()) => {
            log.log(
                'F',
                "starrocks_main.cpp:211",
                &format!("parse config storage path failed, path={root_value}"),
            );
            return 255;
        }
    };
    let mut usable = Vec::new();
    for p in paths {
        let probe = p.join(".read_write_test_file");
        let ok = fs::write(&probe, b"test").is_ok() && fs::read(&probe).is_ok();
        let _ = fs::remove_file(&probe);
        if ok {
            usable.push(p);
        } else if ignore_broken {
            log.log(
                'W',
                "starrocks_main.cpp:222",
                &format!("read write test file failed, path={}", p.display()),
            );
        } else {
            log.log(
                'F',
                "starrocks_main.cpp:224",
                &format!("read write test file failed, path={}", p.display()),
            );
            return 255;
        }
    }
    if usable.is_empty() {
        log.log('F', "starrocks_main.cpp:230", "All disks are broken, exit.");
        return 255;
    }
    let cluster_id = Arc::new(Mutex::new(read_cluster_id(&usable, &conf)));
    for p in &usable {
        let ps = p.display();
        log.log(
            'I',
            "data_dir.cpp:160",
            &format!("path: {ps}, hash: {}", fnv(&ps.to_string())),
        );
        log.log(
            'I',
            "data_dir.cpp:372",
            &format!("begin loading tablet from meta {ps}"),
        );
        if release.fault_is(Fault::SlowTabletLoad) || release.fault_is(Fault::SlowStart) {
            std::thread::sleep(Duration::from_secs(release.fault_secs));
        }
        if release.fault_is(Fault::TabletLoadFailure) {
            log.log('W', "data_dir.cpp:405", "load tablet from header failed. status:Corruption: tablet meta is broken, tablet=10005.368169874");
            log.log('W', "data_dir.cpp:420", &format!("load tablets from header failed, loaded tablet: 12, error tablet: 1, path: {ps}"));
            log.log(
                'F',
                "data_dir.cpp:425",
                &format!("load tablets encounter failure. stop BE process. path: {ps}"),
            );
            eprintln!("*** Check failure stack trace: ***");
            eprintln!("    @          0x2a1c3f5  google::LogMessage::Fail()");
            eprintln!("    @          0x4b3d2e1  starrocks::DataDir::load()");
            eprintln!(
                "    @          0x4b1f0c7  starrocks::TabletManager::load_tablet_from_meta()"
            );
            std::process::abort();
        }
        let tablets = fs::read_dir(p.join("data")).map(|d| d.count()).unwrap_or(0);
        log.log('I', "data_dir.cpp:440", &format!("load tablet from meta finished, loaded tablet: {tablets}, error tablet: 0, path: {ps} duration: 1ms"));
        log.log(
            'I',
            "data_dir.cpp:455",
            &format!("begin loading rowset from meta {ps}"),
        );
    }
    say_step("storage engine init");
    say_step("exec engine init");
    if v.glog_year() {
        say_step("storage engine start bg threads");
    } else if steps {
        say_step("block cache init");
    }

    let port =
        |k: &str, d: i64| -> i64 { conf.get(k).and_then(|s| s.trim().parse().ok()).unwrap_or(d) };
    let be_port = port("be_port", 9060) as u16;
    let http_port = if steps {
        // be_http_port, with webserver_port still accepted as its alias; the later line wins.
        props::parse(&conf_text)
            .into_iter()
            .filter(|e| e.key == "be_http_port" || e.key == "webserver_port")
            .filter_map(|e| e.value.trim().parse().ok())
            .next_back()
            .unwrap_or(8040)
    } else {
        port("webserver_port", 8040) as u16
    };
    let hb_port = port("heartbeat_service_port", 9050) as u16;
    let brpc_port = port("brpc_port", 8060) as u16;
    let bind = |p: u16| TcpListener::bind(("0.0.0.0", p)).ok();
    let sink = |l: TcpListener| {
        std::thread::spawn(move || {
            for s in l.incoming() {
                drop(s)
            }
        });
    };

    // Thrift BackendService.
    match bind(be_port) {
        Some(l) => {
            sink(l);
            log.log(
                'I',
                "thrift_server.cpp:375",
                &format!("BackendService has started listening port on {be_port}"),
            );
            say_step("start thrift server");
        }
        None => {
            if steps {
                log.log('E', "thrift_server.cpp:398", &format!("ThriftServer 'BackendService' (on port: {be_port}) exited due to TException: Could not bind: Address already in use"));
                log.log('E', "thrift_server.cpp:410", &format!("ThriftServer 'BackendService' (on port: {be_port}) did not start correctly "));
                log.log('E', "starrocks_be.cpp:190", &format!("Fail to start BackendService thrift server on port {be_port}: Internal error: Could not bind: Address already in use"));
            } else {
                log.log(
                    'E',
                    "starrocks_main.cpp:260",
                    "StarRocks Be server did not start correctly, exiting",
                );
            }
            return 1;
        }
    }
    match bind(brpc_port) {
        Some(l) => {
            sink(l);
            log.log(
                'I',
                "starrocks_be.cpp:205",
                &format!("BRPC server bind to host: 0.0.0.0, port: {brpc_port}"),
            );
            say_step("start brpc server");
        }
        None => {
            let msg = if steps {
                "BRPC service did not start correctly, exiting errcoe: -1"
            } else {
                "BRPC service did not start correctly, exiting"
            };
            log.log('E', "starrocks_be.cpp:210", msg);
            return 1;
        }
    }
    let http_bound = if release.fault_is(Fault::PortInUse) {
        None
    } else {
        bind(http_port)
    };
    match http_bound {
        Some(l) => {
            http::serve(l, Arc::new(|r: &Request| be_http(r)));
            say_step("start http server");
        }
        None => {
            if steps {
                log.log('E', "starrocks_be.cpp:225", &format!("BE http server did not start correctly, exiting: Failed to listen port. port: {http_port}, error: Address already in use"));
            } else {
                log.log(
                    'E',
                    "starrocks_main.cpp:280",
                    &format!("Internal Error:Failed to listen port. port: {http_port}"),
                );
                log.log(
                    'E',
                    "starrocks_main.cpp:281",
                    "StarRocks Be http service did not start correctly, exiting",
                );
            }
            return 1;
        }
    }
    if let Some(p) = conf
        .get("starlet_port")
        .and_then(|s| s.trim().parse::<u16>().ok())
    {
        if steps {
            if let Some(l) = bind(p) {
                sink(l);
            }
        }
    }
    if v.has_arrow_flight() {
        let p = port("arrow_flight_port", -1);
        if p > 0 {
            match bind(p as u16) {
                Some(l) => {
                    sink(l);
                    say_step("start arrow flight sql server");
                }
                None => {
                    log.log('E', "starrocks_be.cpp:240", "BE Arrow Flight Sql Server did not start correctly, exiting: Address already in use. Its port might be occupied. You can modify `arrow_flight_port` in `be.conf` to an unused port or set it to -1 to disable it.");
                    return 1;
                }
            }
        }
    }
    let Some(hb) = bind(hb_port) else {
        if steps {
            log.log('E', "thrift_server.cpp:398", &format!("ThriftServer 'heartbeat' (on port: {hb_port}) exited due to TException: Could not bind: Address already in use"));
            log.log(
                'E',
                "thrift_server.cpp:410",
                &format!("ThriftServer 'heartbeat' (on port: {hb_port}) did not start correctly "),
            );
            log.log('E', "starrocks_be.cpp:255", "BE heartbeat server did not start correctly, exiting: Internal error: Could not bind: Address already in use");
        } else {
            log.log(
                'E',
                "starrocks_main.cpp:290",
                "Heartbeat services did not start correctly, exiting",
            );
        }
        return 1;
    };
    log.log(
        'I',
        "thrift_server.cpp:375",
        &format!("heartbeat has started listening port on {hb_port}"),
    );
    let got_first = Arc::new(Mutex::new(false));
    {
        let log = log.clone();
        let got_first = got_first.clone();
        let cluster_id = cluster_id.clone();
        let roots = usable.clone();
        let reply = format!(
            "OK version={} be_port={be_port} http_port={http_port} brpc_port={brpc_port}",
            v.full()
        );
        std::thread::spawn(move || {
            for s in hb.incoming().flatten() {
                handle_heartbeat(s, &log, &cluster_id, &got_first, &roots, &reply);
            }
        });
    }
    if steps {
        say_step("start heartbeat server");
        if logs_started_successfully(v) {
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

/// `BE started successfully` came with StarRocks PR #24079 (merged 2023-05-25, after 3.0.0 was
/// cut); whether branch-3.0 ever got it is not known, so no 3.0.x build prints it here.
fn logs_started_successfully(v: Version) -> bool {
    v >= Version::new(3, 1, 0)
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// `storage_root_path`: `path[,medium:SSD|HDD][,capacity:N]` entries separated by `;`.
fn parse_storage_paths(value: &str, log: &Glog, ignore_broken: bool) -> Result<Vec<PathBuf>, ()> {
    let mut out = Vec::new();
    let mut failed = false;
    for item in value.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let mut parts = item.split(',');
        let path = parts.next().unwrap_or("").trim();
        let mut err: Option<String> = None;
        for prop in parts.map(str::trim).filter(|p| !p.is_empty()) {
            if let Some((k, val)) = prop.split_once(':') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "medium" => {
                        let m = val.trim().to_ascii_uppercase();
                        if m != "SSD" && m != "HDD" {
                            log.log(
                                'W',
                                "options.cpp:60",
                                &format!("invalid storage medium. medium={}", val.trim()),
                            );
                            err = Some("Invalid argument: invalid storage medium".into());
                        }
                    }
                    "capacity" => {}
                    _ => {
                        log.log(
                            'W',
                            "options.cpp:70",
                            &format!("invalid property of store path, {prop}"),
                        );
                        err = Some("Invalid argument: invalid property of store path".into());
                    }
                }
            } else if prop.parse::<i64>().is_err() {
                log.log(
                    'W',
                    "options.cpp:70",
                    &format!("invalid property of store path, {prop}"),
                );
                err = Some("Invalid argument: invalid property of store path".into());
            }
        }
        if err.is_none() && !path.starts_with('/') {
            log.log(
                'W',
                "options.cpp:45",
                &format!("invalid store path. path={path}"),
            );
            err = Some("Invalid argument: invalid store path".into());
        }
        if err.is_none() {
            match fs::canonicalize(path) {
                Ok(p) => out.push(p),
                Err(_) => {
                    log.log(
                        'W',
                        "options.cpp:50",
                        &format!("path can not be canonicalized. may be not exist. path={path}"),
                    );
                    err = Some("IO error: canonicalize failed".into());
                }
            }
        }
        if let Some(res) = err {
            log.log(
                'W',
                "options.cpp:90",
                &format!("failed to parse store path {item}, res={res}"),
            );
            failed = true;
        }
    }
    if (failed && !ignore_broken) || (out.is_empty() && !failed) {
        log.log(
            'W',
            "options.cpp:100",
            &format!("fail to parse storage_root_path config. value=[{value}]"),
        );
        return Err(());
    }
    Ok(out)
}

fn read_cluster_id(roots: &[PathBuf], conf: &HashMap<String, String>) -> Option<i64> {
    roots
        .iter()
        .find_map(|r| fs::read_to_string(r.join("cluster_id")).ok())
        .and_then(|s| s.trim().parse().ok())
        .or_else(|| {
            conf.get("cluster_id")
                .and_then(|c| c.trim().parse().ok())
                .filter(|c| *c != -1)
        })
}

fn handle_heartbeat(
    s: std::net::TcpStream,
    log: &Glog,
    cluster_id: &Mutex<Option<i64>>,
    got_first: &Mutex<bool>,
    roots: &[PathBuf],
    ok_reply: &str,
) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let Ok(mut w) = s.try_clone() else { return };
    let mut line = String::new();
    if BufReader::new(s).read_line(&mut line).is_err() {
        return;
    }
    let field = |k: &str| {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
            .map(String::from)
    };
    let Some(theirs) = field("cluster_id").and_then(|c| c.parse::<i64>().ok()) else {
        let _ = writeln!(w, "ERR invalid heartbeat");
        return;
    };
    let fe = format!(
        "{}:{}",
        field("fe_host").unwrap_or_default(),
        field("rpc_port").unwrap_or_default()
    );
    let mut cid = cluster_id.lock().unwrap();
    match *cid {
        None => {
            log.log(
                'I',
                "heartbeat_server.cpp:110",
                "Received first heartbeat. updating cluster id",
            );
            for r in roots {
                let _ = fs::write(r.join("cluster_id"), theirs.to_string());
            }
            *cid = Some(theirs);
        }
        Some(mine) if mine != theirs => {
            log.log(
                'W',
                HEARTBEAT_LOC,
                &format!("Fail to handle heartbeat: Internal error: Unmatched cluster id cached master info: TMasterInfo(network_address=TNetworkAddress(hostname={fe}), cluster_id={mine}) received master info: TMasterInfo(network_address=TNetworkAddress(hostname={fe}), cluster_id={theirs})"),
            );
            let _ = writeln!(w, "ERR Unmatched cluster id");
            return;
        }
        _ => {}
    }
    drop(cid);
    let mut first = got_first.lock().unwrap();
    if !*first {
        log.log('I', "heartbeat_server.cpp:130", &format!("Updating master info: TMasterInfo(network_address=TNetworkAddress(hostname={fe}), cluster_id={theirs})"));
        *first = true;
    }
    let _ = writeln!(w, "{ok_reply}");
}

fn be_http(r: &Request) -> Response {
    match r.path.as_str() {
        "/api/health" => Response::json("{\"status\": \"OK\",\"msg\": \"To Be Added\"}".into()),
        _ => Response::status(404, "text/plain", "Not Found"),
    }
}
