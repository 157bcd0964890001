//! Opening what `scan` reads, and telling an FE log from a BE log.
//!
//! Inputs are files, rotated and gzip-compressed logs, FIFOs and standard input. Each is opened once
//! and never reread, so a pipe loses no bytes; a pipe is polled before each read so that a signal
//! ends the scan even while no data arrives. A FIFO is opened without waiting for its writer: a
//! blocking open() would sit in the kernel until one comes, and the signal handlers (installed with
//! `SA_RESTART`) would only restart it. A log whose name says nothing is recognised by its first
//! lines.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::path::Path;

use crate::report::exit;
use crate::watch::catalog::{classify, Role};
use crate::watch::record::record_prefix_len;

/// Why one file could not be scanned.
#[derive(Debug, thiserror::Error)]
pub(super) enum FileError {
    #[error("failed to open {0}: {1}; check the path and that it is readable")]
    Open(String, #[source] io::Error),
    #[error("failed to scan {0}: it is a directory; name the log files in it (e.g. {0}/fe.log*)")]
    Directory(String),
    #[error("failed to decompress {0}: not a valid gzip file ({1}); check the file or scan the uncompressed log")]
    Gzip(String, #[source] io::Error),
    #[error("failed to read {0}: {1}")]
    Read(String, #[source] io::Error),
    #[error("cannot tell whether {0} is an FE or a BE log from its name or its first lines; pass --role fe or --role be")]
    UnknownRole(String),
    #[error("interrupted")]
    Interrupted(i32),
}

impl FileError {
    pub(super) fn exit_code(&self) -> i32 {
        match self {
            FileError::Read(..) => exit::ENVIRONMENT,
            FileError::Interrupted(sig) => 128 + sig,
            _ => exit::BAD_INPUT,
        }
    }
}

/// The role a file's name implies: `fe.log.20240101-1`, `be.WARNING.log.20240101-120000`,
/// `node3-fe.out.gz`, …
pub fn role_from_name(p: &Path) -> Option<Role> {
    let name = p.file_name()?.to_string_lossy().to_ascii_lowercase();
    let has = |stem: &str| {
        name.match_indices(stem)
            .any(|(i, _)| i == 0 || matches!(name.as_bytes()[i - 1], b'.' | b'-' | b'_'))
    };
    if ["fe.log", "fe.warn.log", "fe.out"].iter().any(|s| has(s)) {
        Some(Role::Fe)
    } else if [
        "be.info",
        "be.warning",
        "be.out",
        "cn.info",
        "cn.warning",
        "cn.out",
    ]
    .iter()
    .any(|s| has(s))
    {
        Some(Role::Be)
    } else {
        None
    }
}

/// What follows the timestamp of an FE record: the zone (3.x may print one), the level and the
/// `(thread|id)` log4j's pattern puts next.
fn fe_record_tail() -> &'static regex::bytes::Regex {
    static R: std::sync::OnceLock<regex::bytes::Regex> = std::sync::OnceLock::new();
    R.get_or_init(|| {
        regex::bytes::Regex::new(r"^(?:Z|[+-]\d\d:\d\d)? (?:INFO|WARN|ERROR|DEBUG|FATAL|TRACE) \(")
            .expect("compiles")
    })
}

/// The role a log's first lines imply: log4j records are the FE's (a supervisord line, with the
/// same timestamp, goes by its program name), glog records the BE's; the
/// start scripts' own lines mark fe.out (`using java version`, JVM options) and be.out
/// (`start time: …, server uptime: …`); failing that, which role's catalog entries match.
pub fn role_from_content(sample: &[u8]) -> Option<Role> {
    let (mut fe, mut be) = (0usize, 0usize);
    for line in sample.split(|&b| b == b'\n').take(2000) {
        if let Some(n) = record_prefix_len(line) {
            if !line[0].is_ascii_digit() {
                be += 2;
                continue;
            }
            if fe_record_tail().is_match(&line[n..]) {
                fe += 2;
                continue;
            }
            // The same timestamp without an FE record after it: supervisord's own log (the
            // allin1 image runs the FE and the BE under it), whose program names say whose line
            // it is (`exited: beservice (terminated by SIGILL (core dumped); not expected)`).
            let text = String::from_utf8_lossy(line);
            if text.contains("beservice") {
                be += 2;
            } else if text.contains("feservice") {
                fe += 2;
            }
            fe += classify(&text, Role::Fe).len();
            be += classify(&text, Role::Be).len();
            continue;
        }
        let text = String::from_utf8_lossy(line);
        if text.starts_with("using java version")
            || text.starts_with("-Xmx")
            || text.contains("com.starrocks.")
            || text.contains("StarRocksFE")
        {
            fe += 2;
        } else if text.starts_with("start time:") && text.contains("server uptime:")
            || text.contains("starrocks_be")
        {
            be += 2;
        }
        fe += classify(&text, Role::Fe).len();
        be += classify(&text, Role::Be).len();
    }
    match fe.cmp(&be) {
        std::cmp::Ordering::Greater => Some(Role::Fe),
        std::cmp::Ordering::Less => Some(Role::Be),
        std::cmp::Ordering::Equal => None,
    }
}

/// A file or standard input, read so that a signal is noticed even while no data arrives: a pipe
/// or FIFO is polled with a short timeout before each read.
struct Source {
    file: File,
    pollable: bool,
}

/// Marks the read error that stands for a signal.
#[derive(Debug)]
struct Stopped(i32);

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by signal {}", self.0)
    }
}

