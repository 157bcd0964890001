//! The simulated BE, started and stopped with its own scripts, behaves like each release.

use starrocks_sim::release::Behaviour as _;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use regex::Regex;

use crate::util::*;

const T: Duration = Duration::from_secs(30);

fn heartbeat(port: u16, cluster_id: i64) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    writeln!(
        s,
        "HEARTBEAT cluster_id={cluster_id} token=t fe_host=127.0.0.1 rpc_port=9020"
    )
    .unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    line
}

fn full_cycle(version: &str) {
    let v: sr_rehearse::version::Version = version.parse().unwrap();
    let mut n = BeNode::build(version, &[], &[]);
    let out = n.start(true).wait_with_output().unwrap();
    assert!(out.status.success());
    n.wait_serving();
    // glog holds INFO lines back (FLAGS_logbufsecs = 30); a WARNING line flushes them.
    let listening = format!("heartbeat has started listening port on {}", n.heartbeat);
    assert!(
        !n.info().contains(&listening),
        "{version}: INFO is buffered"
    );
    assert!(heartbeat(n.heartbeat, 777).starts_with("OK version="));
    assert_eq!(
        heartbeat(n.heartbeat, 888).trim(),
        "ERR Unmatched cluster id"
    );
    let info = n.info();
    let prefix = if v.glog_year() {
        r"^[IWEF]\d{8} \d\d:\d\d:\d\d\.\d{6} \d+ [\w.]+:\d+\] "
    } else {
        r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d{6} \d+ [\w.]+:\d+\] "
    };
    let re = Regex::new(prefix).unwrap();
    let first = info.lines().next().unwrap();
    assert!(re.is_match(first), "{version}: glog prefix: {first}");
    assert!(info.contains(&format!(" version {v}")), "banner");
    let mut order = vec![
        "begin loading tablet from meta".to_string(),
        "load tablet from meta finished".into(),
    ];
    if v.be_start_steps() {
        order = vec![
            "BE start step 1: daemon threads start successfully".into(),
            "begin loading tablet from meta".into(),
            format!("BackendService has started listening port on {}", n.be_port),
            format!("heartbeat has started listening port on {}", n.heartbeat),
        ];
        if v >= sr_rehearse::version::Version::new(3, 1, 0) {
            order.push("BE started successfully".into());
        }
    } else {
        order.push(format!(
            "heartbeat has started listening port on {}",
            n.heartbeat
        ));
        order.push("StarRocks BE HeartBeat Service started correctly.".into());
    }
    let mut at = 0;
    for want in &order {
        at += info[at..]
            .find(want.as_str())
            .unwrap_or_else(|| panic!("{version}: `{want}` missing or out of order\n{info}"));
    }
    if v < sr_rehearse::version::Version::new(3, 1, 0) {
        // PR #24079 added the line after 3.0.0 was cut.
        assert!(!info.contains("BE started successfully"), "{version}");
    }
    assert!(
        info.contains("Fail to handle heartbeat"),
        "the WARNING itself"
    );
    let h = n.health().unwrap();
    assert_eq!(
        (h.status, h.body.as_str()),
        (200, r#"{"status": "OK","msg": "To Be Added"}"#)
    );
    assert!(std::fs::symlink_metadata(n.home.join("log/be.INFO"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(n.out().contains("start time: "));
    for p in [n.be_port, n.brpc, n.heartbeat] {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", p)).is_ok(),
            "port {p} bound"
        );
    }

    // Heartbeats (sent above): the first set the cluster id, a different one was refused.
    assert!(n
        .warning()
        .contains("Fail to handle heartbeat: Internal error: Unmatched cluster id"));
    assert_eq!(read(&n.storage.join("cluster_id")), "777");

    let pid = n.pid().unwrap();
    assert!(read(&n.home.join("bin/be.pid")).ends_with('\n'));
    let stop = n.stop(&[]);
    assert!(
        stop.status.success(),
        "{}",
        String::from_utf8_lossy(&stop.stdout)
    );
    assert!(!alive(pid));
    assert!(!n.home.join("bin/be.pid").exists());
}

#[test]
fn release_2_5_be_full_cycle() {
    full_cycle("2.5.22");
}

#[test]
fn release_3_2_be_full_cycle() {
    full_cycle("3.2.11");
}

#[test]
fn release_3_0_be_full_cycle() {
    full_cycle("3.0.2");
}

#[test]
fn release_3_3_be_full_cycle() {
    full_cycle("3.3.5");
}

#[test]
fn graceful_stop_logs_exit_steps() {
    let mut n = BeNode::build("3.3.5", &[], &[]);
    n.start(true).wait().unwrap();
    n.wait_serving();
    assert!(n.stop(&["-g"]).status.success());
    // A clean exit flushes the buffered INFO lines.
    let info = n.info();
    assert!(info.contains("BE started successfully"), "{info}");
    assert!(info.contains("BE exited successfully"));
}

#[test]
fn sys_log_level_is_honoured() {
    let mut n = BeNode::build("3.3.5", &[], &["sys_log_level = WARNING".into()]);
    n.start(true).wait().unwrap();
    n.wait_serving();
    assert!(heartbeat(n.heartbeat, 1).starts_with("OK"));
    assert!(heartbeat(n.heartbeat, 2).starts_with("ERR"));
    assert!(n.stop(&["-g"]).status.success());
    let info = n.info();
    assert!(info.contains("Unmatched cluster id"), "{info}");
    assert!(
        info.lines().all(|l| !l.starts_with('I')),
        "WARNING drops INFO: {info}"
    );

    // A level init_glog rejects leaves glog uninitialised: everything goes to stderr (be.out).
    let mut n = BeNode::build("3.3.5", &[], &["sys_log_level = DEBUG".into()]);
    n.start(true).wait().unwrap();
    n.wait_serving();
    let out = n.out();
    assert!(out.contains("sys_log_level needs to be INFO, WARNING, ERROR, FATAL"));
    assert!(
        out.contains("heartbeat has started listening port on"),
        "{out}"
    );
}

#[test]
fn no_avx2() {
    let mut n = BeNode::build("3.3.5", &["--fault", "no-avx2"], &[]);
    let st = n.start(false).wait().unwrap();
    assert_eq!(st.code(), Some(255));
    assert!(n.out().contains("CPU flags check failed! The following instruction sets are enabled during compiling but not supported in current running env: avx2!"));

    let mut n = BeNode::build("2.5.22", &["--fault", "no-avx2"], &[]);
    let st = n.start(false).wait().unwrap();
    assert_eq!(st.signal(), Some(4), "SIGILL");
}

#[test]
fn lib_without_bin() {
    let mut n = BeNode::build("3.0.2", &["--fault", "lib-without-bin"], &[]);
    let st = n.start(false).wait().unwrap();
    assert_eq!(st.code(), Some(255));
    assert!(n.out().contains("Environment variable TCMALLOC_HEAP_LIMIT_MB is not set, maybe you forgot to replace bin directory"));
}

#[test]
fn tablet_load_failure_aborts() {
    let mut n = BeNode::build("3.2.11", &["--fault", "tablet-load-failure"], &[]);
    let st = n.start(false).wait().unwrap();
    assert_eq!(st.signal(), Some(6), "abort");
    assert!(n
        .warning()
        .contains("load tablets encounter failure. stop BE process. path:"));
    assert!(n
        .out()
        .contains("starrocks::TabletManager::load_tablet_from_meta()"));
}

#[test]
fn slow_tablet_load_is_progress_not_failure() {
    let mut n = BeNode::build(
        "3.3.5",
        &["--fault", "slow-tablet-load", "--fault-secs", "3"],
        &[],
    );
    n.start(true).wait().unwrap();
    let pid = wait_for("be.pid", T, || n.pid().filter(|p| alive(*p)));
    assert!(
        n.health().is_none(),
        "HTTP is not up during the tablet load"
    );
    n.wait_serving();
    kill(pid, Signal::SIGTERM);
    wait_for("the BE to exit", T, || (!alive(pid)).then_some(()));
    let info = n.info();
    let begin = info.find("begin loading tablet from meta").unwrap();
    assert!(info[begin..].contains("load tablet from meta finished"));
}

#[test]
fn port_in_use_per_era() {
    let mut n = BeNode::build("3.3.5", &[], &[]);
    let _busy = std::net::TcpListener::bind(("0.0.0.0", n.http)).unwrap();
    assert_eq!(n.start(false).wait().unwrap().code(), Some(1));
    assert!(n.warning().contains(&format!(
        "BE http server did not start correctly, exiting: Failed to listen port. port: {}",
        n.http
    )));

    let mut n = BeNode::build("2.5.22", &[], &[]);
    let _busy = std::net::TcpListener::bind(("0.0.0.0", n.http)).unwrap();
    assert_eq!(n.start(false).wait().unwrap().code(), Some(1));
    assert!(n
        .warning()
        .contains("StarRocks Be http service did not start correctly, exiting"));
}

#[test]
fn bad_storage_root_path() {
    let mut n = BeNode::build(
        "3.3.5",
        &[],
        &["storage_root_path = /nonexistent/sr-sim,medium:SSD".into()],
    );
    assert_eq!(n.start(false).wait().unwrap().code(), Some(255));
    let w = n.warning();
    assert!(
        w.contains("path can not be canonicalized. may be not exist. path=/nonexistent/sr-sim"),
        "{w}"
    );
    assert!(w.contains("parse config storage path failed, path=/nonexistent/sr-sim,medium:SSD"));
    assert!(
        n.out().contains("parse config storage path failed"),
        "FATAL also goes to be.out"
    );

    let mut n = BeNode::build("3.3.5", &[], &[]);
    let bad = format!("storage_root_path = {},medium:floppy", n.storage.display());
    let mut text = read(&n.home.join("conf/be.conf"));
    text.push_str(&bad);
    std::fs::write(n.home.join("conf/be.conf"), text).unwrap();
    assert_eq!(n.start(false).wait().unwrap().code(), Some(255));
    assert!(n
        .warning()
        .contains("invalid storage medium. medium=floppy"));
}

#[test]
fn already_running_backend_is_refused() {
    let mut n = BeNode::build("3.3.5", &[], &[]);
    n.start(true).wait().unwrap();
    let pid = wait_for("be.pid", T, || n.pid());
    let out = n.start(false).wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(n
        .out()
        .contains(&format!("Backend running as process {pid}. Stop it first.")));
}
