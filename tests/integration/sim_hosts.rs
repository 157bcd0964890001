//! The simulated cluster on hosts of its own: `make-cluster --hosts` puts each node on a loopback
//! address (its `priority_networks`, its binds, its place in every meta), SHOW FRONTENDS matches
//! "self" and LEADER as `FrontendsProcNode` does (so a 3.3 cluster whose FEs share a host shows
//! each as LEADER), and over SSH a host runs what is its own and refuses a node of another host.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use sr_rehearse::probe::mysql::{query_host, Row};

use super::util::{read, shell_quote, sim_bin, stdout, wait_for, SimCluster, SshHosts};

/// fe1, fe2, fe3, then be1, be2, be3: one host each.
const HOSTS: [&str; 6] = [
    "127.0.0.11",
    "127.0.0.12",
    "127.0.0.13",
    "127.0.0.14",
    "127.0.0.15",
    "127.0.0.16",
];

fn sql(c: &SimCluster, fe: &str, statement: &str) -> Vec<Row> {
    let n = c.node(fe);
    query_host(
        &n.host,
        n.ports["query_port"],
        "root",
        None,
        statement,
        Duration::from_secs(5),
    )
    .unwrap_or_else(|e| panic!("{statement} on {fe}: {e}"))
}

fn col<'a>(rows: &'a [Row], name: &str) -> Vec<&'a str> {
    rows.iter().map(|r| r[name].as_str()).collect()
}

