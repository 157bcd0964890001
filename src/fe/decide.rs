//! Deciding whether the new FE accepted the metadata.
//!
//! The wait ends at the first of: a fatal signature in fe.log, fe.warn.log or fe.out; the process
//! exiting; readiness; the timeout; a signal to the tool. Readiness is what the reference notes call
//! authoritative: `/api/bootstrap` answering OK with `feVersion` (HTTP binds only after the FE is
//! ready) together with the version's last start line. Then the checks that prove it is *our*
//! metadata on *our* sandbox: the cluster id it runs with, the journal it replayed, FE-only SQL
//! that shows the catalog loaded (in `sql`), and `/api/health`. None of it needs a BE: a sandbox
//! has none.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{Ending, Plan, Run};
use crate::probe::http;
use crate::report::{exit, Probe, Verdict};
use crate::version::Version;
use crate::watch::catalog::{Role, Severity};
use crate::watch::tail::Tailer;
use crate::watch::wake::Wake;
use crate::watch::Watcher;

/// The longest the loop sleeps with no log line arriving: the bound on noticing that the FE
/// exited, or that HTTP accepts after the start line was already read.
const IDLE: Duration = Duration::from_millis(50);
/// Probes of /api/bootstrap after a start line start this close together and double to [`IDLE`].
const FIRST_RETRY: Duration = Duration::from_millis(2);
/// Before any start line HTTP cannot be up; an early probe only catches a release whose start
/// lines we do not know.
const BLIND_PROBE: Duration = Duration::from_millis(500);

