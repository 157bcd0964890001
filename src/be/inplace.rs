//! The in-place canary: the new build on one real node, with a journal and an automatic rollback.
//!
//! The operations guide's procedure (move bin/ and lib/ aside, install the new ones keeping
//! lib/udf, restart, check) made safe: the node must be healthy before anything moves; every step is
//! written to a journal in the BE home *before* it happens, so a run that is killed at any point can
//! be finished backwards by `--rollback`; any failure restores the backup, restarts the old build
//! and verifies it; and exit code 5 says, exactly, when even that did not bring the node back.
//! On success the new BE keeps running: it is the node's BE now.

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::conf;
use super::sandbox::{decide, log_files, ExitInfo};
use super::BeConfig;
use crate::probe::http;
use crate::report::{exit, Report, StepStatus, Verdict};
use crate::runner::{Ending, Runner};
use crate::timefmt::Civil;
use crate::watch::tail::Tailer;

pub const JOURNAL: &str = "sr-rehearse-canary.journal";
const BACKUP_PREFIX: &str = "sr-rehearse-backup-";

/// One journal line: the step about to happen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub step: String,
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

const CLOSED: &[&str] = &["kept", "rolled-back"];

/// The entries of the journal in `be_home`, oldest first.
pub fn read_journal(be_home: &Path) -> Vec<Entry> {
    fs::read_to_string(be_home.join(JOURNAL))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn is_open(entries: &[Entry]) -> bool {
    entries
        .last()
        .is_some_and(|e| !CLOSED.contains(&e.step.as_str()))
}

struct Journal {
    path: PathBuf,
    backup: PathBuf,
}

impl Journal {
    /// Appends `step` and makes it durable before the step is carried out.
    fn record(&self, step: &str, detail: Option<String>) -> Result<(), Ending> {
        let e = Entry {
            step: step.into(),
            at: Civil::now().rfc3339(),
            backup: Some(self.backup.display().to_string()),
            detail,
        };
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| {
                Ending::env(format!(
                    "failed to write the journal {}: {e}",
                    self.path.display()
                ))
            })?;
        let line = serde_json::to_string(&e).expect("entry serialises");
        writeln!(f, "{line}")
            .and_then(|_| f.sync_all())
            .map_err(|e| {
                Ending::env(format!(
                    "failed to write the journal {}: {e}",
                    self.path.display()
                ))
            })?;
        crash_point(step);
        Ok(())
    }
}

/// Test hook: `SR_REHEARSE_TEST_KILL_AT=<step>` makes the tool SIGKILL itself right after that
/// step was journaled, which is exactly what an operator's kill -9 at that moment would do. Only the
/// integration tests set it.
fn crash_point(step: &str) {
    if std::env::var("SR_REHEARSE_TEST_KILL_AT").is_ok_and(|s| s == step) {
        let _ = nix::sys::signal::raise(Signal::SIGKILL);
    }
}

/// The pid in `bin/be.pid` of `home`, if that process is alive.
fn running_pid(home: &Path) -> Option<i32> {
    let pid: i32 = fs::read_to_string(home.join("bin/be.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let zombie = stat
        .rsplit(')')
        .next()
        .is_some_and(|r| r.trim_start().starts_with('Z'));
    (comm.trim() == "starrocks_be" && !zombie).then_some(pid)
}

fn healthy(http_port: u16) -> bool {
    let addr: SocketAddr = ([127, 0, 0, 1], http_port).into();
    http::get(addr, "/api/health", Duration::from_secs(3))
        .ok()
        .is_some_and(|r| {
            r.status == 200
                && serde_json::from_str::<serde_json::Value>(&r.body)
                    .is_ok_and(|v| v["status"] == "OK")
        })
}

/// Runs a BE script of `home` (start with `--daemon`, or stop) in its own session, so the BE it
/// starts belongs to the node, not to this tool; a script still running after `limit` is killed.
fn script(home: &Path, name: &str, args: &[&str], limit: Duration) -> Result<(), String> {
    let path = home.join("bin").join(name);
    let mut cmd = Command::new("bash");
    cmd.arg(&path)
        .args(args)
        .current_dir(home)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("failed to run {}: {e}", path.display()))?;
    let until = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(st)) if st.success() => return Ok(()),
            Ok(Some(st)) => return Err(format!("{} exited with {st}", path.display())),
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                // The script leads its own session and group: end all of it.
                let _ = kill(Pid::from_raw(-(child.id() as i32)), Signal::SIGKILL);
                let _ = child.wait();
                return Err(format!(
                    "{} did not finish within {}",
                    path.display(),
                    humantime::format_duration(limit)
                ));
            }
        }
    }
}

