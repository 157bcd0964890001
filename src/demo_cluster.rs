//! The fourth part of `sr-rehearse demo`: a whole simulated cluster checked, planned and upgraded.
//!
//! It builds 3 FEs and 3 BEs of 3.2.11 on loopback, starts each with its own script, runs `check`,
//! rehearses 3.3.5 (FE on the leader's meta, BE canary in a sandbox), prints the runbook, and where
//! `ansible-playbook` is installed runs the generated playbook and checks the cluster again. Every
//! node is stopped with its own script at the end, and anything of the demo still running after
//! that is killed, so no process outlives the command.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context;

use crate::check::{self, CheckConfig};
use crate::fe::{FeConfig, Isolate, Keep};
use crate::report::Verdict;
use crate::upgrade_plan::{self as up, PlanConfig, PlanFormat};
use starrocks_sim::cluster::{fe_per_host, make_cluster, ClusterBuild, ClusterSpec};
use starrocks_sim::package::{make_package, PackageSpec, Role};

/// The rehearsals make this process a subreaper and kill the orphans reparented to it when they
/// stop; the cluster's daemons (started by their scripts or by the playbook) must not become ours.
fn not_a_subreaper() {
    let _ = nix::sys::prctl::set_child_subreaper(false);
}

fn script(home: &Path, name: &str, args: &[&str], jdk: &Path) -> anyhow::Result<()> {
    not_a_subreaper();
    let st = Command::new("bash")
        .arg(home.join("bin").join(name))
        .args(args)
        .env("JAVA_HOME", jdk)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("failed to run {}/bin/{name}", home.display()))?;
    anyhow::ensure!(st.success(), "{}/bin/{name} failed ({st})", home.display());
    Ok(())
}