impl std::error::Error for Stopped {}

pub(super) fn stopped(e: &io::Error) -> Option<i32> {
    e.get_ref()
        .and_then(|x| x.downcast_ref::<Stopped>())
        .map(|s| s.0)
        .or_else(crate::signals::interrupted)
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use nix::poll::{poll, PollFd, PollFlags};
        loop {
            if let Some(sig) = crate::signals::interrupted() {
                return Err(io::Error::other(Stopped(sig)));
            }
            if self.pollable {
                let mut fds = [PollFd::new(self.file.as_fd(), PollFlags::POLLIN)];
                match poll(&mut fds, 200u16) {
                    Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                    Ok(_) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            match self.file.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }
}

/// Opens `path` for reading without waiting for a FIFO's writer, then makes the file blocking
/// again: the poll before each read (see [`Source`]) is what waits, and it wakes for a signal. On
/// Linux a FIFO's poll reports neither data nor hang-up until a first writer has come, so a writer
/// that opens later loses no bytes.
fn open_without_waiting(path: &Path) -> io::Result<File> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(OFlag::O_NONBLOCK.bits())
        .open(path)?;
    let fd = file.as_raw_fd();
    let flags = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags - OFlag::O_NONBLOCK))?;
    Ok(file)
}

/// Opens `path` (`-` is standard input), decompressing gzip found by its magic bytes. Nothing is
/// read twice and nothing is reopened, so pipes, FIFOs and `/dev/stdin` lose no bytes.
pub(super) fn open(path: &Path, name: &str) -> Result<(Box<dyn Read>, bool), FileError> {
    let file = if path.as_os_str() == "-" {
        io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map(File::from)
            .map_err(|e| FileError::Open(name.into(), e))?
    } else {
        let meta = std::fs::metadata(path).map_err(|e| FileError::Open(name.into(), e))?;
        if meta.is_dir() {
            return Err(FileError::Directory(name.into()));
        }
        open_without_waiting(path).map_err(|e| FileError::Open(name.into(), e))?
    };
    let pollable = !file
        .metadata()
        .map_err(|e| FileError::Open(name.into(), e))?
        .is_file();
    let mut src = Source { file, pollable };
    let mut head = Vec::with_capacity(2);
    while head.len() < 2 {
        let mut b = [0u8; 2];
        let n = src
            .read(&mut b[..2 - head.len()])
            .map_err(|e| match stopped(&e) {
                Some(sig) => FileError::Interrupted(sig),
                None => FileError::Read(name.into(), e),
            })?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&b[..n]);
    }
    let gzip = head == [0x1f, 0x8b];
    let chained = io::Cursor::new(head).chain(src);
    if gzip {
        Ok((Box::new(flate2::read::MultiGzDecoder::new(chained)), true))
    } else {
        Ok((Box::new(chained), false))
    }
}
