//! The verified copy of a tree: one pass that hashes what it reads, in an order that copies the
//! journal's newest file last, with the files that moved while it ran copied again.
//!
//! The manifest is the hash of the source bytes, not a second read of the copy; the bytes travel
//! through the [`pipeline`](super::pipeline) that clones or writes them; symlinks follow the
//! [`links`](super::links) policy; modes and mtimes are kept. The meta copy of the FE rehearsal and
//! the storage copy of the BE canary both use it.

use std::fs::{self, File};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use super::file_copy::CopyError;
use super::file_copy::Stat;
use super::links::{link_rule, LinkRule};
use super::manifest::{self, CopyMethod, CopySummary};
use super::pipeline::Pipeline;
use super::round::copy_round;

/// Whether a file of a meta dir is a transient one the FE ignores.
pub fn is_transient(name: &str) -> bool {
    name == "image.ckpt" || name.ends_with(".part")
}

/// The order files are copied in, for a source that may be live: the image first, then anything
/// else, then the journal files in ascending order so the newest (the one being appended to) is
/// copied last, closest to the end of the copy.
fn copy_rank(rel: &Path) -> (u8, PathBuf) {
    let first = rel
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    let is_jdb = rel.extension().is_some_and(|e| e == "jdb");
    let rank = match (first.as_deref(), is_jdb) {
        (Some("image"), _) => 0,
        (_, false) => 1,
        (_, true) => 2,
    };
    (rank, rel.to_path_buf())
}

/// How many times files that changed during the copy are copied again.
const RECOPY_ROUNDS: usize = 3;

/// Everything [`copy_tree`] will copy: folders (created already) and files, by path in the copy.
#[derive(Default)]
struct Listing {
    dirs: Vec<(PathBuf, fs::Metadata)>,
    files: Vec<(PathBuf, fs::Metadata)>,
}

