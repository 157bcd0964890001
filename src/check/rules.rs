//! The rules that decide whether a cluster is healthy enough for the next upgrade step.
//!
//! Each rule adds what it finds to a node's or the cluster's problems (degraded) or warnings (worth
//! knowing, not degraded). They only read what discovery gathered, so they can be tested without a
//! cluster. The order the problems are added in is the order an operator reads them, and the JUnit
//! form relies on the cluster's own problems coming before the nodes'.

use std::collections::{BTreeMap, BTreeSet};

use super::values::{col, escape, shown};
use super::{ClusterStatus, NodeStatus, ProbeResult, Tablets};
use crate::probe::mysql::SqlError;
use crate::report::exit;

type Row = BTreeMap<String, String>;

/// A failed probe as a node problem, named by what it reached.
fn probe_problem(p: &ProbeResult) -> Option<String> {
    let what = match p.name.as_str() {
        "bootstrap" => "/api/bootstrap",
        "health" => "/api/health",
        _ => "SQL on the query port",
    };
    (!p.ok).then(|| format!("{what}: {}", p.detail))
}

fn err_suffix(err_msg: &str) -> String {
    if err_msg.is_empty() {
        String::new()
    } else {
        format!(" ({})", escape(err_msg))
    }
}

/// Exactly one FE must say LEADER: none means no election, two a split group.
pub(super) fn judge_leaders(st: &mut ClusterStatus, leaders: Vec<String>) {
    match leaders.len() {
        0 => st
            .problems
            .push("no FE is LEADER: the group has not elected one".into()),
        1 => st.leader = leaders.into_iter().next(),
        _ => st.problems.push(format!(
            "more than one FE says LEADER: {}",
            leaders.join(", ")
        )),
    }
}

/// An FE's own problems: not Alive, a failed probe, and for a live follower a replayed journal
/// further behind the leader's than `max_lag`. A follower the leader has not heard from has no
/// journal position to compare.
pub(super) fn judge_fe(n: &mut NodeStatus, leader_journal: Option<u64>, max_lag: u64) {
    if !n.alive {
        n.problems.push(format!(
            "not Alive in SHOW FRONTENDS{}",
            err_suffix(&n.err_msg)
        ));
    }
    let failed: Vec<String> = n.probes.iter().filter_map(probe_problem).collect();
    n.problems.extend(failed);
    if n.role != "LEADER" && n.alive {
        if let (Some(l), Some(mine)) = (leader_journal, n.replayed_journal_id) {
            let lag = l.saturating_sub(mine);
            n.journal_lag = Some(lag);
            if lag > max_lag {
                n.problems.push(format!(
                    "replayed journal {mine} is {lag} entries behind the leader's {l} (more than {max_lag})"
                ));
            }
        }
    }
}

/// A BE's or CN's own problems: not Alive (or Alive with an ErrMsg), being decommissioned, a
/// failed probe. `stmt` is the statement that listed it.
pub(super) fn judge_backend(n: &mut NodeStatus, stmt: &str) {
    if !n.alive {
        n.problems
            .push(format!("not Alive in {stmt}{}", err_suffix(&n.err_msg)));
    } else if !n.err_msg.is_empty() {
        n.problems.push(format!("ErrMsg: {}", escape(&n.err_msg)));
    }
    if n.decommissioned {
        n.problems.push("being decommissioned".into());
    }
    let failed: Vec<String> = n.probes.iter().filter_map(probe_problem).collect();
    n.problems.extend(failed);
}

