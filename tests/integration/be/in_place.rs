//! The in-place canary: the node's own BE replaced by the new build, kept when it serves and its
//! SHOW BACKENDS row stays alive, rolled back otherwise; one canary per node at a time, and the
//! node's own settings (PID_DIR) honoured.

use std::fs;
use std::process::Stdio;
use std::time::Duration;

use super::{fe_for, fe_with_backends, sig_ids, Node, T};
use crate::util::*;

#[test]
fn in_place_pass_keeps_the_new_build() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    n.start();
    let fe = fe_for(&n);
    let fe_addr = format!("127.0.0.1:{}", fe.query);
    let package = tree_digest(&n.new_be);
    let (code, out, j) = n.in_place(&["--fe", &fe_addr, "--soak", "2s"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        tree_digest(&n.new_be),
        package,
        "the new package is only read"
    );
    assert!(j["summary"]
        .as_str()
        .unwrap()
        .contains("now runs the new build"));
    let pid = n.pid().expect("the new BE keeps running");
    assert!(j["target"]["detected_version"]
        .as_str()
        .unwrap()
        .starts_with("3.3.5-"));
    assert_eq!(
        read(&n.home.join("lib/udf/my_udf.jar")),
        "operator's own UDF",
        "lib/udf carried over"
    );
    assert_eq!(n.last_step(), "kept");
    assert!(n.healthy());
    let _ = kill(pid, Signal::SIGKILL);
}

