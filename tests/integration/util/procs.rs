//! The processes a test leaves behind: signalling them, telling live ones from zombies, finding
//! them by process group or by the folder they mention, and killing them when the test ends, since
//! "no process outlives the tool" is asserted through these.

use std::path::Path;

use sr_rehearse::procfs;

pub use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// Kills the process groups it was given when dropped, so no test leaves a server behind; but
/// only a group that is still the one it was given. Each group is recorded with its leader's
/// start time (field 22 of `/proc/<pid>/stat`), read while the leader is at least a zombie of this
/// process, so its pid cannot have been reused yet. A suite starts thousands of processes and
/// pids wrap, so at drop the number may name another test's fresh daemon: a leader that exists
/// with another start time is not ours and its group is left alone. A leader that is gone (a
/// start script that exited, its daemon left in the group) leaves the number reserved by the
/// kernel for as long as any member of the group lives, so the group is still ours then (unless
/// it emptied, its number went to a new group and that group's leader died too: two reuses).
#[derive(Default)]
pub struct Reaper {
    groups: Vec<(i32, Option<u64>)>,
}

impl Reaper {
    /// Reaps the group `pgid` (a child started with `process_group(0)`, not yet waited for).
    pub fn push(&mut self, pgid: i32) {
        self.groups
            .push((pgid, procfs::stat(pgid).map(|s| s.start_ticks)));
    }

    /// The groups given, in order.
    pub fn groups(&self) -> Vec<i32> {
        self.groups.iter().map(|(g, _)| *g).collect()
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        for (g, ticks) in &self.groups {
            if still_ours(*g, *ticks) {
                let _ = kill(-g, Signal::SIGKILL);
            }
        }
    }
}

/// Whether the group `pgid`, whose leader started at `ticks`, is still that group: its leader
/// has that start time, or is gone while the group lives on.
fn still_ours(pgid: i32, ticks: Option<u64>) -> bool {
    match (procfs::stat(pgid), ticks) {
        (Some(now), Some(then)) => now.start_ticks == then,
        // A leader that was gone already when recorded: nothing proves a later one is it.
        (Some(_), None) => false,
        (None, _) => true,
    }
}

pub fn kill(pid: i32, sig: Signal) -> bool {
    nix::sys::signal::kill(Pid::from_raw(pid), sig).is_ok()
}

pub fn alive(pid: i32) -> bool {
    // Zombies count as gone.
    procfs::stat(pid).is_some_and(|s| !s.is_zombie())
}

/// Every live process whose process group is `pgid`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    procfs::pids()
        .into_iter()
        .filter(|pid| procfs::stat(*pid).is_some_and(|s| !s.is_zombie() && s.pgrp == pgid))
        .collect()
}

/// Live processes whose command line or working folder mentions `path`.
pub fn procs_mentioning(path: &Path) -> Vec<(i32, String)> {
    let needle = path.to_string_lossy().to_string();
    let mut out = Vec::new();
    for pid in procfs::pids() {
        if pid == std::process::id() as i32 || !alive(pid) {
            continue;
        }
        let cmd = procfs::cmdline(pid).unwrap_or_default();
        let cwd = procfs::cwd(pid)
            .map(|p| p.to_string_lossy().to_string())
            .unwrap_or_default();
        if cmd.contains(&needle) || cwd.contains(&needle) {
            out.push((pid, format!("{cmd} (cwd {cwd})")));
        }
    }
    out
}

/// Kills every process mentioning `dir` (daemons started in their own sessions by a test).
pub fn kill_all_mentioning(dir: &Path) {
    for (pid, _) in procs_mentioning(dir) {
        let _ = kill(pid, Signal::SIGKILL);
    }
}

#[test]
fn a_reaper_leaves_a_group_whose_leader_is_another_process_now() {
    use std::os::unix::process::CommandExt;
    let mut child = std::process::Command::new("sleep")
        .arg("600")
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = child.id() as i32;
    let mut r = Reaper::default();
    r.push(pgid);
    assert!(still_ours(pgid, r.groups[0].1));
    // The same pid with another start time: a recycled pid, not the group recorded.
    let other = r.groups[0].1.map(|t| t + 1);
    assert!(!still_ours(pgid, other));
    r.groups[0].1 = other;
    drop(r);
    assert!(
        alive(pgid),
        "the reaper signalled a group it could not prove was its own"
    );
    let mut r = Reaper::default();
    r.push(pgid);
    drop(r);
    child.wait().unwrap();
}
