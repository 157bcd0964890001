//! One file's copy: the bytes read once, hashed as they go, and cloned or written by the
//! [`pipeline`](super::pipeline), with the source's size and mtime before and after.
//!
//! The tree copy (`copy.rs`) decides what to copy and in what order, a round (`round.rs`)
//! on how many pipelines; both rest on this file, which calls neither.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::links::LinkProblem;
use super::manifest::CopyMethod;
use super::pipeline::{Pipeline, Sink, CHUNK};

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

impl CopyError {
    /// A problem of the source the user gave (a dangling link, a loop), not of this host.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, CopyError::Link(..))
    }

    pub fn is_no_space(&self) -> bool {
        matches!(self, CopyError::Write(_, e) if e.raw_os_error() == Some(nix::libc::ENOSPC))
    }
}

/// What copying one file gave.
pub(super) struct Copied {
    pub digest: String,
    /// The source's (size, mtime) when its copy began.
    pub before: Stat,
    /// The source changed while it was copied.
    pub moved: bool,
    pub method: CopyMethod,
}

pub(super) type Stat = (u64, Option<SystemTime>);

/// Copies one file, hashing the bytes as they are read: its digest, the source's (size, mtime)
/// when the copy began, whether it moved while being copied, and how it was copied.
pub(super) fn copy_file(
    from: &Path,
    to: &Path,
    pipe: &Pipeline,
    interrupted: &dyn Fn() -> bool,
    progress: &mut dyn FnMut(u64),
) -> Result<Copied, CopyError> {
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
        return Ok(Copied {
            digest,
            before: (u64::MAX, None),
            moved: true,
            method,
        });
    }
    Ok(Copied {
        digest,
        before,
        moved,
        method,
    })
}

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
