//! The looks of one `check` run: once, or with `--wait` until healthy, and with `--node` until
//! the node is proven (`gate`); and `--print`, which reads one value of one node's row.
//!
//! Running out of `--wait` is its own outcome (exit 4, timed out): a gate that times out and a
//! cluster found degraded are different news for whoever runs the next step.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::discover::{look, Memory};
use super::gate::{check_time_arg, find, parse_node_id, unmet, Proof, Stability};
use super::probe::Sql;
use super::values::{escape, node_from_row, shown};
use super::{parse_host_port, CheckConfig, CheckError, ClusterStatus};
use crate::report::exit;

/// Where the proof of `--node` ended, in the JSON report.
#[derive(Debug, Clone, Serialize)]
pub struct GateStatus {
    pub node: String,
    pub expect_version: Option<String>,
    pub started_after: Option<String>,
    pub stable_for_ms: u64,
    /// `waiting`, `stabilising` or `proven`.
    pub state: String,
    /// How many times its LastHeartbeat moved on in the window so far.
    pub heartbeat_moves: u32,
    /// Why it is not proven (empty when it is).
    pub unmet: Vec<String>,
}

/// Without `--wait`, a node that meets the conditions at the first look is still watched for its
/// window, and this much longer for the heartbeats to move on.
const NO_WAIT_SLACK: Duration = Duration::from_secs(15);

/// The node id as the rows give it (`fe@HOST:PORT`), after checking the gate's arguments.
fn gate_node(cfg: &CheckConfig) -> Result<Option<String>, CheckError> {
    if let Some(t) = &cfg.started_after {
        check_time_arg(t)?;
    }
    cfg.node
        .as_deref()
        .map(|s| parse_node_id(s).map(|(k, h, p)| format!("{k}@{h}:{p}")))
        .transpose()
}

/// Judges the node in the look `st`, and says on stderr when it first meets the conditions and
/// when it is proven, so a long gate is not silent.
fn judge_gate(cfg: &CheckConfig, st: &mut ClusterStatus, id: &str, stab: &mut Stability) {
    let node = find(st, id);
    let why = node
        .map(|n| {
            unmet(
                n,
                cfg.expect_version.as_deref(),
                cfg.started_after.as_deref(),
            )
        })
        .unwrap_or_default();
    let proof = stab.observe(node, why, cfg.stable_for, Instant::now());
    let shown_id = escape(id);
    let (state, moves, unmet) = match &proof {
        Proof::Waiting(w) => ("waiting", 0, w.clone()),
        Proof::Stabilising { fresh, moves } => {
            if *fresh {
                let n = node.map(|n| (escape(&n.version), escape(&n.start_time)));
                let (v, t) = n.unwrap_or_default();
                crate::output::err(&format!(
                    "sr-rehearse check: {shown_id} meets the gate (version {v}, started {t}); proving it stays Alive with its heartbeat moving on for {}\n",
                    humantime::format_duration(cfg.stable_for)
                ));
            }
            (
                "stabilising",
                *moves,
                vec![format!(
                    "not yet stable: its LastHeartbeat moved on {moves} of {} times needed within {}",
                    super::gate::HEARTBEATS_NEEDED,
                    humantime::format_duration(cfg.stable_for)
                )],
            )
        }
        Proof::Proven => {
            if !stab.said_proven {
                stab.said_proven = true;
                crate::output::err(&format!(
                    "sr-rehearse check: {shown_id} proven: Alive, same start time and its heartbeat moving on for {}\n",
                    humantime::format_duration(cfg.stable_for)
                ));
            }
            ("proven", super::gate::HEARTBEATS_NEEDED, Vec::new())
        }
    };
    // Before the node problems, which the JUnit form expects last.
    for (i, u) in unmet.iter().enumerate() {
        st.problems.insert(i, format!("gate {shown_id}: {u}"));
    }
    if !unmet.is_empty() {
        st.verdict = "degraded".into();
        st.exit_code = exit::FAIL;
    }
    st.gate = Some(GateStatus {
        node: id.to_string(),
        expect_version: cfg.expect_version.clone(),
        started_after: cfg.started_after.clone(),
        stable_for_ms: cfg.stable_for.as_millis() as u64,
        state: state.into(),
        heartbeat_moves: moves,
        unmet,
    });
}

