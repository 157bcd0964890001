//! The simulated cluster over time, as real StarRocks behaves: heartbeat retries before a node is
//! shown down, a new leader elected when the leader stops, ADMIN SET FRONTEND CONFIG held in one
//! FE's memory until it restarts, global variables that survive, and the checkpoint's push line
//! after ALTER SYSTEM CREATE IMAGE. Each behaviour has its row in docs/conformance.md.

use std::time::Duration;

use sr_rehearse::probe::mysql::Row;

use super::util::{read, wait_for, SimCluster};

/// One statement as root on `fe`'s query port, with the tool's own MySQL client.
fn sql(c: &SimCluster, fe: &str, stmt: &str) -> Result<Vec<Row>, String> {
    c.sql(fe, stmt)
}

fn ok(c: &SimCluster, fe: &str, stmt: &str) -> Vec<Row> {
    sql(c, fe, stmt).unwrap_or_else(|e| panic!("{fe}: {stmt}: {e}"))
}

fn fe_log(c: &SimCluster, name: &str) -> String {
    read(&c.node(name).home.join("log/fe.log"))
}

const LONG: Duration = Duration::from_secs(60);

/// The row of `SHOW BACKENDS` (asked on `fe`) for the BE with this heartbeat port.
fn be_row(c: &SimCluster, fe: &str, be: &str) -> Row {
    let port = c.node(be).ports["heartbeat_service_port"].to_string();
    ok(c, fe, "SHOW BACKENDS")
        .into_iter()
        .find(|r| r["HeartbeatPort"] == port)
        .unwrap_or_else(|| panic!("no row for {be}"))
}

/// The row of `SHOW FRONTENDS` (asked on `fe`) for the FE `name`, by its edit log port.
fn fe_row(rows: &[Row], c: &SimCluster, name: &str) -> Row {
    let port = c.node(name).ports["edit_log_port"].to_string();
    rows.iter()
        .find(|r| r["EditLogPort"] == port)
        .cloned()
        .unwrap_or_else(|| panic!("no row for {name}: {rows:?}"))
}

/// Waits until `fe`'s log holds at least `n` lines containing `needle`.
fn wait_log(c: &SimCluster, fe: &str, needle: &str, n: usize) {
    wait_for(&format!("{n} x `{needle}` in {fe}'s fe.log"), LONG, || {
        (fe_log(c, fe).matches(needle).count() >= n).then_some(())
    });
}

fn started(version: &str) -> SimCluster {
    let c = SimCluster::build(version, &[]);
    c.start_all();
    c.wait_healthy();
    c
}

