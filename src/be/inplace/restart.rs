//! Starting the old BE again during a rollback, on a node a killed canary may have left in any
//! state.
//!
//! A canary killed while its stop step ran leaves that step's `stop_be.sh` going on in its own
//! session: the old BE it signalled may still be dying, or dead and not yet reaped (forever, on a
//! host whose PID 1 reaps nothing), and when the script ends it removes `be.pid`, whichever BE it
//! names by then. `start_be.sh`, like StarRocks' own, refuses to start while the pid in `be.pid`
//! exists (`kill -0`), so a zombie, or an unrelated process that reused a stale pid, would keep the
//! node without a BE. So before the start the rollback lets such a script finish (or ends it after
//! a deadline), moves aside a `be.pid` that names no live BE of this node (saying so), and retries
//! a refused start once.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::be::node::{self, Node, PidFile};
use crate::timefmt::Civil;

/// How long the rollback lets a `stop_be.sh` of this node (left by a killed canary) finish.
const SCRIPT_WAIT: Duration = Duration::from_secs(15);
/// How long it waits for an old BE that has exited to be reaped, when no script holds it: a PID 1
/// that reaps does so within about a second or two; one that does not never will.
const ZOMBIE_WAIT: Duration = Duration::from_secs(3);
/// How long a start script may run.
const START_LIMIT: Duration = Duration::from_secs(60);

/// Whether a signal arrived since the rollback began: Some(signal number).
pub(super) type Interrupted<'a> = &'a dyn Fn() -> Option<i32>;

/// Waits (at most `limit` and until a signal) for what a killed canary may have left going: a
/// `stop_be.sh` of this node, and the old BE `old` if it has exited but is not yet reaped. A script
/// still running at the end is ended, since it would remove the be.pid of the BE started next.
pub(super) fn settle(
    node: &Node,
    old: Option<i32>,
    limit: Duration,
    interrupted: Interrupted,
    notes: &mut Vec<String>,
) {
    let t = Instant::now();
    let limit = limit.min(SCRIPT_WAIT);
    let zombie = |p: i32| crate::procfs::stat(p).is_some_and(|s| s.is_zombie());
    loop {
        let scripts = node::stop_scripts(&node.home);
        let old_zombie = old.is_some_and(zombie);
        if scripts.is_empty() && !old_zombie {
            if t.elapsed() >= Duration::from_millis(500) {
                notes.push(format!(
                    "waited {} for the stop of the old BE a killed run had begun to finish",
                    crate::diag::short(t.elapsed())
                ));
            }
            return;
        }
        let waited = t.elapsed();
        let give_up = interrupted().is_some()
            || waited >= limit
            || (scripts.is_empty() && waited >= ZOMBIE_WAIT.min(limit));
        if give_up {
            for p in &scripts {
                end_script(*p);
            }
            if !scripts.is_empty() {
                notes.push(format!(
                    "ended stop_be.sh of this node still running after {} (pids {scripts:?}): it would remove the be.pid of the BE started next",
                    crate::diag::short(waited)
                ));
                let until = Instant::now() + Duration::from_secs(2);
                while !node::stop_scripts(&node.home).is_empty() && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGKILL to a stop script: to its whole group when it leads one (the canary starts its scripts
/// in their own session, so the `sleep` it waits in goes too), else to it alone.
fn end_script(pid: i32) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let leads = crate::procfs::stat(pid).is_some_and(|s| s.pgrp == pid);
    let target = if leads { -pid } else { pid };
    let _ = kill(Pid::from_raw(target), Signal::SIGKILL);
}

/// Moves `be.pid` aside when it names a process that is not a live BE of this node (a zombie, an
/// unrelated process that reused the pid, another node's BE): start_be.sh would take it for a
/// running BE and refuse. The file is kept in `aside` (the canary's backup folder, so bin/ stays
/// exactly the old build) as `be.pid.stale-<UTC time>`, and a note says so.
pub(super) fn set_aside_stale_pid(
    node: &Node,
    aside: &Path,
    notes: &mut Vec<String>,
) -> std::io::Result<()> {
    let PidFile::Foreign(pid, what) = node.pid_file() else {
        return Ok(());
    };
    let from = node.pid_dir.join("be.pid");
    fs::create_dir_all(aside)?;
    let to = aside.join(format!("be.pid.stale-{}", Civil::now().compact()));
    fs::rename(&from, &to)?;
    notes.push(format!(
        "{} named pid {pid}, {what}; start_be.sh would refuse to start while that pid exists, so it was moved aside to {}",
        from.display(),
        to.display()
    ));
    Ok(())
}

/// Starts the old build with its start_be.sh, once more after a short pause if the script
/// refuses; a stale be.pid is moved aside before each try.
pub(super) fn start_old(
    node: &Node,
    aside: &Path,
    interrupted: Interrupted,
    notes: &mut Vec<String>,
) -> Result<(), StartError> {
    let mut tries = 0;
    loop {
        tries += 1;
        set_aside_stale_pid(node, aside, notes).map_err(StartError::SetAside)?;
        match node::script(&node.home, "start_be.sh", &["--daemon"], START_LIMIT) {
            Ok(()) => return Ok(()),
            Err(e) if tries == 1 && interrupted().is_none() => {
                notes.push(format!("the old BE did not start ({e}); trying once more"));
                let until = Instant::now() + Duration::from_secs(2);
                while Instant::now() < until && interrupted().is_none() {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            Err(e) => return Err(StartError::Script { tries, source: e }),
        }
    }
}

/// Why the old BE could not be started.
#[derive(Debug, thiserror::Error)]
pub(super) enum StartError {
    #[error("failed to move a stale be.pid aside: {0}")]
    SetAside(#[source] std::io::Error),
    #[error("{source} (tried {tries} times)")]
    Script {
        tries: u32,
        #[source]
        source: node::NodeError,
    },
}
