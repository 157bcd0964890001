//! `--rollback` after the tool was killed at each step the in-place canary or a rollback journals:
//! the old build comes back byte for byte and serving, and a step added to the journal without a
//! test here makes these tests fail.

use std::fs;
use std::path::PathBuf;
use std::process::Stdio;

use super::Node;
use crate::util::*;

/// The steps a passing in-place canary journals, in order (src/be/inplace/upgrade.rs `upgrade`).
const FORWARD_STEPS: &[&str] = &[
    "begin",
    "backup-bin",
    "backup-lib",
    "install",
    "stop-old",
    "start-new",
    "verify",
    "kept",
];

/// The steps a rollback journals after a failed or killed canary (src/be/inplace/rollback.rs `restore`).
const ROLLBACK_STEPS: &[&str] = &[
    "rollback-begin",
    "rollback-restore",
    "rollback-start-old",
    "rolled-back",
];

impl Node {
    /// Runs the in-place canary (or `--rollback` when `new_be` is false) with the crash hook set
    /// at `step`, and asserts the tool died there by SIGKILL.
    fn killed_at(&self, step: &str, canary: bool) {
        let mut c = if canary {
            self.cmd(&[
                "--new-be",
                self.new_be.to_str().unwrap(),
                "--in-place",
                "--soak",
                "1s",
            ])
        } else {
            self.cmd(&["--rollback"])
        };
        let st = c
            .env("SR_REHEARSE_TEST_KILL_AT", step)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(st.signal(), Some(9), "{step}: the tool was killed there");
        assert_eq!(self.last_step(), step, "the journal ends with the step");
    }

    /// The steps journaled on this node so far, without repeats.
    fn journaled(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for e in sr_rehearse::be::inplace::read_journal(&self.home) {
            if !v.contains(&e.step) {
                v.push(e.step);
            }
        }
        v
    }

    /// `--rollback` brings the old build back (or finds nothing to do after a closed journal),
    /// and a second one has nothing left to do.
    fn assert_rollback_restores(&self, step: &str, before: &(String, String)) {
        let (code, out, _) = self.run(&["--rollback"]);
        assert_eq!(code, Some(0), "{step}: {out}");
        assert_eq!(
            &self.binlib(),
            before,
            "{step}: bin/ and lib/ byte for byte"
        );
        assert!(
            self.pid().is_some() && self.healthy(),
            "{step}: the old BE runs and is healthy"
        );
        self.assert_one_be_serving_old_build(step);
        let (code, out, _) = self.run(&["--rollback"]);
        assert_eq!(code, Some(0));
        assert!(out.contains("nothing to roll back"), "{step}: {out}");
    }
}

#[test]
fn kill_9_at_every_upgrade_step_then_rollback_restores_the_node() {
    for step in FORWARD_STEPS {
        let n = Node::new("3.2.11", "3.3.5", &[]);
        n.start();
        let before = n.binlib();
        n.killed_at(step, true);
        if *step == "kept" {
            // Killed after the canary closed its journal: the new build stays and there is
            // nothing for --rollback to do. Every upgrade step was journaled on the way, so a step
            // added to the canary without being added here fails this test.
            assert_eq!(
                n.journaled(),
                FORWARD_STEPS,
                "the steps of a passing canary"
            );
            assert_ne!(n.binlib(), before, "kept: the new build is installed");
            let (code, out, _) = n.run(&["--rollback"]);
            assert_eq!(code, Some(0), "{out}");
            assert!(out.contains("nothing to roll back"), "kept: {out}");
            continue;
        }
        n.assert_rollback_restores(step, &before);
    }
}

#[test]
fn kill_9_during_the_canarys_own_rollback_then_rollback_finishes_it() {
    for step in ROLLBACK_STEPS {
        // The new build cannot load its tablets: the canary fails and rolls back by itself.
        let n = Node::new("3.2.11", "3.3.5", &["--fault", "tablet-load-failure"]);
        n.start();
        let before = n.binlib();
        n.killed_at(step, true);
        // The rollback journaled its steps in order up to the kill; killed at the last one, this
        // is every step of a rollback, so a step added without being added here fails this test.
        let steps = n.journaled();
        let from = steps
            .iter()
            .position(|s| s == "rollback-begin")
            .expect("the canary began its rollback");
        let upto = ROLLBACK_STEPS.iter().position(|s| s == step).unwrap();
        assert_eq!(
            &steps[from..],
            &ROLLBACK_STEPS[..=upto],
            "{step}: {steps:?}"
        );
        n.assert_rollback_restores(step, &before);
    }
}

#[test]
fn kill_9_during_rollback_then_rollback_again_finishes_it() {
    // The canary is killed while the new build runs; the `--rollback` that follows is killed at
    // each of its own steps, and the next `--rollback` still brings the old build back.
    for step in ROLLBACK_STEPS {
        let n = Node::new("3.2.11", "3.3.5", &[]);
        n.start();
        let before = n.binlib();
        n.killed_at("verify", true);
        n.killed_at(step, false);
        n.assert_rollback_restores(step, &before);
    }
}

#[test]
fn rollback_refuses_a_missing_backup_and_changes_nothing() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    n.start();
    let st = n
        .cmd(&[
            "--new-be",
            n.new_be.to_str().unwrap(),
            "--in-place",
            "--soak",
            "1s",
        ])
        .env("SR_REHEARSE_TEST_KILL_AT", "verify")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(9));
    let backup = sr_rehearse::be::inplace::read_journal(&n.home)[0]
        .backup
        .clone()
        .map(PathBuf::from)
        .unwrap();
    let away = n.dir.path().join("moved-away");
    fs::rename(&backup, &away).unwrap();
    let before = (
        content_digest(&n.home, &["log", "sr-rehearse-canary.lock"]),
        read(&n.home.join("sr-rehearse-canary.journal")),
        n.pid(),
    );
    let (code, out, j) = n.run(&["--rollback"]);
    assert_eq!(code, Some(5), "{out}");
    let summary = j["summary"].as_str().unwrap();
    assert!(
        summary.contains("Nothing was changed")
            && summary.contains("Node state: bin/ is not the old build")
            && summary.contains(&format!("a BE runs as pid {}", before.2.unwrap()))
            && summary.contains("put the backup back"),
        "{summary}"
    );
    assert_eq!(
        (
            content_digest(&n.home, &["log", "sr-rehearse-canary.lock"]),
            read(&n.home.join("sr-rehearse-canary.journal")),
            n.pid(),
        ),
        before,
        "nothing changed"
    );
    // Cut short instead of gone: still refused.
    fs::rename(&away, &backup).unwrap();
    fs::remove_file(backup.join("lib/starrocks_be")).unwrap();
    let (code, out, _) = n.run(&["--rollback"]);
    assert_eq!(code, Some(5), "{out}");
    assert!(
        out.contains("lib/ in it is incomplete (lib/starrocks_be missing"),
        "{out}"
    );
}
