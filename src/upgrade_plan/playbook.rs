//! `playbook.yml`: the documented upgrade procedure as Ansible plays, in the order of
//! docs/en/deployment/upgrade.md.
//!
//! 1. Every host checked before the first node is touched (`sr-rehearse precheck`: the release
//!    notes of every release up to the target, e.g. 3.5's JDK 17 and JAVA_OPTS).
//! 2. "Before upgrading your StarRocks cluster, you must disable tablet clone"
//!    (`upgrade-settings apply`, on the machine that runs the play, which keeps the state file).
//! 3. The BEs one at a time with the BE canary's in-place procedure (journal, `lib/udf` kept,
//!    automatic rollback: the FEs are still old, so putting a BE back is the documented order).
//! 4. A new image pushed to every FE (the CAUTION on consecutive upgrades: CREATE IMAGE and the
//!    leader's push line), always: whether the cluster was upgraded a moment ago cannot be seen.
//! 5. The FEs one at a time (`fe-node.yml`): the followers and observers, skipping the FE that is
//!    LEADER at that moment, then the rest, which is the leader.
//! 6. The settings back ("After the upgrade, and the status of all BE nodes is Alive, you can
//!    re-enable tablet clone") and every node checked on the target.
//!
//! Each node's step reads the node's version (already on the target: skipped, saying so) and its
//! start time, and its gate proves that node: `check --node ID --expect-version T
//! --started-after <that time>`. Commands are argv lists, one word per line: ansible-lint's
//! production profile refuses lines over 160 characters, and no value reaches a shell.

use super::Plan;

/// `argv:` followed by one `- word` line per word, the words indented by `indent` spaces (the
/// `argv:` key two fewer). The words are written as given: each is YAML already.
pub(super) fn argv_block(indent: usize, words: &[&str]) -> String {
    let mut s = format!("{}argv:", " ".repeat(indent - 2));
    for w in words {
        s.push_str(&format!("\n{}- {w}", " ".repeat(indent)));
    }
    s
}

const SR: &str = "\"{{ sr_rehearse }}\"";

/// `check ... --node ID --print FIELD` against the host's own gate FE.
pub(super) fn print_words(field: &'static str) -> Vec<&'static str> {
    vec![
        SR,
        "check",
        "--fe",
        "\"{{ gate_fe }}\"",
        "--query-port",
        "\"{{ gate_query_port }}\"",
        "--node",
        "\"{{ node_id }}\"",
        "--print",
        field,
    ]
}

/// The gate of one node: its own row on the target, started after `started` (a registered
/// result), stable for `check`'s --stable-for.
pub(super) fn gate_words(started: &'static str) -> Vec<&'static str> {
    vec![
        SR,
        "check",
        "--fe",
        "\"{{ gate_fe }}\"",
        "--query-port",
        "\"{{ gate_query_port }}\"",
        "--wait",
        "\"{{ gate_wait }}\"",
        "--node",
        "\"{{ node_id }}\"",
        "--expect-version",
        "\"{{ target_version }}\"",
        "--started-after",
        started,
        "--stable-for",
        "\"{{ stable_for }}\"",
        "-q",
    ]
}

/// `upgrade-settings apply` through `fe`/`port` (Jinja expressions).
pub(super) fn apply_words(fe: &'static str, port: &'static str) -> Vec<&'static str> {
    vec![
        SR,
        "upgrade-settings",
        "apply",
        "--fe",
        fe,
        "--query-port",
        port,
        "--to-version",
        "\"{{ target_version }}\"",
        "--state",
        "\"{{ settings_state }}\"",
    ]
}

fn restore_words() -> Vec<&'static str> {
    vec![
        SR,
        "upgrade-settings",
        "restore",
        "--fe",
        "\"{{ cluster_fe }}\"",
        "--query-port",
        "\"{{ cluster_query_port }}\"",
        "--state",
        "\"{{ settings_state }}\"",
    ]
}

