//! The gate between two upgrade steps: proof that one node (`--node`) came back on the target.
//!
//! Alive alone proves little. After a node dies, SHOW FRONTENDS / BACKENDS keep it Alive with an
//! empty ErrMsg for `heartbeat_retry_times` failed heartbeats (ComputeNode/Frontend.
//! handleHbResponse), and its Version changes only at the next good heartbeat. So a node is
//! proven when its row shows the target version (`--expect-version`, build hash not compared), a
//! start time later than the one read before the stop (`--started-after`), no problem of its own,
//! and then for `--stable-for` it stays Alive, keeps its start time, and its LastHeartbeat moves
//! on at least twice: during heartbeat retries a dead node's LastHeartbeat stands still.
//!
//! Everything here reads what a look gathered, so the rules are tested without a cluster.

use std::time::{Duration, Instant};

use super::values::{escape, is_host, later_than, parse_time};
use super::{CheckError, ClusterStatus, NodeStatus};

/// How many times LastHeartbeat must move on during the stability window.
pub const HEARTBEATS_NEEDED: u32 = 2;

/// What `--print` prints of the node's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PrintField {
    Version,
    StartTime,
    Role,
    Alive,
}

impl PrintField {
    /// The value of this field in the node's row, as the leader printed it.
    pub fn of(self, n: &NodeStatus) -> String {
        match self {
            PrintField::Version => n.version.clone(),
            PrintField::StartTime => n.start_time.clone(),
            // BEs and CNs have no role; printed as their kind, so a script can still tell.
            PrintField::Role if n.role.is_empty() => n.kind.to_uppercase(),
            PrintField::Role => n.role.clone(),
            PrintField::Alive => n.alive.to_string(),
        }
    }
}

/// Splits `fe@HOST:PORT` (the ids `upgrade-plan --node-home` takes) into kind, host and port.
pub fn parse_node_id(s: &str) -> Result<(String, String, u16), CheckError> {
    let bad = |why: &str| {
        CheckError::BadInput(format!(
            "failed to read --node {}: {why}; expected fe@HOST:QUERY_PORT, be@HOST:HEARTBEAT_PORT or cn@HOST:HEARTBEAT_PORT",
            escape(s)
        ))
    };
    let (kind, rest) = s.split_once('@').ok_or_else(|| bad("no KIND@"))?;
    if !matches!(kind, "fe" | "be" | "cn") {
        return Err(bad("the kind is not fe, be or cn"));
    }
    let (host, port) = rest.rsplit_once(':').ok_or_else(|| bad("no :PORT"))?;
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?;
    if !is_host(host) {
        return Err(bad("the host is not an IP address or host name"));
    }
    Ok((kind.to_string(), host.to_string(), port))
}

/// The version without its build hash: `3.3.5` of `3.3.5-abc1234`, `3.4.0-rc01` of
/// `3.4.0-rc01-ae0b3e4`. The hash is the last `-` part when it is hexadecimal.
pub fn version_part(v: &str) -> &str {
    match v.rsplit_once('-') {
        Some((head, tail)) if tail.len() >= 6 && tail.bytes().all(|b| b.is_ascii_hexdigit()) => {
            head
        }
        _ => v,
    }
}

/// The node's row in the look, by its command-line id.
pub(super) fn find<'a>(st: &'a ClusterStatus, id: &str) -> Option<&'a NodeStatus> {
    st.nodes.iter().find(|n| n.node_id() == id)
}

/// Why the node does not (yet) meet the gate's conditions; empty when it does.
pub(super) fn unmet(n: &NodeStatus, expect: Option<&str>, after: Option<&str>) -> Vec<String> {
    let mut why = Vec::new();
    if !n.alive {
        why.push("not Alive".to_string());
    }
    if let Some(want) = expect {
        if version_part(&n.version) != version_part(want) {
            why.push(format!(
                "runs {}, not {}",
                if n.version.is_empty() {
                    "an unknown version".to_string()
                } else {
                    escape(&n.version)
                },
                escape(want)
            ));
        }
    }
    if let Some(t) = after {
        if later_than(&n.start_time, t) != Some(true) {
            why.push(format!(
                "its start time {} is not later than {} (it has not restarted since)",
                escape(&n.start_time),
                escape(t)
            ));
        }
    }
    why.extend(n.problems.iter().cloned());
    why
}

