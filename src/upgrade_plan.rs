//! `sr-rehearse upgrade-plan`: the rolling-upgrade runbook of a live cluster, or the Ansible
//! playbook that runs it.
//!
//! The order is the StarRocks guide's: BEs (and CNs) one at a time, then the FE observers and
//! followers, the leader last; each node is stopped, its `bin/` and `lib/` replaced with a backup
//! kept, started, and the next node waits for `sr-rehearse check --wait` to see the whole cluster
//! healthy. The plan refuses what the guide warns against: a cluster that is not healthy now, a
//! target that skips a minor version, and an upgrade nobody rehearsed (no passing FE rehearsal and
//! BE canary report for the same target). Executing it is left to Ansible, which operators already
//! run across StarRocks fleets: this module writes commands and YAML, never a scheduler.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::check::{self, CheckConfig, CheckError, ClusterStatus, NodeStatus};
use crate::report::exit;
use crate::version::Version;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    /// A runbook on stdout.
    Text,
    /// inventory.yml, playbook.yml and fe-node.yml in --out.
    Ansible,
}

/// What `upgrade-plan` was asked for.
#[derive(Debug, Clone)]
pub struct PlanConfig {
    pub check: CheckConfig,
    pub new_be: PathBuf,
    pub new_fe: PathBuf,
    pub rehearsal_report: Option<PathBuf>,
    pub canary_report: Option<PathBuf>,
    pub to_version: Option<Version>,
    pub force: bool,
    pub format: PlanFormat,
    /// Where `--format ansible` writes playbook.yml and inventory.yml.
    pub out: Option<PathBuf>,
    /// The FE and BE home on every host, unless `node_homes` names one node's.
    pub fe_home: PathBuf,
    pub be_home: PathBuf,
    /// `fe@HOST:QUERY_PORT` or `be@HOST:HEARTBEAT_PORT` → that node's home.
    pub node_homes: Vec<(String, PathBuf)>,
    /// JAVA_HOME for the FE start script, when the hosts' environment does not set it.
    pub java_home: Option<PathBuf>,
    pub gate_wait: Duration,
    pub soak: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    BadInput(String),
    #[error("refused: {}", .0.join("; "))]
    Refused(Vec<String>),
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Io(String),
}

impl PlanError {
    pub fn exit_code(&self) -> i32 {
        match self {
            PlanError::BadInput(_) | PlanError::Refused(_) => exit::BAD_INPUT,
            PlanError::Unreachable(_) | PlanError::Io(_) => exit::ENVIRONMENT,
        }
    }
}

/// One node in upgrade order.
#[derive(Debug, Clone)]
pub struct PlanStep {
    pub node: NodeStatus,
    pub home: PathBuf,
    /// `--fe HOST:HTTP_PORT --query-port N` of the FE the gate after this step asks.
    pub gate: (String, u16, u16),
}

/// The plan: what runs now, the target, the steps in order, and what `--force` went past.
#[derive(Debug, Clone)]
pub struct Plan {
    pub from: Version,
    pub to: Version,
    pub steps: Vec<PlanStep>,
    pub forced: Vec<String>,
    pub warnings: Vec<String>,
    /// Same minor line: the guide allows replacing only `starrocks_be` / `starrocks-fe.jar`.
    pub patch_only: bool,
}

/// The next minor line an upgrade may reach from `line`: x.y+1, and 2.5 → 3.0, 3.5 → 4.0, the
/// major upgrades the guide requires to go through the last minor of the previous major.
pub fn next_line(line: (u32, u32)) -> (u32, u32) {
    match line {
        (2, 5) => (3, 0),
        (3, 5) => (4, 0),
        (m, n) => (m, n + 1),
    }
}

fn parse_version(s: &str) -> Option<Version> {
    s.trim().split('-').next()?.parse().ok()
}

