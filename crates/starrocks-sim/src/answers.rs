//! Result sets that the sandbox FE and the cluster's leader both answer with.
//!
//! SHOW FRONTENDS and SHOW PROC '/statistic' have one layout per release whoever computes the
//! rows, and both read a statement the same way; keeping that here lets the single-FE server
//! (`fe`) and the cluster mode (`cluster`) share it without either module depending on the other.

use super::mysql::{Outcome, ResultSet};

/// A statement as the servers read it: the text without blanks around it and without its
/// trailing `;`, and the same upper-cased with its words joined by single spaces, to compare.
pub fn statement(sql: &str) -> (&str, String) {
    let q = sql.trim().trim_end_matches(';').trim();
    let norm = q
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase();
    (q, norm)
}

/// The columns of SHOW FRONTENDS (`FrontendsProcNode.TITLE_NAMES`, 2.5-3.5), for the sandbox FE
/// here and the cluster mode's leader alike.
pub const FRONTENDS_COLUMNS: [&str; 16] = [
    "Name",
    "IP",
    "EditLogPort",
    "HttpPort",
    "QueryPort",
    "RpcPort",
    "Role",
    "ClusterId",
    "Join",
    "Alive",
    "ReplayedJournalId",
    "LastHeartbeat",
    "IsHelper",
    "ErrMsg",
    "StartTime",
    "Version",
];

/// One database's row of SHOW PROC '/statistic' (`StatisticProcDir`), before layout.
pub struct DbStat {
    pub id: u64,
    pub name: String,
    pub tables: u64,
    pub partitions: u64,
    pub indexes: u64,
    pub tablets: u64,
    pub replicas: u64,
    pub unhealthy: u64,
}

/// SHOW PROC '/statistic' laid out as `StatisticProcDir` lays it out: the columns (with
/// `ErrorStateTabletNum` where the release has it), a row per database, then `Total`, whose
/// DbName holds the database count. The sandbox FE and the cluster's leader count differently
/// (see their callers); both answer through this.
pub fn statistic_result(error_state: bool, dbs: &[DbStat]) -> Outcome {
    let mut cols = vec![
        "DbId",
        "DbName",
        "TableNum",
        "PartitionNum",
        "IndexNum",
        "TabletNum",
        "ReplicaNum",
        "UnhealthyTabletNum",
        "InconsistentTabletNum",
        "CloningTabletNum",
    ];
    if error_state {
        cols.push("ErrorStateTabletNum");
    }
    // Inconsistent, cloning and (where present) error-state tablets: none in the simulator.
    let zeros = if error_state { 3 } else { 2 };
    let mut total = [0u64; 6];
    let mut out = Vec::new();
    for d in dbs {
        let counts = [
            d.tables,
            d.partitions,
            d.indexes,
            d.tablets,
            d.replicas,
            d.unhealthy,
        ];
        for (t, c) in total.iter_mut().zip(counts) {
            *t += c;
        }
        let mut row = vec![d.id.to_string(), d.name.clone()];
        row.extend(counts.iter().map(u64::to_string));
        row.extend(std::iter::repeat_n("0".to_string(), zeros));
        out.push(row);
    }
    let mut row = vec!["Total".to_string(), dbs.len().to_string()];
    row.extend(total.iter().map(u64::to_string));
    row.extend(std::iter::repeat_n("0".to_string(), zeros));
    out.push(row);
    rows(&cols, out)
}

/// A result set of strings under `columns`.
pub fn rows(columns: &[&str], rows: Vec<Vec<String>>) -> Outcome {
    Outcome::Rows(ResultSet {
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows: rows
            .into_iter()
            .map(|r| r.into_iter().map(Some).collect())
            .collect(),
    })
}
