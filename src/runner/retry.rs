//! A sandbox port taken between the pick and the bind: one retry on new ports, then the host's
//! fault, never the release's.
//!
//! Without the fence the sandbox's ports are only *probed* free when picked; another process (a
//! second rehearsal, any server starting) can bind one before the sandbox does, and the sandbox
//! then dies with a "port in use" signature. That says nothing about the release, so the run picks
//! new ports and starts the sandbox once more. A second collision is exit 3 (environment) naming
//! the process that holds the port, found through `/proc` ([`crate::procfs::port_holders`]).
//! A signature naming a port the run did not pick (production's, a key the rewrite left alone)
//! stays the release's or the conf's failure.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use regex::Regex;

use super::{Ending, Runner};
use crate::report::StepStatus;

/// The signatures of a port in use, and the sandbox key each means when its line names no port.
const PORT_SIGNATURES: &[(&str, &str)] = &[
    ("fe.port.http-in-use", "http_port"),
    ("fe.port.rpc-in-use", "rpc_port"),
    ("fe.port.query-in-use", "query_port"),
    ("fe.port.edit-log-in-use", "edit_log_port"),
    ("be.port.http", "be_http_port"),
    ("be.port.thrift", "be_port"),
    ("be.port.brpc", "brpc_port"),
    ("be.port.heartbeat", "heartbeat_service_port"),
];

/// The number a bind failure gives after the word "port" (`[port: 8030]`, `port 9020`,
/// `edit_log_port 9010`, `(on port: 9060)`, `listen port. port: 8040`).
fn port_number() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"(?i)port[^0-9\n]{0,8}(\d{1,5})\b").expect("port regex"))
}

/// A port this run picked that the sandbox found taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PortTaken {
    pub key: String,
    pub port: u16,
    /// How it showed: the signature and where it was logged, or the check before the launch.
    pub how: String,
}

impl PortTaken {
    /// Who holds the port now, in words.
    pub fn holders(&self) -> String {
        holders_of(self.port)
    }
}

