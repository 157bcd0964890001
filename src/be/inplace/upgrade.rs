//! The in-place canary's forward steps: back up, install, restart, verify.
//!
//! Each step is journaled before it runs, so a run killed anywhere leaves enough for `--rollback`;
//! any failure here (an interruption included) hands the node to the rollback at once, so a run
//! ends with either the new build serving or the old one back.

use std::cell::Cell;
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use super::preflight::{preflight, Checked};
use super::restart::set_aside_stale_pid;
use super::rollback::rollback_step;
use super::soak::soak;
use crate::be::journal::{manifest_of, write_manifest, Entry, Journal, BACKUP_PREFIX, JOURNAL};
use crate::be::node;
use crate::be::sandbox::{decide, log_files};
use crate::be::BeConfig;
use crate::report::{exit, Report, StepStatus, Verdict};
use crate::runner::{Ending, Runner};
use crate::timefmt::Civil;
use crate::watch::tail::Tailer;

/// `sr-rehearse be --in-place`: upgrades this node's BE, or leaves it on its old build.
pub fn run(cfg: &BeConfig) -> Report {
    let started = Instant::now();
    let mut report = crate::be::new_report("be --in-place", cfg);
    report.isolation.mode = "none".into();
    report.isolation.reason = "in place: the new build runs as the node's own BE".into();
    let mut r = Runner::new(report, cfg.quiet);
    let outcome = pipeline(cfg, &mut r);
    r.finish(
        outcome,
        crate::runner::Keep::Never,
        false,
        cfg.verbose,
        started,
    )
}

/// Preflight, then (unless only a plan was asked for) the forward steps. A failed step hands the
/// node to the rollback; the run keeps the step's failure as its verdict unless the rollback fails
/// too, which is exit code 5.
fn pipeline(cfg: &BeConfig, r: &mut Runner) -> Result<(), Ending> {
    let t = Instant::now();
    let c = match preflight(cfg, r) {
        Ok(v) => v,
        Err(e) => {
            r.step("preflight", t, StepStatus::Failed, e.summary.clone());
            return Err(e);
        }
    };
    let node = &c.node;
    r.step(
        "preflight",
        t,
        StepStatus::Ok,
        format!(
            "BE (pid {}) healthy on http port {}",
            c.old_pid, node.http_port
        ),
    );
    if cfg.plan {
        r.print(&format!(
            "plan (nothing below has been done):\n  1. lock {} and journal every step in {}\n  2. list bin/ and lib/ in a manifest, move them into {}/{BACKUP_PREFIX}<UTC timestamp>/\n  3. install bin/ and lib/ of {} (keeping lib/udf)\n  4. stop the old BE with its stop_be.sh, start the new one with bin/start_be.sh --daemon\n  5. require the process, /api/health OK and the heartbeat port{} for {}\n  6. on failure: check the backup against its manifest, stop the new BE, restore the backup, start and verify the old one\n",
            node.home.join(crate::be::lock::LOCK_FILE).display(),
            node.home.join(JOURNAL).display(),
            node.home.display(),
            c.new_be.display(),
            if cfg.fe.is_some() { ", and this node's row in SHOW BACKENDS Alive with exactly the new Version," } else { "" },
            humantime::format_duration(cfg.soak)
        ));
        r.report.summary = "plan only: nothing was written and nothing was started".into();
        return Ok(());
    }
    let j = Journal::begin(&node.home);
    // Whether bin/ has left the node: before that, a failure has changed nothing.
    let moved = Cell::new(false);
    // The step under way, so a failure that ends it is shown as that step failing.
    let stage = Cell::new(("backup", Instant::now()));
    // A panic of a forward step (a probe's, the soak's) is a failure like any other: the node
    // must not be left on an unverified build because the tool has a bug.
    let forward = catch_unwind(AssertUnwindSafe(|| upgrade(cfg, r, &c, &j, &moved, &stage)));
    let failure = match forward {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(e)) => {
            if r.report
                .steps
                .last()
                .is_none_or(|s| s.status != StepStatus::Failed)
            {
                let (name, t) = stage.get();
                r.step(name, t, StepStatus::Failed, e.summary.clone());
            }
            e
        }
        // Not recorded as a failed step: the verdict names it, and recording the step again
        // would run its crash point again.
        Err(payload) => Ending::new(
            Verdict::Error,
            exit::INTERNAL,
            format!(
                "internal error during the canary: {}; this is a bug of sr-rehearse, please report it",
                panic_text(payload.as_ref())
            ),
        ),
    };
    if !moved.get() {
        // Nothing moved: no rollback, whose stops and restarts could only make it worse (on a
        // full disk the restart fails). The node's BE (pid in preflight) was never touched.
        j.abandon();
        return Err(Ending::new(
            failure.verdict,
            failure.code,
            format!(
                "{}; nothing changed: bin/ and lib/ were not moved and the BE (pid {}) was not touched",
                failure.summary, c.old_pid
            ),
        ));
    }
    // Any failure after the first move, interruption and panic included, brings the old build
    // back, keeping the BE preflight found if it still runs.
    match rollback_step(r, node, &j, cfg, Some(c.old_pid)) {
        Ok(()) => Err(failure),
        Err(state) => Err(state.into_ending(Some(&failure))),
    }
}

