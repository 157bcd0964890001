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
    /// Leases a free port for each of `keys`, none of them in `avoid` (production's ports and
    /// StarRocks' defaults), and records them in the report beside `production`'s. The lease is
    /// the Runner's until it is dropped, after the sandbox was stopped: no other rehearsal or
    /// test of this user is handed these ports while the sandbox may still bind them. Returns
    /// the sandbox ports by key, in the order of `keys`.
    pub fn pick_ports(
        &mut self,
        keys: &[&str],
        avoid: &BTreeSet<u16>,
        production: BTreeMap<String, u16>,
    ) -> Result<Vec<(String, u16)>, Ending> {
        let lease = crate::ports::pick_from(&candidates(), keys.len(), avoid).map_err(|e| match e {
            crate::ports::PortError::Exhausted { .. } => Ending::env(
                "failed to find free ports for the sandbox between 20000 and 61000 that no other process holds",
            ),
            e => Ending::env(format!("failed to choose the sandbox's ports: {e}")),
        })?;
        let ports: Vec<(String, u16)> = keys
            .iter()
            .map(|k| k.to_string())
            .zip(lease.ports())
            .collect();
        self.port_lease = lease;
        self.report.ports.production = production;
        self.report.ports.sandbox = ports.iter().cloned().collect();
        Ok(ports)
    }
}

/// The ports a sandbox may take. A `test-hooks` build narrows them to
/// `SR_REHEARSE_TEST_PORT_RANGE=LO-HI`, so a test can make the pick land where it holds leases.
fn candidates() -> Vec<u16> {
    let all = crate::ports::candidates();
    #[cfg(feature = "test-hooks")]
    if let Some((lo, hi)) = std::env::var("SR_REHEARSE_TEST_PORT_RANGE")
        .ok()
        .and_then(|r| {
            let (lo, hi) = r.split_once('-')?;
            Some((lo.parse::<u16>().ok()?, hi.parse::<u16>().ok()?))
        })
    {
        return all.into_iter().filter(|p| (lo..=hi).contains(p)).collect();
    }
    all
}
