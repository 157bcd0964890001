//! `clean --list` and `clean --older-than`: kept run folders, each a full meta copy, are listed with
//! their age and size and removed past an age, and only when they are provably the caller's and
//! idle. Links, young folders, folders others can write and folders a process runs from stay.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{stdout, tool_bin};

fn clean(root: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let o = Command::new(tool_bin())
        .arg("clean")
        .arg("--workspace-root")
        .arg(root)
        .args(extra)
        .output()
        .unwrap();
    (
        o.status.code(),
        format!("{}{}", stdout(&o), String::from_utf8_lossy(&o.stderr)),
    )
}

/// A kept run folder named as if it started at `stamp`, holding 1 MiB.
fn kept(root: &Path, stamp: &str) -> PathBuf {
    let d = root.join(format!("sr-rehearse-{stamp}-0a1b2c"));
    fs::create_dir_all(d.join("fe/meta/image")).unwrap();
    fs::write(d.join("fe/meta/image/image.100"), vec![7u8; 1 << 20]).unwrap();
    fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).unwrap();
    d
}

fn young_stamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64;
    starrocks_common::timefmt::Civil::from_unix_micros(now).compact()
}

#[test]
fn list_shows_every_run_folder_and_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let old = kept(root.path(), "20200101-000000");
    let young = kept(root.path(), &young_stamp());
    let (code, out) = clean(root.path(), &["--list"]);
    assert_eq!(code, Some(0), "{out}");
    let old_line = out
        .lines()
        .find(|l| l.contains(old.to_str().unwrap()))
        .unwrap_or_else(|| panic!("old folder not listed: {out}"));
    assert!(
        old_line.contains("kept") && old_line.contains("MiB") && old_line.contains("d "),
        "{old_line}"
    );
    assert!(out.contains(young.to_str().unwrap()), "{out}");
    assert!(out.contains("2 run folders"), "{out}");
    assert!(old.exists() && young.exists(), "--list removed something");
}

#[test]
fn older_than_removes_old_kept_folders_only() {
    let root = tempfile::tempdir().unwrap();
    let old = kept(root.path(), "20200101-000000");
    let young = kept(root.path(), &young_stamp());
    // A link named like an old run folder, to a folder that must survive.
    let target = tempfile::tempdir().unwrap();
    fs::write(target.path().join("precious"), "x").unwrap();
    std::os::unix::fs::symlink(
        target.path(),
        root.path().join("sr-rehearse-20190101-000000-ffffff"),
    )
    .unwrap();
    // An old folder others can write to: somebody else could have put anything in it.
    let open = kept(root.path(), "20200102-000000");
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let (code, out) = clean(root.path(), &["--older-than", "7d"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!old.exists(), "the old kept folder is still there: {out}");
    assert!(young.exists(), "a young kept folder was removed: {out}");
    assert!(
        target.path().join("precious").exists(),
        "a link was followed: {out}"
    );
    assert!(
        open.exists(),
        "a folder others can write was removed: {out}"
    );
    assert!(out.contains("writable by other users"), "{out}");
    assert!(
        out.contains("1 kept run folder older than 7d removed"),
        "{out}"
    );
}

#[test]
fn a_kept_folder_a_process_runs_from_stays() {
    let root = tempfile::tempdir().unwrap();
    let old = kept(root.path(), "20200101-000000");
    let mut shell = Command::new("sleep")
        .arg("60")
        .current_dir(&old)
        .spawn()
        .unwrap();
    let (code, out) = clean(root.path(), &["--older-than", "1d"]);
    let _ = shell.kill();
    let _ = shell.wait();
    assert_eq!(code, Some(0), "{out}");
    assert!(old.exists(), "a folder in use was removed: {out}");
    assert!(
        out.contains(&format!("process {} runs from it", shell.id())),
        "{out}"
    );
}

#[test]
fn list_and_older_than_do_not_go_together() {
    let root = tempfile::tempdir().unwrap();
    let (code, out) = clean(root.path(), &["--list", "--older-than", "1d"]);
    assert_eq!(code, Some(2), "{out}");
}