/// The plays, with the image step only where CREATE IMAGE exists (2.5.3 on, downgrade.md).
pub(super) fn playbook(plan: &Plan) -> String {
    let precheck = argv_block(
        10,
        &[
            SR,
            "precheck",
            "--role",
            "\"{{ node_kind }}\"",
            "--from-version",
            "\"{{ from_version }}\"",
            "--to-version",
            "\"{{ target_version }}\"",
            "--home",
            "\"{{ node_home }}\"",
        ],
    );
    let canary = argv_block(
        14,
        &[
            SR,
            "be",
            "--be-home",
            "\"{{ node_home }}\"",
            "--new-be",
            "\"{{ new_be }}\"",
            "--in-place",
            "--fe",
            "\"{{ gate_fe.split(':')[0] }}:{{ gate_query_port }}\"",
            // The row is the one SHOW BACKENDS lists at this host's address (the inventory's,
            // from the cluster): not left to the interfaces the canary would detect.
            "--be-host",
            "\"{{ ansible_host }}\"",
            "--soak",
            "\"{{ soak }}\"",
            "-q",
        ],
    );
    let cluster_gate = argv_block(
        14,
        &[
            SR,
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
        ],
    );
    let image = if plan.from >= crate::version::Version::new(2, 5, 3) {
        IMAGE_PLAY.replace(
            "%IMAGE%",
            &argv_block(
                10,
                &[
                    SR,
                    "create-image",
                    "--fe",
                    "\"{{ gate_fe }}\"",
                    "--query-port",
                    "\"{{ gate_query_port }}\"",
                    "--node",
                    "\"{{ node_id }}\"",
                    "--leader-log",
                    "\"{{ node_home }}/log/fe.log\"",
                ],
            ),
        )
    } else {
        "# No image step: ALTER SYSTEM CREATE IMAGE exists from 2.5.3 (downgrade.md); restart the leader FE\n# before this play to make one.\n\n".to_string()
    };
    PLAYBOOK
        .replace("%TO%", &plan.to.to_string())
        .replace("%PRECHECK%", &precheck)
        .replace(
            "%APPLY%",
            &argv_block(
                10,
                &apply_words("\"{{ cluster_fe }}\"", "\"{{ cluster_query_port }}\""),
            ),
        )
        .replace("%VERSION%", &argv_block(10, &print_words("version")))
        .replace("%START%", &argv_block(10, &print_words("start-time")))
        .replace("%CANARY%", &canary)
        .replace(
            "%GATE%",
            &argv_block(14, &gate_words("\"{{ be_started_before.stdout | trim }}\"")),
        )
        .replace("%CLUSTER_GATE%", &cluster_gate)
        .replace("%RESTORE14%", &argv_block(14, &restore_words()))
        .replace("%RESTORE10%", &argv_block(10, &restore_words()))
        .replace("%IMAGE_PLAY%", &image)
        .replace(
            "%FINAL%",
            &argv_block(
                10,
                &[
                    SR,
                    "check",
                    "--fe",
                    "\"{{ cluster_fe }}\"",
                    "--query-port",
                    "\"{{ cluster_query_port }}\"",
                    "--wait",
                    "\"{{ gate_wait }}\"",
                    "--expect-version",
                    "\"{{ target_version }}\"",
                    "-q",
                ],
            ),
        )
}

const IMAGE_PLAY: &str = r#"- name: Push a new image to every FE before the FE phase (only the FE that is LEADER now acts)
  hosts: starrocks_fe
  any_errors_fatal: true
  max_fail_percentage: 0
  gather_facts: false
  tasks:
    - name: ALTER SYSTEM CREATE IMAGE, and wait for the leader's push line in its fe.log
      ansible.builtin.command:
%IMAGE%
      changed_when: true

"#;

