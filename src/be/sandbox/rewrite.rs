//! The sandbox's be.conf: every port moved off the node's, the storage root and every folder the
//! BE writes into pointed into the workspace, INFO logging for the evidence.
//!
//! A key left alone is a port or a folder of the node's that the sandbox would take or write, so
//! each key the BE writes through is named here.

use super::prepare::Plan;
use crate::conf::{Change, ConfFile};

/// Keys naming folders the BE writes to; each present one is moved into the workspace.
const WRITE_DIRS: &[&str] = &[
    "spill_local_storage_dir",
    "block_cache_disk_path",
    "datacache_disk_path",
    "small_file_dir",
    "local_library_dir",
];

/// The sandbox be.conf for a BE home at `home` with its storage root at `storage`.
pub(super) fn rewrite(plan: &Plan, home: &str, storage: &str) -> (ConfFile, Vec<Change>) {
    let mut c = plan.node.conf.clone();
    let mut changes = Vec::new();
    for (k, p) in &plan.ports {
        changes.push(c.set(k, &p.to_string()));
    }
    // 2.x reads only webserver_port, 3.x reads both: set both so neither lands on production's.
    let http = plan.port("be_http_port");
    changes.push(c.set("webserver_port", &http.to_string()));
    changes.push(c.set("arrow_flight_port", "-1"));
    changes.push(c.set("storage_root_path", storage));
    changes.push(c.set("sys_log_dir", &format!("{home}/log")));
    // The node may log WARNING and up only; the sandbox's be.INFO is evidence for the report.
    changes.push(c.set("sys_log_level", "INFO"));
    for key in ["LOG_DIR", "PID_DIR", "UDF_RUNTIME_DIR"] {
        if c.get(key).is_some() {
            let dest = match key {
                "LOG_DIR" => format!("{home}/log"),
                "PID_DIR" => format!("{home}/bin"),
                _ => format!("{home}/lib/udf-runtime"),
            };
            changes.push(c.set(key, &dest));
        }
    }
    for key in WRITE_DIRS {
        if c.get(key).is_some() {
            changes.push(c.set(key, &format!("{home}/{key}")));
        }
    }
    changes.retain(|ch| ch.before.as_deref() != Some(ch.after.as_str()));
    (c, changes)
}
