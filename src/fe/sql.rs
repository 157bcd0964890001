//! The SQL check of a ready sandbox FE: FE-only statements that prove the catalog loaded, the
//! catalog they show for the report, and how a failed statement ends the rehearsal.
//!
//! Nothing here may depend on a BE or on the sandbox being listed as a frontend: a sandbox has no
//! live BE (constant SELECTs fail before 3.3) and, up to 3.3, SHOW FRONTENDS lists production's
//! frontends, none of them the sandbox. SQL failures are decided by MySQL error number, because
//! the wording changes between releases.

use std::time::Duration;

use super::{Ending, FeConfig, Plan};
use crate::probe::mysql::{Row, Session, SqlError};
use crate::report::{Catalog, DbCounts, Probe};
use crate::runner::Runner;

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
    timeout: Duration,
) -> Result<SqlFindings, SqlFailure> {
    let fail = |stage: &str| {
        let stage = stage.to_string();
        move |error| SqlFailure { stage, error }
    };
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

/// Runs the SQL check, each session bounded by `timeout` (what is left of `--timeout`), records
/// the catalog in the report, and returns a summary fragment.
pub(super) fn check(
    cfg: &FeConfig,
    run: &mut Runner,
    plan: &Plan,
    fe_version: &str,
    timeout: Duration,
) -> Result<String, Ending> {
    let (port, user, password, extra) = (
        plan.port("query_port"),
        cfg.user.clone(),
        plan.password.clone(),
        cfg.query.clone(),
    );
    let found = {
        let user = user.clone();
        let extra = extra.clone();
        run.probes
            .run(move || run_sql(port, &user, password.as_deref(), extra.as_deref(), timeout))
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
    match e {
        SqlError::AuthRefused { .. } => {
            return Ending::bad_input(format!("the SQL check could not log in as '{user}': {e}"))
        }
        SqlError::Internal(_) => {
            return Ending::env(format!("the SQL check `{}` failed: {e}", f.stage))
        }
        SqlError::Interrupted => {
            return Ending::interrupted(format!(
                "the SQL check `{}` was interrupted by a signal",
                f.stage
            ))
        }
        _ => {}
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::exit;

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

    /// The check gets what is left of `--timeout`, not a fixed 10 s: an FE that accepts the
    /// connection and never answers holds it no longer than it was given.
    #[test]
    fn the_sql_check_ends_within_the_time_it_is_given() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let server = std::thread::spawn(move || {
            let (_s, _) = l.accept().unwrap();
            // Silent until the client has given up.
            let _ = done_rx.recv_timeout(Duration::from_secs(30));
        });
        let t = std::time::Instant::now();
        let r = run_sql(port, "root", None, None, Duration::from_millis(300));
        let took = t.elapsed();
        let _ = done_tx.send(());
        server.join().unwrap();
        assert!(r.is_err());
        assert!(took < Duration::from_secs(5), "took {took:?}");
    }

    #[test]
    fn a_refused_login_method_is_bad_input_and_a_client_bug_is_environment() {
        let end = |error: SqlError| {
            let f = SqlFailure {
                stage: "connect".into(),
                error,
            };
            sql_ending(&f, "root", None, "3.3.2").code
        };
        let refused = SqlError::AuthRefused {
            plugin: "mysql_clear_password".into(),
        };
        assert_eq!(end(refused), exit::BAD_INPUT);
        assert_eq!(end(SqlError::Internal("boom".into())), exit::ENVIRONMENT);
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
