//! `sr-rehearse check` as the gate between two upgrade steps: `--print` of one node's row, and
//! `--node` with `--expect-version`, `--started-after` and `--stable-for` proving that node came
//! back on the target, against a simulated cluster.

use std::process::{Command, Output};

use super::util::{free_ports, stdout, tool_bin, BeRow, HostileFe, HostileSpec, SimCluster};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn be_id(c: &SimCluster, name: &str) -> String {
    let n = c.node(name);
    format!("be@{}:{}", n.host, n.ports["heartbeat_service_port"])
}

/// Each FE of a `SimCluster` is on a host (a loopback address) of its own.
fn fe_id(c: &SimCluster, name: &str) -> String {
    let n = c.node(name);
    format!("fe@{}:{}", n.host, n.ports["query_port"])
}

/// `check --node ID --print FIELD`: the value, checked to have exit 0 and one line.
fn print(c: &SimCluster, id: &str, field: &str) -> String {
    let out = c.check(&["--node", id, "--print", field]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let s = stdout(&out);
    assert_eq!(s.lines().count(), 1, "{s}");
    s.trim_end().to_string()
}

/// A time as the leader prints it: `yyyy-MM-dd HH:mm:ss`, maybe with `,mmm`.
fn is_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 19
        && b[4] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && b[..4].iter().all(u8::is_ascii_digit)
}

