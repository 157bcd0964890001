//! Reading files a test inspects and digesting whole trees, the proof that the tool left a folder
//! (the user's meta, a package, a node's bin/ and lib/) exactly as it was.

use std::fs;
use std::path::{Path, PathBuf};

pub fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_default()
}

/// sha256 of every file, link target and mode under `dir`, to prove a tree was not touched.
pub fn tree_digest(dir: &Path) -> String {
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::MetadataExt;
    let mut h = Sha256::new();
    let mut entries: Vec<PathBuf> = walk(dir);
    entries.sort();
    for p in entries {
        let m = fs::symlink_metadata(&p).unwrap();
        h.update(p.strip_prefix(dir).unwrap().to_string_lossy().as_bytes());
        h.update(m.mode().to_le_bytes());
        h.update(m.mtime().to_le_bytes());
        if m.file_type().is_symlink() {
            h.update(fs::read_link(&p).unwrap().to_string_lossy().as_bytes());
        } else if m.is_file() {
            h.update(fs::read(&p).unwrap());
        }
    }
    format!("{:x}", h.finalize())
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Digest of the files, links and modes under `dir` (not mtimes), leaving out `skip` names: what
/// "byte for byte the same bin/ and lib/" means once a BE has run from them.
pub fn content_digest(dir: &Path, skip: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::MetadataExt;
    let mut h = Sha256::new();
    let mut entries: Vec<PathBuf> = walk(dir);
    entries.sort();
    for p in entries {
        let rel = p.strip_prefix(dir).unwrap().to_string_lossy().to_string();
        if skip
            .iter()
            .any(|s| rel == *s || rel.starts_with(&format!("{s}/")))
        {
            continue;
        }
        let m = fs::symlink_metadata(&p).unwrap();
        h.update(rel.as_bytes());
        if m.file_type().is_symlink() {
            h.update(fs::read_link(&p).unwrap().to_string_lossy().as_bytes());
        } else if m.is_file() {
            h.update(m.mode().to_le_bytes());
            h.update(fs::read(&p).unwrap());
        }
    }
    format!("{:x}", h.finalize())
}
