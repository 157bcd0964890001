//! `sr-rehearse clean`: finish runs whose tool was killed.
//!
//! A run records its tool pid (with the process start time, so a reused pid is not mistaken for
//! it), the sandbox's process group (with its leader's start time) and its ports in `run.json`. A
//! run folder whose tool is gone still has a `run.json` (a finished run removes it, or its whole
//! folder), so clean ends that group and removes the folder. Kept workspaces of finished runs have
//! no `run.json` and are left.
//!
//! `clean` often runs as root over a shared folder such as `/tmp`, where anyone can create a
//! folder with a `run.json` naming any process group. So it acts only on what provably is a run of
//! the calling user: the folder and `run.json` are that user's and nobody else can write to them,
//! the workspace root does not let others swap the folder, the group leader is the very process
//! that was recorded (same start time), and every process of the group runs from the run folder.
//! Anything else is reported and left untouched.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::output::outln;
use crate::report::exit;
use crate::supervise;
use crate::workspace::{self, PREFIX, RUN_FILE};

mod kept;

pub(crate) fn tool_alive(st: &workspace::RunState) -> bool {
    workspace::process_start_ticks(st.tool_pid).is_some_and(|t| t == st.tool_start_ticks)
}

/// Why `dir` (and its `run.json`) cannot be trusted as a run of `uid`, if it cannot.
fn untrusted(root: &Path, dir: &Path, uid: u32) -> Option<String> {
    untrusted_folder(root, dir, uid)
        .or_else(|| untrusted_entry(&dir.join(RUN_FILE), "run.json", uid))
}

/// Why the run folder `dir` under `root` cannot be trusted as `uid`'s, if it cannot: the root lets
/// others swap it, or the folder is a link, another user's, or writable by others.
fn untrusted_folder(root: &Path, dir: &Path, uid: u32) -> Option<String> {
    let root_meta = match fs::metadata(root) {
        Ok(m) => m,
        Err(e) => return Some(format!("{} cannot be read: {e}", root.display())),
    };
    // Others may write to the root (as in /tmp) only if the sticky bit stops them renaming our
    // folder away and putting theirs in its place.
    if root_meta.mode() & 0o022 != 0 && root_meta.mode() & 0o1000 == 0 {
        return Some(format!(
            "{} is writable by other users and not sticky",
            root.display()
        ));
    }
    untrusted_entry(dir, "folder", uid)
}

fn untrusted_entry(p: &Path, what: &str, uid: u32) -> Option<String> {
    let m = match fs::symlink_metadata(p) {
        Ok(m) => m,
        Err(e) => return Some(format!("its {what} cannot be read: {e}")),
    };
    if m.file_type().is_symlink() {
        return Some(format!("its {what} is a symlink"));
    }
    if m.uid() != uid {
        return Some(format!(
            "its {what} belongs to uid {}, not to you (uid {uid})",
            m.uid()
        ));
    }
    if m.mode() & 0o022 != 0 {
        return Some(format!("its {what} is writable by other users"));
    }
    None
}

/// Why the group `pgid` recorded in `st` is not the run's sandbox any more, if it is not.
fn not_ours(dir: &Path, st: &workspace::RunState, pgid: i32, members: &[i32]) -> Option<String> {
    let leader = workspace::process_start_ticks(pgid as u32);
    match (st.pgid_start_ticks, leader) {
        (Some(want), Some(got)) if want == got => {}
        (None, _) => return Some("run.json records no start time for the group leader".into()),
        (Some(_), None) => {
            return Some(format!(
                "the group leader {pgid} is gone, so the group cannot be proven to be the run's"
            ))
        }
        (Some(_), Some(_)) => {
            return Some(format!(
            "process {pgid} started at another time than the recorded group leader (a reused pid)"
        ))
        }
    }
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    for pid in members {
        let Some(cwd) = crate::procfs::cwd(*pid) else {
            // A zombie has no working folder any more, and neither has a process that exited
            // since the listing: the kill cannot harm either, so neither argues against the run.
            match crate::procfs::stat(*pid) {
                None => continue,
                Some(s) if s.is_zombie() => continue,
                Some(_) => {
                    return Some(format!(
                        "the working folder of process {pid} of group {pgid} cannot be read"
                    ))
                }
            }
        };
        if !cwd.starts_with(&dir) {
            return Some(format!(
                "process {pid} of group {pgid} runs from {}, not from the run folder",
                cwd.display()
            ));
        }
    }
    None
}

