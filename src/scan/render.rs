//! The human renderings of `scan`: the report and the catalog (`scan --list`).
//!
//! JSON is the report itself (see [`super::ScanReport::to_json`]); these are for a person reading a
//! terminal: each match with its file and line, what it means and what to do, coloured by the one
//! rule every command follows (`--color`, `report::human`).

use super::{FileVerdict, ScanReport};
use crate::report::human;
use crate::watch::catalog::{Severity, CATALOG};

/// The human rendering: each distinct signature with where it first matched and its remedy.
pub fn render_human(r: &ScanReport) -> String {
    let mut s = String::new();
    for f in &r.files {
        s.push_str(&format!(
            "{}: {:?} log ({}), {} lines, {}\n",
            f.file,
            f.role,
            match f.role_from {
                "content" => "recognised from its content",
                "name" => "from its name",
                _ => "--role",
            },
            f.lines,
            match f.verdict {
                FileVerdict::Started => "started",
                FileVerdict::Failed => "failed",
                FileVerdict::StillStarting => "still starting",
                FileVerdict::WaitingForever => "waiting forever",
                FileVerdict::NoStarRocksLines => "no StarRocks lines found",
            }
        ));
        if f.cut > 0 {
            s.push_str(&format!(
                "  {} over-long line(s) or record(s) cut: only their first 64 KiB were classified\n",
                f.cut
            ));
        }
    }
    for p in &r.problems {
        s.push_str(&format!("{}: not scanned: {}\n", p.file, p.error));
    }
    for m in &r.matches {
        let sev = match m.severity {
            Severity::Fatal => human::bad("fatal"),
            Severity::Warning => human::warn("warning"),
            Severity::Progress => "progress".to_string(),
        };
        s.push_str(&format!(
            "  {}:{} [{sev}] {}: {}\n",
            m.file, m.line, m.id, m.explanation
        ));
        s.push_str(&format!("      {}\n", m.text));
        if m.count > 1 {
            s.push_str(&format!(
                "      repeated {} times, lines {} to {}\n",
                m.count, m.line, m.last_line
            ));
        }
        if !m.hint.is_empty() && m.severity != Severity::Progress {
            s.push_str(&format!("      what to do: {}\n", m.hint));
        }
    }
    if r.matches.iter().map(|m| m.count).sum::<usize>() < r.counts.values().sum::<usize>() {
        s.push_str(&format!(
            "  (first {} matches shown; counts: {:?})\n",
            r.matches.len(),
            r.counts
        ));
    }
    let verdict = if r.verdict == "started" {
        human::good(&r.verdict)
    } else if r.verdict.starts_with("failed") || r.verdict.starts_with("waiting forever") {
        human::bad(&r.verdict)
    } else {
        r.verdict.clone()
    };
    s.push_str(&format!("verdict: {verdict}\n"));
    s
}

/// `scan --list`: the catalog.
pub fn render_catalog() -> String {
    let mut s = String::new();
    for sig in CATALOG {
        s.push_str(&format!(
            "{:<34} {:?}/{:<8} {}\n",
            sig.id,
            sig.role,
            format!("{:?}", sig.severity).to_lowercase(),
            sig.explanation
        ));
        if !sig.remedy.is_empty() {
            s.push_str(&format!("{:<34} what to do: {}\n", "", sig.remedy));
        }
    }
    s
}
