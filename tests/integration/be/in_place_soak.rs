//! The in-place soak against an FE that trickles its answers: every FE exchange of the soak is
//! bounded by a deadline, so the soak ends by `--soak` (plus its grace) and a SIGTERM is acted on at
//! once, each ending in the rollback.

use std::io::Write;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{fe_for, Node, T};
use crate::util::*;

/// A proxy to `upstream` that forwards the first `pass` connections and answers every later one
/// a byte at a time, 300 ms apart, for ever (a hung FE, a broken proxy): no single read ever
/// times out. Returns its port and how many connections it has trickled to.
fn trickling_proxy(upstream: u16, pass: usize) -> (u16, Arc<AtomicUsize>) {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    let trickled = Arc::new(AtomicUsize::new(0));
    let count = trickled.clone();
    std::thread::spawn(move || {
        for (i, c) in l.incoming().enumerate() {
            let Ok(mut c) = c else { continue };
            if i >= pass {
                count.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    // A well-formed greeting header (65535 bytes, sequence 0), then its body one
                    // byte at a time: the client cannot tell it from a slow FE until its deadline.
                    if c.write_all(&[0xff, 0xff, 0x00, 0x00]).is_err() {
                        return;
                    }
                    while c.write_all(&[1]).is_ok() {
                        std::thread::sleep(Duration::from_millis(300));
                    }
                });
                continue;
            }
            let Ok(u) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            let (mut c2, mut u2) = (c.try_clone().unwrap(), u.try_clone().unwrap());
            let mut u = u;
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
    (port, trickled)
}

/// A node, an FE that sees it alive, and a proxy to that FE that passes the preflight's two
/// queries and trickles every later one.
fn node_behind_a_trickling_fe() -> (Node, FeNode, String, Arc<AtomicUsize>) {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    n.start();
    let fe = fe_for(&n);
    wait_for("the FE to see the node alive", T, || {
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
        .any(|r| r["Alive"] == "true")
        .then_some(())
    });
    let (proxy, trickled) = trickling_proxy(fe.query, 2);
    (n, fe, format!("127.0.0.1:{proxy}"), trickled)
}

/// Waits for the canary with a deadline; one still running then is killed and the test fails.
fn ended_within(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let end = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the canary was still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn assert_rolled_back(n: &Node, before: &(String, String)) {
    assert_eq!(&n.binlib(), before, "the old build is back");
    assert!(n.pid().is_some() && n.healthy(), "the old BE serves");
    assert_eq!(n.last_step(), "rolled-back");
}

#[test]
fn the_soak_ends_by_its_deadline_when_the_fe_trickles() {
    let (n, _fe, fe_addr, _) = node_behind_a_trickling_fe();
    let before = n.binlib();
    let mut child = n
        .cmd(&[
            "--new-be",
            n.new_be.to_str().unwrap(),
            "--in-place",
            "--fe",
            &fe_addr,
            "--be-host",
            "127.0.0.1",
            "--soak",
            "2s",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // --soak 2s: the soak may wait 10 s past it for the row to settle, then the rollback.
    let st = ended_within(&mut child, Duration::from_secs(60));
    assert_eq!(st.code(), Some(1));
    let j: serde_json::Value =
        serde_json::from_str(&read(&n.dir.path().join("report.json"))).unwrap();
    let summary = j["summary"].as_str().unwrap();
    assert!(summary.contains("no complete answer within"), "{summary}");
    assert_rolled_back(&n, &before);
}

#[test]
fn sigterm_during_a_trickling_soak_rolls_back_at_once_with_143() {
    let (n, _fe, fe_addr, trickled) = node_behind_a_trickling_fe();
    let before = n.binlib();
    let mut child = n
        .cmd(&[
            "--new-be",
            n.new_be.to_str().unwrap(),
            "--in-place",
            "--fe",
            &fe_addr,
            "--be-host",
            "127.0.0.1",
            "--soak",
            "60s",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("a soak query stuck on the trickling FE", T, || {
        (trickled.load(Ordering::SeqCst) >= 1).then_some(())
    });
    kill(child.id() as i32, Signal::SIGTERM);
    let st = ended_within(&mut child, Duration::from_secs(30));
    assert_eq!(st.code(), Some(143));
    let j: serde_json::Value =
        serde_json::from_str(&read(&n.dir.path().join("report.json"))).unwrap();
    let summary = j["summary"].as_str().unwrap();
    assert!(summary.contains("interrupted by signal 15"), "{summary}");
    // The in-place canary has no sandbox, so its account names none.
    assert!(!summary.contains("sandbox"), "{summary}");
    assert_rolled_back(&n, &before);
}
