//! The sandbox canary: the new BE build started beside the node, touching nothing of it.

use std::collections::BTreeSet;
use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use regex::Regex;

use super::conf::{self, NodeConf};
use super::BeConfig;
use crate::probe::http;
use crate::report::{exit, Probe, Report, SignatureHit, StepStatus, Verdict};
use crate::runner::{Ending, Runner};
use crate::version::Version;
use crate::watch::catalog::{Role, Severity};
use crate::watch::tail::Tailer;
use crate::watch::Watcher;
use crate::workspace::{self, Layout, Place};

/// Keys naming folders the BE writes to; each present one is moved into the workspace.
const WRITE_DIRS: &[&str] = &[
    "spill_local_storage_dir",
    "block_cache_disk_path",
    "datacache_disk_path",
    "small_file_dir",
    "local_library_dir",
];

pub fn run(cfg: &BeConfig) -> Report {
    let started = Instant::now();
    let mut r = Runner::sandbox(super::new_report("be", cfg), cfg.quiet, cfg.keep);
    let outcome = pipeline(cfg, &mut r);
    if r.launched() {
        let home = r.run_dir.as_ref().map(|d| d.join("be")).unwrap_or_default();
        // A graceful stop (3.0+: `-g`, SIGTERM) lets glog flush the INFO lines it still buffers,
        // which are the sandbox's evidence; the default SIGKILL would lose them.
        let graceful = super::node::binary_version(&home)
            .and_then(|v| v.parse::<Version>().ok())
            .is_some_and(|v| v.stop_be_has_graceful());
        let args: &[&str] = if graceful { &["-g"] } else { &[] };
        r.stop_sandbox(&home, "stop_be.sh", args, cfg.stop_grace);
    }
    r.finish_sandbox(outcome, cfg.verbose, started)
}

struct Plan {
    node: NodeConf,
    new_be: std::path::PathBuf,
    ports: Vec<(String, u16)>,
}

fn preflight(cfg: &BeConfig, r: &mut Runner) -> Result<Plan, Ending> {
    let new_be = super::checked_new_be(cfg)?;
    r.set_isolation(cfg.isolate, "BE")?;
    let node = conf::read(&cfg.be_home)?;
    let root = &cfg.workspace_root;
    crate::runner::check_workspace_root(
        root,
        &[("BE home", &cfg.be_home), ("new package", &new_be)],
    )?;
    if let Some(sc) = &cfg.storage_copy {
        if !sc.is_dir() {
            return Err(Ending::bad_input(format!(
                "--storage-copy {} is not a folder; pass one storage root of the node",
                sc.display()
            )));
        }
        let (bytes, _) = crate::meta::tree_size(sc);
        if workspace::free_bytes(root).is_some_and(|f| f < bytes + (1 << 30)) {
            return Err(Ending::env(format!(
                "not enough free space in {} for a {:.1} GiB copy of {}; free space or choose another --workspace-root",
                root.display(),
                bytes as f64 / (1u64 << 30) as f64,
                sc.display()
            )));
        }
    }
    let mut avoid: BTreeSet<u16> = node.ports.values().copied().collect();
    avoid.extend(conf::PORT_KEYS.iter().map(|(_, d)| *d));
    let keys = [
        "be_port",
        "be_http_port",
        "heartbeat_service_port",
        "brpc_port",
        "starlet_port",
    ];
    let ports = r.pick_ports(&keys, &avoid, node.ports.clone())?;
    Ok(Plan {
        node,
        new_be,
        ports,
    })
}

