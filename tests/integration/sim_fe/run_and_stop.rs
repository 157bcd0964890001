//! A started FE that hangs, starts slowly or crashes, and its stop: the signals stop_fe.sh sends and
//! what they leave behind (a pid file, a helper in the process group).

use super::T;
use crate::util::*;

#[test]
fn election_hangs_and_says_so() {
    let mut b = FeBuild::new("3.3.0", "3.3.0");
    b.pkg_args.extend([
        "--fault".into(),
        "hang".into(),
        "--too-much-time-secs".into(),
        "1".into(),
    ]);
    let mut n = b.build();
    n.start_daemon();
    wait_for("two wait lines and the warning", T, || {
        let log = n.log();
        (log.matches("wait globalStateMgr to be ready. FE type: UNKNOWN. is ready: false")
            .count()
            >= 2
            && log.contains(
                "It took too much time for FE to transfer to a stable state(LEADER/FOLLOWER)",
            ))
        .then_some(())
    });
    assert!(
        n.http_get("/api/bootstrap").is_none(),
        "nothing listens on http_port while hung"
    );
}

#[test]
fn slow_start_binds_http_only_after_replay() {
    let mut b = FeBuild::new("3.3.0", "3.3.0");
    b.pkg_args.extend([
        "--fault".into(),
        "slow-start".into(),
        "--fault-secs".into(),
        "3".into(),
    ]);
    let mut n = b.build();
    n.start_daemon();
    n.wait_log("start to replay journal from", T);
    assert!(!n.log().contains("finish replay from"));
    assert!(n.http_get("/api/health").is_none());
    n.wait_ready();
    assert!(n.log().contains("finish replay from"));
}

#[test]
fn crash_after_ready_leaves_the_pid_file() {
    let mut b = FeBuild::new("3.3.0", "3.3.0");
    b.pkg_args.extend([
        "--fault".into(),
        "crash-after-ready".into(),
        "--fault-secs".into(),
        "1".into(),
    ]);
    let mut n = b.build();
    let mut c = n.start_foreground();
    n.wait_ready();
    let st = wait_exit(&mut c, T);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(9));
    assert!(n.home.join("bin/fe.pid").exists());
}

#[test]
fn ignoring_sigterm_needs_the_3_5_timeout() {
    let mut b = FeBuild::new("3.5.0", "3.5.0");
    b.pkg_args
        .extend(["--fault".into(), "ignore-sigterm".into()]);
    let mut n = b.build();
    n.start_daemon();
    n.wait_ready();
    let pid = n.pid().unwrap();
    // stop_fe.sh sends SIGTERM and waits; only its --timeout ends a server that ignores it.
    let out = n.stop(&["--timeout", "1"]);
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("graceful exit timeout, forced termination of the process"));
    wait_for("FE gone", T, || (!alive(pid)).then_some(()));
}

#[test]
fn grandchild_outlives_the_fe_until_the_group_is_killed() {
    let mut b = FeBuild::new("3.3.0", "3.3.0");
    b.pkg_args.extend(["--fault".into(), "grandchild".into()]);
    let mut n = b.build();
    n.start_daemon();
    n.wait_ready();
    let pgid = *n.reaper.groups().last().unwrap();
    let pid = n.pid().unwrap();
    assert!(n.stop(&[]).status.success());
    assert!(!alive(pid));
    let left = group_members(pgid);
    assert_eq!(left.len(), 1, "the helper is left in the group: {left:?}");
    kill(-pgid, Signal::SIGKILL);
    wait_for("group empty", T, || {
        group_members(pgid).is_empty().then_some(())
    });
}
