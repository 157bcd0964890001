//! Preflight of the BE sandbox: everything it checks before it writes anything, and the plan that
//! comes out (the node's conf and ports, the package, the sandbox ports).
//!
//! The checks are read-only: the new package, the fence, the node's be.conf, where the workspace
//! goes and, for `--storage-copy`, whether the copy fits; then the ports, picked off the node's.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::super::conf::{self, NodeConf};
use super::super::BeConfig;
use crate::runner::{Ending, Runner};
use crate::workspace::{self, Layout, Place};

/// The sandbox ports the canary picks, in launch order.
pub(super) const SANDBOX_PORTS: &[&str] = &[
    "be_port",
    "be_http_port",
    "heartbeat_service_port",
    "brpc_port",
    "starlet_port",
];

/// What preflight found and the sandbox will use.
pub(super) struct Plan {
    pub node: NodeConf,
    pub new_be: PathBuf,
    /// Sandbox ports by key, in launch order.
    pub ports: Vec<(String, u16)>,
    /// Ports the sandbox must never use: the node's and StarRocks' defaults.
    pub avoid: BTreeSet<u16>,
}

impl Plan {
    pub fn port(&self, key: &str) -> u16 {
        self.ports
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, p)| *p)
            .unwrap_or(0)
    }

    pub fn preflight_detail(&self) -> String {
        let ports: Vec<String> = self
            .node
            .ports
            .iter()
            .map(|(k, p)| format!("{k} {p}"))
            .collect();
        format!(
            "storage roots {}; production ports {}",
            self.node.storage_roots.join(";"),
            ports.join(", ")
        )
    }
}

pub(super) fn preflight(cfg: &BeConfig, r: &mut Runner) -> Result<Plan, Ending> {
    let new_be = super::super::checked_new_be(cfg)?;
    r.set_isolation(cfg.isolate, "BE")?;
    let node = conf::read(&cfg.be_home)?;
    super::super::host_precheck(cfg, &new_be, r)?;
    let root = &cfg.workspace_root;
    crate::runner::check_workspace_root(
        root,
        &[("BE home", &cfg.be_home), ("new package", &new_be)],
    )?;
    if let Some(sc) = &cfg.storage_copy {
        if !sc.is_dir() {
            return Err(Ending::bad_input(format!(
                "--storage-copy {} is not a folder; pass one storage root of the node",
                sc.display()
            )));
        }
        let (bytes, _) = crate::meta::tree_size(sc);
        if workspace::free_bytes(root).is_some_and(|f| f < bytes + (1 << 30)) {
            return Err(Ending::env(format!(
                "not enough free space in {} for a {:.1} GiB copy of {}; free space or choose another --workspace-root",
                root.display(),
                bytes as f64 / (1u64 << 30) as f64,
                sc.display()
            )));
        }
    }
    let mut avoid: BTreeSet<u16> = node.ports.values().copied().collect();
    avoid.extend(conf::PORT_KEYS.iter().map(|(_, d)| *d));
    let ports = r.pick_ports(SANDBOX_PORTS, &avoid, node.ports.clone())?;
    Ok(Plan {
        node,
        new_be,
        ports,
        avoid,
    })
}

/// The sandbox BE home: `bin/` and `conf/` copied; `lib/` a real folder whose entries link to the
/// package, except `starrocks_be` (the start script chmods it) and the folders the BE writes into
/// (`udf-runtime`, which the start script empties, and `jdbc_drivers`), which start empty.
pub(super) const LAYOUT: Layout = Layout {
    made: &["log", "storage", "lib/udf-runtime"],
    place: |name| match name {
        "bin" | "conf" => Place::Copy,
        "lib" => Place::Within(|name| match name {
            // Folders the BE writes into at run time stay in the workspace.
            "udf-runtime" | "jdbc_drivers" => Place::Empty,
            "starrocks_be" => Place::CopyFile,
            _ => Place::Link,
        }),
        "log" | "storage" => Place::Skip,
        _ => Place::Link,
    },
};
