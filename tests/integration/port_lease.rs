//! The port lease between the harness and the tool: a port a test holds is never the sandbox's,
//! and the sandbox's ports stay held by the tool while the sandbox may bind them. Before the
//! lease, every picker only probed (bind, close), so a port a test had chosen but whose server
//! had not bound it yet looked free to the tool, and the other way round.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use sr_rehearse::ports::PortError;

use crate::util::*;

const T: Duration = Duration::from_secs(60);

/// A run of leased ports no wider than a few hundred (a pick that wrapped around the end of the
/// candidates is no run; another is taken), sorted.
fn leased_window(n: usize) -> (Lease, Vec<u16>) {
    loop {
        let lease = free_ports(n);
        let mut ports = lease.ports();
        ports.sort_unstable();
        if ports[n - 1] - ports[0] < 500 {
            return (lease, ports);
        }
    }
}

#[test]
fn the_sandbox_never_takes_a_port_the_harness_holds() {
    let r = Rehearsal::new("3.3.0", "3.3.0", &[], &[]);
    // The sandbox may pick only inside this window (a test hook of the tool), where the test holds
    // every port but the 8 highest it gives back: the FE sandbox needs 6.
    let (mut held, window) = leased_window(32);
    let given_back = &window[24..];
    assert_eq!(held.release(given_back), 8);
    let kept: BTreeSet<u16> = held.ports().into_iter().collect();
    let (lo, hi) = (window[0], window[31]);
    let out = r
        .command(&[])
        .env("SR_REHEARSE_TEST_PORT_RANGE", format!("{lo}-{hi}"))
        .output()
        .unwrap();
    let o = r.outcome(out);
    assert_eq!(o.code, Some(0), "{}\n{}", o.stdout, o.stderr);
    let sandbox: Vec<u16> = o.json["ports"]["sandbox"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap() as u16)
        .collect();
    assert_eq!(sandbox.len(), 6, "{}", o.json["ports"]);
    for p in &sandbox {
        assert!(
            (lo..=hi).contains(p),
            "sandbox port {p} outside the window {lo}-{hi}"
        );
        assert!(
            !kept.contains(p),
            "the sandbox took port {p}, which the test holds; sandbox {sandbox:?}, held {kept:?}"
        );
    }
    r.assert_no_process_left();
}

#[test]
fn the_sandbox_holds_its_ports_until_it_is_stopped() {
    let r = Rehearsal::new(
        "3.3.0",
        "3.3.0",
        &[],
        &["--fault", "slow-start", "--fault-secs", "60"],
    );
    let mut child = r.command(&[]).stdout(Stdio::null()).spawn().unwrap();
    let ports = wait_for("run.json with the sandbox running", T, || {
        let w = r.workspaces().into_iter().next()?;
        let st = sr_rehearse::workspace::read_run_state(&w)?;
        (st.phase == "running" && !st.ports.is_empty()).then_some(st.ports)
    });
    // The FE replays for a minute: its HTTP port is not bound, yet nobody else may take it.
    for p in &ports {
        assert!(
            matches!(Lease::take(&[*p]), Err(PortError::Leased(q)) if q == *p),
            "port {p} of the running sandbox is not leased by the tool"
        );
    }
    kill(child.id() as i32, Signal::SIGTERM);
    assert_eq!(wait_exit(&mut child, T).code(), Some(143));
    r.assert_no_process_left();
    // The tool is gone, and its lease with it.
    Lease::take(&ports).expect("the tool's lease ends with it");
}

/// A cluster whose node cannot bind a port fails its start at once, naming the node, the port and
/// the process that holds it, instead of a health check that never passes after a minute.
#[test]
fn a_cluster_start_names_the_node_the_port_and_who_holds_it() {
    let c = SimCluster::build("3.2.11", &[]);
    let port = c.node("fe2").ports["http_port"];
    // The test itself takes fe2's HTTP port, as another process picking it would.
    let _thief = std::net::TcpListener::bind(("0.0.0.0", port)).unwrap();
    let started = std::time::Instant::now();
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.start_all()))
        .expect_err("the start cannot succeed with fe2's HTTP port taken");
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    let me = format!("held by pid {} (", std::process::id());
    assert!(
        msg.starts_with(&format!("fe2: http_port {port} is held by")) && msg.contains(&me),
        "{msg}"
    );
    // fe2's own log says why it stopped.
    assert!(msg.contains("Fail to start FE query http server"), "{msg}");
    assert!(
        started.elapsed() < T,
        "the failure took {:?}",
        started.elapsed()
    );
}
