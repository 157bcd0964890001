//! The BE canary: `sr-rehearse be`.
//!
//! Sandbox mode (the default) starts the new BE build next to the node with every port moved and an
//! empty (or copied) storage root, and decides from the process, `/api/health` and the heartbeat
//! port (with be.INFO/be.WARNING/be.out naming any failure) whether the build runs on this host: CPU flags, libraries, a new lib/ under an old bin/, config
//! the new version rejects. It touches nothing of the node. In-place mode (`inplace`) swaps the
//! build on the real node with a journaled, automatic rollback.

mod backends;
mod conf;
mod fe_query;
pub mod inplace;
mod journal;
mod lock;
mod node;
mod sandbox;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::report::Report;
use crate::runner::Isolate;
pub use crate::runner::Keep;

/// Everything `sr-rehearse be` was asked to do.
#[derive(Debug, Clone)]
pub struct BeConfig {
    pub be_home: PathBuf,
    pub new_be: Option<PathBuf>,
    pub in_place: bool,
    pub rollback: bool,
    pub storage_copy: Option<PathBuf>,
    /// `host:query_port` of an FE, for the SHOW BACKENDS checks of the in-place canary.
    pub fe: Option<String>,
    /// In place: this node's address as SHOW BACKENDS lists it (else detected from this host).
    pub be_host: Option<String>,
    pub user: String,
    pub password_env: Option<String>,
    pub soak: Duration,
    pub workspace_root: PathBuf,
    pub keep: Keep,
    pub timeout: Duration,
    pub plan: bool,
    pub isolate: Isolate,
    pub quiet: bool,
    pub verbose: bool,
    pub stop_grace: Duration,
}

/// The node's storage roots as its be.conf names them (none when be.conf cannot be read: the run
/// then refuses the node itself), for the report-path check before the run.
pub fn storage_roots(be_home: &Path) -> Vec<PathBuf> {
    conf::read(be_home)
        .map(|c| c.storage_roots.iter().map(PathBuf::from).collect())
        .unwrap_or_default()
}

/// A fresh report for a BE command: the node is the source, the new release the target.
fn new_report(command: &str, cfg: &BeConfig) -> Report {
    let mut report = Report::new(command);
    report.source.meta = cfg.be_home.display().to_string();
    report.target.package = cfg
        .new_be
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    report
}

/// The checks every canary starts with: a usable timeout and an unpacked new BE release.
fn checked_new_be(cfg: &BeConfig) -> Result<PathBuf, crate::runner::Ending> {
    crate::runner::check_timeout(cfg.timeout)?;
    let new_be = cfg.new_be.clone().ok_or_else(|| {
        crate::runner::Ending::bad_input("--new-be is required unless --rollback is given")
    })?;
    conf::check_package(&new_be)?;
    Ok(new_be)
}

/// The host precheck of a canary (`crate::precheck`), before anything is written: what stops
/// the new build on this host whatever it is given (an open-files limit below the BE's 60000 that
/// start_be.sh cannot raise, a CPU without AVX2) is exit 3 here rather than a failed start later;
/// every finding goes into the report, and the other errors among its warnings.
fn host_precheck(
    cfg: &BeConfig,
    new_be: &Path,
    r: &mut crate::runner::Runner,
) -> Result<(), crate::runner::Ending> {
    use crate::precheck::{host::Host, preflight_findings, Level, Role};
    const FATAL: &[&str] = &["host.open-files", "host.cpu-avx2"];
    let Some(to) = crate::precheck::package::be_version(new_be).and_then(|v| v.parse().ok()) else {
        return Ok(());
    };
    let text = std::fs::read_to_string(cfg.be_home.join("conf/be.conf")).unwrap_or_default();
    let conf = crate::conf::ConfFile::parse(&text);
    let (_, findings) = preflight_findings(&Host::from_env(), Role::Be, None, to, &conf);
    let errors: Vec<&crate::precheck::Finding> = findings
        .iter()
        .filter(|f| f.level == Level::Error)
        .collect();
    let fatal: Vec<String> = errors
        .iter()
        .filter(|f| FATAL.contains(&f.id.as_str()))
        .map(|f| format!("{} ({}): {}", f.found, f.id, f.fix))
        .collect();
    for f in errors.iter().filter(|f| !FATAL.contains(&f.id.as_str())) {
        r.report
            .warnings
            .push(format!("precheck {}: {}; {}", f.id, f.found, f.fix));
    }
    r.report.precheck = findings;
    if fatal.is_empty() {
        Ok(())
    } else {
        Err(crate::runner::Ending::env(format!(
            "this host cannot run the new BE, nothing was changed: {}",
            fatal.join("; ")
        )))
    }
}

/// Runs the canary the config asks for and returns its report.
pub fn run(cfg: &BeConfig) -> Report {
    if cfg.rollback {
        inplace::rollback(cfg)
    } else if cfg.in_place {
        inplace::run(cfg)
    } else {
        sandbox::run(cfg)
    }
}