/// Stops whatever BE runs from `home` and waits until it is gone.
fn stop_be(home: &Path, grace: Duration) -> Result<(), String> {
    let Some(pid) = running_pid(home) else {
        return Ok(());
    };
    if home.join("bin/stop_be.sh").is_file() {
        let _ = script(home, "stop_be.sh", &[], grace);
    }
    let until = Instant::now() + grace;
    while running_pid(home) == Some(pid) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    if running_pid(home) == Some(pid) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        let until = Instant::now() + Duration::from_secs(5);
        while running_pid(home) == Some(pid) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    match running_pid(home) {
        Some(p) => Err(format!("BE process {p} did not stop")),
        None => Ok(()),
    }
}

/// Queries SHOW BACKENDS on `fe` for the row of the backend whose heartbeat port is `hb_port`.
fn backend_row(
    cfg: &BeConfig,
    hb_port: u16,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    let fe = cfg.fe.as_deref().unwrap_or_default();
    let (host, port) = fe
        .rsplit_once(':')
        .ok_or_else(|| format!("--fe {fe} is not HOST:QUERY_PORT"))?;
    let port: u16 = port.parse().map_err(|_| format!("--fe {fe}: bad port"))?;
    let password = match &cfg.password_env {
        Some(v) => Some(
            std::env::var(v).map_err(|_| format!("--password-env {v}: the variable is not set"))?,
        ),
        None => None,
    };
    let rows = crate::probe::mysql::query_host(
        host,
        port,
        &cfg.user,
        password.as_deref(),
        "SHOW BACKENDS",
        Duration::from_secs(10),
    )?;
    rows.into_iter()
        .find(|r| r.get("HeartbeatPort").map(String::as_str) == Some(&hb_port.to_string()))
        .ok_or_else(|| {
            format!("SHOW BACKENDS on {fe} lists no backend with heartbeat port {hb_port}")
        })
}

