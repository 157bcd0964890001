//! `cluster.json`: what `make-cluster` built (the nodes, their folders and ports, the JDK and the
//! version), and why building or reading it fails.
//!
//! Tests, `demo` and the playbook start and stop a cluster's nodes from this file alone, so its
//! layout is shared by the builder and every reader.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use starrocks_common::version::Version;

/// One node of a built cluster, as `cluster.json` records it for tests, `demo` and the playbook.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeSpec {
    pub name: String,
    pub role: String,
    pub dir: PathBuf,
    pub home: PathBuf,
    pub ports: BTreeMap<String, u16>,
    /// The node's address: its simulated host (`make-cluster --hosts`), 127.0.0.1 without one.
    #[serde(default = "default_host")]
    pub host: String,
}

fn default_host() -> String {
    super::host::LOOPBACK.to_string()
}

/// `cluster.json`: the nodes, the JDK the FEs run on, the version built.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterSpec {
    pub version: Version,
    pub jdk: PathBuf,
    pub cluster_id: i64,
    pub nodes: Vec<NodeSpec>,
}

/// Why `make-cluster` or reading `cluster.json` failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{} already holds a cluster; choose an empty folder", .0.display())]
    NotEmpty(PathBuf),
    #[error("failed to {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to parse {}: {source}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("failed to find free ports for the cluster outside the ephemeral range: {0}")]
    NoFreePort(#[source] starrocks_common::ports::PortError),
    #[error(
        "--ports gave {given} ports; the cluster needs {needed} distinct non-zero ones (4 per node)"
    )]
    Ports { given: usize, needed: usize },
    #[error(
        "--hosts gave {given} addresses; the cluster has {needed} nodes (FEs first, then BEs)"
    )]
    Hosts { given: usize, needed: usize },
    #[error("--hosts: {0} is not a loopback IPv4 address (127.x.y.z); the simulator never binds another")]
    NotLoopback(String),
    #[error("--host-fault {0}: expected be<N> or fe<N>, then :<fault>[@<version>]")]
    HostFaultSyntax(String),
    #[error("--host-fault {spec}: unknown fault {fault}")]
    UnknownFault { spec: String, fault: String },
    #[error(transparent)]
    Build(#[from] crate::SimError),
}

pub(super) fn io_err(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> ClusterError {
    let path = path.to_path_buf();
    move |source| ClusterError::Io {
        action,
        path,
        source,
    }
}

impl ClusterSpec {
    pub fn load(dir: &Path) -> Result<ClusterSpec, ClusterError> {
        let path = dir.join("cluster.json");
        let t = std::fs::read_to_string(&path).map_err(io_err("read", &path))?;
        serde_json::from_str(&t).map_err(|source| ClusterError::Parse { path, source })
    }

    pub fn leader_candidate(&self) -> &NodeSpec {
        self.nodes
            .iter()
            .find(|n| n.role == "fe")
            .expect("a cluster has FEs")
    }
}
