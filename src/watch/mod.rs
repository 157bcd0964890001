//! Watching StarRocks logs: the signature catalog, incremental tailing, records, and the watcher
//! that joins them for the live decision of `fe` and `be`.

pub mod catalog;
pub mod phase;
pub mod reach;
pub mod record;
pub mod tail;
pub mod wake;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use catalog::{classify, Role, Severity, Signature};
use record::{starts_record, Record, Verdict};
use serde::Serialize;
use tail::Tailer;

/// How long a record may stay without a next line before it counts as complete. log4j writes a
/// record (message, exception, stack) in one go, so the rest arrives within the same poll or the
/// next one; this only bounds the wait when the record was the last thing written.
pub const QUIET: Duration = Duration::from_millis(300);

struct Pending {
    file: String,
    record: Record,
    last_growth: Instant,
}

/// A signature seen in a log, where and on which line: what the reports list.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureHit {
    pub id: String,
    pub severity: Severity,
    pub file: String,
    pub line: usize,
    pub text: String,
    pub hint: String,
}

/// A fatal record, with the failure its root cause names: the end of a live wait. Each pipeline
/// turns it into the end of its run, so the watcher knows nothing of runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Fatal(pub String);

/// Follows a sandbox's logs and classifies every complete record with the catalog.
pub(crate) struct Watcher {
    tail: Tailer,
    role: Role,
    seen: HashSet<&'static str>,
    /// One open record per file, oldest first.
    pending: Vec<Pending>,
    verdict: Verdict,
    /// The last non-empty line read, for "last output" messages.
    pub last_line: String,
}

impl Watcher {
    pub fn new(tail: Tailer, role: Role) -> Watcher {
        Watcher {
            tail,
            role,
            seen: HashSet::new(),
            pending: Vec::new(),
            verdict: Verdict::default(),
            last_line: String::new(),
        }
    }

    pub fn has_seen(&self, id: &str) -> bool {
        self.seen.contains(id)
    }

    /// Reads what was appended, hands each line to `on_line`, records each signature the first time
    /// it appears in `hits`, and returns the ids matched in this poll. Readiness counts as soon as
    /// its line arrives; a fatal record is decided once complete (its next record line, or
    /// [`QUIET`] without growth), and ends the wait with the failure its root cause names.
    pub fn poll(
        &mut self,
        hits: &mut Vec<SignatureHit>,
        on_line: &mut dyn FnMut(&str),
    ) -> Result<Vec<&'static str>, Fatal> {
        let mut ids = Vec::new();
        let now = Instant::now();
        for line in self.tail.poll() {
            if !line.text.trim().is_empty() {
                self.last_line = line.text.clone();
            }
            on_line(&line.text);
            if self.role == Role::Be {
                // glog writes one line per message, and no BE entry names a cause on a
                // continuation line: each line is decided as it arrives, so the BE canary needs
                // no flush when the process exits.
                self.progress(&line.file, line.number, &line.text, hits, &mut ids);
                let rec = Record::new(line.number, &line.text);
                self.decide(&line.file, rec, hits, &mut ids)?;
                continue;
            }
            let open = self.pending.iter().position(|p| p.file == line.file);
            if !starts_record(&line.text) {
                if let Some(i) = open {
                    self.pending[i].record.push(&line.text);
                    self.pending[i].last_growth = now;
                    continue;
                }
                // A line outside any record (fe.out, be.out) stands alone.
                let rec = Record::new(line.number, &line.text);
                self.decide(&line.file, rec, hits, &mut ids)?;
                continue;
            }
            if let Some(i) = open {
                let done = self.pending.remove(i);
                self.decide(&done.file, done.record, hits, &mut ids)?;
            }
            // Readiness never depends on continuation lines: count it at once.
            self.progress(&line.file, line.number, &line.text, hits, &mut ids);
            self.pending.push(Pending {
                file: line.file.clone(),
                record: Record::new(line.number, &line.text),
                last_growth: now,
            });
        }
        while let Some(i) = self
            .pending
            .iter()
            .position(|p| now.duration_since(p.last_growth) >= QUIET)
        {
            let done = self.pending.remove(i);
            self.decide(&done.file, done.record, hits, &mut ids)?;
        }
        Ok(ids)
    }

    /// Reads what is left and decides every open record: for when the process has exited and
    /// nothing more will be written.
    pub fn flush(
        &mut self,
        hits: &mut Vec<SignatureHit>,
        on_line: &mut dyn FnMut(&str),
    ) -> Result<Vec<&'static str>, Fatal> {
        let mut ids = self.poll(hits, on_line)?;
        while !self.pending.is_empty() {
            let done = self.pending.remove(0);
            self.decide(&done.file, done.record, hits, &mut ids)?;
        }
        Ok(ids)
    }

    fn progress(
        &mut self,
        file: &str,
        number: usize,
        text: &str,
        hits: &mut Vec<SignatureHit>,
        ids: &mut Vec<&'static str>,
    ) {
        for sig in classify(text, self.role) {
            if sig.severity == Severity::Progress {
                ids.push(sig.id);
                self.note(sig, file, number, text, hits);
            }
        }
    }

    fn decide(
        &mut self,
        file: &str,
        rec: Record,
        hits: &mut Vec<SignatureHit>,
        ids: &mut Vec<&'static str>,
    ) -> Result<(), Fatal> {
        let sigs = classify(&rec.text, self.role);
        for sig in &sigs {
            if sig.severity != Severity::Progress {
                ids.push(sig.id);
            }
        }
        // Only the record's own name goes to the report: a generic line that merely carries the
        // cause (`StarRocksFE start failed`) is not a second finding.
        if let Some(top) = sigs.first() {
            if top.severity != Severity::Progress {
                let text = cause_line(&rec.text, top).unwrap_or(rec.head());
                self.note(top, file, rec.line, text, hits);
            }
        }
        if let Some(sig) = self.verdict.observe(&sigs) {
            let cause = cause_line(&rec.text, sig);
            return Err(Fatal(format!(
                "{}: {}{}",
                sig.id,
                catalog::explain(sig, rec.head()),
                cause.map(|c| format!(" ({c})")).unwrap_or_default()
            )));
        }
        Ok(())
    }

    fn note(
        &mut self,
        sig: &'static Signature,
        file: &str,
        line: usize,
        text: &str,
        hits: &mut Vec<SignatureHit>,
    ) {
        if !self.seen.insert(sig.id) {
            return;
        }
        hits.push(SignatureHit {
            id: sig.id.into(),
            severity: sig.severity,
            file: file.to_string(),
            line,
            text: text.chars().take(400).collect(),
            hint: sig.remedy.into(),
        });
    }

    /// The last line read, or `none`.
    pub fn last(&self) -> &str {
        if self.last_line.is_empty() {
            "none"
        } else {
            &self.last_line
        }
    }
}

