//! `fe-node.yml`: one FE's step, imported by the follower play and by the leader play.
//!
//! Before the step the FE is asked again for its version (already on the target: skipped, with a
//! line) and its role: the leader found at plan time may have moved, so the follower play skips
//! the FE that is LEADER at that moment and the leader play upgrades what is left. The step is
//! manage_deployment/upgrade.md's "Upgrade FE": stop_fe.sh, "Replace the original deployment files
//! under bin, lib, and spark-dpp", start_fe.sh --daemon; the gate proves this FE (its row on the
//! target, started after the time read before the stop); then the clone and balance settings are
//! applied again, because ADMIN SET FRONTEND CONFIG is lost when an FE restarts.
//!
//! An FE that fails is left as it is: its old binaries are not put back behind a leader that may
//! already run the new release (docs/en/deployment/downgrade.md is the way back, FEs first with
//! `ignore_unknown_log_id`, a new image, then the BEs). The rescue prints that downgrade for this
//! cluster (the inventory's `downgrade_steps`, written by `downgrade`) and stops the play. Every
//! command is an argv list: no value reaches a shell.

use super::playbook::{apply_words, argv_block, gate_words, print_words};

pub(super) fn fe_node() -> String {
    FE_NODE
        .replace("%VERSION%", &argv_block(6, &print_words("version")))
        .replace("%ROLE%", &argv_block(6, &print_words("role")))
        .replace("%START%", &argv_block(6, &print_words("start-time")))
        .replace(
            "%GATE%",
            &argv_block(10, &gate_words("\"{{ fe_started_before.stdout | trim }}\"")),
        )
        .replace(
            "%APPLY%",
            &argv_block(
                10,
                &apply_words("\"{{ gate_fe }}\"", "\"{{ gate_query_port }}\""),
            ),
        )
}

const FE_NODE: &str = r#"# One FE: skipped when it already runs the target (or, in the follower play, when it is LEADER
# now); else stop, keep bin/ lib/ (and spark-dpp/) in a backup named after the version it holds,
# install the new ones, start, gate this FE, apply the clone and balance settings again. A failure
# leaves the FE as it is, prints the documented downgrade and stops the play.
- name: Read this FE's version now
  ansible.builtin.command:
%VERSION%
  register: fe_version_now
  changed_when: false
- name: Say this FE is already on the target
  ansible.builtin.debug:
    msg: "{{ node_id }} already runs {{ target_version }}: skipped"
  when: (fe_version_now.stdout | trim).split('-')[0] == target_version
- name: Skip an FE already on the target
  ansible.builtin.meta: end_host
  when: (fe_version_now.stdout | trim).split('-')[0] == target_version
- name: Read this FE's role now (the leader may have moved since the plan)
  ansible.builtin.command:
%ROLE%
  register: fe_role_now
  changed_when: false
- name: Say the LEADER is left for the last play
  ansible.builtin.debug:
    msg: "{{ node_id }} is LEADER now: skipped here, upgraded after the other FEs"
  when: fe_phase == 'followers' and (fe_role_now.stdout | trim) == 'LEADER'
- name: Leave the LEADER for the last play
  ansible.builtin.meta: end_host
  when: fe_phase == 'followers' and (fe_role_now.stdout | trim) == 'LEADER'
- name: Read this FE's start time before its restart
  ansible.builtin.command:
%START%
  register: fe_started_before
  changed_when: false
- name: Upgrade the FE in {{ node_home }}
  environment: "{{ {'JAVA_HOME': java_home} if java_home is defined else {} }}"
  block:
    - name: Stop the FE with its own script
      ansible.builtin.command:
        argv: [bash, bin/stop_fe.sh]
        chdir: "{{ node_home }}"
      changed_when: true
    - name: Make the backup folder, named after the version it holds
      ansible.builtin.command:
        argv: [mkdir, "{{ backup_name }}"]
        chdir: "{{ node_home }}"
      changed_when: true
    - name: Move the old bin/ and lib/ into the backup
      ansible.builtin.command:
        argv: [mv, bin, lib, "{{ backup_name }}/"]
        chdir: "{{ node_home }}"
      changed_when: true
    - name: Look for the old spark-dpp/
      ansible.builtin.stat:
        path: "{{ node_home }}/spark-dpp"
      register: old_spark_dpp
    - name: Move the old spark-dpp/ into the backup
      ansible.builtin.command:
        argv: [mv, spark-dpp, "{{ backup_name }}/"]
        chdir: "{{ node_home }}"
      when: new_fe_has_spark_dpp and old_spark_dpp.stat.exists
      changed_when: true
    - name: Install the new bin/ and lib/
      ansible.builtin.command:
        argv: [cp, -a, "{{ new_fe }}/bin", "{{ new_fe }}/lib", .]
        chdir: "{{ node_home }}"
      changed_when: true
    - name: Install the new spark-dpp/
      ansible.builtin.command:
        argv: [cp, -a, "{{ new_fe }}/spark-dpp", .]
        chdir: "{{ node_home }}"
      when: new_fe_has_spark_dpp
      changed_when: true
    - name: Start the new FE
      ansible.builtin.command:
        argv: [bash, bin/start_fe.sh, --daemon]
        chdir: "{{ node_home }}"
      changed_when: true
    - name: Gate - this FE on the target, restarted, and staying Alive
      ansible.builtin.command:
%GATE%
      changed_when: false
    - name: Apply the clone and balance settings again (ADMIN SET FRONTEND CONFIG is lost at an FE restart)
      delegate_to: localhost
      ansible.builtin.command:
%APPLY%
      changed_when: true
  rescue:
    - name: Print the documented downgrade for this cluster
      ansible.builtin.debug:
        msg: "{{ downgrade_steps.split('\n') }}"
    - name: Stop the play, leaving this FE as it is
      ansible.builtin.fail:
        msg: >-
          FE {{ inventory_hostname }} failed on its way to {{ target_version }}; it is left as it
          is (its old binaries are not put back behind a leader that may run the new release);
          the documented downgrade is printed above, and the upgrade stops here
"#;
