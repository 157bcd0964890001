//! Run folders, the verified meta copy, and `run.json`.
//!
//! Each run owns `<root>/sr-rehearse-<UTC timestamp>-<random>/`. The meta is copied there in one
//! pass that hashes what it reads (so the manifest is the hash of the source bytes, not a second
//! read of the copy), clones each file where the filesystem can, keeps links that stay inside the
//! tree as links and copies what links outside it point to, keeps modes and mtimes, and then checks
//! that the source did not change underneath it. `run.json` records the pids and ports of the run so
//! `sr-rehearse clean` can finish a run whose tool was killed.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::timefmt::Civil;

pub const PREFIX: &str = "sr-rehearse-";
pub const RUN_FILE: &str = "run.json";

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("failed to read {0}: {1}")]
    Read(PathBuf, #[source] io::Error),
    #[error("failed to write {0}: {1}")]
    Write(PathBuf, #[source] io::Error),
    #[error("interrupted")]
    Interrupted,
    #[error("failed to copy the symlink {0}: it {1}; make it point to an existing file or folder, or remove it")]
    Link(PathBuf, LinkProblem),
}

/// What is wrong with a symlink of a tree to copy; reads after "the symlink PATH".
#[derive(Debug, thiserror::Error)]
pub enum LinkProblem {
    #[error("cannot be read ({0})")]
    Unreadable(#[source] io::Error),
    #[error("is a symlink loop (-> {})", .0.display())]
    SelfLoop(PathBuf),
    #[error("is dangling: its target {} does not exist", .0.display())]
    Dangling(PathBuf),
    #[error("cannot be resolved ({0})")]
    Unresolvable(#[source] io::Error),
    #[error("is a loop: it points to {}, a folder that contains it", .0.display())]
    ContainsItself(PathBuf),
    #[error("is a loop: it points to {}, which contains the folder being copied", .0.display())]
    ContainsCopy(PathBuf),
    #[error("points to {}, which is neither a file nor a folder", .0.display())]
    Special(PathBuf),
}

impl CopyError {
    /// A problem of the source the user gave (a dangling link, a loop), not of this host.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, CopyError::Link(..))
    }

    pub fn is_no_space(&self) -> bool {
        matches!(self, CopyError::Write(_, e) if e.raw_os_error() == Some(nix::libc::ENOSPC))
    }
}

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
    fn add(&mut self, m: CopyMethod) {
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

/// What a symlink of a copied tree becomes in the copy. Nothing in a workspace may resolve outside
/// it: a link that stays inside the tree stays a link (re-aimed at the copy), one that leaves the
/// tree is copied as what it points to, and one that resolves to nothing is refused.
enum LinkRule {
    /// Keep as a link with this (relative) text.
    Inside(PathBuf),
    /// Copy the content of this file (canonical path).
    OutsideFile(PathBuf),
    /// Copy this folder (canonical path) in place of the link.
    OutsideDir(PathBuf),
}

/// Decides [`LinkRule`] for the link at `disk` that lands at `rel` in the copy of `root`
/// (canonical). `expanding` holds the canonical folders being copied, to tell a loop. The error
/// says what is wrong with the link.
fn link_rule(
    root: &Path,
    disk: &Path,
    rel: &Path,
    expanding: &[PathBuf],
) -> Result<LinkRule, LinkProblem> {
    let text = fs::read_link(disk).map_err(LinkProblem::Unreadable)?;
    let target = match fs::canonicalize(disk) {
        Ok(t) => t,
        Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
            return Err(LinkProblem::SelfLoop(text))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(LinkProblem::Dangling(text)),
        Err(e) => return Err(LinkProblem::Unresolvable(e)),
    };
    let meta = fs::metadata(&target).map_err(LinkProblem::Unresolvable)?;
    let parent = rel.parent().unwrap_or(Path::new(""));
    if let Ok(inside) = target.strip_prefix(root) {
        if meta.is_dir() && parent.starts_with(inside) {
            return Err(LinkProblem::ContainsItself(text));
        }
        let mut rel_text = PathBuf::new();
        for _ in parent.components() {
            rel_text.push("..");
        }
        rel_text.push(inside);
        if rel_text.as_os_str().is_empty() {
            rel_text.push(".");
        }
        return Ok(LinkRule::Inside(rel_text));
    }
    if meta.is_dir() {
        if expanding.iter().any(|d| d.starts_with(&target)) {
            return Err(LinkProblem::ContainsCopy(target));
        }
        Ok(LinkRule::OutsideDir(target))
    } else if meta.is_file() {
        Ok(LinkRule::OutsideFile(target))
    } else {
        Err(LinkProblem::Special(target))
    }
}

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
    interrupted: &dyn Fn() -> bool,
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
        for rel in &pending {
            let (digest, before, moved, method) = copy_file(
                &src.join(rel),
                &dst.join(rel),
                &pipe,
                interrupted,
                &mut |n| {
                    summary.bytes += n;
                    progress(summary.bytes);
                },
            )?;
            if moved {
                changed.insert(rel.display().to_string());
            }
            seen.insert(rel.clone(), before);
            digests.insert(rel.clone(), digest);
            methods.insert(rel.clone(), method);
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
    let lines: String = digests
        .iter()
        .map(|(rel, d)| format!("{d}  {}\n", rel.display()))
        .collect();
    fs::write(manifest, &lines).map_err(|e| werr(manifest, e))?;
    summary.manifest_digest = format!("{:x}", Sha256::digest(lines.as_bytes()));
    Ok(summary)
}

/// Size and mtime: what tells a file moved.
type Stat = (u64, Option<SystemTime>);

fn stat_of(p: &Path) -> Option<Stat> {
    // Followed: a file reached through a link out of the tree is compared with what was copied.
    let m = fs::metadata(p).ok()?;
    Some((m.len(), m.modified().ok()))
}

/// Copies one file, hashing the bytes as they are read. Returns the digest, the source's
/// (size, mtime) when the copy began, whether it moved while being copied, and how it was copied.
fn copy_file(
    from: &Path,
    to: &Path,
    pipe: &Pipeline,
    interrupted: &dyn Fn() -> bool,
    progress: &mut dyn FnMut(u64),
) -> Result<(String, Stat, bool, CopyMethod), CopyError> {
    let rerr = |e| CopyError::Read(from.to_path_buf(), e);
    let werr = |e| CopyError::Write(to.to_path_buf(), e);
    let mut input = File::open(from).map_err(rerr)?;
    let meta = input
        .metadata()
        .map_err(|e| CopyError::Read(from.to_path_buf(), e))?;
    let before = (meta.len(), meta.modified().ok());
    let _ = nix::fcntl::posix_fadvise(
        input.as_raw_fd(),
        0,
        0,
        nix::fcntl::PosixFadviseAdvice::POSIX_FADV_SEQUENTIAL,
    );
    let out = File::create(to).map_err(werr)?;
    let cloned = pipe.try_clone(&input, &out, before.0).map_err(werr)?;
    let sink = if cloned {
        Sink::Cloned(out)
    } else {
        // The writer stage copies each chunk with copy_file_range from its own handle on the
        // source, at the chunk's offset, so the reader's position is never shared.
        let source = input.try_clone().ok();
        Sink::Write { out, source }
    };
    pipe.begin(sink);
    // Copy the file as it was when opened: a file that keeps growing is caught by the re-check
    // and copied again, instead of being chased to an end that never comes.
    let mut total = 0u64;
    let mut read_error = None;
    loop {
        let mut buf = pipe.free_buffer();
        let n = match read_full(&mut input, &mut buf, before.0 - total) {
            Ok(n) => n,
            Err(e) => {
                read_error = Some(e);
                0
            }
        };
        if n == 0 {
            pipe.recycle(buf);
            break;
        }
        buf.truncate(n);
        pipe.chunk(buf);
        total += n as u64;
        progress(n as u64);
        if interrupted() {
            let _ = pipe.end();
            return Err(CopyError::Interrupted);
        }
    }
    let (digest, out) = pipe.end();
    if let Some(e) = read_error {
        return Err(CopyError::Read(from.to_path_buf(), e));
    }
    let (out, method) = out.map_err(werr)?;
    out.set_permissions(fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(werr)?;
    if let Some(m) = before.1 {
        let _ = out.set_modified(m);
    }
    let after = input
        .metadata()
        .map_err(|e| CopyError::Read(from.to_path_buf(), e))?;
    let moved = (after.len(), after.modified().ok()) != before || total != before.0;
    if total < before.0 {
        // The file shrank while it was read: a torn copy is worse than a retry.
        return Ok((digest, (u64::MAX, None), true, method));
    }
    Ok((digest, before, moved, method))
}

const CHUNK: usize = 4 << 20;
const BUFFERS: usize = 4;

/// Reads until `buf` holds `want` bytes (at most CHUNK) or the file ends; returns the bytes read.
fn read_full(f: &mut File, buf: &mut Vec<u8>, want: u64) -> io::Result<usize> {
    let want = (want.min(CHUNK as u64)) as usize;
    buf.resize(want, 0);
    let mut filled = 0;
    while filled < want {
        match f.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Whether an error from FICLONE or copy_file_range means "this filesystem pair cannot do it"
/// (so the next method is tried) rather than a real failure of the copy.
fn unsupported(e: nix::errno::Errno) -> bool {
    use nix::errno::Errno;
    matches!(
        e,
        Errno::EOPNOTSUPP
            | Errno::EXDEV
            | Errno::EINVAL
            | Errno::ENOSYS
            | Errno::ENOTTY
            | Errno::EPERM
    )
}

/// Where the writer stage puts a file's chunks.
enum Sink {
    /// The copy already shares the source's extents: chunks are only hashed.
    Cloned(File),
    /// Chunks are written, with copy_file_range from `source` where the kernel can.
    Write { out: File, source: Option<File> },
}

enum Msg {
    Begin(Sink),
    Chunk(Vec<u8>),
    End,
}

/// The copy as three stages on three threads: the caller reads, one thread hashes what was read,
/// another writes it, so reading the next chunk overlaps hashing and writing the last ones. A fixed
/// pool of buffers travels round the stages, which bounds memory to `BUFFERS * CHUNK` whatever the
/// meta size, and the hash is always of the bytes read from the source.
struct Pipeline {
    to_hasher: Option<std::sync::mpsc::SyncSender<Msg>>,
    free: std::sync::mpsc::Receiver<Vec<u8>>,
    digests: std::sync::mpsc::Receiver<String>,
    written: std::sync::mpsc::Receiver<io::Result<(File, CopyMethod)>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    /// Cleared at the first FICLONE this filesystem pair refuses, so the other files of the tree
    /// do not ask again.
    clone_ok: std::cell::Cell<bool>,
}

/// The writer stage's state for the file being copied.
struct Writing {
    out: File,
    source: Option<File>,
    offset: u64,
    /// Every chunk so far went through copy_file_range.
    ranged: bool,
    error: Option<io::Error>,
}

impl Writing {
    fn chunk(&mut self, buf: &[u8], range_ok: &mut bool) {
        if self.error.is_some() {
            return;
        }
        let mut done = 0usize;
        if *range_ok {
            if let Some(src) = &self.source {
                while done < buf.len() {
                    let mut off_in = (self.offset + done as u64) as i64;
                    let mut off_out = off_in;
                    match nix::fcntl::copy_file_range(
                        src,
                        Some(&mut off_in),
                        &self.out,
                        Some(&mut off_out),
                        buf.len() - done,
                    ) {
                        Ok(0) => break,
                        Ok(n) => done += n,
                        Err(nix::errno::Errno::EINTR) => {}
                        Err(e) if unsupported(e) => {
                            *range_ok = false;
                            break;
                        }
                        Err(e) => {
                            self.error = Some(e.into());
                            return;
                        }
                    }
                }
            }
        }
        if done < buf.len() {
            // The source may have shrunk under copy_file_range, or the kernel refused it: the
            // bytes that were hashed are what the copy must hold, so write them.
            self.ranged = false;
            if let Err(e) = self
                .out
                .write_all_at(&buf[done..], self.offset + done as u64)
            {
                self.error = Some(e);
                return;
            }
        }
        self.offset += buf.len() as u64;
    }
}

impl Pipeline {
    fn start() -> Pipeline {
        use std::sync::mpsc;
        let (to_hasher, hasher_rx) = mpsc::sync_channel::<Msg>(BUFFERS + 2);
        let (to_writer, writer_rx) = mpsc::sync_channel::<Msg>(BUFFERS + 2);
        let (free_tx, free) = mpsc::channel();
        let (dig_tx, digests) = mpsc::channel();
        let (done_tx, written) = mpsc::channel();
        for _ in 0..BUFFERS {
            let _ = free_tx.send(Vec::with_capacity(CHUNK));
        }
        let hasher = std::thread::spawn(move || {
            let mut h = Sha256::new();
            for msg in hasher_rx {
                match msg {
                    Msg::Chunk(buf) => {
                        h.update(&buf);
                        let _ = to_writer.send(Msg::Chunk(buf));
                    }
                    Msg::End => {
                        let d = std::mem::replace(&mut h, Sha256::new()).finalize();
                        let _ = dig_tx.send(format!("{d:x}"));
                        let _ = to_writer.send(Msg::End);
                    }
                    begin => {
                        let _ = to_writer.send(begin);
                    }
                }
            }
        });
        let writer = std::thread::spawn(move || {
            let mut cloned: Option<File> = None;
            let mut writing: Option<Writing> = None;
            // Cleared at the first copy_file_range the filesystem pair refuses.
            let mut range_ok = true;
            for msg in writer_rx {
                match msg {
                    Msg::Begin(Sink::Cloned(f)) => cloned = Some(f),
                    Msg::Begin(Sink::Write { out, source }) => {
                        writing = Some(Writing {
                            out,
                            source,
                            offset: 0,
                            ranged: true,
                            error: None,
                        })
                    }
                    Msg::Chunk(buf) => {
                        if let Some(w) = writing.as_mut() {
                            w.chunk(&buf, &mut range_ok);
                        }
                        let _ = free_tx.send(buf);
                    }
                    Msg::End => {
                        let result = match (cloned.take(), writing.take()) {
                            (Some(f), _) => Ok((f, CopyMethod::Clone)),
                            (None, Some(w)) => match w.error {
                                Some(e) => Err(e),
                                // An empty file had nothing to range-copy: it was written.
                                None if w.ranged && w.offset > 0 => {
                                    Ok((w.out, CopyMethod::CopyFileRange))
                                }
                                None => Ok((w.out, CopyMethod::Stream)),
                            },
                            (None, None) => Err(io::Error::other("no file was open")),
                        };
                        let _ = done_tx.send(result);
                    }
                }
            }
        });
        Pipeline {
            to_hasher: Some(to_hasher),
            free,
            digests,
            written,
            threads: vec![hasher, writer],
            clone_ok: std::cell::Cell::new(true),
        }
    }

    /// Makes `out` share `input`'s extents where the filesystem can, cut to `len` (the size the
    /// hash will cover, should the source have grown since it was measured). Ok(false): the
    /// filesystem cannot clone, copy the bytes instead.
    fn try_clone(&self, input: &File, out: &File, len: u64) -> io::Result<bool> {
        if !self.clone_ok.get() {
            return Ok(false);
        }
        // SAFETY: FICLONE takes the source descriptor as its integer argument and reads nothing
        // else from this process's memory; both descriptors are open for the whole call.
        let rc = unsafe {
            nix::libc::ioctl(out.as_raw_fd(), nix::libc::FICLONE as _, input.as_raw_fd())
        };
        if rc == 0 {
            out.set_len(len)?;
            return Ok(true);
        }
        let e = nix::errno::Errno::last();
        if unsupported(e) {
            self.clone_ok.set(false);
            return Ok(false);
        }
        Err(e.into())
    }

    fn send(&self, msg: Msg) {
        if let Some(to) = &self.to_hasher {
            let _ = to.send(msg);
        }
    }

    fn begin(&self, sink: Sink) {
        self.send(Msg::Begin(sink));
    }

    fn free_buffer(&self) -> Vec<u8> {
        self.free
            .recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK))
    }

    /// Returns an unused buffer to the pool (through the stages, as an empty chunk).
    fn recycle(&self, mut buf: Vec<u8>) {
        buf.clear();
        self.send(Msg::Chunk(buf));
    }

    fn chunk(&self, buf: Vec<u8>) {
        self.send(Msg::Chunk(buf));
    }

    /// Ends the current file: its digest, and the written file with how it was copied (or the
    /// write error).
    fn end(&self) -> (String, io::Result<(File, CopyMethod)>) {
        self.send(Msg::End);
        let digest = self.digests.recv().unwrap_or_default();
        let file = self
            .written
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("the writer thread stopped")));
        (digest, file)
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.to_hasher.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Where one entry of an unpacked release goes in a sandbox home.
#[derive(Debug, Clone, Copy)]
pub enum Place {
    /// A folder copied by [`copy_release_dir`]: what the sandbox writes beside (pid files in
    /// `bin/`) or rewrites (`conf/`) must not be the package's.
    Copy,
    /// A file copied (a start script may chmod it).
    CopyFile,
    /// A symlink to the package's entry: content the sandbox only reads.
    Link,
    /// An empty folder: one the server writes into at run time.
    Empty,
    /// Nothing: made by the layout itself, or of no use to the sandbox.
    Skip,
    /// A folder of the home's own, its entries placed by this rule.
    Within(fn(&str) -> Place),
}

/// How a release is laid out in a sandbox home.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// Folders made first, relative to the home.
    pub made: &'static [&'static str],
    /// Where each entry of the release's top folder goes, by name.
    pub place: fn(&str) -> Place,
}

/// Lays the release `pkg` out in the sandbox home `home` per `layout`.
pub fn lay_out(pkg: &Path, home: &Path, layout: &Layout) -> io::Result<()> {
    let pkg = fs::canonicalize(pkg)?;
    for d in layout.made {
        fs::create_dir_all(home.join(d))?;
    }
    place_entries(&pkg, home, layout.place)
}

fn place_entries(from: &Path, to: &Path, place: fn(&str) -> Place) -> io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let dest = to.join(&name);
        match place(&name.to_string_lossy()) {
            Place::Copy => copy_release_dir(&entry.path(), &dest)?,
            Place::CopyFile => {
                fs::copy(entry.path(), &dest)?;
            }
            Place::Link => std::os::unix::fs::symlink(entry.path(), &dest)?,
            Place::Empty => fs::create_dir_all(&dest)?,
            Place::Skip => {}
            Place::Within(inner) => {
                fs::create_dir_all(&dest)?;
                place_entries(&entry.path(), &dest, inner)?;
            }
        }
    }
    Ok(())
}

