//! Deciding whether the new FE accepted the metadata.
//!
//! The wait ends at the first of: a fatal signature in fe.log, fe.warn.log or fe.out; the process
//! exiting; readiness; the timeout; a signal to the tool. Readiness is what the reference notes call
//! authoritative: `/api/bootstrap` answering OK with `feVersion` (HTTP binds only after the FE is
//! ready) together with the version's last start line. Then the checks that prove it is *our*
//! metadata on *our* sandbox: the cluster id it runs with, the journal it replayed, FE-only SQL
//! that shows the catalog loaded, and `/api/health`.
//!
//! Nothing here may depend on a BE or on the sandbox being listed as a frontend: a sandbox has no
//! live BE (constant SELECTs fail before 3.3) and, up to 3.3, SHOW FRONTENDS lists production's
//! frontends, none of them the sandbox. SQL failures are decided by MySQL error number, because
//! the wording changes between releases.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{Ending, Plan, Run};
use crate::probe::http;
use crate::probe::mysql::{Row, Session, SqlError};
use crate::report::{exit, Catalog, DbCounts, Probe, Verdict};
use crate::version::Version;
use crate::watch::catalog::{Role, Severity};
use crate::watch::tail::Tailer;
use crate::watch::wake::Wake;
use crate::watch::Watcher;

/// The longest the loop sleeps with no log line arriving: the bound on noticing that the FE
/// exited, or that HTTP accepts after the start line was already read.
const IDLE: Duration = Duration::from_millis(50);
/// Probes of /api/bootstrap after a start line start this close together and double to [`IDLE`].
const FIRST_RETRY: Duration = Duration::from_millis(2);
/// Before any start line HTTP cannot be up; an early probe only catches a release whose start
/// lines we do not know.
const BLIND_PROBE: Duration = Duration::from_millis(500);

