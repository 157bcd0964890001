//! Process groups, and stopping them for sure.
//!
//! The sandbox FE runs in a process group of its own, so every process it starts (the JVM, a
//! helper it forks) can be signalled at once. Stopping climbs a ladder: the release's own stop
//! script, then SIGTERM to the group, then SIGKILL, each with a deadline, and ends only when no
//! member of the group is left. The tool is also a child subreaper, so a helper that escapes the
//! group by calling setsid is reparented to the tool and can still be found and ended.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A child started in its own process group.
pub struct Group {
    pub child: Child,
    pub pgid: i32,
    status: Option<ExitStatus>,
    /// Set once [`Group::stop`] ran; until then dropping the group ends it (a panic unwinding
    /// through the run must not leave the sandbox running).
    stopped: bool,
}

/// Makes orphaned descendants reparent to this process instead of init.
pub fn become_subreaper() {
    let _ = nix::sys::prctl::set_child_subreaper(true);
}

/// Starts `cmd` as the leader of a new process group, stdin closed.
pub fn spawn_group(mut cmd: Command) -> io::Result<Group> {
    cmd.process_group(0).stdin(Stdio::null());
    let child = cmd.spawn()?;
    let pgid = child.id() as i32;
    Ok(Group {
        child,
        pgid,
        status: None,
        stopped: false,
    })
}

/// Whether any process of group `pgid` is still alive (zombies of our own children excluded once
/// reaped).
pub fn group_alive(pgid: i32) -> bool {
    !matches!(kill(Pid::from_raw(-pgid), None), Err(Errno::ESRCH))
}

/// Every live (not zombie) process as (pid, parent pid, process group), read from /proc.
fn processes() -> Vec<(i32, i32, i32)> {
    all_processes(false)
}

/// Processes as (pid, parent pid, process group): only zombies with `zombies`, else only live ones.
fn all_processes(zombies: bool) -> Vec<(i32, i32, i32)> {
    crate::procfs::pids()
        .into_iter()
        .filter_map(|pid| Some((pid, crate::procfs::stat(pid)?)))
        .filter(|(_, s)| s.is_zombie() == zombies)
        .map(|(pid, s)| (pid, s.ppid, s.pgrp))
        .collect()
}

/// Live pids of group `pgid`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    processes()
        .into_iter()
        .filter(|p| p.2 == pgid)
        .map(|p| p.0)
        .collect()
}

/// Reaps exited children of this process (orphans reparented to us as subreaper included),
/// except the pids in `keep`: their `Child` handles reap them, and a status stolen here would make
/// them look alive forever (`try_wait` then fails with ECHILD).
pub fn reap_orphans_except(keep: &[i32]) {
    use nix::sys::wait::{waitpid, WaitPidFlag};
    let me = std::process::id() as i32;
    for (pid, ppid, _) in all_processes(true) {
        if ppid == me && !keep.contains(&pid) {
            let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
        }
    }
}

/// Reaps every exited child of this process.
pub fn reap_orphans() {
    reap_orphans_except(&[]);
}

/// Pids whose parent is this process.
fn our_children() -> Vec<i32> {
    let me = std::process::id() as i32;
    processes()
        .into_iter()
        .filter(|p| p.1 == me)
        .map(|p| p.0)
        .collect()
}

/// How a stop went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StopReport {
    /// The last rung used: `exited`, `stop-script`, `SIGTERM` or `SIGKILL`.
    pub method: String,
    pub duration_ms: u64,
    /// Pids still alive at the end (empty unless something refused even SIGKILL).
    pub leftover: Vec<i32>,
}

impl Group {
    /// The exit status, if the group leader has exited (reaping it).
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    fn wait_gone(&mut self, until: Instant, script: Option<i32>) -> bool {
        loop {
            self.try_exit();
            reap_orphans_except(&[self.pgid, script.unwrap_or(self.pgid)]);
            if self.status.is_some() && !group_alive(self.pgid) {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the group: `stop_script` first (given the time `grace`), then SIGTERM to the group
    /// (`grace` again), then SIGKILL. Returns when the group is empty or SIGKILL had its chance.
    pub fn stop(&mut self, stop_script: Option<Command>, grace: Duration) -> StopReport {
        self.stopped = true;
        let started = Instant::now();
        let mut method = "exited".to_string();
        let mut script: Option<Child> = None;
        if self.try_exit().is_none() || group_alive(self.pgid) {
            if let Some(mut cmd) = stop_script {
                cmd.process_group(0).stdin(Stdio::null());
                script = cmd.spawn().ok();
                method = "stop-script".into();
            }
            let mut gone = false;
            if let Some(sc) = script.as_mut() {
                let until = deadline(grace);
                let script_pid = Some(sc.id() as i32);
                loop {
                    if self.wait_gone(deadline(Duration::from_millis(50)), script_pid) {
                        gone = true;
                        break;
                    }
                    // A script that finished while the server lives on will not help any more:
                    // SIGTERM at once. Once its exit is seen, one last look gives a server that
                    // was on its way out its chance.
                    if !matches!(sc.try_wait(), Ok(None)) {
                        gone = self.wait_gone(deadline(Duration::from_millis(50)), script_pid);
                        break;
                    }
                    if Instant::now() >= until {
                        break;
                    }
                }
            }
            if !gone {
                method = "SIGTERM".into();
                let _ = kill(Pid::from_raw(-self.pgid), Signal::SIGTERM);
                gone = self.wait_gone(deadline(grace), None);
            }
            if !gone {
                method = "SIGKILL".into();
                let _ = kill(Pid::from_raw(-self.pgid), Signal::SIGKILL);
                self.wait_gone(deadline(Duration::from_secs(5)), None);
            }
        }
        if let Some(mut s) = script {
            let _ = kill(Pid::from_raw(-(s.id() as i32)), Signal::SIGKILL);
            let _ = s.wait();
        }
        // Helpers that left the group but were reparented to us.
        for pid in our_children() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        reap_orphans();
        StopReport {
            method,
            duration_ms: started.elapsed().as_millis() as u64,
            leftover: group_members(self.pgid),
        }
    }
}

/// `now + d`, or a far deadline where that would overflow (durations come from the command line).
pub fn deadline(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400))
}

impl Drop for Group {
    fn drop(&mut self) {
        // Reached without a stop only when the run unwinds (a panic): no stop script then, since
        // the state of the run is unknown, but the SIGTERM/SIGKILL rungs still end every member.
        if !self.stopped {
            let _ = self.stop(None, Duration::from_secs(5));
        }
    }
}

/// Sends `sig` to group `pgid`, ignoring a group that is already gone.
pub fn signal_group(pgid: i32, sig: Signal) {
    let _ = kill(Pid::from_raw(-pgid), sig);
}
