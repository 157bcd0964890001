//! One look at the cluster: every node the FE lists, what its own endpoints say, and the
//! cluster-wide statements, each handed to the rules as it comes in.
//!
//! Only the first FE has to answer: a node that does not is a finding (its probes fail), so the
//! look goes on; an FE that cannot be reached at all, or refuses SHOW FRONTENDS, is the one case
//! where there is no cluster to judge.
//!
//! What one look keeps for the next (`Memory`): the run mode (it does not change), the tablet
//! statistics (StatisticProcDir walks every tablet under a lock, so it is read at most every
//! `STATISTIC_EVERY` while waiting) and each node's start time (a change is a restart).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::probe::{probe_bootstrap, probe_health, probe_result, ProbeError, Rows, Sql};
use super::rules;
use super::values::{col, flag_duplicates, node_from_row, shown};
use super::versions;
use super::{parse_host_port, CheckConfig, CheckError, ClusterStatus, NodeStatus};
use crate::probe::mysql::SqlError;
use crate::probe::sniff::{sniff, Listener};

/// How long the look at a port that failed may wait for each answer.
const SNIFF: Duration = Duration::from_secs(2);
/// The shortest time between two SHOW PROC '/statistic' of one run.
pub(super) const STATISTIC_EVERY: Duration = Duration::from_secs(5);

/// How often SHOW FRONTENDS is read again while a follower catches up with the leader's journal.
const JOURNAL_REREAD: Duration = Duration::from_secs(1);

/// What a look keeps for the next one of the same run.
#[derive(Default)]
pub(super) struct Memory {
    run_mode: Option<String>,
    statistic: Option<(Instant, Result<Rows, SqlError>)>,
    /// Node id (`fe@HOST:PORT`) to the start time the last look read.
    pub(super) start_times: BTreeMap<String, String>,
}

/// SHOW FRONTENDS of a release before 2.5 (an `IsMaster` column, no `Role`): the tool's rules
/// (LEADER, the columns it reads) do not hold there.
fn before_2_5(rows: &Rows) -> bool {
    rows.first()
        .is_some_and(|r| r.contains_key("IsMaster") || !r.contains_key("Role"))
}

/// MySQL errors that waiting cannot fix: a wrong user or password (1045), a user without the
/// privilege SHOW FRONTENDS needs (1227, and 5203 from about 3.2). They are bad input, as for `fe`.
fn refused_login(e: &SqlError) -> bool {
    matches!(e.code(), Some(1045 | 1227 | 5203))
}

/// A login the client will not do safely (a method other than `mysql_native_password`): no
/// password was sent, and retrying with --wait cannot help.
fn unsafe_login(e: &SqlError) -> bool {
    matches!(e, SqlError::AuthRefused { .. })
}

/// One look at the cluster.
pub fn check_once(cfg: &CheckConfig) -> Result<ClusterStatus, CheckError> {
    look(cfg, &mut Memory::default())
}

/// Re-reads SHOW FRONTENDS about once a second until every live follower has replayed at least
/// `target` (the leader's journal id at the start) or `delay` has passed; returns the last
/// replayed id read of each follower (by node id). Rows it cannot read leave the first reading.
fn catch_up(
    sql: &Sql,
    (host, port): (&str, u16),
    fes: &[NodeStatus],
    target: u64,
    delay: Duration,
) -> BTreeMap<String, u64> {
    let behind = |n: &NodeStatus| {
        n.role != "LEADER" && n.alive && n.replayed_journal_id.is_some_and(|j| j < target)
    };
    let mut last: BTreeMap<String, u64> = fes
        .iter()
        .filter(|n| behind(n))
        .filter_map(|n| Some((n.node_id(), n.replayed_journal_id?)))
        .collect();
    let end = Instant::now() + delay;
    while last.values().any(|j| *j < target)
        && Instant::now() < end
        && crate::signals::interrupted().is_none()
    {
        // The tool's own re-reading interval, not a synchronisation.
        std::thread::sleep(JOURNAL_REREAD.min(end.saturating_duration_since(Instant::now())));
        let Ok(rows) = sql.query(host, port, "SHOW FRONTENDS") else {
            continue;
        };
        for r in &rows {
            let n = node_from_row("fe", "SHOW FRONTENDS", r);
            if let (Some(j), Some(v)) = (last.get_mut(&n.node_id()), n.replayed_journal_id) {
                *j = (*j).max(v);
            }
        }
    }
    last
}

