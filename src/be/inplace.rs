//! The in-place canary: the new build on one real node, with a journal and an automatic rollback.
//!
//! The operations guide's procedure (move bin/ and lib/ aside, install the new ones keeping
//! lib/udf, restart, check) made safe: one run at a time per node (a lock in the BE home); the node
//! must be healthy, and its row in SHOW BACKENDS found by host and heartbeat port, before anything
//! moves; every step is journaled before it happens (see `journal`); any failure restores the
//! verified backup, restarts the old build and verifies it; and exit code 5 says, exactly, when
//! even that did not bring the node back. On success the new BE keeps running: it is the node's BE
//! now.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::backends::{self, PickError, Row, Want};
use super::conf;
pub use super::journal::read_journal;
use super::journal::{
    differences, is_open, manifest_of, read_manifest, write_manifest, Entry, Journal,
    BACKUP_PREFIX, JOURNAL, MANIFEST,
};
use super::node::{self, running_pid};
use super::sandbox::{decide, log_files, ExitInfo};
use super::BeConfig;
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

struct Node {
    home: PathBuf,
    http_port: u16,
    hb_port: u16,
    /// Where be.pid lives (`PID_DIR` of be.conf, or bin/).
    pid_dir: PathBuf,
    /// This node's address in SHOW BACKENDS: `--be-host`, or the detected candidates.
    be_host: Option<String>,
    candidates: Vec<IpAddr>,
}

impl Node {
    fn read(cfg: &BeConfig) -> Result<Node, Ending> {
        let nc = conf::read(&cfg.be_home)?;
        let home = fs::canonicalize(&cfg.be_home).unwrap_or_else(|_| cfg.be_home.clone());
        let networks = nc.conf.get("priority_networks").unwrap_or_default();
        let networks = backends::parse_priority_networks(&networks).map_err(|bad| {
            Ending::bad_input(format!(
                "{}: priority_networks has `{}`, which is not a CIDR; fix be.conf",
                nc.path, bad.0
            ))
        })?;
        Ok(Node {
            http_port: nc.ports["be_http_port"],
            hb_port: nc.ports["heartbeat_service_port"],
            pid_dir: node::pid_dir(&home, &nc.conf),
            be_host: cfg.be_host.clone(),
            candidates: backends::candidate_addresses(&backends::local_addresses(), &networks),
            home,
        })
    }

    /// Where be.pid of the old BE is once bin/ moved into `backup`.
    fn old_pid_dir(&self, backup: &Path) -> PathBuf {
        if self.pid_dir == self.home.join("bin") {
            backup.join("bin")
        } else {
            self.pid_dir.clone()
        }
    }

    fn want(&self) -> Want<'_> {
        match &self.be_host {
            Some(h) => Want::Host(h),
            None => Want::Detected(&self.candidates),
        }
    }
}

/// Why a statement on the FE given with `--fe` did not run.
#[derive(Debug, thiserror::Error)]
enum FeQueryError {
    #[error("--fe {0} is not HOST:QUERY_PORT")]
    NotHostPort(String),
    #[error("--fe {0}: bad port")]
    BadPort(String),
    #[error("--password-env {0}: the variable is not set")]
    PasswordUnset(String),
    #[error(transparent)]
    Sql(#[from] crate::probe::mysql::SqlError),
}

fn fe_query(cfg: &BeConfig, sql: &str) -> Result<Vec<Row>, FeQueryError> {
    let fe = cfg.fe.as_deref().unwrap_or_default();
    let (host, port) = fe
        .rsplit_once(':')
        .ok_or_else(|| FeQueryError::NotHostPort(fe.into()))?;
    let port: u16 = port.parse().map_err(|_| FeQueryError::BadPort(fe.into()))?;
    let password = match &cfg.password_env {
        Some(v) => Some(std::env::var(v).map_err(|_| FeQueryError::PasswordUnset(v.clone()))?),
        None => None,
    };
    Ok(crate::probe::mysql::query_host(
        host,
        port,
        &cfg.user,
        password.as_deref(),
        sql,
        Duration::from_secs(10),
    )?)
}

/// This node's row of SHOW BACKENDS. The outer error is a failed query (possibly transient), the
/// inner one a row that cannot be told apart.
fn backend_row(cfg: &BeConfig, node: &Node) -> Result<Result<Row, PickError>, FeQueryError> {
    let rows = fe_query(cfg, "SHOW BACKENDS")?;
    Ok(backends::pick(rows, &node.want(), node.hb_port))
}

/// Tables with fewer than three replicas, as `db.table (N)`, from the FE's partitions_meta.
fn low_replica_tables(cfg: &BeConfig) -> Result<Vec<String>, FeQueryError> {
    let rows = fe_query(
        cfg,
        "SELECT DB_NAME, TABLE_NAME, PARTITION_NAME, REPLICATION_NUM FROM information_schema.partitions_meta WHERE REPLICATION_NUM < 3",
    )?;
    let mut out: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{}.{} ({})",
                r.get("DB_NAME").cloned().unwrap_or_default(),
                r.get("TABLE_NAME").cloned().unwrap_or_default(),
                r.get("REPLICATION_NUM").cloned().unwrap_or_default()
            )
        })
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