/// The folder to clean cannot be listed.
#[derive(Debug, thiserror::Error)]
#[error("failed to read --workspace-root {}: {source}", root.display())]
pub struct CleanError {
    root: PathBuf,
    #[source]
    source: std::io::Error,
}

/// What `clean` was asked to do, beside finishing killed runs.
#[derive(Debug, Clone, Default)]
pub struct CleanConfig {
    /// The workspace root (the temp folder when not given).
    pub root: Option<PathBuf>,
    /// List every run folder and change nothing.
    pub list: bool,
    /// Also remove kept run folders older than this.
    pub older_than: Option<Duration>,
}

/// `sr-rehearse clean`: the listing, or the killed runs finished and, with `--older-than`, the old
/// kept folders removed.
pub fn run(cfg: &CleanConfig) -> Result<i32, CleanError> {
    let root: PathBuf = cfg.root.clone().unwrap_or_else(std::env::temp_dir);
    if cfg.list {
        return list(&root);
    }
    let code = finish_killed(&root)?;
    match cfg.older_than {
        Some(age) => remove_old_kept(&root, age),
        None => Ok(code),
    }
}

/// `clean --list`: every run folder, its age, state and size.
fn list(root: &Path) -> Result<i32, CleanError> {
    let folders = kept::list(root).map_err(|source| CleanError {
        root: root.to_path_buf(),
        source,
    })?;
    if folders.is_empty() {
        outln(&format!("no run folders in {}", root.display()));
        return Ok(exit::PASS);
    }
    let now = now_secs();
    let mut kept_bytes = 0;
    for f in &folders {
        let age = f
            .started
            .map(|s| {
                format!(
                    "{} ago",
                    kept::human_age(now.saturating_sub(s).max(0) as u64)
                )
            })
            .unwrap_or_else(|| "age unknown".into());
        let state = match &f.state {
            kept::State::Kept => {
                kept_bytes += f.disk_bytes;
                "kept".to_string()
            }
            kept::State::Killed { tool_pid } => {
                format!("killed run (sr-rehearse pid {tool_pid} gone; `clean` finishes it)")
            }
            kept::State::InUse { tool_pid } => format!("in use by sr-rehearse pid {tool_pid}"),
        };
        outln(&format!(
            "{}  {age}  {}  {state}",
            f.path.display(),
            kept::human_bytes(f.disk_bytes)
        ));
    }
    outln(&format!(
        "{} run folder{}, kept ones use {}; `sr-rehearse clean --older-than 7d` removes kept folders older than 7 days",
        folders.len(),
        if folders.len() == 1 { "" } else { "s" },
        kept::human_bytes(kept_bytes)
    ));
    Ok(exit::PASS)
}

fn now_secs() -> i64 {
    crate::timefmt::unix_millis() / 1000
}

/// `clean --older-than AGE`: removes the kept run folders older than AGE that pass every check.
fn remove_old_kept(root: &Path, age: Duration) -> Result<i32, CleanError> {
    let folders = kept::list(root).map_err(|source| CleanError {
        root: root.to_path_buf(),
        source,
    })?;
    let now = now_secs();
    let mut removed = 0;
    for f in folders.iter().filter(|f| kept::old_enough(f, age, now)) {
        match kept::keep_reason(root, f) {
            None => {
                crate::fe::remove_home_link(&f.path);
                crate::workspace::remove_dir_all_writable(&f.path);
                if f.path.exists() {
                    outln(&format!(
                        "{}: could not be removed completely; remove it by hand",
                        f.path.display()
                    ));
                } else {
                    removed += 1;
                    outln(&format!(
                        "{}: kept run folder removed ({})",
                        f.path.display(),
                        kept::human_bytes(f.disk_bytes)
                    ));
                }
            }
            Some(why) => outln(&format!(
                "{}: kept run folder left alone, {why}",
                f.path.display()
            )),
        }
    }
    outln(&format!(
        "{removed} kept run folder{} older than {} removed",
        if removed == 1 { "" } else { "s" },
        kept::human_age(age.as_secs())
    ));
    Ok(exit::PASS)
}

