//! Deciding whether the new FE accepted the metadata.
//!
//! The wait (the shared [`await_ready`](crate::runner::await_ready)) ends at the first of: a fatal
//! signature in fe.log, fe.warn.log or fe.out; the process exiting; readiness; the timeout; a
//! signal to the tool. Readiness is what the reference notes call authoritative: `/api/bootstrap`
//! answering OK with `feVersion` (HTTP binds only after the FE is ready) together with the
//! version's last start line; this file supplies that probe and its pace. Then the checks that
//! prove it is *our* metadata on *our* sandbox: the cluster id it runs with, the journal it
//! replayed, FE-only SQL that shows the catalog loaded (in `sql`), and `/api/health`, all within
//! what is left of `--timeout`. None of it needs a BE: a sandbox has none.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{Ending, FeConfig, Plan};
use crate::probe::endpoints::{self, Bootstrap};
use crate::probe::http;
use crate::report::Probe;
use crate::runner::{await_ready, left_for, timeout_ending, Exit, Probed, Readiness, Runner, Wait};
use crate::version::Version;
use crate::watch::catalog::Role;
use crate::watch::tail::Tailer;
use crate::watch::Watcher;

/// Probes of /api/bootstrap after a start line start this close together and double to [`EAGER`].
const FIRST_RETRY: Duration = Duration::from_millis(2);
/// The widest gap between probes once a start line was read.
const EAGER: Duration = Duration::from_millis(50);
/// Before any start line HTTP cannot be up; an early probe only catches a release whose start
/// lines we do not know.
const BLIND_PROBE: Duration = Duration::from_millis(500);
/// The most the SQL check and `/api/health` may take after readiness, within `--timeout`.
const SQL_TIMEOUT: Duration = Duration::from_secs(10);
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

/// The FE's half of the readiness wait: `/api/bootstrap` with the cluster's id and token, probed
/// at once when a start line appears and then backing off, rarely before.
struct FeReadiness<'a> {
    http: SocketAddr,
    cluster_id: i64,
    token: String,
    meta_copy: &'a Path,
    qe_started: bool,
    fe_started: bool,
    eager: bool,
    retry: Duration,
}

/// What `/api/bootstrap` said when the FE was ready.
struct Booted {
    version: String,
    replayed: u64,
    body: serde_json::Value,
}

impl Readiness for FeReadiness<'_> {
    type Ready = Booted;

    fn waiting_for(&self, _watch: &Watcher) -> String {
        if self.qe_started || self.fe_started {
            format!(
                "a start line is in fe.log; waiting for /api/bootstrap on port {} to answer OK",
                self.http.port()
            )
        } else {
            "waiting for the FE to load the metadata and log its start line".into()
        }
    }

    fn matched(&mut self, ids: &[&'static str]) -> bool {
        for id in ids {
            match *id {
                "fe.ready.qe-service" => self.qe_started = true,
                "fe.ready.started" => self.fe_started = true,
                _ => {}
            }
        }
        // HTTP binds only once the FE is ready: probe at once when the first start line appears.
        let first = (self.qe_started || self.fe_started) && !self.eager;
        self.eager |= first;
        first
    }

    fn exited(&mut self, r: &mut Runner) -> Option<Exit> {
        r.group.as_mut().and_then(|g| g.try_exit()).map(Exit::of)
    }

    fn died(&mut self, _r: &mut Runner, exit: Exit, watch: &Watcher) -> Ending {
        Ending::fail(format!(
            "the FE exited ({}) before it was ready; last output: {}",
            exit.what,
            watch.last()
        ))
    }

    fn interval(&mut self) -> Duration {
        if !self.eager {
            return BLIND_PROBE;
        }
        let now = self.retry;
        self.retry = (self.retry * 2).min(EAGER);
        now
    }

    fn probe(&mut self, r: &mut Runner, timeout: Duration) -> (String, Probed<Booted>) {
        let (addr, path) = (self.http, bootstrap_path(self.cluster_id, &self.token));
        let resp = r.probes.run(move || http::get(addr, &path, timeout));
        let resp = match resp {
            Ok(resp) => resp,
            Err(e) => return (format!("/api/bootstrap: {e}"), Probed::NotYet),
        };
        let seen = format!("/api/bootstrap: HTTP {}: {}", resp.status, resp.body);
        let probed = match endpoints::bootstrap(&resp) {
            Bootstrap::Ready {
                version,
                replayed,
                body,
            } => {
                // 3.1+ logs `FE started successfully` last; before, `QE service start.` is the end.
                let line_seen = match version.parse::<Version>() {
                    Ok(v) if v.logs_fe_started_successfully() => self.fe_started,
                    _ => self.qe_started || self.fe_started,
                };
                if line_seen {
                    Probed::Ready(Booted {
                        version,
                        replayed,
                        body,
                    })
                } else {
                    Probed::NotYet
                }
            }
            // The details come only with the cluster's token. A source without one gets a fresh
            // token from the FE, written to the copy's VERSION.
            Bootstrap::Withheld => match copy_token(self.meta_copy).filter(|t| *t != self.token) {
                Some(fresh) => {
                    self.token = fresh;
                    Probed::Again
                }
                None => {
                    r.report.probes.bootstrap = Some(Probe {
                        ok: false,
                        detail: resp.body.clone(),
                    });
                    Probed::End(Ending::fail(cannot_prove_version(&self.token)))
                }
            },
            Bootstrap::Rejected(msg) => Probed::End(Ending::fail(format!(
                "the FE on the sandbox port rejected the rehearsal's cluster id and token ({msg}): it is not running the patched copy"
            ))),
            Bootstrap::NotReady(_) => Probed::NotYet,
        };
        (seen, probed)
    }
}