/// The line of a record that matched its root cause, when it is not the first line (the cause
/// of a `LOG.error(msg, e)` record is on the exception's line).
pub fn cause_line<'a>(text: &'a str, sig: &Signature) -> Option<&'a str> {
    let re = catalog::pattern_of(sig.id)?;
    let mut lines = text.lines();
    let head = lines.next()?;
    if re.is_match(head) {
        return None;
    }
    lines.find(|l| re.is_match(l)).map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn summary(r: Result<Vec<&'static str>, Fatal>) -> Option<String> {
        r.err().map(|e| e.0)
    }

    #[test]
    fn a_failure_is_decided_once_its_cause_has_arrived() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fe.log");
        let mut f = std::fs::File::create(&p).unwrap();
        let mut w = Watcher::new(Tailer::new(std::slice::from_ref(&p)), Role::Fe);
        let mut hits = Vec::new();
        writeln!(f, "2024-01-01 00:00:00,000 ERROR (main|1) [StarRocksFE.start():140] StarRocksFE start failed").unwrap();
        assert_eq!(
            summary(w.poll(&mut hits, &mut |_| {})),
            None,
            "the record's first line alone decides nothing"
        );
        writeln!(
            f,
            "java.io.IOException: checksum mismatch! expect 1 actual 2\n\tat com.starrocks.persist.ImageLoader.loadImage(ImageLoader.java:80)"
        )
        .unwrap();
        writeln!(f, "2024-01-01 00:00:00,001 INFO (Thread-0|40) [StarRocksFE.lambda$start$0():98] start to execute shutdown hook").unwrap();
        let s = summary(w.poll(&mut hits, &mut |_| {})).expect("decided by the next record");
        assert!(s.starts_with("fe.meta.image-checksum:"), "{s}");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].line, 1);
        assert!(hits[0].text.contains("checksum mismatch!"));
    }

    #[test]
    fn the_last_record_is_decided_after_a_quiet_period_or_a_flush() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fe.log");
        std::fs::write(
            &p,
            "2024-01-01 00:00:00,000 ERROR (replayer|81) [BDBJournalCursor.deserializeData():241] fail to read journal entity key=7, data=\njava.io.IOException: UNKNOWN Operation Type 10099\n",
        )
        .unwrap();
        let mut hits = Vec::new();
        let mut w = Watcher::new(Tailer::new(std::slice::from_ref(&p)), Role::Fe);
        let s = summary(w.flush(&mut hits, &mut |_| {})).unwrap();
        assert!(s.starts_with("fe.meta.unknown-operation-type:"), "{s}");

        let mut w = Watcher::new(Tailer::new(std::slice::from_ref(&p)), Role::Fe);
        let started = Instant::now();
        let s = loop {
            if let Some(s) = summary(w.poll(&mut hits, &mut |_| {})) {
                break s;
            }
            assert!(started.elapsed() < QUIET * 20, "never decided");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(s.starts_with("fe.meta.unknown-operation-type:"), "{s}");
    }
}
