//! `--rollback` after the tool was killed at each step the in-place canary or a rollback journals:
//! the old build comes back byte for byte and serving, and a step added to the journal without a
//! test here makes these tests fail.

use std::fs;
use std::path::PathBuf;
use std::process::Stdio;

use super::{Node, T};
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

/// The parent that never reaps, ended (and reaped) when the test ends.
struct NonReaper(std::process::Child);

impl Drop for NonReaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Node {
    /// Starts the node's BE under a parent that never reaps its children (as on a host or in a
    /// container whose PID 1 reaps nothing): once the BE dies it stays a zombie, whose pid
    /// `kill -0` still finds.
    fn start_under_a_parent_that_never_reaps(&self) -> NonReaper {
        use std::os::unix::process::CommandExt;
        let mut c = std::process::Command::new("bash");
        c.arg("-c")
            .arg(r#"bash "$1/bin/start_be.sh" & exec sleep 600"#)
            .arg("start")
            .arg(&self.home)
            .current_dir(&self.home)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        let child = NonReaper(c.spawn().unwrap());
        self.wait_healthy();
        child
    }

    /// Runs the in-place canary killed by the crash hook at `stop-old`: bin/ and lib/ are the new
    /// build, the old BE still runs from the backup.
    fn canary_killed_before_stop_old(&self) {
        self.killed_at("stop-old", true);
    }

    fn zombie(pid: i32) -> bool {
        sr_rehearse::procfs::stat(pid).is_some_and(|s| s.is_zombie())
    }
}

#[test]
fn rollback_right_after_a_kill_in_stop_old_with_an_unreaped_old_be() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    let _parent = n.start_under_a_parent_that_never_reaps();
    let before = n.binlib();
    let old_pid = n.pid().unwrap();
    n.canary_killed_before_stop_old();
    // The stop the canary was about to make: the old BE dies, and nobody reaps it.
    kill(old_pid, Signal::SIGKILL);
    wait_for("the old BE a zombie", T, || {
        Node::zombie(old_pid).then_some(())
    });
    let (code, out, j) = n.run(&["--rollback"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        j["warnings"].to_string().contains("moved aside"),
        "the stale be.pid is set aside, and said: {}",
        j["warnings"]
    );
    assert_eq!(n.binlib(), before);
    n.assert_one_be_serving_old_build("zombie old BE");
}

#[test]
fn sigterm_while_the_rollback_waits_for_a_killed_runs_stop_then_rollback_again() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    let _parent = n.start_under_a_parent_that_never_reaps();
    let before = n.binlib();
    let old_pid = n.pid().unwrap();
    n.canary_killed_before_stop_old();
    // The killed canary's stop_be.sh (the old one, in the backup) goes on in its own session: it
    // kills the old BE, then waits for a pid that never goes.
    let backup = sr_rehearse::be::inplace::read_journal(&n.home)[0]
        .backup
        .clone()
        .map(PathBuf::from)
        .unwrap();
    let mut stop = std::process::Command::new("setsid");
    stop.arg("bash")
        .arg(backup.join("bin/stop_be.sh"))
        .current_dir(&backup)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut stop = stop.spawn().unwrap();
    wait_for("the old BE a zombie", T, || {
        Node::zombie(old_pid).then_some(())
    });
    let mut rb = n
        .cmd(&["--rollback"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the rollback to begin", T, || {
        (n.last_step() == "rollback-begin").then_some(())
    });
    kill(rb.id() as i32, Signal::SIGTERM);
    let st = wait_exit(&mut rb, std::time::Duration::from_secs(20));
    let mut text = String::new();
    std::io::Read::read_to_string(&mut rb.stdout.take().unwrap(), &mut text).unwrap();
    assert_eq!(st.code(), Some(143), "{text}");
    assert!(
        text.contains("interrupted by signal 15 during the rollback"),
        "{text}"
    );
    // The killed run's stop_be.sh was ended: it would have removed the new be.pid.
    wait_exit(&mut stop, std::time::Duration::from_secs(5));
    assert_eq!(n.binlib(), before, "the files were restored before exiting");
    assert!(n.pid().is_some(), "and the old BE started");
    // The journal stays open; a second rollback verifies the node and closes it.
    let (code, out, _) = n.run(&["--rollback"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(n.last_step(), "rolled-back");
    n.assert_one_be_serving_old_build("after the interrupted rollback");
}

#[test]
fn rollback_moves_a_stale_pid_file_naming_an_unrelated_process_aside() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    fs::create_dir_all(n.home.join("run")).unwrap();
    n.conf("PID_DIR = ${STARROCKS_HOME}/run");
    n.start();
    let before = n.binlib();
    n.killed_at("verify", true);
    // The host loses the new BE too (a crash, the OOM killer), and its pid is reused by a
    // process that has nothing to do with StarRocks.
    let new_pid = n.pid().unwrap();
    kill(new_pid, Signal::SIGKILL);
    wait_for("the new BE gone", T, || (!alive(new_pid)).then_some(()));
    let mut unrelated = std::process::Command::new("sleep")
        .arg("600")
        .current_dir(&n.home)
        .spawn()
        .unwrap();
    fs::write(n.home.join("run/be.pid"), format!("{}\n", unrelated.id())).unwrap();
    let (code, out, _) = n.run(&["--rollback"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("named pid {}", unrelated.id())) && out.contains("moved aside"),
        "{out}"
    );
    assert!(
        alive(unrelated.id() as i32),
        "the unrelated process was not touched"
    );
    let backup = sr_rehearse::be::inplace::read_journal(&n.home)[0]
        .backup
        .clone()
        .map(PathBuf::from)
        .unwrap();
    let stale: Vec<_> = fs::read_dir(&backup)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("be.pid.stale-"))
        .collect();
    assert_eq!(
        stale.len(),
        1,
        "kept as be.pid.stale-<time> in the canary's backup folder"
    );
    assert_eq!(n.binlib(), before);
    n.assert_one_be_serving_old_build("stale be.pid");
    let _ = unrelated.kill();
    let _ = unrelated.wait();
}

