//! How a run ends: the verdict from its outcome (a late signal included), the keep rules of
//! `--keep`, what happens to the run folder, and the footer.
//!
//! The rules are the same for every pipeline and for a run that unwinds from a panic, so they are
//! written once: a kept workspace loses its `run.json` (nothing is left for `clean` to stop), a
//! removed one goes even where the copy kept read-only folder modes.

use std::path::Path;
use std::time::Instant;

use super::{Ending, Runner};
use crate::report::{exit, human, Report, Verdict};
use crate::workspace;

/// Lines of each log the report keeps.
const LOG_TAIL_LINES: usize = 40;

/// When to keep a run's workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Keep {
    /// Remove it whatever the verdict.
    Never,
    /// Keep it when the run did not pass.
    OnFailure,
    /// Keep it whatever the verdict.
    Always,
}

impl Keep {
    /// What `--plan` says of it: the rule in words, then the option as typed.
    pub fn describe(self) -> &'static str {
        match self {
            Keep::Never => "never (--keep never)",
            Keep::OnFailure => "only when the run does not pass (--keep on-failure)",
            Keep::Always => "always (--keep always)",
        }
    }

    /// Whether a run that ended with `verdict` keeps its workspace: only where it helps, a run
    /// that started something (and, by default, did not pass).
    pub fn keeps(self, launched: bool, verdict: Verdict) -> bool {
        launched
            && match self {
                Keep::Always => true,
                Keep::Never => false,
                Keep::OnFailure => verdict != Verdict::Pass,
            }
    }
}

/// Keeps the run folder `d` (without its `run.json`: the run is over) or removes it.
pub(super) fn release_run_dir(d: &Path, keep: bool) {
    if keep {
        let _ = std::fs::remove_file(d.join(workspace::RUN_FILE));
    } else {
        workspace::remove_dir_all_writable(d);
    }
}

impl Runner {
    /// Sets the verdict, keeps or removes the workspace, prints the footer, returns the report.
    pub fn finish(
        &mut self,
        outcome: Result<(), Ending>,
        keep: Keep,
        launched: bool,
        verbose: bool,
        started: Instant,
    ) -> Report {
        self.finished = true;
        // A signal that arrived during the stop (after the last check) still ends the run as
        // interrupted: the user asked for it, and CI must not read a pass.
        let outcome = match (outcome, crate::signals::interrupted()) {
            (Ok(()), Some(sig)) if launched => Err(Ending::interrupted(format!(
                "interrupted by signal {sig} while the sandbox was being stopped"
            ))),
            (Err(e), Some(sig))
                if launched
                    && e.verdict != Verdict::Interrupted
                    && e.code != exit::ROLLBACK_FAILED =>
            {
                Err(Ending::interrupted(format!(
                    "interrupted by signal {sig} while the sandbox was being stopped; before that: {}",
                    e.summary
                )))
            }
            (o, _) => o,
        };
        let (verdict, code) = match &outcome {
            Ok(()) => (Verdict::Pass, exit::PASS),
            Err(e) => (e.verdict, e.code),
        };
        self.report.verdict = verdict;
        self.report.exit_code = code;
        if let Err(e) = &outcome {
            self.report.summary = e.summary.clone();
        }
        let keep = keep.keeps(launched, verdict);
        tracing::info!(
            verdict = ?verdict,
            exit_code = code,
            kept = keep,
            "run ended: {}",
            self.report.summary
        );
        for h in &self.report.signatures {
            tracing::debug!(id = %h.id, severity = ?h.severity, "signature at {}:{}: {}", h.file, h.line, h.text);
        }
        crate::diag::detach();
        // Read before the workspace may go: the report is all that is left of a passing run.
        self.report.log_tail = self
            .log_tail_from
            .iter()
            .filter_map(|p| {
                let lines = crate::watch::tail::last_lines(p, LOG_TAIL_LINES, 64 << 10);
                (!lines.is_empty()).then(|| crate::report::LogTail {
                    file: p.display().to_string(),
                    lines,
                })
            })
            .collect();
        if let Some(d) = self.run_dir.clone() {
            self.report.workspace.kept = keep;
            release_run_dir(&d, keep);
        }
        self.report.duration_ms = started.elapsed().as_millis() as u64;
        if verbose {
            for h in self
                .report
                .signatures
                .iter()
                .filter(|h| h.severity == crate::watch::catalog::Severity::Progress)
            {
                self.print(&format!("  seen {} at {}:{}\n", h.id, h.file, h.line));
            }
        }
        if self.printed_header {
            self.print(&human::footer(&self.report));
        } else {
            self.print(&human::render(&self.report));
        }
        let command = self.report.command.clone();
        std::mem::replace(&mut self.report, Report::new(&command))
    }

    /// [`finish`](Runner::finish) for a sandbox run: its workspace kept per the `--keep` it was
    /// made with, and only if the sandbox was launched.
    pub fn finish_sandbox(
        &mut self,
        outcome: Result<(), Ending>,
        verbose: bool,
        started: Instant,
    ) -> Report {
        let (keep, launched) = (self.keep, self.launched);
        self.finish(outcome, keep, launched, verbose, started)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workspace_is_kept_only_for_a_launched_run_and_as_keep_says() {
        let pass = Verdict::Pass;
        let fail = Verdict::Fail;
        assert!(
            !Keep::Always.keeps(false, fail),
            "nothing started: nothing to keep"
        );
        assert!(Keep::Always.keeps(true, pass));
        assert!(!Keep::Never.keeps(true, fail));
        assert!(Keep::OnFailure.keeps(true, fail));
        assert!(Keep::OnFailure.keeps(true, Verdict::Timeout));
        assert!(!Keep::OnFailure.keeps(true, pass));
    }

    #[test]
    fn a_kept_run_folder_loses_only_its_run_json() {
        let d = tempfile::tempdir().unwrap();
        let run = d.path().join("sr-rehearse-x");
        std::fs::create_dir_all(run.join("fe/log")).unwrap();
        std::fs::write(run.join(workspace::RUN_FILE), "{}").unwrap();
        release_run_dir(&run, true);
        assert!(run.join("fe/log").is_dir());
        assert!(!run.join(workspace::RUN_FILE).exists());
        release_run_dir(&run, false);
        assert!(!run.exists());
    }
}
