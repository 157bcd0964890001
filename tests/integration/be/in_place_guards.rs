//! What keeps the in-place canary from making a node worse than it found it: a be.pid that names
//! another node's BE is refused with nothing signalled; a failure before `bin/` moves (a journal
//! that cannot be written, a full disk, an immutable `bin/`) changes nothing and stops nothing;
//! a panic of the tool after the move still ends in the rollback and the report.

use std::fs;

use super::Node;
use crate::util::*;

#[test]
fn a_pid_file_naming_another_nodes_be_is_refused_and_that_be_untouched() {
    let a = Node::new("3.2.11", "3.3.5", &[]);
    let b = Node::new("3.2.11", "3.3.5", &[]);
    a.start();
    b.start();
    let (a_pid, b_pid) = (a.pid().unwrap(), b.pid().unwrap());
    let before = a.binlib();
    // A stale be.pid of node A whose pid is now node B's BE on the same host.
    fs::write(a.home.join("bin/be.pid"), format!("{b_pid}\n")).unwrap();
    let (code, out, _) = a.in_place(&[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(&format!("names pid {b_pid}")) && out.contains("the BE of another home"),
        "the refusal names the pid and whose it is: {out}"
    );
    assert!(alive(b_pid) && b.healthy(), "node B's BE was not touched");
    assert!(
        alive(a_pid) && a.healthy(),
        "node A's own BE was not touched"
    );
    assert_eq!(a.binlib(), before);
    assert!(sr_rehearse::be::inplace::read_journal(&a.home).is_empty());
}

/// Asserts a canary that failed before it moved anything left the node as it was: exit 3, the
/// same BE serving, bin/ and lib/ the same, no open journal, no backup folder.
fn assert_nothing_changed(
    n: &Node,
    old_pid: i32,
    before: &(String, String),
    run: (Option<i32>, String, serde_json::Value),
) {
    let (code, out, j) = run;
    assert_eq!(code, Some(3), "{out}");
    let summary = j["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("nothing changed"), "{summary}");
    assert!(
        !out.contains("rollback"),
        "no rollback for a node never changed: {out}"
    );
    assert_eq!(
        n.pid(),
        Some(old_pid),
        "the node's BE was neither stopped nor restarted"
    );
    assert!(n.healthy());
    assert_eq!(&n.binlib(), before);
    let entries = sr_rehearse::be::inplace::read_journal(&n.home);
    assert!(
        entries.last().is_none_or(|e| e.step == "unchanged"),
        "no open journal: {entries:?}"
    );
    let backups: Vec<_> = fs::read_dir(&n.home)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("sr-rehearse-backup-")
        })
        .collect();
    assert!(backups.is_empty(), "no backup folder left: {backups:?}");
}

#[test]
fn a_journal_that_cannot_be_written_changes_nothing_and_stops_nothing() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    n.start();
    let old_pid = n.pid().unwrap();
    let before = n.binlib();
    // The first journal write fails before anything moved (here: the journal's path leads
    // nowhere; on a full disk it is ENOSPC, see the root-only test below).
    std::os::unix::fs::symlink(
        n.home.join("no-such-folder/journal"),
        n.home.join("sr-rehearse-canary.journal"),
    )
    .unwrap();
    let run = n.in_place(&[]);
    assert!(run.1.contains("failed to write the journal"), "{}", run.1);
    assert_nothing_changed(&n, old_pid, &before, run);
}

#[test]
#[ignore = "needs root"]
fn a_full_disk_changes_nothing_and_stops_nothing() {
    const TEST: &str = "a_full_disk_changes_nothing_and_stops_nothing";
    if !is_root() {
        return skip(TEST, "needs root to mount a tmpfs");
    }
    let mut n = Node::new("3.2.11", "3.3.5", &[]);
    let small = n.dir.path().join("small");
    fs::create_dir_all(&small).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=128m", "tmpfs"])
        .arg(&small)
        .status()
        .is_ok_and(|st| st.success());
    if !mounted {
        return skip(TEST, "this host refuses to mount a tmpfs");
    }
    // Unmounted (lazily: the BE may still hold its logs) whatever the test's outcome.
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.0)
                .status();
        }
    }
    let _unmount = Unmount(small.clone());
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(&n.home)
        .arg(small.join("be"))
        .status()
        .unwrap();
    assert!(st.success());
    n.home = small.join("be");
    n.start();
    let old_pid = n.pid().unwrap();
    let before = n.binlib();
    // Fill the disk to the last byte.
    {
        use std::io::Write;
        let mut f = fs::File::create(small.join("filler")).unwrap();
        let chunk = vec![0u8; 64 << 10];
        while f.write_all(&chunk).is_ok() {}
        let mut f = fs::File::create(small.join("filler2")).unwrap_or(f);
        while f.write_all(&[0u8; 512]).is_ok() {}
    }
    let run = n.in_place(&["--soak", "1s"]);
    assert!(run.1.contains("No space left on device"), "{}", run.1);
    assert_nothing_changed(&n, old_pid, &before, run);
}

/// Runs the canary with `SR_REHEARSE_TEST_PANIC_AT=point` and asserts the panic ended in the
/// rollback and the report: exit 101, the old build back and serving, the journal closed.
fn panic_rolls_back(point: &str) {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    n.start();
    let before = n.binlib();
    let report = n.dir.path().join("report.json");
    let out = n
        .cmd(&[
            "--new-be",
            n.new_be.to_str().unwrap(),
            "--in-place",
            "--soak",
            "1s",
        ])
        .env("SR_REHEARSE_TEST_PANIC_AT", point)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{point}: {text}{err}");
    assert!(text.contains("[ ok ] rollback"), "{point}: {text}");
    // The panic's line says what happens to the node, not to a sandbox this run never had.
    assert!(
        err.contains("is being put back on its old build") && !err.contains("sandbox"),
        "{point}: {err}"
    );
    let j: serde_json::Value = serde_json::from_str(&read(&report)).expect("the --json report");
    assert_eq!(j["exit_code"], 101, "{point}");
    assert!(
        j["summary"].as_str().unwrap().contains("internal error"),
        "{point}: {}",
        j["summary"]
    );
    assert_eq!(n.binlib(), before, "{point}: the old build is back");
    assert!(
        n.pid().is_some() && n.healthy(),
        "{point}: the old BE serves"
    );
    assert_eq!(n.last_step(), "rolled-back", "{point}");
}

#[test]
fn a_panic_after_the_new_build_started_rolls_back() {
    panic_rolls_back("start new");
}

#[test]
fn a_panic_inside_the_soak_rolls_back() {
    panic_rolls_back("soak");
}

#[test]
#[ignore = "needs root"]
fn an_immutable_bin_changes_nothing_and_stops_nothing() {
    const TEST: &str = "an_immutable_bin_changes_nothing_and_stops_nothing";
    if !is_root() {
        return skip(TEST, "needs root to set the immutable attribute");
    }
    let n = Node::new("3.2.11", "3.3.5", &[]);
    n.start();
    let old_pid = n.pid().unwrap();
    let before = n.binlib();
    let bin = n.home.join("bin");
    let set = |flag: &str| {
        std::process::Command::new("chattr")
            .arg(flag)
            .arg(&bin)
            .status()
            .is_ok_and(|st| st.success())
    };
    if !set("+i") {
        return skip(TEST, "chattr +i is not possible on this filesystem");
    }
    let run = n.in_place(&[]);
    set("-i");
    assert!(run.1.contains("move bin/ into the backup"), "{}", run.1);
    assert_nothing_changed(&n, old_pid, &before, run);
}
