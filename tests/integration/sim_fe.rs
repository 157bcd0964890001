//! The simulated FE, started and stopped with its own scripts, behaves like each release.

use starrocks_sim::release::Behaviour as _;
use std::time::Duration;

use regex::Regex;

use crate::util::*;

const T: Duration = Duration::from_secs(30);

fn expected_sequence(v: &str, n: &FeNode) -> Vec<String> {
    let ver: sr_rehearse::version::Version = v.parse().unwrap();
    let mut s = vec![
        ver.starting_line(),
        "Use IP init local addr, IP: /127.0.0.1".into(),
        format!("get helper nodes: [127.0.0.1:{}]", n.edit),
    ];
    if ver.has_run_mode() {
        s.push("Current run_mode is shared_nothing".into());
    }
    s.push(if ver >= "3.3.0".parse().unwrap() {
        "Got role: FOLLOWER".into()
    } else if ver.has_run_mode() {
        format!("Got cluster id: {}, role: FOLLOWER", n.cluster_id())
    } else {
        format!(
            "finished to get cluster id: {}, role: FOLLOWER",
            n.cluster_id()
        )
    });
    for l in [
        "start load image from",
        "finished to load image in",
        "group has been reset.",
        "start to setup bdb environment for 1 times",
        "replicated environment is all set, wait for state change...",
        "state change done, current role LEADER",
        "end setup bdb environment after 1 times",
        "notify new FE type transfer: LEADER",
        "begin to transfer FE type from INIT to LEADER",
        "start to replay journal from",
        "finish replay from",
        "leader finished to replay journal, can write now.",
    ] {
        s.push(l.into());
    }
    s.push(ver.leader_transfer_line().into());
    s.push("globalStateMgr is ready. FE type: LEADER".into());
    s.push(format!("thrift server started with port {}.", n.rpc));
    s.push(format!("HttpServer started with port {}", n.http));
    s.push(format!("Open mysql server success on {}", n.query));
    s.push("QE service start.".into());
    if ver.logs_fe_started_successfully() {
        s.push("FE started successfully".into());
    }
    s
}

fn line_format(v: &str) -> Regex {
    let ts = if v
        .parse::<sr_rehearse::version::Version>()
        .unwrap()
        .fe_log_iso_offset()
    {
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)"
    } else {
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
    };
    Regex::new(&format!(
        r"^{ts} (INFO|WARN|ERROR) \([^|()]+(\([^)]*\))?\|\d+\) \[[A-Za-z]+\.[\w$]+\(\):\d+\] "
    ))
    .unwrap()
}