/// Tables with fewer than three replicas, as `db.table (N)`, from the FE's partitions_meta.
fn low_replica_tables(cfg: &BeConfig) -> Result<Vec<String>, String> {
    let fe = cfg.fe.as_deref().unwrap_or_default();
    let (host, port) = fe
        .rsplit_once(':')
        .ok_or_else(|| format!("--fe {fe} is not HOST:QUERY_PORT"))?;
    let port: u16 = port.parse().map_err(|_| format!("--fe {fe}: bad port"))?;
    let password = cfg
        .password_env
        .as_ref()
        .and_then(|v| std::env::var(v).ok());
    let rows = crate::probe::mysql::query_host(
        host,
        port,
        &cfg.user,
        password.as_deref(),
        "SELECT DB_NAME, TABLE_NAME, PARTITION_NAME, REPLICATION_NUM FROM information_schema.partitions_meta WHERE REPLICATION_NUM < 3",
        Duration::from_secs(10),
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

struct Node {
    home: PathBuf,
    http_port: u16,
    hb_port: u16,
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

fn preflight(cfg: &BeConfig, r: &mut Runner) -> Result<(Node, PathBuf), Ending> {
    let new_be = super::checked_new_be(cfg)?;
    let node = conf::read(&cfg.be_home)?;
    let home = fs::canonicalize(&cfg.be_home).unwrap_or_else(|_| cfg.be_home.clone());
    if crate::workspace::is_within(&new_be, &home) {
        return Err(Ending::bad_input(
            "--new-be is inside --be-home; unpack the new release elsewhere",
        ));
    }
    let journal = read_journal(&home);
    if is_open(&journal) {
        return Err(Ending::bad_input(format!(
            "another canary's journal is open on this node ({}, last step `{}`); finish it with `sr-rehearse be --be-home {} --rollback`",
            home.join(JOURNAL).display(),
            journal.last().map(|e| e.step.as_str()).unwrap_or(""),
            home.display()
        )));
    }
    let http_port = node.ports["be_http_port"];
    let hb_port = node.ports["heartbeat_service_port"];
    r.report.ports.production = node.ports.clone();
    if running_pid(&home).is_none() {
        return Err(Ending::bad_input(format!(
            "the BE in {} is not running (no live starrocks_be in bin/be.pid); the in-place canary starts from a healthy node",
            home.display()
        )));
    }
    if !healthy(http_port) {
        return Err(Ending::bad_input(format!(
            "the BE in {} does not answer /api/health on port {http_port}; the in-place canary starts from a healthy node",
            home.display()
        )));
    }
    if cfg.fe.is_some() {
        let row = backend_row(cfg, hb_port).map_err(Ending::bad_input)?;
        let low = low_replica_tables(cfg);
        match low {
            Ok(t) if !t.is_empty() => r.report.warnings.push(format!(
                "tables with fewer than 3 replicas (a failed canary on this node can make them unavailable): {}",
                t.join(", ")
            )),
            Ok(_) => {}
            Err(e) => r.report.warnings.push(format!("could not check replica counts on the FE: {e}")),
        }
        if row.get("Alive").map(String::as_str) != Some("true") {
            return Err(Ending::bad_input(format!(
                "SHOW BACKENDS says this node is not Alive ({}); the in-place canary starts from a healthy node",
                row.get("ErrMsg").cloned().unwrap_or_default()
            )));
        }
    }
    Ok((
        Node {
            home,
            http_port,
            hb_port,
        },
        new_be,
    ))
}

fn pipeline(cfg: &BeConfig, r: &mut Runner) -> Result<(), Ending> {
    let t = Instant::now();
    let (node, new_be) = match preflight(cfg, r) {
        Ok(v) => v,
        Err(e) => {
            r.step("preflight", t, StepStatus::Failed, e.summary.clone());
            return Err(e);
        }
    };
    r.step(
        "preflight",
        t,
        StepStatus::Ok,
        format!("BE healthy on http port {}", node.http_port),
    );
    if cfg.plan {
        r.print(&format!(
            "plan (nothing below has been done):\n  1. journal every step in {}\n  2. move bin/ and lib/ into {}/{BACKUP_PREFIX}<UTC timestamp>/\n  3. install bin/ and lib/ of {} (keeping lib/udf)\n  4. stop the old BE with its stop_be.sh, start the new one with bin/start_be.sh --daemon\n  5. require a start line, /api/health OK{} for {}\n  6. on failure: stop the new BE, restore the backup, start and verify the old one\n",
            node.home.join(JOURNAL).display(),
            node.home.display(),
            new_be.display(),
            if cfg.fe.is_some() { " and Alive with the new Version in SHOW BACKENDS" } else { "" },
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
    let forward = upgrade(cfg, r, &node, &new_be, &j);
    let Err(failure) = forward else {
        return Ok(());
    };
    // Any failure, interruption included, brings the old build back.
    match rollback_step(r, &node, &j, cfg) {
        Ok(()) => Err(failure),
        Err(state) => Err(Ending::new(
            Verdict::Error,
            exit::ROLLBACK_FAILED,
            format!("{}; AND THE ROLLBACK FAILED: {state}", failure.summary),
        )),
    }
}

/// Restores the old build and records the `rollback` step; the error says the node's state.
fn rollback_step(r: &mut Runner, node: &Node, j: &Journal, cfg: &BeConfig) -> Result<(), String> {
    let t = Instant::now();
    let restored = restore(node, j, cfg.stop_grace, cfg.timeout);
    match &restored {
        Ok(()) => r.step(
            "rollback",
            t,
            StepStatus::Ok,
            "old build restored, started and healthy",
        ),
        Err(state) => r.step("rollback", t, StepStatus::Failed, state.clone()),
    }
    restored
}

fn upgrade(
    cfg: &BeConfig,
    r: &mut Runner,
    node: &Node,
    new_be: &Path,
    j: &Journal,
) -> Result<(), Ending> {
    let home = &node.home;
    let io = |what: &str, e: std::io::Error| Ending::env(format!("failed to {what}: {e}"));
    let t = Instant::now();
    j.record("begin", Some(format!("new build {}", new_be.display())))?;
    fs::create_dir_all(&j.backup).map_err(|e| io("create the backup folder", e))?;
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
    crate::workspace::copy_release_dir(&new_be.join("bin"), &home.join("bin"))
        .map_err(|e| io("install the new bin/", e))?;
    crate::workspace::copy_release_dir(&new_be.join("lib"), &home.join("lib"))
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
        format!("bin/ and lib/ of {} (lib/udf kept)", new_be.display()),
    );
    r.interrupted()?;

    let t = Instant::now();
    j.record("stop-old", None)?;
    stop_be(&j.backup, cfg.stop_grace)
        .map_err(|e| Ending::env(format!("failed to stop the old BE: {e}")))?;
    r.step(
        "stop old",
        t,
        StepStatus::Ok,
        "old BE stopped with its stop_be.sh",
    );

    let t = Instant::now();
    let mut tail = Tailer::new(&log_files(home));
    tail.skip_existing();
    let mut watch = crate::watch::Watcher::new(tail, crate::watch::catalog::Role::Be);
    j.record("start-new", None)?;
    script(home, "start_be.sh", &["--daemon"], Duration::from_secs(60))
        .map_err(|e| Ending::fail(format!("failed to start the new BE: {e}")))?;
    let start_deadline = Instant::now() + Duration::from_secs(30);
    let home_c = home.clone();
    let mut seen_pid = false;
    let mut exited = move |_: &mut Runner| -> Option<ExitInfo> {
        match running_pid(&home_c) {
            Some(_) => {
                seen_pid = true;
                None
            }
            None if seen_pid || Instant::now() > start_deadline => Some(ExitInfo {
                what: "no live starrocks_be in bin/be.pid".into(),
                sigill: false,
            }),
            None => None,
        }
    };
    let decided = decide(cfg.timeout, r, &mut watch, node.http_port, &mut exited);
    let (st, detail) = match &decided {
        Ok(s) => (StepStatus::Ok, s.clone()),
        Err(e) => (StepStatus::Failed, e.summary.clone()),
    };
    r.step("start new", t, st, detail);
    let summary = decided?;

    let t = Instant::now();
    j.record("verify", None)?;
    let new_version = r
        .report
        .target
        .detected_version
        .clone()
        .unwrap_or_default()
        .split(['-', ' '])
        .next()
        .unwrap_or("")
        .to_string();
    let soak_end = Instant::now() + cfg.soak;
    loop {
        r.interrupted()?;
        if running_pid(home).is_none() {
            return Err(Ending::fail("the new BE exited during the soak period"));
        }
        if !healthy(node.http_port) {
            return Err(Ending::fail(
                "the new BE stopped answering /api/health during the soak period",
            ));
        }
        if cfg.fe.is_some() {
            let row = backend_row(cfg, node.hb_port).map_err(Ending::fail)?;
            let alive = row.get("Alive").map(String::as_str) == Some("true");
            let version_ok = row
                .get("Version")
                .is_some_and(|v| v.starts_with(&new_version));
            // The FE needs a heartbeat round to see the restarted node; judge at the end of the soak.
            if Instant::now() >= soak_end && !(alive && version_ok) {
                return Err(Ending::fail(format!(
                    "SHOW BACKENDS: Alive={} Version={} ErrMsg={} (expected Alive and {new_version})",
                    row.get("Alive").cloned().unwrap_or_default(),
                    row.get("Version").cloned().unwrap_or_default(),
                    row.get("ErrMsg").cloned().unwrap_or_default()
                )));
            }
        }
        if Instant::now() >= soak_end {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    r.step(
        "verify",
        t,
        StepStatus::Ok,
        format!("healthy for {}", humantime::format_duration(cfg.soak)),
    );
    j.record("kept", None)?;
    r.report.summary = format!(
        "{summary}; the node now runs the new build; the old one is in {}",
        j.backup.display()
    );
    Ok(())
}

/// Brings the old build back: stop the new BE, put bin/ and lib/ back, start and verify the old BE.
/// Every action checks the filesystem first, so running it again after a crash is safe.
fn restore(node: &Node, j: &Journal, grace: Duration, timeout: Duration) -> Result<(), String> {
    let home = &node.home;
    let _ = j.record("rollback-begin", None);
    let backup_has = |d: &str| j.backup.join(d).is_dir();
    if backup_has("bin") || backup_has("lib") {
        // The new build may be running from home/bin.
        if home.join("bin").is_dir() {
            stop_be(home, grace).map_err(|e| format!("the new BE could not be stopped: {e}; bin/ and lib/ are still the new build, the old ones are in {}", j.backup.display()))?;
        }
        let _ = j.record("rollback-restore", None);
        let failed = j.backup.join("failed-new");
        for d in ["bin", "lib"] {
            if backup_has(d) {
                if home.join(d).exists() {
                    fs::create_dir_all(&failed)
                        .map_err(|e| format!("cannot create {}: {e}", failed.display()))?;
                    let _ = fs::remove_dir_all(failed.join(d));
                    fs::rename(home.join(d), failed.join(d))
                        .map_err(|e| format!("cannot move the new {d}/ aside: {e}"))?;
                }
                fs::rename(j.backup.join(d), home.join(d)).map_err(|e| {
                    format!(
                        "cannot move {}/{d} back: {e}; the node has no {d}/ now",
                        j.backup.display()
                    )
                })?;
            }
        }
    }
    let _ = j.record("rollback-start-old", None);
    if running_pid(home).is_none() {
        script(home, "start_be.sh", &["--daemon"], Duration::from_secs(60)).map_err(|e| {
            format!("the old BE did not start: {e}; bin/ and lib/ are the old build again")
        })?;
    }
    let until = Instant::now() + timeout;
    while Instant::now() < until {
        if running_pid(home).is_some() && healthy(node.http_port) {
            let _ = j.record("rolled-back", None);
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "the old build is back in bin/ and lib/ but its BE is {} after {}; look at {}/log/be.out",
        if running_pid(home).is_some() {
            "running and unhealthy"
        } else {
            "not running"
        },
        humantime::format_duration(timeout),
        home.display()
    ))
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
        let node = conf::read(&cfg.be_home)?;
        let home = fs::canonicalize(&cfg.be_home).unwrap_or_else(|_| cfg.be_home.clone());
        let entries = read_journal(&home);
        if !is_open(&entries) {
            r.step("journal", t, StepStatus::Ok, "no open canary journal");
            r.report.summary = format!("nothing to roll back in {}", home.display());
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
        let n = Node {
            home: home.clone(),
            http_port: node.ports["be_http_port"],
            hb_port: node.ports["heartbeat_service_port"],
        };
        let j = Journal {
            path: home.join(JOURNAL),
            backup,
        };
        match rollback_step(&mut r, &n, &j, cfg) {
            Ok(()) => {
                r.report.summary = format!(
                    "rolled back: {} runs its previous build again",
                    home.display()
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