/// The log files the decision follows, and their folder.
pub(super) fn logs(fe_home: &Path) -> (Vec<std::path::PathBuf>, std::path::PathBuf) {
    let log = fe_home.join("log");
    let files = vec![
        log.join("fe.log"),
        log.join("fe.out"),
        log.join("fe.warn.log"),
    ];
    (files, log)
}

/// Waits for the FE in `fe_home` (its meta copy in `meta_copy`) and checks what it runs; returns
/// the decision's summary.
pub(super) fn decide(
    cfg: &FeConfig,
    r: &mut Runner,
    plan: &Plan,
    fe_home: &Path,
    meta_copy: &Path,
) -> Result<String, Ending> {
    let started = Instant::now();
    let deadline = started + cfg.timeout;
    let (files, log) = logs(fe_home);
    r.log_tail_from = files[..2].to_vec();
    let mut watch = Watcher::new(Tailer::new(&files), Role::Fe);
    let http_addr: SocketAddr = ([127, 0, 0, 1], plan.port("http_port")).into();
    let mut kind = FeReadiness {
        http: http_addr,
        cluster_id: cfg.cluster_id,
        token: plan.source.token.clone(),
        meta_copy,
        qe_started: false,
        fe_started: false,
        eager: false,
        retry: FIRST_RETRY,
    };
    let wait = Wait {
        what: "FE",
        watch: &mut watch,
        wake: vec![log],
        deadline,
        timeout: cfg.timeout,
    };
    let boot = await_ready(r, wait, &mut kind)?;
    let spinner = crate::diag::Progress::spinner("decide", r.quiet);
    spinner.set_message(
        "decide: the FE is ready; checking the cluster id, the journal, SQL and /api/health",
    );
    tracing::debug!(response = %boot.body, "the FE is ready");
    let ready_after = started.elapsed();
    let (fe_version, replayed) = (boot.version, boot.replayed);
    r.report.target.detected_version = Some(fe_version.clone());
    r.report.probes.bootstrap = Some(Probe {
        ok: true,
        detail: boot.body.to_string(),
    });

    if let Some(want) = cfg.to_version {
        if !want.matches_reported(&fe_version) {
            return Err(Ending::fail(format!(
                "the package runs StarRocks {fe_version}, not the --to-version {want} you asked to rehearse"
            )));
        }
    }
    // The FE must run with the cluster id we gave it; a new one means it booted an empty cluster.
    let version_now = std::fs::read_to_string(meta_copy.join("image/VERSION")).unwrap_or_default();
    let cid_now = crate::props::parse_map(&version_now)
        .get("clusterId")
        .cloned()
        .unwrap_or_default();
    if cid_now.trim() != cfg.cluster_id.to_string() {
        return Err(Ending::fail(format!(
            "the FE replaced the cluster id ({} -> {cid_now}): it booted a new cluster instead of your metadata",
            cfg.cluster_id
        )));
    }
    if let Some(img) = plan.source.highest_image_id {
        if replayed < img {
            return Err(Ending::fail(format!(
                "the FE replayed only up to journal {replayed}, below the source's image {img}: it did not load your metadata"
            )));
        }
    }

    // `--timeout` bounds the checks after readiness too: each gets what is left of it.
    let past = |r: &Runner, what: &str| {
        timeout_ending(
            r,
            "FE",
            cfg.timeout,
            &format!(" It was ready, but {what} had not finished."),
            watch.last(),
        )
    };
    let catalog_line = if cfg.sql_check {
        let t = left_for(deadline, SQL_TIMEOUT).ok_or_else(|| past(r, "the SQL check"))?;
        match super::sql::check(cfg, r, plan, &fe_version, t) {
            Err(_) if Instant::now() >= deadline => return Err(past(r, "the SQL check")),
            other => other?,
        }
    } else {
        String::new()
    };

    let t = left_for(deadline, HEALTH_TIMEOUT).ok_or_else(|| past(r, "/api/health"))?;
    let health = r.probes.run(move || http::get(http_addr, "/api/health", t));
    let (ok, detail, ending) = match health {
        Ok(resp) => match endpoints::health(&resp) {
            Ok(()) => (true, resp.body, None),
            Err(e) => (
                false,
                format!("HTTP {}: {}", resp.status, resp.body),
                Some(format!("/api/health answered {e}")),
            ),
        },
        Err(_) if Instant::now() >= deadline => return Err(past(r, "/api/health")),
        Err(e) => (
            false,
            e.to_string(),
            Some(format!("/api/health did not answer: {e}")),
        ),
    };
    r.report.probes.health = Some(Probe { ok, detail });
    if let Some(why) = ending {
        return Err(Ending::fail(why));
    }
    Ok(format!(
        "StarRocks {fe_version} accepted the metadata: ready in {:.1} s, journal replayed to {replayed}{}{catalog_line}",
        ready_after.as_secs_f64(),
        plan.source
            .highest_image_id
            .map(|i| format!(" (source image {i})"))
            .unwrap_or_default()
    ))
}