/// Who listens on `port` now, in words: `pid 123 (python3)`, or why nobody can be named.
pub(crate) fn holders_of(port: u16) -> String {
    let holders = crate::procfs::port_holders(port);
    if holders.is_empty() {
        return if crate::ports::is_free(port) {
            "a process that has released it since".into()
        } else {
            "a process this user cannot see (another user's, or in another network namespace)"
                .into()
        };
    }
    holders
        .iter()
        .map(|(pid, name)| format!("pid {pid} ({name})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which picked port (of `ports`) the failure `summary` names, from the signatures `hits` this
/// attempt recorded: the fatal one the summary starts with must be a port-in-use signature, and
/// the port it names (or, when its line names none, the key it means) must be one of ours.
pub(crate) fn taken_port(
    summary: &str,
    hits: &[crate::report::SignatureHit],
    ports: &[(String, u16)],
) -> Option<PortTaken> {
    let hit = hits.iter().rev().find(|h| {
        PORT_SIGNATURES.iter().any(|(id, _)| *id == h.id) && summary.starts_with(&h.id)
    })?;
    let named: Vec<u16> = port_number()
        .captures_iter(&hit.text)
        .filter_map(|c| c[1].parse().ok())
        .collect();
    let (key, port) = if named.is_empty() {
        let key = PORT_SIGNATURES.iter().find(|(id, _)| *id == hit.id)?.1;
        ports.iter().find(|(k, _)| k == key)?.clone()
    } else {
        ports.iter().find(|(_, p)| named.contains(p))?.clone()
    };
    Some(PortTaken {
        key,
        port,
        how: format!("{} at {}:{}", hit.id, hit.file, hit.line),
    })
}

/// How the sandbox is stopped before it runs again: its stop script, the script's arguments, the
/// grace of each rung.
#[derive(Clone, Copy)]
pub(crate) struct StopWith<'a> {
    pub script: &'a str,
    pub args: &'a [&'a str],
    pub grace: Duration,
}

impl Runner {
    /// After a failed decision that began when the report held `since` signatures: the port this
    /// run picked that the sandbox found taken, if that is why it failed.
    pub fn port_taken(
        &self,
        ending: &Ending,
        ports: &[(String, u16)],
        since: usize,
    ) -> Option<PortTaken> {
        if self.fenced {
            // Inside its own namespace nothing else can hold the sandbox's ports.
            return None;
        }
        let hits = self.report.signatures.get(since..)?;
        taken_port(&ending.summary, hits, ports)
    }

    /// Readies the sandbox in `home` to run again after `taken`: stops what is left of it, moves
    /// its `log/` aside to `log.port-taken/` (the evidence stays), drops the signatures of the
    /// attempt (from `since`), picks new ports for `keys` (none in `avoid`, none of the old ones),
    /// and records the step `port retry` and a warning. Returns the new ports.
    pub fn retry_on_new_ports(
        &mut self,
        taken: &PortTaken,
        what: &str,
        home: &Path,
        stop: StopWith,
        (keys, avoid): (&[&str], &BTreeSet<u16>),
        since: usize,
    ) -> Result<Vec<(String, u16)>, Ending> {
        let t = Instant::now();
        let holders = taken.holders();
        if let Some(mut g) = self.group.take() {
            let mut cmd = std::process::Command::new("bash");
            cmd.arg(home.join("bin").join(stop.script))
                .args(stop.args)
                .current_dir(home)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            let rep = g.stop(Some(cmd), stop.grace);
            if !rep.leftover.is_empty() {
                return Err(Ending::env(format!(
                    "the sandbox {what} died because {} {} was taken, and could not be stopped for a retry: processes still alive: {:?}",
                    taken.key, taken.port, rep.leftover
                )));
            }
        }
        let log = home.join("log");
        let aside = home.join("log.port-taken");
        std::fs::rename(&log, &aside)
            .and_then(|()| std::fs::create_dir(&log))
            .map_err(|e| {
                Ending::env(format!(
                    "failed to move {} aside for a retry on new ports: {e}",
                    log.display()
                ))
            })?;
        self.report.signatures.truncate(since);
        let old: Vec<u16> = self.state.ports.clone();
        let mut avoid = avoid.clone();
        avoid.extend(old.iter().copied());
        let production = self.report.ports.production.clone();
        let ports = self.pick_ports(keys, &avoid, production)?;
        self.state.ports = ports.iter().map(|(_, p)| *p).collect();
        self.save_state("workspace");
        let now: Vec<String> = ports.iter().map(|(k, p)| format!("{k} {p}")).collect();
        let said = format!(
            "{} {}, a port this run picked, was taken by {holders} before the sandbox {what} bound it ({}); the {what} starts again on new ports ({}); the first attempt's logs are in {}",
            taken.key,
            taken.port,
            taken.how,
            now.join(", "),
            aside.display()
        );
        self.report.warnings.push(said.clone());
        self.step("port retry", t, StepStatus::Ok, said);
        Ok(ports)
    }
}

/// The sandbox half of [`launch_and_decide`](Runner::launch_and_decide): its ports, the conf
/// written anew for new ones, and its readiness decision.
pub(crate) trait Relaunch {
    /// The sandbox ports now, by key.
    fn ports(&self) -> &[(String, u16)];
    /// Moves the sandbox to `ports`: its conf rewritten (recorded as a step).
    fn use_ports(&mut self, r: &mut Runner, ports: Vec<(String, u16)>) -> Result<(), Ending>;
    /// Decides on the launched sandbox; returns the decision's summary.
    fn decide(&mut self, r: &mut Runner) -> Result<String, Ending>;
}

/// How a sandbox is launched, stopped and given new ports.
pub(crate) struct Launch<'a> {
    /// `FE` or `BE`, for the messages.
    pub what: &'a str,
    /// The sandbox home (its `log/` is moved aside for a retry), and the path the scripts are
    /// run from (the same, or a shell-safe link to it).
    pub home: &'a Path,
    pub script_home: &'a Path,
    /// The start script and the file in `log/` its output goes to.
    pub start: &'a str,
    pub out: &'a str,
    pub stop: StopWith<'a>,
    /// The port keys to pick anew, and the ports never to pick (production's).
    pub keys: &'a [&'a str],
    pub avoid: &'a BTreeSet<u16>,
}