const PLAYBOOK: &str = r#"# Rolling upgrade to StarRocks %TO%, written by sr-rehearse upgrade-plan from the cluster as it was.
# The procedure of docs/en/deployment/upgrade.md: every host checked, tablet clone and balance off,
# the BEs one at a time, a new image on every FE, the FE followers and observers, the leader last
# (found at run time), the settings back, every node checked on %TO%.
# Each node's gate proves that node: its own row on %TO%, started after its restart.
# A BE that fails is put back on its old build (the FEs are still old); an FE that fails is left as
# it is, and the play prints the documented downgrade and stops.
# Run: ansible-playbook -i inventory.yml playbook.yml

- name: Check every host before the first node is touched
  hosts: starrocks_be:starrocks_fe
  any_errors_fatal: true
  max_fail_percentage: 0
  gather_facts: false
  tasks:
    - name: Precheck this node's host for the releases up to the target
      ansible.builtin.command:
%PRECHECK%
      changed_when: false

- name: Turn tablet clone and balance off for the upgrade
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Record and disable the clone and balance settings (and the session settings the release notes ask)
      ansible.builtin.command:
%APPLY%
      changed_when: true

- name: Upgrade the BEs one at a time with the BE canary's in-place procedure
  hosts: starrocks_be
  serial: 1
  any_errors_fatal: true
  max_fail_percentage: 0
  gather_facts: false
  tasks:
    - name: Read the BE's version now
      ansible.builtin.command:
%VERSION%
      register: be_version_now
      changed_when: false
    - name: Say the BE is already on the target
      ansible.builtin.debug:
        msg: "{{ node_id }} already runs {{ target_version }}: skipped"
      when: (be_version_now.stdout | trim).split('-')[0] == target_version
    - name: Skip a BE already on the target
      ansible.builtin.meta: end_host
      when: (be_version_now.stdout | trim).split('-')[0] == target_version
    - name: Read the BE's start time before its restart
      ansible.builtin.command:
%START%
      register: be_started_before
      changed_when: false
    - name: Upgrade the BE in {{ node_home }}
      block:
        - name: Swap the build in place (journal, backup, lib/udf kept, automatic rollback to the old build)
          ansible.builtin.command:
%CANARY%
          changed_when: true
        - name: Gate - this BE on the target, restarted, and staying Alive
          ansible.builtin.command:
%GATE%
          changed_when: false
      rescue:
        - name: Wait for the cluster to be healthy with this BE on its old build (the canary rolled it back)
          ansible.builtin.command:
%CLUSTER_GATE%
          changed_when: false
        - name: Put the clone and balance settings back (the upgrade stops here)
          delegate_to: localhost
          ansible.builtin.command:
%RESTORE14%
          changed_when: true
        - name: Stop the play
          ansible.builtin.fail:
            msg: >-
              BE {{ inventory_hostname }}: the in-place upgrade to {{ target_version }} or its
              gate failed (a BE that failed to start was rolled back to its old build by the
              canary); the upgrade stops here

%IMAGE_PLAY%- name: Upgrade the FE followers and observers one at a time
  hosts: starrocks_fe
  serial: 1
  any_errors_fatal: true
  max_fail_percentage: 0
  gather_facts: false
  tasks:
    - name: Upgrade this FE unless it is LEADER now
      ansible.builtin.import_tasks: fe-node.yml
      vars:
        fe_phase: followers

- name: Upgrade the leader FE last
  hosts: starrocks_fe
  serial: 1
  any_errors_fatal: true
  max_fail_percentage: 0
  gather_facts: false
  tasks:
    - name: Upgrade what is left, the leader
      ansible.builtin.import_tasks: fe-node.yml
      vars:
        fe_phase: leader

- name: Turn tablet clone and balance back on, and check every node on the target
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Put the recorded clone and balance settings back
      ansible.builtin.command:
%RESTORE10%
      changed_when: true
    - name: Every node on the target
      ansible.builtin.command:
%FINAL%
      changed_when: false
"#;
