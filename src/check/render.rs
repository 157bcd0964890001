//! How a cluster status is shown: the human summary and the JUnit form (the JSON is the status
//! itself, serialised).
//!
//! Kept apart from the rules so a change of wording or layout cannot change a verdict. Node ids,
//! problems and warnings hold escaped text already (`values`); the raw fields shown here (role,
//! version) are escaped as they are printed.

use super::values::escape;
use super::ClusterStatus;
use crate::report::{human, Report, Step, StepStatus, Verdict};

/// The summary on stdout: one line per node, then the leader, tablets, warnings and the verdict
/// (last, so `-q` can print that line alone).
pub fn render_human(s: &ClusterStatus) -> String {
    let mut o = format!("sr-rehearse check: cluster of {}\n", s.fe);
    for n in &s.nodes {
        // Coloured by the rule every command follows (`--color`); plain in a pipe or a file.
        let mark = if n.problems.is_empty() {
            format!(" {} ", human::good("ok"))
        } else {
            human::bad("FAIL")
        };
        let mut line = format!(
            "  [{mark}] {:<28} {:<9} {}",
            n.id(),
            if n.role.is_empty() {
                "-".to_string()
            } else {
                escape(&n.role)
            },
            if n.version.is_empty() {
                "?".to_string()
            } else {
                escape(&n.version)
            }
        );
        if let Some(lag) = n.journal_lag {
            line.push_str(&format!("  journal lag {lag}"));
        }
        if !n.problems.is_empty() {
            line.push_str(&format!("  {}", n.problems.join("; ")));
        }
        o.push_str(&line);
        o.push('\n');
    }
    if let Some(l) = &s.leader {
        o.push_str(&format!("leader: {l}\n"));
    }
    if let Some(t) = &s.tablets {
        o.push_str(&format!(
            "tablets: {} total, {} unhealthy, {} inconsistent\n",
            t.total, t.unhealthy, t.inconsistent
        ));
    }
    if let Some(g) = &s.gate {
        o.push_str(&format!("gate: {} {}\n", escape(&g.node), g.state));
    }
    for w in &s.warnings {
        o.push_str(&format!("{}: {w}\n", human::warn("warning")));
    }
    let verdict = if s.healthy() {
        human::good(&s.verdict)
    } else {
        human::bad(&s.verdict)
    };
    o.push_str(&format!("verdict: {verdict} (exit {})", s.exit_code));
    if !s.problems.is_empty() {
        o.push_str(&format!(": {}", s.problems.join("; ")));
    }
    if s.polls > 1 {
        o.push_str(&format!(" after {} polls", s.polls));
    }
    o.push('\n');
    o
}

/// The JUnit form: one test case per node, plus one for the cluster-wide checks.
pub fn to_report(s: &ClusterStatus) -> Report {
    let mut r = Report::new("check");
    r.verdict = if s.healthy() {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    r.exit_code = s.exit_code;
    r.summary = format!("{}: {}", s.verdict, s.problems.join("; "));
    r.started_at = s.started_at.clone();
    r.duration_ms = s.duration_ms;
    for n in &s.nodes {
        r.steps.push(Step {
            name: n.id(),
            status: if n.problems.is_empty() {
                StepStatus::Ok
            } else {
                StepStatus::Failed
            },
            duration_ms: 0,
            detail: if n.problems.is_empty() {
                format!("{} {}", escape(&n.role), escape(&n.version))
            } else {
                n.problems.join("; ")
            },
        });
    }
    let node_problems: usize = s.nodes.iter().map(|n| n.problems.len()).sum();
    // Node problems are appended after the cluster-wide ones.
    let cluster_only = s.problems.len().saturating_sub(node_problems);
    r.steps.push(Step {
        name: "cluster".into(),
        status: if cluster_only == 0 {
            StepStatus::Ok
        } else {
            StepStatus::Failed
        },
        duration_ms: 0,
        detail: s
            .problems
            .iter()
            .take(cluster_only)
            .cloned()
            .collect::<Vec<_>>()
            .join("; "),
    });
    r
}
