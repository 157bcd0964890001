//! The precheck's human output: one aligned line per check, the fix and the page under each
//! problem, and a last line with the counts and the exit code.

use super::{Level, Outcome};

/// The tag of a level, all of one width so the ids line up.
fn tag(l: Level) -> &'static str {
    match l {
        Level::Ok => "[  ok   ]",
        Level::Notice => "[notice ]",
        Level::Warning => "[warning]",
        Level::Error => "[ error ]",
    }
}

/// `s` with control characters (an ESC from a conf value, a newline in a path) written as escapes,
/// so what was read from the host cannot drive the terminal.
fn escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// The summary for a person.
pub fn human(o: &Outcome) -> String {
    let mut s = format!(
        "sr-rehearse precheck: {} node, to {}{}\n",
        o.role.word(),
        o.to_version,
        o.from_version
            .as_ref()
            .map_or(String::new(), |f| format!(" from {f}"))
    );
    if let Some(h) = &o.home {
        s.push_str(&format!("  home:    {h}\n"));
    }
    if let Some(p) = &o.package {
        s.push_str(&format!(
            "  package: {p}{}\n",
            o.package_version
                .as_ref()
                .map_or(String::new(), |v| format!(" (StarRocks {v})"))
        ));
    }
    match &o.jdk {
        Some(j) if !j.has_java => s.push_str(&format!(
            "  java:    no bin/java at {} ({})\n",
            escape(&j.path),
            j.source
        )),
        Some(j) => s.push_str(&format!(
            "  java:    {} {} at {} ({})\n",
            j.kind.to_uppercase(),
            if j.major == 0 {
                "of unknown version".to_string()
            } else {
                j.major.to_string()
            },
            escape(&j.path),
            j.source
        )),
        None => s.push_str("  java:    none found\n"),
    }
    let width = o.findings.iter().map(|f| f.id.len()).max().unwrap_or(0);
    for f in &o.findings {
        let found = escape(&f.found);
        s.push_str(&format!("{} {:width$}  {found}\n", tag(f.level), f.id));
        if f.level > Level::Ok && !f.fix.is_empty() {
            let pad = " ".repeat(10 + width + 2);
            s.push_str(&format!("{pad}fix: {}\n{pad}see: {}\n", f.fix, f.doc));
        }
    }
    s.push_str(&format!(
        "precheck: {} error(s), {} warning(s), {} notice(s) (exit {})\n",
        o.errors, o.warnings, o.notices, o.exit_code
    ));
    s
}

/// The JSON form (`--format json`, `--json FILE`).
pub fn json(o: &Outcome) -> String {
    serde_json::to_string_pretty(o).expect("the outcome serialises") + "\n"
}