/// The sandbox be.conf for a BE home at `home`.
fn rewrite(
    plan: &Plan,
    home: &str,
    storage: &str,
) -> (crate::conf::ConfFile, Vec<crate::conf::Change>) {
    let mut c = plan.node.conf.clone();
    let mut changes = Vec::new();
    for (k, p) in &plan.ports {
        changes.push(c.set(k, &p.to_string()));
    }
    // 2.x reads only webserver_port, 3.x reads both: set both so neither lands on production's.
    let http = plan
        .ports
        .iter()
        .find(|(k, _)| k == "be_http_port")
        .map(|(_, p)| *p)
        .unwrap_or(0);
    changes.push(c.set("webserver_port", &http.to_string()));
    changes.push(c.set("arrow_flight_port", "-1"));
    changes.push(c.set("storage_root_path", storage));
    changes.push(c.set("sys_log_dir", &format!("{home}/log")));
    // The node may log WARNING and up only; the sandbox's be.INFO is evidence for the report.
    changes.push(c.set("sys_log_level", "INFO"));
    for key in ["LOG_DIR", "PID_DIR", "UDF_RUNTIME_DIR"] {
        if c.get(key).is_some() {
            let dest = match key {
                "LOG_DIR" => format!("{home}/log"),
                "PID_DIR" => format!("{home}/bin"),
                _ => format!("{home}/lib/udf-runtime"),
            };
            changes.push(c.set(key, &dest));
        }
    }
    for key in WRITE_DIRS {
        if c.get(key).is_some() {
            changes.push(c.set(key, &format!("{home}/{key}")));
        }
    }
    changes.retain(|ch| ch.before.as_deref() != Some(ch.after.as_str()));
    (c, changes)
}

/// The sandbox BE home: `bin/` and `conf/` copied; `lib/` a real folder whose entries link to the
/// package, except `starrocks_be` (the start script chmods it) and the folders the BE writes into
/// (`udf-runtime`, which the start script empties, and `jdbc_drivers`), which start empty.
const LAYOUT: Layout = Layout {
    made: &["log", "storage", "lib/udf-runtime"],
    place: |name| match name {
        "bin" | "conf" => Place::Copy,
        "lib" => Place::Within(|name| match name {
            // Folders the BE writes into at run time stay in the workspace.
            "udf-runtime" | "jdbc_drivers" => Place::Empty,
            "starrocks_be" => Place::CopyFile,
            _ => Place::Link,
        }),
        "log" | "storage" => Place::Skip,
        _ => Place::Link,
    },
};

fn plan_text(plan: &Plan, cfg: &BeConfig) -> String {
    let ws = crate::runner::planned_run_dir(&cfg.workspace_root);
    let home = format!("{ws}/be");
    let (_, changes) = rewrite(plan, &home, &format!("{home}/storage"));
    let mut s = String::from(crate::runner::PLAN_HEADING);
    s.push_str(&format!(
        "  1. create {ws}/ with be/bin and be/conf (copied), be/lib (linked to {}/lib, starrocks_be copied), be/log, be/storage\n",
        plan.new_be.display()
    ));
    match &cfg.storage_copy {
        Some(p) => s.push_str(&format!(
            "  2. copy the storage root {} into {home}/storage\n",
            p.display()
        )),
        None => s.push_str(&format!(
            "  2. start with an empty storage root {home}/storage\n"
        )),
    }
    s.push_str(&format!(
        "  3. rewrite be.conf (base: {}):\n",
        plan.node.path
    ));
    for c in &changes {
        s.push_str(&format!("       {}\n", c.describe()));
    }
    s.push_str(&format!(
        "  4. run `bash {home}/bin/start_be.sh` in its own process group\n"
    ));
    s.push_str(&format!(
        "  5. decide from the process, GET /api/health and the heartbeat port (be.INFO/be.WARNING/be.out name failures); timeout {}\n",
        humantime::format_duration(cfg.timeout)
    ));
    s.push_str(&format!(
        "  6. {}\n",
        crate::runner::planned_stop("stop_be.sh")
    ));
    s.push_str(&crate::runner::ports_table(&plan.ports, &plan.node.ports));
    s
}