/// One version per cluster, or the ones a rolling upgrade in progress allows (`--allow-version`):
/// the version the cluster runs plus allowed ones is a warning, anything more is mixed. A node
/// without a Version counts as one more version (`unknown`): nothing says it runs the others'.
pub(super) fn judge_versions(st: &mut ClusterStatus, allow_versions: &[String]) {
    for n in &st.nodes {
        let v = if n.version.is_empty() {
            "unknown".to_string()
        } else {
            n.version.clone()
        };
        st.versions.entry(v).or_default().push(n.id());
    }
    let known: BTreeSet<&String> = st.versions.keys().collect();
    if known.len() > 1 {
        let allowed = |v: &str| {
            allow_versions.iter().any(|a| {
                v == a || v.starts_with(&format!("{a}-")) || v.starts_with(&format!("{a}."))
            })
        };
        let described: Vec<String> = st
            .versions
            .iter()
            .map(|(v, nodes)| format!("{} on {}", escape(v), nodes.join(", ")))
            .collect();
        let unknown = st.versions.contains_key("unknown");
        if !unknown && known.iter().filter(|v| !allowed(v)).count() <= 1 {
            st.warnings.push(format!(
                "versions side by side (allowed): {}",
                described.join("; ")
            ));
        } else {
            st.problems
                .push(format!("mixed versions: {}", described.join("; ")));
        }
    }
}

/// Tablets from SHOW PROC '/statistic': the Total row (StatisticProcDir), or the sum of the
/// per-database rows where a release has none. Any unhealthy or inconsistent tablet degrades.
pub(super) fn judge_tablets(st: &mut ClusterStatus, rows: Result<Vec<Row>, SqlError>) {
    match rows {
        Ok(rows) => {
            let num = |r: &Row, c: &str| col(r, c).parse::<u64>().unwrap_or(0);
            let total = rows.iter().find(|r| col(r, "DbId") == "Total");
            let tab = match total {
                Some(r) => Tablets {
                    total: num(r, "TabletNum"),
                    unhealthy: num(r, "UnhealthyTabletNum"),
                    inconsistent: num(r, "InconsistentTabletNum"),
                },
                None => rows.iter().fold(Tablets::default(), |a, r| Tablets {
                    total: a.total + num(r, "TabletNum"),
                    unhealthy: a.unhealthy + num(r, "UnhealthyTabletNum"),
                    inconsistent: a.inconsistent + num(r, "InconsistentTabletNum"),
                }),
            };
            if tab.unhealthy > 0 || tab.inconsistent > 0 {
                st.problems.push(format!(
                    "{} unhealthy and {} inconsistent tablets of {} (SHOW PROC '/statistic')",
                    tab.unhealthy, tab.inconsistent, tab.total
                ));
            }
            st.tablets = Some(tab);
        }
        Err(e) => st.problems.push(format!(
            "failed to read tablet health with SHOW PROC '/statistic': {}",
            shown(&e)
        )),
    }
}

/// The guide: make sure every table has 3 replicas before a BE is taken down. Fewer is a warning,
/// not a problem: the cluster is healthy, only the next step is riskier.
pub(super) fn judge_replication(st: &mut ClusterStatus, rows: Result<Vec<Row>, SqlError>) {
    match rows {
        Ok(rows) => {
            let mut seen = BTreeSet::new();
            for r in &rows {
                seen.insert(format!(
                    "{}.{} (replication_num {})",
                    escape(col(r, "DB_NAME")),
                    escape(col(r, "TABLE_NAME")),
                    escape(col(r, "REPLICATION_NUM"))
                ));
            }
            st.low_replication = seen.into_iter().collect();
            if !st.low_replication.is_empty() {
                st.warnings.push(format!(
                    "tables with fewer than 3 replicas (a BE taken down makes them unavailable): {}",
                    st.low_replication.join(", ")
                ));
            }
        }
        Err(e) => st.warnings.push(format!(
            "replication numbers not checked (information_schema.partitions_meta: {})",
            shown(&e)
        )),
    }
}

