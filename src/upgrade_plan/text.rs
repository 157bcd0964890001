//! The plan as a text runbook: one numbered step per node with the exact commands to type.
//!
//! The runbook is meant to be pasted into a shell on the host, so every value placed in a command
//! is shell-quoted: paths given by the user, the FE addresses the cluster reported, the tool's own
//! path. A value with control characters (or a path that is not UTF-8) is written in bash's
//! `$'...'` form, so a newline in it cannot end the command where it is pasted.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::{tool, Plan, PlanConfig};

fn q(p: &Path) -> String {
    let bytes = p.as_os_str().as_bytes();
    match std::str::from_utf8(bytes) {
        Ok(s) => shell_quote(s),
        Err(_) => ansi_c_quote(bytes),
    }
}

/// `s` as one shell word: as it is when it holds nothing a shell reads, else in single quotes, or
/// in `$'...'` when it holds a control character.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:@=,+".contains(c))
    {
        s.to_string()
    } else if s
        .chars()
        .any(|c| c.is_control() || !c.is_ascii() && !c.is_alphanumeric())
    {
        ansi_c_quote(s.as_bytes())
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// bash's `$'...'`: printable ASCII as it is (but `\` and `'`), every other byte as `\xNN`.
fn ansi_c_quote(bytes: &[u8]) -> String {
    let mut o = String::from("$'");
    for &b in bytes {
        match b {
            b'\\' => o.push_str("\\\\"),
            b'\'' => o.push_str("\\'"),
            0x20..=0x7e => o.push(b as char),
            _ => o.push_str(&format!("\\x{b:02x}")),
        }
    }
    o.push('\'');
    o
}

/// `HOST:PORT` of a gate as one shell word.
fn addr(host: &str, port: u16) -> String {
    shell_quote(&format!("{host}:{port}"))
}

fn gate_cmd(cfg: &PlanConfig, plan: &Plan, gate: &(String, u16, u16)) -> String {
    format!(
        "{} check --fe {} --query-port {} --wait {} --allow-version {}",
        q(&tool()),
        addr(&gate.0, gate.1),
        gate.2,
        shell_quote(&humantime::format_duration(cfg.gate_wait).to_string()),
        shell_quote(&plan.to.to_string())
    )
}

/// The runbook as text: one numbered step per node with its exact commands.
pub fn render_text(cfg: &PlanConfig, plan: &Plan) -> String {
    let mut o = format!(
        "sr-rehearse upgrade-plan: {} -> {} ({} nodes: BEs one at a time, then FE observers and followers, the leader last)\n",
        plan.from,
        plan.to,
        plan.steps.len()
    );
    for f in &plan.forced {
        o.push_str(&format!("FORCED (--force): {f}\n"));
    }
    for w in &plan.warnings {
        o.push_str(&format!("warning: {w}\n"));
    }
    if plan.patch_only {
        o.push_str("note: a patch upgrade within one minor version; the guide allows replacing only lib/starrocks_be and lib/starrocks-fe.jar, the commands below replace bin/ and lib/, which is always safe\n");
    }
    let stamp = shell_quote(&format!("sr-rehearse-backup-{}", plan.to));
    for (i, s) in plan.steps.iter().enumerate() {
        let n = &s.node;
        let what = match (n.kind.as_str(), n.role.as_str()) {
            ("fe", r) => format!("FE {}", crate::check::escape(r)),
            (k, _) => k.to_uppercase(),
        };
        let (new, stop, start) = match n.kind.as_str() {
            "fe" => (&cfg.new_fe, "bin/stop_fe.sh", "bin/start_fe.sh --daemon"),
            // A CN runs from the be/ package with its own scripts.
            "cn" => (&cfg.new_be, "bin/stop_cn.sh", "bin/start_cn.sh --daemon"),
            _ => (&cfg.new_be, "bin/stop_be.sh", "bin/start_be.sh --daemon"),
        };
        // The cluster's values were checked (check::values) before a plan was made; they are
        // escaped here all the same, as everything printed from a server is.
        o.push_str(&format!(
            "\n{}. {what} {} (home {}, now {})\n",
            i + 1,
            n.id().split_once(' ').map_or("", |(_, a)| a),
            q(&s.home),
            crate::check::escape(&n.version)
        ));
        o.push_str(&format!("   cd {}\n", q(&s.home)));
        o.push_str(&format!("   bash {stop}\n"));
        o.push_str(&format!("   mkdir {stamp} && mv bin lib {stamp}/\n"));
        o.push_str(&format!("   cp -a {}/bin {}/lib .\n", q(new), q(new)));
        o.push_str(&format!("   bash {start}\n"));
        o.push_str(&format!("   {}\n", gate_cmd(cfg, plan, &s.gate)));
        if n.kind == "be" {
            o.push_str(&format!(
                "   (or all of the above but the gate, with a journal and automatic rollback: {} be --be-home {} --new-be {} --in-place --fe {} --soak {})\n",
                q(&tool()),
                q(&s.home),
                q(new),
                addr(&s.gate.0, s.gate.2),
                shell_quote(&humantime::format_duration(cfg.soak).to_string())
            ));
        }
        o.push_str(&format!(
            "   if the gate fails: bash {stop}; rm -rf bin lib && mv {stamp}/bin {stamp}/lib . && bash {start}; then stop the upgrade\n"
        ));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    /// What bash makes of a quoted word: run through `printf %s`, nothing executed.
    fn bash_word(word: &str) -> Vec<u8> {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("printf %s {word}"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{word}");
        out.stdout
    }

    #[test]
    fn every_word_reads_back_as_itself() {
        for s in [
            "/opt/starrocks/be",
            "/opt/sr/odd bin $(id)/it's",
            "127.0.0.1$(id>/tmp/x):8030",
            "a\nb`id`",
            "/opt/a\u{85}b\u{2028}c\x7fd",
            "",
            "名前",
        ] {
            assert_eq!(bash_word(&shell_quote(s)), s.as_bytes(), "{s:?}");
        }
        let raw = OsStr::from_bytes(b"/opt/\xff\x1b[2J'x");
        assert_eq!(bash_word(&q(Path::new(raw))), raw.as_bytes());
    }
}