/// Stops every node with its script, then kills whatever still runs from the demo's folder.
fn stop_all(spec: &ClusterSpec, base: &Path) {
    for n in &spec.nodes {
        let name = if n.role == "fe" {
            "stop_fe.sh"
        } else {
            "stop_be.sh"
        };
        let _ = script(&n.home, name, &[], &spec.jdk);
    }
    // The simulated servers run from binaries inside `base` (lib/starrocks_be, jdk/bin/java).
    for pid in crate::procfs::pids() {
        if crate::procfs::exe(pid).is_some_and(|x| x.starts_with(base)) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

fn check_cfg(spec: &ClusterSpec, allow: &[String]) -> CheckConfig {
    let fe1 = &spec.nodes[0];
    CheckConfig {
        fe: format!("{}:{}", fe1.host, fe1.ports["http_port"]),
        query_port: fe1.ports["query_port"],
        user: "root".into(),
        password_env: None,
        wait: Some(Duration::from_secs(60)),
        allow_versions: allow.to_vec(),
        probe_timeout: Duration::from_secs(5),
        ..CheckConfig::default()
    }
}

fn run_check(spec: &ClusterSpec) -> anyhow::Result<bool> {
    let s = check::run_check(&check_cfg(spec, &[])).map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::output::out(&check::render_human(&s));
    Ok(s.healthy())
}

/// Runs part four under `base`; true when every step ended as expected.
pub fn run(base: &Path, reports: &Path, keep: bool) -> anyhow::Result<bool> {
    let dir = base.join("cluster");
    // Held until every node is stopped: the rehearsals' sandboxes and any other picker of this
    // user skip the cluster's ports, also while a node restarts during the playbook.
    let lease = crate::ports::pick(6 * 4, &Default::default())
        .map_err(|e| anyhow::anyhow!("failed to choose the simulated cluster's ports: {e}"))?;
    let spec = make_cluster(&ClusterBuild {
        version: "3.2.11".parse()?,
        out: dir.clone(),
        fes: 3,
        bes: 3,
        heartbeat_ms: 500,
        be_faults: Vec::new(),
        lagging: Vec::new(),
        lag_secs: 5,
        tables: vec!["demo.orders:3".into()],
        unhealthy_tablets: 0,
        busy: false,
        ports: Some(lease.ports()),
        // A 3.2 leader shows every FE of its host as LEADER: one FE per host, as in production.
        hosts: fe_per_host(3, 3),
    })
    .map_err(|e| anyhow::anyhow!("failed to build the simulated cluster: {e}"))?;
    let result = run_started(&spec, &dir, reports, keep);
    stop_all(&spec, base);
    drop(lease);
    result
}

fn run_started(spec: &ClusterSpec, dir: &Path, reports: &Path, keep: bool) -> anyhow::Result<bool> {
    for n in &spec.nodes {
        let name = if n.role == "fe" {
            "start_fe.sh"
        } else {
            "start_be.sh"
        };
        script(&n.home, name, &["--daemon"], &spec.jdk)?;
    }
    crate::output::outln("-- check: 3 FEs and 3 BEs of 3.2.11, each started by its own script\n");
    let healthy = run_check(spec)?;

    let new: PathBuf = dir.join("StarRocks-3.3.5");
    for (role, sub) in [(Role::Fe, "fe"), (Role::Be, "be")] {
        make_package(&PackageSpec {
            role,
            version: "3.3.5".parse()?,
            out: new.join(sub),
            fault: None,
            fault_secs: 5,
            heartbeat_ms: 500,
            too_much_time_secs: 60,
        })
        .map_err(|e| anyhow::anyhow!("failed to build the simulated 3.3.5 release: {e}"))?;
    }
    crate::output::outln(
        "\n-- rehearse 3.3.5: the FE on a copy of the leader's meta, the BE canary beside be1\n",
    );
    let keep_mode = if keep { Keep::Always } else { Keep::Never };
    let fe1 = &spec.nodes[0];
    let fe = crate::fe::run(&FeConfig {
        meta: fe1.dir.join("meta"),
        new_fe: new.join("fe"),
        prod_conf: Some(fe1.home.join("conf/fe.conf")),
        workspace_root: dir.to_path_buf(),
        keep: keep_mode,
        timeout: Duration::from_secs(120),
        plan: false,
        isolate: Isolate::Auto,
        cluster_id: 123456,
        query: None,
        sql_check: true,
        user: "root".into(),
        password_env: None,
        from_version: None,
        to_version: None,
        quiet: true,
        verbose: false,
        stop_grace: Duration::from_secs(10),
    });
    crate::output::outln(&fe.summary);
    let fe_report = reports.join("cluster-rehearsal.json");
    crate::report::file::write_new(&fe_report, fe.to_json().as_bytes())?;
    let be1 = spec.nodes.iter().find(|n| n.name == "be1").expect("be1");
    let be = crate::be::run(&crate::be::BeConfig {
        be_home: be1.home.clone(),
        new_be: Some(new.join("be")),
        in_place: false,
        rollback: false,
        storage_copy: None,
        fe: None,
        be_host: None,
        user: "root".into(),
        password_env: None,
        soak: Duration::from_secs(2),
        workspace_root: dir.to_path_buf(),
        keep: keep_mode,
        timeout: Duration::from_secs(120),
        plan: false,
        isolate: Isolate::Auto,
        quiet: true,
        verbose: false,
        stop_grace: Duration::from_secs(10),
    });
    crate::output::outln(&be.summary);
    let be_report = reports.join("cluster-canary.json");
    crate::report::file::write_new(&be_report, be.to_json().as_bytes())?;

    crate::output::outln("\n-- upgrade-plan: the runbook, refused unless both rehearsals passed\n");
    let node_homes = spec
        .nodes
        .iter()
        .map(|n| {
            let port = if n.role == "fe" {
                n.ports["query_port"]
            } else {
                n.ports["heartbeat_service_port"]
            };
            (format!("{} {}:{port}", n.role, n.host), n.home.clone())
        })
        .collect();
    let cfg = PlanConfig {
        check: CheckConfig {
            wait: None,
            ..check_cfg(spec, &[])
        },
        new_be: new.join("be"),
        new_fe: new.join("fe"),
        rehearsal_report: Some(fe_report),
        canary_report: Some(be_report),
        to_version: None,
        force: false,
        format: PlanFormat::Ansible,
        out: Some(dir.join("playbook")),
        fe_home: "/opt/starrocks/fe".into(),
        be_home: "/opt/starrocks/be".into(),
        node_homes,
        java_home: Some(spec.jdk.clone()),
        gate_wait: Duration::from_secs(60),
        // The simulated heartbeat is 500 ms and its retry window 3 rounds.
        stable_for: Duration::from_secs(3),
        soak: Duration::from_secs(2),
        allow_quorum_loss: false,
        // The demo's nodes all run on this machine.
        connection: up::Connection::Local,
        settings_state: None,
    };
    let plan = match up::plan(&cfg) {
        Ok(p) => p,
        Err(e) => {
            crate::output::outln(&format!("upgrade-plan: {e}"));
            return Ok(false);
        }
    };
    crate::output::out(&up::render_text(&cfg, &plan));
    let files = up::write_ansible(&cfg, &plan, &dir.join("playbook"))
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    let ansible = Command::new("ansible-playbook")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ansible {
        // No command to paste: the playbook gates on this simulated cluster, which the demo stops
        // at its end (and removes, without --keep), so it could not run afterwards.
        crate::output::outln(&format!(
            "\n-- ansible-playbook is not installed, so the playbook was written to {} but not run.\n   Install it with `pip install ansible-core` (scripts/install-deps.sh does) and run the demo again\n   to see it upgrade this cluster; `sr-rehearse demo --keep` keeps the files to read.",
            files[0].parent().unwrap_or(&files[0]).display(),
        ));
        return Ok(healthy && fe.verdict == Verdict::Pass && be.verdict == Verdict::Pass);
    }
    crate::output::outln(&format!(
        "\n-- ansible-playbook -i {} {}\n",
        files[0].display(),
        files[1].display()
    ));
    not_a_subreaper();
    let st = Command::new("ansible-playbook")
        .arg("-i")
        .arg(&files[0])
        .arg(&files[1])
        .env("ANSIBLE_NOCOLOR", "1")
        .env("JAVA_HOME", &spec.jdk)
        .stdin(Stdio::null())
        .status()
        .context("failed to run ansible-playbook")?;
    crate::output::outln(&format!("\n-- check after the playbook ({st})\n"));
    let after = run_check(spec)?;
    Ok(healthy
        && fe.verdict == Verdict::Pass
        && be.verdict == Verdict::Pass
        && st.success()
        && after)
}