/// Why a rehearsal or canary report does not allow the upgrade; each is a refusal.
#[derive(Debug, thiserror::Error)]
enum ReportError {
    #[error("failed to read {flag} {}: {source}", path.display())]
    Read {
        flag: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to read {flag} {}: not a JSON report of sr-rehearse ({source})", path.display())]
    NotJson {
        flag: String,
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{flag} {} is a report of `{found}`, not of `{want}`", path.display())]
    WrongCommand {
        flag: String,
        path: PathBuf,
        found: String,
        want: String,
    },
    #[error("{flag} {} did not pass (verdict {verdict}): {summary}", path.display())]
    NotPassed {
        flag: String,
        path: PathBuf,
        verdict: serde_json::Value,
        summary: String,
    },
    #[error("{flag} {} names no target version", path.display())]
    NoTarget { flag: String, path: PathBuf },
}

/// A rehearsal or canary report: it must exist, parse, have passed, and name its target version.
fn read_report(flag: &str, p: &Path, command: &str) -> Result<Version, ReportError> {
    let (flag, path) = (flag.to_string(), p.to_path_buf());
    let text = match std::fs::read_to_string(p) {
        Ok(t) => t,
        Err(source) => return Err(ReportError::Read { flag, path, source }),
    };
    let v: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(source) => return Err(ReportError::NotJson { flag, path, source }),
    };
    let cmd = v["command"].as_str().unwrap_or("");
    if cmd.split_whitespace().next() != Some(command) {
        return Err(ReportError::WrongCommand {
            flag,
            path,
            found: cmd.into(),
            want: command.into(),
        });
    }
    if v["verdict"] != "pass" {
        return Err(ReportError::NotPassed {
            flag,
            path,
            verdict: v["verdict"].clone(),
            summary: v["summary"].as_str().unwrap_or("").into(),
        });
    }
    v["target"]["detected_version"]
        .as_str()
        .and_then(parse_version)
        .ok_or(ReportError::NoTarget { flag, path })
}

fn check_package(flag: &str, dir: &Path) -> Result<(), PlanError> {
    for sub in ["bin", "lib"] {
        if !dir.join(sub).is_dir() {
            return Err(PlanError::BadInput(format!(
                "failed to use {flag} {}: it has no {sub}/ (give the unpacked release's {} folder)",
                dir.display(),
                if flag == "--new-fe" { "fe/" } else { "be/" }
            )));
        }
    }
    Ok(())
}

/// A `--node-home` value that is not `KIND@HOST:PORT=DIR`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeHomeError {
    #[error("failed to read --node-home {0}: expected fe@HOST:QUERY_PORT=DIR or be@HOST:HEARTBEAT_PORT=DIR")]
    NoDir(String),
    #[error("failed to read --node-home {0}: expected KIND@HOST:PORT before =")]
    NoNode(String),
    #[error("failed to read --node-home {0}: the node is fe@HOST:QUERY_PORT, be@HOST:HEARTBEAT_PORT or cn@HOST:HEARTBEAT_PORT")]
    BadNode(String),
}

/// Parses `--node-home KIND@HOST:PORT=DIR`.
pub fn parse_node_home(s: &str) -> Result<(String, PathBuf), NodeHomeError> {
    let (id, dir) = s
        .split_once('=')
        .ok_or_else(|| NodeHomeError::NoDir(s.into()))?;
    let (kind, addr) = id
        .split_once('@')
        .ok_or_else(|| NodeHomeError::NoNode(s.into()))?;
    if !matches!(kind, "fe" | "be" | "cn") || !addr.contains(':') {
        return Err(NodeHomeError::BadNode(s.into()));
    }
    Ok((format!("{kind} {addr}"), PathBuf::from(dir)))
}

