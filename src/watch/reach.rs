//! What a sandbox FE tried to reach outside itself, read from the lines real releases write.
//!
//! A leader heartbeats every backend recorded in the metadata (`HeartbeatMgr`), and an FE whose
//! election-group reset was not honoured asks the recorded frontends for a master (BDB JE). Both
//! leave lines in fe.log, and the report lists their targets so that an operator sees what the
//! sandbox would have touched without the fence:
//!
//! - `backend heartbeat got exception, addr: {host}:{port}` (`HeartbeatMgr.BackendHeartbeatHandler`,
//!   logged with the exception, whose message is on the next line);
//! - `Backend [id=.., host=.., heartbeatPort=.., alive=false] is alive, last start time: ..`
//!   (`ComputeNode.handleHbResponse`, the first answered heartbeat);
//! - `UnknownMasterException: ... Could not determine master from helpers at:[/h:p, /h:p]` (BDB JE,
//!   the recorded electable frontends it asked).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use regex::Regex;

use super::record::{starts_record, Record};
use serde::Serialize;

/// Something the sandbox tried to reach outside itself, as its log tells it.
#[derive(Debug, Clone, Serialize)]
pub struct ReachAttempt {
    pub target: String,
    pub kind: String,
    /// What the sandbox saw: `reached`, or the error it logged.
    pub result: String,
    pub blocked_by_fence: bool,
}

struct Patterns {
    hb_failed: Regex,
    hb_alive: Regex,
    helpers: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        hb_failed: Regex::new(r"backend heartbeat got exception, addr: (\S+:\d+)").unwrap(),
        hb_alive: Regex::new(
            r"(?:Backend|ComputeNode) \[id=\d+, host=([^,\]]+), heartbeatPort=(\d+)[^\]]*\] is alive",
        )
        .unwrap(),
        helpers: Regex::new(r"Could not determine master from helpers at:\[([^\]]*)\]").unwrap(),
    })
}

/// The attempts recorded in `text` (a whole fe.log), one per target and kind, the last result
/// winning.
pub fn from_text(text: &str, fenced: bool) -> Vec<ReachAttempt> {
    let p = patterns();
    let mut seen: BTreeMap<(String, &'static str), String> = BTreeMap::new();
    let mut each = |rec: &Record| {
        let head = rec.head();
        if let Some(c) = p.hb_failed.captures(head) {
            // The exception's message is the record's second line.
            let cause = rec
                .text
                .lines()
                .nth(1)
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .unwrap_or("got exception");
            seen.insert((c[1].to_string(), "backend heartbeat"), cause.to_string());
        } else if let Some(c) = p.hb_alive.captures(head) {
            seen.insert(
                (format!("{}:{}", &c[1], &c[2]), "backend heartbeat"),
                "reached".into(),
            );
        }
        for line in rec.text.lines() {
            if let Some(c) = p.helpers.captures(line) {
                for h in c[1].split(',') {
                    let h = h.trim().trim_start_matches('/');
                    if !h.is_empty() {
                        seen.insert(
                            (h.to_string(), "frontend election"),
                            "could not determine master".into(),
                        );
                    }
                }
            }
        }
    };
    let mut open: Option<Record> = None;
    for (i, line) in text.lines().enumerate() {
        if starts_record(line) {
            if let Some(r) = open.take() {
                each(&r);
            }
            open = Some(Record::new(i + 1, line));
        } else if let Some(r) = open.as_mut() {
            r.push(line);
        }
    }
    if let Some(r) = open.take() {
        each(&r);
    }
    seen.into_iter()
        .map(|((target, kind), result)| ReachAttempt {
            target,
            kind: kind.to_string(),
            result,
            blocked_by_fence: fenced,
        })
        .collect()
}

/// The attempts recorded in the fe.log at `path` (none when it cannot be read).
pub fn from_log(path: &Path, fenced: bool) -> Vec<ReachAttempt> {
    let bytes = std::fs::read(path).unwrap_or_default();
    from_text(&String::from_utf8_lossy(&bytes), fenced)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_lines_real_releases_write() {
        let log = "\
2024-01-01 00:00:00,000 WARN (heartbeat-mgr-pool-0|60) [HeartbeatMgr$BackendHeartbeatHandler.call():340] backend heartbeat got exception, addr: 10.0.0.7:9050
org.apache.thrift.transport.TTransportException: java.net.ConnectException: Connection refused (Connection refused)
\tat org.apache.thrift.transport.TSocket.open(TSocket.java:226)
2024-01-01 00:00:01,000 INFO (heartbeat mgr|37) [ComputeNode.handleHbResponse():530] Backend [id=10002, host=10.0.0.8, heartbeatPort=9050, alive=false] is alive, last start time: 1704067200000, hbTime: 1704067201000
2024-01-01 00:00:02,000 WARN (main|1) [BDBEnvironment.setupEnvironment():240] failed to setup environment after retried 2 times
com.sleepycat.je.rep.UnknownMasterException: (JE 18.3.16) Could not determine master from helpers at:[/10.0.0.2:9010, /10.0.0.3:9010]
";
        let got = from_text(log, true);
        let find = |t: &str| got.iter().find(|a| a.target == t).unwrap();
        assert_eq!(
            find("10.0.0.7:9050").result,
            "org.apache.thrift.transport.TTransportException: java.net.ConnectException: Connection refused (Connection refused)"
        );
        assert_eq!(find("10.0.0.8:9050").result, "reached");
        assert_eq!(find("10.0.0.3:9010").kind, "frontend election");
        assert_eq!(got.len(), 4);
        assert!(got.iter().all(|a| a.blocked_by_fence));
    }

    #[test]
    fn wording_only_the_simulator_used_is_not_an_attempt() {
        let log = "2024-01-01 00:00:00,000 WARN (heartbeat mgr|37) [HeartbeatMgr.runAfterCatalogReady():165] backend[10001] 10.0.0.7:9050 heartbeat failed: refused\n";
        assert!(from_text(log, false).is_empty());
    }
}
