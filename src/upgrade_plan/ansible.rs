//! The plan as an Ansible inventory, and the writing of the three files (`playbook` and
//! `fe_node` hold the plays).
//!
//! Each node is an inventory host whose `ansible_host` is the node's address as the cluster lists
//! it, reached by Ansible's default connection: a node's step runs on that node's machine. Only
//! `--connection local` (a lab whose nodes all live on the control machine) runs everything
//! locally, and the inventory says so in its header.
//!
//! Ansible renders every string of an inventory as a Jinja2 template when a task uses it, so a
//! path holding `{{ lookup('pipe', ...) }}` would run a command on the control node, and `{# #}`
//! would silently change the path. Every value from the user or the cluster is therefore written
//! as `!unsafe` (Ansible's tag for a literal string, never templated), in a YAML double-quoted
//! scalar with everything but printable ASCII escaped (`\x7f`, `\x85`, `\u2028`): YAML folds NEL
//! and LS to a space and refuses DEL in plain text, escapes keep them. Host names are built from
//! the checked host (`check::values`) with every other character made `_`, and quoted.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{node_arg, tool, Connection, Plan, PlanConfig, PlanError};
// Each file is created new and renamed into place, so a link planted in --out is replaced, never
// written through.
use crate::report::file::write_new;

/// `s` as a literal YAML string Ansible never templates.
fn unsafe_str(s: &str) -> String {
    let mut o = String::from("!unsafe \"");
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            ' '..='~' => o.push(c),
            c if (c as u32) < 0x100 => o.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    o.push('"');
    o
}

/// A path as text for YAML, which holds only Unicode: a path that is not UTF-8 is refused.
fn path_str<'a>(flag: &str, p: &'a Path) -> Result<&'a str, PlanError> {
    p.to_str().ok_or_else(|| {
        PlanError::BadInput(format!(
            "failed to write the playbook: {flag} {} is not UTF-8, which YAML cannot carry; use the text runbook",
            p.display()
        ))
    })
}

/// The inventory host name of a node: `be_10_0_0_1_9050`.
fn host_name(kind: &str, host: &str, port: u16) -> String {
    let h: String = host
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{kind}_{h}_{port}")
}

/// `name: !unsafe "value"` lines of one host or group, indented.
fn vars_block(indent: usize, vars: &[(&str, String)]) -> String {
    vars.iter()
        .map(|(k, v)| format!("{}{k}: {}\n", " ".repeat(indent), unsafe_str(v)))
        .collect()
}

