//! The version a new package reports, read before anything is copied.
//!
//! A BE build answers `lib/starrocks_be --version` (`3.3.5-6d81f75`); an FE answers
//! `java com.starrocks.StarRocksFE -v` with its jars on the class path, which is what StarRocks'
//! own `bin/show_fe_version.sh` runs (`Build version: 3.3.5`, then the commit and build lines).
//! Asking the package first turns "`--to-version 3.4` against a 3.3.5 package" into bad input
//! before a 50 GB copy and a replay, instead of a failed rehearsal after them.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::doc::UPGRADE;
use super::java::JdkUsed;
use super::{Finding, Level, Role};
use crate::version::VersionReq;

/// How long a version command may take: a JVM starts in about a second.
const LIMIT: Duration = Duration::from_secs(20);

/// Runs `cmd` with stdin closed and stderr dropped, killed after `limit`; its stdout.
fn output_of(mut cmd: Command, limit: Duration) -> Option<String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdout = child.stdout.take()?;
    // Read on a thread so a child that fills the pipe cannot hold the deadline.
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let until = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    reader.join().ok()
}

/// A private temporary folder, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new() -> Option<Scratch> {
        let p = std::env::temp_dir().join(format!(
            "sr-rehearse-version-{}-{:x}",
            std::process::id(),
            crate::rand::random_u64()
        ));
        std::fs::create_dir(&p).ok()?;
        Some(Scratch(p))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `lib/starrocks_be --version`: its first word when that is a version.
pub fn be_version(pkg: &Path) -> Option<String> {
    be_version_within(pkg, LIMIT)
}

/// [`be_version`], the binary killed after `limit` (the BE canary's own wait is shorter).
pub fn be_version_within(pkg: &Path, limit: Duration) -> Option<String> {
    let mut cmd = Command::new(pkg.join("lib/starrocks_be"));
    cmd.arg("--version").env("STARROCKS_HOME", pkg);
    let out = output_of(cmd, limit)?;
    let first = out.split_whitespace().next()?.to_string();
    first
        .parse::<crate::version::Version>()
        .is_ok()
        .then_some(first)
}

/// `java com.starrocks.StarRocksFE -v` with the package's jars, as show_fe_version.sh runs it;
/// the value of its `Build version:` line. `StarRocksFE.start` needs `STARROCKS_HOME` and
/// `PID_DIR`, creates and locks `$PID_DIR/fe.pid` and reads `conf/fe.conf` before it prints the
/// version (which is why show_fe_version.sh moves a running FE's `fe.pid` aside): the pid and log
/// folders are a temporary folder, so nothing is written into the package or a node's `bin/`.
pub fn fe_version(pkg: &Path, java_home: &str) -> Option<String> {
    let scratch = Scratch::new()?;
    let mut jars: Vec<String> = std::fs::read_dir(pkg.join("lib"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jar"))
        .map(|p| p.display().to_string())
        .collect();
    jars.sort();
    jars.push(pkg.join("lib").display().to_string());
    let mut cmd = Command::new(Path::new(java_home).join("bin/java"));
    cmd.arg("com.starrocks.StarRocksFE")
        .arg("-v")
        .env("CLASSPATH", jars.join(":"))
        .env("STARROCKS_HOME", pkg)
        .env("PID_DIR", &scratch.0)
        .env("LOG_DIR", &scratch.0)
        .current_dir(&scratch.0);
    let out = output_of(cmd, LIMIT)?;
    out.lines()
        .find_map(|l| l.strip_prefix("Build version:"))
        .map(|v| v.trim().to_string())
        .filter(|v| v.parse::<crate::version::Version>().is_ok())
}

/// The package's version, read with the JDK found for an FE.
pub fn version_of(pkg: &Path, role: Role, jdk: Option<&JdkUsed>) -> Option<String> {
    match role {
        Role::Fe => fe_version(pkg, &jdk.filter(|j| j.has_java)?.path),
        Role::Be | Role::Cn => be_version(pkg),
    }
}

/// The package's version against `--to-version`.
pub fn check(
    pkg: &Path,
    role: Role,
    want: &VersionReq,
    jdk: Option<&Option<JdkUsed>>,
) -> (Option<String>, Vec<Finding>) {
    let found = version_of(pkg, role, jdk.and_then(Option::as_ref));
    let id = "package.version";
    let finding = match &found {
        None => Finding::new(
            id,
            Level::Warning,
            format!("cannot read the version of the package {}", pkg.display()),
            "check that it is the unpacked release of --to-version",
            UPGRADE,
        ),
        Some(v) if want.matches_reported(v) => Finding::new(
            id,
            Level::Ok,
            format!("the package is StarRocks {v}"),
            "",
            UPGRADE,
        ),
        Some(v) => Finding::new(
            id,
            Level::Error,
            format!(
                "the package {} is StarRocks {v}, not the --to-version {want}",
                pkg.display()
            ),
            "pass the unpacked package of the release you mean to install, or correct --to-version",
            UPGRADE,
        ),
    };
    (found, vec![finding])
}