pub(super) fn decide(
    run: &mut Run,
    plan: &Plan,
    fe_home: &Path,
    meta_copy: &Path,
) -> Result<String, Ending> {
    let started = Instant::now();
    let deadline = started + run.cfg.timeout;
    let log = fe_home.join("log");
    let mut watch = Watcher::new(
        Tailer::new(&[
            log.join("fe.log"),
            log.join("fe.out"),
            log.join("fe.warn.log"),
        ]),
        Role::Fe,
    );
    let http_addr: SocketAddr = ([127, 0, 0, 1], plan.port("http_port")).into();
    let mut token = plan.source.token.clone();
    let mut boot_path = bootstrap_path(run.cfg.cluster_id, &token);
    let (mut qe_started, mut fe_started) = (false, false);
    let mut last_probe: Option<Instant> = None;
    let mut retry = FIRST_RETRY;
    let mut eager_since_line = false;
    let mut wake = Wake::new(&[&log]);
    let spinner = crate::diag::Progress::spinner("decide", run.cfg.quiet);
    let mut last_seen = String::new();
    let limit = crate::diag::short(run.cfg.timeout);
    let boot: serde_json::Value = loop {
        run.interrupted()?;
        spinner.set_message(&if qe_started || fe_started {
            format!(
                "decide: a start line is in fe.log; waiting for /api/bootstrap on port {} to answer OK (timeout {limit})",
                http_addr.port()
            )
        } else {
            format!("decide: waiting for the FE to load the metadata and log its start line (timeout {limit})")
        });
        // Read the logs after checking for exit, so the lines a dying FE wrote last are classified.
        let exited = run.group.as_mut().and_then(|g| g.try_exit());
        // Once it has exited nothing more will be written: decide the records still open.
        let ids = if exited.is_some() {
            watch.flush(&mut run.report.signatures, &mut |_| {})?
        } else {
            watch.poll(&mut run.report.signatures, &mut |_| {})?
        };
        for id in ids {
            match id {
                "fe.ready.qe-service" => qe_started = true,
                "fe.ready.started" => fe_started = true,
                _ => {}
            }
        }
        if let Some(st) = exited {
            return Err(Ending::fail(format!(
                "the FE exited ({st}) before it was ready; last output: {}",
                watch.last()
            )));
        }
        // HTTP binds only once the FE is ready: probe at once when a start line appears, then
        // back off, and rarely before.
        let eager = qe_started || fe_started;
        if eager && !eager_since_line {
            eager_since_line = true;
            last_probe = None;
        }
        let interval = if eager { retry } else { BLIND_PROBE };
        if last_probe.is_none_or(|t| t.elapsed() >= interval) {
            if eager && last_probe.is_some() {
                retry = (retry * 2).min(IDLE);
            }
            last_probe = Some(Instant::now());
            let path = boot_path.clone();
            let probe = run
                .probes
                .run(move || http::get(http_addr, &path, Duration::from_secs(2)));
            // Logged when the answer changes: a retry every few ms must not flood the run log.
            let seen = match &probe {
                Ok(resp) => format!("HTTP {}: {}", resp.status, resp.body),
                Err(e) => e.to_string(),
            };
            if seen != last_seen {
                tracing::debug!("probe /api/bootstrap: {seen}");
                last_seen = seen;
            }
            if let Ok(resp) = probe {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&resp.body) {
                    let ok = v["status"] == "OK" && v["feVersion"].is_string();
                    let version: Option<Version> =
                        v["feVersion"].as_str().and_then(|s| s.parse().ok());
                    let line_seen = match version {
                        Some(ver) if ver.logs_fe_started_successfully() => fe_started,
                        _ => qe_started || fe_started,
                    };
                    if ok && line_seen {
                        break v;
                    }
                    if v["status"] == "OK" && !v["feVersion"].is_string() {
                        // The details come only with the cluster's token. A source without one
                        // gets a fresh token from the FE, written to the copy's VERSION.
                        match copy_token(meta_copy).filter(|t| *t != token) {
                            Some(fresh) => {
                                token = fresh;
                                boot_path = bootstrap_path(run.cfg.cluster_id, &token);
                                last_probe = None;
                                continue;
                            }
                            None => {
                                run.report.probes.bootstrap = Some(Probe {
                                    ok: false,
                                    detail: resp.body.clone(),
                                });
                                return Err(Ending::fail(cannot_prove_version(&token)));
                            }
                        }
                    }
                    if v["status"] == "FAILED"
                        && v["msg"].as_str().is_some_and(|m| m.starts_with("invalid"))
                    {
                        return Err(Ending::fail(format!(
                            "the FE on the sandbox port rejected the rehearsal's cluster id and token ({}): it is not running the patched copy",
                            v["msg"].as_str().unwrap_or("")
                        )));
                    }
                }
            }
        }
        if Instant::now() >= deadline {
            let waiting = run
                .report
                .signatures
                .iter()
                .rev()
                .find(|h| h.severity == Severity::Warning)
                .map(|h| format!(" Last warning: {} ({}:{}).", h.id, h.file, h.line))
                .unwrap_or_default();
            return Err(Ending::new(
                Verdict::Timeout,
                exit::TIMEOUT,
                format!(
                    "no verdict within {}; the FE was stopped.{waiting} Last log line: {}",
                    humantime::format_duration(run.cfg.timeout),
                    watch.last()
                ),
            ));
        }
        // Sleep until a log line arrives or the next probe is due; a line can be the start line
        // that makes HTTP worth probing, so it must not wait out a timer.
        let next_probe = last_probe
            .map(|t| interval.saturating_sub(t.elapsed()))
            .unwrap_or_default();
        wake.wait(next_probe.min(IDLE));
    };
    spinner.set_message(
        "decide: the FE is ready; checking the cluster id, the journal, SQL and /api/health",
    );
    tracing::debug!(response = %boot, "the FE is ready");
    let ready_after = started.elapsed();
    let fe_version = boot["feVersion"].as_str().unwrap_or("").to_string();
    let replayed = boot["replayedJournalId"].as_u64().unwrap_or(0);
    run.report.target.detected_version = Some(fe_version.clone());
    run.report.probes.bootstrap = Some(Probe {
        ok: true,
        detail: boot.to_string(),
    });

    if let Some(want) = run.cfg.to_version {
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
    if cid_now.trim() != run.cfg.cluster_id.to_string() {
        return Err(Ending::fail(format!(
            "the FE replaced the cluster id ({} -> {cid_now}): it booted a new cluster instead of your metadata",
            run.cfg.cluster_id
        )));
    }
    if let Some(img) = plan.source.highest_image_id {
        if replayed < img {
            return Err(Ending::fail(format!(
                "the FE replayed only up to journal {replayed}, below the source's image {img}: it did not load your metadata"
            )));
        }
    }

    let catalog_line = if run.cfg.sql_check {
        super::sql::check(run, plan, &fe_version)?
    } else {
        String::new()
    };

    match run
        .probes
        .run(move || http::get(http_addr, "/api/health", Duration::from_secs(5)))
    {
        Ok(r) if r.status == 200 && r.body.contains("\"status\":\"OK\"") => {
            run.report.probes.health = Some(Probe {
                ok: true,
                detail: r.body,
            });
        }
        Ok(r) => {
            run.report.probes.health = Some(Probe {
                ok: false,
                detail: format!("HTTP {}: {}", r.status, r.body),
            });
            return Err(Ending::fail(format!(
                "/api/health answered HTTP {}",
                r.status
            )));
        }
        Err(e) => {
            run.report.probes.health = Some(Probe {
                ok: false,
                detail: e.to_string(),
            });
            return Err(Ending::fail(format!("/api/health did not answer: {e}")));
        }
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
