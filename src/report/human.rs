//! The human summary: fits on one screen, one line per step, the verdict last.

use super::{Report, StepStatus, Verdict};

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
        StepStatus::Ok => " ok ",
        StepStatus::Failed => "FAIL",
        StepStatus::Skipped => "skip",
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
            s.push_str(&format!("  {} ({}:{})\n", h.id, h.file, h.line));
            if !h.hint.is_empty() {
                s.push_str(&format!("    what to do: {}\n", h.hint));
            }
        }
    }
    for a in r.isolation.reach_attempts.iter().take(6) {
        let how = if a.blocked_by_fence {
            "blocked by the network fence"
        } else {
            "NOT fenced"
        };
        s.push_str(&format!(
            "reach: the sandbox tried {} ({}): {}; {how}\n",
            a.target, a.kind, a.result
        ));
    }
    for w in r.warnings.iter().take(6) {
        s.push_str(&format!("warning: {w}\n"));
    }
    let word = match r.verdict {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Error => "ERROR",
        Verdict::Timeout => "TIMEOUT",
        Verdict::Interrupted => "INTERRUPTED",
    };
    if let Some(p) = r.workspace.path.as_ref().filter(|_| r.workspace.kept) {
        s.push_str(&format!("kept: {p}\n"));
    }
    s.push_str(&format!(
        "verdict: {word} (exit {}): {}\n",
        r.exit_code, r.summary
    ));
    s
}

pub fn render(r: &Report) -> String {
    let mut s = header(r);
    for st in &r.steps {
        s.push_str(&step_line(st));
    }
    s.push_str(&footer(r));
    s
}
