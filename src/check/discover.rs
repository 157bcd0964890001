//! One look at the cluster: every node the FE lists, what its own endpoints say, and the
//! cluster-wide statements, each handed to the rules as it comes in.
//!
//! Only the first FE has to answer: a node that does not is a finding (its probes fail), so the
//! look goes on; an FE that cannot be reached at all, or refuses SHOW FRONTENDS, is the one case
//! where there is no cluster to judge.

use std::time::Instant;

use super::probe::{probe_bootstrap, probe_health, probe_result, ProbeError, Sql};
use super::rules::{self, col};
use super::{parse_host_port, CheckConfig, CheckError, ClusterStatus, NodeStatus};

fn port_of(s: &str) -> u16 {
    s.trim().parse().unwrap_or(0)
}

/// One look at the cluster.
pub fn check_once(cfg: &CheckConfig) -> Result<ClusterStatus, CheckError> {
    let started = Instant::now();
    let (host, http_port) = parse_host_port("--fe", &cfg.fe)?;
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
            let m = format!(
                "failed to run SHOW FRONTENDS on {host}:{}: {e}",
                cfg.query_port
            );
            // A login the client will not do safely: retrying with --wait cannot help.
            match e {
                crate::probe::mysql::SqlError::AuthRefused { .. } => CheckError::BadInput(m),
                _ => CheckError::Unreachable(m),
            }
        })?;

    // Frontends: the leader's journal is the reference for every follower's.
    let leader_journal = frontends
        .iter()
        .find(|r| col(r, "Role") == "LEADER")
        .and_then(|r| col(r, "ReplayedJournalId").parse::<u64>().ok());
    let leaders: Vec<String> = frontends
        .iter()
        .filter(|r| col(r, "Role") == "LEADER")
        .map(|r| format!("fe {}:{}", col(r, "IP"), col(r, "QueryPort")))
        .collect();
    rules::judge_leaders(&mut st, leaders);
    let mut query_target: Option<(String, u16)> = None;
    for r in &frontends {
        let h = col(r, "IP").to_string();
        let qp = port_of(col(r, "QueryPort"));
        let hp = port_of(col(r, "HttpPort"));
        let mut n = NodeStatus {
            kind: "fe".into(),
            host: h.clone(),
            http_port: hp,
            port: qp,
            role: col(r, "Role").to_string(),
            alive: col(r, "Alive") == "true",
            version: col(r, "Version").to_string(),
            last_heartbeat: col(r, "LastHeartbeat").to_string(),
            err_msg: col(r, "ErrMsg").to_string(),
            replayed_journal_id: col(r, "ReplayedJournalId").parse().ok(),
            journal_lag: None,
            decommissioned: false,
            probes: Vec::new(),
            problems: Vec::new(),
        };
        n.probes.push(probe_bootstrap(&h, hp, t));
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
        rules::judge_fe(&mut n, leader_journal, cfg.max_journal_lag);
        if !(n.role != "LEADER" && n.alive) && n.problems.is_empty() {
            query_target = Some((h.clone(), qp));
        }
        st.nodes.push(n);
    }
    // Statements about the whole cluster go to the leader (its state is the reference), or to the
    // FE we were given when the leader cannot be asked.
    let (qh, qp) = query_target.unwrap_or((host.clone(), cfg.query_port));

    for (stmt, kind) in [("SHOW BACKENDS", "be"), ("SHOW COMPUTE NODES", "cn")] {
        let rows = match sql.query(&qh, qp, stmt) {
            Ok(r) => r,
            Err(e) if kind == "cn" => {
                // Releases before 3.0 have no compute nodes; the statement is then unknown.
                st.warnings.push(format!(
                    "{stmt} not answered ({e}); compute nodes not checked"
                ));
                continue;
            }
            Err(e) => {
                st.problems.push(format!("failed to run {stmt}: {e}"));
                continue;
            }
        };
        for r in &rows {
            let h = col(r, "IP").to_string();
            let hp = port_of(col(r, "HttpPort"));
            let mut n = NodeStatus {
                kind: kind.into(),
                host: h.clone(),
                http_port: hp,
                port: port_of(col(r, "HeartbeatPort")),
                role: String::new(),
                alive: col(r, "Alive") == "true",
                version: col(r, "Version").to_string(),
                last_heartbeat: col(r, "LastHeartbeat").to_string(),
                err_msg: col(r, "ErrMsg").to_string(),
                replayed_journal_id: None,
                journal_lag: None,
                decommissioned: col(r, "SystemDecommissioned") == "true",
                probes: Vec::new(),
                problems: Vec::new(),
            };
            n.probes.push(if hp == 0 {
                probe_result("health", Err(ProbeError::NoPort("no HTTP port known")))
            } else {
                probe_health(&h, hp, t)
            });
            rules::judge_backend(&mut n, stmt);
            st.nodes.push(n);
        }
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