pub(super) fn decide(
    run: &mut Run,
    plan: &Plan,
    fe_home: &Path,
    meta_copy: &Path,
) -> Result<String, Ending> {
    let started = Instant::now();
    let deadline = started + run.cfg.timeout;
    let log = fe_home.join("log");
    let mut watch = Watcher::new(
        Tailer::new(&[
            log.join("fe.log"),
            log.join("fe.out"),
            log.join("fe.warn.log"),
        ]),
        Role::Fe,
    );
    let http_addr: SocketAddr = ([127, 0, 0, 1], plan.port("http_port")).into();
    let mut token = plan.source.token.clone();
    let mut boot_path = bootstrap_path(run.cfg.cluster_id, &token);
    let (mut qe_started, mut fe_started) = (false, false);
    let mut last_probe: Option<Instant> = None;
    let mut retry = FIRST_RETRY;
    let mut eager_since_line = false;
    let mut wake = Wake::new(&[&log]);
    let spinner = crate::diag::Progress::spinner("decide", run.cfg.quiet);
    let mut last_seen = String::new();
    let limit = crate::diag::short(run.cfg.timeout);
    let boot: serde_json::Value = loop {
        run.interrupted()?;
        spinner.set_message(&if qe_started || fe_started {
            format!(
                "decide: a start line is in fe.log; waiting for /api/bootstrap on port {} to answer OK (timeout {limit})",
                http_addr.port()
            )
        } else {
            format!("decide: waiting for the FE to load the metadata and log its start line (timeout {limit})")
        });
        // Read the logs after checking for exit, so the lines a dying FE wrote last are classified.
        let exited = run.group.as_mut().and_then(|g| g.try_exit());
        // Once it has exited nothing more will be written: decide the records still open.
        let ids = if exited.is_some() {
            watch.flush(&mut run.report.signatures, &mut |_| {})?
        } else {
            watch.poll(&mut run.report.signatures, &mut |_| {})?
        };
        for id in ids {
            match id {
                "fe.ready.qe-service" => qe_started = true,
                "fe.ready.started" => fe_started = true,
                _ => {}
            }
        }
        if let Some(st) = exited {
            return Err(Ending::fail(format!(
                "the FE exited ({st}) before it was ready; last output: {}",
                watch.last()
            )));
        }
        // HTTP binds only once the FE is ready: probe at once when a start line appears, then
        // back off, and rarely before.
        let eager = qe_started || fe_started;
        if eager && !eager_since_line {
            eager_since_line = true;
            last_probe = None;
        }
        let interval = if eager { retry } else { BLIND_PROBE };
        if last_probe.is_none_or(|t| t.elapsed() >= interval) {
            if eager && last_probe.is_some() {
                retry = (retry * 2).min(IDLE);
            }
            last_probe = Some(Instant::now());
            let path = boot_path.clone();
            let probe = run
                .probes
                .run(move || http::get(http_addr, &path, Duration::from_secs(2)));
            // Logged when the answer changes: a retry every few ms must not flood the run log.
            let seen = match &probe {
                Ok(resp) => format!("HTTP {}: {}", resp.status, resp.body),
                Err(e) => e.to_string(),
            };
            if seen != last_seen {
                tracing::debug!("probe /api/bootstrap: {seen}");
                last_seen = seen;
            }
            if let Ok(resp) = probe {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&resp.body) {
                    let ok = v["status"] == "OK" && v["feVersion"].is_string();
                    let version: Option<Version> =
                        v["feVersion"].as_str().and_then(|s| s.parse().ok());
                    let line_seen = match version {
                        Some(ver) if ver.logs_fe_started_successfully() => fe_started,
                        _ => qe_started || fe_started,
                    };
                    if ok && line_seen {
                        break v;
                    }
                    if v["status"] == "OK" && !v["feVersion"].is_string() {
                        // The details come only with the cluster's token. A source without one
                        // gets a fresh token from the FE, written to the copy's VERSION.
                        match copy_token(meta_copy).filter(|t| *t != token) {
                            Some(fresh) => {
                                token = fresh;
                                boot_path = bootstrap_path(run.cfg.cluster_id, &token);
                                last_probe = None;
                                continue;
                            }
                            None => {
                                run.report.probes.bootstrap = Some(Probe {
                                    ok: false,
                                    detail: resp.body.clone(),
                                });
                                return Err(Ending::fail(cannot_prove_version(&token)));
                            }
                        }
                    }
                    if v["status"] == "FAILED"
                        && v["msg"].as_str().is_some_and(|m| m.starts_with("invalid"))
                    {
                        return Err(Ending::fail(format!(
                            "the FE on the sandbox port rejected the rehearsal's cluster id and token ({}): it is not running the patched copy",
                            v["msg"].as_str().unwrap_or("")
                        )));
                    }
                }
            }
        }
        if Instant::now() >= deadline {
            let waiting = run
                .report
                .signatures
                .iter()
                .rev()
                .find(|h| h.severity == Severity::Warning)
                .map(|h| format!(" Last warning: {} ({}:{}).", h.id, h.file, h.line))
                .unwrap_or_default();
            return Err(Ending::new(
                Verdict::Timeout,
                exit::TIMEOUT,
                format!(
                    "no verdict within {}; the FE was stopped.{waiting} Last log line: {}",
                    humantime::format_duration(run.cfg.timeout),
                    watch.last()
                ),
            ));
        }
        // Sleep until a log line arrives or the next probe is due; a line can be the start line
        // that makes HTTP worth probing, so it must not wait out a timer.
        let next_probe = last_probe
            .map(|t| interval.saturating_sub(t.elapsed()))
            .unwrap_or_default();
        wake.wait(next_probe.min(IDLE));
    };
    spinner.set_message(
        "decide: the FE is ready; checking the cluster id, the journal, SQL and /api/health",
    );
    tracing::debug!(response = %boot, "the FE is ready");
    let ready_after = started.elapsed();
    let fe_version = boot["feVersion"].as_str().unwrap_or("").to_string();
    let replayed = boot["replayedJournalId"].as_u64().unwrap_or(0);
    run.report.target.detected_version = Some(fe_version.clone());
    run.report.probes.bootstrap = Some(Probe {
        ok: true,
        detail: boot.to_string(),
    });

    if let Some(want) = run.cfg.to_version {
        if !want.matches_reported(&fe_version) {
            return Err(Ending::fail(format!(
                "the package runs StarRocks {fe_version}, not the --to-version {want} you asked to rehearse"
            )));
        }
    }
    // The FE must run with the cluster id we gave it; a new one means it booted an empty cluster.
    let version_now = std::fs::read_to_string(meta_copy.join("image/VERSION")).unwrap_or_default();
    let cid_now = crate::props::parse_map(&version_now)
        .get("clusterId")
        .cloned()
        .unwrap_or_default();
    if cid_now.trim() != run.cfg.cluster_id.to_string() {
        return Err(Ending::fail(format!(
            "the FE replaced the cluster id ({} -> {cid_now}): it booted a new cluster instead of your metadata",
            run.cfg.cluster_id
        )));
    }
    if let Some(img) = plan.source.highest_image_id {
        if replayed < img {
            return Err(Ending::fail(format!(
                "the FE replayed only up to journal {replayed}, below the source's image {img}: it did not load your metadata"
            )));
        }
    }

    let catalog_line = if run.cfg.sql_check {
        sql_check(run, plan, &fe_version)?
    } else {
        String::new()
    };

    match run
        .probes
        .run(move || http::get(http_addr, "/api/health", Duration::from_secs(5)))
    {
        Ok(r) if r.status == 200 && r.body.contains("\"status\":\"OK\"") => {
            run.report.probes.health = Some(Probe {
                ok: true,
                detail: r.body,
            });
        }
        Ok(r) => {
            run.report.probes.health = Some(Probe {
                ok: false,
                detail: format!("HTTP {}: {}", r.status, r.body),
            });
            return Err(Ending::fail(format!(
                "/api/health answered HTTP {}",
                r.status
            )));
        }
        Err(e) => {
            run.report.probes.health = Some(Probe {
                ok: false,
                detail: e.to_string(),
            });
            return Err(Ending::fail(format!("/api/health did not answer: {e}")));
        }
    }
    Ok(format!(
        "StarRocks {fe_version} accepted the metadata: ready in {:.1} s, journal replayed to {replayed}{}{catalog_line}",
        ready_after.as_secs_f64(),
        plan.source
            .highest_image_id
            .map(|i| format!(" (source image {i})"))
            .unwrap_or_default()
    ))
}

