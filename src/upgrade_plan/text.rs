//! The plan as a text runbook: one numbered step per node with the exact commands to type.
//!
//! Paths are shell-quoted because the runbook is meant to be pasted into a shell on the host.

use std::path::Path;

use super::{tool, Plan, PlanConfig};

fn q(p: &Path) -> String {
    shell_quote(&p.display().to_string())
}

fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-:@=".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn gate_cmd(cfg: &PlanConfig, plan: &Plan, gate: &(String, u16, u16)) -> String {
    format!(
        "{} check --fe {}:{} --query-port {} --wait {} --allow-version {}",
        tool(),
        gate.0,
        gate.1,
        gate.2,
        humantime::format_duration(cfg.gate_wait),
        plan.to
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
    let stamp = format!("sr-rehearse-backup-{}", plan.to);
    for (i, s) in plan.steps.iter().enumerate() {
        let n = &s.node;
        let what = match (n.kind.as_str(), n.role.as_str()) {
            ("fe", r) => format!("FE {r}"),
            (k, _) => k.to_uppercase(),
        };
        let (new, stop, start) = match n.kind.as_str() {
            "fe" => (&cfg.new_fe, "bin/stop_fe.sh", "bin/start_fe.sh --daemon"),
            // A CN runs from the be/ package with its own scripts.
            "cn" => (&cfg.new_be, "bin/stop_cn.sh", "bin/start_cn.sh --daemon"),
            _ => (&cfg.new_be, "bin/stop_be.sh", "bin/start_be.sh --daemon"),
        };
        o.push_str(&format!(
            "\n{}. {what} {}:{} (home {}, now {})\n",
            i + 1,
            n.host,
            n.port,
            s.home.display(),
            n.version
        ));
        o.push_str(&format!("   cd {}\n", q(&s.home)));
        o.push_str(&format!("   bash {stop}\n"));
        o.push_str(&format!("   mkdir {stamp} && mv bin lib {stamp}/\n"));
        o.push_str(&format!("   cp -a {}/bin {}/lib .\n", q(new), q(new)));
        o.push_str(&format!("   bash {start}\n"));
        o.push_str(&format!("   {}\n", gate_cmd(cfg, plan, &s.gate)));
        if n.kind == "be" {
            o.push_str(&format!(
                "   (or all of the above but the gate, with a journal and automatic rollback: {} be --be-home {} --new-be {} --in-place --fe {}:{} --soak {})\n",
                tool(),
                q(&s.home),
                q(new),
                s.gate.0,
                s.gate.2,
                humantime::format_duration(cfg.soak)
            ));
        }
        o.push_str(&format!(
            "   if the gate fails: bash {stop}; rm -rf bin lib && mv {stamp}/bin {stamp}/lib . && bash {start}; then stop the upgrade\n"
        ));
    }
    o
}
