//! What a copy reports: the manifest in `sha256sum -c` form with its own digest, and how many
//! files each copy method (clone, `copy_file_range`, write) copied.
//!
//! The manifest lets an operator check a kept workspace against the source afterwards; its digest
//! goes into the report, so two rehearsals of the same meta can be compared at a glance.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

/// What the copy did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CopySummary {
    pub files: usize,
    pub bytes: u64,
    pub symlinks: usize,
    /// Symlinks whose target is outside the tree, copied as the file or folder they point to
    /// (hashed like any file), as `link -> target`.
    pub outside_links: Vec<String>,
    /// Files skipped on purpose (`image.ckpt`, `*.part`).
    pub skipped: Vec<String>,
    /// Files whose size or mtime changed while the copy ran (copied again).
    pub changed: Vec<String>,
    /// Files still changing after the last re-copy round.
    pub still_changing: Vec<String>,
    /// sha256 of the manifest text.
    pub manifest_digest: String,
    /// How many files each method copied (see [`CopyMethod`]).
    pub methods: CopyMethods,
}

/// How one file reached the workspace. Every method hashes the bytes read from the source; they
/// differ only in how the copy's bytes are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyMethod {
    /// `FICLONE`: the copy shares the source's extents (XFS with reflink, btrfs). No data is
    /// written and no space is used until either side changes.
    Clone,
    /// `copy_file_range`: the kernel copies each chunk just read for the hash, from the page
    /// cache, without passing it through this process again.
    CopyFileRange,
    /// `write`: the chunk read for the hash is written by this process.
    Stream,
}

/// Files per [`CopyMethod`], for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CopyMethods {
    pub clone: usize,
    pub copy_file_range: usize,
    pub stream: usize,
}

impl CopyMethods {
    pub(super) fn add(&mut self, m: CopyMethod) {
        match m {
            CopyMethod::Clone => self.clone += 1,
            CopyMethod::CopyFileRange => self.copy_file_range += 1,
            CopyMethod::Stream => self.stream += 1,
        }
    }

    /// "cloned 40", "copy_file_range 38, streamed 2", or "nothing copied".
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [
            ("cloned", self.clone),
            ("copy_file_range", self.copy_file_range),
            ("streamed", self.stream),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(what, n)| format!("{what} {n}"))
        .collect();
        if parts.is_empty() {
            "no files".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// Writes the manifest of `digests` (by path in the copy) to `path` in `sha256sum -c` form and
/// returns the sha256 of its text.
pub(super) fn write(digests: &BTreeMap<PathBuf, String>, path: &Path) -> std::io::Result<String> {
    let lines: String = digests
        .iter()
        .map(|(rel, d)| format!("{d}  {}\n", rel.display()))
        .collect();
    std::fs::write(path, &lines)?;
    Ok(format!("{:x}", Sha256::digest(lines.as_bytes())))
}
