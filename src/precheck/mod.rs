//! `sr-rehearse precheck`: what a host must offer before a node of StarRocks is upgraded on it.
//!
//! An upgrade that stops at the first FE because the host runs a JRE, or at the first BE because
//! `ulimit -n` is below the BE's floor, has already taken nodes down. Operators trust prechecks
//! that name each problem on its own line, the way `tiup cluster check` and MySQL Shell's
//! `util.checkForServerUpgrade` do: an id, a level, what was found, what to do and where the
//! documentation says so. This module gathers those findings for one node of one role; the
//! `fe` and `be` preflights run the same checks and refuse what would stop the node.
//!
//! The host is read through [`host::Host`], whose root tests point at a fixture tree; the JDK
//! the target's scripts would run is [`java`]'s, the release-note rules [`rules`]' and the
//! host's limits and kernel settings [`checks`]'. [`render`] prints them.

pub mod args;
pub mod checks;
pub mod host;
pub mod java;
pub mod package;
pub mod render;
pub mod rules;
pub mod script_jdk;

/// The StarRocks pages the findings cite.
pub mod doc {
    /// Deployment prerequisites: CPU (AVX2), memory, JDK ("StarRocks does not support JRE").
    pub const PREREQUISITES: &str =
        "https://docs.starrocks.io/docs/deployment/deployment_prerequisites/";
    /// Environment configurations: ports, overcommit, THP, swap, ulimit, max_map_count.
    pub const ENVIRONMENT: &str =
        "https://docs.starrocks.io/docs/deployment/environment_configurations/";
    /// The 3.5 release notes, whose "Upgrade Notes" ask for JDK 17 and JAVA_OPTS changes.
    pub const RELEASE_3_5: &str = "https://docs.starrocks.io/releasenotes/release-3.5/";
    /// The upgrade page: "verify prerequisites" for every release in between.
    pub const UPGRADE: &str = "https://docs.starrocks.io/docs/deployment/upgrade/";
}

use std::path::PathBuf;

use serde::Serialize;

use crate::conf::ConfFile;
use crate::version::{Version, VersionReq};

/// How serious a finding is, as MySQL Shell's upgrade checker grades them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The check passed; listed so the output shows what was checked, as `tiup cluster check` does.
    Ok,
    /// Informational: nothing to fix, but worth knowing before the upgrade.
    Notice,
    /// The node will start, but against the documented setup or at a risk.
    Warning,
    /// The node will not start, or the upgrade notes say it must not go on like this.
    Error,
}

impl Level {
    pub fn word(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Notice => "notice",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable id, e.g. `host.open-files`, `jdk.jre`, `release-3.5.fe-java-opts`.
    pub id: String,
    pub level: Level,
    /// What was found, with the values read.
    pub found: String,
    /// What to do about it (empty for a pass).
    pub fix: String,
    /// The StarRocks page that states the requirement.
    pub doc: String,
}

impl Finding {
    pub fn new(id: &str, level: Level, found: String, fix: &str, doc: &str) -> Finding {
        Finding {
            id: id.into(),
            level,
            found,
            fix: fix.into(),
            doc: doc.into(),
        }
    }
}

/// The node's role: which scripts, conf file and floors apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Fe,
    Be,
    Cn,
}

impl Role {
    pub fn word(self) -> &'static str {
        match self {
            Role::Fe => "fe",
            Role::Be => "be",
            Role::Cn => "cn",
        }
    }

    /// The conf file the role's start script reads (`start_cn.sh` reads cn.conf).
    pub fn conf_name(self) -> &'static str {
        match self {
            Role::Fe => "fe.conf",
            Role::Be => "be.conf",
            Role::Cn => "cn.conf",
        }
    }
}

/// What `precheck` is asked.
#[derive(Debug, Clone)]
pub struct PrecheckConfig {
    pub role: Role,
    pub to_version: VersionReq,
    pub from_version: Option<Version>,
    /// The node's home (conf/, bin/ and its pid file): production's settings.
    pub home: Option<PathBuf>,
    /// The unpacked new package (`fe/` or `be/`): its version and its default conf.
    pub package: Option<PathBuf>,
}

/// Why the precheck could not be made at all.
#[derive(Debug, thiserror::Error)]
pub enum PrecheckError {
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    Environment(String),
}

impl PrecheckError {
    /// 2 for bad input, 3 when the host could not be checked (README's exit codes).
    pub fn exit_code(&self) -> i32 {
        match self {
            PrecheckError::BadInput(_) => 2,
            PrecheckError::Environment(_) => 3,
        }
    }
}

