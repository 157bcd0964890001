//! One release's whole life through its own scripts: the log lines it writes at start, in order and
//! in that release's line format, the bootstrap, health and MySQL answers, and the stop.

use starrocks_sim::release::Behaviour as _;
use std::time::Duration;

use regex::Regex;

use crate::util::*;

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
    // The FE writes its pid as digits only; a 2.x start_fe.sh also writes `echo $! > $pidfile`
    // after launching it, so which of the two stays is a race there, as in the real script.
    let pid_text = read(&n.home.join("bin/fe.pid"));
    assert_eq!(
        pid_text.strip_suffix('\n').unwrap_or(&pid_text),
        pid.to_string(),
        "fe.pid holds the pid, digits only"
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
