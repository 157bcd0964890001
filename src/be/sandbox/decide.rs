//! Deciding whether a started BE serves: the BE's half of the shared readiness wait, used by the
//! sandbox and by the in-place canary's restart.
//!
//! Serving is decided from what the BE shows at once: `/api/health` OK and the heartbeat port
//! accepting connections (the heartbeat server starts last in every version). No log line is
//! required: the BE buffers INFO lines for up to 30 s, `sys_log_level = WARNING` drops them, and
//! 3.0 builds print no `BE started successfully`. Logs stay the evidence for failures, which the
//! watcher names as soon as a fatal line appears. The version is `binary_version` (from
//! `lib/starrocks_be --version`), else the be.INFO banner if it was flushed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use regex::Regex;

use crate::probe::{endpoints, http};
use crate::report::{Probe, SignatureHit};
use crate::runner::{await_ready, Ending, Exit, Probed, Readiness, Runner, Wait};
use crate::version::Version;
use crate::watch::catalog::Severity;
use crate::watch::Watcher;

/// The time between two probes of a starting BE.
const PROBE_EVERY: Duration = Duration::from_millis(100);

fn banner_version() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"\] +version (\d+\.\d+\.\d+)[^\s]*").expect("banner regex"))
}

/// The logs a BE home's decision follows.
pub(crate) fn log_files(home: &Path) -> Vec<PathBuf> {
    let log = home.join("log");
    vec![
        log.join("be.INFO"),
        log.join("be.WARNING"),
        log.join("be.out"),
    ]
}

/// The BE's half of the wait: `/api/health` and the heartbeat port, the version banner read on
/// the way, SIGILL read as a CPU the build cannot run on.
struct BeReadiness<'a> {
    http: SocketAddr,
    hb_port: u16,
    banner: Option<String>,
    exited: &'a mut dyn FnMut(&mut Runner) -> Option<Exit>,
}

impl Readiness for BeReadiness<'_> {
    type Ready = ();

    fn waiting_for(&self, watch: &Watcher) -> String {
        format!(
            "waiting for the BE to answer /api/health on port {} and accept heartbeats on {}{}",
            self.http.port(),
            self.hb_port,
            if watch.has_seen("be.progress.tablet-load") {
                "; it is loading tablet meta"
            } else {
                ""
            }
        )
    }

    fn line(&mut self, text: &str) {
        if self.banner.is_some() {
            return;
        }
        if let Some(c) = banner_version().captures(text) {
            let full = text[c.get(0).map(|m| m.start()).unwrap_or(0)..]
                .trim_start_matches(']')
                .trim()
                .trim_start_matches("version ")
                .to_string();
            self.banner = c[1].parse::<Version>().ok().map(|_| full);
        }
    }

    fn exited(&mut self, r: &mut Runner) -> Option<Exit> {
        (self.exited)(r)
    }

    fn died(&mut self, r: &mut Runner, exit: Exit, watch: &Watcher) -> Ending {
        if exit.signal == Some(nix::libc::SIGILL) {
            r.report.signatures.push(SignatureHit {
                id: "be.cpu.avx2".into(),
                severity: Severity::Fatal,
                file: "(exit status)".into(),
                line: 0,
                text: "terminated by SIGILL (illegal instruction)".into(),
                hint: "run on a host with AVX2 (grep avx2 /proc/cpuinfo)".into(),
            });
            return Ending::fail("be.cpu.avx2: the BE died of SIGILL: the CPU lacks an instruction set the build needs (AVX2)");
        }
        Ending::fail(format!(
            "the BE exited ({}) before it was healthy; last output: {}",
            exit.what,
            watch.last()
        ))
    }

    fn interval(&mut self) -> Duration {
        PROBE_EVERY
    }

    fn probe(&mut self, r: &mut Runner, timeout: Duration) -> (String, Probed<()>) {
        let addr = self.http;
        let resp = match r
            .probes
            .run(move || http::get(addr, "/api/health", timeout))
        {
            Ok(resp) => resp,
            Err(e) => return (format!("/api/health: {e}"), Probed::NotYet),
        };
        let seen = format!("/api/health: HTTP {}: {}", resp.status, resp.body);
        let ok = endpoints::health(&resp).is_ok();
        r.report.probes.health = Some(Probe {
            ok,
            detail: resp.body,
        });
        let hb = self.hb_port;
        if ok && r.probes.run(move || super::super::node::accepts(hb)) {
            return (seen, Probed::Ready(()));
        }
        (seen, Probed::NotYet)
    }

    fn timed_out(&self, r: &Runner, watch: &Watcher) -> String {
        // The HTTP server starts only after the storage engine loaded every tablet's meta, and
        // the load's INFO lines may still sit in glog's buffer: a live BE without HTTP is loading.
        if watch.has_seen("be.progress.tablet-load") {
            " The BE was still loading tablet meta: allow a longer --timeout on nodes with many tablets.".into()
        } else if r.report.probes.health.is_none() {
            " The BE process was alive but its HTTP server never came up, as while it is still loading tablet meta: allow a longer --timeout on nodes with many tablets.".into()
        } else {
            String::new()
        }
    }
}

/// Watches a starting BE until it serves, fails, exits, or `timeout` runs out; `watch` follows
/// the logs in `log_dir`, and `exited` says whether (and how) the BE process is gone. Returns the
/// decision's summary.
pub(crate) fn decide(
    timeout: Duration,
    r: &mut Runner,
    (watch, log_dir): (&mut Watcher, &Path),
    (http_port, hb_port): (u16, u16),
    binary_version: Option<String>,
    exited: &mut dyn FnMut(&mut Runner) -> Option<Exit>,
) -> Result<String, Ending> {
    let started = Instant::now();
    let mut kind = BeReadiness {
        http: ([127, 0, 0, 1], http_port).into(),
        hb_port,
        banner: None,
        exited,
    };
    let wait = Wait {
        what: "BE",
        watch,
        wake: vec![log_dir.to_path_buf()],
        deadline: started + timeout,
        timeout,
    };
    await_ready(r, wait, &mut kind)?;
    let v = binary_version
        .or(kind.banner)
        .unwrap_or_else(|| "unknown version".into());
    r.report.target.detected_version = Some(v.clone());
    Ok(format!(
        "StarRocks BE {v} started and is healthy on this host after {:.1} s",
        started.elapsed().as_secs_f64()
    ))
}