fn describe_row(row: &Row) -> String {
    let g = |k: &str| row.get(k).cloned().unwrap_or_default();
    format!(
        "BackendId {} {}:{} Alive={} Version={}{}",
        g("BackendId"),
        g("IP"),
        g("HeartbeatPort"),
        g("Alive"),
        g("Version"),
        if g("ErrMsg").is_empty() {
            String::new()
        } else {
            format!(" ErrMsg={}", g("ErrMsg"))
        }
    )
}

pub fn run(cfg: &BeConfig) -> Report {
    let started = Instant::now();
    let mut report = super::new_report("be --in-place", cfg);
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

struct Checked {
    node: Node,
    new_be: PathBuf,
    old_pid: i32,
    new_version: Option<String>,
    _lock: Option<super::lock::NodeLock>,
}

fn preflight(cfg: &BeConfig, r: &mut Runner) -> Result<Checked, Ending> {
    let new_be = super::checked_new_be(cfg)?;
    let node = Node::read(cfg)?;
    let home = node.home.clone();
    if crate::workspace::is_within(&new_be, &home) {
        return Err(Ending::bad_input(
            "--new-be is inside --be-home; unpack the new release elsewhere",
        ));
    }
    // A plan writes nothing, not even the lock file.
    let lock = if cfg.plan {
        None
    } else {
        Some(super::lock::take(&home, "be --in-place")?)
    };
    let journal = read_journal(&home);
    if is_open(&journal) {
        return Err(Ending::bad_input(format!(
            "another canary's journal is open on this node ({}, last step `{}`); finish it with `sr-rehearse be --be-home {} --rollback`",
            home.join(JOURNAL).display(),
            journal.last().map(|e| e.step.as_str()).unwrap_or(""),
            home.display()
        )));
    }
    r.report.ports.production = conf::read(&cfg.be_home)?.ports;
    let Some(old_pid) = running_pid(&node.pid_dir) else {
        return Err(Ending::bad_input(format!(
            "the BE in {} is not running (no live starrocks_be in {}/be.pid); the in-place canary starts from a healthy node",
            home.display(),
            node.pid_dir.display()
        )));
    };
    if !node::healthy(node.http_port) {
        return Err(Ending::bad_input(format!(
            "the BE in {} does not answer /api/health on port {}; the in-place canary starts from a healthy node",
            home.display(),
            node.http_port
        )));
    }
    let new_version = node::binary_version(&new_be);
    if cfg.fe.is_none() && cfg.be_host.is_some() {
        r.report.warnings.push(
            "--be-host is used only with --fe (to find this node's row in SHOW BACKENDS); ignored"
                .into(),
        );
    }
    if cfg.fe.is_some() {
        let row = backend_row(cfg, &node)
            .map_err(|e| Ending::bad_input(format!("failed to query SHOW BACKENDS: {e}")))?
            .map_err(|e| Ending::bad_input(e.to_string()))?;
        if new_version.is_none() {
            return Err(Ending::env(format!(
                "failed to read the new build's version with {}/lib/starrocks_be --version; SHOW BACKENDS cannot be checked against it",
                new_be.display()
            )));
        }
        match low_replica_tables(cfg) {
            Ok(t) if !t.is_empty() => r.report.warnings.push(format!(
                "tables with fewer than 3 replicas (a failed canary on this node can make them unavailable): {}",
                t.join(", ")
            )),
            Ok(_) => {}
            Err(e) => r
                .report
                .warnings
                .push(format!("could not check replica counts on the FE: {e}")),
        }
        if row.get("Alive").map(String::as_str) != Some("true") {
            return Err(Ending::bad_input(format!(
                "SHOW BACKENDS says this node is not Alive ({}); the in-place canary starts from a healthy node",
                describe_row(&row)
            )));
        }
        r.print(&format!(
            "       this node in SHOW BACKENDS: {}\n",
            describe_row(&row)
        ));
    }
    Ok(Checked {
        node,
        new_be,
        old_pid,
        new_version,
        _lock: lock,
    })
}

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
            node.home.join(super::lock::LOCK_FILE).display(),
            node.home.join(JOURNAL).display(),
            node.home.display(),
            c.new_be.display(),
            if cfg.fe.is_some() { ", and this node's row in SHOW BACKENDS Alive with exactly the new Version," } else { "" },
            humantime::format_duration(cfg.soak)
        ));
        r.report.summary = "plan only: nothing was written and nothing was started".into();
        return Ok(());
    }
    // A closed journal from an earlier canary is kept beside, not appended to.
    let jpath = node.home.join(JOURNAL);
    if jpath.exists() {
        let _ = fs::rename(
            &jpath,
            node.home
                .join(format!("{JOURNAL}.{}", Civil::now().compact())),
        );
    }
    let backup = node
        .home
        .join(format!("{BACKUP_PREFIX}{}", Civil::now().compact()));
    let j = Journal {
        path: jpath,
        backup: backup.clone(),
    };
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

