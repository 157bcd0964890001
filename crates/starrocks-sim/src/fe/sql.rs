//! The FE's SQL answers: the statements the tool sends, answered from the loaded meta as each
//! release answers them, with each release's privilege errors for accounts other than root.
//!
//! In the cluster mode the group answers first (`cluster::intercept`): a follower forwards what it
//! would read from replicated metadata, and the leader answers what needs its peers' state.

use std::sync::Arc;

use super::admin_sql::admin_query;
use super::state::State;
use super::variables::{system_variable, unknown_variable};
use crate::answers::{rows, statement, statistic_result, DbStat, FRONTENDS_COLUMNS};
use crate::cluster;
use crate::image;
use crate::mysql::Outcome;
use crate::release::Behaviour as _;
use starrocks_common::version::Version;

/// `enable_constant_execute_in_fe` (default true) runs constant SELECTs in the FE from 3.3.
const CONSTANT_SELECT_IN_FE: Version = Version::new(3, 3, 0);
/// ErrorStateTabletNum joined SHOW PROC '/statistic' with StarRocks#19517, backported to 2.5 (#20805).
const STATISTIC_HAS_ERROR_STATE: Version = Version::new(2, 5, 4);

/// A constant SELECT (no FROM) before 3.3 is planned onto a BE; with none alive it fails as
/// `FeConstants.BACKEND_NODE_NOT_FOUND_ERROR`, sent as error 1064.
fn needs_backend(st: &State) -> Option<Outcome> {
    let any_alive = st.backends.lock().unwrap().iter().any(|b| b.alive);
    (st.version < CONSTANT_SELECT_IN_FE && !any_alive).then(|| {
        Outcome::Err(
            1064,
            "HY000",
            "Backend node not found. Check if any backend node is down.".into(),
        )
    })
}

/// SHOW FRONTENDS as `FrontendsProcNode` builds it: one row per FE in the (copied) frontend list,
/// LEADER and Alive decided by comparing each row's host with this node's own address, times as
/// `TimeUtils.longToTimeString`. Up to 3.3 a
/// sandbox keeps production's hosts, so no row matches; from 3.4 `resetFrontends` left only itself.
fn show_frontends(st: &State) -> Outcome {
    let cols = FRONTENDS_COLUMNS;
    let out = st
        .frontends
        .iter()
        .map(|f| {
            let me = f.host == st.self_host;
            // Up to 3.3 the leader is matched by host only; later by host and edit log port.
            let leader =
                me && (st.version < Version::new(3, 4, 0) || f.edit_log_port == st.edit_log_port);
            vec![
                f.name.clone(),
                f.host.clone(),
                f.edit_log_port.to_string(),
                st.http_port.to_string(),
                (if me { st.query_port } else { 0 }).to_string(),
                (if me { st.rpc_port } else { 0 }).to_string(),
                (if leader {
                    "LEADER".to_string()
                } else {
                    f.role.clone()
                }),
                st.cluster_id.to_string(),
                me.to_string(),
                me.to_string(),
                (if me { st.journal_id } else { 0 }).to_string(),
                (if me {
                    cluster::time_string(st.start_millis)
                } else {
                    "NULL".into()
                }),
                "true".into(),
                String::new(),
                (if me {
                    cluster::time_string(st.start_millis)
                } else {
                    "NULL".into()
                }),
                (if me { st.version.full() } else { "NULL".into() }),
            ]
        })
        .collect();
    rows(&cols, out)
}

/// The databases of the loaded catalog, `information_schema` included, sorted by name.
fn database_names(st: &State) -> Vec<String> {
    let mut dbs: Vec<String> = st.tables.iter().map(|t| t.db.clone()).collect();
    dbs.push("information_schema".into());
    dbs.sort();
    dbs.dedup();
    dbs
}

/// SHOW PROC '/statistic' of the sandbox FE: per database (information_schema skipped), sorted
/// by name. The simulated image gives each table one partition with one index of one tablet; with
/// no backend alive every tablet is unhealthy.
fn show_statistic(st: &State) -> Outcome {
    let any_alive = st.backends.lock().unwrap().iter().any(|b| b.alive);
    let dbs: Vec<DbStat> = database_names(st)
        .into_iter()
        .filter(|d| d != "information_schema")
        .enumerate()
        .map(|(i, db)| {
            let tables: Vec<&image::Table> = st.tables.iter().filter(|t| t.db == db).collect();
            let n = tables.len() as u64;
            DbStat {
                id: 10_001 + i as u64,
                name: db,
                tables: n,
                partitions: n,
                indexes: n,
                tablets: n,
                replicas: tables.iter().map(|t| t.replication_num as u64).sum(),
                unhealthy: if any_alive { 0 } else { n },
            }
        })
        .collect();
    statistic_result(st.version >= STATISTIC_HAS_ERROR_STATE, &dbs)
}