/// The inventory: the plan's values as group variables, one host per node with its address.
fn inventory(cfg: &PlanConfig, plan: &Plan) -> Result<String, PlanError> {
    let tool = tool();
    let (fe, fe_http) = crate::check::parse_host_port("--fe", &cfg.check.fe)
        .map_err(|e| PlanError::BadInput(e.to_string()))?;
    let mut vars = vec![
        (
            "sr_rehearse",
            path_str("the tool's path", &tool)?.to_string(),
        ),
        ("new_be", path_str("--new-be", &cfg.new_be)?.to_string()),
        ("new_fe", path_str("--new-fe", &cfg.new_fe)?.to_string()),
        ("from_version", plan.from.to_string()),
        ("target_version", plan.to.to_string()),
        (
            "gate_wait",
            humantime::format_duration(cfg.gate_wait).to_string(),
        ),
        ("soak", humantime::format_duration(cfg.soak).to_string()),
        (
            "stable_for",
            humantime::format_duration(cfg.stable_for).to_string(),
        ),
        (
            "settings_state",
            path_str("--settings-state", &super::settings_state(cfg))?.to_string(),
        ),
        // The FE the cluster-wide steps ask (upgrade-settings, the last check): the one --fe
        // named, which every FE step brings back before the next.
        ("cluster_fe", format!("{fe}:{fe_http}")),
        ("cluster_query_port", cfg.check.query_port.to_string()),
        (
            "downgrade_steps",
            super::downgrade::downgrade_lines(cfg, plan).join("\n"),
        ),
    ];
    if let Some(j) = &cfg.java_home {
        vars.push(("java_home", path_str("--java-home", j)?.to_string()));
    }
    let mut inv = String::from(
        "# Inventory written by sr-rehearse upgrade-plan: one host per StarRocks node, reached at its\n# ansible_host (the node's address as the cluster lists it; an FE and a BE on one machine are two\n# hosts with one address).\n",
    );
    match cfg.connection {
        Connection::Default => inv.push_str(
            "# Ansible's default connection (SSH to each ansible_host): every node's step runs on its host.\n",
        ),
        Connection::Local => inv.push_str("# --connection local: EVERY TASK RUNS ON THE MACHINE THAT RUNS ansible-playbook. A lab setting,\n# for a cluster whose nodes all live on that machine; never for a fleet.\n"),
    }
    inv.push_str("# Values are !unsafe: Ansible uses them as they are and never renders them as templates.\nall:\n  vars:\n");
    inv.push_str(&vars_block(4, &vars));
    // Whether the new FE package has spark-dpp/ (the docs replace it with bin/ and lib/): the
    // tool's own boolean, not a value of the user's.
    inv.push_str(&format!(
        "    new_fe_has_spark_dpp: {}\n",
        cfg.new_fe.join("spark-dpp").is_dir()
    ));
    if cfg.connection == Connection::Local {
        // The connection settings are the tool's own and must be templated; nothing else is.
        inv.push_str("    ansible_connection: \"local\"\n");
        inv.push_str("    ansible_python_interpreter: \"{{ ansible_playbook_python }}\"\n");
    }
    inv.push_str("  children:\n");
    let mut names = BTreeSet::new();
    // The FEs in plan order: observers and followers, the leader when planned last. The plays
    // find the leader again at run time; this order only decides who goes first.
    for (group, fe) in [("starrocks_be", false), ("starrocks_fe", true)] {
        inv.push_str(&format!("    {group}:\n      hosts:\n"));
        for s in plan.steps.iter().filter(|s| (s.node.kind == "fe") == fe) {
            let n = &s.node;
            let name = host_name(&n.kind, &n.host, n.port);
            if !names.insert(name.clone()) {
                return Err(PlanError::BadInput(format!(
                    "failed to write the playbook: two nodes would both be the inventory host {name} ({} is one); use the text runbook",
                    n.id()
                )));
            }
            inv.push_str(&format!("        \"{name}\":\n"));
            let home = path_str(&format!("the home of {}", n.id()), &s.home)?;
            inv.push_str(&vars_block(
                10,
                &[
                    // The address the cluster lists (checked by check::values: an IP address
                    // or a host name), which is where the node runs.
                    ("ansible_host", n.host.clone()),
                    ("node_id", node_arg(n)),
                    ("node_kind", n.kind.clone()),
                    ("node_home", home.to_string()),
                    ("backup_name", s.backup.clone()),
                    ("gate_fe", format!("{}:{}", s.gate.0, s.gate.1)),
                    ("gate_query_port", s.gate.2.to_string()),
                ],
            ));
        }
    }
    Ok(inv)
}

/// Writes `inventory.yml`, `playbook.yml` and `fe-node.yml` into `out`.
pub fn write_ansible(cfg: &PlanConfig, plan: &Plan, out: &Path) -> Result<Vec<PathBuf>, PlanError> {
    let io = |p: &Path, e: std::io::Error| {
        PlanError::Io(format!("failed to write {}: {e}", p.display()))
    };
    // The BE canary's in-place procedure knows BE homes only; a CN would need its own (#22).
    if let Some(cn) = plan.steps.iter().find(|s| s.node.kind == "cn") {
        return Err(PlanError::BadInput(format!(
            "failed to write the playbook: {} is a compute node, which --format ansible does not upgrade yet; use the text runbook",
            cn.node.id()
        )));
    }
    let inv = inventory(cfg, plan)?;
    std::fs::create_dir_all(out).map_err(|e| io(out, e))?;
    let mut written = Vec::new();
    for (name, text) in [
        ("inventory.yml", inv),
        ("playbook.yml", super::playbook::playbook(plan)),
        ("fe-node.yml", super::fe_node::fe_node()),
    ] {
        let p = out.join(name);
        write_new(&p, text.as_bytes()).map_err(|e| io(&p, e))?;
        written.push(p);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_literal_and_escaped() {
        assert_eq!(unsafe_str("/opt/be"), "!unsafe \"/opt/be\"");
        assert_eq!(
            unsafe_str("/a{{ x }}\"\\\u{7f}\u{85}\u{2028}名\u{1f600}\n"),
            "!unsafe \"/a{{ x }}\\\"\\\\\\x7f\\x85\\u2028\\u540d\\U0001f600\\x0a\""
        );
        assert_eq!(
            host_name("fe", "fe-1.example", 9030),
            "fe_fe_1_example_9030"
        );
        assert_eq!(host_name("be", "::1", 9050), "be___1_9050");
    }
}
