//! `sr-rehearse check`: the health of a whole cluster, discovered from one FE.
//!
//! The operations guide checks a cluster by hand: `/api/bootstrap` on every FE, `/api/health` on
//! every BE, a query, and before an upgrade the replica count. This command does all of it from one
//! FE address and adds what decides whether a rolling upgrade may go on: which version each node
//! runs, who leads and whether each follower's replayed journal catches up with the leader's,
//! tablets, decommissioning and restarting nodes, the FEs a quorum needs. `--wait` makes it the
//! gate between two upgrade steps: it polls until the cluster is healthy or the deadline passes;
//! with `--node` it also proves that one node runs the target, restarted, and stays up (`gate`).
//!
//! Looking (`discover`, through the probes of `probe`), judging (`rules`, `versions`, `gate`) and
//! showing (`render`) are apart so that the rules, which decide whether an upgrade may go on, can
//! be read and tested without a cluster; `poll` repeats the look, `cli` holds the options. This
//! file holds what they share: the config and the status they fill in.

pub mod cli;
mod discover;
mod gate;
mod poll;
mod probe;
mod render;
mod rules;
mod values;
mod versions;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::report::exit;
use crate::version::Version;

pub use discover::check_once;
pub use gate::{parse_node_id, version_part, PrintField};
pub use poll::{print_field, run_check, GateStatus, PrintError};
pub use probe::{ProbeError, Rows, Sql};
pub use render::{render_human, to_report};
pub use values::{escape, is_host, is_version, known_port, shown, summarise};

/// What `check` was asked to do.
#[derive(Debug, Clone)]
pub struct CheckConfig {
    /// The FE to start from, as HOST:HTTP_PORT.
    pub fe: String,
    pub query_port: u16,
    pub user: String,
    pub password_env: Option<String>,
    /// Poll until healthy or this long has passed.
    pub wait: Option<Duration>,
    /// A follower whose replayed journal does not reach, within this time, the leader's journal id
    /// seen at the start of the look is lagging.
    pub max_journal_delay: Duration,
    /// Versions allowed to run side by side (a rolling upgrade in progress); others are mixed.
    pub allow_versions: Vec<String>,
    /// Each probe's connect and read timeout.
    pub probe_timeout: Duration,
    pub json: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub quiet: bool,
    /// The one node this gate proves (`fe@HOST:QUERY_PORT`, `be@HOST:HEARTBEAT_PORT`, `cn@...`).
    pub node: Option<String>,
    /// The version the node (or, without `node`, every node) must run; the hash is not compared.
    pub expect_version: Option<String>,
    /// The node's StartTime / LastStartTime must be later than this (as `--print start-time`).
    pub started_after: Option<String>,
    /// Once the node meets the above, how long it must stay Alive with its heartbeat advancing.
    pub stable_for: Duration,
    /// Print this value of the node's row instead of judging the cluster.
    pub print: Option<PrintField>,
}

impl Default for CheckConfig {
    fn default() -> CheckConfig {
        CheckConfig {
            fe: String::new(),
            query_port: 9030,
            user: "root".into(),
            password_env: None,
            wait: None,
            max_journal_delay: Duration::from_secs(60),
            allow_versions: Vec::new(),
            probe_timeout: Duration::from_secs(5),
            json: None,
            junit: None,
            quiet: false,
            node: None,
            expect_version: None,
            started_after: None,
            stable_for: Duration::from_secs(20),
            print: None,
        }
    }
}

/// A failure to run the check at all.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    Unreachable(String),
}

impl CheckError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CheckError::BadInput(_) => exit::BAD_INPUT,
            CheckError::Unreachable(_) => exit::ENVIRONMENT,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

/// One node as SHOW FRONTENDS / BACKENDS / COMPUTE NODES and its own endpoints show it.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    /// `fe`, `be` or `cn`.
    pub kind: String,
    pub host: String,
    pub http_port: u16,
    /// FE query port, BE heartbeat port.
    pub port: u16,
    /// LEADER, FOLLOWER or OBSERVER for an FE; empty for a BE or CN.
    pub role: String,
    pub alive: bool,
    pub version: String,
    pub last_heartbeat: String,
    /// StartTime (FE) or LastStartTime (BE, CN) as the leader prints it (`yyyy-MM-dd HH:mm:ss`,
    /// `NULL` when unknown); a change between two looks is a restart.
    pub start_time: String,
    /// StatusCode of a BE or CN (3.4+: CONNECTING, OK, SHUTDOWN, DISCONNECTED); empty where the
    /// release has no such column, and for FEs.
    pub status_code: String,
    pub err_msg: String,
    pub replayed_journal_id: Option<u64>,
    /// How many entries this follower was behind the leader's journal id at the last reading.
    pub journal_lag: Option<u64>,
    pub decommissioned: bool,
    pub probes: Vec<ProbeResult>,
    /// Why this node is not healthy; empty when it is. Server values in it are escaped.
    pub problems: Vec<String>,
    /// The values of its row that do not have the shape StarRocks gives them (`values`): such a
    /// node is bad in `check`, and `upgrade-plan` refuses to put it in a command.
    #[serde(skip)]
    pub invalid: Vec<String>,
    /// The id as the row printed it, when its host or port is not valid (so that it is not
    /// shown as `:0` and two bad rows do not share one id).
    #[serde(skip)]
    pub label: Option<String>,
}

