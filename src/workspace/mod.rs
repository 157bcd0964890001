//! Run folders: where they are made and removed, what is copied into them, and `run.json`.
//!
//! Each run owns `<root>/sr-rehearse-<UTC timestamp>-<random>/`, which only its owner may write.
//! This module holds the rules for those folders; its parts hold the rest:
//!
//! - [`copy`]: the verified, hashed copy of a tree (the meta, a storage root), with
//!   [`pipeline`] (clone, `copy_file_range` or write, on three threads) and [`manifest`];
//! - [`links`]: the symlink policy: nothing in a workspace resolves outside it;
//! - [`release`]: the new release laid out in a sandbox home;
//! - [`state`]: `run.json`, which `sr-rehearse clean` reads to finish a run whose tool was killed.

mod copy;
mod file_copy;
mod links;
mod manifest;
mod pipeline;
mod release;
mod round;
mod state;

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::timefmt::Civil;

pub use copy::{copy_tree, is_transient, CopyError};
pub use links::LinkProblem;
pub use manifest::{CopyMethod, CopyMethods, CopySummary};
pub use release::{copy_release_dir, lay_out, Layout, Place};
pub use state::{process_start_ticks, read_run_state, write_run_state, RunState, RUN_FILE};

/// The name every run folder starts with; `clean` looks only at folders named so.
pub const PREFIX: &str = "sr-rehearse-";

/// Creates a fresh run folder under `root`.
pub fn create_run_dir(root: &Path) -> io::Result<PathBuf> {
    let stamp = Civil::now().compact();
    for _ in 0..16 {
        let rand = crate::rand::random_u64() & 0xffffff;
        let dir = root.join(format!("{PREFIX}{stamp}-{rand:06x}"));
        // Only the owner may write there: `clean` trusts a run folder only when nobody else can.
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free run folder name",
    ))
}

/// Whether `path` is `base` or inside it, comparing canonical paths where they exist.
pub fn is_within(path: &Path, base: &Path) -> bool {
    let canon = |p: &Path| fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canon(path).starts_with(canon(base))
}

/// Whether a copy from `src` into `dst` will most likely be cloned, so that it costs no space:
/// both on the same filesystem, and that filesystem one that clones (XFS, btrfs). Read-only, for
/// the preflight; the copy itself still falls back to writing bytes if a clone is refused (XFS
/// made without reflink), and then a full disk ends the run as an environment error.
pub fn may_clone(src: &Path, dst: &Path) -> bool {
    use nix::sys::statfs::{BTRFS_SUPER_MAGIC, XFS_SUPER_MAGIC};
    let dev = |p: &Path| fs::metadata(p).ok().map(|m| m.dev());
    let same_fs = matches!((dev(src), dev(dst)), (Some(a), Some(b)) if a == b);
    same_fs
        && nix::sys::statfs::statfs(dst).is_ok_and(|s| {
            s.filesystem_type() == XFS_SUPER_MAGIC || s.filesystem_type() == BTRFS_SUPER_MAGIC
        })
}

/// Removes a run folder even where the copy kept read-only modes on folders.
pub fn remove_dir_all_writable(d: &Path) {
    if fs::remove_dir_all(d).is_ok() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    for e in walkdir::WalkDir::new(d).into_iter().flatten() {
        if e.file_type().is_dir() {
            let _ = fs::set_permissions(e.path(), fs::Permissions::from_mode(0o700));
        }
    }
    let _ = fs::remove_dir_all(d);
}

/// Free bytes on the filesystem holding `path`.
pub fn free_bytes(path: &Path) -> Option<u64> {
    nix::sys::statvfs::statvfs(path)
        .ok()
        .map(|s| s.blocks_available() * s.fragment_size())
}

/// Seconds since `t`, for reports.
pub fn age(t: SystemTime) -> u64 {
    t.elapsed().map(|d| d.as_secs()).unwrap_or(0)
}
