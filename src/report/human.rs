//! The human summary: fits on one screen, one line per step, the verdict last.
//!
//! On a terminal the marks, the verdict and the signatures' severities are coloured, so a failure
//! stands out in a long scroll. Colour is decided once by `main` ([`colour_wanted`]) and only ever
//! applies to what goes to stdout here: the JSON and JUnit reports never pass through this module,
//! and a pipe or a file (a CI log) gets plain text.

use std::sync::atomic::{AtomicBool, Ordering};

use anstyle::{AnsiColor, Style};

use super::{Report, StepStatus, Verdict};
use crate::watch::catalog::Severity;

static COLOUR: AtomicBool = AtomicBool::new(false);

/// Turns colour in the human summary on or off for the rest of the process.
pub fn set_colour(on: bool) {
    COLOUR.store(on, Ordering::Relaxed);
}

/// Whether the summary should be coloured: never with `NO_COLOR` (any non-empty value, see
/// no-color.org), always with `CLICOLOR_FORCE` (non-empty, not `0`), else only when stdout is a
/// terminal that is not `TERM=dumb`.
pub fn colour_wanted() -> bool {
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    if set("NO_COLOR") {
        return false;
    }
    if set("CLICOLOR_FORCE") && std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
        return true;
    }
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

/// `text` in `style` when colour is on.
fn paint(text: &str, style: Style) -> String {
    if COLOUR.load(Ordering::Relaxed) {
        format!("{}{text}{}", style.render(), style.render_reset())
    } else {
        text.to_string()
    }
}

/// `text` in the colour of a good outcome (PASS, healthy, started), when colour is on: for the
/// other commands' summaries, so that every command colours alike.
pub fn good(text: &str) -> String {
    paint(text, green())
}

/// `text` in the colour of a bad outcome (FAIL, degraded, a fatal signature).
pub fn bad(text: &str) -> String {
    paint(text, red())
}

/// `text` in the colour of a warning.
pub fn warn(text: &str) -> String {
    paint(text, yellow())
}

fn red() -> Style {
    Style::new().fg_color(Some(AnsiColor::Red.into())).bold()
}

fn green() -> Style {
    Style::new().fg_color(Some(AnsiColor::Green.into())).bold()
}

fn yellow() -> Style {
    Style::new().fg_color(Some(AnsiColor::Yellow.into()))
}

fn severity_style(s: Severity) -> Style {
    match s {
        Severity::Fatal => red(),
        Severity::Warning => yellow(),
        Severity::Progress => Style::new().dimmed(),
    }
}

fn ms(d: u64) -> String {
    if d >= 10_000 {
        format!("{:.0} s", d as f64 / 1000.0)
    } else if d >= 1000 {
        format!("{:.1} s", d as f64 / 1000.0)
    } else {
        format!("{d} ms")
    }
}

/// The header printed before the steps run: what is rehearsed and how isolated it is.
pub fn header(r: &Report) -> String {
    let mut s = format!(
        "sr-rehearse {}: {} -> {}\n",
        r.command, r.source.meta, r.target.package
    );
    s.push_str(&format!(
        "isolation: {} ({})\n",
        r.isolation.mode, r.isolation.reason
    ));
    s
}

pub fn step_line(step: &super::Step) -> String {
    let mark = match step.status {
        StepStatus::Ok => paint(" ok ", green()),
        StepStatus::Failed => paint("FAIL", red()),
        StepStatus::Skipped => paint("skip", Style::new().dimmed()),
    };
    format!(
        "  [{mark}] {:<16} {:>8}  {}\n",
        step.name,
        ms(step.duration_ms),
        step.detail
    )
}

/// What follows the steps: signatures, warnings, the verdict, and where anything kept is.
pub fn footer(r: &Report) -> String {
    let mut s = String::new();
    let shown: Vec<_> = r
        .signatures
        .iter()
        .filter(|h| h.severity != crate::watch::catalog::Severity::Progress)
        .take(6)
        .collect();
    if !shown.is_empty() {
        s.push_str("signatures:\n");
        for h in shown {
            let id = paint(&h.id, severity_style(h.severity));
            s.push_str(&format!("  {id} ({}:{})\n", h.file, h.line));
            if !h.hint.is_empty() {
                s.push_str(&format!("    what to do: {}\n", h.hint));
            }
        }
    }
    for a in r.isolation.reach_attempts.iter().take(6) {
        let how = if a.blocked_by_fence {
            "blocked by the network fence".to_string()
        } else {
            paint("NOT fenced", red())
        };
        s.push_str(&format!(
            "reach: the sandbox tried {} ({}): {}; {how}\n",
            a.target, a.kind, a.result
        ));
    }
    for w in r.warnings.iter().take(6) {
        s.push_str(&format!("{}: {w}\n", paint("warning", yellow())));
    }
    if let Some(p) = r.workspace.path.as_ref().filter(|_| r.workspace.kept) {
        s.push_str(&format!("kept: {p}\n"));
    }
    s.push_str(&verdict_line(r));
    s.push('\n');
    s
}

/// `verdict: PASS (exit 0): <summary>`: the last line of the full output and the one line `-q`
/// prints, so a script greps the same words either way.
pub fn verdict_line(r: &Report) -> String {
    let style = match r.verdict {
        Verdict::Pass => green(),
        Verdict::Interrupted => yellow(),
        Verdict::Fail | Verdict::Error | Verdict::Timeout => red(),
    };
    let word = paint(r.verdict.word(), style);
    format!("verdict: {word} (exit {}): {}", r.exit_code, r.summary)
}

pub fn render(r: &Report) -> String {
    let mut s = header(r);
    for st in &r.steps {
        s.push_str(&step_line(st));
    }
    s.push_str(&footer(r));
    s
}