impl NodeStatus {
    /// `kind host:port`, escaped for printing.
    pub fn id(&self) -> String {
        match &self.label {
            Some(l) => l.clone(),
            None => format!("{} {}:{}", self.kind, escape(&self.host), self.port),
        }
    }

    /// The node as the command line names it: `fe@HOST:QUERY_PORT`, `be@HOST:HEARTBEAT_PORT`.
    pub fn node_id(&self) -> String {
        format!("{}@{}:{}", self.kind, escape(&self.host), self.port)
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Tablets {
    pub total: u64,
    pub unhealthy: u64,
    pub inconsistent: u64,
}

/// The result of one look at the cluster (the last one, with `--wait`).
#[derive(Debug, Clone, Serialize)]
pub struct ClusterStatus {
    pub schema: u32,
    pub command: String,
    /// `healthy`, `degraded`, `timed out`, `unreachable` or `bad input`.
    pub verdict: String,
    pub exit_code: i32,
    pub fe: String,
    pub leader: Option<String>,
    /// The FEs that vote in elections (LEADER and FOLLOWER rows), as `fe@HOST:QUERY_PORT`.
    pub electable_fes: Vec<String>,
    /// Those of them that are Alive: a majority of `electable_fes` must stay so for the group
    /// to keep a leader and write metadata.
    pub alive_electable_fes: Vec<String>,
    /// `shared_data` or `shared_nothing` (ADMIN SHOW FRONTEND CONFIG LIKE 'run_mode'); empty when
    /// the FE did not say (releases before 3.0 have only shared-nothing).
    pub run_mode: String,
    /// Version → the nodes running it.
    pub versions: BTreeMap<String, Vec<String>>,
    pub tablets: Option<Tablets>,
    /// `db.table (replication_num N)` of tables with fewer than 3 replicas.
    pub low_replication: Vec<String>,
    pub nodes: Vec<NodeStatus>,
    /// What is degraded and why; empty when healthy.
    pub problems: Vec<String>,
    /// What an operator should know but does not make the cluster degraded.
    pub warnings: Vec<String>,
    /// Where the proof of `--node` stands (absent without `--node`).
    pub gate: Option<poll::GateStatus>,
    pub polls: u32,
    pub started_at: String,
    pub duration_ms: u64,
}

impl ClusterStatus {
    fn new(fe: &str) -> ClusterStatus {
        ClusterStatus {
            schema: 1,
            command: "check".into(),
            verdict: "unreachable".into(),
            exit_code: exit::ENVIRONMENT,
            fe: fe.to_string(),
            leader: None,
            electable_fes: Vec::new(),
            alive_electable_fes: Vec::new(),
            run_mode: String::new(),
            versions: BTreeMap::new(),
            tablets: None,
            low_replication: Vec::new(),
            nodes: Vec::new(),
            problems: Vec::new(),
            warnings: Vec::new(),
            gate: None,
            polls: 0,
            started_at: crate::timefmt::Civil::now().rfc3339(),
            duration_ms: 0,
        }
    }

    pub fn healthy(&self) -> bool {
        self.exit_code == exit::PASS
    }

    /// Whether a majority of the electable FEs stays Alive when `node` (a `fe@HOST:PORT` id) is
    /// stopped: BDB JE elects a leader and writes metadata only with more than half of them.
    pub fn quorum_without(&self, node: &str) -> bool {
        let left = self
            .alive_electable_fes
            .iter()
            .filter(|f| f.as_str() != node)
            .count();
        left * 2 > self.electable_fes.len()
    }
}

/// Splits HOST:PORT, naming the flag in the error.
pub fn parse_host_port(flag: &str, s: &str) -> Result<(String, u16), CheckError> {
    let (h, p) = s.rsplit_once(':').ok_or_else(|| {
        CheckError::BadInput(format!(
            "failed to read {flag} {}: expected HOST:PORT, e.g. 10.0.0.1:8030",
            escape(s)
        ))
    })?;
    let port = p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
        CheckError::BadInput(format!(
            "failed to read {flag} {}: the port must be a number from 1 to 65535",
            escape(s)
        ))
    })?;
    let host = h
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(h);
    if !is_host(host) {
        return Err(CheckError::BadInput(format!(
            "failed to read {flag} {}: the host is not an IP address or host name",
            escape(s)
        )));
    }
    Ok((host.to_string(), port))
}

/// The leader's version, as SHOW FRONTENDS reports it.
pub fn leader_version(s: &ClusterStatus) -> Option<Version> {
    s.nodes
        .iter()
        .find(|n| n.role == "LEADER")
        .and_then(|n| n.version.split('-').next()?.parse().ok())
}
