//! The simulator's whole-cluster mode: FEs elect one leader once a majority is up, a late or
//! restarted FE joins the leader as a follower, every node started by its own script.

use std::time::Duration;

use super::util::{read, wait_for, SimCluster};

fn fe_log(c: &SimCluster, name: &str) -> String {
    read(&c.node(name).home.join("log/fe.log"))
}

fn wait_log(c: &SimCluster, name: &str, needle: &str, count: usize) {
    wait_for(
        &format!("{count} x `{needle}` in {name}'s fe.log"),
        Duration::from_secs(30),
        || (fe_log(c, name).matches(needle).count() >= count).then_some(()),
    );
}

#[test]
fn fes_wait_for_a_majority_elect_one_leader_and_late_or_restarted_ones_follow() {
    let c = SimCluster::build("3.3.5", &[]);
    // Alone, fe3 cannot elect: it waits and says so.
    assert!(c.start("fe3").status.success());
    wait_log(&c, "fe3", "wait globalStateMgr to be ready", 2);
    assert!(!fe_log(&c, "fe3").contains("current role"));
    // fe2 makes a majority of three; the lower edit_log_port of the two leads.
    assert!(c.start("fe2").status.success());
    wait_log(&c, "fe2", "current role LEADER", 1);
    wait_log(&c, "fe3", "current role FOLLOWER", 1);
    wait_log(&c, "fe3", "globalStateMgr is ready. FE type: FOLLOWER", 1);
    // fe1 has the lowest port of all, but a leader exists: it follows.
    assert!(c.start("fe1").status.success());
    wait_log(&c, "fe1", "current role FOLLOWER", 1);
    // A restarted follower joins the same leader again.
    assert!(c.stop("fe3").status.success());
    assert!(c.start("fe3").status.success());
    wait_log(&c, "fe3", "current role FOLLOWER", 2);
    for n in ["fe1", "fe2", "fe3"] {
        let log = fe_log(&c, n);
        let leads = log.matches("current role LEADER").count();
        assert_eq!(leads, usize::from(n == "fe2"), "{n}: {log}");
    }
}