/// Checks once, or with `--wait` until healthy (and the node proven) or the deadline. Errors other
/// than bad input are retried while waiting: an FE that is restarting is unreachable for a moment,
/// while a wrong password (bad input) stays wrong.
pub fn run_check(cfg: &CheckConfig) -> Result<ClusterStatus, CheckError> {
    let node = gate_node(cfg)?;
    let started = Instant::now();
    let deadline = match (cfg.wait, &node) {
        (Some(w), _) => Some(started + w),
        (None, Some(_)) => Some(started + cfg.stable_for + NO_WAIT_SLACK),
        (None, None) => None,
    };
    let mut mem = Memory::default();
    let mut stab = Stability::default();
    let mut polls = 0;
    loop {
        polls += 1;
        let mut r = look(cfg, &mut mem);
        let mut stabilising = false;
        if let (Ok(st), Some(id)) = (&mut r, &node) {
            judge_gate(cfg, st, id, &mut stab);
            stabilising = st.gate.as_ref().is_some_and(|g| g.state == "stabilising");
        }
        let out_of_time = deadline.is_some_and(|d| Instant::now() >= d);
        let done = match &r {
            Err(CheckError::BadInput(_)) => true,
            // SIGINT/SIGTERM: the probes gave up at once; main turns this into 130/143.
            _ if crate::signals::interrupted().is_some() => true,
            Ok(s) if s.healthy() => true,
            // Without --wait, only a node proving itself is watched on.
            _ if cfg.wait.is_none() => !stabilising || out_of_time,
            _ => out_of_time,
        };
        if done {
            let timed_out = cfg.wait.filter(|_| out_of_time);
            return match r {
                Ok(mut s) => {
                    s.polls = polls;
                    s.duration_ms = started.elapsed().as_millis() as u64;
                    if let (Some(w), false) = (timed_out, s.healthy()) {
                        s.verdict = "timed out".into();
                        s.exit_code = exit::TIMEOUT;
                        s.problems.insert(
                            0,
                            format!(
                                "--wait {} ran out; the last look follows",
                                humantime::format_duration(w)
                            ),
                        );
                    }
                    Ok(s)
                }
                // The FE never answered within the wait: the gate timed out all the same.
                Err(CheckError::Unreachable(e)) if timed_out.is_some() => {
                    let w = timed_out.unwrap_or_default();
                    let mut s = ClusterStatus::new(&cfg.fe);
                    s.verdict = "timed out".into();
                    s.exit_code = exit::TIMEOUT;
                    s.problems.push(format!(
                        "--wait {} ran out: {e}",
                        humantime::format_duration(w)
                    ));
                    s.polls = polls;
                    s.duration_ms = started.elapsed().as_millis() as u64;
                    Ok(s)
                }
                Err(e) => Err(e),
            };
        }
        // The tool's own polling interval (not a test synchronisation).
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Why `--print` printed nothing.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error(transparent)]
    Check(#[from] CheckError),
    /// A value that is not what StarRocks prints: scripts put the printed value in commands.
    #[error("{0}")]
    Invalid(String),
}

impl PrintError {
    pub fn exit_code(&self) -> i32 {
        match self {
            PrintError::Check(e) => e.exit_code(),
            PrintError::Invalid(_) => exit::FAIL,
        }
    }
}

/// `--print FIELD --node ID`: that value of the node's row, read from the FE given, without a
/// health judgement. Not listed is bad input (2), an FE that does not answer the environment (3).
/// A value that is not what StarRocks prints is refused (1): scripts put it in commands.
pub fn print_field(cfg: &CheckConfig) -> Result<String, PrintError> {
    let field = cfg
        .print
        .ok_or_else(|| CheckError::BadInput("--print needs a FIELD".into()))?;
    let id =
        gate_node(cfg)?.ok_or_else(|| CheckError::BadInput("--print needs --node ID".into()))?;
    let (host, _) = parse_host_port("--fe", &cfg.fe)?;
    let password = match &cfg.password_env {
        Some(var) => Some(std::env::var(var).map_err(|_| {
            CheckError::BadInput(format!(
                "failed to read the password: environment variable {var} is not set; export it or drop --password-env"
            ))
        })?),
        None => None,
    };
    let sql = Sql::new(&cfg.user, password, cfg.probe_timeout);
    let (kind, stmt) = match id.split('@').next() {
        Some("fe") => ("fe", "SHOW FRONTENDS"),
        Some("be") => ("be", "SHOW BACKENDS"),
        _ => ("cn", "SHOW COMPUTE NODES"),
    };
    let rows = sql.query(&host, cfg.query_port, stmt).map_err(|e| {
        let what = format!(
            "failed to run {stmt} on {host}:{}: {}",
            cfg.query_port,
            shown(&e)
        );
        match e.code() {
            Some(1045 | 1227 | 5203) => CheckError::BadInput(what),
            _ => CheckError::Unreachable(what),
        }
    })?;
    if kind == "fe" && rows.first().is_some_and(|r| !r.contains_key("Role")) {
        return Err(CheckError::BadInput(format!(
            "{stmt} has no Role column: releases before 2.5 are not supported"
        ))
        .into());
    }
    let node = rows
        .iter()
        .map(|r| node_from_row(kind, stmt, r))
        .find(|n| n.node_id() == id)
        .ok_or_else(|| CheckError::BadInput(format!("{} is not listed in {stmt}", escape(&id))))?;
    if !node.invalid.is_empty() {
        return Err(PrintError::Invalid(format!(
            "{}: {}",
            escape(&id),
            node.invalid.join("; ")
        )));
    }
    Ok(field.of(&node))
}