/// Copies a release folder (`bin/`, `conf/`, `lib/`) from `from` to `to`: modes are kept, pid
/// files are left behind so a copy never looks like a running server, and symlinks follow
/// [`LinkRule`] (a link out of the folder is copied as its content, so the sandbox never writes
/// through it; a dangling link or a loop is an `InvalidInput` error).
pub fn copy_release_dir(from: &Path, to: &Path) -> io::Result<()> {
    let root = fs::canonicalize(from)?;
    fs::create_dir_all(to)?;
    copy_release_level(&root, &root, Path::new(""), to, &mut vec![root.clone()])
}

fn copy_release_level(
    root: &Path,
    disk: &Path,
    rel: &Path,
    to: &Path,
    expanding: &mut Vec<PathBuf>,
) -> io::Result<()> {
    let mut entries: Vec<fs::DirEntry> = fs::read_dir(disk)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let rel = rel.join(e.file_name());
        let dest = to.join(&rel);
        let ft = e.file_type()?;
        let copy_file = |from: &Path| -> io::Result<()> {
            fs::copy(from, &dest)?;
            let mode = fs::metadata(from)?.permissions().mode();
            fs::set_permissions(&dest, fs::Permissions::from_mode(mode))
        };
        if ft.is_dir() {
            fs::create_dir_all(&dest)?;
            copy_release_level(root, &path, &rel, to, expanding)?;
        } else if ft.is_symlink() {
            let rule = link_rule(root, &path, &rel, expanding).map_err(|why| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("the symlink {} {why}", path.display()),
                )
            })?;
            match rule {
                LinkRule::Inside(text) => std::os::unix::fs::symlink(text, &dest)?,
                LinkRule::OutsideFile(t) => copy_file(&t)?,
                LinkRule::OutsideDir(t) => {
                    fs::create_dir_all(&dest)?;
                    expanding.push(t.clone());
                    copy_release_level(root, &t, &rel, to, expanding)?;
                    expanding.pop();
                }
            }
        } else if !e.file_name().to_string_lossy().ends_with(".pid") {
            copy_file(&path)?;
        }
    }
    Ok(())
}