fn bootstrap_shape(v: &str) -> Regex {
    let ver: sr_rehearse::version::Version = v.parse().unwrap();
    let mut p = String::from(
        r#"^\{"replayedJournalId":\d+,"queryPort":\d+,"rpcPort":\d+,"feStartTime":\d+,"feVersion":""#,
    );
    p.push_str(&regex::escape(&ver.full()));
    p.push('"');
    if ver.bootstrap_has_heap() {
        p.push_str(r#","heapUsedPercent":0\.0"#);
    }
    if ver.rest_has_code() {
        p.push_str(r#","status":"OK","code":"0","msg":"Success","message":"OK"\}$"#);
    } else {
        p.push_str(r#","status":"OK","msg":"Success"\}$"#);
    }
    Regex::new(&p).unwrap()
}

fn full_cycle(meta_v: &str, pkg_v: &str, jdk: u32) {
    let mut b = FeBuild::new(meta_v, pkg_v);
    b.jdk = jdk;
    b.meta_args
        .extend(["--root-password".to_string(), "s3cret".to_string()]);
    let mut n = b.build();
    let out = n.start_daemon();
    assert!(out.status.success(), "start_fe.sh --daemon exits 0");
    n.wait_ready();

    // The log sequence, in order, each line in the version's format.
    let log = n.log();
    let fmt = line_format(pkg_v);
    let mut at = 0;
    for want in expected_sequence(pkg_v, &n) {
        let found = log[at..]
            .find(&want)
            .unwrap_or_else(|| panic!("{pkg_v}: `{want}` missing or out of order in\n{log}"));
        at += found + want.len();
    }
    for line in log.lines().filter(|l| l.starts_with("20")) {
        assert!(fmt.is_match(line), "{pkg_v}: bad line format: {line}");
    }
    if !pkg_v.starts_with("3.1") && pkg_v < "3.1" {
        assert!(
            !log.contains("FE started successfully"),
            "{pkg_v} predates that line"
        );
    }

    // The ports and answers.
    let tok = n.token();
    let cid = n.cluster_id();
    let r = n
        .http_get(&format!("/api/bootstrap?cluster_id={cid}&token={tok}"))
        .unwrap();
    assert!(
        bootstrap_shape(pkg_v).is_match(&r.body),
        "{pkg_v}: bootstrap body {}",
        r.body
    );
    let bare = n.http_get("/api/bootstrap").unwrap();
    assert!(
        bare.body
            .starts_with(r#"{"replayedJournalId":0,"queryPort":0,"rpcPort":0,"feStartTime":0,"#),
        "{}",
        bare.body
    );
    // Strings.isNullOrEmpty: empty parameters get the same plain OK, never an error.
    let empty = n
        .http_get(&format!("/api/bootstrap?cluster_id={cid}&token="))
        .unwrap();
    assert!(
        empty.body.starts_with(r#"{"replayedJournalId":0,"#)
            && empty.body.contains(r#""status":"OK""#)
            && !empty.body.contains("feVersion"),
        "{pkg_v}: {}",
        empty.body
    );
    let h = n.http_get("/api/health").unwrap();
    assert_eq!(
        h.body,
        r#"{"online_backend_num":0,"total_backend_num":0,"status":"OK"}"#
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", n.rpc)).is_ok(),
        "rpc_port bound"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", n.edit)).is_ok(),
        "edit_log_port bound"
    );

    // A MySQL client with the crate's defaults first asks for @@max_allowed_packet, a constant
    // SELECT that needs a live BE before 3.3 (none is recorded here), then for @@socket on
    // loopback, a variable StarRocks does not have.
    let defaults = || {
        mysql::OptsBuilder::new()
            .ip_or_hostname(Some("127.0.0.1"))
            .tcp_port(n.query)
            .user(Some("root"))
            .pass(Some("s3cret"))
    };
    let refused = |opts: mysql::OptsBuilder| match mysql::Conn::new(opts) {
        Err(mysql::Error::MySqlError(e)) => e,
        other => panic!(
            "{pkg_v}: the connection must be refused, got {:?}",
            other.err()
        ),
    };
    let e = refused(defaults());
    if pkg_v < "3.3" {
        assert_eq!(e.code, 1064, "{pkg_v}: {e:?}");
        assert_eq!(
            e.message,
            "Backend node not found. Check if any backend node is down."
        );
    } else {
        assert_eq!(e.code, 1193, "{pkg_v}: {e:?}");
    }
    let e = refused(defaults().max_allowed_packet(Some(1 << 24)));
    assert_eq!(
        e.code,
        if pkg_v < "3.2" { 1064 } else { 1193 },
        "{pkg_v}: {e:?}"
    );
    assert!(
        e.message.starts_with(
            "Getting analyzing error. Detail message: Unknown system variable 'socket', the most similar variables are {"
        ),
        "{}",
        e.message
    );

    // SHOW FRONTENDS with the tool's client and the meta's root password: this FE runs on its
    // recorded address, so its row is the Alive LEADER.
    let mut conn = sr_rehearse::probe::mysql::Session::connect(
        "127.0.0.1",
        n.query,
        "root",
        Some("s3cret"),
        Duration::from_secs(5),
    )
    .expect("MySQL handshake with the meta's password");
    let rows = conn.query("SHOW FRONTENDS").unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0]["Role"].as_str(), rows[0]["Alive"].as_str()),
        ("LEADER", "true")
    );
    assert!(rows[0]["Version"].starts_with(pkg_v), "{:?}", rows[0]);
    // A constant SELECT needs a live BE before 3.3 (no backend is recorded here).
    match conn.query("SELECT 1") {
        Ok(r) => {
            assert!(pkg_v >= "3.3", "{pkg_v} answered SELECT 1 without a BE");
            assert_eq!(r[0]["1"], "1");
        }
        Err(e) => {
            assert!(pkg_v < "3.3", "{pkg_v}: {e}");
            assert_eq!(e.code(), Some(1064));
            assert!(
                e.to_string()
                    .contains("Backend node not found. Check if any backend node is down."),
                "{e}"
            );
        }
    }
    let bad = mysql::OptsBuilder::new()
        .ip_or_hostname(Some("127.0.0.1"))
        .tcp_port(n.query)
        .user(Some("root"))
        .pass(Some("wrong"));
    let err = mysql::Conn::new(bad)
        .expect_err("wrong password is refused")
        .to_string();
    assert!(err.contains("Access denied for user 'root'"), "{err}");

    // Stop with the package's own script.
    let pid = n.pid().expect("fe.pid holds the JVM's pid");
    assert!(
        !read(&n.home.join("bin/fe.pid")).ends_with('\n'),
        "digits only"
    );
    let stop = n.stop(&[]);
    assert!(stop.status.success());
    assert!(String::from_utf8_lossy(&stop.stdout).contains("stop java, and remove pid file."));
    assert!(!alive(pid));
    assert!(!n.home.join("bin/fe.pid").exists());
    assert!(n.log().contains("start to execute shutdown hook"));
}

#[test]
fn release_2_5_full_cycle() {
    full_cycle("2.5.22", "2.5.22", 8);
}

#[test]
fn release_3_2_full_cycle() {
    full_cycle("3.2.4", "3.2.11", 11);
}

#[test]
fn release_3_3_full_cycle() {
    full_cycle("3.2.11", "3.3.2", 17);
}

#[test]
fn release_3_5_full_cycle() {
    full_cycle("3.4.1", "3.5.0", 17);
}

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
    let pgid = *n.reaper.groups.last().unwrap();
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