/// Lists the folder `disk` (which lands at `rel` in the copy), creating its folders and links in
/// `dst`, and recursing into sub-folders and into folders outside the tree that links point to.
#[allow(clippy::too_many_arguments)]
fn list_tree(
    root: &Path,
    disk: &Path,
    rel: &Path,
    dst: &Path,
    expanding: &mut Vec<PathBuf>,
    summary: &mut CopySummary,
    out: &mut Listing,
    interrupted: &dyn Fn() -> bool,
) -> Result<(), CopyError> {
    let rerr = |p: &Path, e| CopyError::Read(p.to_path_buf(), e);
    let mut entries: Vec<fs::DirEntry> = fs::read_dir(disk)
        .map_err(|e| rerr(disk, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| rerr(disk, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        if interrupted() {
            return Err(CopyError::Interrupted);
        }
        let path = entry.path();
        let rel = rel.join(entry.file_name());
        let target = dst.join(&rel);
        let meta = path.symlink_metadata().map_err(|e| rerr(&path, e))?;
        let ft = meta.file_type();
        if ft.is_dir() {
            fs::create_dir_all(&target).map_err(|e| CopyError::Write(target.clone(), e))?;
            out.dirs.push((target, meta));
            list_tree(root, &path, &rel, dst, expanding, summary, out, interrupted)?;
        } else if ft.is_symlink() {
            let rule = link_rule(root, &path, &rel, expanding)
                .map_err(|why| CopyError::Link(path.clone(), why))?;
            let to = fs::read_link(&path).unwrap_or_default();
            match rule {
                LinkRule::Inside(text) => {
                    std::os::unix::fs::symlink(&text, &target)
                        .map_err(|e| CopyError::Write(target.clone(), e))?;
                    summary.symlinks += 1;
                }
                LinkRule::OutsideFile(t) => {
                    let m = fs::metadata(&t).map_err(|e| rerr(&t, e))?;
                    summary
                        .outside_links
                        .push(format!("{} -> {}", rel.display(), to.display()));
                    if is_transient(&entry.file_name().to_string_lossy()) {
                        summary.skipped.push(rel.display().to_string());
                    } else {
                        out.files.push((rel, m));
                    }
                }
                LinkRule::OutsideDir(t) => {
                    let m = fs::metadata(&t).map_err(|e| rerr(&t, e))?;
                    summary
                        .outside_links
                        .push(format!("{} -> {}", rel.display(), to.display()));
                    fs::create_dir_all(&target).map_err(|e| CopyError::Write(target.clone(), e))?;
                    out.dirs.push((target, m));
                    expanding.push(t.clone());
                    list_tree(root, &t, &rel, dst, expanding, summary, out, interrupted)?;
                    expanding.pop();
                }
            }
        } else if ft.is_file() {
            if is_transient(&entry.file_name().to_string_lossy()) {
                summary.skipped.push(rel.display().to_string());
            } else {
                out.files.push((rel, meta));
            }
        }
    }
    Ok(())
}

/// Copies `src` into `dst` (which must not exist), writing `manifest` in `sha256sum -c` form.
/// Files are copied in [`copy_rank`] order; files whose size or mtime moved while the copy ran are
/// copied again, up to [`RECOPY_ROUNDS`] times. `interrupted` is polled between chunks;
/// `progress` gets the bytes copied so far. Symlinks follow [`LinkRule`]: `src` itself may be one.
pub fn copy_tree(
    src: &Path,
    dst: &Path,
    manifest: &Path,
    interrupted: &(dyn Fn() -> bool + Sync),
    progress: &mut dyn FnMut(u64),
) -> Result<CopySummary, CopyError> {
    let mut summary = CopySummary::default();
    let pipe = Pipeline::start();
    let werr = |p: &Path, e| CopyError::Write(p.to_path_buf(), e);
    let src = &fs::canonicalize(src).map_err(|e| CopyError::Read(src.to_path_buf(), e))?;
    let root_meta = fs::metadata(src).map_err(|e| CopyError::Read(src.to_path_buf(), e))?;
    fs::create_dir_all(dst).map_err(|e| werr(dst, e))?;
    let mut listing = Listing::default();
    listing.dirs.push((dst.to_path_buf(), root_meta));
    list_tree(
        src,
        src,
        Path::new(""),
        dst,
        &mut vec![src.to_path_buf()],
        &mut summary,
        &mut listing,
        interrupted,
    )?;
    let Listing { dirs, mut files } = listing;
    files.sort_by_key(|(rel, _)| copy_rank(rel));

    let mut digests: std::collections::BTreeMap<PathBuf, String> = Default::default();
    // The method of a file's last copy: a re-copied file counts once.
    let mut methods: std::collections::BTreeMap<PathBuf, CopyMethod> = Default::default();
    let mut changed: std::collections::BTreeSet<String> = Default::default();
    let mut pending: Vec<PathBuf> = files.iter().map(|(r, _)| r.clone()).collect();
    let mut seen: std::collections::HashMap<PathBuf, (u64, Option<SystemTime>)> =
        Default::default();
    for round in 0..=RECOPY_ROUNDS {
        let copied = copy_round(src, dst, &pending, &pipe, interrupted, &mut |n| {
            summary.bytes += n;
            progress(summary.bytes);
        })?;
        for (rel, c) in copied {
            if c.moved {
                changed.insert(rel.display().to_string());
            }
            seen.insert(rel.clone(), c.before);
            digests.insert(rel.clone(), c.digest);
            methods.insert(rel, c.method);
        }
        if round == 0 {
            summary.files = files.len();
        }
        // Anything that moved since it was copied goes round again.
        pending = seen
            .iter()
            .filter(|(rel, st)| stat_of(&src.join(rel)).is_some_and(|now| now != **st))
            .map(|(rel, _)| rel.clone())
            .collect();
        pending.sort_by_key(|rel| copy_rank(rel));
        for rel in &pending {
            changed.insert(rel.display().to_string());
        }
        if pending.is_empty() {
            break;
        }
    }
    for m in methods.values() {
        summary.methods.add(*m);
    }
    summary.changed = changed.into_iter().collect();
    summary.still_changing = pending.iter().map(|r| r.display().to_string()).collect();
    // Directory modes and mtimes last, since writing files into them changes their mtime.
    for (d, meta) in dirs.iter().rev() {
        let _ = fs::set_permissions(d, fs::Permissions::from_mode(meta.mode() & 0o7777));
        if let Ok(m) = meta.modified() {
            if let Ok(f) = File::open(d) {
                let _ = f.set_modified(m);
            }
        }
    }
    summary.manifest_digest = manifest::write(&digests, manifest).map_err(|e| werr(manifest, e))?;
    Ok(summary)
}

/// Size and mtime: what tells a file moved.
fn stat_of(p: &Path) -> Option<Stat> {
    // Followed: a file reached through a link out of the tree is compared with what was copied.
    let m = fs::metadata(p).ok()?;
    Some((m.len(), m.modified().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::pipeline::CHUNK;
    use sha2::{Digest, Sha256};

    fn sha(b: &[u8]) -> String {
        format!("{:x}", Sha256::digest(b))
    }

    fn copy(src: &Path, d: &Path) -> Result<(CopySummary, PathBuf, String), CopyError> {
        let dst = d.join("dst");
        let man = d.join("manifest.sha256");
        let s = copy_tree(src, &dst, &man, &|| false, &mut |_| {})?;
        Ok((s, dst, fs::read_to_string(&man).unwrap()))
    }

    #[test]
    fn copies_hashes_keeps_inside_links_and_skips_transients() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        fs::create_dir_all(src.join("image")).unwrap();
        fs::write(src.join("image/VERSION"), "clusterId=1\n").unwrap();
        fs::write(src.join("image/image.ckpt"), "partial").unwrap();
        std::os::unix::fs::symlink("image/VERSION", src.join("inside")).unwrap();
        fs::set_permissions(src.join("image/VERSION"), fs::Permissions::from_mode(0o600)).unwrap();
        let (s, dst, m) = copy(&src, d.path()).unwrap();
        assert_eq!(s.files, 1);
        assert_eq!(s.symlinks, 1);
        assert!(s.outside_links.is_empty());
        assert_eq!(s.skipped, vec!["image/image.ckpt".to_string()]);
        assert_eq!(
            fs::read_link(dst.join("inside")).unwrap(),
            Path::new("image/VERSION")
        );
        assert_eq!(
            fs::metadata(dst.join("image/VERSION")).unwrap().mode() & 0o777,
            0o600
        );
        assert_eq!(m, format!("{}  image/VERSION\n", sha(b"clusterId=1\n")));
    }

    /// The layout of issue 11: `image/VERSION` and `bdb/` on another disk. The copy must hold
    /// their content, so the tool's VERSION patch and the sandbox's journal writes stay in it.
    #[test]
    fn links_out_of_the_tree_are_copied_as_content() {
        let d = tempfile::tempdir().unwrap();
        let other = d.path().join("other-disk");
        fs::create_dir_all(other.join("bdb")).unwrap();
        fs::write(other.join("VERSION"), "clusterId=7\n").unwrap();
        fs::write(other.join("bdb/00000000.jdb"), "journal").unwrap();
        let src = d.path().join("src");
        fs::create_dir_all(src.join("image")).unwrap();
        std::os::unix::fs::symlink(other.join("VERSION"), src.join("image/VERSION")).unwrap();
        std::os::unix::fs::symlink("../other-disk/bdb", src.join("bdb")).unwrap();
        // An absolute link to a file inside the tree stays a link, re-aimed at the copy.
        fs::write(src.join("image/ROLE"), "role=FOLLOWER\n").unwrap();
        std::os::unix::fs::symlink(src.join("image/ROLE"), src.join("image/r2")).unwrap();
        let (s, dst, m) = copy(&src, d.path()).unwrap();
        for p in ["image/VERSION", "bdb"] {
            assert!(
                !fs::symlink_metadata(dst.join(p))
                    .unwrap()
                    .file_type()
                    .is_symlink(),
                "{p}"
            );
        }
        assert_eq!(
            fs::read_to_string(dst.join("bdb/00000000.jdb")).unwrap(),
            "journal"
        );
        assert_eq!(
            fs::read_link(dst.join("image/r2")).unwrap(),
            Path::new("../image/ROLE")
        );
        assert_eq!(
            fs::read_to_string(dst.join("image/r2")).unwrap(),
            "role=FOLLOWER\n"
        );
        assert_eq!(s.files, 3);
        assert_eq!(s.outside_links.len(), 2, "{:?}", s.outside_links);
        assert!(
            m.contains(&format!("{}  image/VERSION\n", sha(b"clusterId=7\n"))),
            "{m}"
        );
        assert!(
            m.contains(&format!("{}  bdb/00000000.jdb\n", sha(b"journal"))),
            "{m}"
        );
        // Writing into the copy leaves the other disk alone.
        fs::write(dst.join("image/VERSION"), "clusterId=123456\n").unwrap();
        fs::write(dst.join("bdb/00000001.jdb"), "new").unwrap();
        assert_eq!(
            fs::read_to_string(other.join("VERSION")).unwrap(),
            "clusterId=7\n"
        );
        assert!(!other.join("bdb/00000001.jdb").exists());
    }

    #[test]
    fn dangling_links_and_loops_are_refused() {
        let d = tempfile::tempdir().unwrap();
        type Make<'a> = &'a dyn Fn(&Path);
        let cases: [(&str, Make); 3] = [
            ("dangling", &|src| {
                std::os::unix::fs::symlink("nowhere", src.join("x")).unwrap()
            }),
            ("loop", &|src| {
                std::os::unix::fs::symlink("b", src.join("a")).unwrap();
                std::os::unix::fs::symlink("a", src.join("b")).unwrap();
            }),
            ("loop", &|src| {
                std::os::unix::fs::symlink("..", src.join("image/up")).unwrap()
            }),
        ];
        for (i, (want, make)) in cases.iter().enumerate() {
            let src = d.path().join(format!("src{i}"));
            fs::create_dir_all(src.join("image")).unwrap();
            make(&src);
            let out = d.path().join(format!("out{i}"));
            fs::create_dir_all(&out).unwrap();
            let e = copy(&src, &out).unwrap_err();
            assert!(e.is_bad_input(), "{e}");
            assert!(e.to_string().contains(want), "{e}");
        }
    }

    #[test]
    fn a_symlinked_root_is_copied() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("real");
        fs::create_dir_all(real.join("image")).unwrap();
        fs::write(real.join("image/VERSION"), "clusterId=1\n").unwrap();
        let link = d.path().join("meta");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let (s, dst, _) = copy(&link, d.path()).unwrap();
        assert_eq!(s.files, 1);
        assert!(dst.join("image/VERSION").is_file());
    }

    #[test]
    fn every_copied_file_has_one_method_and_the_source_bytes() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        fs::create_dir_all(src.join("bdb")).unwrap();
        fs::write(src.join("empty"), "").unwrap();
        // Larger than one chunk, so the method is decided across chunks.
        let big: Vec<u8> = (0..(CHUNK + 4097)).map(|i| (i % 251) as u8).collect();
        fs::write(src.join("bdb/00000000.jdb"), &big).unwrap();
        let dst = d.path().join("dst");
        let s = copy_tree(&src, &dst, &d.path().join("m"), &|| false, &mut |_| {}).unwrap();
        let m = s.methods;
        assert_eq!(m.clone + m.copy_file_range + m.stream, 2, "{m:?}");
        assert_eq!(fs::read(dst.join("bdb/00000000.jdb")).unwrap(), big);
        assert_eq!(fs::read(dst.join("empty")).unwrap(), b"");
        assert!(!m.describe().is_empty());
    }
}
