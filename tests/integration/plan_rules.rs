//! `sr-rehearse upgrade-plan` follows the documented procedure (issue #17): each node on its own
//! host in the inventory, the version paths of the upgrade page, the election majority, a node
//! already on the target skipped, and the steps of the docs in the runbook and the playbook alike.

use std::path::Path;
use std::process::Command;

use super::plan::{ansible_lint, fake_report, stderr};
use super::util::{read, stdout, tool_bin, HostileFe, HostileSpec, SimCluster};

/// Packages and passing reports for `to` in `dir`: the arguments a plan needs besides the
/// cluster. The new FE package has spark-dpp/, as real ones do.
pub(super) fn inputs(dir: &Path, to: &str) -> Vec<String> {
    let (new_fe, new_be) = (dir.join("pkg/fe"), dir.join("pkg/be"));
    for p in [&new_fe, &new_be] {
        std::fs::create_dir_all(p.join("bin")).unwrap();
        std::fs::create_dir_all(p.join("lib")).unwrap();
    }
    std::fs::create_dir_all(new_fe.join("spark-dpp")).unwrap();
    let (fe_r, be_r) = (dir.join("fe.json"), dir.join("be.json"));
    fake_report(&fe_r, "fe", "pass", &format!("{to}-553732d"));
    fake_report(&be_r, "be", "pass", &format!("{to}-553732d"));
    [
        "--new-fe".as_ref(),
        new_fe.as_os_str(),
        "--new-be".as_ref(),
        new_be.as_os_str(),
        "--rehearsal-report".as_ref(),
        fe_r.as_os_str(),
        "--canary-report".as_ref(),
        be_r.as_os_str(),
    ]
    .iter()
    .map(|s| s.to_str().unwrap().to_string())
    .collect()
}

/// `upgrade-plan` of a hostile FE's one-FE cluster (its restart allowed) to `to`.
fn plan_of(fe: &HostileFe, dir: &Path, to: &str, extra: &[&str]) -> std::process::Output {
    Command::new(tool_bin())
        .arg("upgrade-plan")
        .args(fe.args())
        .args(inputs(dir, to))
        .arg("--allow-quorum-loss")
        .args(extra)
        .output()
        .unwrap()
}

