//! `sr-rehearse upgrade-plan`: the rolling-upgrade runbook of a live cluster, or the Ansible
//! playbook that runs it.
//!
//! The procedure is the StarRocks upgrade page's (docs/en/deployment/upgrade.md and
//! manage_deployment/upgrade.md): every host checked first (`sr-rehearse precheck`), tablet clone
//! and balance off (`upgrade-settings apply`), BEs and CNs one at a time, a new image pushed to
//! every FE (`create-image`), the FE followers and observers, the leader last (found when the FE
//! phase starts and again before each FE), the settings back (`upgrade-settings restore`), and a
//! last check that every node runs the target. Each node's step reads its start time first and
//! ends with a gate that proves that node: its own row on the target version, started after that
//! time. The plan refuses what the docs forbid (3.0 only from 2.5, 3.3+ not from 2.5/3.0, releases
//! before 2.5), an FE restart that loses the election majority (unless `--allow-quorum-loss`), a
//! cluster that is not healthy now, and an upgrade nobody rehearsed. Executing it is left to
//! Ansible, which operators already run across StarRocks fleets: this module writes commands and
//! YAML, never a scheduler.
//!
//! Deciding the plan (`model`, with the version paths in `paths`, the rehearsal reports in
//! `reports`) is apart from writing it out (`text` with `quote`, `ansible`, `playbook`, `fe_node`, with the
//! documented way back in `downgrade`) so that both forms always carry the same steps and
//! refusals; this file holds the types they share, and `cli` the command's options.

mod ansible;
pub mod cli;
mod downgrade;
mod fe_node;
mod model;
mod paths;
mod playbook;
mod quote;
mod reports;
mod text;

use std::path::PathBuf;
use std::time::Duration;

use crate::check::{CheckConfig, NodeStatus};
use crate::report::exit;
use crate::version::Version;

pub use ansible::write_ansible;
pub use model::plan;
pub use paths::next_line;
pub use text::render_text;

/// The files `--format ansible` writes into --out, each as a new file (never through a link).
pub const ANSIBLE_FILES: [&str; 3] = ["inventory.yml", "playbook.yml", "fe-node.yml"];

/// How Ansible reaches the hosts the inventory names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Connection {
    /// Ansible's own default (SSH to each node's `ansible_host`): nothing is written for it.
    Default,
    /// Every task on the machine that runs ansible-playbook: only for a lab whose nodes all
    /// live on that one machine.
    Local,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    /// A runbook on stdout.
    Text,
    /// inventory.yml, playbook.yml and fe-node.yml in --out.
    Ansible,
}

/// What `upgrade-plan` was asked for.
#[derive(Debug, Clone)]
pub struct PlanConfig {
    pub check: CheckConfig,
    pub new_be: PathBuf,
    pub new_fe: PathBuf,
    pub rehearsal_report: Option<PathBuf>,
    pub canary_report: Option<PathBuf>,
    pub to_version: Option<Version>,
    pub force: bool,
    pub format: PlanFormat,
    /// Where `--format ansible` writes playbook.yml and inventory.yml.
    pub out: Option<PathBuf>,
    /// The FE and BE home on every host, unless `node_homes` names one node's.
    pub fe_home: PathBuf,
    pub be_home: PathBuf,
    /// `fe@HOST:QUERY_PORT` or `be@HOST:HEARTBEAT_PORT` → that node's home.
    pub node_homes: Vec<(String, PathBuf)>,
    /// JAVA_HOME for the FE start script, when the hosts' environment does not set it.
    pub java_home: Option<PathBuf>,
    pub gate_wait: Duration,
    /// How long a node's gate watches it stay Alive with its heartbeat moving on.
    pub stable_for: Duration,
    pub soak: Duration,
    /// Plan FE restarts that leave fewer than a majority of the FOLLOWER-role FEs alive.
    pub allow_quorum_loss: bool,
    /// How the playbook reaches the hosts.
    pub connection: Connection,
    /// Where `upgrade-settings apply` records the values it changes (on the machine that runs
    /// the plan's cluster-wide steps); None: `upgrade-settings.json` beside the playbook, or in
    /// the current folder for the runbook.
    pub settings_state: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    BadInput(String),
    #[error("refused: {}", .0.join("; "))]
    Refused(Vec<String>),
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Io(String),
}

impl PlanError {
    pub fn exit_code(&self) -> i32 {
        match self {
            PlanError::BadInput(_) | PlanError::Refused(_) => exit::BAD_INPUT,
            PlanError::Unreachable(_) | PlanError::Io(_) => exit::ENVIRONMENT,
        }
    }
}

/// One node in upgrade order.
#[derive(Debug, Clone)]
pub struct PlanStep {
    pub node: NodeStatus,
    pub home: PathBuf,
    /// `--fe HOST:HTTP_PORT --query-port N` of the FE the gate after this step asks.
    pub gate: (String, u16, u16),
    /// The node already runs the target (the BE the in-place canary upgraded): skipped.
    pub on_target: bool,
    /// `sr-rehearse-backup-<the version the node runs now>`: the folder its old build goes to,
    /// named after what it holds.
    pub backup: String,
}

