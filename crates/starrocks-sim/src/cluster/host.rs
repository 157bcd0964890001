//! The faults of a simulated *host*, not of a package: `sim-host.json` beside a node's StarRocks
//! home.
//!
//! A package's fault travels with the build wherever it is installed; some failures belong to the
//! machine instead (a BE host that cannot run one new build, a follower that replays slowly), and
//! a rolling upgrade must meet them on that host only.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Fault;
use starrocks_common::version::Version;

/// Faults of one simulated host, read from `<node>/sim-host.json` beside the StarRocks home.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HostFaults {
    #[serde(default)]
    pub faults: Vec<HostFault>,
    /// Leader only: tablets SHOW PROC '/statistic' reports unhealthy (a replica missing).
    #[serde(default)]
    pub unhealthy_tablets: u64,
    /// FE hosts of a `make-cluster --busy` cluster: the leader runs load transactions.
    #[serde(default)]
    pub busy: bool,
}

impl HostFaults {
    /// The faults of the host this process runs on (its STARROCKS_HOME's parent).
    pub fn of_this_host() -> HostFaults {
        std::env::var("STARROCKS_HOME")
            .ok()
            .and_then(|h| std::fs::read_to_string(Path::new(&h).parent()?.join(HOST_FILE)).ok())
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }
}

/// A fault that applies on this host to the builds whose version starts with `version`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostFault {
    pub fault: Fault,
    /// A version prefix such as `3.3`; empty for every build.
    #[serde(default)]
    pub version: String,
}

pub const HOST_FILE: &str = "sim-host.json";

/// The fault this host imposes on a build of version `v` started from `home`, if any.
pub fn host_fault(home: &Path, v: Version) -> Option<Fault> {
    let text = std::fs::read_to_string(home.parent()?.join(HOST_FILE)).ok()?;
    let hf: HostFaults = serde_json::from_str(&text).ok()?;
    let full = v.to_string();
    hf.faults
        .iter()
        .find(|f| {
            f.version.is_empty()
                || full == f.version
                || full.starts_with(&format!("{}.", f.version))
        })
        .map(|f| f.fault)
}