/// Finishes the killed runs under `root`.
fn finish_killed(root: &Path) -> Result<i32, CleanError> {
    let root = root.to_path_buf();
    let rd = match fs::read_dir(&root) {
        Ok(rd) => rd,
        Err(source) => return Err(CleanError { root, source }),
    };
    let uid = nix::unistd::geteuid().as_raw();
    let mut cleaned = 0;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let dir = e.path();
        // Not followed: a link named like a run folder is somebody else's doing.
        if !name.starts_with(PREFIX) || !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Some(st) = workspace::read_run_state(&dir) else {
            continue;
        };
        if tool_alive(&st) {
            outln(&format!(
                "{}: in use by running sr-rehearse (pid {}), left alone",
                dir.display(),
                st.tool_pid
            ));
            continue;
        }
        if let Some(why) = untrusted(&root, &dir, uid) {
            outln(&format!(
                "{}: not cleaned, {why}; nothing was touched: check it and remove it by hand",
                dir.display()
            ));
            continue;
        }
        let mut ended = Vec::new();
        if let Some(pgid) = st.pgid.filter(|g| *g > 1) {
            let members = supervise::group_members(pgid);
            if !members.is_empty() {
                if let Some(why) = not_ours(&dir, &st, pgid, &members) {
                    outln(&format!(
                        "{}: not cleaned, {why}; nothing was touched: check it and remove it by hand",
                        dir.display()
                    ));
                    continue;
                }
                supervise::signal_group(pgid, Signal::SIGKILL);
                let until = supervise::deadline(Duration::from_secs(10));
                while supervise::group_alive(pgid) && std::time::Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(20));
                }
                ended = members;
            }
        }
        crate::fe::remove_home_link(&dir);
        crate::workspace::remove_dir_all_writable(&dir);
        cleaned += 1;
        if ended.is_empty() {
            outln(&format!(
                "{}: removed (phase {}, no process left)",
                dir.display(),
                st.phase
            ));
        } else {
            outln(&format!(
                "{}: ended processes {:?} of group {}, removed",
                dir.display(),
                ended,
                st.pgid.unwrap_or(0)
            ));
        }
    }
    if cleaned == 0 {
        outln(&format!("nothing to clean in {}", root.display()));
    }
    Ok(exit::PASS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::Command;
    use std::time::Instant;

    /// A group whose leader never reaps its child, which then stays a zombie (no working folder):
    /// what a member that exits between the listing and the check looks like. Returns the leader
    /// and every member, the zombie included.
    // The leader is handed to the caller, which kills and waits for it.
    #[allow(clippy::zombie_processes)]
    fn group_with_a_zombie(cwd: &Path) -> (std::process::Child, i32, Vec<i32>) {
        let mut leader = Command::new("sh")
            .args(["-c", "sleep 0 & exec sleep 30"])
            .current_dir(cwd)
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = leader.id() as i32;
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let zombie = crate::procfs::pids()
                .into_iter()
                .find(|p| crate::procfs::stat(*p).is_some_and(|s| s.is_zombie() && s.pgrp == pgid));
            if let Some(z) = zombie {
                let mut members = supervise::group_members(pgid);
                members.push(z);
                return (leader, pgid, members);
            }
            if Instant::now() > until {
                let _ = leader.kill();
                let _ = leader.wait();
                panic!("no zombie appeared in group {pgid}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn state_of(pgid: i32) -> workspace::RunState {
        workspace::RunState {
            tool_pid: 0,
            tool_start_ticks: 0,
            phase: "started".into(),
            pgid: Some(pgid),
            pgid_start_ticks: workspace::process_start_ticks(pgid as u32),
            pids: vec![pgid],
            ports: vec![],
            started_at: String::new(),
        }
    }

    #[test]
    fn a_zombie_in_the_group_does_not_make_the_run_look_foreign() {
        let run = tempfile::tempdir().unwrap();
        let (mut leader, pgid, members) = group_with_a_zombie(run.path());
        let verdict = not_ours(run.path(), &state_of(pgid), pgid, &members);
        let _ = leader.kill();
        let _ = leader.wait();
        assert!(members.len() >= 2, "leader and zombie: {members:?}");
        assert_eq!(verdict, None);
    }

    #[test]
    fn a_live_member_elsewhere_makes_it_foreign() {
        let run = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let (mut leader, pgid, members) = group_with_a_zombie(elsewhere.path());
        let verdict = not_ours(run.path(), &state_of(pgid), pgid, &members);
        let _ = leader.kill();
        let _ = leader.wait();
        assert!(verdict.is_some_and(|w| w.contains("not from the run folder")));
    }
}