#[test]
fn a_rollback_beside_a_canary_is_refused_through_any_path_to_the_node() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    n.start();
    let link = n.dir.path().join("link-be");
    std::os::unix::fs::symlink(&n.home, &link).unwrap();
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
    let me = format!("pid {} ", first.id());
    let lock = n.home.join("sr-rehearse-canary.lock");
    wait_for("the canary to hold the lock", T, || {
        read(&lock).contains(&me).then_some(())
    });
    // The lock is the real node's: a symlink to the home, or the home with a trailing slash.
    let slash = format!("{}/", n.home.display());
    let refused = |home: &std::path::Path, args: &[&str]| {
        let out = std::process::Command::new(tool_bin())
            .arg("be")
            .arg("--be-home")
            .arg(home)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(2), "{}: {text}", home.display());
        assert!(text.contains(&me), "names the holder: {text}");
    };
    refused(&link, &["--rollback"]);
    refused(std::path::Path::new(&slash), &["--rollback"]);
    refused(
        &link,
        &["--new-be", n.new_be.to_str().unwrap(), "--in-place"],
    );
    assert_eq!(wait_exit(&mut first, T).code(), Some(0));
    assert_eq!(n.last_step(), "kept");
    if let Some(pid) = n.pid() {
        let _ = kill(pid, Signal::SIGKILL);
    }
}

#[test]
fn a_canary_where_nothing_reaps_the_old_be_sets_its_pid_file_aside_and_starts_the_new_one() {
    // PID_DIR outside bin/: the old BE's be.pid stays where the new start_be.sh reads it, naming
    // a zombie that `kill -0` still finds.
    let n = Node::new("3.2.11", "3.3.5", &[]);
    fs::create_dir_all(n.home.join("run")).unwrap();
    n.conf("PID_DIR = ${STARROCKS_HOME}/run");
    let _parent = n.start_under_a_parent_that_never_reaps();
    let old_pid = n.pid().unwrap();
    let (code, out, j) = n.in_place(&[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(Node::zombie(old_pid), "the old BE was never reaped");
    assert!(
        j["warnings"]
            .to_string()
            .contains(&format!("named pid {old_pid}")),
        "{}",
        j["warnings"]
    );
    assert_eq!(n.last_step(), "kept");
    let new_pid = n.pid().expect("the new BE runs");
    assert_ne!(new_pid, old_pid);
    let _ = kill(new_pid, Signal::SIGKILL);
}