fn ansible_found(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn inventory_names_each_nodes_host_and_connects_locally_only_when_asked() {
    // One FE and one BE on one machine: two inventory hosts with one address.
    let fe = HostileFe::start(HostileSpec::default());
    let dir = tempfile::tempdir().unwrap();
    let pb = dir.path().join("pb");
    let out = plan_of(
        &fe,
        dir.path(),
        "3.3.5",
        &["--format", "ansible", "--out", pb.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let inv = read(&pb.join("inventory.yml"));
    assert_eq!(
        inv.matches("ansible_host: !unsafe \"127.0.0.1\"").count(),
        2,
        "{inv}"
    );
    assert!(
        inv.contains("node_id: !unsafe \"be@127.0.0.1:9050\""),
        "{inv}"
    );
    assert!(
        inv.contains(&format!(
            "node_id: !unsafe \"fe@127.0.0.1:{}\"",
            fe.query_port
        )),
        "{inv}"
    );
    assert!(!inv.contains("ansible_connection"), "{inv}");
    assert!(inv.contains("Ansible's default connection"), "{inv}");
    // As Ansible reads it: each host's address, and no connection of the tool's.
    if ansible_found("ansible-inventory") {
        let out = Command::new("ansible-inventory")
            .arg("-i")
            .arg(pb.join("inventory.yml"))
            .arg("--list")
            .env("ANSIBLE_HOME", dir.path().join("ansible-home"))
            .env("ANSIBLE_LOCAL_TEMP", dir.path().join("ansible-tmp"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let hv = &j["_meta"]["hostvars"];
        for host in [
            "be_127_0_0_1_9050".to_string(),
            format!("fe_127_0_0_1_{}", fe.query_port),
        ] {
            // ansible-inventory shows an !unsafe value as {"__ansible_unsafe": value}.
            let h = &hv[&host]["ansible_host"];
            let h = h.get("__ansible_unsafe").unwrap_or(h);
            assert_eq!(h, "127.0.0.1", "{host}: {j}");
            assert!(hv[&host].get("ansible_connection").is_none(), "{j}");
        }
    }
    // The playbook: the documented steps in the documented order, and no shell anywhere.
    let play = read(&pb.join("playbook.yml"));
    let fe_node = read(&pb.join("fe-node.yml"));
    let at = |what: &str| {
        play.find(what)
            .unwrap_or_else(|| panic!("no {what:?} in playbook.yml:\n{play}"))
    };
    let order = [
        "- precheck",
        "- upgrade-settings\n          - apply",
        "- --in-place",
        "- create-image",
        "fe_phase: followers",
        "fe_phase: leader",
        "- upgrade-settings\n          - restore",
    ];
    for w in order.windows(2) {
        assert!(at(w[0]) < at(w[1]), "{} before {}:\n{play}", w[0], w[1]);
    }
    // The last task: every node on the target.
    let last = play.rfind("- name: ").unwrap();
    assert!(
        play[last..].starts_with("- name: Every node on the target"),
        "{play}"
    );
    assert!(play[last..].contains("- --expect-version"), "{play}");
    for text in [&play, &fe_node] {
        assert!(!text.contains("shell"), "{text}");
    }
    for want in [
        "- --print\n      - start-time",
        "- --print\n      - role",
        "--started-after",
        "spark-dpp",
        "ansible.builtin.meta: end_host",
        "is LEADER now",
        "already runs {{ target_version }}: skipped",
        "downgrade_steps.split",
        "- upgrade-settings\n          - apply",
    ] {
        assert!(
            fe_node.contains(want),
            "{want:?} not in fe-node.yml:\n{fe_node}"
        );
    }
    assert!(
        inv.contains("ignore_unknown_log_id = true")
            && inv.contains("backup_name: !unsafe \"sr-rehearse-backup-3.2.11\""),
        "{inv}"
    );
    ansible_lint(dir.path(), &pb);

    // --connection local: said, and set once for every host.
    let local = dir.path().join("local");
    let out = plan_of(
        &fe,
        dir.path(),
        "3.3.5",
        &[
            "--format",
            "ansible",
            "--out",
            local.to_str().unwrap(),
            "--connection",
            "local",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let inv = read(&local.join("inventory.yml"));
    assert_eq!(
        inv.matches("ansible_connection: \"local\"").count(),
        1,
        "{inv}"
    );
    assert!(inv.contains("A lab setting"), "{inv}");
    assert_eq!(inv.matches("ansible_host: ").count(), 2, "{inv}");
}

#[test]
fn plan_refuses_an_fe_restart_that_loses_the_majority() {
    let c = SimCluster::build("3.2.11", &["--fes", "2"]);
    c.start_all();
    c.wait_healthy();
    let args = inputs(&c.dir, "3.3.5");
    let plan = |extra: &[&str]| {
        Command::new(tool_bin())
            .arg("upgrade-plan")
            .args(c.fe_args("fe1"))
            .args(&args)
            .args(extra)
            .output()
            .unwrap()
    };
    let q = |n: &str| c.node(n).ports["query_port"];
    for extra in [&[][..], &["--force"][..]] {
        let out = plan(extra);
        let e = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}{e}", stdout(&out));
        for n in ["fe1", "fe2"] {
            assert!(
                e.contains(&format!(
                    "restarting fe {}:{} leaves 1 of 2 FOLLOWER-role FEs alive, fewer than the majority of 2",
                    c.node(n).host,
                    q(n)
                )),
                "{e}"
            );
        }
        assert!(e.contains("--allow-quorum-loss"), "{e}");
    }
    let out = plan(&["--allow-quorum-loss"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = stdout(&out);
    assert_eq!(
        s.matches("QUORUM LOST (--allow-quorum-loss)").count(),
        2,
        "{s}"
    );
}

#[test]
fn plan_warns_on_a_minor_skip_and_refuses_only_what_the_docs_forbid() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = |v: &str| {
        HostileFe::start(HostileSpec {
            version: format!("{v}-98f7576"),
            ..HostileSpec::default()
        })
    };
    // 3.1 -> 3.3: the docs allow skipping a minor version, and recommend against it.
    let out = plan_of(&cluster("3.1.11"), dir.path(), "3.3.5", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("warning: 3.1.11 -> 3.3.5 skips a minor version"),
        "{}",
        stdout(&out)
    );
    // What fails: 3.3+ reading a 2.5 or 3.0 image, 3.0 from other than 2.5, releases before 2.5.
    for (from, to, why) in [
        (
            "2.5.22",
            "3.3.5",
            "refuse the metadata image written by 2.5 and 3.0",
        ),
        (
            "3.0.9",
            "3.3.5",
            "refuse the metadata image written by 2.5 and 3.0",
        ),
        ("2.4.8", "3.0.1", "releases before 2.5 are not supported"),
    ] {
        let out = plan_of(&cluster(from), dir.path(), to, &[]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{from} -> {to}: {}",
            stdout(&out)
        );
        assert!(
            stderr(&out).contains(why),
            "{from} -> {to}: {}",
            stderr(&out)
        );
    }
    // The way back names the versions downgrade.md forbids: 3.2.0-3.2.2 after a 3.3.
    let out = plan_of(&cluster("3.2.1"), dir.path(), "3.3.5", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("never downgrade to 3.2.0-3.2.2 (metadata loss)"),
        "{}",
        stdout(&out)
    );
    // 2.5 -> 3.0 is the documented major path.
    let out = plan_of(&cluster("2.5.22"), dir.path(), "3.0.1", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // 3.4.3 -> 3.5: the release notes' prerequisites are named.
    let out = plan_of(&cluster("3.4.3"), dir.path(), "3.5.1", &[]);
    let s = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        s.contains("prerequisite: 3.5 (release notes, Upgrade Notes): JDK 17"),
        "{s}"
    );
    assert!(
        s.contains("cbo_enable_low_cardinality_optimize = false"),
        "{s}"
    );
}

#[test]
fn runbook_has_the_documented_steps_and_skips_the_node_already_on_the_target() {
    let c = SimCluster::build("3.2.11", &["--table", "db1.orders:3"]);
    let (new_fe, new_be) = c.new_release("3.3.5");
    std::fs::create_dir_all(new_fe.join("spark-dpp")).unwrap();
    c.start_all();
    c.wait_healthy();
    // The canary run in place on be1, as the procedure asks (audit #13): be1 runs 3.3.5 now.
    let fe1 = c.node("fe1");
    let out = Command::new(tool_bin())
        .args(["be", "--be-home"])
        .arg(c.be_home("be1"))
        .arg("--new-be")
        .arg(&new_be)
        .args(["--in-place", "--soak", "2s", "-q", "--fe"])
        .arg(format!("127.0.0.1:{}", fe1.ports["query_port"]))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let fe_r = c.dir.join("fe.json");
    let be_r = c.dir.join("be.json");
    fake_report(&fe_r, "fe", "pass", "3.3.5-553732d");
    fake_report(&be_r, "be --in-place", "pass", "3.3.5-553732d");
    let out = c.plan(
        &new_fe,
        &new_be,
        &[
            "--rehearsal-report",
            fe_r.to_str().unwrap(),
            "--canary-report",
            be_r.to_str().unwrap(),
            "--allow-version",
            "3.3.5",
        ],
    );
    let s = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{s}{}", stderr(&out));
    let be1 = c.node("be1");
    let be1_id = format!("be@127.0.0.1:{}", be1.ports["heartbeat_service_port"]);
    assert!(
        s.contains(&format!(
            "1. BE 127.0.0.1:{} (home {}, now 3.3.5",
            be1.ports["heartbeat_service_port"],
            be1.home.display()
        )) && s.contains("already on 3.3.5: skipped"),
        "{s}"
    );
    assert!(!s.contains(&format!("cd {}\n", be1.home.display())), "{s}");
    assert!(!s.contains(&format!("--node {be1_id} --print")), "{s}");
    // Every other node: its start time read, its backup named after 3.2.11, its own gate.
    for n in ["be2", "be3", "fe1", "fe2", "fe3"] {
        let node = c.node(n);
        let id = if n.starts_with("fe") {
            format!("fe@{}:{}", node.host, node.ports["query_port"])
        } else {
            format!("be@{}:{}", node.host, node.ports["heartbeat_service_port"])
        };
        assert!(
            s.contains(&format!("--node {id} --print start-time")),
            "{n}: {s}"
        );
        assert!(
            s.contains(&format!(
                "--wait 10m --node {id} --expect-version 3.3.5 --started-after \"$started\""
            )),
            "{n}: {s}"
        );
    }
    assert_eq!(
        s.matches("mkdir sr-rehearse-backup-3.2.11 && mv bin lib sr-rehearse-backup-3.2.11/")
            .count(),
        5,
        "{s}"
    );
    assert!(!s.contains("sr-rehearse-backup-3.3.5"), "{s}");
    // The docs' files: BE lib/udf kept, FE spark-dpp replaced.
    assert_eq!(
        s.matches("[ ! -d sr-rehearse-backup-3.2.11/lib/udf ] || cp -r sr-rehearse-backup-3.2.11/lib/udf lib/")
            .count(),
        2,
        "{s}"
    );
    assert_eq!(
        s.matches("[ ! -e spark-dpp ] || mv spark-dpp").count(),
        3,
        "{s}"
    );
    assert_eq!(s.matches("/spark-dpp .\n").count(), 3, "{s}");
    // Before, between and after: precheck per node, settings off, image, leader re-checked,
    // settings applied again after every FE restart, restored, every node on the target.
    assert_eq!(s.matches(" precheck --role ").count(), 6, "{s}");
    assert_eq!(
        s.matches(" upgrade-settings apply ").count(),
        1 + 3 + 1,
        "{s}"
    );
    assert_eq!(s.matches(" create-image ").count(), 3 + 1, "{s}");
    assert_eq!(s.matches("--print role").count(), 3 + 1, "{s}");
    let at = |w: &str| s.find(w).unwrap_or_else(|| panic!("no {w:?}: {s}"));
    assert!(
        at(" precheck ") < at(" upgrade-settings apply ")
            && at(" upgrade-settings apply ") < at("2. BE")
    );
    assert!(at("4. FE") > at(" create-image ") && at("If an FE step fails") < at("4. FE"));
    assert!(s.rfind(" upgrade-settings restore --fe").unwrap() > at("6. FE LEADER"));
    assert!(
        s.trim_end().ends_with("--wait 10m --expect-version 3.3.5"),
        "{s}"
    );
    // The way back once the FEs begin: downgrade.md, not a binary swap.
    for want in [
        "ignore_unknown_log_id = true",
        "ALTER SYSTEM CREATE IMAGE",
        "The FEs first, the followers and observers, the leader last",
        "Then the BEs and CNs",
    ] {
        assert!(s.contains(want), "{want}: {s}");
    }
}

#[test]
fn runbook_stops_a_cn_gracefully_and_the_playbook_refuses_it() {
    let fe = HostileFe::start(HostileSpec {
        compute_nodes: vec![super::util::BeRow::new("127.0.0.1", "9150")],
        ..HostileSpec::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let out = plan_of(&fe, dir.path(), "3.3.5", &[]);
    let s = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{s}{}", stderr(&out));
    // The CN step after the BE's, as manage_deployment/upgrade.md writes it.
    let cn = &s[s
        .find(". CN 127.0.0.1:9150")
        .unwrap_or_else(|| panic!("{s}"))..];
    let cn = &cn[..cn.find("\n\n").unwrap()];
    for want in [
        "--node cn@127.0.0.1:9150 --print start-time",
        "bash bin/stop_cn.sh --graceful\n",
        "[ ! -d sr-rehearse-backup-3.2.11/lib/udf ] || cp -r sr-rehearse-backup-3.2.11/lib/udf lib/",
        "bash bin/start_cn.sh --daemon\n",
        "--node cn@127.0.0.1:9150 --expect-version 3.3.5",
    ] {
        assert!(cn.contains(want), "{want:?}: {cn}");
    }
    assert!(s.find(". BE ").unwrap() < s.find(". CN ").unwrap(), "{s}");
    // The playbook's BE procedure is the BE canary's, which knows no CN (#22).
    let pb = dir.path().join("pb");
    let out = plan_of(
        &fe,
        dir.path(),
        "3.3.5",
        &["--format", "ansible", "--out", pb.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("is a compute node"),
        "{}",
        stderr(&out)
    );
}