/// The state file of a run, read by `clean`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunState {
    pub tool_pid: u32,
    /// The tool's start time in clock ticks since boot, to tell a reused pid apart.
    pub tool_start_ticks: u64,
    pub phase: String,
    pub pgid: Option<i32>,
    /// The group leader's start time in clock ticks since boot: `clean` signals the group only
    /// while this still matches, so a recycled pgid is never mistaken for the sandbox.
    #[serde(default)]
    pub pgid_start_ticks: Option<u64>,
    pub pids: Vec<i32>,
    pub ports: Vec<u16>,
    pub started_at: String,
}

/// The start time of `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat).
pub fn process_start_ticks(pid: u32) -> Option<u64> {
    Some(crate::procfs::stat(i32::try_from(pid).ok()?)?.start_ticks)
}

pub fn write_run_state(dir: &Path, st: &RunState) -> io::Result<()> {
    let tmp = dir.join(".run.json.tmp");
    fs::write(
        &tmp,
        serde_json::to_vec_pretty(st).map_err(io::Error::other)?,
    )?;
    fs::rename(tmp, dir.join(RUN_FILE))
}

pub fn read_run_state(dir: &Path) -> Option<RunState> {
    serde_json::from_slice(&fs::read(dir.join(RUN_FILE)).ok()?).ok()
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn release_dir_links_out_are_copied_and_dangling_ones_refused() {
        let d = tempfile::tempdir().unwrap();
        let other = d.path().join("elsewhere");
        fs::create_dir_all(&other).unwrap();
        fs::write(other.join("fe.conf"), "x = 1\n").unwrap();
        let from = d.path().join("conf");
        fs::create_dir_all(&from).unwrap();
        std::os::unix::fs::symlink(other.join("fe.conf"), from.join("fe.conf")).unwrap();
        fs::write(from.join("be.conf"), "y = 2\n").unwrap();
        std::os::unix::fs::symlink("be.conf", from.join("alias.conf")).unwrap();
        let to = d.path().join("copy");
        copy_release_dir(&from, &to).unwrap();
        assert!(!fs::symlink_metadata(to.join("fe.conf"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(
            fs::read_link(to.join("alias.conf")).unwrap(),
            Path::new("be.conf")
        );
        std::os::unix::fs::symlink("missing", from.join("bad")).unwrap();
        let e = copy_release_dir(&from, &d.path().join("copy2")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
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
