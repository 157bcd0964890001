//! Watching StarRocks logs: the signature catalog, incremental tailing, and the watcher that joins
//! them for the live decision of `fe` and `be`.

pub mod catalog;
pub mod tail;
pub mod wake;

use std::collections::HashSet;

use crate::report::SignatureHit;
use crate::runner::Ending;
use catalog::{classify, Role, Severity};
use tail::Tailer;

/// Follows a sandbox's logs and classifies every new line with the catalog.
pub(crate) struct Watcher {
    tail: Tailer,
    role: Role,
    seen: HashSet<&'static str>,
    /// The last non-empty line read, for "last output" messages.
    pub last_line: String,
}

impl Watcher {
    pub fn new(tail: Tailer, role: Role) -> Watcher {
        Watcher {
            tail,
            role,
            seen: HashSet::new(),
            last_line: String::new(),
        }
    }

    pub fn has_seen(&self, id: &str) -> bool {
        self.seen.contains(id)
    }

    /// Reads what was appended, hands each line to `on_line`, records each signature the first time
    /// it appears in `hits`, and returns the ids matched in this poll. A fatal signature ends it
    /// with the failure that names it.
    pub fn poll(
        &mut self,
        hits: &mut Vec<SignatureHit>,
        on_line: &mut dyn FnMut(&str),
    ) -> Result<Vec<&'static str>, Ending> {
        let mut ids = Vec::new();
        for line in self.tail.poll() {
            if !line.text.trim().is_empty() {
                self.last_line = line.text.clone();
            }
            on_line(&line.text);
            for sig in classify(&line.text, self.role) {
                ids.push(sig.id);
                if !self.seen.insert(sig.id) {
                    continue;
                }
                hits.push(SignatureHit {
                    id: sig.id.into(),
                    severity: sig.severity,
                    file: line.file.clone(),
                    line: line.number,
                    text: line.text.chars().take(400).collect(),
                    hint: sig.remedy.into(),
                });
                if sig.severity == Severity::Fatal {
                    return Err(Ending::fail(format!("{}: {}", sig.id, sig.explanation)));
                }
            }
        }
        Ok(ids)
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
