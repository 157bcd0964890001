//! `sr-rehearse upgrade-plan`: the runbook's order, its refusals, and the Ansible playbook run for
//! real against a simulated cluster.

use std::path::Path;
use std::process::Command;

use super::util::{content_digest, read, skip, stdout, SimCluster};

pub(super) fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A report as `sr-rehearse fe`/`be` writes it, reduced to what the plan reads.
pub(super) fn fake_report(p: &Path, command: &str, verdict: &str, version: &str) {
    let v = serde_json::json!({"schema": 1, "command": command, "verdict": verdict,
        "summary": "written by the test", "target": {"detected_version": version}});
    std::fs::write(p, v.to_string()).unwrap();
}

#[test]
fn plan_upgrades_bes_then_followers_and_the_leader_last() {
    let c = SimCluster::build("3.2.11", &["--table", "db1.orders:3"]);
    let (new_fe, new_be) = c.new_release("3.3.5");
    c.start_all();
    c.wait_healthy();
    let (fe_r, be_r) = c.rehearse(&new_fe, &new_be);
    let out = c.plan(
        &new_fe,
        &new_be,
        &[
            "--rehearsal-report",
            fe_r.to_str().unwrap(),
            "--canary-report",
            be_r.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let s = stdout(&out);
    assert!(
        s.starts_with("sr-rehearse upgrade-plan: 3.2.11 -> 3.3.5"),
        "{s}"
    );
    let steps: Vec<&str> = s
        .lines()
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .collect();
    assert_eq!(steps.len(), 6, "{s}");
    let kind = |l: &str| l.split_whitespace().nth(1).unwrap().to_string();
    let order: Vec<String> = steps.iter().map(|l| kind(l)).collect();
    assert_eq!(order, ["BE", "BE", "BE", "FE", "FE", "FE"], "{s}");
    let leader_q = c.node("fe1").ports["query_port"];
    assert!(
        steps[5].starts_with(&format!("6. FE LEADER 127.0.0.1:{leader_q}")),
        "{s}"
    );
    assert!(steps[3].contains("FE FOLLOWER") && steps[4].contains("FE FOLLOWER"));
    for n in ["be1", "be2", "be3", "fe1", "fe2", "fe3"] {
        assert!(
            s.contains(&format!("cd {}", c.node(n).home.display())),
            "{n}: {s}"
        );
    }
    // Every step ends with its node's gate, and keeps a backup of bin/ and lib/ named after the
    // version it holds.
    assert_eq!(s.matches("--started-after \"$started\"").count(), 6, "{s}");
    assert_eq!(
        s.matches("--wait 10m --node ").count(),
        6 + 1,
        "six gates and the downgrade's: {s}"
    );
    assert_eq!(
        s.matches("mv bin lib sr-rehearse-backup-3.2.11/").count(),
        6
    );
}

#[test]
fn plan_refuses_without_rehearsals_unhealthy_or_skipping_a_minor_version() {
    let c = SimCluster::build("3.2.11", &[]);
    let (new_fe, new_be) = c.new_release("3.3.5");
    c.start_all();
    c.wait_healthy();
    // No reports.
    let out = c.plan(&new_fe, &new_be, &[]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(e.contains("refused: no FE rehearsal report"), "{e}");
    assert!(e.contains("no BE canary report"), "{e}");
    assert!(stdout(&out).is_empty());

    // A failed rehearsal, and reports for different targets.
    let fe_r = c.dir.join("fe.json");
    let be_r = c.dir.join("be.json");
    fake_report(&fe_r, "fe", "fail", "3.3.5-553732d");
    fake_report(&be_r, "be", "pass", "3.3.4-1234567");
    let args = [
        "--rehearsal-report",
        fe_r.to_str().unwrap(),
        "--canary-report",
        be_r.to_str().unwrap(),
    ];
    let out = c.plan(&new_fe, &new_be, &args);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("did not pass"), "{}", stderr(&out));

    // A target that skips 3.3: the docs allow it and recommend against it, a warning.
    fake_report(&fe_r, "fe", "pass", "3.4.1-abcdef0");
    fake_report(&be_r, "be", "pass", "3.4.1-abcdef0");
    let out = c.plan(&new_fe, &new_be, &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("warning: 3.2.11 -> 3.4.1 skips a minor version"),
        "{}",
        stdout(&out)
    );

    // Passing reports for 3.3.5, but a BE is down: refused, and --force plans saying so.
    fake_report(&fe_r, "fe", "pass", "3.3.5-553732d");
    fake_report(&be_r, "be --in-place", "pass", "3.3.5-553732d");
    assert!(c.stop("be3").status.success());
    let out = c.check_until(&[], |o| o.status.code() == Some(1));
    assert!(stdout(&out).contains("not Alive"));
    let out = c.plan(&new_fe, &new_be, &args);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("refused: the cluster is not healthy"),
        "{}",
        stderr(&out)
    );
    let mut forced = args.to_vec();
    forced.push("--force");
    let out = c.plan(&new_fe, &new_be, &forced);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("FORCED (--force): the cluster is not healthy"),
        "{}",
        stdout(&out)
    );
}

