//! The generated playbook run as it runs in production: over SSH, one inventory host per node,
//! each node on a host of its own (a loopback address with an sshd of its own, see `util::ssh`).
//!
//! A 3-FE / 3-BE 3.2 cluster goes to 3.3 through `ansible-playbook` with Ansible's default
//! connection: clone and balance off and back, the image pushed to every FE, each node gated on
//! its own version, every node on 3.3 at the end. Each sshd sets `STARROCKS_SIM_HOST` to its
//! address, and a simulated node started from another host's session refuses to start and writes
//! `wrong-host.log`: the play passing with no such log is the proof that every step ran on its
//! node's own host.

use std::process::Command;

use super::plan::{ansible_playbook, stderr};
use super::util::{read, stdout, SimCluster, SshHosts};

const HOSTS: [&str; 6] = [
    "127.0.0.11",
    "127.0.0.12",
    "127.0.0.13",
    "127.0.0.14",
    "127.0.0.15",
    "127.0.0.16",
];

/// One ADMIN SHOW FRONTEND CONFIG value of `key` on `fe`.
fn fe_config(c: &SimCluster, fe: &str, key: &str) -> String {
    let rows = c
        .sql(fe, &format!("ADMIN SHOW FRONTEND CONFIG LIKE '{key}'"))
        .unwrap();
    rows[0]["Value"].clone()
}

#[test]
fn playbook_upgrades_a_fleet_over_ssh_each_step_on_its_own_host() {
    let Some(bin) =
        ansible_playbook("playbook_upgrades_a_fleet_over_ssh_each_step_on_its_own_host")
    else {
        return;
    };
    let c = SimCluster::build_on_hosts("3.2.11", &["--table", "db1.orders:3"], &HOSTS);
    let Some(ssh) = SshHosts::start(&c.dir, &HOSTS) else {
        return;
    };
    let (new_fe, new_be) = c.new_release("3.3.5");
    c.start_all();
    c.wait_healthy();
    let (fe_r, be_r) = c.rehearse(&new_fe, &new_be);
    let pb = c.dir.join("playbook");
    let out = c.plan(
        &new_fe,
        &new_be,
        &[
            "--rehearsal-report",
            fe_r.to_str().unwrap(),
            "--canary-report",
            be_r.to_str().unwrap(),
            "--format",
            "ansible",
            "--out",
            pb.to_str().unwrap(),
            "--java-home",
            c.spec.jdk.to_str().unwrap(),
            "--gate-wait",
            "60s",
            "--soak",
            "2s",
            "--stable-for",
            "3s",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let inv = read(&pb.join("inventory.yml"));
    assert!(!inv.contains("ansible_connection"), "{inv}");
    for h in HOSTS {
        assert!(
            inv.contains(&format!("ansible_host: !unsafe \"{h}\"")),
            "{h}: {inv}"
        );
    }
    let out = Command::new(bin)
        .arg("-i")
        .arg(pb.join("inventory.yml"))
        .arg(pb.join("playbook.yml"))
        .args(ssh.ansible_args())
        .envs(ssh.ansible_env())
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_LOCAL_TEMP", c.dir.join("ansible-local"))
        .env("ANSIBLE_REMOTE_TMP", c.dir.join("ansible-remote"))
        .env("ANSIBLE_HOME", c.dir.join("ansible-home"))
        .output()
        .unwrap();
    let log = stdout(&out);
    // On failure, what each FE said of itself last.
    let fe_tails = || {
        ["fe1", "fe2", "fe3"]
            .iter()
            .map(|n| {
                let logs = c.node(n).home.join("log");
                let tail = |f: &str| {
                    let t = std::fs::read_to_string(logs.join(f)).unwrap_or_default();
                    let lines: Vec<&str> = t.lines().collect();
                    lines[lines.len().saturating_sub(15)..].join("\n")
                };
                format!(
                    "--- {n} fe.out:\n{}\n--- {n} fe.log:\n{}\n",
                    tail("fe.out"),
                    tail("fe.log")
                )
            })
            .collect::<String>()
    };
    assert_eq!(
        out.status.code(),
        Some(0),
        "{log}{}\n{}",
        stderr(&out),
        fe_tails()
    );

    // Nothing started on a host other than its node's: the guard never fired.
    assert!(
        !c.dir.join("wrong-host.log").exists(),
        "{}",
        read(&c.dir.join("wrong-host.log"))
    );
    // Every node took its step on its own inventory host, and passed its own gate.
    for n in &c.spec.nodes {
        let (kind, port) = if n.role == "fe" {
            ("fe", n.ports["query_port"])
        } else {
            ("be", n.ports["heartbeat_service_port"])
        };
        let host = format!("{kind}_{}_{port}", n.host.replace('.', "_"));
        assert!(
            log.contains(&format!("changed: [{host}]")),
            "{}: {log}",
            n.name
        );
    }
    // The image the leader made was pushed to both other FEs.
    let leader_log = read(&c.node("fe1").home.join("log/fe.log"));
    assert!(
        leader_log.contains("to other nodes. totally 2 nodes, push succeeded 2 nodes"),
        "{leader_log}"
    );
    // Clone and balance were turned off and are back to what they were before.
    let state = read(&pb.join("upgrade-settings.json"));
    assert!(state.contains("10000"), "{state}");
    let leader = ["fe1", "fe2", "fe3"]
        .into_iter()
        .find(|fe| {
            let n = c.node(fe);
            c.sql(fe, "SHOW FRONTENDS").unwrap().iter().any(|r| {
                r["Role"] == "LEADER"
                    && r["IP"] == n.host
                    && r["QueryPort"] == n.ports["query_port"].to_string()
            })
        })
        .expect("a leader");
    assert_eq!(
        fe_config(&c, leader, "tablet_sched_max_scheduling_tablets"),
        "10000"
    );
    assert_eq!(
        fe_config(&c, leader, "tablet_sched_disable_balance"),
        "false"
    );
    // Every node on 3.3.5, which the play's own last step also required.
    let out = c.check(&["--expect-version", "3.3.5"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}
