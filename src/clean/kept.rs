//! The run folders a finished run left on purpose: `clean --list` shows every run folder with its
//! age, state and size, and `clean --older-than AGE` removes the kept ones older than AGE.
//!
//! A kept run folder holds a full copy of a production meta (or a BE storage root), so on a CI host
//! that keeps failed runs they pile up. They have no `run.json` (the run ended), so the killed-run
//! rule of `clean` never touches them; this file decides, with the same distrust: a folder is
//! removed only when its name is a run folder's with a start time older than the age, it and the
//! workspace root pass the ownership checks of a killed run's folder, and no live process runs
//! from it or from a program inside it.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::timefmt::Civil;
use crate::workspace::{self, PREFIX};

/// What a run folder is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// The run ended and kept its folder (no `run.json`).
    Kept,
    /// `run.json` is there and its `sr-rehearse` is gone: plain `clean` finishes it.
    Killed { tool_pid: u32 },
    /// `run.json` names a live `sr-rehearse`.
    InUse { tool_pid: u32 },
}

/// One run folder under the workspace root.
#[derive(Debug)]
pub struct RunFolder {
    pub path: PathBuf,
    /// Unix seconds of the start time in its name.
    pub started: Option<i64>,
    pub state: State,
    /// Bytes on disk (allocated blocks, so a sparse or cloned file counts what it uses).
    pub disk_bytes: u64,
}

/// The start time a run folder's name carries (`sr-rehearse-20261205-015850-1a2b3c`).
pub fn started_at(name: &str) -> Option<i64> {
    let rest = name.strip_prefix(PREFIX)?;
    let (stamp, rand) = rest.rsplit_once('-')?;
    if rand.is_empty() || !rand.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Civil::unix_seconds_of_compact(stamp)
}

/// Every run folder directly under `root` (links named like one are not followed or listed),
/// oldest first.
pub fn list(root: &Path) -> std::io::Result<Vec<RunFolder>> {
    let mut out = Vec::new();
    for e in fs::read_dir(root)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(PREFIX) || !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = e.path();
        let state = match workspace::read_run_state(&path) {
            None => State::Kept,
            Some(st) if super::tool_alive(&st) => State::InUse {
                tool_pid: st.tool_pid,
            },
            Some(st) => State::Killed {
                tool_pid: st.tool_pid,
            },
        };
        out.push(RunFolder {
            disk_bytes: disk_bytes(&path),
            started: started_at(&name),
            state,
            path,
        });
    }
    out.sort_by_key(|f| (f.started.unwrap_or(i64::MAX), f.path.clone()));
    Ok(out)
}

/// Allocated bytes under `dir`, links not followed and other filesystems not entered.
fn disk_bytes(dir: &Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .same_file_system(true)
        .into_iter()
        .flatten()
        .filter_map(|e| e.path().symlink_metadata().ok())
        .map(|m| m.blocks() * 512)
        .sum()
}

/// A live process whose working folder or program is inside `dir`, if there is one: such a
/// folder is in use whatever its age says (an operator's shell, a sandbox outliving its run).
fn used_by(dir: &Path) -> Option<i32> {
    let dir = fs::canonicalize(dir).ok()?;
    crate::procfs::pids().into_iter().find(|pid| {
        let inside = |p: Option<PathBuf>| p.is_some_and(|p| p.starts_with(&dir));
        inside(crate::procfs::cwd(*pid)) || inside(crate::procfs::exe(*pid))
    })
}

/// Whether the kept folder `f` started more than `older_than` before `now` (Unix seconds); a name
/// without a start time is never old enough.
pub fn old_enough(f: &RunFolder, older_than: Duration, now: i64) -> bool {
    f.state == State::Kept
        && f.started.is_some_and(|started| {
            now.checked_sub(started)
                .is_some_and(|age| age >= 0 && age as u64 >= older_than.as_secs())
        })
}

/// Why the kept folder `f` may not be removed, if it may not: the checks of a killed run's
/// folder, and no live process running from it.
pub fn keep_reason(root: &Path, f: &RunFolder) -> Option<String> {
    let uid = nix::unistd::geteuid().as_raw();
    if let Some(why) = super::untrusted_folder(root, &f.path, uid) {
        return Some(why);
    }
    used_by(&f.path).map(|pid| format!("process {pid} runs from it"))
}

/// `1.2 GiB`, `340 MiB`, `12 KiB`: sizes as an operator reads them.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `3d 4h`, `2h 5m`, `40s`: an age to the two largest units.
pub fn human_age(secs: u64) -> String {
    let parts = [
        (secs / 86_400, "d"),
        ((secs % 86_400) / 3_600, "h"),
        ((secs % 3_600) / 60, "m"),
        (secs % 60, "s"),
    ];
    let shown: Vec<String> = parts
        .iter()
        .skip_while(|(v, _)| *v == 0)
        .take(2)
        .filter(|(v, _)| *v > 0)
        .map(|(v, u)| format!("{v}{u}"))
        .collect();
    if shown.is_empty() {
        "0s".into()
    } else {
        shown.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_give_their_start_time_and_others_none() {
        assert_eq!(
            started_at("sr-rehearse-20240119-200314-00ab3f"),
            Some(1_705_694_594)
        );
        for bad in [
            "sr-rehearse-20240119-200314",
            "sr-rehearse-20240119-200314-",
            "sr-rehearse-20240119-200314-xyz",
            "sr-rehearse-demo-20240119-200314",
            "other-20240119-200314-00ab3f",
        ] {
            assert_eq!(started_at(bad), None, "{bad}");
        }
    }

    #[test]
    fn sizes_and_ages_read_as_an_operator_reads_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
        assert_eq!(human_age(0), "0s");
        assert_eq!(human_age(40), "40s");
        assert_eq!(human_age(2 * 3600 + 5 * 60 + 7), "2h 5m");
        assert_eq!(human_age(3 * 86_400 + 4 * 3600), "3d 4h");
        assert_eq!(human_age(86_400 + 30), "1d");
    }

    #[test]
    fn a_folder_a_process_runs_from_is_in_use() {
        let d = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .current_dir(d.path())
            .spawn()
            .unwrap();
        let by = used_by(d.path());
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(by, Some(child.id() as i32));
    }
}