#[test]
fn in_place_failure_rolls_back_to_the_old_build() {
    let n = Node::new("3.2.11", "3.3.5", &["--fault", "tablet-load-failure"]);
    n.start();
    let before = n.binlib();
    let (code, out, j) = n.in_place(&[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(sig_ids(&j).contains("be.storage.tablet-load"));
    assert!(out.contains("[ ok ] rollback"), "{out}");
    assert_eq!(
        n.binlib(),
        before,
        "bin/ and lib/ are the old build again, byte for byte"
    );
    assert!(
        n.pid().is_some() && n.healthy(),
        "the old BE is back and healthy"
    );
    assert_eq!(n.last_step(), "rolled-back");
}

#[test]
fn in_place_failure_with_a_failed_rollback_is_exit_5() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    n.start();
    let old_pid = n.pid().unwrap();
    let http = n.http;
    // As soon as the old BE is stopped, something else takes the node's HTTP port: the new build
    // cannot start, and neither can the old one on the way back.
    let squatter = std::thread::spawn(move || {
        wait_for("old BE stopped", T, || (!alive(old_pid)).then_some(()));
        wait_for("port free", T, || {
            std::net::TcpListener::bind(("0.0.0.0", http)).ok()
        })
    });
    let (code, out, j) = n.in_place(&["--timeout", "5s"]);
    let _held = squatter.join().unwrap();
    assert_eq!(code, Some(5), "{out}");
    assert_eq!(j["exit_code"], 5);
    let summary = j["summary"].as_str().unwrap();
    assert!(
        summary.contains("AND THE ROLLBACK FAILED")
            && summary.contains("old build is back in bin/ and lib/"),
        "{summary}"
    );
}

#[test]
fn a_second_canary_is_refused_while_one_is_open() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    n.start();
    let st = n
        .cmd(&["--new-be", n.new_be.to_str().unwrap(), "--in-place"])
        .env("SR_REHEARSE_TEST_KILL_AT", "install")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(9));
    let (code, out, _) = n.in_place(&[]);
    assert_eq!(code, Some(2));
    assert!(
        out.contains("another canary's journal is open") && out.contains("--rollback"),
        "{out}"
    );
    let (code, out, _) = n.run(&["--rollback"]);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn interrupted_in_place_canary_rolls_back() {
    let n = Node::new(
        "3.2.11",
        "3.3.5",
        &["--fault", "slow-tablet-load", "--fault-secs", "60"],
    );
    n.start();
    let before = n.binlib();
    let mut child = n
        .cmd(&["--new-be", n.new_be.to_str().unwrap(), "--in-place"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let old_pid = n.pid().unwrap();
    wait_for("the new BE loading tablets", T, || {
        (n.last_step() == "start-new" && n.pid().is_some_and(|p| p != old_pid)).then_some(())
    });
    kill(child.id() as i32, Signal::SIGINT);
    let st = wait_exit(&mut child, T);
    assert_eq!(st.code(), Some(130));
    assert_eq!(n.binlib(), before);
    assert!(n.pid().is_some() && n.healthy(), "the old BE is back");
    assert_eq!(n.last_step(), "rolled-back");
}

#[test]
fn in_place_plan_and_junit() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    n.start();
    let before = n.binlib();
    let (code, out, _) = n.in_place(&["--plan"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("plan (nothing below has been done)")
            && out.contains("sr-rehearse-canary.journal")
    );
    assert_eq!(n.binlib(), before, "--plan moves nothing");
    assert!(sr_rehearse::be::inplace::read_journal(&n.home).is_empty());

    let junit = n.dir.path().join("junit.xml");
    let (code, out, _) = n.in_place(&["--junit", junit.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    let x = read(&junit);
    for step in [
        "preflight",
        "backup",
        "install",
        "stop old",
        "start new",
        "verify",
    ] {
        assert!(x.contains(&format!("name=\"{step}\"")), "{step} in {x}");
    }
    assert!(!x.contains("<failure"));
    if let Some(pid) = n.pid() {
        let _ = kill(pid, Signal::SIGKILL);
    }
}

/// A TCP proxy to `upstream` that drops the connections whose (1-based) number is in `drop`.
fn flaky_proxy(upstream: u16, drop: &'static [usize]) -> u16 {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (i, c) in l.incoming().enumerate() {
            let Ok(c) = c else { continue };
            if drop.contains(&(i + 1)) {
                continue;
            }
            let Ok(u) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            let (mut c2, mut u2) = (c.try_clone().unwrap(), u.try_clone().unwrap());
            let (mut c, mut u) = (c, u);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c2, &mut u2);
                let _ = u2.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut u, &mut c);
                let _ = c.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    port
}

#[test]
fn in_place_finds_its_row_among_three_on_one_port_and_rides_out_sql_errors() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    n.start();
    // Every BE on the same heartbeat port, as in real clusters; SHOW BACKENDS sorts by IP, so the
    // other nodes' rows (never contacted by the simulated FE: Alive=false) come first.
    let p = n.heartbeat;
    let fe = fe_with_backends(&[
        format!("127.0.0.1:{p}"),
        format!("10.255.255.253:{p}"),
        format!("10.255.255.254:{p}"),
    ]);
    wait_for("the FE to see this node alive", T, || {
        let rows = sr_rehearse::probe::mysql::query_host(
            "127.0.0.1",
            fe.query,
            "root",
            None,
            "SHOW BACKENDS",
            Duration::from_secs(5),
        )
        .ok()?;
        assert_eq!(rows[0]["IP"], "10.255.255.253", "rows are sorted by IP");
        rows.iter()
            .any(|r| r["IP"] == "127.0.0.1" && r["Alive"] == "true")
            .then_some(())
    });
    // Connections 1 and 2 are the preflight's; 3 and 4 are the first two soak checks.
    let proxy = flaky_proxy(fe.query, &[3, 4]);
    let fe_addr = format!("127.0.0.1:{proxy}");
    let (code, out, j) = n.in_place(&["--fe", &fe_addr, "--soak", "3s"]);
    assert_eq!(code, Some(0), "detected 127.0.0.1 on this host: {out}");
    assert!(
        out.contains(&format!(
            "this node in SHOW BACKENDS: BackendId 10001 127.0.0.1:{p}"
        )),
        "{out}"
    );
    let warnings = j["warnings"].to_string();
    assert_eq!(
        warnings.matches("SHOW BACKENDS failed").count(),
        2,
        "each transient error is reported: {warnings}"
    );
    assert!(j["steps"]
        .to_string()
        .contains("2 transient SHOW BACKENDS error(s) tolerated"));
}

#[test]
fn in_place_row_by_be_host_and_refusals_when_the_row_is_unclear() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    n.start();
    let p = n.heartbeat;
    let fe = fe_with_backends(&[
        format!("127.0.0.2:{p}"),
        format!("127.0.0.3:{p}"),
        format!("localhost:{p}"),
        format!("127.0.0.1:{p}"),
    ]);
    let fe_addr = format!("127.0.0.1:{}", fe.query);
    let before = n.binlib();
    let old_pid = n.pid().unwrap();

    // localhost and 127.0.0.1 are both this host: two rows match, nothing is touched.
    let (code, out, _) = n.in_place(&["--fe", &fe_addr]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("several rows") && out.contains("--be-host"),
        "{out}"
    );
    // The FE's HTTP port given as --fe: named, nothing touched.
    let (code, out, _) = n.in_place(&["--fe", &format!("127.0.0.1:{}", fe.http)]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(
            "answers HTTP: it is an FE's http_port; be --in-place --fe takes its query_port"
        ),
        "{out}"
    );
    // An address SHOW BACKENDS does not list.
    let (code, out, _) = n.in_place(&["--fe", &fe_addr, "--be-host", "192.0.2.7"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("no row for --be-host 192.0.2.7"), "{out}");
    assert_eq!(n.binlib(), before);
    assert_eq!(n.pid(), Some(old_pid), "the node's BE was not touched");
    assert!(sr_rehearse::be::inplace::read_journal(&n.home).is_empty());

    wait_for("the FE to see 127.0.0.3 alive", T, || {
        sr_rehearse::probe::mysql::query_host(
            "127.0.0.1",
            fe.query,
            "root",
            None,
            "SHOW BACKENDS",
            Duration::from_secs(5),
        )
        .ok()?
        .iter()
        .any(|r| r["IP"] == "127.0.0.3" && r["Alive"] == "true")
        .then_some(())
    });
    let (code, out, _) = n.in_place(&["--fe", &fe_addr, "--be-host", "127.0.0.3"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "this node in SHOW BACKENDS: BackendId 10002 127.0.0.3:{p}"
        )),
        "{out}"
    );
}

