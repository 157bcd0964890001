//! One look at the cluster: every node the FE lists, what its own endpoints say, and the
//! cluster-wide statements, each handed to the rules as it comes in.
//!
//! Only the first FE has to answer: a node that does not is a finding (its probes fail), so the
//! look goes on; an FE that cannot be reached at all, or refuses SHOW FRONTENDS, is the one case
//! where there is no cluster to judge.

use std::time::Instant;

use super::probe::{probe_bootstrap, probe_health, probe_result, ProbeError, Sql};
use super::rules;
use super::values::{flag_duplicates, node_from_row, shown};
use super::{parse_host_port, CheckConfig, CheckError, ClusterStatus, NodeStatus};
use crate::probe::mysql::SqlError;

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
        return Err(CheckError::Unreachable(format!(
            "failed to reach the FE at {}: /api/bootstrap: {}",
            cfg.fe, entry.detail
        )));
    }
    let frontends = sql
        .query(&host, cfg.query_port, "SHOW FRONTENDS")
        .map_err(|e| {
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

    // Frontends: the leader's journal is the reference for every follower's.
    let mut fes: Vec<NodeStatus> = frontends
        .iter()
        .map(|r| node_from_row("fe", "SHOW FRONTENDS", r))
        .collect();
    let leader_journal = fes
        .iter()
        .find(|n| n.role == "LEADER")
        .and_then(|n| n.replayed_journal_id);
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
        rules::judge_fe(&mut n, leader_journal, cfg.max_journal_lag);
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

    rules::judge_versions(&mut st, &cfg.allow_versions);
    rules::judge_tablets(&mut st, sql.query(&qh, qp, "SHOW PROC '/statistic'"));
    rules::judge_replication(
        &mut st,
        sql.query(
            &qh,
            qp,
            "SELECT DB_NAME, TABLE_NAME, PARTITION_NAME, REPLICATION_NUM FROM information_schema.partitions_meta WHERE REPLICATION_NUM < 3",
        ),
    );
    rules::conclude(&mut st);
    st.duration_ms = started.elapsed().as_millis() as u64;
    Ok(st)
}