/// The plan: what runs now, the target, the steps in order, and what `--force` went past.
#[derive(Debug, Clone)]
pub struct Plan {
    pub from: Version,
    pub to: Version,
    pub steps: Vec<PlanStep>,
    pub forced: Vec<String>,
    pub warnings: Vec<String>,
    /// What the release notes of the releases up to the target ask of the hosts and the
    /// session, named in the plan (`precheck` and `upgrade-settings` enforce them).
    pub prerequisites: Vec<String>,
    /// The FE restarts that lose the election majority, named; planned only with
    /// `--allow-quorum-loss`.
    pub quorum_loss: Vec<String>,
    /// Same minor line: the guide allows replacing only `starrocks_be` / `starrocks-fe.jar`.
    pub patch_only: bool,
}

/// A node as the other commands take it: `fe@HOST:QUERY_PORT`, `be@HOST:HEARTBEAT_PORT`,
/// `cn@HOST:HEARTBEAT_PORT` (an IPv6 host in brackets).
pub fn node_arg(n: &NodeStatus) -> String {
    if n.host.contains(':') {
        format!("{}@[{}]:{}", n.kind, n.host, n.port)
    } else {
        format!("{}@{}:{}", n.kind, n.host, n.port)
    }
}

/// A `--node-home` value that is not `KIND@HOST:PORT=DIR` with an absolute DIR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeHomeError {
    #[error("failed to read --node-home {0}: expected fe@HOST:QUERY_PORT=DIR or be@HOST:HEARTBEAT_PORT=DIR")]
    NoDir(String),
    #[error("failed to read --node-home {0}: expected KIND@HOST:PORT before =")]
    NoNode(String),
    #[error("failed to read --node-home {0}: the node is fe@HOST:QUERY_PORT, be@HOST:HEARTBEAT_PORT or cn@HOST:HEARTBEAT_PORT, with an IP address or host name and a port from 1 to 65535")]
    BadNode(String),
    /// An empty DIR would print `cd ` (the user's home) before `mv bin lib` and `rm -rf bin lib`;
    /// a relative one means another folder on every host the commands run on.
    #[error("failed to read --node-home {0}: DIR must be an absolute path")]
    NotAbsolute(String),
}

/// Parses `--node-home KIND@HOST:PORT=DIR` into the node's id (as `NodeStatus::id` writes it:
/// `be 10.0.0.1:9050`, an IPv6 host without brackets) and its home.
pub fn parse_node_home(s: &str) -> Result<(String, PathBuf), NodeHomeError> {
    let shown = || crate::check::escape(s);
    let (id, dir) = s
        .split_once('=')
        .ok_or_else(|| NodeHomeError::NoDir(shown()))?;
    let (kind, addr) = id
        .split_once('@')
        .ok_or_else(|| NodeHomeError::NoNode(shown()))?;
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| NodeHomeError::BadNode(shown()))?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0 && port.bytes().all(|b| b.is_ascii_digit()));
    let (true, true, Some(port)) = (
        matches!(kind, "fe" | "be" | "cn"),
        crate::check::is_host(host),
        port,
    ) else {
        return Err(NodeHomeError::BadNode(shown()));
    };
    let dir = PathBuf::from(dir);
    if !dir.is_absolute() {
        return Err(NodeHomeError::NotAbsolute(shown()));
    }
    Ok((format!("{kind} {host}:{port}"), dir))
}

/// Where `upgrade-settings apply` keeps the values it changed: `--settings-state`, else
/// `upgrade-settings.json` beside the playbook (--out) or in the current folder, absolute because
/// the commands run elsewhere.
fn settings_state(cfg: &PlanConfig) -> PathBuf {
    let dir = match (cfg.format, &cfg.out) {
        (PlanFormat::Ansible, Some(out)) => out.clone(),
        _ => PathBuf::from("."),
    };
    let p = cfg
        .settings_state
        .clone()
        .unwrap_or_else(|| dir.join("upgrade-settings.json"));
    std::path::absolute(&p).unwrap_or(p)
}

/// The path of this tool as the runbook and the playbook call it: the binary that wrote them.
fn tool() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("sr-rehearse"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_home_needs_kind_host_port_and_dir() {
        assert_eq!(
            parse_node_home("be@10.0.0.1:9050=/opt/be").unwrap(),
            ("be 10.0.0.1:9050".to_string(), PathBuf::from("/opt/be"))
        );
        assert!(parse_node_home("10.0.0.1:9050=/opt/be").is_err());
        assert!(parse_node_home("xx@10.0.0.1:9050=/opt/be").is_err());
        assert!(parse_node_home("be@10.0.0.1:9050").is_err());
        assert_eq!(
            parse_node_home("fe@[::1]:9030=/opt/fe").unwrap().0,
            "fe ::1:9030"
        );
        for bad in [
            "be@10.0.0.1:9050=",
            "be@10.0.0.1:9050=opt/be",
            "be@10.0.0.1:0=/opt/be",
            "be@10.0.0.1:99999=/opt/be",
            "be@10.0.0.1:+9050=/opt/be",
            "be@10.0.0.1$(id):9050=/opt/be",
        ] {
            assert!(parse_node_home(bad).is_err(), "{bad}");
        }
    }
}
