//! The in-place canary's forward steps: back up, install, restart, verify.
//!
//! Each step is journaled before it runs, so a run killed anywhere leaves enough for `--rollback`;
//! any failure here (an interruption included) hands the node to the rollback at once, so a run
//! ends with either the new build serving or the old one back.

use std::fs;
use std::time::{Duration, Instant};

use super::preflight::{preflight, Checked};
use super::rollback::rollback_step;
use crate::be::fe_query::{backend_row, describe_row};
use crate::be::journal::{manifest_of, write_manifest, Entry, Journal, BACKUP_PREFIX, JOURNAL};
use crate::be::node::{self, running_pid};
use crate::be::sandbox::{decide, log_files};
use crate::be::BeConfig;
use crate::report::{exit, Report, StepStatus, Verdict};
use crate::runner::{Ending, Runner};
use crate::timefmt::Civil;
use crate::watch::tail::Tailer;

/// Consecutive failed SHOW BACKENDS checks the soak tolerates before it fails: one check can meet
/// an FE that is restarting, a dropped connection or a slow answer.
const SOAK_SQL_FAILURES: u32 = 3;
/// How long the node's row may say `Alive = false` before the soak fails: longer than the FE's
/// heartbeat timeout (`heartbeat_timeout_second = 5` in fe-core Config.java) plus a heartbeat round,
/// so the restart itself (the FE sees a new start time, then the next heartbeat) is not mistaken
/// for a dead node.
const ALIVE_GRACE: Duration = Duration::from_secs(10);

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
    let forward = upgrade(cfg, r, &c, &j);
    let Err(failure) = forward else {
        return Ok(());
    };
    // Any failure, interruption included, brings the old build back.
    match rollback_step(r, node, &j, cfg) {
        Ok(()) => Err(failure),
        Err(state) => Err(Ending::new(
            Verdict::Error,
            exit::ROLLBACK_FAILED,
            format!("{}; AND THE ROLLBACK FAILED: {state}", failure.summary),
        )),
    }
}

/// Backup, install, stop the old BE, start and decide on the new one, soak: each journaled before
/// it happens. Any error leaves the journal open for the rollback.
fn upgrade(cfg: &BeConfig, r: &mut Runner, c: &Checked, j: &Journal) -> Result<(), Ending> {
    let node = &c.node;
    let home = &node.home;
    let io = |what: &str, e: std::io::Error| Ending::env(format!("failed to {what}: {e}"));
    let t = Instant::now();
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
    j.record("stop-old", None)?;
    // The old stop_be.sh finds the pid file in the moved bin/; with PID_DIR elsewhere, the node's
    // (new) stop_be.sh reads it from be.conf.
    let script_home = if node.old_pid_dir(&j.backup) == node.pid_dir {
        home.clone()
    } else {
        j.backup.clone()
    };
    node::stop(c.old_pid, Some(&script_home), cfg.stop_grace)
        .map_err(|e| Ending::env(format!("failed to stop the old BE: {e}")))?;
    r.step(
        "stop old",
        t,
        StepStatus::Ok,
        format!("old BE (pid {}) stopped with its stop_be.sh", c.old_pid),
    );

    let t = Instant::now();
    let mut tail = Tailer::new(&log_files(home));
    tail.skip_existing();
    let mut watch = crate::watch::Watcher::new(tail, crate::watch::catalog::Role::Be);
    j.record("start-new", None)?;
    node::script(home, "start_be.sh", &["--daemon"], Duration::from_secs(60))
        .map_err(|e| Ending::fail(format!("failed to start the new BE: {e}")))?;
    let start_deadline = Instant::now() + Duration::from_secs(30);
    let pid_dir = node.pid_dir.clone();
    let mut seen_pid = false;
    let mut exited = move |_: &mut Runner| -> Option<crate::runner::Exit> {
        match running_pid(&pid_dir) {
            Some(_) => {
                seen_pid = true;
                None
            }
            None if seen_pid || Instant::now() > start_deadline => Some(crate::runner::Exit {
                what: format!("no live starrocks_be in {}/be.pid", pid_dir.display()),
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

/// Watches the new BE for `--soak`: the process and `/api/health` every check; with `--fe`, this
/// node's row too, which must end Alive with exactly the new version. A failed query is reported
/// and tolerated up to `SOAK_SQL_FAILURES` in a row; `Alive = false` up to `ALIVE_GRACE`.
/// Returns how many queries failed.
fn soak(cfg: &BeConfig, r: &mut Runner, c: &Checked) -> Result<u32, Ending> {
    let node = &c.node;
    let new_version = c.new_version.clone().unwrap_or_default();
    let soak_end = Instant::now() + cfg.soak;
    let (mut in_a_row, mut errors) = (0u32, 0u32);
    let mut dead_since: Option<Instant> = None;
    let spinner = crate::diag::Progress::spinner("soak", cfg.quiet);
    loop {
        r.interrupted()?;
        spinner.set_message(&format!(
            "soak: the new BE must stay healthy{} for {} more",
            if cfg.fe.is_some() {
                " and Alive in SHOW BACKENDS"
            } else {
                ""
            },
            crate::diag::short(soak_end.saturating_duration_since(Instant::now()))
        ));
        if running_pid(&node.pid_dir).is_none() {
            return Err(Ending::fail("the new BE exited during the soak period"));
        }
        if !node::healthy(node.http_port) {
            return Err(Ending::fail(
                "the new BE stopped answering /api/health during the soak period",
            ));
        }
        let mut settled = true;
        if cfg.fe.is_some() {
            match backend_row(cfg, node) {
                Err(e) => {
                    in_a_row += 1;
                    errors += 1;
                    let msg = format!(
                        "soak: SHOW BACKENDS failed ({in_a_row} of {SOAK_SQL_FAILURES} in a row allowed): {e}"
                    );
                    r.print(&format!("       {msg}\n"));
                    r.report.warnings.push(msg);
                    if in_a_row >= SOAK_SQL_FAILURES {
                        return Err(Ending::fail(format!(
                            "SHOW BACKENDS failed {in_a_row} times in a row during the soak; last error: {e}"
                        )));
                    }
                    settled = false;
                }
                Ok(Err(e)) => return Err(Ending::fail(e.to_string())),
                Ok(Ok(row)) => {
                    in_a_row = 0;
                    let alive = row.get("Alive").map(String::as_str) == Some("true");
                    let version_ok = row
                        .get("Version")
                        .is_some_and(|v| crate::version::reported_is(v, &new_version));
                    if alive {
                        dead_since = None;
                    } else if dead_since.get_or_insert_with(Instant::now).elapsed() > ALIVE_GRACE {
                        return Err(Ending::fail(format!(
                            "SHOW BACKENDS has said Alive=false for more than {}: {}",
                            humantime::format_duration(ALIVE_GRACE),
                            describe_row(&row)
                        )));
                    }
                    // The FE needs a heartbeat round to see the restarted node: judge the version
                    // once the soak is over, allowing the same grace as for Alive.
                    settled = alive && version_ok;
                    if !settled && Instant::now() >= soak_end + ALIVE_GRACE {
                        return Err(Ending::fail(format!(
                            "SHOW BACKENDS: {} (expected Alive=true and Version {new_version})",
                            describe_row(&row)
                        )));
                    }
                }
            }
        }
        if Instant::now() >= soak_end && settled {
            return Ok(errors);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
