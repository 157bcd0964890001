//! What the in-place canary asks the FE given with `--fe`: this node's row in SHOW BACKENDS, and
//! the tables a failed canary on this node could make unavailable.
//!
//! Kept apart from the row matching (`backends`), which is pure and unit-tested: these need the
//! network and the operator's credentials, and only the caller knows whether a failed query is
//! fatal (preflight) or tolerated for a while (the soak), so they return it rather than judge it.

use std::time::Duration;

use super::backends::{self, PickError, Row};
use super::node::Node;
use super::BeConfig;

/// Why a statement on the FE given with `--fe` did not run.
#[derive(Debug, thiserror::Error)]
pub enum FeQueryError {
    #[error("--fe {0} is not HOST:QUERY_PORT")]
    NotHostPort(String),
    #[error("--fe {0}: bad port")]
    BadPort(String),
    #[error("--password-env {0}: the variable is not set")]
    PasswordUnset(String),
    #[error("--fe {0} answers HTTP: it is an FE's http_port; be --in-place --fe takes its query_port (9030 by default), as HOST:QUERY_PORT")]
    HttpPort(String),
    #[error(transparent)]
    Sql(#[from] crate::probe::mysql::SqlError),
}

fn fe_query(cfg: &BeConfig, sql: &str, timeout: Duration) -> Result<Vec<Row>, FeQueryError> {
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
        timeout,
    )?)
}

/// Whether `--fe` names a port that answers HTTP (an FE's http_port) rather than MySQL: asked
/// by the preflight only, after its query failed or ran out of time, to say which port was given
/// (never by the soak, whose checks must not open connections of their own).
pub fn is_http_port(cfg: &BeConfig) -> bool {
    let fe = cfg.fe.as_deref().unwrap_or_default();
    let Some((host, port)) = fe.rsplit_once(':') else {
        return false;
    };
    port.parse().is_ok_and(|port| {
        crate::probe::sniff::sniff(host, port, Duration::from_secs(2))
            == crate::probe::sniff::Listener::Http
    })
}

/// This node's row of SHOW BACKENDS. The outer error is a failed query (possibly transient), the
/// inner one a row that cannot be told apart. `timeout` bounds each step of the exchange; the
/// caller that needs the whole exchange bounded runs it where it can stop waiting for it.
pub fn backend_row(
    cfg: &BeConfig,
    node: &Node,
    timeout: Duration,
) -> Result<Result<Row, PickError>, FeQueryError> {
    let rows = fe_query(cfg, "SHOW BACKENDS", timeout)?;
    Ok(backends::pick(rows, &node.want(), node.hb_port))
}

/// Tables with fewer than three replicas, as `db.table (N)`, from the FE's partitions_meta.
pub fn low_replica_tables(cfg: &BeConfig, timeout: Duration) -> Result<Vec<String>, FeQueryError> {
    let rows = fe_query(
        cfg,
        "SELECT DB_NAME, TABLE_NAME, PARTITION_NAME, REPLICATION_NUM FROM information_schema.partitions_meta WHERE REPLICATION_NUM < 3",
        timeout,
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

/// The row as one line for messages: the fields an operator checks first.
pub fn describe_row(row: &Row) -> String {
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
