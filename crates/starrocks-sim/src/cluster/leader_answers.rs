//! The statements the cluster's leader answers from the group's state rather than from its own
//! node alone: SHOW FRONTENDS with its peers as last heartbeated, SHOW PROC '/statistic' from the
//! tablets' state (`tablets`), and SHOW COMPUTE NODES.
//!
//! The layouts shared with the single-FE server come from `answers`, so both modes stay in step.

use std::sync::atomic::{AtomicI64, Ordering};

use super::group::Group;
use super::tablets::Tablets;
use crate::answers::{statistic_result, FRONTENDS_COLUMNS};
use crate::image::{Frontend, Table};
use crate::mysql::{Outcome, ResultSet};
use starrocks_common::timefmt::{unix_millis, Civil};
use starrocks_common::version::Version;

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

/// The FE's start time (`GlobalStateMgr.getFeStartTime`), set once when the FE starts serving:
/// its own row's StartTime, as the leader's heartbeat to itself reports it.
static FE_START_MILLIS: AtomicI64 = AtomicI64::new(0);

pub fn set_fe_start_millis(ms: i64) {
    FE_START_MILLIS.store(ms, Ordering::Relaxed);
}

/// From 3.4 the LEADER row is the one whose `InetSocketAddress(host, edit_log_port)` equals the
/// BDB leader's; up to 3.3 it is every row whose host string equals `getLeaderIp()`.
const LEADER_BY_ADDRESS: Version = Version::new(3, 4, 0);

/// `TimeUtils.longToTimeString`: `yyyy-MM-dd HH:mm:ss`, `NULL` for a time <= 0.
pub fn time_string(ms: i64) -> String {
    if ms <= 0 {
        return "NULL".into();
    }
    Civil::from_unix_micros(ms * 1000).format("%Y-%m-%d %H:%M:%S")
}

/// A time the heartbeat recorded as text (log4j's `yyyy-MM-dd HH:mm:ss,SSS`) in
/// `longToTimeString`'s shape: the milliseconds dropped, `NULL` when there is none.
pub fn recorded_time(t: &str) -> String {
    match t.split(',').next().map(str::trim) {
        Some(s) if s.len() == 19 && s != "NULL" => s.to_string(),
        _ => "NULL".into(),
    }
}

/// SHOW FRONTENDS on the leader, as `FrontendsProcNode.getFrontendsInfo` builds it (SHOW FRONTENDS
/// is forwarded to the leader, so the answering FE is the leader):
/// - "self" is every row whose host string equals this FE's own (`getSelfNode().first`, in every
///   release): Alive `true`, this FE's journal, query and rpc ports; the heartbeat to "self" is
///   matched the same way (`FrontendHeartbeatHandler`), so such a row also carries this FE's start
///   time and version;
/// - LEADER is every row on the leader's host up to 3.3, the row at the leader's host and
///   edit_log_port from 3.4;
/// - `Join` is membership of the replication group (here: the leader itself, and every FE that has
///   answered its heartbeat); `IsHelper` is the answering FE's helper list, which for an FE
///   started without `--helper` is itself (`NodeMgr.getHelperNodes`);
/// - times are `TimeUtils.longToTimeString`.
///
/// The HttpPort of the other rows is the one they serve on (see docs/conformance.md: StarRocks
/// prints its own `http_port`, which a real cluster must share).
pub(super) fn show_frontends(g: &Group, frontends: &[Frontend], node_name: &str) -> Outcome {
    let cols = FRONTENDS_COLUMNS;
    let now = time_string(unix_millis());
    let release: Option<Version> = g.version.split('-').next().and_then(|v| v.parse().ok());
    let leader_by_address = release.is_some_and(|v| v >= LEADER_BY_ADDRESS);
    let own_start = time_string(FE_START_MILLIS.load(Ordering::Relaxed));
    let rows = frontends
        .iter()
        .map(|f| {
            let itself =
                f.name == node_name || (f.host == g.host && f.edit_log_port == g.edit_log_port);
            let same_host = itself || f.host == g.host;
            let leader = if leader_by_address { itself } else { same_host };
            let p = g.peer(&f.host, f.edit_log_port).unwrap_or_default();
            let role = if leader {
                "LEADER".to_string()
            } else {
                f.role.clone()
            };
            let joined = itself || !p.version.is_empty();
            let cells = if same_host {
                vec![
                    g.http_port.to_string(),
                    g.query_port.to_string(),
                    g.rpc_port.to_string(),
                    role,
                    g.cluster_id.to_string(),
                    joined.to_string(),
                    "true".into(),
                    g.journal().to_string(),
                    now.clone(),
                    itself.to_string(),
                    String::new(),
                    own_start.clone(),
                    g.version.clone(),
                ]
            } else {
                vec![
                    p.http_port.to_string(),
                    p.query_port.to_string(),
                    p.rpc_port.to_string(),
                    role,
                    g.cluster_id.to_string(),
                    joined.to_string(),
                    p.alive.to_string(),
                    p.journal.to_string(),
                    recorded_time(&p.last_heartbeat),
                    "false".into(),
                    p.err.clone(),
                    if p.alive {
                        recorded_time(&p.start_time)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_long_to_time_string() {
        assert_eq!(time_string(0), "NULL");
        assert_eq!(time_string(1_709_251_200_000), "2024-03-01 00:00:00");
        assert_eq!(
            recorded_time("2024-03-01 00:00:00,123"),
            "2024-03-01 00:00:00"
        );
        assert_eq!(recorded_time(""), "NULL");
        assert_eq!(recorded_time("NULL"), "NULL");
    }
}