/// Upgrades be1 in place to the new release's BE (the canary restarts it on the new build).
fn upgrade_be1(c: &SimCluster, new_be: &std::path::Path) {
    let out = Command::new(tool_bin())
        .args(["be", "--be-home"])
        .arg(c.be_home("be1"))
        .arg("--new-be")
        .arg(new_be)
        .args(["--in-place", "--soak", "1s"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn gate_prints_start_time_role_version_and_alive_of_one_node() {
    let c = SimCluster::build("3.3.4", &[]);
    c.start_all();
    c.wait_healthy();
    for id in [fe_id(&c, "fe1"), fe_id(&c, "fe2"), be_id(&c, "be1")] {
        let t = print(&c, &id, "start-time");
        assert!(is_time(&t), "{id}: {t:?}");
        assert!(print(&c, &id, "version").starts_with("3.3.4-"), "{id}");
        assert_eq!(print(&c, &id, "alive"), "true", "{id}");
    }
    assert_eq!(print(&c, &fe_id(&c, "fe1"), "role"), "LEADER");
    assert_eq!(print(&c, &fe_id(&c, "fe2"), "role"), "FOLLOWER");
    assert_eq!(print(&c, &be_id(&c, "be1"), "role"), "BE");
    // A node the cluster does not list is bad input; --print needs --node.
    let out = c.check(&["--node", "be@127.0.0.1:1", "--print", "version"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("is not listed in SHOW BACKENDS"));
    assert_eq!(c.check(&["--print", "version"]).status.code(), Some(2));
    // An FE that does not answer: the environment.
    let lease = free_ports(2);
    let p = lease.ports();
    let out = Command::new(tool_bin())
        .args(["check", "--fe", &format!("127.0.0.1:{}", p[0])])
        .args(["--query-port", &p[1].to_string()])
        .args(["--node", "be@127.0.0.1:9050", "--print", "version"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

#[test]
fn gate_proves_a_be_restarted_on_the_new_build_and_refuses_one_on_the_old() {
    let c = SimCluster::build("3.3.4", &[]);
    let (_, new_be) = c.new_release("3.3.5");
    c.start_all();
    c.wait_healthy();
    let be1 = be_id(&c, "be1");
    let be2 = be_id(&c, "be2");
    let before = print(&c, &be1, "start-time");
    let be2_start = print(&c, &be2, "start-time");
    upgrade_be1(&c, &new_be);

    // be1: on 3.3.5, restarted since `before`, and stays up: proven, saying so as it goes.
    let report = c.dir.join("gate.json");
    let out = c.check(&[
        "--wait",
        "60s",
        "--node",
        &be1,
        "--expect-version",
        "3.3.5",
        "--started-after",
        &before,
        "--stable-for",
        "3s",
        "--json",
        report.to_str().unwrap(),
    ]);
    let (s, e) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{s}{e}");
    assert!(
        e.contains(&format!("{be1} meets the gate (version 3.3.5-")),
        "{e}"
    );
    assert!(e.contains(&format!("{be1} proven")), "{e}");
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    super::report_schema::assert_valid("check --node proven", &j);
    assert_eq!(j["gate"]["state"], "proven");
    assert_eq!(j["gate"]["node"], be1.as_str());
    let t = j["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "be" && n["port"] == c.node("be1").ports["heartbeat_service_port"])
        .unwrap()["start_time"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(is_time(&t) && t != before, "{t} vs {before}");

    // 3.3.4 beside 3.3.5: one release line, healthy with a note (no --allow-version).
    let out = c.check(&[]);
    let s = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert!(
        s.contains("warning: note: versions differ only in patch or build on the 3.3 line"),
        "{s}"
    );

    // be2 still runs 3.3.4: the gate times out (4) naming why.
    let out = c.check(&[
        "--wait",
        "3s",
        "--node",
        &be2,
        "--expect-version",
        "3.3.5",
        "--stable-for",
        "1s",
    ]);
    let s = stdout(&out);
    assert_eq!(out.status.code(), Some(4), "{s}{}", stderr(&out));
    assert!(s.contains("verdict: timed out (exit 4)"), "{s}");
    assert!(s.contains(&format!("gate {be2}: runs 3.3.4-")), "{s}");
    assert!(s.contains("not 3.3.5"), "{s}");
    // Without --wait: not met at the first look, degraded (1).
    let out = c.check(&["--node", &be2, "--expect-version", "3.3.5"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));

    // be2 did not restart: --started-after its own start time refuses it.
    let out = c.check(&[
        "--node",
        &be2,
        "--started-after",
        &be2_start,
        "--stable-for",
        "0s",
    ]);
    let s = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(s.contains("is not later than"), "{s}");
    assert!(s.contains("it has not restarted since"), "{s}");
    // A time that is not one is bad input.
    let out = c.check(&["--node", &be2, "--started-after", "yesterday"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn gate_proves_a_restarted_follower_fe_and_names_it_while_it_is_down() {
    let c = SimCluster::build("3.3.4", &[]);
    c.start_all();
    c.wait_healthy();
    let fe2 = fe_id(&c, "fe2");
    let before = print(&c, &fe2, "start-time");
    assert!(c.stop("fe2").status.success());
    // While it is down, the gate is not met: degraded without --wait.
    let out = c.check_until(&["--node", &fe2, "--stable-for", "0s"], |o| {
        o.status.code() == Some(1) && stdout(o).contains(&format!("gate {fe2}: not Alive"))
    });
    assert_eq!(out.status.code(), Some(1));
    assert!(c.start("fe2").status.success());
    let out = c.check(&[
        "--wait",
        "60s",
        "--node",
        &fe2,
        "--expect-version",
        "3.3.4",
        "--started-after",
        &before,
        "--stable-for",
        "2s",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stderr(&out).contains(&format!("{fe2} proven")));
    assert_ne!(print(&c, &fe2, "start-time"), before);
}

#[test]
fn check_refuses_a_release_before_2_5() {
    let fe = HostileFe::start(HostileSpec {
        is_master_column: true,
        ..HostileSpec::default()
    });
    let out = Command::new(tool_bin())
        .arg("check")
        .args(fe.args())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("releases before 2.5 are not supported"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn check_warns_of_low_replication_only_in_shared_nothing() {
    let low = vec![("db1".to_string(), "t".to_string(), "1".to_string())];
    for (mode, warned) in [
        (None, true),
        (Some("shared_nothing"), true),
        (Some("shared_data"), false),
    ] {
        let fe = HostileFe::start(HostileSpec {
            run_mode: mode.map(str::to_string),
            low_replication: low.clone(),
            ..HostileSpec::default()
        });
        let out = Command::new(tool_bin())
            .arg("check")
            .args(fe.args())
            .output()
            .unwrap();
        let s = stdout(&out);
        assert_eq!(out.status.code(), Some(0), "{mode:?}: {s}");
        assert_eq!(
            s.contains("warning: tables with fewer than 3 replicas"),
            warned,
            "{mode:?}: {s}"
        );
    }
}

#[test]
fn check_wait_that_never_reaches_the_fe_times_out_with_4() {
    let lease = free_ports(2);
    let p = lease.ports();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let out = Command::new(tool_bin())
        .args(["check", "--fe", &format!("127.0.0.1:{}", p[0])])
        .args(["--query-port", &p[1].to_string(), "--wait", "1s", "--json"])
        .arg(&report)
        .output()
        .unwrap();
    let s = stdout(&out);
    assert_eq!(out.status.code(), Some(4), "{s}{}", stderr(&out));
    assert!(
        s.contains("verdict: timed out (exit 4): --wait 1s ran out: failed to reach the FE"),
        "{s}"
    );
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    super::report_schema::assert_valid("check --wait timed out", &j);
    assert_eq!(j["verdict"], "timed out");
    assert_eq!(j["exit_code"], 4);
}

#[test]
fn check_names_a_be_shutting_down_and_one_restarting() {
    let fe = HostileFe::start(HostileSpec {
        backends: vec![
            BeRow {
                status_code: "SHUTDOWN".into(),
                ..BeRow::new("127.0.0.1", "9050")
            },
            BeRow {
                restarting: true,
                ..BeRow::new("127.0.0.1", "9051")
            },
            BeRow::new("127.0.0.1", "9052"),
        ],
        ..HostileSpec::default()
    });
    // One look: the SHUTDOWN one is degraded; a restart shows only between two looks.
    let out = Command::new(tool_bin())
        .arg("check")
        .args(fe.args())
        .output()
        .unwrap();
    let s = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(s.contains("be 127.0.0.1:9050: StatusCode SHUTDOWN"), "{s}");
    assert!(!s.contains("restarting:"), "{s}");
    let out = Command::new(tool_bin())
        .arg("check")
        .args(fe.args())
        .args(["--wait", "2s"])
        .output()
        .unwrap();
    let s = stdout(&out);
    assert_eq!(out.status.code(), Some(4), "{s}");
    assert!(
        s.contains("be 127.0.0.1:9051: restarting: its start time changed from"),
        "{s}"
    );
    assert!(!s.contains("be 127.0.0.1:9052: restarting"), "{s}");
}

/// A busy cluster as the upgrade leaves it: loads advance the journal all the time (so follower
/// rows are always a heartbeat behind), tablets are mid-publish, clone and balance are off (the
/// documented step), and a BE that was down comes back with replicas that only clone would
/// repair. `check` calls that healthy with the tablets as a warning, and the gate for that BE
/// passes on the BE itself, not on zero unhealthy tablets.
#[test]
fn a_busy_cluster_with_clone_off_is_healthy_and_a_restarted_be_passes_its_gate() {
    let c = SimCluster::build(
        "3.3.5",
        &["--busy", "--table", "db1.t1:3", "--table", "db1.t2:3"],
    );
    c.start_all();
    c.wait_healthy();
    let state = c.dir.join("settings.json");
    let out = Command::new(tool_bin())
        .args(["upgrade-settings", "apply"])
        .args(c.fe_args("fe1"))
        .args(["--to-version", "3.3.5", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let be2 = be_id(&c, "be2");
    let started = print(&c, &be2, "start-time");
    assert!(c.stop("be2").status.success());
    // Down for the leader (past the heartbeat retries), and loads go on without it.
    super::util::wait_for("be2 not Alive", std::time::Duration::from_secs(60), || {
        (print(&c, &be2, "alive") == "false").then_some(())
    });
    // A load while it is down (3 journal entries per load, one load per heartbeat round).
    let journal = || {
        c.sql("fe1", "SHOW FRONTENDS")
            .unwrap()
            .iter()
            .filter_map(|r| r["ReplayedJournalId"].parse::<u64>().ok())
            .max()
            .unwrap()
    };
    let j0 = journal();
    super::util::wait_for(
        "loads while be2 is down",
        std::time::Duration::from_secs(60),
        || (journal() >= j0 + 6).then_some(()),
    );
    assert!(c.start("be2").status.success());
    let report = c.dir.join("gate.json");
    let out = c.check(&[
        "--wait",
        "60s",
        "--node",
        &be2,
        "--expect-version",
        "3.3.5",
        "--started-after",
        &started,
        "--stable-for",
        "3s",
        "--json",
        report.to_str().unwrap(),
    ]);
    let s = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{s}{}", stderr(&out));
    let j: serde_json::Value = serde_json::from_str(&super::util::read(&report)).unwrap();
    assert_eq!(j["verdict"], "healthy", "{j}");
    let unhealthy = j["tablets"]["unhealthy"].as_u64().unwrap();
    assert!(unhealthy > 0, "be2's replicas wait for a clone: {j}");
    assert!(
        j["warnings"].to_string().contains("unhealthy"),
        "the tablets are named: {j}"
    );
    // The settings back: clone repairs what be2 missed.
    let out = Command::new(tool_bin())
        .args(["upgrade-settings", "restore"])
        .args(c.fe_args("fe1"))
        .arg("--state")
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}
