//! Reading a production meta dir without touching it: VERSION, ROLE, images, journal files.
//!
//! Preflight and the report need the source's cluster id, token and run mode, its highest image id
//! (what a successful replay must reach), its size, and whether a live FE is using it. Everything
//! here opens files read-only; patching VERSION happens on the workspace copy.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use crate::props;

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("failed to read meta dir {0}: {1}; pass the Leader FE's meta_dir (the folder holding image/ and bdb/)")]
    Unreadable(PathBuf, #[source] io::Error),
    #[error("{path}/image/VERSION is missing{}; this is not a StarRocks meta_dir, or the copy is incomplete", if *.role_exists { " although image/ROLE exists" } else { "" })]
    MissingVersion { path: PathBuf, role_exists: bool },
    #[error(
        "{0}/image/ROLE is missing; copy image/ROLE together with image/VERSION from the leader"
    )]
    MissingRole(PathBuf),
    #[error("{path}/image/VERSION has clusterId `{value}`, which is not an integer; StarRocks would refuse it too (NumberFormatException)")]
    BadClusterId { path: PathBuf, value: String },
    #[error("{0} holds no image.<N> file and no bdb/*.jdb file; pass the Leader FE's meta_dir")]
    Empty(PathBuf),
}

/// What the tool knows about a source meta dir.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MetaInventory {
    pub path: PathBuf,
    pub cluster_id: i64,
    #[serde(skip)]
    pub token: String,
    pub run_mode: Option<String>,
    pub role: Option<String>,
    pub node_name: Option<String>,
    pub highest_image_id: Option<u64>,
    pub image_files: usize,
    pub journal_files: usize,
    /// Why the source looks live (a running FE), empty when it looks stopped.
    pub live_reasons: Vec<String>,
}

fn read_props(p: &Path) -> io::Result<std::collections::HashMap<String, String>> {
    Ok(props::parse_map(&fs::read_to_string(p)?))
}

pub fn inspect(meta: &Path) -> Result<MetaInventory, MetaError> {
    let rd = fs::read_dir(meta).map_err(|e| MetaError::Unreadable(meta.to_path_buf(), e))?;
    drop(rd);
    let image = meta.join("image");
    let version = image.join("VERSION");
    let role = image.join("ROLE");
    if !version.is_file() {
        return Err(MetaError::MissingVersion {
            path: meta.to_path_buf(),
            role_exists: role.is_file(),
        });
    }
    if !role.is_file() {
        return Err(MetaError::MissingRole(meta.to_path_buf()));
    }
    let vp = read_props(&version).map_err(|e| MetaError::Unreadable(version.clone(), e))?;
    let rp = read_props(&role).map_err(|e| MetaError::Unreadable(role.clone(), e))?;
    let raw = vp.get("clusterId").cloned().unwrap_or_default();
    let cluster_id: i64 =
        raw.trim()
            .parse::<i32>()
            .map(i64::from)
            .map_err(|_| MetaError::BadClusterId {
                path: meta.to_path_buf(),
                value: raw.clone(),
            })?;

    let mut images = Vec::new();
    for dir in [image.clone(), image.join("v2")] {
        if let Ok(rd) = fs::read_dir(&dir) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(id) = name
                    .strip_prefix("image.")
                    .and_then(|s| s.parse::<u64>().ok())
                {
                    images.push(id);
                }
            }
        }
    }
    let journal_files = fs::read_dir(meta.join("bdb"))
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".jdb"))
                .count()
        })
        .unwrap_or(0);
    if images.is_empty() && journal_files == 0 {
        return Err(MetaError::Empty(meta.to_path_buf()));
    }
    Ok(MetaInventory {
        path: meta.to_path_buf(),
        cluster_id,
        token: vp.get("token").cloned().unwrap_or_default(),
        run_mode: vp.get("runMode").cloned(),
        role: rp.get("role").cloned(),
        node_name: rp.get("name").cloned(),
        highest_image_id: images.iter().copied().max(),
        image_files: images.len(),
        journal_files,
        live_reasons: live_reasons(meta),
    })
}

/// Signs that an FE is running on this meta dir right now.
pub fn live_reasons(meta: &Path) -> Vec<String> {
    let mut out = Vec::new();
    // The usual layout puts meta/ beside bin/ in the FE home.
    if let Some(home) = meta.parent() {
        let pid_file = home.join("bin/fe.pid");
        if let Ok(text) = fs::read_to_string(&pid_file) {
            if let Ok(pid) = text.trim().parse::<i32>() {
                if crate::procfs::exists(pid) {
                    out.push(format!(
                        "{} names running process {pid}",
                        pid_file.display()
                    ));
                }
            }
        }
    }
    let lck = meta.join("bdb/je.lck");
    if let Ok(f) = File::open(&lck) {
        // A shared, non-blocking lock on a read-only handle: it fails only while an FE holds the
        // environment lock, and it writes nothing.
        match nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockSharedNonblock) {
            Ok(l) => drop(l),
            Err(_) => out.push(format!("{} is locked by another process", lck.display())),
        }
    }
    out
}

/// VERSION text with `clusterId` set to `id`; every other line, the order and the date stay.
pub fn patch_version(text: &str, id: i64) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut done = false;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let ending = &line[body.len()..];
        let trimmed = body.trim_start();
        let is_cluster_id =
            !trimmed.starts_with('#') && props::split_key_value(trimmed).0 == "clusterId";
        if is_cluster_id {
            out.push_str(&format!("clusterId={id}{ending}"));
            done = true;
        } else {
            out.push_str(line);
        }
    }
    if !done {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!("clusterId={id}\n"));
    }
    out
}

/// Total size and number of regular files under `dir` (symlinks not followed).
pub fn tree_size(dir: &Path) -> (u64, usize) {
    let mut bytes = 0;
    let mut files = 0;
    for e in walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .flatten()
    {
        if e.file_type().is_file() {
            files += 1;
            bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
        }
    }
    (bytes, files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_keeps_order_date_and_other_keys() {
        let v =
            "#Fri Jan 19 20:03:14 CST 2024\nclusterId=1234\nrunMode=shared_nothing\ntoken=abc\n";
        assert_eq!(
            patch_version(v, 123456),
            "#Fri Jan 19 20:03:14 CST 2024\nclusterId=123456\nrunMode=shared_nothing\ntoken=abc\n"
        );
        let jdk8 = "#d\ntoken=abc\nclusterId = 99\n";
        assert_eq!(patch_version(jdk8, 7), "#d\ntoken=abc\nclusterId=7\n");
    }
}
