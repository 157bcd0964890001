//! The statements the cluster's leader answers from the group's state rather than from its own
//! node alone: SHOW FRONTENDS with its peers as last heartbeated, SHOW PROC '/statistic' with the
//! unhealthy tablets the cluster was built with, and SHOW COMPUTE NODES.
//!
//! The layouts shared with the single-FE server come from `answers`, so both modes stay in step.

use std::collections::BTreeMap;

use super::group::Group;
use crate::answers::{statistic_result, DbStat, FRONTENDS_COLUMNS};
use crate::image::{Frontend, Table};
use crate::mysql::{Outcome, ResultSet};
use crate::stamps::Stamps as _;
use starrocks_common::timefmt::Civil;

/// Tablets per table in the simulated catalogue (buckets of one partition).
const TABLETS_PER_TABLE: u64 = 10;

/// SHOW PROC '/statistic' on the leader: a row per database, `TABLETS_PER_TABLE` tablets per
/// table. The unhealthy count is what the cluster was built with (all in the first database), not
/// derived from BE liveness. The simulated clusters are 3.x, which have `ErrorStateTabletNum`.
pub(super) fn show_statistic(tables: &[Table], unhealthy: u64) -> Outcome {
    let mut per_db: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for t in tables {
        let e = per_db.entry(t.db.as_str()).or_default();
        e.0 += 1;
        e.1 += TABLETS_PER_TABLE * t.replication_num as u64;
    }
    let dbs: Vec<DbStat> = per_db
        .iter()
        .enumerate()
        .map(|(i, (db, (n, replicas)))| {
            let tablets = n * TABLETS_PER_TABLE;
            DbStat {
                id: 10_004 + i as u64,
                name: db.to_string(),
                tables: *n,
                partitions: *n,
                indexes: *n,
                tablets,
                replicas: *replicas,
                unhealthy: if i == 0 { unhealthy.min(tablets) } else { 0 },
            }
        })
        .collect();
    statistic_result(true, &dbs)
}

/// SHOW COMPUTE NODES (ComputeNodeProcDir, shared-nothing columns): the simulated clusters have none.
pub(super) fn show_compute_nodes() -> Outcome {
    let cols = [
        "ComputeNodeId",
        "IP",
        "HeartbeatPort",
        "BePort",
        "HttpPort",
        "BrpcPort",
        "LastStartTime",
        "LastHeartbeat",
        "Alive",
        "SystemDecommissioned",
        "ClusterDecommissioned",
        "ErrMsg",
        "Version",
        "CpuCores",
        "NumRunningQueries",
        "MemUsedPct",
        "CpuUsedPct",
        "HasStoragePath",
    ];
    Outcome::Rows(ResultSet {
        columns: cols.iter().map(|c| c.to_string()).collect(),
        rows: Vec::new(),
    })
}

/// SHOW FRONTENDS on the leader (FrontendsProcNode): this node's own values, the others' from the
/// last frontend heartbeat. The HttpPort of the other rows is the one they serve on (see
/// docs/conformance.md: StarRocks prints its own `http_port`, which a real cluster must share).
pub(super) fn show_frontends(g: &Group, frontends: &[Frontend], node_name: &str) -> Outcome {
    let cols = FRONTENDS_COLUMNS;
    let now = Civil::now().log4j_comma();
    let rows = frontends
        .iter()
        .map(|f| {
            let me =
                f.name == node_name || (f.host == g.host && f.edit_log_port == g.edit_log_port);
            let p = g.peer(&f.host, f.edit_log_port).unwrap_or_default();
            let role = if me {
                "LEADER".to_string()
            } else {
                f.role.clone()
            };
            let cells = if me {
                vec![
                    g.http_port.to_string(),
                    g.query_port.to_string(),
                    g.rpc_port.to_string(),
                    role,
                    g.cluster_id.to_string(),
                    "true".into(),
                    "true".into(),
                    g.journal().to_string(),
                    now.clone(),
                    "true".into(),
                    String::new(),
                    super::heartbeat::millis_to_time(
                        g.start_millis.load(std::sync::atomic::Ordering::SeqCst),
                    ),
                    g.version.clone(),
                ]
            } else {
                vec![
                    p.http_port.to_string(),
                    p.query_port.to_string(),
                    p.rpc_port.to_string(),
                    role,
                    g.cluster_id.to_string(),
                    p.alive.to_string(),
                    p.alive.to_string(),
                    p.journal.to_string(),
                    if p.last_heartbeat.is_empty() {
                        "NULL".into()
                    } else {
                        p.last_heartbeat.clone()
                    },
                    "false".into(),
                    p.err.clone(),
                    if p.alive {
                        p.start_time.clone()
                    } else {
                        "NULL".into()
                    },
                    if p.version.is_empty() {
                        "NULL".into()
                    } else {
                        p.version.clone()
                    },
                ]
            };
            let mut row = vec![
                Some(f.name.clone()),
                Some(f.host.clone()),
                Some(f.edit_log_port.to_string()),
            ];
            row.extend(cells.into_iter().map(Some));
            row
        })
        .collect();
    Outcome::Rows(ResultSet {
        columns: cols.iter().map(|c| c.to_string()).collect(),
        rows,
    })
}