pub(super) fn ansible_playbook(test: &str) -> Option<&'static str> {
    let found = Command::new("ansible-playbook")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        skip(
            test,
            "ansible-playbook is not installed; scripts/install-deps.sh installs ansible-core from PyPI",
        );
    }
    found.then_some("ansible-playbook")
}

/// The generated playbook passes ansible-lint's default (production) profile, where installed
/// (scripts/install-deps.sh installs it; CI requires it); its state is kept in `state`.
pub(super) fn ansible_lint(state: &Path, pb: &Path) {
    let found = Command::new("ansible-lint")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        crate::util::skip(
            "plan::ansible_lint",
            "ansible-lint is not installed (scripts/install-deps.sh installs it)",
        );
        return;
    }
    let out = Command::new("ansible-lint")
        .args(["--offline", "--nocolor", "-p"])
        .arg(pb.join("playbook.yml"))
        .arg(pb.join("fe-node.yml"))
        .current_dir(pb)
        .env("ANSIBLE_HOME", state.join("ansible-home"))
        .env("ANSIBLE_LOCAL_TEMP", state.join("ansible-tmp"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ansible-lint on the generated playbook:\n{}{}\n--- playbook.yml:\n{}",
        stdout(&out),
        stderr(&out),
        read(&pb.join("playbook.yml"))
    );
}

