//! A simulated *host*, not a package: its faults (`sim-host.json` beside a node's StarRocks
//! home), its address, and the test-only guard that keeps a node off every other host.
//!
//! A package's fault travels with the build wherever it is installed; some failures belong to the
//! machine instead (a BE host that cannot run one new build, a follower that replays slowly), and
//! a rolling upgrade must meet them on that host only.
//!
//! Every node of a simulated cluster runs on this one machine, so a "host" is a loopback address:
//! the one `priority_networks` names (`make-cluster --hosts` writes `<addr>/32`), standing for the
//! interface address a real host's `priority_networks` selects. A test that reaches hosts over SSH
//! sets `STARROCKS_SIM_HOST` per address; a node started there whose address is another refuses
//! to start and says so in `wrong-host.log`, which is how a test proves nothing ran elsewhere.

use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

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

/// The loopback every simulated host has; also the address of a node with no host of its own.
pub const LOOPBACK: &str = "127.0.0.1";

/// The environment variable the test's sshd sets to the address a shell runs "on".
pub const SIM_HOST_ENV: &str = "STARROCKS_SIM_HOST";

/// The file of the cluster folder where refused starts are recorded.
pub const WRONG_HOST_LOG: &str = "wrong-host.log";

/// The simulated host's own address that `priority_networks` selects: a single loopback IPv4
/// address, as `a.b.c.d/32` or bare. Anything else selects no simulated host (None): the node
/// stays on 127.0.0.1, as a real node whose networks match none of its addresses falls back to
/// its loopback.
pub fn host_of_networks(priority_networks: &str) -> Option<String> {
    let entries: Vec<&str> = priority_networks
        .split(';')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    let [only] = entries.as_slice() else {
        return None;
    };
    let (addr, bits) = only.split_once('/').unwrap_or((only, "32"));
    let ip: Ipv4Addr = addr.trim().parse().ok()?;
    (bits.trim() == "32" && ip.is_loopback()).then(|| ip.to_string())
}

/// The wildcard a real StarRocks server binds.
const ANY: &str = "0.0.0.0";

/// The simulated host a node of address `host` stands on: a loopback address other than
/// 127.0.0.1. A node anywhere else (127.0.0.1, or a production address a conf or meta names)
/// is on no simulated host and binds as a real node does.
fn simulated_host(host: &str) -> Option<Ipv4Addr> {
    host.parse::<Ipv4Addr>()
        .ok()
        .filter(|ip| ip.is_loopback() && ip.to_string() != LOOPBACK)
}

/// The addresses a node of address `host` listens on: on a simulated host, that host's address
/// and its loopback (what 0.0.0.0 gives on a machine of its own); elsewhere 0.0.0.0, as a real
/// node binds.
pub fn listen_addresses(host: &str) -> Vec<String> {
    match simulated_host(host) {
        Some(ip) => vec![ip.to_string(), LOOPBACK.to_string()],
        None => vec![ANY.to_string()],
    }
}

/// Where BDB JE listens: the node's own `host:edit_log_port`, which on a simulated host is its
/// address; elsewhere 0.0.0.0, as the simulator always bound it (it never binds a production
/// address a conf names).
pub fn edit_log_host(host: &str) -> String {
    simulated_host(host)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| ANY.to_string())
}

/// Binds `port` on every address of [`listen_addresses`] for a node at `host`: all or none.
pub fn bind_node(host: &str, port: u16) -> std::io::Result<Vec<std::net::TcpListener>> {
    listen_addresses(host)
        .iter()
        .map(|a| std::net::TcpListener::bind((a.as_str(), port)))
        .collect()
}

/// The cluster folder of a node home (the nearest folder above it holding `cluster.json`), else
/// the folder the home sits in.
fn cluster_dir(home: &Path) -> PathBuf {
    let mut at = home.parent();
    while let Some(d) = at {
        if d.join("cluster.json").is_file() {
            return d.to_path_buf();
        }
        at = d.parent();
    }
    home.parent().unwrap_or(home).to_path_buf()
}

/// A node started on a simulated host that is not its own; the text is the one line the guard
/// prints and appends to `wrong-host.log`.
#[derive(Debug, thiserror::Error)]
#[error(
    "starrocks-sim: refused to start the {role} of {home} on host {here}: its address is {own}"
)]
pub struct WrongHost {
    pub role: &'static str,
    pub home: String,
    pub here: String,
    pub own: String,
}

/// The test-only host guard: under `STARROCKS_SIM_HOST`, a node whose address is another host's
/// is refused; the refusal is already appended to the cluster's `wrong-host.log`. 127.0.0.1 is
/// every host's own loopback, so a node there runs anywhere.
pub fn guard_host(role: &'static str, own: &str, home: &Path) -> Result<(), WrongHost> {
    let Ok(here) = std::env::var(SIM_HOST_ENV) else {
        return Ok(());
    };
    if here.trim().is_empty() || here == own || own == LOOPBACK {
        return Ok(());
    }
    let refused = WrongHost {
        role,
        home: home.display().to_string(),
        here,
        own: own.to_string(),
    };
    let log = cluster_dir(home).join(WRONG_HOST_LOG);
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
    {
        let _ = writeln!(f, "{refused}");
    }
    Err(refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_loopback_address_per_host() {
        assert_eq!(
            host_of_networks("127.0.0.11/32").as_deref(),
            Some("127.0.0.11")
        );
        assert_eq!(
            host_of_networks(" 127.0.0.12 ").as_deref(),
            Some("127.0.0.12")
        );
        for none in [
            "",
            "10.0.0.1/32",
            "127.0.0.0/8",
            "127.0.0.11/32;127.0.0.12/32",
            "x",
        ] {
            assert_eq!(host_of_networks(none), None, "{none}");
        }
        assert_eq!(listen_addresses("127.0.0.1"), vec!["0.0.0.0"]);
        assert_eq!(listen_addresses("192.0.2.1"), vec!["0.0.0.0"]);
        assert_eq!(
            listen_addresses("127.0.0.11"),
            vec!["127.0.0.11", "127.0.0.1"]
        );
        assert_eq!(edit_log_host("127.0.0.11"), "127.0.0.11");
        assert_eq!(edit_log_host("127.0.0.1"), "0.0.0.0");
    }
}
