//! The run as Markdown, for a CI job's summary page or a merge request comment: `--summary-md
//! FILE`, and GitHub Actions' `$GITHUB_STEP_SUMMARY` when it is set.
//!
//! Everything in it that comes from the run (the summary, step details, log lines, paths) is
//! text another program printed, so it is escaped for where it lands: table cells lose their `|`
//! and line breaks and HTML is made inert, and log lines go in a code fence longer than any run
//! of backticks they hold, so no log line can close the fence or start markup of its own.

use std::io::{self, Write};
use std::path::Path;

use super::{Report, StepStatus};
use crate::watch::catalog::Severity;

/// Text for a table cell or a line of prose: one line, no table or HTML markup.
fn cell(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => o.push_str("\\|"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '`' => o.push_str("&#96;"),
            '\n' | '\r' => o.push(' '),
            c if c.is_control() => {}
            c => o.push(c),
        }
    }
    o
}

/// `lines` in a fenced code block whose fence no line can close.
fn fenced(lines: &[String]) -> String {
    let longest = lines
        .iter()
        .flat_map(|l| l.split(|c| c != '`').map(str::len))
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let body: Vec<String> = lines
        .iter()
        .map(|l| {
            l.chars()
                .filter(|c| !c.is_control() || *c == '\t')
                .collect()
        })
        .collect();
    format!("{fence}text\n{}\n{fence}\n", body.join("\n"))
}

/// The Markdown summary of `r`.
pub fn render(r: &Report) -> String {
    let mut m = format!(
        "### sr-rehearse {}: {} (exit {})\n\n{}\n\n",
        cell(&r.command),
        r.verdict.word(),
        r.exit_code,
        cell(&r.summary)
    );
    let target = r
        .target
        .detected_version
        .clone()
        .unwrap_or_else(|| r.target.package.clone());
    let mut facts = Vec::new();
    if !target.is_empty() {
        facts.push(format!("**Target:** {}", cell(&target)));
    }
    if !r.source.meta.is_empty() {
        facts.push(format!("**Source:** {}", cell(&r.source.meta)));
    }
    if !r.isolation.mode.is_empty() {
        facts.push(format!("**Isolation:** {}", cell(&r.isolation.mode)));
    }
    if !facts.is_empty() {
        m.push_str(&format!("{}\n\n", facts.join(" · ")));
    }
    if !r.steps.is_empty() {
        m.push_str("| step | status | time | detail |\n|---|---|---|---|\n");
        for s in &r.steps {
            let status = match s.status {
                StepStatus::Ok => "ok",
                StepStatus::Failed => "**failed**",
                StepStatus::Skipped => "skipped",
            };
            m.push_str(&format!(
                "| {} | {status} | {:.1} s | {} |\n",
                cell(&s.name),
                s.duration_ms as f64 / 1000.0,
                cell(&s.detail)
            ));
        }
        m.push('\n');
    }
    let fatal: Vec<_> = r
        .signatures
        .iter()
        .filter(|h| h.severity == Severity::Fatal)
        .collect();
    if !fatal.is_empty() {
        m.push_str("**What the logs say**\n\n");
        for h in fatal {
            m.push_str(&format!(
                "- {} at {}:{}: {}\n  - what to do: {}\n",
                cell(&h.id),
                cell(&h.file),
                h.line,
                cell(&h.text),
                cell(&h.hint)
            ));
        }
        m.push('\n');
    }
    for w in &r.warnings {
        m.push_str(&format!("> warning: {}\n", cell(w)));
    }
    if !r.warnings.is_empty() {
        m.push('\n');
    }
    for t in &r.log_tail {
        m.push_str(&format!(
            "<details><summary>Last lines of {}</summary>\n\n{}\n</details>\n\n",
            cell(&t.file),
            fenced(&t.lines)
        ));
    }
    m
}

/// Appends `text` to the file GitHub Actions names in `$GITHUB_STEP_SUMMARY`: the runner creates
/// it for the step, and appending is its protocol (several steps, or several runs in one step,
/// add to one page). A link or anything but a regular file is refused, not written through.
pub fn append_step_summary(p: &Path, text: &str) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(p)?;
    if !f.metadata()?.is_file() {
        return Err(io::Error::other("it is not a regular file"));
    }
    f.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{LogTail, Step, StepStatus, Verdict};

    #[test]
    fn run_text_cannot_make_markup() {
        let mut r = Report::new("fe");
        r.verdict = Verdict::Fail;
        r.exit_code = 1;
        r.summary = "the FE said <script>x</script> | and `this`\nnext".into();
        r.steps.push(Step {
            name: "decide".into(),
            status: StepStatus::Failed,
            duration_ms: 1500,
            detail: "a|b".into(),
        });
        r.log_tail.push(LogTail {
            file: "/ws/fe/log/fe.log".into(),
            lines: vec!["ok".into(), "```".into(), "x ````` y".into()],
        });
        let m = render(&r);
        assert!(m.starts_with("### sr-rehearse fe: FAIL (exit 1)\n"), "{m}");
        assert!(m.contains("&lt;script&gt;x&lt;/script&gt; \\| and &#96;this&#96; next"));
        assert!(m.contains("| decide | **failed** | 1.5 s | a\\|b |"), "{m}");
        // Five backticks in a line: the fence is six long, and closes only after the lines.
        assert!(
            m.contains("``````text\nok\n```\nx ````` y\n``````\n"),
            "{m}"
        );
    }

    #[test]
    fn the_step_summary_is_appended_and_never_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("summary.md");
        append_step_summary(&p, "one\n").unwrap();
        append_step_summary(&p, "two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "one\ntwo\n");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let link = dir.path().join("link.md");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(append_step_summary(&link, "x").is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    }
}