#[test]
fn two_canaries_at_once_one_runs_the_other_names_it() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    n.start();
    let mut first = n
        .cmd(&[
            "--new-be",
            n.new_be.to_str().unwrap(),
            "--in-place",
            "--soak",
            "3s",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let lock = n.home.join("sr-rehearse-canary.lock");
    let me = format!("pid {} ", first.id());
    wait_for("the first canary to hold the lock", T, || {
        read(&lock).contains(&me).then_some(())
    });
    let out = n
        .cmd(&[
            "--new-be",
            n.new_be.to_str().unwrap(),
            "--in-place",
            "--soak",
            "1s",
        ])
        .arg("--json")
        .arg(n.dir.path().join("second.json"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&me) && text.contains("sr-rehearse-canary.lock"),
        "{text}"
    );
    assert_eq!(
        wait_exit(&mut first, T).code(),
        Some(0),
        "the first one runs to the end"
    );
    assert_eq!(n.last_step(), "kept");
    let journal = read(&n.home.join("sr-rehearse-canary.journal"));
    assert!(journal
        .lines()
        .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
    assert_eq!(journal.matches("\"begin\"").count(), 1, "one run journaled");
}

#[test]
fn pid_dir_from_be_conf_is_honoured() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    fs::create_dir_all(n.home.join("run")).unwrap();
    n.conf("PID_DIR = ${STARROCKS_HOME}/run");
    n.start();
    assert!(n.home.join("run/be.pid").exists() && !n.home.join("bin/be.pid").exists());

    // The sandbox BE writes its pid into the workspace, not into the node's PID_DIR.
    let node_pid = read(&n.home.join("run/be.pid"));
    let (code, out, _) = n.sandbox(&["--keep", "always"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(read(&n.home.join("run/be.pid")), node_pid);
    assert!(read(&n.workspaces()[0].join("be/conf/be.conf")).contains("/be/bin\n"));

    let (code, out, _) = n.in_place(&[]);
    assert_eq!(code, Some(0), "{out}");
    let new_pid = n.pid().unwrap();
    assert_ne!(new_pid.to_string(), node_pid.trim());

    let _ = kill(new_pid, Signal::SIGKILL);
    drop(n);

    // Killed mid-canary and rolled back: run/be.pid names the one BE serving, the old build.
    for step in ["stop-old", "verify"] {
        let n = Node::new("3.2.11", "3.3.5", &[]);
        fs::create_dir_all(n.home.join("run")).unwrap();
        n.conf("PID_DIR = ${STARROCKS_HOME}/run");
        n.start();
        let before = n.binlib();
        let st = n
            .cmd(&[
                "--new-be",
                n.new_be.to_str().unwrap(),
                "--in-place",
                "--soak",
                "1s",
            ])
            .env("SR_REHEARSE_TEST_KILL_AT", step)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(st.signal(), Some(9));
        let (code, out, _) = n.run(&["--rollback"]);
        assert_eq!(code, Some(0), "{step}: {out}");
        assert_eq!(n.binlib(), before, "{step}");
        n.assert_one_be_serving_old_build(step);
    }
}