/// Why the old build could not be brought back; each message says the node's state and what to do.
#[derive(Debug, thiserror::Error)]
enum RollbackError {
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
    StartOld(#[source] node::NodeError),
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
struct UnusableBackup {
    backup: PathBuf,
    home: PathBuf,
    problems: String,
    bin: String,
    lib: String,
    running: String,
}

/// Restores the old build and records the `rollback` step; the error says the node's state.
fn rollback_step(
    r: &mut Runner,
    node: &Node,
    j: &Journal,
    cfg: &BeConfig,
) -> Result<(), RollbackError> {
    let t = Instant::now();
    let restored = restore(node, j, cfg.stop_grace, cfg.timeout);
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
    let mut exited = move |_: &mut Runner| -> Option<ExitInfo> {
        match running_pid(&pid_dir) {
            Some(_) => {
                seen_pid = true;
                None
            }
            None if seen_pid || Instant::now() > start_deadline => Some(ExitInfo {
                what: format!("no live starrocks_be in {}/be.pid", pid_dir.display()),
                sigill: false,
            }),
            None => None,
        }
    };
    let decided = decide(
        cfg.timeout,
        r,
        &mut watch,
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
    let running = match running_pid(&node.pid_dir) {
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

/// Brings the old build back: check the backup, stop every BE of this node but the old one, put
/// bin/ and lib/ back, start the old BE if it is not running, and make sure it is the one BE of the
/// node and the one be.pid names. Every action checks the filesystem first, so running it again
/// after a crash is safe.
fn restore(
    node: &Node,
    j: &Journal,
    grace: Duration,
    timeout: Duration,
) -> Result<(), RollbackError> {
    let home = &node.home;
    let entries = read_journal(home);
    let plan = check_backup(node, j, &entries)?;
    let _ = j.record("rollback-begin", None);
    let old_alive = |p: &Option<i32>| p.filter(|p| node::is_be(*p));
    let old = old_alive(&plan.old_pid);
    // Any other BE of this node runs the new build.
    for pid in node::be_processes(home) {
        if Some(pid) != old {
            // Its own stop_be.sh only when be.pid names it; a stray BE is killed directly.
            let script_home = (running_pid(&node.pid_dir) == Some(pid)).then_some(home.as_path());
            node::stop(pid, script_home, grace).map_err(|source| RollbackError::StopNew {
                backup: j.backup.clone(),
                source,
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
    match old_alive(&plan.old_pid) {
        // The old BE never stopped: be.pid must name it again (a new BE may have replaced it).
        Some(pid) => {
            if running_pid(&node.pid_dir) != Some(pid) {
                fs::create_dir_all(&node.pid_dir)
                    .and_then(|_| fs::write(node.pid_dir.join("be.pid"), format!("{pid}\n")))
                    .map_err(|source| RollbackError::WritePid {
                        pid_dir: node.pid_dir.clone(),
                        source,
                    })?;
            }
        }
        None => {
            if running_pid(&node.pid_dir).is_none() {
                node::script(home, "start_be.sh", &["--daemon"], Duration::from_secs(60))
                    .map_err(RollbackError::StartOld)?;
            }
        }
    }
    let until = Instant::now() + timeout;
    while Instant::now() < until {
        if let Some(pid) = running_pid(&node.pid_dir) {
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
        running: running_pid(&node.pid_dir).is_some(),
        waited: timeout,
        home: home.clone(),
    })
}

/// `sr-rehearse be --be-home DIR --rollback`: reverses an interrupted canary from its journal.
pub fn rollback(cfg: &BeConfig) -> Report {
    let started = Instant::now();
    let mut report = super::new_report("be --rollback", cfg);
    report.isolation.mode = "none".into();
    report.isolation.reason = "rollback of an in-place canary on the node itself".into();
    let mut r = Runner::new(report, cfg.quiet);
    let outcome = (|| -> Result<(), Ending> {
        let t = Instant::now();
        let node = Node::read(cfg)?;
        let _lock = super::lock::take(&node.home, "be --rollback")?;
        let entries = read_journal(&node.home);
        if !is_open(&entries) {
            r.step("journal", t, StepStatus::Ok, "no open canary journal");
            r.report.summary = format!("nothing to roll back in {}", node.home.display());
            return Ok(());
        }
        let backup = entries
            .iter()
            .find_map(|e| e.backup.clone())
            .map(PathBuf::from)
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
        let j = Journal {
            path: node.home.join(JOURNAL),
            backup,
        };
        match rollback_step(&mut r, &node, &j, cfg) {
            Ok(()) => {
                r.report.summary = format!(
                    "rolled back: {} runs its previous build again",
                    node.home.display()
                );
                Ok(())
            }
            Err(state) => Err(Ending::new(
                Verdict::Error,
                exit::ROLLBACK_FAILED,
                format!("THE ROLLBACK FAILED: {state}"),
            )),
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