#[test]
fn a_stopped_be_or_fe_stays_alive_without_error_for_the_retry_window_then_goes_down() {
    let c = started("3.3.5");
    // A window of 20 failed rounds (500 ms each) keeps the stopped nodes in it while we look.
    ok(
        &c,
        "fe1",
        r#"ADMIN SET FRONTEND CONFIG ("heartbeat_retry_times" = "20")"#,
    );
    let up = be_row(&c, "fe1", "be1");
    assert_eq!((up["Alive"].as_str(), up["ErrMsg"].as_str()), ("true", ""));
    assert!(c.stop("be1").status.success());
    let port = c.node("be1").ports["heartbeat_service_port"];
    let failed = format!("backend heartbeat got exception, addr: 127.0.0.1:{port}");
    let already = fe_log(&c, "fe1").matches(&failed).count();
    wait_log(&c, "fe1", &failed, already + 1);
    let first = be_row(&c, "fe1", "be1");
    wait_log(&c, "fe1", &failed, already + 3);
    let later = be_row(&c, "fe1", "be1");
    for r in [&first, &later] {
        assert_eq!(
            (r["Alive"].as_str(), r["ErrMsg"].as_str()),
            ("true", ""),
            "{r:?}"
        );
        assert_eq!(r["Version"], up["Version"]);
    }
    assert_eq!(
        first["LastHeartbeat"], later["LastHeartbeat"],
        "no good heartbeat since"
    );
    // With no retry left, the next failed round takes the BE down, with the message.
    ok(
        &c,
        "fe1",
        r#"ADMIN SET FRONTEND CONFIG ("heartbeat_retry_times" = "0")"#,
    );
    let down = wait_for("be1 not Alive", LONG, || {
        let r = be_row(&c, "fe1", "be1");
        (r["Alive"] == "false").then_some(r)
    });
    assert!(!down["ErrMsg"].is_empty(), "{down:?}");
    assert_eq!(down["LastHeartbeat"], first["LastHeartbeat"]);
    assert_eq!(
        down["Version"], up["Version"],
        "Version changes only at a good heartbeat"
    );

    // The same for a follower FE in the leader's SHOW FRONTENDS.
    ok(
        &c,
        "fe1",
        r#"ADMIN SET FRONTEND CONFIG ("heartbeat_retry_times" = "20")"#,
    );
    assert!(c.stop("fe3").status.success());
    let bad = "get bad heartbeat response: type: FRONTEND";
    let already = fe_log(&c, "fe1").matches(bad).count();
    wait_log(&c, "fe1", bad, already + 1);
    let first = fe_row(&ok(&c, "fe1", "SHOW FRONTENDS"), &c, "fe3");
    wait_log(&c, "fe1", bad, already + 3);
    let later = fe_row(&ok(&c, "fe1", "SHOW FRONTENDS"), &c, "fe3");
    for r in [&first, &later] {
        assert_eq!(
            (r["Alive"].as_str(), r["ErrMsg"].as_str()),
            ("true", ""),
            "{r:?}"
        );
    }
    assert_eq!(first["LastHeartbeat"], later["LastHeartbeat"]);
    // The leader sets its own value, then each FE on another host: fe3 is down, which the
    // statement reports (5101) after the leader's value changed.
    if let Err(e) = sql(
        &c,
        "fe1",
        r#"ADMIN SET FRONTEND CONFIG ("heartbeat_retry_times" = "0")"#,
    ) {
        let fe3 = format!("set config for fe[{}] failed", c.node("fe3").host);
        assert!(e.contains("5101") && e.contains(&fe3), "{e}");
    }
    let down = wait_for("fe3 not Alive", LONG, || {
        let r = fe_row(&ok(&c, "fe1", "SHOW FRONTENDS"), &c, "fe3");
        (r["Alive"] == "false").then_some(r)
    });
    assert!(!down["ErrMsg"].is_empty(), "{down:?}");
}