fn bootstrap_path(cluster_id: i64, token: &str) -> String {
    format!("/api/bootstrap?cluster_id={cluster_id}&token={token}")
}

/// The token in the copy's `image/VERSION`, once the FE has written one.
fn copy_token(meta_copy: &Path) -> Option<String> {
    let text = std::fs::read_to_string(meta_copy.join("image/VERSION")).ok()?;
    crate::props::parse_map(&text)
        .get("token")
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// Why a plain OK from `/api/bootstrap` cannot be taken as proof, and what to look at.
fn cannot_prove_version(token: &str) -> String {
    let why = if token.is_empty() {
        "the source's image/VERSION has no token and the FE wrote none to the copy".to_string()
    } else {
        format!("it withheld them for the token {token} read from image/VERSION")
    };
    format!(
        "cannot prove the version: the FE is up, but /api/bootstrap answered a plain OK without feVersion or replayedJournalId (it gives them only for the cluster's token, and {why}); the rehearsal cannot tell which release runs or how far it replayed your journal. Check the `token=` line of the source's image/VERSION"
    )
}

/// The FE-only statements that prove the catalog loaded; none needs a BE on any release.
const SHOW_DATABASES: &str = "SHOW DATABASES";
const SHOW_STATISTIC: &str = "SHOW PROC '/statistic'";
/// Information only: up to 3.3 a sandbox lists production's frontends, none of them Alive.
const SHOW_FRONTENDS: &str = "SHOW FRONTENDS";

/// What the SQL check read.
struct SqlFindings {
    databases: Vec<Row>,
    statistic: Vec<Row>,
    frontends: Result<Vec<Row>, SqlError>,
    extra_rows: Option<usize>,
}

/// A failed statement: which one (`connect` for the login) and the server's answer.
#[derive(Debug)]
struct SqlFailure {
    stage: String,
    error: SqlError,
}

fn run_sql(
    port: u16,
    user: &str,
    password: Option<&str>,
    extra: Option<&str>,
) -> Result<SqlFindings, SqlFailure> {
    let fail = |stage: &str| {
        let stage = stage.to_string();
        move |error| SqlFailure { stage, error }
    };
    let timeout = Duration::from_secs(10);
    let mut s =
        Session::connect("127.0.0.1", port, user, password, timeout).map_err(fail("connect"))?;
    let databases = s.query(SHOW_DATABASES).map_err(fail(SHOW_DATABASES))?;
    let statistic = s.query(SHOW_STATISTIC).map_err(fail(SHOW_STATISTIC))?;
    let frontends = s.query(SHOW_FRONTENDS);
    let extra_rows = match extra {
        Some(sql) => Some(s.query(sql).map_err(fail(sql))?.len()),
        None => None,
    };
    Ok(SqlFindings {
        databases,
        statistic,
        frontends,
        extra_rows,
    })
}

/// Runs the SQL check, records the catalog in the report, and returns a summary fragment.
fn sql_check(run: &mut Run, plan: &Plan, fe_version: &str) -> Result<String, Ending> {
    let (port, user, password, extra) = (
        plan.port("query_port"),
        run.cfg.user.clone(),
        plan.password.clone(),
        run.cfg.query.clone(),
    );
    let found = {
        let user = user.clone();
        let extra = extra.clone();
        run.probes
            .run(move || run_sql(port, &user, password.as_deref(), extra.as_deref()))
    };
    let found = match found {
        Ok(f) => f,
        Err(f) => {
            run.report.probes.query = Some(Probe {
                ok: false,
                detail: format!("{}: {}", f.stage, f.error),
            });
            return Err(sql_ending(&f, &user, extra.as_deref(), fe_version));
        }
    };
    let catalog = catalog_of(&found);
    let line = match &catalog.total {
        Some(t) => format!(
            "; catalog: {} database(s), {} table(s), {} partition(s), {} tablet(s)",
            t.db_name, t.tables, t.partitions, t.tablets
        ),
        None => format!("; catalog: {} database(s)", catalog.databases.len()),
    };
    let leader_rows = catalog
        .frontends
        .iter()
        .filter(|r| r.get("Role").map(String::as_str) == Some("LEADER"))
        .count();
    run.report.probes.query = Some(Probe {
        ok: true,
        detail: format!(
            "{SHOW_DATABASES}: {} row(s); {SHOW_STATISTIC}: {} row(s); {SHOW_FRONTENDS}: {}{}",
            found.databases.len(),
            found.statistic.len(),
            match &found.frontends {
                Ok(r) => format!(
                    "{} row(s), {leader_rows} LEADER (information only)",
                    r.len()
                ),
                Err(e) => format!("failed, {e} (information only)"),
            },
            match (&extra, found.extra_rows) {
                (Some(q), Some(n)) => format!("; {q}: {n} row(s)"),
                _ => String::new(),
            }
        ),
    });
    run.report.catalog = Some(catalog);
    Ok(line)
}

/// The report's view of what the statements returned.
fn catalog_of(found: &SqlFindings) -> Catalog {
    let databases = found
        .databases
        .iter()
        .filter_map(|r| r.get("Database").cloned())
        .collect();
    let mut per_database: Vec<DbCounts> = found.statistic.iter().map(db_counts).collect();
    let total = per_database
        .iter()
        .position(|d| d.db_id == "Total")
        .map(|i| per_database.remove(i));
    let (frontends, frontends_error) = match &found.frontends {
        Ok(rows) => (rows.clone(), None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    Catalog {
        databases,
        per_database,
        total,
        frontends,
        frontends_error,
    }
}

fn db_counts(r: &Row) -> DbCounts {
    let n = |c: &str| r.get(c).and_then(|v| v.parse().ok()).unwrap_or(0);
    DbCounts {
        db_id: r.get("DbId").cloned().unwrap_or_default(),
        db_name: r.get("DbName").cloned().unwrap_or_default(),
        tables: n("TableNum"),
        partitions: n("PartitionNum"),
        indexes: n("IndexNum"),
        tablets: n("TabletNum"),
        replicas: n("ReplicaNum"),
        unhealthy_tablets: n("UnhealthyTabletNum"),
        inconsistent_tablets: n("InconsistentTabletNum"),
        cloning_tablets: n("CloningTabletNum"),
        error_state_tablets: r.get("ErrorStateTabletNum").and_then(|v| v.parse().ok()),
    }
}

/// MySQL error numbers the decision depends on.
const ACCESS_DENIED: u16 = 1045;
const MISSING_PRIVILEGE: u16 = 1227;
/// What releases from about 3.2 send instead of 1227 (ERR_ACCESS_DENIED).
const ACCESS_DENIED_ON_OBJECT: u16 = 5203;
const UNKNOWN_VARIABLE: u16 = 1193;
const REFUSED_STATEMENT: u16 = 1064;

/// How a failed SQL check ends, decided by the server's error number, never its wording.
fn sql_ending(f: &SqlFailure, user: &str, extra: Option<&str>, fe_version: &str) -> Ending {
    let ours = extra != Some(f.stage.as_str());
    let e = &f.error;
    match e.code() {
        Some(ACCESS_DENIED) => Ending::bad_input(format!(
            "the SQL check could not log in as '{user}' ({e}): the copied meta carries production's users and passwords; pass that user's production password with --password-env VAR, or skip the SQL check with --no-query"
        )),
        Some(MISSING_PRIVILEGE | ACCESS_DENIED_ON_OBJECT) if user != "root" => Ending::bad_input(format!(
            "user '{user}' logged in but may not run `{}` ({e}): the SQL check needs a user allowed to run SHOW PROC (OPERATE on SYSTEM from 3.0, ADMIN_PRIV on 2.5); rehearse with --user root and production's root password in --password-env VAR, grant that privilege in production first, or skip the SQL check with --no-query",
            f.stage
        )),
        Some(MISSING_PRIVILEGE | ACCESS_DENIED_ON_OBJECT) => Ending::bad_input(format!(
            "root may not run `{}` on the sandbox ({e}): production's privileges were changed for root; rehearse with a user that holds OPERATE on SYSTEM, or skip the SQL check with --no-query",
            f.stage
        )),
        Some(UNKNOWN_VARIABLE) if ours => Ending::env(format!(
            "the FE refused a system variable during the SQL check (`{}`: {e}): the MySQL client asked for something StarRocks {fe_version} does not have; this is a tool problem, not your metadata: rerun with --no-query and report it",
            f.stage
        )),
        Some(UNKNOWN_VARIABLE | REFUSED_STATEMENT) if !ours => Ending::bad_input(format!(
            "StarRocks {fe_version} refused the --query statement `{}` ({e}): a sandbox has no live BE, so give a statement the FE answers alone (SHOW ...), or leave --query out",
            f.stage
        )),
        Some(REFUSED_STATEMENT) => Ending::fail(format!(
            "StarRocks {fe_version} refused `{}` ({e}): an FE that loaded its catalog answers it without any BE",
            f.stage
        )),
        _ if f.stage == "connect" => Ending::fail(format!(
            "the SQL check could not connect to the sandbox FE's query port: {e}"
        )),
        _ => Ending::fail(format!("the SQL check `{}` failed: {e}", f.stage)),
    }
}

/// What the sandbox tried to reach outside itself, from the lines real releases log about it:
/// backend heartbeats and election attempts toward the recorded frontends.
pub(super) fn reach_attempts(fe_log: &Path, fenced: bool) -> Vec<crate::report::ReachAttempt> {
    crate::watch::reach::from_log(fe_log, fenced)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(stage: &str, code: u16) -> SqlFailure {
        SqlFailure {
            stage: stage.into(),
            error: SqlError::Server {
                code,
                state: "42000".into(),
                message: "refused".into(),
            },
        }
    }

    #[test]
    fn the_error_number_decides_not_the_wording() {
        let v = "3.3.2-abc";
        let end = |stage: &str, code: u16, user: &str, extra: Option<&str>| {
            let e = sql_ending(&failure(stage, code), user, extra, v);
            (e.code, e.summary)
        };
        assert_eq!(end("connect", 1045, "root", None).0, exit::BAD_INPUT);
        let (code, why) = end(SHOW_STATISTIC, 1227, "etl", None);
        assert_eq!(code, exit::BAD_INPUT);
        assert!(
            why.starts_with("user 'etl' logged in but may not run"),
            "{why}"
        );
        let (code, why) = end(SHOW_STATISTIC, 5203, "root", None);
        assert_eq!(code, exit::BAD_INPUT);
        assert!(why.starts_with("root may not run"), "{why}");
        // An unknown variable in our own statements is the tool's problem, in the user's query theirs.
        assert_eq!(end(SHOW_DATABASES, 1193, "root", None).0, exit::ENVIRONMENT);
        assert_eq!(
            end("SELECT @@x", 1193, "root", Some("SELECT @@x")).0,
            exit::BAD_INPUT
        );
        assert_eq!(
            end("SELECT 1", 1064, "root", Some("SELECT 1")).0,
            exit::BAD_INPUT
        );
        assert_eq!(end(SHOW_DATABASES, 1064, "root", None).0, exit::FAIL);
        // The same words under another number are not an access problem.
        let e = SqlFailure {
            stage: SHOW_DATABASES.into(),
            error: SqlError::Server {
                code: 1105,
                state: "HY000".into(),
                message: "Access denied for user 'root'".into(),
            },
        };
        assert_eq!(sql_ending(&e, "root", None, v).code, exit::FAIL);
        let e = SqlFailure {
            stage: "connect".into(),
            error: SqlError::Transport("connection refused".into()),
        };
        let end = sql_ending(&e, "root", None, v);
        assert_eq!(end.code, exit::FAIL);
        assert!(end.summary.contains("could not connect"), "{}", end.summary);
    }

    #[test]
    fn statistic_rows_become_counts_with_the_total_apart() {
        let row = |cells: &[(&str, &str)]| -> Row {
            cells
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let found = SqlFindings {
            databases: vec![
                row(&[("Database", "information_schema")]),
                row(&[("Database", "shop")]),
            ],
            statistic: vec![
                row(&[
                    ("DbId", "10001"),
                    ("DbName", "shop"),
                    ("TableNum", "2"),
                    ("TabletNum", "6"),
                ]),
                row(&[
                    ("DbId", "Total"),
                    ("DbName", "1"),
                    ("TableNum", "2"),
                    ("TabletNum", "6"),
                ]),
            ],
            frontends: Err(SqlError::Transport("gone".into())),
            extra_rows: None,
        };
        let c = catalog_of(&found);
        assert_eq!(c.databases, ["information_schema", "shop"]);
        assert_eq!(c.per_database.len(), 1);
        assert_eq!(c.per_database[0].tables, 2);
        assert_eq!(
            c.per_database[0].error_state_tablets, None,
            "2.5 before 2.5.4 lacks the column"
        );
        assert_eq!(c.total.as_ref().unwrap().tablets, 6);
        assert!(c.frontends.is_empty() && c.frontends_error.is_some());
    }
}
