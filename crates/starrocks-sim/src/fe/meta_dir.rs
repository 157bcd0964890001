//! The second startup phase: `MetaHelper.checkMetaDir`, the meta dir's existence, completeness
//! and free space, and the image files it holds.
//!
//! These checks come before the FE knows who it is, and each one's message is what an operator
//! meets first when a meta copy is incomplete, so they are kept in their real order.

use std::fs;
use std::path::{Path, PathBuf};

use super::boot::{stack, Fe, Stop};
use crate::logs::FeLog;
use crate::release::Behaviour as _;
use starrocks_common::version::Version;

/// The parts of a checked meta dir the later phases read.
pub(super) struct MetaDir {
    pub(super) image_dir: PathBuf,
    pub(super) bdb_dir: PathBuf,
    /// The image files, lowest id first.
    pub(super) images: Vec<(u64, PathBuf)>,
}

pub(super) fn check_meta_dir(fe: &Fe, log: &FeLog) -> Result<MetaDir, Stop> {
    let v = fe.v;
    let home = fe.home.display().to_string();
    let configured_meta = fe.conf.get("meta_dir").cloned();
    let meta = PathBuf::from(configured_meta.clone().unwrap_or(format!("{home}/meta")));
    if !meta.is_dir() {
        let verb = if configured_meta.is_some() && v < Version::new(4, 0, 0) {
            "dose"
        } else {
            "does"
        };
        let msg = format!("meta dir {} {verb} not exist", meta.display());
        log.error("MetaHelper.checkMetaDir():67", &msg);
        return Err(Stop::StartFailed(stack(
            &format!("com.starrocks.common.InvalidMetaDirException: {msg}"),
            &[
                "com.starrocks.leader.MetaHelper.checkMetaDir(MetaHelper.java:68)",
                "com.starrocks.StarRocksFE.start(StarRocksFE.java:118)",
            ],
        )));
    }
    let image_dir = meta.join("image");
    let bdb_dir = meta.join("bdb");
    let images = list_images(&image_dir, log);
    let has_jdb = fs::read_dir(&bdb_dir)
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with(".jdb"))
        })
        .unwrap_or(false);
    if !images.is_empty()
        && !has_jdb
        && fe.conf_str("start_with_incomplete_meta", "false") != "true"
    {
        let msg = "image exists, but bdb dir is empty, set start_with_incomplete_meta to true if you want to forcefully recover from image data, this may end with stale meta data, so please be careful.";
        log.error("MetaHelper.checkMetaDir():82", msg);
        return Err(Stop::StartFailed(format!(
            "com.starrocks.common.InvalidMetaDirException: {msg}"
        )));
    }
    if v.checks_meta_free_space() {
        let free = std::env::var("STARROCKS_SIM_META_FREE_BYTES")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .or_else(|| {
                nix::sys::statvfs::statvfs(&meta)
                    .ok()
                    .map(|s| s.blocks_available() * s.fragment_size())
            })
            .unwrap_or(u64::MAX);
        if free < 5 * 1024 * 1024 * 1024 {
            return Err(fe.fatal(
                "MetaHelper.checkMetaDir():96",
                &format!(
                    "Free capacity left for meta dir: {} is less than 5GB",
                    meta.display()
                ),
            ));
        }
    }
    Ok(MetaDir {
        image_dir,
        bdb_dir,
        images,
    })
}

/// The image files of a meta dir, lowest id first; odd names are logged as real FEs log them.
fn list_images(image_dir: &Path, log: &FeLog) -> Vec<(u64, PathBuf)> {
    let mut out = Vec::new();
    for dir in [image_dir.to_path_buf(), image_dir.join("v2")] {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(suffix) = name.strip_prefix("image.") {
                if suffix == "ckpt" {
                    continue;
                }
                match suffix.parse::<u64>() {
                    Ok(id) => out.push((id, e.path())),
                    Err(_) => log.warn(
                        "Storage.getCurrentImageFile():200",
                        &format!(
                            "{} is not a validate meta file, ignore it",
                            e.path().display()
                        ),
                    ),
                }
            }
        }
    }
    out.sort();
    out
}
