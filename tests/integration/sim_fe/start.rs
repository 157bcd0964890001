//! What refuses or fails a start: a running FE, meta of another version, a busy port, a JVM option
//! or JDK the release rejects, a cluster_id mismatch, a missing meta dir; with the exit status and
//! the log or fe.out line of each release.

use super::T;
use crate::util::*;

#[test]
fn already_running_is_refused() {
    let mut n = FeBuild::new("3.3.0", "3.3.0").build();
    n.start_daemon();
    n.wait_ready();
    let pid = n.pid().unwrap();
    let second = n.start_daemon();
    assert_eq!(second.status.code(), Some(1));
    assert!(n.out().contains(&format!(
        "Frontend running as process {pid}. Stop it first."
    )));
}

#[test]
fn meta_written_by_3_0_is_refused_by_3_3() {
    let mut n = FeBuild::new("3.0.9", "3.3.2").build();
    let mut c = n.start_foreground();
    let st = wait_exit(&mut c, T);
    assert_eq!(st.code(), Some(255));
    assert!(
        n.log().contains("ERROR")
            && n.log()
                .contains("Not compatible with meta version 3, current version is 4")
    );
    assert!(
        !n.home.join("bin/fe.pid").exists(),
        "deleteOnExit removes the pid file"
    );
}

#[test]
fn downgrade_meets_an_unknown_operation_type() {
    let mut n = FeBuild::new("3.5.0", "3.3.2").build();
    let mut c = n.start_foreground();
    assert_eq!(wait_exit(&mut c, T).code(), Some(255));
    let log = n.log();
    assert!(
        log.contains("java.io.IOException: UNKNOWN Operation Type 10350"),
        "{log}"
    );
    assert!(log.contains("failed to init journal after transfer to leader! will exit"));

    let mut b = FeBuild::new("3.3.2", "3.3.2");
    b.pkg_args
        .extend(["--fault".into(), "unknown-operation-type".into()]);
    let mut n = b.build();
    let mut c = n.start_foreground();
    assert_eq!(wait_exit(&mut c, T).code(), Some(255));
    assert!(n.log().contains("UNKNOWN Operation Type 10352"));
}

#[test]
fn incompatible_meta_fault() {
    let mut b = FeBuild::new("3.2.0", "3.2.0");
    b.pkg_args
        .extend(["--fault".into(), "incompatible-meta".into()]);
    let mut n = b.build();
    let mut c = n.start_foreground();
    assert_eq!(wait_exit(&mut c, T).code(), Some(255));
    assert!(n
        .log()
        .contains("Not compatible with meta version 5, current version is 4"));
}

#[test]
fn cluster_id_in_fe_conf_is_checked_only_up_to_3_2() {
    let mut b = FeBuild::new("3.2.0", "3.2.0");
    b.conf.push("cluster_id = 123456".into());
    let mut n = b.build();
    let mut c = n.start_foreground();
    assert_eq!(wait_exit(&mut c, T).code(), Some(255));
    assert!(n
        .log()
        .contains("cluster id is not equal with config item cluster_id. will exit."));

    let mut b = FeBuild::new("3.3.0", "3.3.0");
    b.conf.push("cluster_id = 123456".into());
    let mut n = b.build();
    n.start_daemon();
    n.wait_ready();
}

#[test]
fn edit_log_port_in_use() {
    let mut n = FeBuild::new("3.3.0", "3.3.0").build();
    let _busy = std::net::TcpListener::bind(("0.0.0.0", n.edit)).unwrap();
    let mut c = n.start_foreground();
    assert_eq!(wait_exit(&mut c, T).code(), Some(255));
    assert!(n.log().contains(&format!(
        "edit_log_port {} is already in use. will exit.",
        n.edit
    )));

    let mut b = FeBuild::new("3.3.0", "3.3.0");
    b.pkg_args.extend(["--fault".into(), "port-in-use".into()]);
    let mut n = b.build();
    let mut c = n.start_foreground();
    assert_eq!(wait_exit(&mut c, T).code(), Some(255));
    assert!(n.log().contains("is already in use. will exit."));
}

#[test]
fn jvm_option_failure_shows_only_in_fe_out() {
    let mut b = FeBuild::new("3.5.0", "3.5.0");
    b.pkg_args.extend(["--fault".into(), "jvm-option".into()]);
    let mut n = b.build();
    let mut c = n.start_foreground();
    assert_eq!(wait_exit(&mut c, T).code(), Some(1));
    let out = n.out();
    assert!(
        out.contains("Unrecognized VM option 'UseConcMarkSweepGC'"),
        "{out}"
    );
    assert!(out.contains("Error: Could not create the Java Virtual Machine."));
    assert!(!n.home.join("log/fe.log").exists());
}

#[test]
fn jdk_too_old_for_3_5() {
    let mut b = FeBuild::new("3.5.0", "3.5.0");
    b.jdk = 11;
    let mut n = b.build();
    let mut c = n.start_foreground();
    assert_eq!(wait_exit(&mut c, T).code(), Some(255));
    assert!(n
        .out()
        .contains("Error: JDK 11 is not supported, please use JDK version 17 or higher"));
}

#[test]
fn start_failure_exits_from_3_1_but_lingers_on_2_5() {
    let mut b = FeBuild::new("2.5.0", "2.5.0");
    b.jdk = 8;
    b.conf.push("meta_dir = /nonexistent/sr-sim-meta".into());
    let mut n = b.build();
    n.start_daemon();
    n.wait_log("StarRocksFE start failed", T);
    assert!(n
        .log()
        .contains("meta dir /nonexistent/sr-sim-meta dose not exist"));
    let pid = n.pid().unwrap();
    assert!(alive(pid), "2.5 keeps the JVM alive after a start failure");

    let mut b = FeBuild::new("3.2.0", "3.2.0");
    b.conf.push("meta_dir = /nonexistent/sr-sim-meta".into());
    let mut n = b.build();
    let mut c = n.start_foreground();
    assert_eq!(wait_exit(&mut c, T).code(), Some(255));
    assert!(n.log().contains("StarRocksFE start failed"));
}

#[test]
fn from_3_4_a_missing_meta_dir_boots_an_empty_cluster() {
    let mut b = FeBuild::new("3.4.0", "3.4.0");
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("not-yet");
    b.conf.push(format!("meta_dir = {}", missing.display()));
    let mut n = b.build();
    n.start_daemon();
    n.wait_ready();
    assert!(n
        .log()
        .contains("very first time to start this node. role: FOLLOWER, node name: 127.0.0.1_"));
    assert!(missing.join("image/VERSION").exists());
}