/// `ADMIN SHOW FRONTEND CONFIG LIKE 'run_mode'`: `shared_data` or `shared_nothing`; empty when
/// the FE refuses it (releases before 3.0 have no run_mode, and only shared-nothing).
fn run_mode(sql: &Sql, host: &str, port: u16) -> String {
    sql.query(host, port, "ADMIN SHOW FRONTEND CONFIG LIKE 'run_mode'")
        .ok()
        .and_then(|rows| rows.first().map(|r| col(r, "Value").to_string()))
        .unwrap_or_default()
}

/// One look at the cluster, with what the previous looks of the run left in `mem`.
pub(super) fn look(cfg: &CheckConfig, mem: &mut Memory) -> Result<ClusterStatus, CheckError> {
    let started = Instant::now();
    let (host, http_port) = parse_host_port("--fe", &cfg.fe)?;
    if cfg.query_port == 0 {
        return Err(CheckError::BadInput(
            "failed to read --query-port 0: the port must be a number from 1 to 65535".into(),
        ));
    }
    let password = match &cfg.password_env {
        Some(var) => Some(std::env::var(var).map_err(|_| {
            CheckError::BadInput(format!(
                "failed to read the password: environment variable {var} is not set; export it or drop --password-env"
            ))
        })?),
        None => None,
    };
    let t = cfg.probe_timeout;
    let sql = Sql::new(&cfg.user, password, t);
    let mut st = ClusterStatus::new(&cfg.fe);

    let entry = probe_bootstrap(&host, http_port, t);
    if !entry.ok {
        // The query port given as --fe fails as `invalid HTTP version`: say which port it is.
        if sniff(&host, http_port, t.min(SNIFF)) == Listener::MySql {
            return Err(CheckError::BadInput(format!(
                "--fe {} speaks the MySQL protocol: it is an FE's query_port; --fe takes its http_port (8030 by default) and --query-port the query port",
                super::escape(&cfg.fe)
            )));
        }
        return Err(CheckError::Unreachable(format!(
            "failed to reach the FE at {}: /api/bootstrap: {}",
            cfg.fe, entry.detail
        )));
    }
    let frontends = sql
        .query(&host, cfg.query_port, "SHOW FRONTENDS")
        .map_err(|e| {
            // An HTTP port given as --query-port never greets the MySQL client: say so.
            if sniff(&host, cfg.query_port, t.min(SNIFF)) == Listener::Http {
                return CheckError::BadInput(format!(
                    "--query-port {} answers HTTP: it is an FE's http_port; --query-port takes its query_port (9030 by default)",
                    cfg.query_port
                ));
            }
            let what = format!(
                "failed to run SHOW FRONTENDS on {host}:{} as {}: {}",
                cfg.query_port,
                super::escape(&cfg.user),
                shown(&e)
            );
            if refused_login(&e) {
                CheckError::BadInput(format!(
                    "{what}; check --user and --password-env (the user needs the OPERATE privilege)"
                ))
            } else if unsafe_login(&e) {
                CheckError::BadInput(what)
            } else {
                CheckError::Unreachable(what)
            }
        })?;

    if before_2_5(&frontends) {
        return Err(CheckError::BadInput(format!(
            "SHOW FRONTENDS on {host}:{} has no Role column (an IsMaster one instead): releases before 2.5 are not supported",
            cfg.query_port
        )));
    }

    // Frontends: the leader's journal id now is what every follower must reach in time.
    let mut fes: Vec<NodeStatus> = frontends
        .iter()
        .map(|r| node_from_row("fe", "SHOW FRONTENDS", r))
        .collect();
    let leader_journal = fes
        .iter()
        .find(|n| n.role == "LEADER")
        .and_then(|n| n.replayed_journal_id);
    if let Some(target) = leader_journal {
        let reached = catch_up(
            &sql,
            (&host, cfg.query_port),
            &fes,
            target,
            cfg.max_journal_delay,
        );
        for n in &mut fes {
            if let Some(j) = reached.get(&n.node_id()) {
                n.replayed_journal_id = Some(*j);
            }
        }
    }
    let leaders: Vec<String> = fes
        .iter()
        .filter(|n| n.role == "LEADER")
        .map(NodeStatus::id)
        .collect();
    rules::judge_leaders(&mut st, leaders);
    flag_duplicates(&mut fes);
    let mut query_target: Option<(String, u16)> = None;
    for mut n in fes {
        let (h, hp, qp) = (n.host.clone(), n.http_port, n.port);
        // A row with a value that is not what StarRocks prints is not probed: its host may be
        // anything, and the node is bad already.
        if n.invalid.is_empty() {
            n.probes.push(if hp == 0 {
                probe_result("bootstrap", Err(ProbeError::NoPort("no HTTP port known")))
            } else {
                probe_bootstrap(&h, hp, t)
            });
            let q = match qp {
                0 => Err(ProbeError::NoPort(
                    "no query port known (the leader has no heartbeat from it)",
                )),
                _ => sql
                    .query(&h, qp, "SHOW FRONTENDS")
                    .map(|rows| format!("SHOW FRONTENDS on {h}:{qp}: {} rows", rows.len()))
                    .map_err(ProbeError::Sql),
            };
            n.probes.push(probe_result("query", q));
        }
        rules::judge_fe(&mut n, leader_journal, cfg.max_journal_delay);
        if !(n.role != "LEADER" && n.alive) && n.problems.is_empty() {
            query_target = Some((h, qp));
        }
        st.nodes.push(n);
    }
    // Statements about the whole cluster go to the leader (its state is the reference), or to the
    // FE we were given when the leader cannot be asked.
    let (qh, qp) = query_target.unwrap_or((host.clone(), cfg.query_port));

    let mut backends = Vec::new();
    for (stmt, kind) in [("SHOW BACKENDS", "be"), ("SHOW COMPUTE NODES", "cn")] {
        let rows = match sql.query(&qh, qp, stmt) {
            Ok(r) => r,
            Err(e) if kind == "cn" => {
                // Shared-nothing clusters of some releases refuse the statement.
                st.warnings.push(format!(
                    "{stmt} not answered ({}); compute nodes not checked",
                    shown(&e)
                ));
                continue;
            }
            Err(e) => {
                st.problems
                    .push(format!("failed to run {stmt}: {}", shown(&e)));
                continue;
            }
        };
        backends.extend(rows.iter().map(|r| (stmt, node_from_row(kind, stmt, r))));
    }
    let mut nodes: Vec<NodeStatus> = backends.iter().map(|(_, n)| n.clone()).collect();
    flag_duplicates(&mut nodes);
    for ((stmt, _), mut n) in backends.into_iter().zip(nodes) {
        if n.invalid.is_empty() {
            n.probes.push(if n.http_port == 0 {
                probe_result("health", Err(ProbeError::NoPort("no HTTP port known")))
            } else {
                probe_health(&n.host, n.http_port, t)
            });
        }
        rules::judge_backend(&mut n, stmt);
        st.nodes.push(n);
    }

    rules::judge_quorum(&mut st);
    // A gate that proves one node on `--expect-version` is a rolling upgrade to it in progress:
    // that version beside the old one is what the upgrade goes through, not a mix.
    let mut allowed = cfg.allow_versions.clone();
    if let (Some(_), Some(v)) = (&cfg.node, &cfg.expect_version) {
        allowed.push(v.clone());
    }
    versions::judge_versions(&mut st, &allowed);
    if let (None, Some(v)) = (&cfg.node, &cfg.expect_version) {
        versions::judge_expected(&mut st, v);
    }
    rules::judge_restarts(&mut st, &mem.start_times);
    mem.start_times = st
        .nodes
        .iter()
        .map(|n| (n.node_id(), n.start_time.clone()))
        .collect();
    let stale = mem
        .statistic
        .as_ref()
        .is_none_or(|(at, _)| at.elapsed() >= STATISTIC_EVERY);
    if stale {
        let r = sql.query(&qh, qp, "SHOW PROC '/statistic'");
        mem.statistic = Some((Instant::now(), r));
    }
    if let Some((_, r)) = &mem.statistic {
        rules::judge_tablets(&mut st, r.clone());
    }
    let mode = mem
        .run_mode
        .get_or_insert_with(|| run_mode(&sql, &qh, qp))
        .clone();
    st.run_mode = mode;
    if st.run_mode != "shared_data" {
        rules::judge_replication(
            &mut st,
            sql.query(
                &qh,
                qp,
                "SELECT DB_NAME, TABLE_NAME, PARTITION_NAME, REPLICATION_NUM FROM information_schema.partitions_meta WHERE REPLICATION_NUM < 3",
            ),
        );
    }
    rules::conclude(&mut st);
    st.duration_ms = started.elapsed().as_millis() as u64;
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(cols: &[&str]) -> Rows {
        vec![cols
            .iter()
            .map(|c| (c.to_string(), String::new()))
            .collect()]
    }

    #[test]
    fn show_frontends_of_a_release_before_2_5_is_refused() {
        assert!(before_2_5(&rows(&["Name", "IP", "IsMaster", "Alive"])));
        assert!(before_2_5(&rows(&["Name", "IP", "Alive"])));
        assert!(!before_2_5(&rows(&["Name", "IP", "Role", "Alive"])));
        assert!(!before_2_5(&Vec::new()));
    }
}