/// Backup, install, stop the old BE, start and decide on the new one, soak: each journaled before
/// it happens. Any error leaves the journal open for the rollback.
fn upgrade(
    cfg: &BeConfig,
    r: &mut Runner,
    c: &Checked,
    j: &Journal,
    moved: &Cell<bool>,
    stage: &Cell<(&'static str, Instant)>,
) -> Result<(), Ending> {
    let node = &c.node;
    let home = &node.home;
    let io = |what: &str, e: std::io::Error| Ending::env(format!("failed to {what}: {e}"));
    let t = Instant::now();
    stage.set(("backup", t));
    j.record_entry(Entry {
        step: "begin".into(),
        at: Civil::now().rfc3339(),
        backup: Some(j.backup.display().to_string()),
        detail: Some(format!("new build {}", c.new_be.display())),
        old_pid: Some(c.old_pid),
    })?;
    fs::create_dir_all(&j.backup).map_err(|e| io("create the backup folder", e))?;
    write_manifest(&j.backup, &manifest_of(home))
        .map_err(|e| io("write the backup manifest", e))?;
    j.record("backup-bin", None)?;
    fs::rename(home.join("bin"), j.backup.join("bin"))
        .map_err(|e| io("move bin/ into the backup", e))?;
    moved.set(true);
    j.record("backup-lib", None)?;
    fs::rename(home.join("lib"), j.backup.join("lib"))
        .map_err(|e| io("move lib/ into the backup", e))?;
    r.step(
        "backup",
        t,
        StepStatus::Ok,
        format!("bin/ and lib/ moved to {}", j.backup.display()),
    );
    r.interrupted()?;

    let t = Instant::now();
    stage.set(("install", t));
    j.record("install", None)?;
    crate::workspace::copy_release_dir(&c.new_be.join("bin"), &home.join("bin"))
        .map_err(|e| io("install the new bin/", e))?;
    crate::workspace::copy_release_dir(&c.new_be.join("lib"), &home.join("lib"))
        .map_err(|e| io("install the new lib/", e))?;
    if j.backup.join("lib/udf").is_dir() {
        let _ = fs::remove_dir_all(home.join("lib/udf"));
        crate::workspace::copy_release_dir(&j.backup.join("lib/udf"), &home.join("lib/udf"))
            .map_err(|e| io("carry lib/udf over", e))?;
    }
    r.step(
        "install",
        t,
        StepStatus::Ok,
        format!("bin/ and lib/ of {} (lib/udf kept)", c.new_be.display()),
    );
    r.interrupted()?;

    let t = Instant::now();
    stage.set(("stop old", t));
    j.record("stop-old", None)?;
    // The old stop_be.sh finds the pid file in the moved bin/; with PID_DIR elsewhere, the node's
    // (new) stop_be.sh reads it from be.conf.
    let old_pid_dir = node.old_pid_dir(&j.backup);
    let script_home = if old_pid_dir == node.pid_dir {
        home.clone()
    } else {
        j.backup.clone()
    };
    // stop() signals nothing unless the pid is still this node's BE, and runs the script only
    // when the be.pid it reads names that BE.
    node::stop(
        c.old_pid,
        home,
        Some((&script_home, &old_pid_dir)),
        cfg.stop_grace,
    )
    .map_err(|e| Ending::env(format!("failed to stop the old BE: {e}")))?;
    r.step(
        "stop old",
        t,
        StepStatus::Ok,
        format!("old BE (pid {}) stopped with its stop_be.sh", c.old_pid),
    );

    let t = Instant::now();
    stage.set(("start new", t));
    let files = log_files(home);
    r.log_tail_from = vec![files[0].clone(), files[2].clone()];
    let mut tail = Tailer::new(&files);
    tail.skip_existing();
    let mut watch = crate::watch::Watcher::new(tail, crate::watch::catalog::Role::Be);
    j.record("start-new", None)?;
    // The old BE is gone, but a be.pid in PID_DIR may still name it unreaped (a parent that
    // does not reap) or name a pid reused since: start_be.sh would refuse to start.
    let mut notes = Vec::new();
    set_aside_stale_pid(node, &j.backup, &mut notes)
        .map_err(|e| io("move a stale be.pid aside", e))?;
    for n in notes {
        r.print(&format!("       {n}\n"));
        r.report.warnings.push(n);
    }
    node::script(home, "start_be.sh", &["--daemon"], Duration::from_secs(60))
        .map_err(|e| Ending::fail(format!("failed to start the new BE: {e}")))?;
    let start_deadline = Instant::now() + Duration::from_secs(30);
    let (pid_dir, node_home) = (node.pid_dir.clone(), home.clone());
    let mut seen_pid = false;
    let mut exited = move |_: &mut Runner| -> Option<crate::runner::Exit> {
        match node::running_pid(&node_home, &pid_dir) {
            Some(_) => {
                seen_pid = true;
                None
            }
            None if seen_pid || Instant::now() > start_deadline => Some(crate::runner::Exit {
                what: format!("no live BE of this node in {}/be.pid", pid_dir.display()),
                signal: None,
            }),
            None => None,
        }
    };
    let log_dir = home.join("log");
    let decided = decide(
        cfg.timeout,
        r,
        (&mut watch, &log_dir),
        (node.http_port, node.hb_port),
        c.new_version.clone(),
        &mut exited,
    );
    let (st, detail) = match &decided {
        Ok(s) => (StepStatus::Ok, s.clone()),
        Err(e) => (StepStatus::Failed, e.summary.clone()),
    };
    r.step("start new", t, st, detail);
    let summary = decided?;

    let t = Instant::now();
    stage.set(("verify", t));
    j.record("verify", None)?;
    let errors = soak(cfg, r, c)?;
    r.step(
        "verify",
        t,
        StepStatus::Ok,
        format!(
            "healthy for {}{}",
            humantime::format_duration(cfg.soak),
            if errors == 0 {
                String::new()
            } else {
                format!("; {errors} transient SHOW BACKENDS error(s) tolerated")
            }
        ),
    );
    j.record("kept", None)?;
    r.report.summary = format!(
        "{summary}; the node now runs the new build; the old one is in {}",
        j.backup.display()
    );
    Ok(())
}

/// The message a panic carried.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
        .replace('\n', " ")
}