fn pipeline(cfg: &BeConfig, r: &mut Runner) -> Result<(), Ending> {
    let t = Instant::now();
    let checked = preflight(cfg, r);
    let plan = r.failed_step("preflight", t, checked)?;
    let ports: Vec<String> = plan
        .node
        .ports
        .iter()
        .map(|(k, p)| format!("{k} {p}"))
        .collect();
    let detail = format!(
        "storage roots {}; production ports {}",
        plan.node.storage_roots.join(";"),
        ports.join(", ")
    );
    r.step("preflight", t, StepStatus::Ok, detail);
    if cfg.plan {
        r.plan_only(&plan_text(&plan, cfg));
        return Ok(());
    }
    r.interrupted()?;

    let t = Instant::now();
    let (dir, home) = r.create_workspace(
        &cfg.workspace_root,
        &plan.ports,
        &plan.new_be,
        "be",
        &LAYOUT,
    )?;
    r.step("workspace", t, StepStatus::Ok, dir.display().to_string());

    let t = Instant::now();
    let storage = home.join("storage");
    if let Some(src) = &cfg.storage_copy {
        let _ = fs::remove_dir(&storage);
        let (total, _) = crate::meta::tree_size(src);
        let copied = r.copy_tree(
            "copy storage",
            src,
            &storage,
            &dir.join("storage-manifest.sha256"),
            total,
        );
        let c = copied.map_err(|e| r.copy_failed(&e, "storage copy", None))?;
        let detail = format!(
            "copied {} ({} files, {:.1} MiB; {})",
            src.display(),
            c.files,
            c.bytes as f64 / (1 << 20) as f64,
            c.methods.describe()
        );
        r.step("storage", t, StepStatus::Ok, detail);
    } else {
        r.step("storage", t, StepStatus::Ok, "empty storage root");
    }
    r.interrupted()?;

    let t = Instant::now();
    let (conf, changes) = rewrite(
        &plan,
        &home.display().to_string(),
        &storage.display().to_string(),
    );
    r.write_conf(
        "rewrite be.conf",
        t,
        &home.join("conf/be.conf"),
        &conf,
        &changes,
        cfg.verbose,
    )?;

    r.launch_script(&home, "start_be.sh", "be.out", &plan.ports)?;

    let t = Instant::now();
    let port_of = |key: &str| {
        plan.ports
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, p)| *p)
            .unwrap_or(0)
    };
    let ports = (port_of("be_http_port"), port_of("heartbeat_service_port"));
    let version = super::node::binary_version(&home);
    let mut exited = |r: &mut Runner| {
        use std::os::unix::process::ExitStatusExt;
        r.group
            .as_mut()
            .and_then(|g| g.try_exit())
            .map(|st| ExitInfo {
                what: st.to_string(),
                sigill: st.signal() == Some(nix::libc::SIGILL),
            })
    };
    let mut watch = Watcher::new(Tailer::new(&log_files(&home)), Role::Be);
    let decided = decide(cfg.timeout, r, &mut watch, ports, version, &mut exited);
    r.decide_step(t, decided)
}

fn banner_version() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"\] +version (\d+\.\d+\.\d+)[^\s]*").expect("banner regex"))
}

/// How a watched BE ended.
pub(super) struct ExitInfo {
    pub what: String,
    pub sigill: bool,
}

pub(super) fn log_files(home: &Path) -> Vec<std::path::PathBuf> {
    let log = home.join("log");
    vec![
        log.join("be.INFO"),
        log.join("be.WARNING"),
        log.join("be.out"),
    ]
}

