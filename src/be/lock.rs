//! One in-place canary or rollback at a time per node.
//!
//! Two runs on one BE home would interleave journal lines and leave a new `bin/`/`lib/` under the
//! old process. An exclusive `flock` on a file in the BE home, held for the whole run, rules that
//! out; the kernel drops it when the holder dies, so a killed run never leaves a stale lock. The
//! file names its holder so the refused run can say who it is. It is opened close-on-exec, so the
//! BE the canary starts does not inherit the lock.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

use crate::runner::Ending;
use crate::timefmt::Civil;

pub const LOCK_FILE: &str = "sr-rehearse-canary.lock";

/// Held for as long as it lives.
pub struct NodeLock {
    _lock: Flock<File>,
}

/// Takes the node's lock for `what` (`be --in-place`, `be --rollback`), or says who holds it.
pub fn take(home: &Path, what: &str) -> Result<NodeLock, Ending> {
    let path = home.join(LOCK_FILE);
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| {
            Ending::env(format!(
                "failed to open the lock file {}: {e}",
                path.display()
            ))
        })?;
    let mut lock = match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Ok(l) => l,
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
            let holder = fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            return Err(Ending::bad_input(format!(
                "another sr-rehearse run holds {} ({}); wait for it to finish, one canary or rollback at a time per node",
                path.display(),
                if holder.is_empty() { "holder unknown" } else { holder }
            )));
        }
        Err((_, e)) => {
            return Err(Ending::env(format!(
                "failed to lock {}: {e}",
                path.display()
            )))
        }
    };
    let me = format!(
        "pid {} running `sr-rehearse {what}` since {}",
        std::process::id(),
        Civil::now().rfc3339()
    );
    let _ = lock.set_len(0);
    let _ = lock.write_all(me.as_bytes()).and_then(|_| lock.sync_all());
    Ok(NodeLock { _lock: lock })
}
