//! Whether the upgrade may be planned, and the steps in the guide's order.
//!
//! Every refusal is gathered before the plan answers, so an operator sees all of them at once;
//! `--force` turns them into the plan's `forced` list instead of an error, and both renderings
//! print that list first.

use std::path::{Path, PathBuf};

use super::paths::{judge_path, prerequisites};
use super::reports::{parse_version, read_report};
use super::{Plan, PlanConfig, PlanError, PlanStep};
use crate::check::{self, CheckError, ClusterStatus, NodeStatus};

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

/// `--fe-home` and `--be-home` are used on other hosts: they must be absolute (an empty one would
/// print `cd ` before `mv bin lib`). `--node-home` entries may name a node once each.
fn check_homes(cfg: &PlanConfig) -> Result<(), PlanError> {
    for (flag, p) in [("--fe-home", &cfg.fe_home), ("--be-home", &cfg.be_home)] {
        if !p.is_absolute() {
            return Err(PlanError::BadInput(format!(
                "failed to use {flag} {}: it must be an absolute path",
                crate::check::escape(&p.display().to_string())
            )));
        }
    }
    for (i, (id, _)) in cfg.node_homes.iter().enumerate() {
        if cfg.node_homes[..i].iter().any(|(k, _)| k == id) {
            return Err(PlanError::BadInput(format!(
                "failed to use --node-home: {id} is given more than once"
            )));
        }
    }
    Ok(())
}

/// Every `--node-home` must name a node the cluster lists: one that matches nothing (the be_port
/// for the heartbeat port, a host name where SHOW BACKENDS lists the IP) would leave that node on
/// the default home, which may be another instance or nothing.
fn check_node_homes_match(cfg: &PlanConfig, status: &ClusterStatus) -> Result<(), PlanError> {
    let ids: Vec<String> = status.nodes.iter().map(NodeStatus::id).collect();
    let unmatched: Vec<&str> = cfg
        .node_homes
        .iter()
        .filter(|(k, _)| !ids.contains(k))
        .map(|(k, _)| k.as_str())
        .collect();
    if unmatched.is_empty() {
        return Ok(());
    }
    Err(PlanError::BadInput(format!(
        "failed to use --node-home: the cluster lists no node {} (it lists {}; an FE is named by its query port, a BE or CN by its heartbeat port)",
        unmatched.join(", no node "),
        ids.join(", ")
    )))
}

/// Values of the cluster that do not have StarRocks' shape would be placed in commands and YAML:
/// refused, `--force` or not.
fn check_values(status: &ClusterStatus) -> Result<(), PlanError> {
    let bad: Vec<String> = status
        .nodes
        .iter()
        .filter(|n| !n.invalid.is_empty())
        .map(|n| format!("{}: {}", n.id(), n.invalid.join("; ")))
        .collect();
    if bad.is_empty() {
        return Ok(());
    }
    Err(PlanError::BadInput(format!(
        "refused (--force does not apply): the cluster reports values that cannot go into a runbook or a playbook: {}",
        bad.join("; ")
    )))
}

/// Looks at the cluster, applies the refusals, and orders the steps.
pub fn plan(cfg: &PlanConfig) -> Result<Plan, PlanError> {
    check_package("--new-be", &cfg.new_be)?;
    check_package("--new-fe", &cfg.new_fe)?;
    check_homes(cfg)?;
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
    check_values(&status)?;
    check_node_homes_match(cfg, &status)?;
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
    let (path_refusals, path_warnings) = judge_path(from, to);
    refusals.extend(path_refusals);
    warnings.extend(path_warnings);
    let steps = order(cfg, &status, to);
    let quorum_loss = quorum_loss(&status, &steps);
    // The majority is not a judgement --force goes past: it takes its own option, so that
    // nobody loses the metadata service by forcing past an unhealthy tablet.
    if !quorum_loss.is_empty() && !cfg.allow_quorum_loss {
        refusals.extend(
            quorum_loss
                .iter()
                .map(|q| format!("{q} (--allow-quorum-loss plans it anyway)")),
        );
        return Err(PlanError::Refused(refusals));
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
        steps,
        forced,
        warnings,
        prerequisites: prerequisites(from, to),
        quorum_loss,
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

/// BDB JE elects a leader and writes metadata only with more than half of the FOLLOWER-role FEs
/// (LEADER and FOLLOWER rows; observers do not vote) alive: "集群内需要有半数以上的 Follower FE
/// 节点存活才能够选举出 Leader FE 节点" (docs/zh Cluster_administration). Each FE step that
/// restarts such an FE while that leaves fewer than a majority alive is named.
fn quorum_loss(s: &ClusterStatus, steps: &[PlanStep]) -> Vec<String> {
    let electable: Vec<&NodeStatus> = s
        .nodes
        .iter()
        .filter(|n| n.kind == "fe" && matches!(n.role.as_str(), "LEADER" | "FOLLOWER"))
        .collect();
    let alive = electable.iter().filter(|n| n.alive).count();
    let majority = electable.len() / 2 + 1;
    steps
        .iter()
        .filter(|st| !st.on_target && electable.iter().any(|n| n.id() == st.node.id()))
        .filter(|st| st.node.alive && alive - 1 < majority)
        .map(|st| {
            format!(
                "restarting {} leaves {} of {} FOLLOWER-role FEs alive, fewer than the majority of {majority} BDB JE needs to elect a leader and write metadata: the cluster takes no metadata changes (DDL, loads) until it is back",
                st.node.id(),
                alive - 1,
                electable.len()
            )
        })
        .collect()
}

/// BEs, then CNs, then FE observers and followers, the leader last. A BE's gate asks the leader;
/// an FE's gate asks that FE, which must be back to answer.
fn order(cfg: &PlanConfig, s: &ClusterStatus, to: crate::version::Version) -> Vec<PlanStep> {
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
        (_, "LEADER") => 4,
        // FOLLOWER, and an FE not yet in the group (INIT, UNKNOWN, planned only with --force):
        // never after the leader.
        _ => 3,
    };
    let mut nodes: Vec<&NodeStatus> = s.nodes.iter().collect();
    nodes.sort_by_key(|n| (rank(n), n.host.clone(), n.port));
    nodes
        .into_iter()
        .map(|n| {
            let now = parse_version(&n.version);
            PlanStep {
                node: n.clone(),
                home: home_of(cfg, n),
                gate: if n.kind == "fe" {
                    (n.host.clone(), n.http_port, n.port)
                } else {
                    leader_gate.clone()
                },
                on_target: now == Some(to),
                // The version the node runs now, which its backup holds (a node without a
                // Version is not healthy: planned only with --force, its backup then "old").
                backup: format!(
                    "sr-rehearse-backup-{}",
                    now.map_or_else(|| "old".to_string(), |v| v.to_string())
                ),
            }
        })
        .collect()
}