/// Looks at the cluster, applies the refusals, and orders the steps.
pub fn plan(cfg: &PlanConfig) -> Result<Plan, PlanError> {
    check_package("--new-be", &cfg.new_be)?;
    check_package("--new-fe", &cfg.new_fe)?;
    let mut refusals = Vec::new();
    let mut warnings = Vec::new();

    // The rehearsals, for the same target.
    let fe_target = match &cfg.rehearsal_report {
        Some(p) => read_report("--rehearsal-report", p, "fe")
            .map_err(|e| refusals.push(e.to_string()))
            .ok(),
        None => {
            refusals.push("no FE rehearsal report (--rehearsal-report): run `sr-rehearse fe --meta ... --new-fe ... --json REPORT` first".into());
            None
        }
    };
    let be_target = match &cfg.canary_report {
        Some(p) => read_report("--canary-report", p, "be")
            .map_err(|e| refusals.push(e.to_string()))
            .ok(),
        None => {
            refusals.push("no BE canary report (--canary-report): run `sr-rehearse be --be-home ... --new-be ... --json REPORT` on one node first".into());
            None
        }
    };
    if let (Some(f), Some(b)) = (fe_target, be_target) {
        if f != b {
            refusals.push(format!(
                "the FE rehearsal was for {f} and the BE canary for {b}: both must test the same target"
            ));
        }
    }
    let to = match (cfg.to_version, fe_target.or(be_target)) {
        (Some(t), Some(r)) if t != r => {
            refusals.push(format!(
                "--to-version {t} is not the version the reports tested ({r})"
            ));
            t
        }
        (Some(t), _) => t,
        (None, Some(r)) => r,
        (None, None) => {
            refusals.push("no target version known: give --to-version as well".into());
            return Err(PlanError::Refused(refusals));
        }
    };

    // The cluster, now.
    let status = check::check_once(&cfg.check).map_err(|e| match e {
        CheckError::BadInput(m) => PlanError::BadInput(m),
        CheckError::Unreachable(m) => PlanError::Unreachable(m),
    })?;
    if !status.healthy() {
        refusals.push(format!(
            "the cluster is not healthy: {}",
            status.problems.join("; ")
        ));
    }
    warnings.extend(status.warnings.iter().cloned());
    let from = check::leader_version(&status)
        .or_else(|| status.nodes.iter().find_map(|n| parse_version(&n.version)))
        .ok_or_else(|| {
            PlanError::Unreachable(
                "failed to read the cluster's version from SHOW FRONTENDS".into(),
            )
        })?;
    if to < from {
        refusals.push(format!(
            "{to} is older than the cluster's {from}: this plans upgrades, not downgrades"
        ));
    } else if to.line() > next_line(from.line()) {
        let (m, n) = next_line(from.line());
        refusals.push(format!(
            "{from} -> {to} skips a minor version: upgrade to {m}.{n}.x first (the guide: one minor version at a time, and 3.0 only from 2.5)"
        ));
    }

    let forced = if refusals.is_empty() {
        Vec::new()
    } else if cfg.force {
        refusals
    } else {
        return Err(PlanError::Refused(refusals));
    };
    Ok(Plan {
        from,
        to,
        steps: order(cfg, &status),
        forced,
        warnings,
        patch_only: from.line() == to.line(),
    })
}

fn home_of(cfg: &PlanConfig, n: &NodeStatus) -> PathBuf {
    let id = n.id();
    cfg.node_homes
        .iter()
        .find(|(k, _)| *k == id)
        .map(|(_, p)| p.clone())
        .unwrap_or_else(|| {
            if n.kind == "fe" {
                cfg.fe_home.clone()
            } else {
                cfg.be_home.clone()
            }
        })
}

/// BEs, then CNs, then FE observers and followers, the leader last. A BE's gate asks the leader;
/// an FE's gate asks that FE, which must be back to answer.
fn order(cfg: &PlanConfig, s: &ClusterStatus) -> Vec<PlanStep> {
    let leader = s.nodes.iter().find(|n| n.role == "LEADER");
    let leader_gate = leader
        .map(|l| (l.host.clone(), l.http_port, l.port))
        .unwrap_or_else(|| {
            let (h, p) = check::parse_host_port("--fe", &cfg.check.fe).unwrap_or_default();
            (h, p, cfg.check.query_port)
        });
    let rank = |n: &NodeStatus| match (n.kind.as_str(), n.role.as_str()) {
        ("be", _) => 0,
        ("cn", _) => 1,
        (_, "OBSERVER") => 2,
        (_, "FOLLOWER") => 3,
        _ => 4,
    };
    let mut nodes: Vec<&NodeStatus> = s.nodes.iter().collect();
    nodes.sort_by_key(|n| (rank(n), n.host.clone(), n.port));
    nodes
        .into_iter()
        .map(|n| PlanStep {
            node: n.clone(),
            home: home_of(cfg, n),
            gate: if n.kind == "fe" {
                (n.host.clone(), n.http_port, n.port)
            } else {
                leader_gate.clone()
            },
        })
        .collect()
}

fn tool() -> String {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "sr-rehearse".into())
}

fn q(p: &Path) -> String {
    shell_quote(&p.display().to_string())
}

fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-:@=".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn gate_cmd(cfg: &PlanConfig, plan: &Plan, gate: &(String, u16, u16)) -> String {
    format!(
        "{} check --fe {}:{} --query-port {} --wait {} --allow-version {}",
        tool(),
        gate.0,
        gate.1,
        gate.2,
        humantime::format_duration(cfg.gate_wait),
        plan.to
    )
}

/// The runbook as text: one numbered step per node with its exact commands.
pub fn render_text(cfg: &PlanConfig, plan: &Plan) -> String {
    let mut o = format!(
        "sr-rehearse upgrade-plan: {} -> {} ({} nodes: BEs one at a time, then FE observers and followers, the leader last)\n",
        plan.from,
        plan.to,
        plan.steps.len()
    );
    for f in &plan.forced {
        o.push_str(&format!("FORCED (--force): {f}\n"));
    }
    for w in &plan.warnings {
        o.push_str(&format!("warning: {w}\n"));
    }
    if plan.patch_only {
        o.push_str("note: a patch upgrade within one minor version; the guide allows replacing only lib/starrocks_be and lib/starrocks-fe.jar, the commands below replace bin/ and lib/, which is always safe\n");
    }
    let stamp = format!("sr-rehearse-backup-{}", plan.to);
    for (i, s) in plan.steps.iter().enumerate() {
        let n = &s.node;
        let what = match (n.kind.as_str(), n.role.as_str()) {
            ("fe", r) => format!("FE {r}"),
            (k, _) => k.to_uppercase(),
        };
        let (new, stop, start) = match n.kind.as_str() {
            "fe" => (&cfg.new_fe, "bin/stop_fe.sh", "bin/start_fe.sh --daemon"),
            // A CN runs from the be/ package with its own scripts.
            "cn" => (&cfg.new_be, "bin/stop_cn.sh", "bin/start_cn.sh --daemon"),
            _ => (&cfg.new_be, "bin/stop_be.sh", "bin/start_be.sh --daemon"),
        };
        o.push_str(&format!(
            "\n{}. {what} {}:{} (home {}, now {})\n",
            i + 1,
            n.host,
            n.port,
            s.home.display(),
            n.version
        ));
        o.push_str(&format!("   cd {}\n", q(&s.home)));
        o.push_str(&format!("   bash {stop}\n"));
        o.push_str(&format!("   mkdir {stamp} && mv bin lib {stamp}/\n"));
        o.push_str(&format!("   cp -a {}/bin {}/lib .\n", q(new), q(new)));
        o.push_str(&format!("   bash {start}\n"));
        o.push_str(&format!("   {}\n", gate_cmd(cfg, plan, &s.gate)));
        if n.kind == "be" {
            o.push_str(&format!(
                "   (or all of the above but the gate, with a journal and automatic rollback: {} be --be-home {} --new-be {} --in-place --fe {}:{} --soak {})\n",
                tool(),
                q(&s.home),
                q(new),
                s.gate.0,
                s.gate.2,
                humantime::format_duration(cfg.soak)
            ));
        }
        o.push_str(&format!(
            "   if the gate fails: bash {stop}; rm -rf bin lib && mv {stamp}/bin {stamp}/lib . && bash {start}; then stop the upgrade\n"
        ));
    }
    o
}

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
    std::fs::write(&inventory, inv).map_err(|e| io(&inventory, e))?;

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
    std::fs::write(&pb, playbook).map_err(|e| io(&pb, e))?;
    let fe = out.join("fe-node.yml");
    std::fs::write(&fe, fe_node).map_err(|e| io(&fe, e))?;
    Ok(vec![inventory, pb, fe])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_line_follows_the_guide() {
        assert_eq!(next_line((3, 2)), (3, 3));
        assert_eq!(next_line((2, 5)), (3, 0));
        assert_eq!(next_line((3, 5)), (4, 0));
    }

    #[test]
    fn node_home_needs_kind_host_port_and_dir() {
        assert_eq!(
            parse_node_home("be@10.0.0.1:9050=/opt/be").unwrap(),
            ("be 10.0.0.1:9050".to_string(), PathBuf::from("/opt/be"))
        );
        assert!(parse_node_home("10.0.0.1:9050=/opt/be").is_err());
        assert!(parse_node_home("xx@10.0.0.1:9050=/opt/be").is_err());
        assert!(parse_node_home("be@10.0.0.1:9050").is_err());
    }
}