#[test]
fn stopping_the_leader_makes_another_fe_leader_and_the_old_one_returns_as_follower() {
    let c = started("3.3.5");
    let rows = ok(&c, "fe2", "SHOW FRONTENDS");
    assert_eq!(fe_row(&rows, &c, "fe1")["Role"], "LEADER");
    assert!(c.stop("fe1").status.success());
    // fe2 and fe3 make a majority of three; the lower edit log port of the two leads.
    let rows = wait_for("a new leader", LONG, || {
        let rows = sql(&c, "fe3", "SHOW FRONTENDS").ok()?;
        (fe_row(&rows, &c, "fe2")["Role"] == "LEADER").then_some(rows)
    });
    assert_eq!(fe_row(&rows, &c, "fe3")["Role"], "FOLLOWER");
    assert!(fe_log(&c, "fe2").contains("begin to transfer FE type from FOLLOWER to LEADER"));
    // The old leader comes back, finds the new one and follows it.
    assert!(c.start("fe1").status.success());
    wait_log(&c, "fe1", "current role FOLLOWER", 1);
    let rows = wait_for("fe1 alive as a follower", LONG, || {
        let rows = sql(&c, "fe1", "SHOW FRONTENDS").ok()?;
        (fe_row(&rows, &c, "fe1")["Alive"] == "true").then_some(rows)
    });
    let roles: Vec<(String, String)> = ["fe1", "fe2", "fe3"]
        .iter()
        .map(|n| (n.to_string(), fe_row(&rows, &c, n)["Role"].clone()))
        .collect();
    assert_eq!(
        roles,
        [("fe1", "FOLLOWER"), ("fe2", "LEADER"), ("fe3", "FOLLOWER")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(fe_log(&c, "fe1").matches("current role LEADER").count(), 1);
    c.check_until(&[], |o| o.status.code() == Some(0));
}

#[test]
fn admin_set_frontend_config_lives_in_memory_until_that_fe_restarts_global_variables_persist() {
    let c = started("3.3.5");
    let show =
        |fe: &str, like: &str| ok(&c, fe, &format!("ADMIN SHOW FRONTEND CONFIG LIKE '{like}'"));
    let row = show("fe1", "tablet_sched_max_scheduling_tablets");
    assert_eq!(row.len(), 1);
    assert_eq!(
        row[0].keys().map(String::as_str).collect::<Vec<_>>(),
        ["AliasNames", "Comment", "IsMutable", "Key", "Type", "Value"]
    );
    assert_eq!(row[0]["AliasNames"], "[max_scheduling_tablets]");
    assert_eq!(row[0]["Value"], "10000");
    // Asked on a follower, the statement is forwarded to the leader, which sets its own value and
    // those of the FEs on other hosts (each FE of this cluster is on a host of its own).
    ok(
        &c,
        "fe2",
        r#"ADMIN SET FRONTEND CONFIG ("max_scheduling_tablets" = "0")"#,
    );
    let by_alias = show("fe1", "max_scheduling_tablets");
    assert_eq!(by_alias[0]["Key"], "tablet_sched_max_scheduling_tablets");
    assert_eq!(by_alias[0]["Value"], "0");
    assert_eq!(
        show("fe2", "tablet_sched_max_scheduling_tablets")[0]["Value"],
        "0"
    );
    let refused = sql(
        &c,
        "fe1",
        r#"ADMIN SET FRONTEND CONFIG ("run_mode" = "shared_data")"#,
    );
    assert!(refused
        .unwrap_err()
        .contains("Config 'run_mode' does not exist or is not mutable"));
    assert_eq!(show("fe1", "run_mode")[0]["Value"], "shared_nothing");

    // A global variable goes through the leader's journal to every FE and stays.
    let var = "SHOW GLOBAL VARIABLES LIKE 'cbo_enable_low_cardinality_optimize'";
    assert_eq!(ok(&c, "fe3", var)[0]["Value"], "true");
    ok(
        &c,
        "fe3",
        "SET GLOBAL cbo_enable_low_cardinality_optimize = false",
    );
    wait_for("fe3 replays the global variable", LONG, || {
        (ok(&c, "fe3", var)[0]["Value"] == "false").then_some(())
    });

    // The leader restarts: its ADMIN SET is gone (back to fe.conf and the defaults), the
    // global variable is not.
    assert!(c.stop("fe1").status.success());
    assert!(c.start("fe1").status.success());
    let back = wait_for("fe1 answers again", LONG, || {
        sql(
            &c,
            "fe1",
            "ADMIN SHOW FRONTEND CONFIG LIKE 'tablet_sched_max_scheduling_tablets'",
        )
        .ok()
    });
    assert_eq!(back[0]["Value"], "10000");
    // Only the FE that restarted lost it.
    assert_eq!(
        show("fe2", "tablet_sched_max_scheduling_tablets")[0]["Value"],
        "0"
    );
    assert_eq!(ok(&c, "fe1", var)[0]["Value"], "false");
}

#[test]
fn create_image_writes_an_image_on_the_leader_and_logs_the_push_line() {
    // Each FE on a host of its own: the image goes to both others. A follower forwards the
    // statement.
    let c = started("3.3.5");
    ok(&c, "fe2", "ALTER SYSTEM CREATE IMAGE");
    wait_log(
        &c,
        "fe1",
        "to other nodes. totally 2 nodes, push succeeded 2 nodes",
        1,
    );
    let log = fe_log(&c, "fe1");
    let line = log.lines().find(|l| l.contains("push image.")).unwrap();
    let id: u64 = line
        .split("push image.")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(line.contains(&format!("push image.{id} from subdir [] to other nodes.")));
    assert!(c
        .node("fe1")
        .dir
        .join(format!("meta/image/image.{id}"))
        .is_file());
    assert!(!fe_log(&c, "fe2").contains("push image."));
    drop(c);

    // Up to 3.3 the checkpoint skips every FE whose host string is the leader's: with the three
    // FEs on one host it counts the two others and pushes to none.
    let c = SimCluster::build_on_hosts("3.3.5", &[], &["127.0.0.1"; 6]);
    c.start_all();
    wait_for("fe1 to take ALTER SYSTEM CREATE IMAGE", LONG, || {
        sql(&c, "fe1", "ALTER SYSTEM CREATE IMAGE").ok()
    });
    wait_log(
        &c,
        "fe1",
        "to other nodes. totally 2 nodes, push succeeded 0 nodes",
        1,
    );
    drop(c);

    // From 3.4 the checkpoint pushes to every other FE by name; a stopped one fails.
    let c = started("3.5.1");
    assert!(c.stop("fe3").status.success());
    ok(&c, "fe1", "ALTER SYSTEM CREATE IMAGE");
    wait_log(
        &c,
        "fe1",
        "to other nodes. totally 2 nodes, push succeeded 1 nodes",
        1,
    );
    assert!(fe_log(&c, "fe1").contains("Exception when pushing image file."));
}

/// `UnhealthyTabletNum` of the `Total` row of SHOW PROC '/statistic' asked on `fe`.
fn unhealthy(c: &SimCluster, fe: &str) -> u64 {
    ok(c, fe, "SHOW PROC '/statistic'")
        .into_iter()
        .find(|r| r["DbId"] == "Total")
        .and_then(|r| r["UnhealthyTabletNum"].parse().ok())
        .expect("a Total row")
}

/// The leader's own ReplayedJournalId in its SHOW FRONTENDS.
fn leader_journal(c: &SimCluster) -> u64 {
    let rows = ok(c, "fe1", "SHOW FRONTENDS");
    fe_row(&rows, c, "fe1")["ReplayedJournalId"]
        .parse()
        .unwrap()
}

#[test]
fn under_load_a_restarted_be_leaves_tablets_unhealthy_until_clone_is_enabled_again() {
    let c = SimCluster::build(
        "3.3.5",
        &["--busy", "--table", "db1.t1:3", "--table", "db1.t2:3"],
    );
    c.start_all();
    // The leader's journal advances by itself (load transactions).
    let j0 = leader_journal(&c);
    wait_for("the journal to advance", LONG, || {
        (leader_journal(&c) > j0 + 6).then_some(())
    });
    // Clone off, as the upgrade docs ask, then a BE restarts while loads go on.
    ok(
        &c,
        "fe1",
        r#"ADMIN SET FRONTEND CONFIG ("tablet_sched_max_scheduling_tablets" = "0")"#,
    );
    assert!(c.stop("be1").status.success());
    wait_for("be1 not Alive", LONG, || {
        (be_row(&c, "fe1", "be1")["Alive"] == "false").then_some(())
    });
    // Every tablet has a replica on be1 (3 replicas on 3 BEs): all 20 are missing one (the
    // checker runs after the heartbeat round that found be1 down).
    wait_for("20 tablets missing a replica", LONG, || {
        (unhealthy(&c, "fe1") == 20).then_some(())
    });
    // Loads into both tables while be1 is down (one load of 3 entries per round, the tables in
    // turn), so every tablet has a replica on be1 that missed a version.
    let j = leader_journal(&c);
    wait_for("a load into each table while be1 is down", LONG, || {
        (leader_journal(&c) >= j + 9).then_some(())
    });
    assert!(c.start("be1").status.success());
    wait_for("be1 Alive again", LONG, || {
        (be_row(&c, "fe1", "be1")["Alive"] == "true").then_some(())
    });
    // Its replicas missed the loads: VERSION_INCOMPLETE, and no clone repairs them, however long
    // (here: well past the 2 s repair delay, counted in the leader's loads).
    let j1 = leader_journal(&c);
    wait_for("loads past the repair delay", LONG, || {
        (leader_journal(&c) > j1 + 30).then_some(())
    });
    assert_eq!(unhealthy(&c, "fe1"), 20);
    // A follower answers from the state it replayed (SHOW PROC '/statistic' is not forwarded).
    assert_eq!(unhealthy(&c, "fe2"), 20);
    // Clone back on: repaired after the delay; only the table mid-publish is counted then.
    ok(
        &c,
        "fe1",
        r#"ADMIN SET FRONTEND CONFIG ("tablet_sched_max_scheduling_tablets" = "10000")"#,
    );
    wait_for("the clone repair", LONG, || {
        (unhealthy(&c, "fe1") <= 10).then_some(())
    });
}