/// The verdict: healthy only without a problem anywhere. Node problems are appended after the
/// cluster's own, each prefixed with its node.
pub(super) fn conclude(st: &mut ClusterStatus) {
    for n in &st.nodes {
        for p in &n.problems {
            st.problems.push(format!("{}: {p}", n.id()));
        }
    }
    let healthy = st.problems.is_empty();
    st.verdict = if healthy { "healthy" } else { "degraded" }.into();
    st.exit_code = if healthy { exit::PASS } else { exit::FAIL };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(kind: &str, role: &str, version: &str) -> NodeStatus {
        NodeStatus {
            kind: kind.into(),
            host: "10.0.0.1".into(),
            http_port: 8030,
            port: 9030,
            role: role.into(),
            alive: true,
            version: version.into(),
            last_heartbeat: String::new(),
            err_msg: String::new(),
            replayed_journal_id: None,
            journal_lag: None,
            decommissioned: false,
            probes: Vec::new(),
            problems: Vec::new(),
            invalid: Vec::new(),
            label: None,
        }
    }

    #[test]
    fn a_follower_behind_the_leader_by_more_than_the_limit_lags() {
        let mut f = node("fe", "FOLLOWER", "3.3.5");
        f.replayed_journal_id = Some(900);
        judge_fe(&mut f, Some(1000), 100);
        assert_eq!(f.journal_lag, Some(100));
        assert!(f.problems.is_empty(), "{:?}", f.problems);
        judge_fe(&mut f, Some(1001), 100);
        assert_eq!(f.problems.len(), 1);
        assert!(f.problems[0].contains("101 entries behind"));
    }

    #[test]
    fn node_problems_come_in_reading_order() {
        let mut b = node("be", "", "3.3.5");
        b.alive = false;
        b.err_msg = "connection refused".into();
        b.decommissioned = true;
        b.probes.push(ProbeResult {
            name: "health".into(),
            ok: false,
            detail: "HTTP 500".into(),
        });
        judge_backend(&mut b, "SHOW BACKENDS");
        assert_eq!(
            b.problems,
            [
                "not Alive in SHOW BACKENDS (connection refused)",
                "being decommissioned",
                "/api/health: HTTP 500"
            ]
        );
    }

    #[test]
    fn an_allowed_second_version_warns_and_a_third_degrades() {
        let mut st = ClusterStatus::new("fe:8030");
        st.nodes = vec![
            node("fe", "LEADER", "3.3.5-abc"),
            node("be", "", "3.4.1-def"),
        ];
        judge_versions(&mut st, &["3.4.1".to_string()]);
        assert!(st.problems.is_empty());
        assert_eq!(st.warnings.len(), 1);

        let mut st = ClusterStatus::new("fe:8030");
        st.nodes = vec![
            node("fe", "LEADER", "3.3.5-abc"),
            node("be", "", "3.4.1-def"),
            node("cn", "", "3.4.10-def"),
        ];
        judge_versions(&mut st, &["3.4.1".to_string()]);
        assert_eq!(st.problems.len(), 1, "3.4.10 is not the allowed 3.4.1");
    }

    #[test]
    fn a_node_without_a_version_is_one_more_version() {
        let mut st = ClusterStatus::new("fe:8030");
        st.nodes = vec![node("fe", "LEADER", "3.3.5-abc"), node("be", "", "")];
        judge_versions(&mut st, &[]);
        assert_eq!(st.problems.len(), 1, "{:?}", st.problems);
        assert!(st.problems[0].contains("unknown on be 10.0.0.1:9030"));
        let mut st = ClusterStatus::new("fe:8030");
        st.nodes = vec![node("fe", "LEADER", "3.3.5-abc"), node("be", "", "")];
        judge_versions(&mut st, &["3.3.5".to_string()]);
        assert_eq!(
            st.problems.len(),
            1,
            "--allow-version never allows an unknown one"
        );
    }

    #[test]
    fn the_verdict_lists_the_cluster_problems_before_the_nodes() {
        let mut st = ClusterStatus::new("fe:8030");
        let mut b = node("be", "", "3.3.5");
        b.problems.push("being decommissioned".into());
        st.nodes.push(b);
        st.problems.push("mixed versions: x".into());
        conclude(&mut st);
        assert_eq!(st.verdict, "degraded");
        assert_eq!(st.exit_code, exit::FAIL);
        assert_eq!(st.problems[0], "mixed versions: x");
        assert_eq!(st.problems[1], "be 10.0.0.1:9030: being decommissioned");
    }
}
