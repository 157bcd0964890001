//! Following log files as they grow.
//!
//! The decision loop reads only what was appended since the last poll, from files that may not
//! exist yet (fe.log appears only after the JVM starts), keeps a partial last line until its newline
//! arrives, and numbers lines so a report can point at `fe.log:412`. A record glued to the end of
//! another line is split off, as `scan` does.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use super::record::{glued_record, starts_record_bytes};

/// A line read from a followed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub file: String,
    pub number: usize,
    pub text: String,
}

struct Followed {
    path: PathBuf,
    name: String,
    /// (device, inode) of the file last read: a log re-pointed to a new file starts over.
    id: Option<(u64, u64)>,
    offset: u64,
    lines: usize,
    partial: Vec<u8>,
}

/// Follows several files at once.
pub struct Tailer {
    files: Vec<Followed>,
}

impl Tailer {
    pub fn new(paths: &[PathBuf]) -> Tailer {
        Tailer {
            files: paths
                .iter()
                .map(|p| Followed {
                    name: p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    path: p.clone(),
                    id: None,
                    offset: 0,
                    lines: 0,
                    partial: Vec::new(),
                })
                .collect(),
        }
    }

    /// Starts every file at its current end: only what is written from now on is read.
    pub fn skip_existing(&mut self) {
        use std::os::unix::fs::MetadataExt;
        for f in &mut self.files {
            if let Ok(m) = std::fs::metadata(&f.path) {
                f.offset = m.len();
                f.id = Some((m.dev(), m.ino()));
            }
        }
    }

    /// Complete lines appended since the last call, file by file.
    pub fn poll(&mut self) -> Vec<Line> {
        let mut out = Vec::new();
        for f in &mut self.files {
            let Ok(mut file) = File::open(&f.path) else {
                continue;
            };
            let Ok(meta) = file.metadata() else {
                continue;
            };
            let len = meta.len();
            let id = {
                use std::os::unix::fs::MetadataExt;
                Some((meta.dev(), meta.ino()))
            };
            if f.id.is_some() && f.id != id {
                f.offset = 0;
                f.partial.clear();
            }
            f.id = id;
            if len < f.offset {
                // Truncated or replaced: start over.
                f.offset = 0;
                f.partial.clear();
            }
            if len == f.offset || file.seek(SeekFrom::Start(f.offset)).is_err() {
                continue;
            }
            let mut buf = Vec::with_capacity((len - f.offset) as usize);
            if file.take(len - f.offset).read_to_end(&mut buf).is_err() {
                continue;
            }
            f.offset += buf.len() as u64;
            f.partial.extend_from_slice(&buf);
            while let Some(pos) = f.partial.iter().position(|&b| b == b'\n') {
                let raw: Vec<u8> = f.partial.drain(..=pos).collect();
                f.lines += 1;
                let text = String::from_utf8_lossy(&raw[..raw.len() - 1])
                    .trim_end_matches('\r')
                    .to_string();
                // A record glued to the end of another line (a script's output without its
                // newline) is read as `scan` reads it: the text before it, then the record, both
                // under the file's line number.
                let glued = (!starts_record_bytes(text.as_bytes()))
                    .then(|| glued_record(text.as_bytes()))
                    .flatten();
                let pieces = match glued {
                    // The record starts at an ASCII byte of the timestamp: a char boundary.
                    Some(at) => vec![text[..at].to_string(), text[at..].to_string()],
                    None => vec![text],
                };
                for text in pieces {
                    out.push(Line {
                        file: f.name.clone(),
                        number: f.lines,
                        text,
                    });
                }
            }
        }
        out
    }
}

/// The last `n` lines of `path`, read from at most its last `max_bytes` (a partial first line of
/// that window is dropped), each cut to 1000 characters; none when the file cannot be read.
pub fn last_lines(path: &std::path::Path, n: usize, max_bytes: u64) -> Vec<String> {
    let Ok(mut f) = File::open(path) else {
        return Vec::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let from = len.saturating_sub(max_bytes);
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(from)).is_err() || f.take(max_bytes).read_to_end(&mut buf).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<&str> = text.lines().collect();
    if from > 0 && !lines.is_empty() {
        lines.remove(0);
    }
    let skip = lines.len().saturating_sub(n);
    lines[skip..]
        .iter()
        .map(|l| l.trim_end_matches('\r').chars().take(1000).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn follows_growth_and_partial_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fe.log");
        let mut t = Tailer::new(std::slice::from_ref(&p));
        assert!(t.poll().is_empty(), "missing file is fine");
        let mut f = File::create(&p).unwrap();
        write!(f, "one\ntw").unwrap();
        let l = t.poll();
        assert_eq!(l.len(), 1);
        assert_eq!((l[0].number, l[0].text.as_str()), (1, "one"));
        write!(f, "o\nthree\n").unwrap();
        let l = t.poll();
        assert_eq!(
            l.iter().map(|x| x.text.as_str()).collect::<Vec<_>>(),
            ["two", "three"]
        );
        assert_eq!(l[1].number, 3);
    }

    #[test]
    fn last_lines_are_bounded_by_count_and_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fe.out");
        std::fs::write(&p, "a\nbb\nccc\ndddd\n").unwrap();
        assert_eq!(last_lines(&p, 2, 1 << 16), ["ccc", "dddd"]);
        // A 7-byte window starts inside `ccc`: that partial line is dropped.
        assert_eq!(last_lines(&p, 10, 7), ["dddd"]);
        assert!(last_lines(&dir.path().join("none"), 3, 100).is_empty());
    }

    #[test]
    fn a_record_glued_to_another_line_is_split_off() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("be.INFO");
        let mut t = Tailer::new(std::slice::from_ref(&p));
        let mut f = File::create(&p).unwrap();
        writeln!(f, "# DAEMON_PIDFILE_TIMEOUT=10E0227 08:39:28.849490   190 storage_engine.cpp:415] File descriptor number is less than 60000.").unwrap();
        let l = t.poll();
        assert_eq!(
            l.iter().map(|x| (x.number, x.text.as_str())).collect::<Vec<_>>(),
            [
                (1, "# DAEMON_PIDFILE_TIMEOUT=10"),
                (1, "E0227 08:39:28.849490   190 storage_engine.cpp:415] File descriptor number is less than 60000.")
            ]
        );
    }
}
