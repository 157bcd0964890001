//! The in-place canary's checks before anything on the node moves.
//!
//! The canary swaps the build of a serving node, so it begins only when a failure could be undone
//! and would be noticed: one run at a time (the lock), no open journal of an earlier run, a running
//! and healthy BE, and with `--fe` a row in SHOW BACKENDS that is this node's, Alive, and a new
//! build whose version can be compared with it. A plan ends after these checks, having written
//! nothing.

use std::path::PathBuf;
use std::time::Instant;

use super::bounded::{backend_row_by, bounded, Cut, QUERY_LIMIT};
use crate::be::fe_query::{describe_row, low_replica_tables};
use crate::be::journal::{is_open, read_journal, JOURNAL};
use crate::be::lock::{self, NodeLock};
use crate::be::node::{self, Node, PidFile};
use crate::be::{conf, BeConfig};
use crate::runner::{Ending, Runner};

/// What preflight found, and the lock that keeps other runs off the node until the canary ends.
pub(super) struct Checked {
    pub node: Node,
    pub new_be: PathBuf,
    pub old_pid: i32,
    pub new_version: Option<String>,
    _lock: Option<NodeLock>,
}

/// Refuses to begin unless a failure could be undone and would be noticed.
pub(super) fn preflight(cfg: &BeConfig, r: &mut Runner) -> Result<Checked, Ending> {
    let new_be = crate::be::checked_new_be(cfg)?;
    let node = Node::read(cfg)?;
    crate::be::host_precheck(cfg, &new_be, r)?;
    let home = node.home.clone();
    if crate::workspace::is_within(&new_be, &home) {
        return Err(Ending::bad_input(
            "--new-be is inside --be-home; unpack the new release elsewhere",
        ));
    }
    // A plan writes nothing, not even the lock file.
    let lock = if cfg.plan {
        None
    } else {
        Some(lock::take(&home, "be --in-place")?)
    };
    let journal = read_journal(&home);
    if is_open(&journal) {
        return Err(Ending::bad_input(format!(
            "another canary's journal is open on this node ({}, last step `{}`); finish it with `sr-rehearse be --be-home {} --rollback`",
            home.join(JOURNAL).display(),
            journal.last().map(|e| e.step.as_str()).unwrap_or(""),
            home.display()
        )));
    }
    r.report.ports.production = conf::read(&cfg.be_home)?.ports;
    let old_pid = match node.pid_file() {
        PidFile::Ours(p) => p,
        // A pid that is not this node's BE is never stopped: a stale be.pid can name another
        // node's BE on this host, or anything else that reused the pid.
        PidFile::Foreign(p, what) => {
            return Err(Ending::bad_input(format!(
                "{}/be.pid names pid {p}, which is {what}, not a BE of this node (a BE of this node has its executable and STARROCKS_HOME in {}). Nothing was touched: find this node's BE and correct be.pid, or start the node, then run the canary again",
                node.pid_dir.display(),
                home.display()
            )))
        }
        PidFile::Missing | PidFile::Dead(_) => {
            return Err(Ending::bad_input(format!(
                "the BE in {} is not running (no live BE of this node in {}/be.pid); the in-place canary starts from a healthy node",
                home.display(),
                node.pid_dir.display()
            )))
        }
    };
    if !node::healthy(node.http_port) {
        return Err(Ending::bad_input(format!(
            "the BE in {} does not answer /api/health on port {}; the in-place canary starts from a healthy node",
            home.display(),
            node.http_port
        )));
    }
    let new_version = node::binary_version(&new_be);
    if cfg.fe.is_none() && cfg.be_host.is_some() {
        r.report.warnings.push(
            "--be-host is used only with --fe (to find this node's row in SHOW BACKENDS); ignored"
                .into(),
        );
    }
    if cfg.fe.is_some() {
        let cut = |c: Cut| match c {
            Cut::Interrupted => Ending::interrupted(
                "interrupted by a signal during the preflight; nothing was changed",
            ),
            // An FE's HTTP port never greets the MySQL client, which waits until the deadline.
            Cut::Deadline(_) if crate::be::fe_query::is_http_port(cfg) => Ending::bad_input(
                crate::be::fe_query::FeQueryError::HttpPort(cfg.fe.clone().unwrap_or_default())
                    .to_string(),
            ),
            Cut::Deadline(_) => Ending::bad_input(format!(
                "failed to query SHOW BACKENDS: no complete answer from --fe within {}",
                humantime::format_duration(QUERY_LIMIT)
            )),
        };
        let row = backend_row_by(cfg, &node, Instant::now() + QUERY_LIMIT)
            .map_err(cut)?
            .map_err(|e| {
                if crate::be::fe_query::is_http_port(cfg) {
                    Ending::bad_input(
                        crate::be::fe_query::FeQueryError::HttpPort(
                            cfg.fe.clone().unwrap_or_default(),
                        )
                        .to_string(),
                    )
                } else {
                    Ending::bad_input(format!("failed to query SHOW BACKENDS: {e}"))
                }
            })?
            .map_err(|e| Ending::bad_input(e.to_string()))?;
        if new_version.is_none() {
            return Err(Ending::env(format!(
                "failed to read the new build's version with {}/lib/starrocks_be --version; SHOW BACKENDS cannot be checked against it",
                new_be.display()
            )));
        }
        let c2 = cfg.clone();
        let tables = bounded(Instant::now() + QUERY_LIMIT, move || {
            low_replica_tables(&c2, QUERY_LIMIT).map_err(|e| e.to_string())
        });
        let tables = match tables {
            Ok(t) => t,
            Err(Cut::Interrupted) => return Err(cut(Cut::Interrupted)),
            Err(Cut::Deadline(_)) => Err(format!(
                "no complete answer within {}",
                humantime::format_duration(QUERY_LIMIT)
            )),
        };
        match tables {
            Ok(t) if !t.is_empty() => r.report.warnings.push(format!(
                "tables with fewer than 3 replicas (a failed canary on this node can make them unavailable): {}",
                t.join(", ")
            )),
            Ok(_) => {}
            Err(e) => r
                .report
                .warnings
                .push(format!("could not check replica counts on the FE: {e}")),
        }
        if row.get("Alive").map(String::as_str) != Some("true") {
            return Err(Ending::bad_input(format!(
                "SHOW BACKENDS says this node is not Alive ({}); the in-place canary starts from a healthy node",
                describe_row(&row)
            )));
        }
        r.print(&format!(
            "       this node in SHOW BACKENDS: {}\n",
            describe_row(&row)
        ));
    }
    Ok(Checked {
        node,
        new_be,
        old_pid,
        new_version,
        _lock: lock,
    })
}
