//! Run folders, the verified meta copy, and `run.json`.
//!
//! Each run owns `<root>/sr-rehearse-<UTC timestamp>-<random>/`. The meta is copied there in one
//! streaming pass that hashes what it reads (so the manifest is the hash of the source bytes, not a
//! second read of the copy), keeps symlinks as symlinks, keeps modes and mtimes, and then checks
//! that the source did not change underneath it. `run.json` records the pids and ports of the run so
//! `sr-rehearse clean` can finish a run whose tool was killed.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
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
}

impl CopyError {
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
    /// Symlinks whose target is outside the tree (copied as links, never followed).
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
        match fs::create_dir(&dir) {
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

fn link_escapes(rel_parent: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return true;
    }
    let mut depth: i64 = rel_parent.components().count() as i64;
    for c in target.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return true;
        }
    }
    false
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

/// Copies `src` into `dst` (which must not exist), writing `manifest` in `sha256sum -c` form.
/// Files are copied in [`copy_rank`] order; files whose size or mtime moved while the copy ran are
/// copied again, up to [`RECOPY_ROUNDS`] times. `interrupted` is polled between chunks;
/// `progress` gets the bytes copied so far.
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
    let mut dirs: Vec<(PathBuf, fs::Metadata)> = Vec::new();
    let mut files: Vec<(PathBuf, fs::Metadata)> = Vec::new();
    for entry in walkdir::WalkDir::new(src)
        .follow_links(false)
        .sort_by_file_name()
    {
        if interrupted() {
            return Err(CopyError::Interrupted);
        }
        let entry = entry.map_err(|e| {
            let p = e.path().unwrap_or(src).to_path_buf();
            CopyError::Read(
                p,
                e.into_io_error()
                    .unwrap_or_else(|| io::Error::other("walk failed")),
            )
        })?;
        let rel = entry
            .path()
            .strip_prefix(src)
            .unwrap_or(entry.path())
            .to_path_buf();
        let target = dst.join(&rel);
        let meta = entry
            .path()
            .symlink_metadata()
            .map_err(|e| CopyError::Read(entry.path().to_path_buf(), e))?;
        let ft = meta.file_type();
        if ft.is_dir() {
            fs::create_dir_all(&target).map_err(|e| werr(&target, e))?;
            dirs.push((target, meta));
        } else if ft.is_symlink() {
            let to = fs::read_link(entry.path())
                .map_err(|e| CopyError::Read(entry.path().to_path_buf(), e))?;
            std::os::unix::fs::symlink(&to, &target).map_err(|e| werr(&target, e))?;
            summary.symlinks += 1;
            if link_escapes(rel.parent().unwrap_or(Path::new("")), &to) {
                summary
                    .outside_links
                    .push(format!("{} -> {}", rel.display(), to.display()));
            }
        } else if ft.is_file() {
            if is_transient(&entry.file_name().to_string_lossy()) {
                summary.skipped.push(rel.display().to_string());
            } else {
                files.push((rel, meta));
            }
        }
    }
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
    summary.manifest_digest = Sha256::digest(lines.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(summary)
}

/// Size and mtime: what tells a file moved.
type Stat = (u64, Option<SystemTime>);

fn stat_of(p: &Path) -> Option<Stat> {
    let m = fs::symlink_metadata(p).ok()?;
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

/// Copies a release folder (`bin/`, `conf/`, `lib/`) from `from` to `to`: symlinks stay links,
/// modes are kept, and pid files are left behind so a copy never looks like a running server.
pub fn copy_release_dir(from: &Path, to: &Path) -> io::Result<()> {
    for e in walkdir::WalkDir::new(from).follow_links(false) {
        let e = e?;
        let dest = to.join(e.path().strip_prefix(from).unwrap_or(e.path()));
        if e.file_type().is_dir() {
            fs::create_dir_all(&dest)?;
        } else if e.file_type().is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(e.path())?, &dest)?;
        } else if !e.file_name().to_string_lossy().ends_with(".pid") {
            fs::copy(e.path(), &dest)?;
            let mode = e.metadata()?.permissions().mode();
            fs::set_permissions(&dest, fs::Permissions::from_mode(mode))?;
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
    pub pids: Vec<i32>,
    pub ports: Vec<u16>,
    pub started_at: String,
}

/// The start time of `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat).
pub fn process_start_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')')
        .next()?
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
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

    #[test]
    fn copies_hashes_keeps_links_and_skips_transients() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        fs::create_dir_all(src.join("image")).unwrap();
        fs::write(src.join("image/VERSION"), "clusterId=1\n").unwrap();
        fs::write(src.join("image/image.ckpt"), "partial").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("outside")).unwrap();
        std::os::unix::fs::symlink("image/VERSION", src.join("inside")).unwrap();
        fs::set_permissions(src.join("image/VERSION"), fs::Permissions::from_mode(0o600)).unwrap();
        let dst = d.path().join("dst");
        let man = d.path().join("manifest.sha256");
        let s = copy_tree(&src, &dst, &man, &|| false, &mut |_| {}).unwrap();
        assert_eq!(s.files, 1);
        assert_eq!(s.symlinks, 2);
        assert_eq!(s.outside_links, vec!["outside -> /etc/passwd".to_string()]);
        assert_eq!(s.skipped, vec!["image/image.ckpt".to_string()]);
        assert!(fs::symlink_metadata(dst.join("outside"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(
            fs::metadata(dst.join("image/VERSION")).unwrap().mode() & 0o777,
            0o600
        );
        let m = fs::read_to_string(&man).unwrap();
        let want: String = Sha256::digest(b"clusterId=1\n")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(m, format!("{want}  image/VERSION\n"));
    }

    #[test]
    fn escaping_links() {
        assert!(link_escapes(Path::new(""), Path::new("../x")));
        assert!(!link_escapes(Path::new("a"), Path::new("../x")));
        assert!(link_escapes(Path::new("a"), Path::new("../../x")));
        assert!(link_escapes(Path::new("a"), Path::new("/abs")));
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