fn bootstrap_path(cluster_id: i64, token: &str) -> String {
    format!("/api/bootstrap?cluster_id={cluster_id}&token={token}")
}

/// The token in the copy's `image/VERSION`, once the FE has written one.
fn copy_token(meta_copy: &Path) -> Option<String> {
    let text = std::fs::read_to_string(meta_copy.join("image/VERSION")).ok()?;
    crate::props::parse_map(&text)
        .get("token")
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// Why a plain OK from `/api/bootstrap` cannot be taken as proof, and what to look at.
fn cannot_prove_version(token: &str) -> String {
    let why = if token.is_empty() {
        "the source's image/VERSION has no token and the FE wrote none to the copy".to_string()
    } else {
        format!("it withheld them for the token {token} read from image/VERSION")
    };
    format!(
        "cannot prove the version: the FE is up, but /api/bootstrap answered a plain OK without feVersion or replayedJournalId (it gives them only for the cluster's token, and {why}); the rehearsal cannot tell which release runs or how far it replayed your journal. Check the `token=` line of the source's image/VERSION"
    )
}

/// What the sandbox tried to reach outside itself, from the lines real releases log about it:
/// backend heartbeats and election attempts toward the recorded frontends.
pub(super) fn reach_attempts(fe_log: &Path, fenced: bool) -> Vec<crate::report::ReachAttempt> {
    crate::watch::reach::from_log(fe_log, fenced)
}
