//! The frontends and backends the meta records: which ones the FE contacts (heartbeats, the election
//! with and without the reset flag) and what SHOW FRONTENDS, SHOW DATABASES and SHOW PROC show when
//! production's list is replayed in a sandbox.

use std::time::Duration;

use super::T;
use crate::util::*;

#[test]
fn leader_heartbeats_recorded_backends() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut b = FeBuild::new("3.3.0", "3.3.0");
    b.meta_args = vec!["--backend".into(), format!("127.0.0.1:{port}")];
    let mut n = b.build();
    n.start_daemon();
    n.wait_ready();
    listener.set_nonblocking(false).unwrap();
    let (s, _) = listener.accept().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(s), &mut line).unwrap();
    assert!(
        line.starts_with(&format!("HEARTBEAT cluster_id={}", n.cluster_id())),
        "{line}"
    );
}

#[test]
fn recorded_frontends_are_contacted_only_without_the_reset_flag() {
    for recovery in [true, false] {
        let peer = std::net::TcpListener::bind("127.0.0.2:0").unwrap();
        peer.set_nonblocking(true).unwrap();
        let peer_port = peer.local_addr().unwrap().port();
        let mut b = FeBuild::new("3.3.0", "3.3.0");
        b.recovery = recovery;
        b.meta_args = vec![
            "--backends".into(),
            "0".into(),
            "--frontend".into(),
            "127.0.0.1:9010".into(),
            "--frontend".into(),
            format!("127.0.0.2:{peer_port}"),
        ];
        let mut n = b.build();
        n.start_daemon();
        if recovery {
            n.wait_ready();
            // The election is over once the FE is ready; it reached nobody.
            assert!(
                peer.accept().is_err(),
                "reset flag on: no contact with the recorded frontend"
            );
        } else {
            wait_for("election attempt reaches the recorded frontend", T, || {
                peer.accept().ok()
            });
            n.wait_log("Could not determine master from helpers at:[", T);
            assert!(n.http_get("/api/bootstrap").is_none());
        }
    }
}

/// A sandbox-like start: production's recorded frontends, the FE on 127.0.0.1 with the reset flag.
fn sandbox_on_production_hosts(version: &str) -> FeNode {
    let mut b = FeBuild::new(version, version);
    b.meta_args = [
        "--backends",
        "0",
        "--frontend",
        "192.0.2.11:9010",
        "--frontend",
        "192.0.2.12:9010",
        "--table",
        "shop.orders:3",
        "--table",
        "shop.items:1",
        "--root-password",
        "pw",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    b.conf.push("frontend_address = 127.0.0.1".into());
    if version < "3.0" {
        b.jdk = 8;
    }
    let mut n = b.build();
    n.start_daemon();
    n.wait_ready();
    n
}

#[test]
fn show_frontends_has_no_alive_leader_in_a_sandbox_until_3_4() {
    for v in ["2.5.22", "3.3.2", "3.4.1"] {
        let n = sandbox_on_production_hosts(v);
        let mut c = sr_rehearse::probe::mysql::Session::connect(
            "127.0.0.1",
            n.query,
            "root",
            Some("pw"),
            Duration::from_secs(5),
        )
        .unwrap();
        let rows = c.query("SHOW FRONTENDS").unwrap();
        let view: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (r["IP"].as_str(), r["Role"].as_str(), r["Alive"].as_str()))
            .collect();
        if v < "3.4" {
            assert_eq!(
                view,
                [
                    ("192.0.2.11", "FOLLOWER", "false"),
                    ("192.0.2.12", "FOLLOWER", "false")
                ],
                "{v}"
            );
        } else {
            assert_eq!(view, [("127.0.0.1", "LEADER", "true")], "{v}");
            assert_eq!(rows[0]["EditLogPort"], n.edit.to_string());
        }
        let dbs = c.query("SHOW DATABASES").unwrap();
        let dbs: Vec<&str> = dbs.iter().map(|r| r["Database"].as_str()).collect();
        assert_eq!(dbs, ["information_schema", "shop"], "{v}");
        let stat = c.query("SHOW PROC '/statistic'").unwrap();
        assert_eq!(stat.len(), 2, "{v}: shop and Total");
        let cols: Vec<&str> = stat[0].keys().map(String::as_str).collect();
        for col in [
            "DbId",
            "DbName",
            "TableNum",
            "PartitionNum",
            "IndexNum",
            "TabletNum",
            "ReplicaNum",
            "UnhealthyTabletNum",
            "InconsistentTabletNum",
            "CloningTabletNum",
            "ErrorStateTabletNum",
        ] {
            assert!(cols.contains(&col), "{v}: {col} missing from {cols:?}");
        }
        assert_eq!(
            (
                stat[0]["DbName"].as_str(),
                stat[0]["TableNum"].as_str(),
                stat[0]["ReplicaNum"].as_str()
            ),
            ("shop", "2", "4")
        );
        // No backend is alive in a sandbox, so every tablet counts as unhealthy.
        assert_eq!(stat[1]["DbId"], "Total");
        assert_eq!(stat[1]["UnhealthyTabletNum"], stat[1]["TabletNum"]);
    }
}
