//! The fifth startup phase, first half: BDB JE's environment (`BDBEnvironment.setup`): the
//! election-group reset flag, then the `je.lck` single-writer lock, three tries five seconds apart.
//!
//! The lock is what stops two FEs from sharing one meta dir; the reset flag is what lets a
//! rehearsal FE lead without its recorded group, so both are decided before any election.

use std::fs;
use std::path::Path;
use std::time::Duration;

use super::boot::{stack, Fe, Stop};
use crate::logs::FeLog;
use crate::release::Behaviour as _;

/// Sets up the environment under `bdb_dir`; true when the election group was reset.
pub(super) fn setup_environment(
    fe: &Fe,
    log: &FeLog,
    bdb_dir: &Path,
    role: &str,
) -> Result<bool, Stop> {
    let v = fe.v;
    let recovery_key = v.recovery_key();
    let recovery = fe
        .conf
        .get(recovery_key)
        .is_some_and(|val| v.recovery_flag_is_set(val));
    if recovery {
        if role == "OBSERVER" {
            return Err(fe.fatal(
                "BDBEnvironment.initConfigs():176",
                "Current node is not in the electable_nodes list. will exit",
            ));
        }
        log.info("BDBEnvironment.initConfigs():185", "group has been reset.");
        log.info(
            "BDBEnvironment.ensureHelperInLocal():260",
            "skip check local environment because metadata_failure_recovery = true",
        );
    }
    let _ = fs::create_dir_all(bdb_dir);
    let mut locked_env = false;
    for attempt in 1..=3 {
        log.info(
            "BDBEnvironment.setup():205",
            &format!("start to setup bdb environment for {attempt} times"),
        );
        if lock_je(bdb_dir) {
            locked_env = true;
            break;
        }
        // setupEnvironment catches the DatabaseException and logs it with LOG.error(msg, e): the
        // exception is on the lines after the message.
        log.error(
            "BDBEnvironment.setupEnvironment():316",
            &stack(
                &format!(
                    "failed to setup environment after retried {attempt} times\ncom.sleepycat.je.EnvironmentLockedException: (JE 18.3.16) {} The environment cannot be locked for single writer access. ENV_LOCKED",
                    bdb_dir.display()
                ),
                &[
                    "com.sleepycat.je.log.FileManager.lockEnvironment(FileManager.java:2423)",
                    "com.sleepycat.je.rep.ReplicatedEnvironment.<init>(ReplicatedEnvironment.java:578)",
                    "com.starrocks.journal.bdbje.BDBEnvironment.setupEnvironment(BDBEnvironment.java:255)",
                ],
            ),
        );
        if attempt < 3 {
            std::thread::sleep(Duration::from_secs(5));
        }
    }
    if !locked_env {
        return Err(Stop::StartFailed(format!(
            "com.starrocks.journal.JournalException: failed to setup environment after retried {} times",
            3
        )));
    }
    log.info(
        "BDBEnvironment.setup():230",
        "replicated environment is all set, wait for state change...",
    );
    Ok(recovery)
}

/// Holds `je.lck` for the life of the process, like BDB JE's single-writer lock.
fn lock_je(bdb: &Path) -> bool {
    let Ok(f) = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(bdb.join("je.lck"))
    else {
        return false;
    };
    match nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock) {
        Ok(l) => {
            std::mem::forget(l);
            true
        }
        Err(_) => false,
    }
}
