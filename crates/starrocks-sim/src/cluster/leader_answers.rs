//! The statements the cluster's leader answers from the group's state rather than from its own
//! node alone: SHOW FRONTENDS with its peers as last heartbeated, SHOW PROC '/statistic' from the
//! tablets' state (`tablets`), and SHOW COMPUTE NODES.
//!
//! The layouts shared with the single-FE server come from `answers`, so both modes stay in step.

use super::group::Group;
use super::tablets::Tablets;
use crate::answers::{statistic_result, FRONTENDS_COLUMNS};
use crate::image::{Frontend, Table};
use crate::mysql::{Outcome, ResultSet};
use crate::stamps::Stamps as _;
use starrocks_common::timefmt::Civil;

/// SHOW PROC '/statistic' of any member (never forwarded): a row per database, from the tablets'
/// state the leader judged and the followers copied, plus the `--unhealthy-tablets` of the build
/// (set on every FE host) that never heal. The simulated clusters are 3.x, which have
/// `ErrorStateTabletNum`.
pub(super) fn show_statistic(tables: &[Table], tablets: &Tablets, unhealthy: u64) -> Outcome {
    statistic_result(true, &tablets.db_stats(tables, unhealthy))
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
                    now.clone(),
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