/// The precheck's result: what was checked against what, and every finding.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub schema: u32,
    pub command: &'static str,
    pub role: Role,
    pub to_version: String,
    pub from_version: Option<String>,
    pub home: Option<String>,
    pub package: Option<String>,
    /// The version the package reports, when it was read.
    pub package_version: Option<String>,
    /// The JDK the target's scripts would run, when one was found.
    pub jdk: Option<java::JdkUsed>,
    pub findings: Vec<Finding>,
    pub errors: usize,
    pub warnings: usize,
    pub notices: usize,
    pub exit_code: i32,
}

impl Outcome {
    fn finish(mut self) -> Outcome {
        let count = |l| self.findings.iter().filter(|f| f.level == l).count();
        self.errors = count(Level::Error);
        self.warnings = count(Level::Warning);
        self.notices = count(Level::Notice);
        // 1 when a check found an error, else 0, as `check` grades a cluster.
        self.exit_code = i32::from(self.errors > 0);
        self
    }
}

/// Reads `conf/<role>.conf` of `dir`, if there is one; an unreadable file is bad input.
fn read_conf(dir: &std::path::Path, role: Role) -> Result<Option<ConfFile>, PrecheckError> {
    let p = dir.join("conf").join(role.conf_name());
    match std::fs::read_to_string(&p) {
        Ok(t) => Ok(Some(ConfFile::parse(&t))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PrecheckError::BadInput(format!(
            "failed to read {}: {e}",
            p.display()
        ))),
    }
}

/// Runs every check for `cfg` on the host seen through `host`.
pub fn run(cfg: &PrecheckConfig, host: &host::Host) -> Result<Outcome, PrecheckError> {
    for (flag, dir) in [("--home", &cfg.home), ("--new-fe/--new-be", &cfg.package)] {
        if let Some(d) = dir {
            if !d.is_dir() {
                return Err(PrecheckError::BadInput(format!(
                    "{flag} {} is not a folder",
                    d.display()
                )));
            }
        }
    }
    if !host.readable() {
        return Err(PrecheckError::Environment(format!(
            "cannot read {}: no proc/ there, so the host cannot be checked (is {} set to a folder that is not a host tree?)",
            host.root().join("proc").display(),
            host::ROOT_ENV
        )));
    }
    let to = cfg.to_version.lowest();
    let mut out = Outcome {
        schema: 1,
        command: "precheck",
        role: cfg.role,
        to_version: cfg.to_version.to_string(),
        from_version: cfg.from_version.map(|v| v.to_string()),
        home: cfg.home.as_ref().map(|p| p.display().to_string()),
        package: cfg.package.as_ref().map(|p| p.display().to_string()),
        package_version: None,
        jdk: None,
        findings: Vec::new(),
        errors: 0,
        warnings: 0,
        notices: 0,
        exit_code: 0,
    };
    // Production's conf is what the upgraded node keeps (the procedure swaps bin/ and lib/ only);
    // without a home, the package's own conf is the best guess.
    let home_conf = match &cfg.home {
        Some(h) => read_conf(h, cfg.role)?,
        None => None,
    };
    let pkg_conf = match &cfg.package {
        Some(p) => read_conf(p, cfg.role)?,
        None => None,
    };
    let conf = home_conf
        .or(pkg_conf)
        .unwrap_or_else(|| ConfFile::parse(""));

    let jdk = java::find(&conf, cfg.role, to);
    if let Some(pkg) = &cfg.package {
        let (found, finding) = package::check(pkg, cfg.role, &cfg.to_version, jdk.as_ref().ok());
        out.package_version = found;
        out.findings.extend(finding);
    }
    out.findings.extend(java::judge(&jdk, &conf, cfg.role, to));
    out.jdk = jdk.ok().flatten();
    out.findings.extend(rules::check(
        cfg.role,
        cfg.from_version,
        to,
        &conf,
        out.jdk.as_ref(),
    ));
    out.findings.extend(checks::host_checks(
        host,
        cfg.role,
        &conf,
        cfg.home.as_deref(),
        out.jdk.as_ref(),
        to,
    ));
    Ok(out.finish())
}

/// The checks a rehearsal's preflight makes for a node of `role` going to `to` on this host:
/// the JDK and its options, the release notes crossed, the limits, CPU, memory and kernel
/// settings (no disk or ports: the sandbox has its own). The JDK is found here too, for the report.
pub fn preflight_findings(
    host: &host::Host,
    role: Role,
    from: Option<Version>,
    to: Version,
    conf: &ConfFile,
) -> (Option<java::JdkUsed>, Vec<Finding>) {
    let found = java::find(conf, role, to);
    let mut out = java::judge(&found, conf, role, to);
    let jdk = found.ok().flatten();
    out.extend(rules::check(role, from, to, conf, jdk.as_ref()));
    out.extend(checks::host_checks(
        host,
        role,
        conf,
        None,
        jdk.as_ref(),
        to,
    ));
    (jdk, out)
}

#[cfg(test)]
mod tests;
