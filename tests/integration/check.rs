//! `sr-rehearse check` against a simulated cluster of 3 FEs and 3 BEs on loopback.

use std::process::Command;

use predicates::prelude::*;
use predicates::str::contains;

use super::util::{
    free_ports, read, run_sim, stdout, tool_bin, BeRow, Bootstrap, HostileFe, HostileSpec,
    SimCluster,
};

fn json(p: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&read(p)).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn check_healthy_cluster_reports_every_node_leader_and_versions() {
    let c = SimCluster::build("3.2.11", &["--table", "db1.orders:3"]);
    c.start_all();
    c.wait_healthy();
    let report = c.dir.join("check.json");
    let junit = c.dir.join("check.xml");
    let out = c.check(&[
        "--json",
        report.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("verdict: healthy (exit 0)"));
    let j = json(&report);
    assert_eq!(j["verdict"], "healthy");
    let nodes = j["nodes"].as_array().unwrap();
    assert_eq!(nodes.iter().filter(|n| n["kind"] == "fe").count(), 3);
    assert_eq!(nodes.iter().filter(|n| n["kind"] == "be").count(), 3);
    let leaders: Vec<_> = nodes.iter().filter(|n| n["role"] == "LEADER").collect();
    assert_eq!(leaders.len(), 1);
    // The leader is fe1 (lowest edit_log_port), and every probe answered.
    assert_eq!(
        leaders[0]["port"].as_u64().unwrap(),
        c.node("fe1").ports["query_port"] as u64
    );
    for n in nodes {
        assert!(
            n["probes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["ok"] == true),
            "{n}"
        );
        assert!(n["version"].as_str().unwrap().starts_with("3.2.11"), "{n}");
    }
    assert_eq!(j["versions"].as_object().unwrap().len(), 1);
    assert_eq!(j["tablets"]["unhealthy"], 0);
    assert_eq!(j["tablets"]["total"], 10);
    let x = read(&junit);
    assert_eq!(x.matches("<testcase").count(), 7, "{x}");
    assert!(!x.contains("<failure"), "{x}");
    // A follower answers too: the check discovers the same cluster from fe2.
    let out = Command::new(tool_bin())
        .arg("check")
        .args(c.fe_args("fe2"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn check_degraded_when_a_be_is_down() {
    let c = SimCluster::build("3.2.11", &[]);
    c.start_all();
    c.wait_healthy();
    let stop = c.stop("be2");
    assert!(stop.status.success());
    let hb = c.node("be2").ports["heartbeat_service_port"];
    let out = c.check_until(&[], |o| o.status.code() == Some(1));
    let s = stdout(&out);
    assert!(s.contains("verdict: degraded (exit 1)"), "{s}");
    assert!(
        s.contains(&format!("be 127.0.0.1:{hb}: not Alive in SHOW BACKENDS")),
        "{s}"
    );
    assert!(s.contains("/api/health"), "{s}");
    // --wait gives up at its deadline: timed out (4), not degraded (1), the last look said.
    let out = c.check(&["--wait", "2s", "-q"]);
    assert_eq!(out.status.code(), Some(4));
    let s = stdout(&out);
    assert!(s.starts_with("verdict: timed out (exit 4)"), "{s}");
    assert!(s.contains("not Alive in SHOW BACKENDS"), "{s}");
    // And --wait is the gate: it returns healthy once the BE is back.
    let start = c.start("be2");
    assert!(start.status.success());
    let out = c.check(&["--wait", "60s"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn check_degraded_by_a_lagging_follower() {
    let c = SimCluster::build("3.2.11", &["--lagging", "fe3", "--lag", "5"]);
    c.start_all();
    // fe3 never replays up to the leader's journal id of the start: lagging once the delay is up,
    // and the only problem once every node is up and heartbeated.
    let fe3 = c.node("fe3").ports["query_port"];
    let fe3_host = c.node("fe3").host.clone();
    let report = c.dir.join("check.json");
    let out = c.check_until(
        &[
            "--max-journal-delay",
            "2s",
            "--json",
            report.to_str().unwrap(),
        ],
        |o| {
            let s = stdout(o);
            o.status.code() == Some(1)
                && s.matches("[FAIL]").count() == 1
                && s.contains(&format!("fe {fe3_host}:{fe3}: lagging: replayed journal"))
        },
    );
    let s = stdout(&out);
    assert!(s.contains("within 2s"), "{s}");
    let j = json(&report);
    let node = j["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["port"].as_u64() == Some(fe3 as u64))
        .unwrap()
        .clone();
    assert_eq!(node["role"], "FOLLOWER");
    assert_eq!(node["journal_lag"], 5000);
    // The quorum facts: all three FEs vote, and are alive.
    assert_eq!(j["electable_fes"].as_array().unwrap().len(), 3);
    assert_eq!(j["alive_electable_fes"].as_array().unwrap().len(), 3);
}

#[test]
fn check_warns_of_unhealthy_tablets_without_degrading() {
    let c = SimCluster::build(
        "3.3.5",
        &["--table", "db1.orders:3", "--unhealthy-tablets", "4"],
    );
    c.start_all();
    let out = c.check_until(&[], |o| o.status.code() == Some(0));
    assert!(
        stdout(&out).contains("warning: 4 unhealthy and 0 inconsistent tablets of 10"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn check_names_mixed_versions_and_allows_an_upgrade_in_progress() {
    let c = SimCluster::build("3.2.11", &[]);
    let new_be = c.dir.join("StarRocks-3.3.5/be");
    run_sim(&[
        "make-package",
        "--role",
        "be",
        "--version",
        "3.3.5",
        "--out",
        new_be.to_str().unwrap(),
    ]);
    c.start_all();
    c.wait_healthy();
    let out = Command::new(tool_bin())
        .args(["be", "--be-home"])
        .arg(c.be_home("be1"))
        .arg("--new-be")
        .arg(&new_be)
        .args(["--in-place", "--soak", "1s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let hb = c.node("be1").ports["heartbeat_service_port"];
    let out = c.check_until(&[], |o| stdout(o).contains("mixed versions"));
    assert_eq!(out.status.code(), Some(1));
    let s = stdout(&out);
    assert!(s.contains("3.3.5-"), "{s}");
    assert!(s.contains(&format!("on be 127.0.0.1:{hb}")), "{s}");
    let out = c.check(&["--allow-version", "3.3.5"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("versions side by side (allowed)"));
}

#[test]
fn check_unreachable_and_bad_input() {
    // Held for the test, so nothing of another test listens there meanwhile.
    let lease = free_ports(1);
    let port = lease.ports()[0];
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let junit = dir.path().join("r.xml");
    assert_cmd::Command::new(tool_bin())
        .args(["check", "--fe", &format!("127.0.0.1:{port}"), "--json"])
        .arg(&report)
        .arg("--junit")
        .arg(&junit)
        .assert()
        .code(3)
        .stderr(contains("failed to reach the FE"));
    assert_eq!(json(&report)["verdict"], "unreachable");
    // The JUnit file too, with the reason as an error (the tool could not judge the cluster).
    let x = std::fs::read_to_string(&junit).unwrap();
    assert!(
        x.contains("<error") && x.contains("failed to reach the FE"),
        "{x}"
    );
    assert_cmd::Command::new(tool_bin())
        .args(["check", "--fe", "no-port-here", "--json"])
        .arg(&report)
        .assert()
        .code(2)
        .stderr(contains("expected HOST:PORT").and(line_count(1)));
    let j = json(&report);
    assert_eq!(
        (j["verdict"].as_str(), j["exit_code"].as_u64()),
        (Some("bad input"), Some(2))
    );
    crate::report_schema::assert_valid("check bad input", &j);
}

/// `sr-rehearse check` against a hostile FE, with `extra` arguments.
fn check_hostile(fe: &HostileFe, extra: &[&str]) -> std::process::Output {
    Command::new(tool_bin())
        .arg("check")
        .args(fe.args())
        .args(["--probe-timeout", "5s"])
        .args(extra)
        .output()
        .unwrap()
}

/// No byte a terminal acts on: ESC, BEL, CR, and no other control but the line ends.
fn printable(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() && c != '\n')
}

#[test]
fn check_flags_and_escapes_values_no_starrocks_reports() {
    let be = |ip: &str, hb: &str| BeRow::new(ip, hb);
    let fe = HostileFe::start(HostileSpec {
        backends: vec![
            BeRow {
                version: Some(String::new()),
                ..be("127.0.0.1", "9050")
            },
            be("127.0.0.1", "99999"),
            BeRow {
                http_port: Some("70000".into()),
                ..be("127.0.0.1", "9051")
            },
            be("bad host $(id) `id`", "9052"),
            be("ho\nst\x1b[31mRED\x1b[0m", "9053"),
            BeRow {
                err_msg: "\x1b]0;pwned-title\x07\x1b[2J".into(),
                ..be("127.0.0.1", "9056")
            },
            be("127.0.0.1", "9057"),
        ],
        ..HostileSpec::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("check.json");
    let out = check_hostile(&fe, &["--json", report.to_str().unwrap()]);
    let s = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(
        printable(&s),
        "a control character reached the terminal: {s:?}"
    );
    for l in s.lines() {
        assert!(
            [
                "sr-rehearse check:",
                "  [",
                "leader:",
                "tablets:",
                "warning:",
                "verdict:"
            ]
            .iter()
            .any(|p| l.starts_with(p)),
            "a value broke a line: {l:?}\n{s}"
        );
    }
    let line = |id: &str| {
        s.lines()
            .find(|l| l.starts_with("  [") && l.contains(&format!("{id} ")))
            .unwrap_or_else(|| panic!("no line for {id}: {s}"))
            .to_string()
    };
    // An empty Version is not healthy and counts as a version of its own.
    assert!(line("be 127.0.0.1:9050").contains("[FAIL]"), "{s}");
    assert!(line("be 127.0.0.1:9050").contains("no Version in SHOW BACKENDS"));
    assert!(s.contains("mixed versions: 3.2.11-98f7576 on"), "{s}");
    // A port out of range is named as the row gave it, never shown as :0.
    assert!(line("be 127.0.0.1:99999").contains("HeartbeatPort \"99999\""));
    assert!(!s.contains(":0 "), "{s}");
    assert!(line("be 127.0.0.1:9051").contains("HttpPort \"70000\""));
    assert!(line("be bad host $(id) `id`:9052").contains("invalid value: IP"));
    assert!(line("be ho\\x0ast\\x1b[31mRED\\x1b[0m:9053").contains("[FAIL]"));
    assert!(line("be 127.0.0.1:9056").contains("ErrMsg \"\\x1b]0;pwned-title\\x07\\x1b[2J\""));
    assert!(line("be 127.0.0.1:9057").contains("[ ok ]"), "{s}");
    // The JSON keeps the values as the FE sent them (JSON escapes them).
    let j = json(&report);
    let hosts: Vec<&str> = j["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["host"].as_str().unwrap())
        .collect();
    assert!(hosts.contains(&"ho\nst\x1b[31mRED\x1b[0m"), "{hosts:?}");
}

#[test]
fn check_wrong_password_is_bad_input_and_is_not_retried() {
    let fe = HostileFe::start(HostileSpec {
        root_password: "secret".into(),
        ..HostileSpec::default()
    });
    let out = Command::new(tool_bin())
        .arg("check")
        .args(fe.args())
        .args(["--password-env", "SR_TEST_PW", "--wait", "5s"])
        .env("SR_TEST_PW", "wrong")
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains("MySQL error 1045") && e.contains("--password-env"),
        "{e}"
    );
    assert_eq!(fe.hits("/api/bootstrap"), 1, "a wrong password was retried");
}

#[test]
fn check_refuses_ports_out_of_range() {
    let lease = free_ports(1);
    let port = lease.ports()[0];
    for (fe, qp) in [
        (format!("127.0.0.1:{port}"), "0"),
        (format!("127.0.0.1:{port}"), "65536"),
        ("127.0.0.1:99999".to_string(), "9030"),
        (format!("127.0.0.1$(id):{port}"), "9030"),
    ] {
        assert_cmd::Command::new(tool_bin())
            .args(["check", "--fe", &fe, "--query-port", qp])
            .assert()
            .code(2);
    }
}

#[test]
fn check_does_not_follow_a_redirect() {
    let other = HostileFe::start(HostileSpec::default());
    let to = format!("http://127.0.0.1:{}/api/bootstrap", other.http_port);
    let fe = HostileFe::start(HostileSpec {
        bootstrap: Bootstrap::Redirect(to.clone()),
        ..HostileSpec::default()
    });
    let out = check_hostile(&fe, &[]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{}{e}", stdout(&out));
    assert!(e.contains(&format!("HTTP 302 redirect to \"{to}\"")), "{e}");
    assert_eq!(other.hits("/api/bootstrap"), 0, "the redirect was followed");
}

#[test]
fn check_summarises_a_huge_answer_that_is_not_json() {
    let mut body = b"<html>\x1b[2J".to_vec();
    body.resize(9 << 20, b'x');
    let fe = HostileFe::start(HostileSpec {
        bootstrap: Bootstrap::Body(body),
        ..HostileSpec::default()
    });
    let out = check_hostile(&fe, &[]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{}", &e[..e.len().min(2000)]);
    assert!(e.len() < 1000, "{} bytes printed", e.len());
    assert!(printable(&e), "{e:?}");
    assert!(
        e.contains(&format!("{} bytes, starting \"<html>\\x1b[2Jxxx", 9 << 20)),
        "{e}"
    );
}

/// Output of exactly `n` lines.
fn line_count(n: usize) -> impl predicates::Predicate<str> {
    predicates::function::function(move |s: &str| s.lines().count() == n)
}

/// A port given for the other (the FE's query port as `--fe`, its HTTP port as `--query-port`)
/// is named in one plain sentence, exit 2, instead of `invalid HTTP version` or a timeout.
#[test]
fn check_names_a_query_port_given_as_fe_and_an_http_port_given_as_query_port() {
    let fe = HostileFe::start(HostileSpec::default());
    let out = Command::new(tool_bin())
        .args(["check", "--fe", &format!("127.0.0.1:{}", fe.query_port)])
        .args(["--query-port", &fe.query_port.to_string()])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains(&format!(
            "--fe 127.0.0.1:{} speaks the MySQL protocol: it is an FE's query_port; --fe takes its http_port",
            fe.query_port
        )),
        "{e}"
    );
    let out = Command::new(tool_bin())
        .args(["check", "--fe", &format!("127.0.0.1:{}", fe.http_port)])
        .args([
            "--query-port",
            &fe.http_port.to_string(),
            "--probe-timeout",
            "2s",
        ])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains(&format!(
            "--query-port {} answers HTTP: it is an FE's http_port",
            fe.http_port
        )),
        "{e}"
    );
}
