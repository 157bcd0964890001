//! The rules that decide whether a cluster is healthy enough for the next upgrade step.
//!
//! Each rule adds what it finds to a node's or the cluster's problems (degraded) or warnings (worth
//! knowing, not degraded). They only read what discovery gathered, so they can be tested without a
//! cluster. The order the problems are added in is the order an operator reads them, and the JUnit
//! form relies on the cluster's own problems coming before the nodes'.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::values::{col, escape, later_than, shown};
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
/// that did not reach `target` (the leader's journal id seen at the start of the look) within
/// `delay`, StarRocks' own notion of staleness being a time (`meta_delay_toleration_second`). The
/// node's `replayed_journal_id` is the last one read. A follower the leader has not heard from has
/// no journal position to compare.
pub(super) fn judge_fe(n: &mut NodeStatus, target: Option<u64>, delay: Duration) {
    if !n.alive {
        n.problems.push(format!(
            "not Alive in SHOW FRONTENDS{}",
            err_suffix(&n.err_msg)
        ));
    }
    let failed: Vec<String> = n.probes.iter().filter_map(probe_problem).collect();
    n.problems.extend(failed);
    if n.role != "LEADER" && n.alive {
        if let (Some(l), Some(mine)) = (target, n.replayed_journal_id) {
            let lag = l.saturating_sub(mine);
            n.journal_lag = Some(lag);
            if lag > 0 {
                n.problems.push(format!(
                    "lagging: replayed journal {mine} did not reach the leader's {l} within {}",
                    humantime::format_duration(delay)
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
    // 3.4+: the node answered its heartbeat that it is shutting down (a graceful stop).
    if n.status_code == "SHUTDOWN" {
        n.problems
            .push("StatusCode SHUTDOWN: the node is shutting down".into());
    }
    let failed: Vec<String> = n.probes.iter().filter_map(probe_problem).collect();
    n.problems.extend(failed);
}

/// Tablets from SHOW PROC '/statistic': the Total row (StatisticProcDir), or the sum of the
/// per-database rows where a release has none. Unhealthy and inconsistent tablets are a warning, not
/// degraded: StatisticProcDir counts replicas behind publish (normal under load) and replicas of a
/// BE that is restarting, the docs ask to stop clone during the upgrade (so they stay), and they
/// never ask for none between two nodes. An answer that did not come is a warning too: on a
/// large cluster the statement is slow, which says nothing about the cluster's health.
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
                st.warnings.push(format!(
                    "{} unhealthy and {} inconsistent tablets of {} (SHOW PROC '/statistic')",
                    tab.unhealthy, tab.inconsistent, tab.total
                ));
            }
            st.tablets = Some(tab);
        }
        Err(e) => st.warnings.push(format!(
            "tablets not checked: SHOW PROC '/statistic' failed: {}",
            shown(&e)
        )),
    }
}

/// The guide: make sure every table has 3 replicas before a BE is taken down. Fewer is a warning,
/// not a problem: the cluster is healthy, only the next step is riskier. Not in shared-data mode,
/// where the data lives in object storage and the default replication is 1.
pub(super) fn judge_replication(st: &mut ClusterStatus, rows: Result<Vec<Row>, SqlError>) {
    if st.run_mode == "shared_data" {
        return;
    }
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

/// The FEs that elect the leader (LEADER and FOLLOWER rows; observers do not vote), and which
/// are Alive. Fewer than 3 is a warning: stopping any of them leaves no majority, so the group
/// has no leader and writes no metadata until it is back.
pub(super) fn judge_quorum(st: &mut ClusterStatus) {
    for n in st.nodes.iter().filter(|n| n.kind == "fe") {
        if matches!(n.role.as_str(), "LEADER" | "FOLLOWER") {
            st.electable_fes.push(n.node_id());
            if n.alive {
                st.alive_electable_fes.push(n.node_id());
            }
        }
    }
    let n = st.electable_fes.len();
    if (1..3).contains(&n) {
        st.warnings.push(format!(
            "{n} electable FE{} (LEADER and FOLLOWER): restarting any of them leaves no majority, so no leader and no metadata writes until it is back",
            if n == 1 { "" } else { "s" }
        ));
    }
}

/// A node whose start time changed since the previous look (`before`: node id to start time) has
/// restarted in between: named as restarting, as a crash loop would be. A start time appearing
/// (NULL while an FE was not Alive) is not a restart.
pub(super) fn judge_restarts(st: &mut ClusterStatus, before: &BTreeMap<String, String>) {
    for n in &mut st.nodes {
        let Some(was) = before.get(&n.node_id()) else {
            continue;
        };
        if later_than(&n.start_time, was).is_some() && n.start_time != *was {
            n.problems.push(format!(
                "restarting: its start time changed from {} to {} between two looks",
                escape(was),
                escape(&n.start_time)
            ));
        }
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
pub(super) mod tests {
    use super::*;

    pub(in crate::check) fn node(kind: &str, role: &str, version: &str) -> NodeStatus {
        NodeStatus {
            kind: kind.into(),
            host: "10.0.0.1".into(),
            http_port: 8030,
            port: 9030,
            role: role.into(),
            alive: true,
            version: version.into(),
            last_heartbeat: String::new(),
            start_time: String::new(),
            status_code: String::new(),
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
    fn a_follower_that_does_not_reach_the_leaders_journal_in_time_lags() {
        let d = Duration::from_secs(60);
        let mut f = node("fe", "FOLLOWER", "3.3.5");
        f.replayed_journal_id = Some(1000);
        judge_fe(&mut f, Some(1000), d);
        assert_eq!(f.journal_lag, Some(0));
        assert!(f.problems.is_empty(), "{:?}", f.problems);
        f.replayed_journal_id = Some(1200);
        judge_fe(&mut f, Some(1000), d);
        assert!(f.problems.is_empty(), "past the target is caught up");
        f.replayed_journal_id = Some(999);
        judge_fe(&mut f, Some(1000), d);
        assert_eq!(
            f.problems,
            ["lagging: replayed journal 999 did not reach the leader's 1000 within 1m"]
        );
        let mut dead = node("fe", "FOLLOWER", "3.3.5");
        dead.alive = false;
        dead.replayed_journal_id = Some(1);
        judge_fe(&mut dead, Some(1000), d);
        assert_eq!(
            dead.journal_lag, None,
            "a dead follower has no lag to judge"
        );
    }

    #[test]
    fn node_problems_come_in_reading_order() {
        let mut b = node("be", "", "3.3.5");
        b.alive = false;
        b.err_msg = "connection refused".into();
        b.decommissioned = true;
        b.status_code = "SHUTDOWN".into();
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
                "StatusCode SHUTDOWN: the node is shutting down",
                "/api/health: HTTP 500"
            ]
        );
    }

    fn statistic(unhealthy: &str) -> Vec<Row> {
        let r: Row = [
            ("DbId", "Total"),
            ("TabletNum", "10"),
            ("UnhealthyTabletNum", unhealthy),
            ("InconsistentTabletNum", "1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        vec![r]
    }

    #[test]
    fn unhealthy_tablets_are_a_warning_not_degraded() {
        let mut st = ClusterStatus::new("fe:8030");
        judge_tablets(&mut st, Ok(statistic("4")));
        conclude(&mut st);
        assert_eq!(st.verdict, "healthy");
        assert_eq!(
            st.warnings,
            ["4 unhealthy and 1 inconsistent tablets of 10 (SHOW PROC '/statistic')"]
        );
        let mut st = ClusterStatus::new("fe:8030");
        judge_tablets(&mut st, Err(SqlError::Transport("slow".into())));
        conclude(&mut st);
        assert_eq!(st.verdict, "healthy", "a slow /statistic is not degraded");
        assert_eq!(st.warnings.len(), 1);
    }

    #[test]
    fn shared_data_has_no_low_replication_warning() {
        let r: Row = [
            ("DB_NAME", "d"),
            ("TABLE_NAME", "t"),
            ("REPLICATION_NUM", "1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut st = ClusterStatus::new("fe:8030");
        judge_replication(&mut st, Ok(vec![r.clone()]));
        assert_eq!(st.warnings.len(), 1);
        let mut st = ClusterStatus::new("fe:8030");
        st.run_mode = "shared_data".into();
        judge_replication(&mut st, Ok(vec![r]));
        assert!(st.warnings.is_empty(), "{:?}", st.warnings);
        assert!(st.low_replication.is_empty());
    }

    #[test]
    fn quorum_facts_name_the_electable_fes_and_the_alive_ones() {
        let mut st = ClusterStatus::new("fe:8030");
        for (i, (role, alive)) in [
            ("LEADER", true),
            ("FOLLOWER", true),
            ("FOLLOWER", false),
            ("OBSERVER", true),
        ]
        .iter()
        .enumerate()
        {
            let mut n = node("fe", role, "3.3.5");
            n.port = 9030 + i as u16;
            n.alive = *alive;
            st.nodes.push(n);
        }
        judge_quorum(&mut st);
        assert_eq!(
            st.electable_fes,
            ["fe@10.0.0.1:9030", "fe@10.0.0.1:9031", "fe@10.0.0.1:9032"]
        );
        assert_eq!(
            st.alive_electable_fes,
            ["fe@10.0.0.1:9030", "fe@10.0.0.1:9031"]
        );
        assert!(st.warnings.is_empty());
        assert!(
            !st.quorum_without("fe@10.0.0.1:9031"),
            "1 of 3 alive is no majority"
        );
        assert!(
            st.quorum_without("fe@10.0.0.1:9032"),
            "the dead one changes nothing"
        );
        let mut st = ClusterStatus::new("fe:8030");
        st.nodes = vec![node("fe", "LEADER", "3.3.5")];
        judge_quorum(&mut st);
        assert!(
            st.warnings[0].starts_with("1 electable FE "),
            "{:?}",
            st.warnings
        );
    }

    #[test]
    fn a_changed_start_time_is_a_restart() {
        let mut st = ClusterStatus::new("fe:8030");
        let mut a = node("be", "", "3.3.5");
        a.start_time = "2024-01-19 20:03:14".into();
        let mut b = a.clone();
        b.port = 9031;
        b.start_time = "2024-01-19 20:05:00".into();
        let mut c = a.clone();
        c.port = 9032;
        st.nodes = vec![a, b, c];
        let before: BTreeMap<String, String> = [
            ("be@10.0.0.1:9030", "2024-01-19 20:03:14"),
            ("be@10.0.0.1:9031", "2024-01-19 20:03:14"),
            ("be@10.0.0.1:9032", "NULL"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        judge_restarts(&mut st, &before);
        assert!(st.nodes[0].problems.is_empty());
        assert_eq!(
            st.nodes[1].problems,
            ["restarting: its start time changed from 2024-01-19 20:03:14 to 2024-01-19 20:05:00 between two looks"]
        );
        assert!(
            st.nodes[2].problems.is_empty(),
            "NULL to a time is no restart"
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
