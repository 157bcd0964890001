//! The plan as an Ansible playbook: `inventory.yml`, `playbook.yml` and `fe-node.yml`.
//!
//! The BEs go through the BE canary's in-place procedure, so each one gets the canary's journal and
//! automatic rollback; the FEs get the guide's commands with a rescue that puts the old build back.
//! Values are written as JSON strings, which YAML reads as they are, so no path or version can
//! break the file's structure.

use std::path::{Path, PathBuf};

use super::{tool, Plan, PlanConfig, PlanError};
// Each file is created new and renamed into place, so a link planted in --out is replaced, never
// written through.
use crate::report::file::write_new;

fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
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
    std::fs::create_dir_all(out).map_err(|e| io(out, e))?;
    let mut inv = String::from("# Inventory written by sr-rehearse upgrade-plan: one host per StarRocks node.\nall:\n  vars:\n");
    let mut var = |k: &str, v: &str| inv.push_str(&format!("    {k}: {}\n", yaml_str(v)));
    var("sr_rehearse", &tool());
    var("new_be", &cfg.new_be.display().to_string());
    var("new_fe", &cfg.new_fe.display().to_string());
    var("target_version", &plan.to.to_string());
    var(
        "gate_wait",
        &humantime::format_duration(cfg.gate_wait).to_string(),
    );
    var("soak", &humantime::format_duration(cfg.soak).to_string());
    var("backup_name", &format!("sr-rehearse-backup-{}", plan.to));
    if let Some(j) = &cfg.java_home {
        var("java_home", &j.display().to_string());
    }
    inv.push_str("  children:\n");
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
            inv.push_str(&format!(
                "        {}_{}_{}:\n",
                n.kind,
                n.host.replace(['.', ':'], "_"),
                n.port
            ));
            let mut h =
                |k: &str, v: &str| inv.push_str(&format!("          {k}: {}\n", yaml_str(v)));
            h("ansible_connection", "local");
            h(
                "ansible_python_interpreter",
                "{{ ansible_playbook_python }}",
            );
            h("node_host", &n.host);
            h("node_home", &s.home.display().to_string());
            h("gate_fe", &format!("{}:{}", s.gate.0, s.gate.1));
            h("gate_query_port", &s.gate.2.to_string());
        }
    }
    let inventory = out.join("inventory.yml");
    write_new(&inventory, inv.as_bytes()).map_err(|e| io(&inventory, e))?;

    let gate = r#"        argv: ["{{ sr_rehearse }}", check, --fe, "{{ gate_fe }}", --query-port, "{{ gate_query_port }}", --wait, "{{ gate_wait }}", --allow-version, "{{ target_version }}", -q]"#;
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
            argv: ["{{{{ sr_rehearse }}}}", be, --be-home, "{{{{ node_home }}}}", --new-be, "{{{{ new_be }}}}", --in-place, --fe, "{{{{ gate_fe.split(':')[0] }}}}:{{{{ gate_query_port }}}}", --soak, "{{{{ soak }}}}", -q]
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
            msg: "BE {{{{ inventory_hostname }}}}: the in-place upgrade to {{{{ target_version }}}} or its gate failed (a BE that failed to start was rolled back to its old build by the canary); the upgrade stops here"

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
        gate = gate
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
{gate}
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
{gate}
      changed_when: false
    - name: Stop the play
      ansible.builtin.fail:
        msg: "FE {{{{ inventory_hostname }}}} did not come back healthy on {{{{ target_version }}}}; it runs its old build again and the upgrade stops here"
"#
    );
    let pb = out.join("playbook.yml");
    write_new(&pb, playbook.as_bytes()).map_err(|e| io(&pb, e))?;
    let fe = out.join("fe-node.yml");
    write_new(&fe, fe_node.as_bytes()).map_err(|e| io(&fe, e))?;
    Ok(vec![inventory, pb, fe])
}
