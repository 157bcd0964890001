//! `sr-rehearse precheck`'s command line: its clap options, turned into [`super::PrecheckConfig`].
//!
//! Kept beside the precheck rather than in `cli.rs` so the command's surface and its checks change
//! together; `cli.rs` only names the subcommand.

use std::path::PathBuf;

use clap::Args;

use crate::version::{Version, VersionReq};

/// How `precheck` prints its result on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PrecheckFormat {
    /// One aligned line per check, the fix and the page under each problem.
    Human,
    /// The JSON that `--json` writes.
    Json,
}

/// `precheck`'s options (see `crate::precheck`).
#[derive(Args, Debug, Clone)]
pub struct PrecheckArgs {
    /// The role of the node on this host.
    #[arg(long, value_enum, value_name = "ROLE")]
    pub role: super::Role,
    /// The release being installed: `3.5` for any 3.5.x, `3.5.2` exactly.
    #[arg(long, value_name = "VERSION")]
    pub to_version: VersionReq,
    /// The release the cluster runs now: the release notes of every version after it apply.
    #[arg(long, value_name = "VERSION")]
    pub from_version: Option<Version>,
    /// The node's home (its conf/ is production's and stays through the upgrade; its pid file
    /// tells its own ports from another process's).
    #[arg(long, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// The unpacked new FE package (checked against --to-version).
    #[arg(long, value_name = "DIR", conflicts_with = "new_be")]
    pub new_fe: Option<PathBuf>,
    /// The unpacked new BE (or CN) package (checked against --to-version).
    #[arg(long, value_name = "DIR")]
    pub new_be: Option<PathBuf>,
    /// Write the result as JSON here (a new file, never through a link).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// How to print the result on stdout.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = PrecheckFormat::Human)]
    pub format: PrecheckFormat,
}

impl PrecheckArgs {
    pub fn to_config(&self) -> super::PrecheckConfig {
        let abs = |p: &PathBuf| std::path::absolute(p).unwrap_or_else(|_| p.clone());
        super::PrecheckConfig {
            role: self.role,
            to_version: self.to_version,
            from_version: self.from_version,
            home: self.home.as_ref().map(abs),
            package: self.new_fe.as_ref().or(self.new_be.as_ref()).map(abs),
        }
    }
}
