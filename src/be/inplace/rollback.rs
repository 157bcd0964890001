//! Bringing the old build back after a failed, interrupted or killed in-place canary.
//!
//! The rollback trusts nothing it has not checked: the backup is compared with its manifest before
//! anything moves (a backup moved away or half deleted stops it with the node as it was), and every
//! action looks at the filesystem and the processes first, so a rollback killed halfway can simply
//! be run again. When it cannot finish, its error states the node's exact state and what to do by
//! hand, which becomes the message of exit code 5.

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::restart::{settle, start_old, StartError};
use crate::be::journal::{
    differences, is_open, read_journal, read_manifest, Entry, Journal, MANIFEST,
};
use crate::be::node::{self, Node};
use crate::be::BeConfig;
use crate::report::{exit, Report, StepStatus, Verdict};
use crate::runner::{Ending, Runner};

/// Why the old build could not be brought back; each message says the node's state and what to do.
#[derive(Debug, thiserror::Error)]
pub(super) enum RollbackError {
    #[error("the backup {} cannot restore the old build: {}. Nothing was changed. Node state: bin/ is {}, lib/ is {}; {}. To recover: put the backup back at {} (bin/ and lib/ as listed in {MANIFEST}) and run `sr-rehearse be --be-home {} --rollback` again, or reinstall the old release's bin/ and lib/ by hand and start it with bin/start_be.sh --daemon", .0.backup.display(), .0.problems, .0.bin, .0.lib, .0.running, .0.backup.display(), .0.home.display())]
    BackupUnusable(Box<UnusableBackup>),
    #[error("the new BE could not be stopped: {source}; bin/ and lib/ are still the new build, the old ones are in {}", backup.display())]
    StopNew {
        backup: PathBuf,
        #[source]
        source: node::NodeError,
    },
    #[error("failed to create {}: {source}", path.display())]
    CreateAside {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to move the new {dir}/ aside: {source}")]
    MoveAside {
        dir: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to move {}/{dir} back: {source}; the node has no {dir}/ now", backup.display())]
    MoveBack {
        backup: PathBuf,
        dir: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to write {}/be.pid: {source}", pid_dir.display())]
    WritePid {
        pid_dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the old BE did not start: {0}; bin/ and lib/ are the old build again")]
    StartOld(#[source] StartError),
    /// A signal arrived during the rollback (after the one, if any, that began it): the files
    /// were restored and the old BE started, but it was not waited for.
    #[error("interrupted by signal {sig} during the rollback: {state}")]
    Interrupted { sig: i32, state: String },
    #[error("the old build serves as pid {pid}, but other BEs of this node still run: {others:?}; stop them by hand")]
    OthersRunning { pid: i32, others: Vec<i32> },
    #[error("the old build is back in bin/ and lib/ but its BE is {} after {}; look at {}/log/be.out", if *running { "running and unhealthy" } else { "not running" }, humantime::format_duration(*waited), home.display())]
    OldUnhealthy {
        running: bool,
        waited: Duration,
        home: PathBuf,
    },
}

/// A backup that cannot bring the old build back, and the node's state to recover from by hand.
#[derive(Debug)]
pub(super) struct UnusableBackup {
    backup: PathBuf,
    home: PathBuf,
    problems: String,
    bin: String,
    lib: String,
    running: String,
}

impl RollbackError {
    /// The run's ending: exit 5 ("act now") unless a signal cut the rollback short after the old
    /// build was put back, which ends as that signal (128 + its number) with the node's state.
    pub(super) fn into_ending(self, failure: Option<&Ending>) -> Ending {
        let before = failure
            .map(|f| format!("{}; ", f.summary))
            .unwrap_or_default();
        match self {
            RollbackError::Interrupted { .. } => Ending::interrupted(format!("{before}{self}")),
            e if failure.is_some() => Ending::new(
                Verdict::Error,
                exit::ROLLBACK_FAILED,
                format!("{before}AND THE ROLLBACK FAILED: {e}"),
            ),
            e => Ending::new(
                Verdict::Error,
                exit::ROLLBACK_FAILED,
                format!("THE ROLLBACK FAILED: {e}"),
            ),
        }
    }
}

/// Restores the old build and records the `rollback` step; the error says the node's state.
/// `known_old` is the node's BE as the canary's preflight found it: kept if it still runs, even
/// when the journal could not record it.
pub(super) fn rollback_step(
    r: &mut Runner,
    node: &Node,
    j: &Journal,
    cfg: &BeConfig,
    known_old: Option<i32>,
) -> Result<(), RollbackError> {
    let t = Instant::now();
    let mut notes = Vec::new();
    let restored = restore(node, j, known_old, cfg, &mut notes);
    for n in notes {
        r.print(&format!("       {n}\n"));
        r.report.warnings.push(n);
    }
    match &restored {
        Ok(()) => r.step(
            "rollback",
            t,
            StepStatus::Ok,
            "old build restored, started and healthy",
        ),
        Err(state) => r.step("rollback", t, StepStatus::Failed, state.to_string()),
    }
    restored
}

/// What a rollback will do, decided from the journal and the backup before anything moves.
struct RestorePlan {
    /// Folders to move back from the backup.
    from_backup: Vec<&'static str>,
    old_pid: Option<i32>,
}

/// Checks that the backup can bring the old build back; Err states the node and what to do.
fn check_backup(node: &Node, j: &Journal, entries: &[Entry]) -> Result<RestorePlan, RollbackError> {
    let journaled = |s: &str| entries.iter().any(|e| e.step == s);
    let old_pid = entries.iter().find_map(|e| e.old_pid);
    let manifest = read_manifest(&j.backup);
    let mut from_backup = Vec::new();
    let mut problems = Vec::new();
    for d in ["bin", "lib"] {
        let moved = journaled(&format!("backup-{d}"));
        if !moved {
            continue;
        }
        let Some(m) = &manifest else {
            problems.push(format!(
                "its manifest {} is missing",
                j.backup.join(MANIFEST).display()
            ));
            break;
        };
        if j.backup.join(d).is_dir() {
            let diff = differences(m, &j.backup, d);
            if diff.is_empty() {
                from_backup.push(d);
            } else {
                problems.push(format!(
                    "{d}/ in it is incomplete ({}{})",
                    diff.iter().take(3).cloned().collect::<Vec<_>>().join(", "),
                    if diff.len() > 3 { ", …" } else { "" }
                ));
            }
        } else if (!journaled("install") || journaled("rollback-restore"))
            && differences(m, &node.home, d).is_empty()
        {
            // Killed between the journal line and the move: the old folder never left; or killed
            // during a rollback after it was moved back: it is home already.
        } else {
            problems.push(format!("{d}/ is not in it"));
        }
    }
    if problems.is_empty() {
        return Ok(RestorePlan {
            from_backup,
            old_pid,
        });
    }
    let state_of = |d: &str| {
        let p = node.home.join(d);
        if !p.is_dir() {
            "absent".to_string()
        } else if manifest
            .as_ref()
            .is_some_and(|m| differences(m, &node.home, d).is_empty())
        {
            "the old build".to_string()
        } else {
            "not the old build (the new one, or partly installed)".to_string()
        }
    };
    let running = match node.running_pid() {
        Some(p) => format!("a BE runs as pid {p} ({}/be.pid)", node.pid_dir.display()),
        None => format!("no BE runs ({}/be.pid names none)", node.pid_dir.display()),
    };
    Err(RollbackError::BackupUnusable(Box::new(UnusableBackup {
        backup: j.backup.clone(),
        home: node.home.clone(),
        problems: problems.join("; "),
        bin: state_of("bin"),
        lib: state_of("lib"),
        running,
    })))
}

/// Brings the old build back: check the backup, let a stop a killed run began finish, stop every
/// BE of this node but the old one, put bin/ and lib/ back, start the old BE if it is not running,
/// and make sure it is the one BE of the node and the one be.pid names. Every action checks the
/// filesystem and the processes first, so running it again after a crash is safe. A signal that
/// arrives meanwhile (after the one that began a canary's rollback) cuts only the waiting short:
/// the files are still put back and the old BE started, since a node left without either is
/// worse.
fn restore(
    node: &Node,
    j: &Journal,
    known_old: Option<i32>,
    cfg: &BeConfig,
    notes: &mut Vec<String>,
) -> Result<(), RollbackError> {
    let signals_before = crate::signals::count();
    let interrupted = || {
        (crate::signals::count() > signals_before)
            .then(|| crate::signals::interrupted().unwrap_or(15))
    };
    let home = &node.home;
    let entries = read_journal(home);
    let mut plan = check_backup(node, j, &entries)?;
    plan.old_pid = known_old.or(plan.old_pid);
    let _ = j.record("rollback-begin", None);
    settle(node, plan.old_pid, cfg.timeout, &interrupted, notes);
    let old = plan
        .old_pid
        .filter(|p| node::is_be_of(*p, home))
        .or_else(|| old_build_running(node, &plan, j));
    // Any other BE of this node runs the new build.
    for pid in node::be_processes(home) {
        if Some(pid) != old {
            // Its own stop_be.sh only when be.pid names it; a stray BE is killed directly.
            let script = Some((home.as_path(), node.pid_dir.as_path()));
            node::stop(pid, home, script, cfg.stop_grace).map_err(|source| {
                RollbackError::StopNew {
                    backup: j.backup.clone(),
                    source,
                }
            })?;
        }
    }
    if !plan.from_backup.is_empty() {
        let _ = j.record("rollback-restore", None);
        let failed = j.backup.join("failed-new");
        for d in &plan.from_backup {
            if home.join(d).exists() {
                fs::create_dir_all(&failed).map_err(|source| RollbackError::CreateAside {
                    path: failed.clone(),
                    source,
                })?;
                let _ = fs::remove_dir_all(failed.join(d));
                fs::rename(home.join(d), failed.join(d))
                    .map_err(|source| RollbackError::MoveAside { dir: d, source })?;
            }
            fs::rename(j.backup.join(d), home.join(d)).map_err(|source| {
                RollbackError::MoveBack {
                    backup: j.backup.clone(),
                    dir: d,
                    source,
                }
            })?;
        }
    }
    let _ = j.record("rollback-start-old", None);
    match old.filter(|p| node::is_be_of(*p, home)) {
        // The old BE never stopped: be.pid must name it again (a new BE may have replaced it).
        Some(pid) => {
            if node.running_pid() != Some(pid) {
                fs::create_dir_all(&node.pid_dir)
                    .and_then(|_| fs::write(node.pid_dir.join("be.pid"), format!("{pid}\n")))
                    .map_err(|source| RollbackError::WritePid {
                        pid_dir: node.pid_dir.clone(),
                        source,
                    })?;
            }
        }
        None => {
            if node.running_pid().is_none() {
                start_old(node, &j.backup, &interrupted, notes).map_err(RollbackError::StartOld)?;
            }
        }
    }
    let until = Instant::now() + cfg.timeout;
    while Instant::now() < until {
        if let Some(sig) = interrupted() {
            return Err(RollbackError::Interrupted {
                sig,
                state: format!(
                    "the old build is back in bin/ and lib/ and its BE {}, but it was not verified healthy; run `sr-rehearse be --be-home {} --rollback` to verify it and close the journal",
                    match node.running_pid() {
                        Some(p) => format!("runs as pid {p}"),
                        None => "was started".to_string(),
                    },
                    home.display()
                ),
            });
        }
        if let Some(pid) = node.running_pid() {
            if node::healthy(node.http_port) && node::accepts(node.hb_port) {
                let others: Vec<i32> = node::be_processes(home)
                    .into_iter()
                    .filter(|p| *p != pid)
                    .collect();
                if !others.is_empty() {
                    return Err(RollbackError::OthersRunning { pid, others });
                }
                let _ = j.record("rolled-back", None);
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(RollbackError::OldUnhealthy {
        running: node.running_pid().is_some(),
        waited: cfg.timeout,
        home: home.clone(),
    })
}

/// A BE of this node running the old build's own binary, once bin/ and lib/ are the old build in
/// the home again (a rollback killed after it restarted the old build): it is kept, not
/// restarted.
fn old_build_running(node: &Node, plan: &RestorePlan, j: &Journal) -> Option<i32> {
    if !plan.from_backup.is_empty() {
        return None;
    }
    let m = read_manifest(&j.backup)?;
    if !differences(&m, &node.home, "lib").is_empty() {
        return None;
    }
    let binary = node.home.join("lib/starrocks_be");
    node.running_pid()
        .filter(|p| node::same_file(std::path::Path::new(&format!("/proc/{p}/exe")), &binary))
}

/// `sr-rehearse be --be-home DIR --rollback`: reverses an interrupted canary from its journal.
pub fn rollback(cfg: &BeConfig) -> Report {
    let started = Instant::now();
    let mut report = crate::be::new_report("be --rollback", cfg);
    report.isolation.mode = "none".into();
    report.isolation.reason = "rollback of an in-place canary on the node itself".into();
    let mut r = Runner::new(report, cfg.quiet);
    let outcome = (|| -> Result<(), Ending> {
        let t = Instant::now();
        let node = Node::read(cfg)?;
        let _lock = crate::be::lock::take(&node.home, "be --rollback")?;
        let entries = read_journal(&node.home);
        if !is_open(&entries) {
            r.step("journal", t, StepStatus::Ok, "no open canary journal");
            r.report.summary = format!("nothing to roll back in {}", node.home.display());
            return Ok(());
        }
        let j = Journal::resume(&node.home, &entries)
            .ok_or_else(|| Ending::env("the journal names no backup folder; inspect it by hand"))?;
        r.step(
            "journal",
            t,
            StepStatus::Ok,
            format!(
                "open since step `{}`",
                entries.last().map(|e| e.step.as_str()).unwrap_or("")
            ),
        );
        match rollback_step(&mut r, &node, &j, cfg, None) {
            Ok(()) => {
                r.report.summary = format!(
                    "rolled back: {} runs its previous build again",
                    node.home.display()
                );
                Ok(())
            }
            Err(state) => Err(state.into_ending(None)),
        }
    })();
    r.finish(
        outcome,
        crate::runner::Keep::Never,
        false,
        cfg.verbose,
        started,
    )
}
