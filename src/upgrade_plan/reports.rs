//! The rehearsal reports an upgrade plan requires: a passing FE rehearsal and BE canary for the
//! same target.
//!
//! A plan is only as good as the rehearsal behind it, so a report that is missing, unreadable, of
//! another command, not passed, or without a target version is a refusal, and the target the
//! reports tested is the one the plan upgrades to.

use std::path::{Path, PathBuf};

use crate::version::Version;

/// `3.3.5-6d81f75` as the release `3.3.5`; None for anything else.
pub(super) fn parse_version(s: &str) -> Option<Version> {
    s.trim().split('-').next()?.parse().ok()
}

/// Why a rehearsal or canary report does not allow the upgrade; each is a refusal.
#[derive(Debug, thiserror::Error)]
pub(super) enum ReportError {
    #[error("failed to read {flag} {}: {source}", path.display())]
    Read {
        flag: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to read {flag} {}: not a JSON report of sr-rehearse ({source})", path.display())]
    NotJson {
        flag: String,
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{flag} {} is a report of `{found}`, not of `{want}`", path.display())]
    WrongCommand {
        flag: String,
        path: PathBuf,
        found: String,
        want: String,
    },
    #[error("{flag} {} did not pass (verdict {verdict}): {summary}", path.display())]
    NotPassed {
        flag: String,
        path: PathBuf,
        verdict: serde_json::Value,
        summary: String,
    },
    #[error("{flag} {} names no target version", path.display())]
    NoTarget { flag: String, path: PathBuf },
}

/// A rehearsal or canary report: it must exist, parse, have passed, and name its target version.
pub(super) fn read_report(flag: &str, p: &Path, command: &str) -> Result<Version, ReportError> {
    let (flag, path) = (flag.to_string(), p.to_path_buf());
    let text = match std::fs::read_to_string(p) {
        Ok(t) => t,
        Err(source) => return Err(ReportError::Read { flag, path, source }),
    };
    let v: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(source) => return Err(ReportError::NotJson { flag, path, source }),
    };
    let cmd = v["command"].as_str().unwrap_or("");
    if cmd.split_whitespace().next() != Some(command) {
        return Err(ReportError::WrongCommand {
            flag,
            path,
            found: cmd.into(),
            want: command.into(),
        });
    }
    if v["verdict"] != "pass" {
        return Err(ReportError::NotPassed {
            flag,
            path,
            verdict: v["verdict"].clone(),
            summary: v["summary"].as_str().unwrap_or("").into(),
        });
    }
    v["target"]["detected_version"]
        .as_str()
        .and_then(parse_version)
        .ok_or(ReportError::NoTarget { flag, path })
}
