//! `sr-rehearse scan` under hostile input (probe round 2, issue 18): a FIFO no writer opens still
//! yields to SIGINT and SIGTERM, and lines packed with the beginnings of the catalog's `X.*Y`
//! patterns (which made the combined DFA thrash) keep the verdict.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::*;

fn scan_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(tool_bin());
    c.arg("scan").args(args);
    c
}

/// Whether `pid` has its SIGINT and SIGTERM handlers installed and sleeps in the kernel: from
/// then on a signal must reach the tool's own handling, not the default action, and it arrives
/// while the scan waits.
fn waiting_with_handlers(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let caught = status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .unwrap_or(0);
    let handled = |sig: Signal| caught & (1 << (sig as i32 - 1)) != 0;
    let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
    handled(Signal::SIGINT)
        && handled(Signal::SIGTERM)
        && sr_rehearse::procfs::stat(pid as i32).is_some_and(|s| s.state == 'S')
        && !wchan.is_empty()
        && wchan != "0"
}

/// A FIFO no writer has opened yet: the scan waits for one (it used to wait inside open(), where
/// the handlers, installed with SA_RESTART, only restarted the open) and a signal still ends it.
#[test]
fn a_signal_ends_a_scan_of_a_fifo_that_no_writer_opened() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fe.log");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    for (sig, code) in [(Signal::SIGINT, 130), (Signal::SIGTERM, 143)] {
        let mut child = scan_cmd(&[fifo.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        wait_for(
            "the scan to wait for a writer",
            Duration::from_secs(20),
            || waiting_with_handlers(pid).then_some(()),
        );
        kill(pid as i32, sig);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let ended = loop {
            match child.try_wait().unwrap() {
                Some(st) => break Some(st),
                None if std::time::Instant::now() > deadline => break None,
                None => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        let Some(st) = ended else {
            let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
            kill(pid as i32, Signal::SIGKILL);
            let _ = child.wait();
            panic!("{sig:?} did not end the scan waiting on a FIFO without writer (in {wchan})");
        };
        assert_eq!(st.code(), Some(code), "{sig:?}");
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        assert!(err.contains("interrupted by signal"), "{err}");
    }
}

/// Lines packed with the beginnings of the catalog's `X.*Y` patterns (the lines that made the
/// combined DFA thrash) are no match, the record after them still decides, and a line among them
/// that does end with a `Y` is found.
#[test]
fn lines_packed_with_pattern_prefixes_keep_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let frags = [
        "RollbackException",
        "EnvironmentFailureException",
        "UnknownMasterException",
        "DatabaseNotFoundException",
        "are both present. Please make sure",
        "is not equal with helper node",
        "Free capacity left for meta dir: ",
    ];
    let ts = "2024-01-01 00:00:00,000 WARN (main|1) [A.b():1] ";
    let mut hostile = String::new();
    for i in 0..2000 {
        hostile.push_str(ts);
        for j in 0..40 {
            hostile.push_str(frags[(i * 7 + j * 3) % frags.len()]);
            hostile.push(' ');
        }
        hostile.push('\n');
    }
    let cases = [
        (
            "INFO (main|1) [StarRocksFE.start():1] FE started successfully",
            "started",
            "fe.ready.started",
        ),
        (
            "ERROR (main|1) [A.b():1] com.sleepycat.je.rep.RollbackException: (JE 7.3.7) Node x must rollback 1 total commits(1 of which were durable)",
            "failed: fe.meta.bdb-rollback",
            "fe.meta.bdb-rollback",
        ),
        (
            "ERROR (main|1) [A.b():1] RollbackException UnknownMasterException is not equal with helper node DatabaseNotFoundException _jeRepGroupDB",
            "failed: fe.election.reset-stale",
            "fe.election.reset-stale",
        ),
    ];
    for (i, (last, verdict, id)) in cases.iter().enumerate() {
        let p = dir.path().join(format!("case{i}.fe.log"));
        std::fs::write(&p, format!("{hostile}2024-01-01 00:00:01,000 {last}\n")).unwrap();
        let r = sr_rehearse::scan::scan(std::slice::from_ref(&p), None).unwrap();
        assert_eq!(r.files[0].lines, 2001);
        let found: Vec<(usize, &str)> = r.matches.iter().map(|m| (m.line, m.id)).collect();
        assert_eq!(found, [(2001, *id)], "{verdict}");
        assert_eq!(r.verdict, *verdict);
    }
}
