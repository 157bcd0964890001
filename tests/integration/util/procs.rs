//! The processes a test leaves behind: signalling them, telling live ones from zombies, finding
//! them by process group or by the folder they mention, and killing them when the test ends, since
//! "no process outlives the tool" is asserted through these.

use std::path::Path;

use sr_rehearse::procfs;

pub use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// Kills the process groups it was given when dropped, so no test leaves a server behind.
#[derive(Default)]
pub struct Reaper {
    pub groups: Vec<i32>,
}

impl Drop for Reaper {
    fn drop(&mut self) {
        for g in &self.groups {
            let _ = kill(-g, Signal::SIGKILL);
        }
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
