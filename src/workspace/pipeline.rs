//! How the copied bytes reach the workspace: a three-stage pipeline (read, hash, write) over a
//! fixed pool of buffers, and the cheapest way the filesystem pair allows to put a file's bytes in
//! the copy: a clone (`FICLONE`), `copy_file_range`, or plain writes.
//!
//! It exists apart from the copy's walk so the tricky part, threads and buffers and the fall-backs
//! between kernel calls, can be read on its own; the hash is always of the bytes read from the
//! source, whatever the method.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

use sha2::{Digest, Sha256};

use super::manifest::CopyMethod;

pub(super) const CHUNK: usize = 4 << 20;
const BUFFERS: usize = 4;

/// Whether an error from FICLONE or copy_file_range means "this filesystem pair cannot do it"
/// (so the next method is tried) rather than a real failure of the copy.
pub(super) fn unsupported(e: nix::errno::Errno) -> bool {
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
pub(super) enum Sink {
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
pub(super) struct Pipeline {
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
    pub(super) fn start() -> Pipeline {
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
    pub(super) fn try_clone(&self, input: &File, out: &File, len: u64) -> io::Result<bool> {
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

    pub(super) fn begin(&self, sink: Sink) {
        self.send(Msg::Begin(sink));
    }

    pub(super) fn free_buffer(&self) -> Vec<u8> {
        self.free
            .recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK))
    }

    /// Returns an unused buffer to the pool (through the stages, as an empty chunk).
    pub(super) fn recycle(&self, mut buf: Vec<u8>) {
        buf.clear();
        self.send(Msg::Chunk(buf));
    }

    pub(super) fn chunk(&self, buf: Vec<u8>) {
        self.send(Msg::Chunk(buf));
    }

    /// Ends the current file: its digest, and the written file with how it was copied (or the
    /// write error).
    pub(super) fn end(&self) -> (String, io::Result<(File, CopyMethod)>) {
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