/// Watches a starting BE until it serves, fails, exits, or `timeout` runs out. `exited` says
/// whether (and how) the BE process is gone.
///
/// Serving is decided from what the BE shows at once: `/api/health` OK and the heartbeat port
/// accepting connections (the heartbeat server starts last in every version). No log line is
/// required: the BE buffers INFO lines for up to 30 s, `sys_log_level = WARNING` drops them, and
/// 3.0 builds print no `BE started successfully`. Logs stay the evidence for failures, which the
/// watcher names as soon as a fatal line appears. The version is `binary_version` (from
/// `lib/starrocks_be --version`), else the be.INFO banner if it was flushed.
pub(super) fn decide(
    timeout: Duration,
    r: &mut Runner,
    watch: &mut Watcher,
    (http_port, hb_port): (u16, u16),
    binary_version: Option<String>,
    exited: &mut dyn FnMut(&mut Runner) -> Option<ExitInfo>,
) -> Result<String, Ending> {
    let started = Instant::now();
    let deadline = started + timeout;
    let addr: SocketAddr = ([127, 0, 0, 1], http_port).into();
    let mut banner: Option<String> = None;
    let mut last_probe: Option<Instant> = None;
    let spinner = crate::diag::Progress::spinner("decide", r.quiet);
    let mut last_seen = String::new();
    let limit = crate::diag::short(timeout);
    loop {
        r.interrupted()?;
        spinner.set_message(&format!(
            "decide: waiting for the BE to answer /api/health on port {http_port} and accept heartbeats on {hb_port}{} (timeout {limit})",
            if watch.has_seen("be.progress.tablet-load") {
                "; it is loading tablet meta"
            } else {
                ""
            }
        ));
        let gone = exited(r);
        let mut on_line = |text: &str| {
            if banner.is_none() {
                if let Some(c) = banner_version().captures(text) {
                    let full = text[c.get(0).map(|m| m.start()).unwrap_or(0)..]
                        .trim_start_matches(']')
                        .trim()
                        .trim_start_matches("version ")
                        .to_string();
                    banner = c[1].parse::<Version>().ok().map(|_| full);
                }
            }
        };
        watch.poll(&mut r.report.signatures, &mut on_line)?;
        if let Some(st) = gone {
            if st.sigill {
                r.report.signatures.push(SignatureHit {
                    id: "be.cpu.avx2".into(),
                    severity: Severity::Fatal,
                    file: "(exit status)".into(),
                    line: 0,
                    text: "terminated by SIGILL (illegal instruction)".into(),
                    hint: "run on a host with AVX2 (grep avx2 /proc/cpuinfo)".into(),
                });
                return Err(Ending::fail("be.cpu.avx2: the BE died of SIGILL: the CPU lacks an instruction set the build needs (AVX2)"));
            }
            return Err(Ending::fail(format!(
                "the BE exited ({}) before it was healthy; last output: {}",
                st.what,
                watch.last()
            )));
        }
        if last_probe.is_none_or(|t| t.elapsed() >= Duration::from_millis(100)) {
            last_probe = Some(Instant::now());
            let resp = r
                .probes
                .run(move || http::get(addr, "/api/health", Duration::from_secs(2)));
            // Logged when the answer changes: a probe every 100 ms must not flood the run log.
            let seen = match &resp {
                Ok(resp) => format!("HTTP {}: {}", resp.status, resp.body),
                Err(e) => e.to_string(),
            };
            if seen != last_seen {
                tracing::debug!("probe /api/health: {seen}");
                last_seen = seen;
            }
            if let Ok(resp) = resp {
                let ok = super::node::health_ok(resp.status, &resp.body);
                r.report.probes.health = Some(Probe {
                    ok,
                    detail: resp.body.clone(),
                });
                if ok && r.probes.run(move || super::node::accepts(hb_port)) {
                    break;
                }
            }
        }
        if Instant::now() >= deadline {
            // The HTTP server starts only after the storage engine loaded every tablet's meta, and
            // the load's INFO lines may still sit in glog's buffer: a live BE without HTTP is loading.
            let why = if watch.has_seen("be.progress.tablet-load") {
                " The BE was still loading tablet meta: allow a longer --timeout on nodes with many tablets."
            } else if r.report.probes.health.is_none() {
                " The BE process was alive but its HTTP server never came up, as while it is still loading tablet meta: allow a longer --timeout on nodes with many tablets."
            } else {
                ""
            };
            return Err(Ending::new(
                Verdict::Timeout,
                exit::TIMEOUT,
                format!(
                    "no verdict within {}; the BE was stopped.{why} Last line: {}",
                    humantime::format_duration(timeout),
                    watch.last()
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let v = binary_version
        .or(banner)
        .unwrap_or_else(|| "unknown version".into());
    r.report.target.detected_version = Some(v.clone());
    Ok(format!(
        "StarRocks BE {v} started and is healthy on this host after {:.1} s",
        started.elapsed().as_secs_f64()
    ))
}