/// Plans the upgrade to 3.3.5 as a playbook and runs it; returns ansible's output.
fn run_playbook(c: &SimCluster, bin: &str, gate_wait: &str) -> std::process::Output {
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
            gate_wait,
            "--soak",
            "2s",
            // The simulated heartbeat is 500 ms and its retry window 3 rounds.
            "--stable-for",
            "3s",
            // Every simulated node runs on this machine (the SSH run is the integrator's test).
            "--connection",
            "local",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let inv = read(&pb.join("inventory.yml"));
    assert_eq!(
        inv.matches("ansible_connection: \"local\"").count(),
        1,
        "{inv}"
    );
    assert_eq!(inv.matches("ansible_host: ").count(), 6, "{inv}");
    assert!(read(&pb.join("playbook.yml")).contains("serial: 1"));
    ansible_lint(&c.dir, &pb);
    Command::new(bin)
        .arg("-i")
        .arg(pb.join("inventory.yml"))
        .arg(pb.join("playbook.yml"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_LOCAL_TEMP", c.dir.join("ansible-tmp"))
        .env("ANSIBLE_HOME", c.dir.join("ansible-home"))
        .output()
        .unwrap()
}

#[test]
fn playbook_upgrades_the_cluster_node_by_node() {
    let Some(bin) = ansible_playbook("playbook_upgrades_the_cluster_node_by_node") else {
        return;
    };
    let c = SimCluster::build("3.2.11", &["--table", "db1.orders:3"]);
    let out = run_playbook(&c, bin, "60s");
    let log = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{log}{}", stderr(&out));
    // The leader's FE is the last FE the play changed: the follower play left it, saying so.
    let leader_host = format!("fe_127_0_0_1_{}", c.node("fe1").ports["query_port"]);
    let last_fe = log
        .lines()
        .rev()
        .find(|l| l.starts_with("changed: [fe_"))
        .unwrap();
    assert!(last_fe.contains(&leader_host), "{log}");
    assert!(log.contains("is LEADER now: skipped here"), "{log}");
    // Clone and balance off before the first node and back after the last, an image pushed.
    for task in [
        "Record and disable the clone and balance settings",
        "ALTER SYSTEM CREATE IMAGE",
        "Put the recorded clone and balance settings back",
        "Every node on the target",
    ] {
        assert!(log.contains(task), "{task}: {log}");
    }
    let report = c.dir.join("after.json");
    let out = c.check(&["--json", report.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let j: serde_json::Value = serde_json::from_str(&read(&report)).unwrap();
    let versions = j["versions"].as_object().unwrap();
    assert_eq!(versions.len(), 1, "{j}");
    assert!(versions.keys().next().unwrap().starts_with("3.3.5"));
    assert_eq!(
        versions.values().next().unwrap().as_array().unwrap().len(),
        6
    );
}

#[test]
fn playbook_stops_with_the_failed_be_back_on_its_old_build() {
    let Some(bin) = ansible_playbook("playbook_stops_with_the_failed_be_back_on_its_old_build")
    else {
        return;
    };
    // be2's host cannot run the 3.3 build.
    let c = SimCluster::build("3.2.11", &["--be-fault", "be2:missing-library@3.3"]);
    let be2 = c.be_home("be2").to_path_buf();
    let before = (
        content_digest(&be2.join("bin"), &["be.pid"]),
        content_digest(&be2.join("lib"), &["udf-runtime"]),
    );
    let out = run_playbook(&c, bin, "60s");
    let log = stdout(&out);
    assert_ne!(out.status.code(), Some(0), "{log}");
    let be2_host = format!(
        "be_127_0_0_1_{}",
        c.node("be2").ports["heartbeat_service_port"]
    );
    assert!(log.contains(&format!("fatal: [{be2_host}]")), "{log}");
    // No FE was touched, and be3 was never reached.
    assert!(!log.contains("Upgrade the FE followers"), "{log}");
    let be3_host = format!(
        "be_127_0_0_1_{}",
        c.node("be3").ports["heartbeat_service_port"]
    );
    // (The precheck play looked at every host; the BE play stopped at be2.)
    let be_play = log.split("PLAY [Upgrade the BEs").nth(1).unwrap_or("");
    assert!(!be_play.contains(&be3_host), "{log}");
    assert!(
        log.contains("Put the clone and balance settings back (the upgrade stops here)"),
        "{log}"
    );
    // The cluster is healthy with be1 on 3.3.5 and be2 on its old build, byte for byte.
    let report = c.dir.join("after.json");
    assert!(
        log.contains("Wait for the cluster to be healthy with this BE on its old build"),
        "{log}"
    );
    let out = c.check(&[
        "--json",
        report.to_str().unwrap(),
        "--allow-version",
        "3.3.5",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let j: serde_json::Value = serde_json::from_str(&read(&report)).unwrap();
    let version_of = |port: u16| {
        j["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["kind"] == "be" && n["port"].as_u64() == Some(port as u64))
            .unwrap()["version"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(version_of(c.node("be1").ports["heartbeat_service_port"]).starts_with("3.3.5"));
    assert!(version_of(c.node("be2").ports["heartbeat_service_port"]).starts_with("3.2.11"));
    assert!(version_of(c.node("be3").ports["heartbeat_service_port"]).starts_with("3.2.11"));
    let after = (
        content_digest(&be2.join("bin"), &["be.pid"]),
        content_digest(&be2.join("lib"), &["udf-runtime"]),
    );
    assert_eq!(before, after, "be2's bin/ and lib/ are not its old build");
}

#[test]
fn playbook_leaves_a_failed_leader_fe_as_it_is_and_prints_the_downgrade() {
    let Some(bin) =
        ansible_playbook("playbook_leaves_a_failed_leader_fe_as_it_is_and_prints_the_downgrade")
    else {
        return;
    };
    // The leader's host (fe1) cannot run the 3.3 FE: it refuses the metadata there. Its step is
    // the last, after both followers run 3.3 and one of them leads once fe1 stops: the case the
    // old binary swap would have got wrong.
    let c = SimCluster::build("3.2.11", &["--host-fault", "fe1:incompatible-meta@3.3"]);
    let fe1 = c.node("fe1").home.clone();
    let before = (
        content_digest(&fe1.join("bin"), &["fe.pid"]),
        content_digest(&fe1.join("lib"), &[]),
    );
    let out = run_playbook(&c, bin, "15s");
    let log = stdout(&out);
    assert_ne!(out.status.code(), Some(0), "{log}");
    let host = |n: &str| {
        let n = c.node(n);
        format!("fe_{}_{}", n.host.replace('.', "_"), n.ports["query_port"])
    };
    // Both followers went first; the leader's step is the one that failed.
    // `serial: 1` prints the play's header once per host: everything from the first to the
    // leader's play.
    let fe_play = log
        .split_once("PLAY [Upgrade the FE followers")
        .map_or("", |(_, rest)| rest);
    let fe_play = fe_play
        .split_once("Upgrade the leader FE last")
        .map_or(fe_play, |(followers, _)| followers);
    for f in ["fe2", "fe3"] {
        assert!(
            fe_play.contains(&format!("changed: [{}]", host(f))),
            "{f}: {log}"
        );
    }
    let leader_play = log
        .split_once("Upgrade the leader FE last")
        .map_or("", |(_, rest)| rest);
    assert!(
        leader_play.contains(&format!("fatal: [{}]", host("fe1"))),
        "{log}"
    );
    // No binary swap back: the downgrade of downgrade.md is printed instead.
    assert!(!log.contains("Start the old FE"), "{log}");
    for want in [
        "Print the documented downgrade for this cluster",
        "ignore_unknown_log_id = true",
        "ALTER SYSTEM CREATE IMAGE",
        "it is left as",
    ] {
        assert!(log.contains(want), "{want}: {log}");
    }
    // fe1 is as the failure left it (the new bin/ and lib/), its old build kept in the backup
    // named after the version it holds.
    let backup = fe1.join("sr-rehearse-backup-3.2.11");
    let kept = (
        content_digest(&backup.join("bin"), &["fe.pid"]),
        content_digest(&backup.join("lib"), &[]),
    );
    assert_eq!(before, kept, "fe1's backup is not its old build");
    assert_ne!(
        before.1,
        content_digest(&fe1.join("lib"), &[]),
        "fe1 was put back on its old build"
    );
}
