//! The in-place canary's journal and the manifest of its backup.
//!
//! Every step is written to the journal in the BE home *before* it happens, so a run killed at any
//! point can be finished backwards by `--rollback`. The backup's manifest lists the old `bin/` and
//! `lib/` as they were before the move; a rollback checks the backup against it before it moves
//! anything, so a backup that was moved away or half deleted stops the rollback with the node
//! exactly as it was, instead of swapping in a broken build.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::runner::Ending;
use crate::timefmt::Civil;

pub const JOURNAL: &str = "sr-rehearse-canary.journal";
pub const BACKUP_PREFIX: &str = "sr-rehearse-backup-";
pub const MANIFEST: &str = "sr-rehearse-manifest.json";

/// One journal line: the step about to happen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub step: String,
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The pid of the node's BE when the canary began (the old build).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_pid: Option<i32>,
}

/// The steps that end a canary: the new build kept, the old one back, or a failure before the
/// first move left the node as it was (`unchanged`).
const CLOSED: &[&str] = &["kept", "rolled-back", UNCHANGED];

/// The step that closes the journal of a canary that failed before it moved anything.
pub const UNCHANGED: &str = "unchanged";

/// The entries of the journal in `be_home`, oldest first.
pub fn read_journal(be_home: &Path) -> Vec<Entry> {
    fs::read_to_string(be_home.join(JOURNAL))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

pub fn is_open(entries: &[Entry]) -> bool {
    entries
        .last()
        .is_some_and(|e| !CLOSED.contains(&e.step.as_str()))
}

pub struct Journal {
    pub path: PathBuf,
    pub backup: PathBuf,
}

impl Journal {
    /// The journal of a new canary on `home`, with its backup folder named for now. A closed
    /// journal of an earlier canary is kept beside it, renamed, rather than appended to: the steps
    /// of one run must be read alone when deciding what a rollback undoes.
    pub fn begin(home: &Path) -> Journal {
        let path = home.join(JOURNAL);
        if path.exists() {
            let _ = fs::rename(
                &path,
                home.join(format!("{JOURNAL}.{}", Civil::now().compact())),
            );
        }
        Journal {
            path,
            backup: home.join(format!("{BACKUP_PREFIX}{}", Civil::now().compact())),
        }
    }

    /// The journal of the open canary whose `entries` were read from `home`; None when they name
    /// no backup folder, which leaves nothing a rollback could restore from.
    pub fn resume(home: &Path, entries: &[Entry]) -> Option<Journal> {
        let backup = entries.iter().find_map(|e| e.backup.clone())?;
        Some(Journal {
            path: home.join(JOURNAL),
            backup: PathBuf::from(backup),
        })
    }

    /// Appends `step` and makes it durable before the step is carried out.
    pub fn record(&self, step: &str, detail: Option<String>) -> Result<(), Ending> {
        self.record_entry(Entry {
            step: step.into(),
            at: Civil::now().rfc3339(),
            backup: Some(self.backup.display().to_string()),
            detail,
            old_pid: None,
        })
    }

    /// Closes the journal of a canary that failed before its first move, and removes what it
    /// wrote in the backup folder (only the manifest): the node is exactly as it was. Where the
    /// closing line cannot be written (a full disk), the journal, which holds only this run's
    /// lines, is removed instead, so no open journal is left for a canary that changed nothing.
    pub fn abandon(&self) {
        let _ = fs::remove_file(self.backup.join(MANIFEST));
        let _ = fs::remove_dir(&self.backup);
        if self.record(UNCHANGED, None).is_err() {
            let _ = fs::remove_file(&self.path);
        }
    }

    pub fn record_entry(&self, e: Entry) -> Result<(), Ending> {
        let fail = |e: std::io::Error| {
            Ending::env(format!(
                "failed to write the journal {}: {e}",
                self.path.display()
            ))
        };
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(fail)?;
        let line = serde_json::to_string(&e).expect("entry serialises");
        writeln!(f, "{line}")
            .and_then(|_| f.sync_all())
            .map_err(fail)?;
        crash_point(&e.step);
        Ok(())
    }
}

/// Test hook: `SR_REHEARSE_TEST_KILL_AT=<step>` makes the tool SIGKILL itself right after that
/// step was journaled, which is exactly what an operator's kill -9 at that moment would do. Only the
/// integration tests set it, and only a build with the `test-hooks` feature (`cargo test`, never a
/// release build) reads it.
#[cfg(feature = "test-hooks")]
fn crash_point(step: &str) {
    if std::env::var("SR_REHEARSE_TEST_KILL_AT").is_ok_and(|s| s == step) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
fn crash_point(_step: &str) {}

/// Entries a running BE rewrites (its pid file, the UDF runtime copies, downloaded JDBC drivers);
/// they are no part of the build and may change between the manifest and the move.
fn volatile(rel: &str) -> bool {
    rel == "bin/be.pid"
        || rel.starts_with("lib/udf-runtime/")
        || rel.starts_with("lib/jdbc_drivers/")
}

/// `bin/` and `lib/` of a build: relative path -> `file:<size>`, `dir` or `link:<target>`.
pub type Manifest = BTreeMap<String, String>;

/// Lists `bin/` and `lib/` under `root`.
pub fn manifest_of(root: &Path) -> Manifest {
    let mut m = Manifest::new();
    for d in ["bin", "lib"] {
        for e in walkdir::WalkDir::new(root.join(d))
            .follow_links(false)
            .into_iter()
            .flatten()
        {
            let Ok(rel) = e.path().strip_prefix(root) else {
                continue;
            };
            let rel = rel.display().to_string();
            if volatile(&rel) {
                continue;
            }
            let ft = e.file_type();
            let what = if ft.is_symlink() {
                format!(
                    "link:{}",
                    fs::read_link(e.path())
                        .map(|t| t.display().to_string())
                        .unwrap_or_default()
                )
            } else if ft.is_dir() {
                "dir".into()
            } else {
                format!("file:{}", e.metadata().map(|m| m.len()).unwrap_or(0))
            };
            m.insert(rel, what);
        }
    }
    m
}

pub fn write_manifest(backup: &Path, m: &Manifest) -> std::io::Result<()> {
    let path = backup.join(MANIFEST);
    let mut f = fs::File::create(&path)?;
    f.write_all(
        serde_json::to_string_pretty(m)
            .expect("manifest serialises")
            .as_bytes(),
    )?;
    f.sync_all()
}

pub fn read_manifest(backup: &Path) -> Option<Manifest> {
    serde_json::from_str(&fs::read_to_string(backup.join(MANIFEST)).ok()?).ok()
}

/// The entries of `want` under `dir/` that `root` lacks or holds differently, at most a few.
pub fn differences(want: &Manifest, root: &Path, dir: &str) -> Vec<String> {
    let have = manifest_of(root);
    want.iter()
        .filter(|(k, _)| k.starts_with(&format!("{dir}/")) || k.as_str() == dir)
        .filter(|(k, v)| have.get(*k) != Some(*v))
        .map(|(k, v)| match have.get(k) {
            None => format!("{k} missing"),
            Some(h) => format!("{k} is {h}, expected {v}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_notices_what_is_missing_or_cut_short() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::create_dir_all(root.join("lib/udf-runtime")).unwrap();
        fs::write(root.join("bin/start_be.sh"), "#!/bin/sh\n").unwrap();
        fs::write(root.join("bin/be.pid"), "42\n").unwrap();
        fs::write(root.join("lib/starrocks_be"), vec![0u8; 100]).unwrap();
        fs::write(root.join("lib/udf-runtime/x.jar"), "x").unwrap();
        let m = manifest_of(root);
        assert!(!m.contains_key("bin/be.pid"));
        assert!(differences(&m, root, "bin").is_empty());
        fs::remove_file(root.join("bin/be.pid")).unwrap();
        fs::remove_file(root.join("lib/udf-runtime/x.jar")).unwrap();
        assert!(
            differences(&m, root, "lib").is_empty(),
            "volatile entries are not compared"
        );
        fs::write(root.join("lib/starrocks_be"), vec![0u8; 10]).unwrap();
        let d = differences(&m, root, "lib");
        assert_eq!(d, ["lib/starrocks_be is file:10, expected file:100"]);
        fs::remove_dir_all(root.join("bin")).unwrap();
        assert!(differences(&m, root, "bin")
            .iter()
            .any(|s| s.contains("missing")));
    }
}