/// Checks `--started-after` before anything is asked of the cluster.
pub(super) fn check_time_arg(t: &str) -> Result<(), CheckError> {
    if parse_time(t).is_none() {
        return Err(CheckError::BadInput(format!(
            "failed to read --started-after {}: expected a time as `check --print start-time` prints it, e.g. 2024-01-19 20:03:14",
            escape(t)
        )));
    }
    Ok(())
}

/// Where the proof of the node stands after a look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// The node does not meet the conditions (the reasons).
    Waiting(Vec<String>),
    /// It does; the window runs. `fresh` on the look where it first met them.
    Stabilising { fresh: bool, moves: u32 },
    /// It met them and stayed up for the whole window.
    Proven,
}

/// The stability window of the node: started at the first look where it meets the conditions,
/// restarted whenever it stops meeting them or its start time changes.
#[derive(Debug, Default)]
pub struct Stability {
    since: Option<Instant>,
    start_time: String,
    heartbeat: String,
    moves: u32,
    /// Whether "proven" was said already (it is said once, not at every look after).
    pub said_proven: bool,
}

impl Stability {
    /// Takes one look at the node (`unmet` its reasons, at `now`) and says where the proof stands.
    pub fn observe(
        &mut self,
        node: Option<&NodeStatus>,
        unmet: Vec<String>,
        stable_for: Duration,
        now: Instant,
    ) -> Proof {
        let Some(n) = node else {
            *self = Stability::default();
            return Proof::Waiting(vec!["not listed".into()]);
        };
        if !unmet.is_empty() {
            *self = Stability::default();
            return Proof::Waiting(unmet);
        }
        let restarted = self.since.is_some() && n.start_time != self.start_time;
        let fresh = self.since.is_none() || restarted;
        if fresh {
            self.since = Some(now);
            self.start_time = n.start_time.clone();
            self.heartbeat = n.last_heartbeat.clone();
            self.moves = 0;
        } else if n.last_heartbeat != self.heartbeat {
            // Moving on, not back: a heartbeat read older than the last one is not progress.
            if later_than(&n.last_heartbeat, &self.heartbeat) != Some(false) {
                self.moves += 1;
            }
            self.heartbeat = n.last_heartbeat.clone();
        }
        let since = self.since.unwrap_or(now);
        if stable_for.is_zero()
            || (now.duration_since(since) >= stable_for && self.moves >= HEARTBEATS_NEEDED)
        {
            return Proof::Proven;
        }
        Proof::Stabilising {
            fresh,
            moves: self.moves,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::rules::tests::node;
    use super::*;

    #[test]
    fn node_ids_are_kind_host_and_port() {
        assert_eq!(
            parse_node_id("be@10.0.0.2:9050").unwrap(),
            ("be".into(), "10.0.0.2".into(), 9050)
        );
        for bad in [
            "10.0.0.2:9050",
            "xx@10.0.0.2:9050",
            "fe@h:0",
            "fe@bad host:1",
            "fe@h",
        ] {
            assert!(parse_node_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_version_is_compared_without_its_hash() {
        assert_eq!(version_part("3.3.5-abc1234"), "3.3.5");
        assert_eq!(version_part("3.3.5"), "3.3.5");
        assert_eq!(version_part("3.4.0-rc01-ae0b3e4"), "3.4.0-rc01");
        assert_eq!(version_part("3.4.0-rc01"), "3.4.0-rc01");
    }

    fn be(version: &str, start: &str, hb: &str) -> NodeStatus {
        let mut n = node("be", "", version);
        n.start_time = start.into();
        n.last_heartbeat = hb.into();
        n
    }

    #[test]
    fn a_node_on_the_old_build_or_not_restarted_does_not_meet_the_gate() {
        let t0 = "2024-01-19 20:00:00";
        let n = be("3.3.5-abc1234", "2024-01-19 20:01:00", "");
        assert!(unmet(&n, Some("3.3.5"), Some(t0)).is_empty());
        let old = be("3.3.4-abc1234", "2024-01-19 20:01:00", "");
        assert_eq!(
            unmet(&old, Some("3.3.5"), Some(t0)),
            ["runs 3.3.4-abc1234, not 3.3.5"]
        );
        let same = be("3.3.5-abc1234", t0, "");
        assert_eq!(unmet(&same, Some("3.3.5"), Some(t0)).len(), 1);
        let null = be("3.3.5-abc1234", "NULL", "");
        assert_eq!(unmet(&null, None, Some(t0)).len(), 1, "NULL is not later");
        let mut dead = be("3.3.5-abc1234", "2024-01-19 20:01:00", "");
        dead.alive = false;
        assert_eq!(unmet(&dead, Some("3.3.5"), Some(t0)), ["not Alive"]);
        assert!(check_time_arg("2024-01-19 20:00:00").is_ok());
        assert!(check_time_arg("yesterday").is_err());
    }

    #[test]
    fn the_proof_needs_the_window_and_two_heartbeats() {
        let t = Instant::now();
        let s = Duration::from_secs(20);
        let st = "2024-01-19 20:01:00";
        let mut p = Stability::default();
        let at = |secs: u64| t + Duration::from_secs(secs);
        let hb = |secs: u32| format!("2024-01-19 20:02:{secs:02}");
        let n = be("3.3.5", st, &hb(0));
        assert_eq!(
            p.observe(Some(&n), vec![], s, at(0)),
            Proof::Stabilising {
                fresh: true,
                moves: 0
            }
        );
        // Heartbeat retries: Alive, no ErrMsg, but LastHeartbeat stands still past the window.
        assert_eq!(
            p.observe(Some(&n), vec![], s, at(25)),
            Proof::Stabilising {
                fresh: false,
                moves: 0
            }
        );
        let n = be("3.3.5", st, &hb(5));
        assert_eq!(
            p.observe(Some(&n), vec![], s, at(26)),
            Proof::Stabilising {
                fresh: false,
                moves: 1
            }
        );
        let n = be("3.3.5", st, &hb(10));
        assert_eq!(p.observe(Some(&n), vec![], s, at(27)), Proof::Proven);
    }

    #[test]
    fn a_restart_or_a_failure_in_the_window_starts_it_again() {
        let t = Instant::now();
        let s = Duration::from_secs(10);
        let at = |secs: u64| t + Duration::from_secs(secs);
        let mut p = Stability::default();
        let n = be("3.3.5", "2024-01-19 20:01:00", "2024-01-19 20:02:00");
        p.observe(Some(&n), vec![], s, at(0));
        let n = be("3.3.5", "2024-01-19 20:01:00", "2024-01-19 20:02:05");
        p.observe(Some(&n), vec![], s, at(5));
        // A crash loop: the node came back with a new start time.
        let n = be("3.3.5", "2024-01-19 20:02:07", "2024-01-19 20:02:10");
        assert_eq!(
            p.observe(Some(&n), vec![], s, at(11)),
            Proof::Stabilising {
                fresh: true,
                moves: 0
            }
        );
        assert_eq!(
            p.observe(Some(&n), vec!["not Alive".into()], s, at(12)),
            Proof::Waiting(vec!["not Alive".into()])
        );
        assert_eq!(
            p.observe(None, vec![], s, at(13)),
            Proof::Waiting(vec!["not listed".into()])
        );
        assert_eq!(
            p.observe(Some(&n), vec![], Duration::ZERO, at(14)),
            Proof::Proven,
            "--stable-for 0s proves at the first look"
        );
    }
}