/// Accounts other than root hold no privilege in the simulated image: the statements that need a
/// system privilege fail the way each release's privilege check fails them.
fn missing_privilege(v: Version) -> Outcome {
    if v < Version::new(3, 0, 0) {
        // 2.5 PrivilegeChecker: SHOW PROC and friends need the global ADMIN privilege.
        Outcome::Err(
            1227,
            "42000",
            "Access denied; you need (at least one of) the ADMIN privilege(s) for this operation"
                .into(),
        )
    } else if v < ACCESS_DENIED_IS_5203 {
        // 3.0/3.1 checkStmtOperatePrivilege: OPERATE on SYSTEM.
        Outcome::Err(
            1227,
            "42000",
            "Access denied; you need (at least one of) the OPERATE privilege(s) for this operation"
                .into(),
        )
    } else {
        // AccessDeniedException.reportAccessDenied: ERR_ACCESS_DENIED with the role hint.
        Outcome::Err(
            5203,
            "42000",
            "Access denied; you need (at least one of) the OPERATE privilege(s) on SYSTEM for this operation. Please ask the admin to grant permission(s) or try activating existing roles using <set [default] role>. Current role(s): NONE. Inactivated role(s): NONE.".into(),
        )
    }
}

/// First release line seen reporting a missing privilege as 5203 (the exact patch is unknown).
const ACCESS_DENIED_IS_5203: Version = Version::new(3, 2, 0);

pub(super) fn fe_query(st: &Arc<State>, user: &str, sql: &str) -> Outcome {
    if let Some(out) = st
        .group
        .as_ref()
        .and_then(|g| cluster::intercept(g, &st.frontends, &st.tables, &st.node_name, user, sql))
    {
        return out;
    }
    let (q, norm) = statement(sql);
    let privileged = user == "root";
    let system_statement = matches!(norm.as_str(), "SHOW FRONTENDS" | "SHOW BACKENDS")
        || norm.starts_with("SHOW PROC ")
        || norm.starts_with("ADMIN ")
        || norm.starts_with("ALTER SYSTEM ")
        || cluster::is_set_global(&norm);
    if !privileged && system_statement {
        return missing_privilege(st.version);
    }
    if let Some(out) = admin_query(st, q, &norm) {
        return out;
    }
    match norm.as_str() {
        "SHOW FRONTENDS" => show_frontends(st),
        // A user sees only the databases it holds a privilege on, and information_schema.
        "SHOW DATABASES" => rows(
            &["Database"],
            database_names(st)
                .into_iter()
                .filter(|d| privileged || d == "information_schema")
                .map(|d| vec![d])
                .collect(),
        ),
        "SHOW PROC '/STATISTIC'" | "SHOW PROC \"/STATISTIC\"" => show_statistic(st),
        "SHOW BACKENDS" => {
            let cols = [
                "BackendId", "IP", "HeartbeatPort", "BePort", "HttpPort", "BrpcPort",
                "LastStartTime", "LastHeartbeat", "Alive", "SystemDecommissioned",
                "ClusterDecommissioned", "TabletNum", "ErrMsg", "Version",
            ];
            // BackendsProcDir sorts its rows by IP, then BePort, as strings.
            let mut out: Vec<Vec<String>> = st
                .backends
                .lock()
                .unwrap()
                .iter()
                .map(|b| {
                    vec![
                        b.be.id.to_string(),
                        b.be.host.clone(),
                        b.be.heartbeat_port.to_string(),
                        b.ports[0].clone(),
                        b.ports[1].clone(),
                        b.ports[2].clone(),
                        // TimeUtils.longToTimeString, as BackendsProcDir prints both.
                        cluster::time_string(b.last_start),
                        cluster::recorded_time(&b.last_heartbeat),
                        b.alive.to_string(),
                        "false".into(),
                        "false".into(),
                        "0".into(),
                        b.err.clone(),
                        b.version.clone(),
                    ]
                })
                .collect();
            out.sort_by(|a, b| (&a[1], &a[3]).cmp(&(&b[1], &b[3])));
            rows(&cols, out)
        }
        "SELECT 1" | "SELECT CURRENT_VERSION()" | "SELECT VERSION()" => {
            if let Some(err) = needs_backend(st) {
                return err;
            }
            match norm.as_str() {
                "SELECT 1" => rows(&["1"], vec![vec!["1".into()]]),
                "SELECT CURRENT_VERSION()" => {
                    rows(&["current_version()"], vec![vec![st.version.full()]])
                }
                _ => rows(
                    &["version()"],
                    vec![vec![st.version.mysql_server_version().into()]],
                ),
            }
        }
        _ if norm.contains("FROM INFORMATION_SCHEMA.PARTITIONS_META") => {
            // One partition per table; `WHERE REPLICATION_NUM < N` is honoured.
            let below = norm
                .split("REPLICATION_NUM <")
                .nth(1)
                .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok());
            let out = st
                .tables
                .iter()
                .filter(|t| below.is_none_or(|n| t.replication_num < n))
                .map(|t| vec![t.db.clone(), t.name.clone(), t.name.clone(), t.replication_num.to_string()])
                .collect();
            rows(&["DB_NAME", "TABLE_NAME", "PARTITION_NAME", "REPLICATION_NUM"], out)
        }
        _ if norm.starts_with("SET ") => Outcome::Ok,
        _ if norm.starts_with("SELECT @@") => {
            let names: Vec<&str> = q[6..].split(',').map(|s| s.trim()).collect();
            let mut vals = Vec::new();
            // Analysis (is every variable known?) comes before planning (is a BE alive?).
            for n in &names {
                match system_variable(st, n) {
                    Some(v) => vals.push(v),
                    None => return unknown_variable(st.version, n),
                }
            }
            if let Some(err) = needs_backend(st) {
                return err;
            }
            rows(&names, vec![vals])
        }
        _ => Outcome::Err(
            1064,
            "42000",
            format!("Getting syntax error. Detail message: unsupported statement `{q}` in starrocks-sim."),
        ),
    }
}