impl Runner {
    /// The first sandbox port another process took since the pick, seen just before the launch.
    fn taken_before_launch(&mut self, ports: &[(String, u16)]) -> Option<PortTaken> {
        // Only with the `test-hooks` feature: a port taken after the conf was written.
        self.squatted
            .extend(crate::hooks::test_squat(ports, "before-launch"));
        let (key, port) = ports.iter().find(|(_, p)| !crate::ports::is_free(*p))?;
        Some(PortTaken {
            key: key.clone(),
            port: *port,
            how: "seen in use just before the launch".into(),
        })
    }

    /// Launches the sandbox and records its decision (the `launch` and `decide` steps). When a
    /// port this run picked turns out taken, before the launch or by the sandbox's bind, the run
    /// picks new ports and goes again, once; a second time is exit 3 naming the holder.
    pub fn launch_and_decide(
        &mut self,
        l: Launch,
        sandbox: &mut dyn Relaunch,
    ) -> Result<(), Ending> {
        let mut retried = false;
        loop {
            let t = Instant::now();
            let since = self.report.signatures.len();
            let taken = match self.taken_before_launch(sandbox.ports()) {
                Some(taken) if retried => {
                    let e = Err(taken_again(&taken, l.what));
                    return self.failed_step("launch", t, e);
                }
                Some(taken) => taken,
                None => {
                    let ports = sandbox.ports().to_vec();
                    self.launch_script(l.script_home, l.start, l.out, &ports)?;
                    let t = Instant::now();
                    let decided = sandbox.decide(self);
                    let taken = match &decided {
                        Err(e) => self.port_taken(e, &ports, since),
                        Ok(_) => None,
                    };
                    match taken {
                        None => return self.decide_step(t, decided),
                        Some(taken) if retried => {
                            return self.decide_step(t, Err(taken_again(&taken, l.what)))
                        }
                        Some(taken) => taken,
                    }
                }
            };
            retried = true;
            let ports =
                self.retry_on_new_ports(&taken, l.what, l.home, l.stop, (l.keys, l.avoid), since)?;
            sandbox.use_ports(self, ports)?;
            self.interrupted()?;
        }
    }
}

/// How a second collision ends the run: the host's doing (exit 3), with the holder named.
pub(crate) fn taken_again(taken: &PortTaken, what: &str) -> Ending {
    Ending::env(format!(
        "the sandbox {what} could not bind {} {} ({}), a port this run picked, and the same happened on new ports: {} holds it. Ports are taken on this host faster than the run can use them; this says nothing about the release: stop the process named, or run again with --isolate netns (as root) so the sandbox has ports of its own",
        taken.key,
        taken.port,
        taken.how,
        taken.holders()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::SignatureHit;
    use crate::watch::catalog::Severity;

    fn hit(id: &str, text: &str) -> SignatureHit {
        SignatureHit {
            id: id.into(),
            severity: Severity::Fatal,
            file: "fe.log".into(),
            line: 7,
            text: text.into(),
            hint: String::new(),
        }
    }

    #[test]
    fn only_a_port_of_ours_named_by_the_failure_is_taken() {
        let ports = vec![
            ("http_port".to_string(), 23456),
            ("query_port".to_string(), 23457),
        ];
        let http = hit(
            "fe.port.http-in-use",
            "2026-12-05 01:00:00,123 ERROR (main|1) [HttpServer.run():257] Fail to start FE query http server[port: 23456] ",
        );
        let summary = "fe.port.http-in-use: http_port is taken";
        let got = taken_port(summary, std::slice::from_ref(&http), &ports).unwrap();
        assert_eq!((got.key.as_str(), got.port), ("http_port", 23456));
        assert_eq!(got.how, "fe.port.http-in-use at fe.log:7");
        // Production's port: not ours, so the release (or the conf) is to blame.
        let prod = hit(
            "fe.port.http-in-use",
            "Fail to start FE query http server[port: 8030] ",
        );
        assert_eq!(taken_port(summary, &[prod], &ports), None);
        // A line without a number means the signature's key.
        let query = hit("fe.port.query-in-use", "mysql server start failed");
        let got = taken_port(
            "fe.port.query-in-use: query_port is taken",
            &[query],
            &ports,
        );
        assert_eq!(got.map(|t| t.port), Some(23457));
        // A failure for another reason, even with a port signature seen before, is not a collision.
        assert_eq!(
            taken_port("fe.meta.image-version: ...", &[http], &ports),
            None
        );
    }
}
