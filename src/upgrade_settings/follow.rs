//! Reading the leader's fe.log from the moment of a statement on, across log rotation.
//!
//! The push line comes seconds to minutes after `ALTER SYSTEM CREATE IMAGE` (the checkpoint runs
//! on its own schedule), into a log that log4j may roll meanwhile (fe.log renamed to
//! fe.log.20240101-1 and a new fe.log opened). So the follower starts at the file's end when the
//! statement is sent, keeps the file it opened (a renamed file is still read to its end, lines
//! written just before the rename are not lost), and moves to the new file at the path, from its
//! start, once the path names another file; a file truncated in place is read again from its
//! start. Reads are bounded per poll and a line longer than `MAX_LINE` is cut there, so a log
//! with megabytes of one stack trace line neither holds memory nor stalls the wait.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The longest line kept; the push line is about 150 bytes.
pub const MAX_LINE: usize = 16 << 10;
/// The most bytes one poll reads, so a burst of logging does not hold the caller.
const POLL_BYTES: usize = 8 << 20;

pub struct LogFollower {
    path: PathBuf,
    file: Option<File>,
    id: Option<(u64, u64)>,
    offset: u64,
    partial: Vec<u8>,
    /// The current line went past `MAX_LINE`: the rest up to its newline is dropped.
    cut: bool,
}

fn id_of(m: &std::fs::Metadata) -> (u64, u64) {
    (m.dev(), m.ino())
}

impl LogFollower {
    /// Follows `path` (which must exist) from its current end.
    pub fn at_end(path: &Path) -> std::io::Result<LogFollower> {
        let file = File::open(path)?;
        let m = file.metadata()?;
        Ok(LogFollower {
            path: path.to_path_buf(),
            id: Some(id_of(&m)),
            offset: m.len(),
            file: Some(file),
            partial: Vec::new(),
            cut: false,
        })
    }

    /// The complete lines written since the last poll.
    pub fn poll(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let mut budget = POLL_BYTES;
        self.drain(&mut out, &mut budget);
        if budget == 0 {
            return out;
        }
        // Has the path moved on to another file (rotation), or been truncated in place?
        match std::fs::metadata(&self.path) {
            Ok(m) if Some(id_of(&m)) != self.id => {
                // What the old file got between the read above and the rename is read first.
                self.drain(&mut out, &mut budget);
                if budget == 0 {
                    return out;
                }
                self.flush_partial(&mut out);
                if let Ok(f) = File::open(&self.path) {
                    self.id = f.metadata().ok().map(|m| id_of(&m));
                    self.file = Some(f);
                    self.offset = 0;
                    self.drain(&mut out, &mut budget);
                }
            }
            Ok(m) if m.len() < self.offset => {
                self.flush_partial(&mut out);
                self.offset = 0;
                self.drain(&mut out, &mut budget);
            }
            _ => {}
        }
        out
    }

    /// Reads the open file from `offset` to its end (or the budget), splitting lines.
    fn drain(&mut self, out: &mut Vec<String>, budget: &mut usize) {
        let Some(mut f) = self.file.take() else {
            return;
        };
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            self.file = Some(f);
            return;
        }
        let mut buf = vec![0u8; 64 << 10];
        while *budget > 0 {
            let want = buf.len().min(*budget);
            let n = match f.read(&mut buf[..want]) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            *budget -= n;
            self.offset += n as u64;
            for &b in &buf[..n] {
                if b == b'\n' {
                    self.end_line(out);
                } else if self.partial.len() < MAX_LINE {
                    self.partial.push(b);
                } else {
                    self.cut = true;
                }
            }
        }
        self.file = Some(f);
    }

    fn end_line(&mut self, out: &mut Vec<String>) {
        let mut line = String::from_utf8_lossy(&self.partial)
            .trim_end_matches('\r')
            .to_string();
        if self.cut {
            line.push_str(" [cut]");
        }
        out.push(line);
        self.partial.clear();
        self.cut = false;
    }

    /// A file that ends (rotated, truncated) ends its last line too.
    fn flush_partial(&mut self, out: &mut Vec<String>) {
        if !self.partial.is_empty() {
            self.end_line(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn append(p: &Path, s: &str) {
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(p)
            .unwrap()
            .write_all(s.as_bytes())
            .unwrap();
    }

    #[test]
    fn starts_at_the_end_and_keeps_partial_lines() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("fe.log");
        append(&p, "old line\n");
        let mut f = LogFollower::at_end(&p).unwrap();
        assert!(f.poll().is_empty());
        append(&p, "one\ntw");
        assert_eq!(f.poll(), ["one"]);
        append(&p, "o\n");
        assert_eq!(f.poll(), ["two"]);
    }

    #[test]
    fn a_rotated_log_is_read_to_its_end_then_the_new_file_from_its_start() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("fe.log");
        append(&p, "before\n");
        let mut f = LogFollower::at_end(&p).unwrap();
        append(&p, "last of the old\n");
        std::fs::rename(&p, d.path().join("fe.log.20261205-1")).unwrap();
        append(&p, "first of the new\n");
        assert_eq!(f.poll(), ["last of the old", "first of the new"]);
        append(&p, "next\n");
        assert_eq!(f.poll(), ["next"]);
        // Truncated in place (copytruncate): read again from the start.
        std::fs::write(&p, "").unwrap();
        append(&p, "x\n");
        assert_eq!(f.poll(), ["x"]);
    }

    #[test]
    fn an_endless_line_is_cut_and_the_next_line_still_read() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("fe.log");
        std::fs::write(&p, "").unwrap();
        let mut f = LogFollower::at_end(&p).unwrap();
        append(&p, &"x".repeat(3 << 20));
        assert!(f.poll().is_empty());
        append(&p, "\npush\n");
        let lines = f.poll();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].len() <= MAX_LINE + 10 && lines[0].ends_with("[cut]"));
        assert_eq!(lines[1], "push");
    }
}