/// `TimeUtils.longToTimeString`: `yyyy-MM-dd HH:mm:ss`.
fn is_time_string(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

fn reachable(addr: &str, port: u16) -> bool {
    let sock: SocketAddr = format!("{addr}:{port}").parse().unwrap();
    TcpStream::connect_timeout(&sock, Duration::from_secs(2)).is_ok()
}

#[test]
fn make_cluster_refuses_hosts_that_do_not_fit() {
    let d = tempfile::tempdir().unwrap();
    for (hosts, says) in [
        (
            "127.0.0.11,127.0.0.12",
            "--hosts gave 2 addresses; the cluster has 6 nodes",
        ),
        (
            "127.0.0.11,127.0.0.12,127.0.0.13,127.0.0.14,127.0.0.15,10.0.0.16",
            "10.0.0.16 is not a loopback IPv4 address",
        ),
    ] {
        let out = Command::new(sim_bin())
            .args([
                "make-cluster",
                "--version",
                "3.3.5",
                "--hosts",
                hosts,
                "--out",
            ])
            .arg(d.path().join("c"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{err}");
        assert!(err.contains(says), "{err}");
        assert!(!d.path().join("c/cluster.json").exists());
    }
}

#[test]
fn make_cluster_hosts_runs_each_node_on_its_address_and_check_is_healthy() {
    let c = SimCluster::build_on_hosts("3.3.5", &["--table", "db1.orders:3"], &HOSTS);
    for (n, host) in c.spec.nodes.iter().zip(HOSTS) {
        assert_eq!(n.host, host, "{}", n.name);
        let conf = if n.role == "fe" { "fe.conf" } else { "be.conf" };
        let conf = read(&n.home.join("conf").join(conf));
        assert!(
            conf.contains(&format!("\npriority_networks = {host}/32\n")),
            "{conf}"
        );
    }
    c.start_all();
    let out = c.wait_healthy();
    assert!(stdout(&out).contains("127.0.0.14"), "{}", stdout(&out));

    let fes = sql(&c, "fe2", "SHOW FRONTENDS");
    let ips: BTreeSet<&str> = col(&fes, "IP").into_iter().collect();
    assert_eq!(ips, HOSTS[..3].iter().copied().collect(), "{fes:?}");
    let leaders: Vec<&Row> = fes.iter().filter(|r| r["Role"] == "LEADER").collect();
    assert_eq!(leaders.len(), 1, "{fes:?}");
    // The answering FE (the leader) is the only helper it knows: it started without --helper.
    assert_eq!(leaders[0]["IsHelper"], "true", "{fes:?}");
    assert_eq!(
        col(&fes, "IsHelper")
            .iter()
            .filter(|h| **h == "true")
            .count(),
        1
    );
    for r in &fes {
        assert_eq!(r["Join"], "true", "{r:?}");
        assert_eq!(r["Alive"], "true", "{r:?}");
        assert!(is_time_string(&r["LastHeartbeat"]), "{r:?}");
        assert!(is_time_string(&r["StartTime"]), "{r:?}");
    }
    let bes = sql(&c, "fe1", "SHOW BACKENDS");
    let ips: BTreeSet<&str> = col(&bes, "IP").into_iter().collect();
    assert_eq!(ips, HOSTS[3..].iter().copied().collect(), "{bes:?}");
    for r in &bes {
        assert!(is_time_string(&r["LastStartTime"]), "{r:?}");
        assert!(is_time_string(&r["LastHeartbeat"]), "{r:?}");
    }

    // Each node is reached at its own host (and its host's loopback), not at another host.
    let (fe2, be1) = (c.node("fe2"), c.node("be1"));
    assert!(reachable("127.0.0.12", fe2.ports["http_port"]));
    assert!(!reachable("127.0.0.13", fe2.ports["http_port"]));
    assert!(reachable("127.0.0.14", be1.ports["heartbeat_service_port"]));
    assert!(!reachable(
        "127.0.0.15",
        be1.ports["heartbeat_service_port"]
    ));
    // BDB JE listens on the FE's own host:edit_log_port only.
    assert!(reachable("127.0.0.12", fe2.ports["edit_log_port"]));
    assert!(!reachable("127.0.0.1", fe2.ports["edit_log_port"]));
    let fe_log = read(&fe2.home.join("log/fe.log"));
    assert!(
        fe_log.contains("Use IP init local addr, IP: /127.0.0.12"),
        "{fe_log}"
    );
    // glog buffers INFO lines until the BE flushes them, at the latest when it stops gracefully.
    let stop = Command::new("bash")
        .arg(be1.home.join("bin/stop_be.sh"))
        .arg("--graceful")
        .output()
        .unwrap();
    assert!(stop.status.success(), "{stop:?}");
    let be_info = std::fs::read_dir(be1.home.join("log"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("INFO"))
        .map(|e| read(&e.path()))
        .collect::<String>();
    assert!(be_info.contains("localhost 127.0.0.14"), "{be_info}");
}

#[test]
fn over_ssh_a_host_runs_its_own_nodes_and_refuses_another_hosts() {
    let c = SimCluster::build_on_hosts("3.3.5", &[], &HOSTS);
    let Some(ssh) = SshHosts::start(&c.dir, &HOSTS) else {
        return;
    };
    for addr in ssh.addrs() {
        let out = ssh.run(addr, "printenv STARROCKS_SIM_HOST");
        assert!(out.status.success(), "{addr}: {out:?}");
        assert_eq!(stdout(&out).trim(), addr);
    }
    let start = |via: &str, node: &str| {
        let n = c.node(node);
        let script = if n.role == "fe" {
            "start_fe.sh"
        } else {
            "start_be.sh"
        };
        let line = format!(
            "JAVA_HOME={} bash {} --daemon",
            shell_quote(&c.spec.jdk.display().to_string()),
            shell_quote(&n.home.join("bin").join(script).display().to_string())
        );
        let out = ssh.run(via, &line);
        assert!(out.status.success(), "{node} via {via}: {out:?}");
    };
    let wrong = c.dir.join("wrong-host.log");
    // fe1 is 127.0.0.11's and be1 127.0.0.14's: a shell on 127.0.0.12 cannot start them.
    start("127.0.0.12", "fe1");
    start("127.0.0.12", "be1");
    let lines = wait_for(
        "two refusals in wrong-host.log",
        Duration::from_secs(30),
        || {
            let t = std::fs::read_to_string(&wrong).unwrap_or_default();
            (t.lines().count() >= 2).then_some(t)
        },
    );
    for (node, own) in [("fe1", "127.0.0.11"), ("be1", "127.0.0.14")] {
        let home = c.node(node).home.display().to_string();
        let line = lines
            .lines()
            .find(|l| l.contains(&home))
            .unwrap_or_else(|| {
                panic!("no refusal of {node} in {lines}");
            });
        assert!(
            line.contains("on host 127.0.0.12") && line.contains(&format!("its address is {own}")),
            "{line}"
        );
    }
    // fe2 is 127.0.0.12's own: it starts there (BDB JE's port is bound before the election).
    start("127.0.0.12", "fe2");
    let fe2 = c.node("fe2");
    wait_for(
        "fe2 listening on 127.0.0.12",
        Duration::from_secs(30),
        || reachable("127.0.0.12", fe2.ports["edit_log_port"]).then_some(()),
    );
    assert!(!reachable(
        "127.0.0.11",
        c.node("fe1").ports["edit_log_port"]
    ));
    assert!(!reachable(
        "127.0.0.14",
        c.node("be1").ports["heartbeat_service_port"]
    ));
    assert_eq!(read(&wrong).lines().count(), 2, "{}", read(&wrong));
}

/// `ansible-playbook` with the harness's arguments reaches each inventory host at its
/// `ansible_host` over SSH, and every task there runs on that host (the playbook tests' setup).
#[test]
fn ansible_runs_each_task_on_its_inventory_host() {
    let Some(bin) = super::plan::ansible_playbook("ansible_runs_each_task_on_its_inventory_host")
    else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let hosts = ["127.0.0.11", "127.0.0.14"];
    let Some(ssh) = SshHosts::start(d.path(), &hosts) else {
        return;
    };
    let inv = d.path().join("inventory.ini");
    std::fs::write(
        &inv,
        "h11 ansible_host=127.0.0.11\nh14 ansible_host=127.0.0.14\n",
    )
    .unwrap();
    let pb = d.path().join("where.yml");
    std::fs::write(
        &pb,
        "- name: Where each task runs\n  hosts: all\n  gather_facts: false\n  tasks:\n    - name: Say the host\n      ansible.builtin.command: printenv STARROCKS_SIM_HOST\n      register: here\n      changed_when: false\n    - name: It is the inventory host's own\n      ansible.builtin.assert:\n        that: here.stdout == ansible_host\n",
    )
    .unwrap();
    let out = Command::new(bin)
        .arg("-i")
        .arg(&inv)
        .arg(&pb)
        .args(ssh.ansible_args())
        .envs(ssh.ansible_env())
        .env("ANSIBLE_LOCAL_TEMP", d.path().join("ansible-local"))
        .env("ANSIBLE_REMOTE_TMP", d.path().join("ansible-remote"))
        .output()
        .unwrap();
    let log = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("h11") && log.contains("h14") && log.contains("failed=0"),
        "{log}"
    );
}

/// Up to 3.3 `FrontendsProcNode` marks LEADER by host string (`getLeaderIp()`), and "self" (Alive,
/// the leader's journal and ports) by host string in every release: FEs sharing the leader's
/// host all show as LEADER. On hosts of their own, one row is LEADER.
#[test]
fn a_3_3_leader_shows_every_fe_of_its_host_as_leader() {
    let shared = SimCluster::build_on_hosts("3.3.5", &[], &["127.0.0.1"; 6]);
    shared.start_all();
    let rows = wait_for(
        "SHOW FRONTENDS from the leader",
        Duration::from_secs(30),
        || {
            let rows = sql(&shared, "fe1", "SHOW FRONTENDS");
            rows.iter().all(|r| r["Role"] == "LEADER").then_some(rows)
        },
    );
    assert_eq!(rows.len(), 3);
    let journal = col(&rows, "ReplayedJournalId");
    let query = col(&rows, "QueryPort");
    for r in &rows {
        assert_eq!(r["Alive"], "true", "{r:?}");
        assert_eq!(r["ReplayedJournalId"], journal[0], "{rows:?}");
        assert_eq!(r["QueryPort"], query[0], "{rows:?}");
    }
    // `check` sees what an operator of such a test cluster sees.
    let out = shared.check(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("more than one FE says LEADER"),
        "{}",
        stdout(&out)
    );
    drop(shared);

    let apart = SimCluster::build("3.3.5", &[]);
    apart.start_all();
    apart.wait_healthy();
    let rows = sql(&apart, "fe1", "SHOW FRONTENDS");
    assert_eq!(
        col(&rows, "Role")
            .iter()
            .filter(|r| **r == "LEADER")
            .count(),
        1,
        "{rows:?}"
    );
}

/// From 3.4 the LEADER row is the one at the leader's host and edit_log_port; "self" is still
/// matched by host, so every FE on the leader's host shows Alive with the leader's journal.
#[test]
fn a_3_4_leader_marks_one_leader_among_fes_sharing_its_host() {
    let shared = SimCluster::build_on_hosts("3.4.1", &[], &["127.0.0.1"; 6]);
    shared.start_all();
    let rows = sql(&shared, "fe1", "SHOW FRONTENDS");
    assert_eq!(rows.len(), 3);
    assert_eq!(
        col(&rows, "Role")
            .iter()
            .filter(|r| **r == "LEADER")
            .count(),
        1,
        "{rows:?}"
    );
    for r in &rows {
        assert_eq!(r["Alive"], "true", "{r:?}");
    }
}
