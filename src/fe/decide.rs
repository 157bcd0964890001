//! Deciding whether the new FE accepted the metadata.
//!
//! The wait ends at the first of: a fatal signature in fe.log, fe.warn.log or fe.out; the process
//! exiting; readiness; the timeout; a signal to the tool. Readiness is what the reference notes call
//! authoritative: `/api/bootstrap` answering OK with `feVersion` (HTTP binds only after the FE is
//! ready) together with the version's last start line. Then the checks that prove it is *our*
//! metadata on *our* sandbox: the cluster id it runs with, the journal it replayed, a SQL query,
//! and `/api/health`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{Ending, Plan, Run};
use crate::probe::http;
use crate::report::{exit, Probe, Verdict};
use crate::version::Version;
use crate::watch::catalog::{Role, Severity};
use crate::watch::tail::Tailer;
use crate::watch::Watcher;

const POLL: Duration = Duration::from_millis(20);

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
    let boot_path = format!(
        "/api/bootstrap?cluster_id={}&token={}",
        run.cfg.cluster_id, plan.source.token
    );
    let (mut qe_started, mut fe_started) = (false, false);
    let mut last_probe: Option<Instant> = None;
    let boot: serde_json::Value = loop {
        run.interrupted()?;
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
        // HTTP binds only once the FE is ready; probe eagerly after a start line, rarely before.
        let interval = if qe_started || fe_started {
            POLL
        } else {
            Duration::from_millis(500)
        };
        if last_probe.is_none_or(|t| t.elapsed() >= interval) {
            last_probe = Some(Instant::now());
            let path = boot_path.clone();
            let probe = run
                .probes
                .run(move || http::get(http_addr, &path, Duration::from_secs(2)));
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
        std::thread::sleep(POLL);
    };
    let ready_after = started.elapsed();
    let fe_version = boot["feVersion"].as_str().unwrap_or("").to_string();
    let replayed = boot["replayedJournalId"].as_u64().unwrap_or(0);
    run.report.target.detected_version = Some(fe_version.clone());
    run.report.probes.bootstrap = Some(Probe {
        ok: true,
        detail: boot.to_string(),
    });

    if let Some(want) = run.cfg.to_version {
        if fe_version.parse::<Version>().ok() != Some(want) {
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

    if let Some(sql) = &run.cfg.query {
        let (port, user, password, query) = (
            plan.port("query_port"),
            run.cfg.user.clone(),
            plan.password.clone(),
            sql.clone(),
        );
        let res = run.probes.run(move || {
            crate::probe::mysql::query(
                port,
                &user,
                password.as_deref(),
                &query,
                Duration::from_secs(10),
            )
        });
        match res {
            Ok(rows) => {
                let is_frontends = sql
                    .trim()
                    .trim_end_matches(';')
                    .eq_ignore_ascii_case("show frontends");
                let leader = rows.iter().any(|r| {
                    r.get("Role").map(String::as_str) == Some("LEADER")
                        && r.get("Alive").map(String::as_str) == Some("true")
                });
                if is_frontends && !leader {
                    run.report.probes.query = Some(Probe {
                        ok: false,
                        detail: format!("{} rows, no Alive LEADER", rows.len()),
                    });
                    return Err(Ending::fail("SHOW FRONTENDS lists no Alive LEADER: the sandbox FE is not the leader of the copied metadata"));
                }
                run.report.probes.query = Some(Probe {
                    ok: true,
                    detail: format!(
                        "{sql}: {} row(s){}",
                        rows.len(),
                        if is_frontends { ", LEADER Alive" } else { "" }
                    ),
                });
            }
            Err(e) => {
                run.report.probes.query = Some(Probe {
                    ok: false,
                    detail: e.clone(),
                });
                if e.contains("Access denied") {
                    return Err(Ending::bad_input(format!(
                        "the SQL check was refused ({e}); the copied meta carries production's users: pass the password with --password-env VAR, or use --no-query"
                    )));
                }
                return Err(Ending::fail(format!("the SQL check `{sql}` failed: {e}")));
            }
        }
    }

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
        "StarRocks {fe_version} accepted the metadata: leader ready in {:.1} s, journal replayed to {replayed}{}",
        ready_after.as_secs_f64(),
        plan.source
            .highest_image_id
            .map(|i| format!(" (source image {i})"))
            .unwrap_or_default()
    ))
}

/// What the sandbox tried to reach outside itself, from the lines real releases log about it:
/// backend heartbeats and election attempts toward the recorded frontends.
pub(super) fn reach_attempts(fe_log: &Path, fenced: bool) -> Vec<crate::report::ReachAttempt> {
    crate::watch::reach::from_log(fe_log, fenced)
}
