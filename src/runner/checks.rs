//! The preflight checks every sandbox run makes the same way, and the choice of its ports.
//!
//! FE and BE differ in what they read (a meta dir, a BE home) but not in what a usable timeout, a
//! safe workspace root or a set of sandbox ports is; each rule lives here once, with its message.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use super::{Ending, Runner};
use crate::workspace;

/// An I/O failure while laying out the workspace: bad input when the source was refused (a
/// dangling link, a loop: `InvalidInput`), an environment error otherwise.
pub fn io_ending(e: &std::io::Error, summary: String) -> Ending {
    if e.kind() == std::io::ErrorKind::InvalidInput {
        Ending::bad_input(summary)
    } else {
        Ending::env(summary)
    }
}

/// Refuses a zero `--timeout`, which would leave no time to decide.
pub fn check_timeout(timeout: Duration) -> Result<(), Ending> {
    if timeout.is_zero() {
        return Err(Ending::bad_input(
            "--timeout 0 leaves no time to decide; give a duration such as 10m",
        ));
    }
    Ok(())
}

/// Refuses a workspace root that does not exist or lies inside a folder the run must not write to.
pub fn check_workspace_root(root: &Path, guarded: &[(&str, &Path)]) -> Result<(), Ending> {
    if !root.is_dir() {
        return Err(Ending::bad_input(format!(
            "--workspace-root {} is not a folder; create it or pass another",
            root.display()
        )));
    }
    for (what, p) in guarded {
        if workspace::is_within(root, p) {
            return Err(Ending::bad_input(format!(
                "--workspace-root {} is inside the {what} {}; the run must never write there, choose a folder outside it",
                root.display(),
                p.display()
            )));
        }
    }
    Ok(())
}

impl Runner {
    /// Picks a free port for each of `keys`, none of them in `avoid` (production's ports and
    /// StarRocks' defaults), and records them in the report beside `production`'s. Returns the
    /// sandbox ports by key, in the order of `keys`.
    pub fn pick_ports(
        &mut self,
        keys: &[&str],
        avoid: &BTreeSet<u16>,
        production: BTreeMap<String, u16>,
    ) -> Result<Vec<(String, u16)>, Ending> {
        let picked = crate::ports::pick(keys.len(), avoid).ok_or_else(|| {
            Ending::env("failed to find free ports for the sandbox between 20000 and 61000")
        })?;
        let ports: Vec<(String, u16)> = keys.iter().map(|k| k.to_string()).zip(picked).collect();
        self.report.ports.production = production;
        self.report.ports.sandbox = ports.iter().cloned().collect();
        Ok(ports)
    }
}
