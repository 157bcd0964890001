//! The plan as an Ansible playbook: `inventory.yml`, `playbook.yml` and `fe-node.yml`.
//!
//! The BEs go through the BE canary's in-place procedure, so each one gets the canary's journal and
//! automatic rollback; the FEs get the guide's commands with a rescue that puts the old build back.
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

use super::{tool, Plan, PlanConfig, PlanError};
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

/// `argv:` followed by one `- word` line per word, the words indented by `indent` spaces (the
/// `argv:` key two fewer). The words are written as given: each is YAML already.
fn argv_block(indent: usize, words: &[&str]) -> String {
    let mut s = format!("{}argv:", " ".repeat(indent - 2));
    for w in words {
        s.push_str(&format!("\n{}- {w}", " ".repeat(indent)));
    }
    s
}

/// Writes `inventory.yml`, `playbook.yml` and `fe-node.yml` into `out`.
pub fn write_ansible(cfg: &PlanConfig, plan: &Plan, out: &Path) -> Result<Vec<PathBuf>, PlanError> {
    let io = |p: &Path, e: std::io::Error| {
        PlanError::Io(format!("failed to write {}: {e}", p.display()))
    };
    // The BE canary's in-place procedure knows BE homes only; a CN would need its own.
    if let Some(cn) = plan.steps.iter().find(|s| s.node.kind == "cn") {
        return Err(PlanError::BadInput(format!(
            "failed to write the playbook: {} is a compute node, which --format ansible does not upgrade yet; use the text runbook",
            cn.node.id()
        )));
    }
    let tool = tool();
    let mut vars = vec![
        (
            "sr_rehearse",
            path_str("the tool's path", &tool)?.to_string(),
        ),
        ("new_be", path_str("--new-be", &cfg.new_be)?.to_string()),
        ("new_fe", path_str("--new-fe", &cfg.new_fe)?.to_string()),
        ("target_version", plan.to.to_string()),
        (
            "gate_wait",
            humantime::format_duration(cfg.gate_wait).to_string(),
        ),
        ("soak", humantime::format_duration(cfg.soak).to_string()),
        ("backup_name", format!("sr-rehearse-backup-{}", plan.to)),
    ];
    if let Some(j) = &cfg.java_home {
        vars.push(("java_home", path_str("--java-home", j)?.to_string()));
    }
    let mut inv = String::from("# Inventory written by sr-rehearse upgrade-plan: one host per StarRocks node.\n# Values are !unsafe: Ansible uses them as they are and never renders them as templates.\nall:\n  vars:\n");
    for (k, v) in &vars {
        inv.push_str(&format!("    {k}: {}\n", unsafe_str(v)));
    }
    inv.push_str("  children:\n");
    let mut names = BTreeSet::new();
    for (group, pick) in [
        ("starrocks_be", 0),
        ("starrocks_fe_followers", 1),
        ("starrocks_fe_leader", 2),
    ] {
        inv.push_str(&format!("    {group}:\n      hosts:\n"));
        for s in &plan.steps {
            let n = &s.node;
            let g = match (n.kind.as_str(), n.role.as_str()) {
                ("fe", "LEADER") => 2,
                ("fe", _) => 1,
                _ => 0,
            };
            if g != pick {
                continue;
            }
            let name = host_name(&n.kind, &n.host, n.port);
            if !names.insert(name.clone()) {
                return Err(PlanError::BadInput(format!(
                    "failed to write the playbook: two nodes would both be the inventory host {name} ({} is one); use the text runbook",
                    n.id()
                )));
            }
            inv.push_str(&format!("        \"{name}\":\n"));
            // The connection settings are the tool's own and must be templated; nothing else is.
            inv.push_str("          ansible_connection: \"local\"\n");
            inv.push_str(
                "          ansible_python_interpreter: \"{{ ansible_playbook_python }}\"\n",
            );
            let home = path_str(&format!("the home of {}", n.id()), &s.home)?;
            for (k, v) in [
                ("node_host", n.host.clone()),
                ("node_home", home.to_string()),
                ("gate_fe", format!("{}:{}", s.gate.0, s.gate.1)),
                ("gate_query_port", s.gate.2.to_string()),
            ] {
                inv.push_str(&format!("          {k}: {}\n", unsafe_str(&v)));
            }
        }
    }
    std::fs::create_dir_all(out).map_err(|e| io(out, e))?;
    let inventory = out.join("inventory.yml");
    write_new(&inventory, inv.as_bytes()).map_err(|e| io(&inventory, e))?;

    // Commands as block sequences, one word per line: ansible-lint's production profile refuses
    // lines over 160 characters, and a word per line reads better in a diff anyway.
    let gate_words = [
        "\"{{ sr_rehearse }}\"",
        "check",
        "--fe",
        "\"{{ gate_fe }}\"",
        "--query-port",
        "\"{{ gate_query_port }}\"",
        "--wait",
        "\"{{ gate_wait }}\"",
        "--allow-version",
        "\"{{ target_version }}\"",
        "-q",
    ];
    let gate_play = argv_block(14, &gate_words);
    let gate_fe_node = argv_block(10, &gate_words);
    let canary = argv_block(
        14,
        &[
            "\"{{ sr_rehearse }}\"",
            "be",
            "--be-home",
            "\"{{ node_home }}\"",
            "--new-be",
            "\"{{ new_be }}\"",
            "--in-place",
            "--fe",
            "\"{{ gate_fe.split(':')[0] }}:{{ gate_query_port }}\"",
            "--soak",
            "\"{{ soak }}\"",
            "-q",
        ],
    );
    let playbook = format!(
        r#"# Rolling upgrade to StarRocks {to}, written by sr-rehearse upgrade-plan from the cluster as it was.
# Order of the StarRocks guide: BEs one at a time, FE followers and observers, the leader last.
# Each host waits for `sr-rehearse check --wait` to see the whole cluster healthy before the next;
# a failure leaves that node on its old build and stops the play (any_errors_fatal).
# Run: ansible-playbook -i inventory.yml playbook.yml

- name: Upgrade the BEs one at a time with the BE canary's in-place procedure
  hosts: starrocks_be
  serial: 1
  any_errors_fatal: true
  max_fail_percentage: 0
  gather_facts: false
  tasks:
    - name: Upgrade the BE in {{{{ node_home }}}}
      block:
        - name: Swap the build in place (journal, backup, automatic rollback to the old build)
          ansible.builtin.command:
{canary}
          changed_when: true
        - name: Gate - the whole cluster healthy before the next host
          ansible.builtin.command:
{gate}
          changed_when: false
      rescue:
        - name: Wait for the cluster to be healthy with this BE on its old build (the canary rolled it back)
          ansible.builtin.command:
{gate}
          changed_when: false
        - name: Stop the play
          ansible.builtin.fail:
            msg: >-
              BE {{{{ inventory_hostname }}}}: the in-place upgrade to {{{{ target_version }}}} or its
              gate failed (a BE that failed to start was rolled back to its old build by the
              canary); the upgrade stops here

- name: Upgrade the FE followers and observers one at a time
  hosts: starrocks_fe_followers
  serial: 1
  any_errors_fatal: true
  max_fail_percentage: 0
  gather_facts: false
  tasks:
    - name: Upgrade this FE
      ansible.builtin.import_tasks: fe-node.yml

- name: Upgrade the leader FE last
  hosts: starrocks_fe_leader
  serial: 1
  any_errors_fatal: true
  max_fail_percentage: 0
  gather_facts: false
  tasks:
    - name: Upgrade this FE
      ansible.builtin.import_tasks: fe-node.yml
"#,
        to = plan.to,
        gate = gate_play,
        canary = canary,
    );
    let fe_node = format!(
        r#"# One FE: stop, keep bin/ and lib/, install the new ones, start, gate; on any failure put the
# old build back, start it, wait for the cluster to be healthy again, and stop the play.
- name: Upgrade the FE in {{{{ node_home }}}}
  environment: "{{{{ {{'JAVA_HOME': java_home}} if java_home is defined else {{}} }}}}"
  block:
    - name: Stop the FE with its own script
      ansible.builtin.command:
        argv: [bash, bin/stop_fe.sh]
        chdir: "{{{{ node_home }}}}"
      changed_when: true
    - name: Keep the old bin/ and lib/
      ansible.builtin.command:
        argv: [mkdir, "{{{{ backup_name }}}}"]
        chdir: "{{{{ node_home }}}}"
      changed_when: true
    - name: Move the old bin/ and lib/ into the backup
      ansible.builtin.command:
        argv: [mv, bin, lib, "{{{{ backup_name }}}}/"]
        chdir: "{{{{ node_home }}}}"
      changed_when: true
    - name: Install the new bin/ and lib/
      ansible.builtin.command:
        argv: [cp, -a, "{{{{ new_fe }}}}/bin", "{{{{ new_fe }}}}/lib", .]
        chdir: "{{{{ node_home }}}}"
      changed_when: true
    - name: Start the new FE
      ansible.builtin.command:
        argv: [bash, bin/start_fe.sh, --daemon]
        chdir: "{{{{ node_home }}}}"
      changed_when: true
    - name: Gate - the whole cluster healthy before the next host
      ansible.builtin.command:
{gate_fe_node}
      changed_when: false
  rescue:
    - name: Stop whatever runs now
      ansible.builtin.command:
        argv: [bash, bin/stop_fe.sh]
        chdir: "{{{{ node_home }}}}"
      failed_when: false
      changed_when: true
    - name: Put the old bin/ and lib/ back
      ansible.builtin.shell: |
        set -e
        if [ -d "{{{{ backup_name }}}}/lib" ]; then
          rm -rf bin lib
          mv "{{{{ backup_name }}}}/bin" "{{{{ backup_name }}}}/lib" .
          rmdir "{{{{ backup_name }}}}"
        fi
      args:
        chdir: "{{{{ node_home }}}}"
      changed_when: true
    - name: Start the old FE
      ansible.builtin.command:
        argv: [bash, bin/start_fe.sh, --daemon]
        chdir: "{{{{ node_home }}}}"
      changed_when: true
    - name: Wait for the cluster to be healthy on the old build of this FE
      ansible.builtin.command:
{gate_fe_node}
      changed_when: false
    - name: Stop the play
      ansible.builtin.fail:
        msg: >-
          FE {{{{ inventory_hostname }}}} did not come back healthy on {{{{ target_version }}}}; it
          runs its old build again and the upgrade stops here
"#
    );
    let pb = out.join("playbook.yml");
    write_new(&pb, playbook.as_bytes()).map_err(|e| io(&pb, e))?;
    let fe = out.join("fe-node.yml");
    write_new(&fe, fe_node.as_bytes()).map_err(|e| io(&fe, e))?;
    Ok(vec![inventory, pb, fe])
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
