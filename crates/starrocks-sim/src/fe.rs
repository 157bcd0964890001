//! The simulated frontend: a stand-in JVM and the FE startup sequence.
//!
//! `start_fe.sh` runs `$JAVA_HOME/bin/java … com.starrocks.StarRocksFE`; with a simulated JDK that
//! `java` is this program. It first behaves as the JVM (version answer, refused options), then as
//! StarRocksFE: the startup checks in the order `StarRocksFE.start` runs them, each with the
//! version's exact message and exit behaviour, fe.log in the version's format, the ports bound when
//! the real FE binds them, `/api/bootstrap`, `/api/health` and the MySQL protocol. As leader it
//! heartbeats the backends recorded in the meta and, without the election-reset flag, tries to reach
//! the recorded frontends, so tests can prove the tool keeps a rehearsal away from production.

use std::collections::HashMap;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::answers::{rows, statistic_result, DbStat, FRONTENDS_COLUMNS};
use super::cluster::{self, GroupRole};
use super::http::{self, Request, Response};
use super::image::{self, Backend, Frontend, ImageHeader, JdbHeader};
use super::logs::{FeLog, Level, Threshold};
use super::meta::{random_token, random_u64, role_file, version_file};
use super::mysql::{self, Outcome};
use super::{connect_loopback, proc, Fault, Release};
use crate::release::Behaviour as _;
use crate::stamps::Stamps as _;
use starrocks_common::props;
use starrocks_common::timefmt::{unix_millis, Civil};
use starrocks_common::version::Version;

const START: &str = "StarRocksFE.start():129";

// ---------------------------------------------------------------- the JVM stand-in

fn jdk_version() -> (u32, String) {
    let release = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent()?.parent().map(|d| d.join("release")))
        .and_then(|p| fs::read_to_string(p).ok())
        .unwrap_or_default();
    let full = props::parse_map(&release)
        .get("JAVA_VERSION")
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "17.0.15".into());
    let major = if let Some(rest) = full.strip_prefix("1.") {
        rest.split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(8)
    } else {
        full.split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(17)
    };
    (major, full)
}

/// The JVM option this JDK refuses, if any, and how it says so.
fn refused_option(jdk: u32, opt: &str) -> Option<String> {
    if jdk <= 8 && opt.starts_with("-Xlog:") {
        return Some(format!("Unrecognized option: {opt}"));
    }
    let name = opt
        .strip_prefix("-XX:")
        .map(|o| o.trim_start_matches(['+', '-']))
        .map(|o| o.split('=').next().unwrap_or(o))?;
    let removed_in = match name {
        "PrintGCDateStamps" => 9,
        "UseParNewGC" | "UseMembar" => 10,
        "UseConcMarkSweepGC"
        | "CMSClassUnloadingEnabled"
        | "CMSParallelRemarkEnabled"
        | "CMSInitiatingOccupancyFraction" => 17,
        _ => return None,
    };
    (jdk >= removed_in).then(|| format!("Unrecognized VM option '{name}'"))
}

/// `java …` as the simulated JDK runs it.
pub fn java_main(args: Vec<String>) -> i32 {
    let (jdk, full) = jdk_version();
    let mut it = args.into_iter();
    let mut class = None;
    for a in it.by_ref() {
        if a == "-version" {
            eprintln!("openjdk version \"{full}\" 2025-04-15");
            eprintln!("OpenJDK Runtime Environment (build {full}+6)");
            eprintln!("OpenJDK 64-Bit Server VM (build {full}+6, mixed mode, sharing)");
            return 0;
        }
        if !a.starts_with('-') {
            class = Some(a);
            break;
        }
        if let Some(msg) = refused_option(jdk, &a) {
            println!("{msg}");
            println!("Error: Could not create the Java Virtual Machine.");
            println!("Error: A fatal exception has occurred. Program will exit.");
            return 1;
        }
    }
    match class.as_deref() {
        Some("com.starrocks.StarRocksFE") => run(it.collect()),
        Some(other) => {
            println!("Error: Could not find or load main class {other}");
            println!("Caused by: java.lang.ClassNotFoundException: {other}");
            1
        }
        None => {
            println!("Usage: java [options] <mainclass> [args...]");
            1
        }
    }
}

// ---------------------------------------------------------------- shared state

struct BackendState {
    be: Backend,
    alive: bool,
    err: String,
    version: String,
    last_heartbeat: String,
    /// be_port, http_port and brpc_port as the BE's heartbeat reply gave them (-1 before).
    ports: [String; 3],
}

struct State {
    version: Version,
    cluster_id: i64,
    token: String,
    run_mode: String,
    /// The address this FE believes is its own (`frontend_address`, else the local IP).
    self_host: String,
    /// `host_editlogport_timestamp`, as ROLE records it.
    node_name: String,
    http_port: u16,
    rpc_port: u16,
    query_port: u16,
    edit_log_port: u16,
    journal_id: u64,
    start_millis: i64,
    start_time: String,
    frontends: Vec<Frontend>,
    /// Set in the cluster mode: this node's part in the group (sim/cluster.rs).
    group: Option<Arc<cluster::Group>>,
    backends: Mutex<Vec<BackendState>>,
    tables: Vec<image::Table>,
}

/// A failure of the startup sequence, ending the way the real FE ends it.
enum Stop {
    /// `System.exit(-1)` after an ERROR line: exit 255.
    Exit,
    /// An exception out of `StarRocksFE.start`: `StarRocksFE start failed` and its trace.
    StartFailed(String),
}

struct Fe {
    home: PathBuf,
    release: Release,
    v: Version,
    conf: HashMap<String, String>,
    log: Option<Arc<FeLog>>,
}

fn stack(exception: &str, frames: &[&str]) -> String {
    let mut s = exception.to_string();
    for f in frames {
        s.push_str("\n\tat ");
        s.push_str(f);
    }
    s
}

impl Fe {
    fn log(&self) -> &FeLog {
        self.log.as_ref().expect("log initialised")
    }

    fn conf_str(&self, key: &str, default: &str) -> String {
        self.conf
            .get(key)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }

    fn conf_int(&self, key: &str, default: i64) -> Result<i64, Stop> {
        match self.conf.get(key) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| {
                Stop::StartFailed(stack(
                    &format!("java.lang.NumberFormatException: For input string: \"{v}\""),
                    &[
                        "java.lang.Integer.parseInt(Integer.java:652)",
                        "com.starrocks.common.ConfigBase.setConfigField(ConfigBase.java:214)",
                    ],
                ))
            }),
        }
    }

    fn port(&self, key: &str, default: u16) -> Result<u16, Stop> {
        let v = self.conf_int(key, default as i64)?;
        Ok(v.clamp(-1, 65535) as u16)
    }

    fn fatal(&self, loc: &str, msg: &str) -> Stop {
        self.log().error(loc, msg);
        Stop::Exit
    }
}

// ---------------------------------------------------------------- startup

/// StarRocksFE's `main`, after the JVM has started.
pub fn run(args: Vec<String>) -> i32 {
    if args.iter().any(|a| a == "-v" || a == "--version") {
        if let Some(r) = home_release() {
            println!("Build version: {}", r.version.full());
        }
        return 0;
    }
    let Ok(home) = std::env::var("STARROCKS_HOME") else {
        println!("env STARROCKS_HOME is not set.");
        return 255;
    };
    let Ok(pid_dir) = std::env::var("PID_DIR") else {
        println!("env PID_DIR is not set.");
        return 255;
    };
    let home = PathBuf::from(home);
    let mut release = match Release::load(&home) {
        Ok(r) => r,
        Err(e) => {
            println!("Error: {e}");
            return 1;
        }
    };
    // A host of a simulated cluster may carry a fault of its own (see sim/cluster.rs).
    if let Some(f) = cluster::host_fault(&home, release.version) {
        release.fault = Some(f);
    }
    let sigset = proc::block_signals();

    // Lock the pid file first, as StarRocksFE.start does; three tries ten seconds apart.
    let pid_path = Path::new(&pid_dir).join("fe.pid");
    let mut locked = false;
    for attempt in 1..=3 {
        match proc::lock_pid_file(&pid_path, false) {
            Ok(true) => {
                locked = true;
                break;
            }
            _ => {
                println!("get pid file lock failed, retried: {attempt}");
                if attempt < 3 {
                    std::thread::sleep(Duration::from_secs(10));
                }
            }
        }
    }
    if !locked {
        println!("StarRocksFE start failed");
        println!("java.io.IOException: pid file is already locked.");
        return 255;
    }

    let ignore_term = release.fault_is(Fault::IgnoreSigterm);
    let v = release.version;
    let mut fe = Fe {
        home,
        release,
        v,
        conf: HashMap::new(),
        log: None,
    };
    let log_slot: Arc<Mutex<Option<Arc<FeLog>>>> = Arc::new(Mutex::new(None));
    let slot = log_slot.clone();
    proc::spawn_signal_thread(sigset, move |sig| {
        if ignore_term && matches!(sig, Signal::SIGTERM | Signal::SIGINT) {
            return;
        }
        if let Some(log) = slot.lock().unwrap().as_ref() {
            log.log(
                Level::Info,
                "Thread-0|40",
                "StarRocksFE.lambda$start$0():98",
                "start to execute shutdown hook",
            );
            log.log(
                Level::Info,
                "Thread-0|40",
                "StarRocksFE.lambda$start$0():108",
                "shutdown hook end",
            );
        }
        proc::exit_deleting_pid(if sig == Signal::SIGUSR1 { 0 } else { 143 });
    });
    if fe.release.fault_is(Fault::Grandchild) {
        proc::spawn_lingering_helper(600);
    }

    match start(&mut fe, &log_slot) {
        Ok(()) => proc::park_forever(),
        Err(Stop::Exit) => proc::exit_deleting_pid(255),
        Err(Stop::StartFailed(trace)) => {
            let text = format!("StarRocksFE start failed\n{trace}");
            match &fe.log {
                Some(log) => log.error(START, &text),
                None => println!("{text}"),
            }
            if fe.v.start_failure_exits() {
                proc::exit_deleting_pid(255)
            }
            // 2.5/3.0 never call System.exit here: the JVM lingers with nothing listening.
            proc::park_forever()
        }
    }
}

fn home_release() -> Option<Release> {
    let home = std::env::var("STARROCKS_HOME").ok()?;
    Release::load(Path::new(&home)).ok()
}

fn print_log4j_config(sys_log_dir: &str, level: &str) {
    println!("=====");
    println!("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    println!("<Configuration status=\"info\" packages=\"com.starrocks.common\">");
    println!("  <Appenders>");
    println!("    <RollingFile name=\"Sys\" fileName=\"{sys_log_dir}/fe.log\" filePattern=\"{sys_log_dir}/fe.log.%d{{yyyyMMdd}}-%i\"/>");
    println!("    <RollingFile name=\"SysWF\" fileName=\"{sys_log_dir}/fe.warn.log\" filePattern=\"{sys_log_dir}/fe.warn.log.%d{{yyyyMMdd}}-%i\"/>");
    println!("  </Appenders>");
    println!("  <Loggers><Root level=\"{level}\"/></Loggers>");
    println!("</Configuration>");
    println!("=====");
}

fn stdout_with_time(msg: &str) {
    println!("{} {msg}", Civil::now().bracketed());
}

fn start(fe: &mut Fe, log_slot: &Arc<Mutex<Option<Arc<FeLog>>>>) -> Result<(), Stop> {
    let v = fe.v;
    // Config.init: Java properties, later key wins, ${VAR} from the environment.
    let conf_path = fe.home.join("conf/fe.conf");
    let text = fs::read_to_string(&conf_path).map_err(|e| {
        Stop::StartFailed(format!(
            "java.io.FileNotFoundException: {} ({e})",
            conf_path.display()
        ))
    })?;
    let lookup = |name: &str| std::env::var(name).ok();
    for entry in props::parse(&text) {
        // Uppercase keys are for the shell; the FE ignores keys it does not know.
        if entry
            .key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase())
        {
            continue;
        }
        let value = props::expand_vars(&entry.value, &lookup).map_err(|unset| {
            Stop::StartFailed(stack(
                &format!("java.lang.IllegalArgumentException: {unset}"),
                &["com.starrocks.common.ConfigBase.replacedByEnv(ConfigBase.java:290)"],
            ))
        })?;
        fe.conf.insert(entry.key, value);
    }
    let home = fe.home.display().to_string();
    let sys_log_dir = fe.conf_str("sys_log_dir", &format!("{home}/log"));
    let level = fe.conf_str("sys_log_level", "INFO");
    // Log4jConfig checks the level before it prints or applies the configuration.
    let threshold = Threshold::parse(&level)
        .map_err(|e| Stop::StartFailed(format!("java.io.IOException: {e}")))?;
    print_log4j_config(&sys_log_dir, &level);
    let log = FeLog::open(Path::new(&sys_log_dir), v, threshold)
        .map_err(|e| Stop::StartFailed(format!("java.io.IOException: {sys_log_dir}: {e}")))?;
    let log = Arc::new(log);
    fe.log = Some(log.clone());
    *log_slot.lock().unwrap() = Some(log.clone());

    // MetaHelper.checkMetaDir.
    let configured_meta = fe.conf.get("meta_dir").cloned();
    let meta = PathBuf::from(configured_meta.clone().unwrap_or(format!("{home}/meta")));
    if !meta.is_dir() {
        let verb = if configured_meta.is_some() && v < Version::new(4, 0, 0) {
            "dose"
        } else {
            "does"
        };
        let msg = format!("meta dir {} {verb} not exist", meta.display());
        log.error("MetaHelper.checkMetaDir():67", &msg);
        return Err(Stop::StartFailed(stack(
            &format!("com.starrocks.common.InvalidMetaDirException: {msg}"),
            &[
                "com.starrocks.leader.MetaHelper.checkMetaDir(MetaHelper.java:68)",
                "com.starrocks.StarRocksFE.start(StarRocksFE.java:118)",
            ],
        )));
    }
    let image_dir = meta.join("image");
    let bdb_dir = meta.join("bdb");
    let images = list_images(&image_dir, &log);
    let has_jdb = fs::read_dir(&bdb_dir)
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with(".jdb"))
        })
        .unwrap_or(false);
    if !images.is_empty()
        && !has_jdb
        && fe.conf_str("start_with_incomplete_meta", "false") != "true"
    {
        let msg = "image exists, but bdb dir is empty, set start_with_incomplete_meta to true if you want to forcefully recover from image data, this may end with stale meta data, so please be careful.";
        log.error("MetaHelper.checkMetaDir():82", msg);
        return Err(Stop::StartFailed(format!(
            "com.starrocks.common.InvalidMetaDirException: {msg}"
        )));
    }
    if v.checks_meta_free_space() {
        let free = std::env::var("STARROCKS_SIM_META_FREE_BYTES")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .or_else(|| {
                nix::sys::statvfs::statvfs(&meta)
                    .ok()
                    .map(|s| s.blocks_available() * s.fragment_size())
            })
            .unwrap_or(u64::MAX);
        if free < 5 * 1024 * 1024 * 1024 {
            return Err(fe.fatal(
                "MetaHelper.checkMetaDir():96",
                &format!(
                    "Free capacity left for meta dir: {} is less than 5GB",
                    meta.display()
                ),
            ));
        }
    }

    log.info(START, &v.starting_line());
    let self_host = match fe.conf.get("frontend_address").filter(|a| *a != "0.0.0.0") {
        Some(addr) => {
            log.info(
                "FrontendOptions.init():93",
                &format!("use configured address. {addr}"),
            );
            addr.clone()
        }
        None => {
            log.info(
                "FrontendOptions.initAddrUseIp():215",
                "Use IP init local addr, IP: /127.0.0.1",
            );
            "127.0.0.1".into()
        }
    };

    // NodeMgr: edit_log_port first; BDB JE will listen there.
    let http_port = fe.port("http_port", 8030)?;
    let rpc_port = fe.port("rpc_port", 9020)?;
    let query_port = fe.port("query_port", 9030)?;
    let edit_log_port = fe.port("edit_log_port", 9010)?;
    let edit_listener = if fe.release.fault_is(Fault::PortInUse) {
        None
    } else {
        TcpListener::bind(("0.0.0.0", edit_log_port)).ok()
    };
    let Some(edit_listener) = edit_listener else {
        return Err(fe.fatal(
            "NodeMgr.getCheckedSelfHostPort():1102",
            &format!("edit_log_port {edit_log_port} is already in use. will exit."),
        ));
    };
    log.info(
        "NodeMgr.getHelperNodes():711",
        &format!("get helper nodes: [{self_host}:{edit_log_port}]"),
    );

    // VERSION and ROLE.
    let version_path = image_dir.join("VERSION");
    let role_path = image_dir.join("ROLE");
    let run_mode_conf = fe.conf_str("run_mode", "shared_nothing");
    if v.has_run_mode() && run_mode_conf != "shared_nothing" && run_mode_conf != "shared_data" {
        return Err(fe.fatal(
            "RunMode.detectRunMode():56",
            &format!("Invalid run_mode \"{run_mode_conf}\". The candidates are \"shared_nothing\" and \"shared_data\""),
        ));
    }
    if v.has_run_mode() {
        log.info(
            "RunMode.detectRunMode():60",
            &format!("Current run_mode is {run_mode_conf}"),
        );
    }
    let date = Civil::now().java_date();
    let (cluster_id, token, run_mode, role, node_name, first_time) =
        match (version_path.exists(), role_path.exists()) {
            (false, false) => {
                let cid = ((random_u64() % 0x7FFF_FFFE) + 1) as i64;
                let token = random_token();
                let name = format!("{self_host}_{edit_log_port}_{}", unix_millis());
                let _ = fs::create_dir_all(&image_dir);
                let _ = fs::write(
                    &version_path,
                    version_file(&date, cid, &token, v.has_run_mode().then_some(run_mode_conf.as_str())),
                );
                let _ = fs::write(&role_path, role_file(&date, "FOLLOWER", &name));
                log.info(
                    "NodeMgr.getClusterIdAndRoleOnStartup():520",
                    &format!("very first time to start this node. role: FOLLOWER, node name: {name}"),
                );
                (cid, token, run_mode_conf.clone(), "FOLLOWER".to_string(), name, true)
            }
            (true, true) => {
                let vp = props::parse_map(&fs::read_to_string(&version_path).unwrap_or_default());
                let rp = props::parse_map(&fs::read_to_string(&role_path).unwrap_or_default());
                let raw = vp.get("clusterId").cloned();
                let cid: i64 = match raw.as_deref().map(str::parse::<i32>) {
                    Some(Ok(c)) => c as i64,
                    Some(Err(_)) => {
                        return Err(Stop::StartFailed(stack(
                            &format!("java.lang.NumberFormatException: For input string: \"{}\"", raw.unwrap_or_default()),
                            &["java.lang.Integer.parseInt(Integer.java:652)", "com.starrocks.persist.Storage.reload(Storage.java:120)"],
                        )))
                    }
                    None => {
                        return Err(Stop::StartFailed(stack(
                            "java.lang.NumberFormatException: Cannot parse null string: null",
                            &["java.lang.Integer.parseInt(Integer.java:630)", "com.starrocks.persist.Storage.reload(Storage.java:120)"],
                        )))
                    }
                };
                let mut token = vp.get("token").cloned().unwrap_or_default();
                let mut file_mode = vp.get("runMode").cloned();
                let mut rewrite = false;
                if token.is_empty() {
                    token = random_token();
                    log.info("NodeMgr.getClusterIdAndRoleOnStartup():560", &format!("new token={token}"));
                    rewrite = true;
                }
                if v.has_run_mode() {
                    match file_mode.as_deref() {
                        None => {
                            if run_mode_conf != "shared_nothing" {
                                return Err(fe.fatal(
                                    "NodeMgr.getClusterIdAndRoleOnStartup():575",
                                    &format!("Upgrading from a cluster with version less than 3.0 to a cluster with run mode {run_mode_conf} of version 3.0 or above is disallowed. will exit"),
                                ));
                            }
                            file_mode = Some("shared_nothing".into());
                            rewrite = true;
                        }
                        Some(m) if m != run_mode_conf => {
                            return Err(fe.fatal(
                                "NodeMgr.getClusterIdAndRoleOnStartup():581",
                                &format!("Unmatched run mode between config file and version file: {run_mode_conf} vs {m}. will exit! "),
                            ));
                        }
                        _ => {}
                    }
                }
                if rewrite {
                    let _ = fs::write(
                        &version_path,
                        version_file(&date, cid, &token, file_mode.as_deref()),
                    );
                }
                let role = rp.get("role").cloned().unwrap_or_else(|| "FOLLOWER".into());
                let name = rp
                    .get("name")
                    .cloned()
                    .unwrap_or_else(|| format!("{self_host}_{edit_log_port}"));
                (cid, token, file_mode.unwrap_or_default(), role, name, false)
            }
            _ => {
                return Err(fe.fatal(
                    "NodeMgr.getClusterIdAndRoleOnStartup():508",
                    "role file and version file must both exist or both not exist. please specific one helper node to recover. will exit.",
                ))
            }
        };
    if v.checks_conf_cluster_id() {
        let conf_cid = fe.conf_int("cluster_id", -1)?;
        if conf_cid != -1 && conf_cid != cluster_id {
            return Err(fe.fatal(
                "NodeMgr.getClusterIdAndRoleOnStartup():545",
                "cluster id is not equal with config item cluster_id. will exit.",
            ));
        }
    }
    log.info(
        "NodeMgr.getClusterIdAndRoleOnStartup():601",
        &v.role_line(cluster_id, &role, &node_name, &run_mode),
    );

    // Load the image: the highest id, from image/ or (3.4+) image/v2/.
    let mut header = ImageHeader {
        meta_version: v.meta_version_written(),
        ..Default::default()
    };
    if let Some((id, path)) = images.last() {
        log.info(
            "GlobalStateMgr.loadImage():1205",
            &format!("start load image from {}. is ckpt: false", path.display()),
        );
        let started = Instant::now();
        if path.parent().is_some_and(|p| p.ends_with("v2")) {
            let ck = path.with_file_name(format!("checksum.{id}"));
            let expect: Option<u32> = fs::read_to_string(&ck)
                .ok()
                .and_then(|s| s.trim().parse().ok());
            let actual = image::crc32_file(path).unwrap_or(0);
            if let Some(expect) = expect.filter(|e| *e != actual) {
                return Err(Stop::StartFailed(format!(
                    "java.io.IOException: checksum mismatch! expect {expect} actual {actual}"
                )));
            }
        }
        header = match image::read_header_lines(path)
            .map_err(image::HeaderError::from)
            .and_then(|l| ImageHeader::parse(&l))
        {
            Ok(h) => h,
            Err(_) => {
                log.warn("GlobalStateMgr.loadImage():1231", "load image eof.");
                return Err(Stop::StartFailed(stack(
                    "java.io.EOFException",
                    &[
                        "java.io.DataInputStream.readInt(DataInputStream.java:397)",
                        "com.starrocks.server.GlobalStateMgr.loadHeader(GlobalStateMgr.java:1290)",
                    ],
                )));
            }
        };
        if fe.release.fault_is(Fault::IncompatibleMeta) {
            header.meta_version = if v >= Version::new(3, 3, 0) {
                3
            } else {
                v.meta_version_written() + 1
            };
        }
        if let Err(refused) = v.check_meta_version(header.meta_version) {
            return Err(fe.fatal("GlobalStateMgr.loadHeader():1301", &refused.to_string()));
        }
        log.info(
            "GlobalStateMgr.loadImage():1226",
            &format!(
                "finished to load image in {} ms",
                started.elapsed().as_millis()
            ),
        );
    } else {
        log.info(
            "GlobalStateMgr.loadImage():1200",
            &format!(
                "image does not exist: {}",
                image_dir.join("image.0").display()
            ),
        );
    }
    if first_time {
        header.frontends.clear();
        header.backends.clear();
    }
    if !header.frontends.iter().any(|f| f.name == node_name) {
        header.frontends.insert(
            0,
            Frontend {
                role: role.clone(),
                host: self_host.clone(),
                edit_log_port,
                name: node_name.clone(),
            },
        );
    }

    // BDB JE: the election-group reset, the environment lock, the election.
    let recovery_key = v.recovery_key();
    let recovery = fe
        .conf
        .get(recovery_key)
        .is_some_and(|val| v.recovery_flag_is_set(val));
    if recovery {
        if role == "OBSERVER" {
            return Err(fe.fatal(
                "BDBEnvironment.initConfigs():176",
                "Current node is not in the electable_nodes list. will exit",
            ));
        }
        log.info("BDBEnvironment.initConfigs():185", "group has been reset.");
        log.info(
            "BDBEnvironment.ensureHelperInLocal():260",
            "skip check local environment because metadata_failure_recovery = true",
        );
    }
    let _ = fs::create_dir_all(&bdb_dir);
    let mut locked_env = false;
    for attempt in 1..=3 {
        log.info(
            "BDBEnvironment.setup():205",
            &format!("start to setup bdb environment for {attempt} times"),
        );
        if lock_je(&bdb_dir) {
            locked_env = true;
            break;
        }
        // setupEnvironment catches the DatabaseException and logs it with LOG.error(msg, e): the
        // exception is on the lines after the message.
        log.error(
            "BDBEnvironment.setupEnvironment():316",
            &stack(
                &format!(
                    "failed to setup environment after retried {attempt} times\ncom.sleepycat.je.EnvironmentLockedException: (JE 18.3.16) {} The environment cannot be locked for single writer access. ENV_LOCKED",
                    bdb_dir.display()
                ),
                &[
                    "com.sleepycat.je.log.FileManager.lockEnvironment(FileManager.java:2423)",
                    "com.sleepycat.je.rep.ReplicatedEnvironment.<init>(ReplicatedEnvironment.java:578)",
                    "com.starrocks.journal.bdbje.BDBEnvironment.setupEnvironment(BDBEnvironment.java:255)",
                ],
            ),
        );
        if attempt < 3 {
            std::thread::sleep(Duration::from_secs(5));
        }
    }
    if !locked_env {
        return Err(Stop::StartFailed(format!(
            "com.starrocks.journal.JournalException: failed to setup environment after retried {} times",
            3
        )));
    }
    log.info(
        "BDBEnvironment.setup():230",
        "replicated environment is all set, wait for state change...",
    );

    // Without the reset, the node can only win an election its recorded group agrees to.
    let self_recorded = header
        .frontends
        .iter()
        .find(|f| f.name == node_name)
        .cloned();
    let moved = self_recorded
        .as_ref()
        .is_some_and(|f| f.edit_log_port != edit_log_port || f.host != self_host);
    let peers: Vec<Frontend> = header
        .frontends
        .iter()
        .filter(|f| f.role == "FOLLOWER" && (f.name != node_name || moved))
        .cloned()
        .collect();
    // With recorded followers and no reset, the node waits for the group (cluster mode) to elect.
    let grouped = !recovery && !peers.is_empty();
    let lag = if fe.release.fault_is(Fault::LaggingFollower) {
        fe.release.fault_secs * cluster::LAG_PER_FAULT_SEC
    } else {
        0
    };
    let group = grouped.then(|| {
        cluster::Group::new(
            cluster_id,
            token.clone(),
            self_host.clone(),
            (edit_log_port, http_port, query_port, rpc_port),
            v.full(),
            lag,
        )
    });
    let edit_listener = match &group {
        Some(g) => {
            cluster::serve_edit_log(edit_listener, g.clone());
            None
        }
        None => Some(edit_listener),
    };
    let mut group_role = GroupRole::Leader;
    if fe.release.fault_is(Fault::Hang) || grouped {
        let electing = group.as_ref().filter(|_| !fe.release.fault_is(Fault::Hang));
        group_role = election_hang(fe, &log, &peers, electing);
    }
    let leader = group_role == GroupRole::Leader;
    let fe_type = if leader { "LEADER" } else { "FOLLOWER" };

    log.info(
        "BDBEnvironment.setup():236",
        &format!("state change done, current role {fe_type}"),
    );
    log.info(
        "BDBEnvironment.setup():238",
        "end setup bdb environment after 1 times",
    );
    log.rename_main_thread(format!("UNKNOWN {node_name}(-1)"));
    log.warn(
        "StateChangeExecutor.notifyNewFETypeTransfer():62",
        &format!("notify new FE type transfer: {fe_type}"),
    );
    stdout_with_time(&format!("notify new FE type transfer: {fe_type}"));

    // transferToLeader on the stateChangeExecutor thread: replay, then ready.
    let sce = "stateChangeExecutor|77";
    log.log(
        Level::Info,
        sce,
        "GlobalStateMgr.transferToLeader():1015",
        &format!("begin to transfer FE type from INIT to {fe_type}"),
    );
    let jdbs = list_jdbs(&bdb_dir);
    let mut last_journal = header.journal_id;
    let mut max_op = 0;
    for (_, h) in &jdbs {
        last_journal = last_journal.max(h.last_journal);
        max_op = max_op.max(h.max_op);
    }
    let from = header.journal_id + 1;
    log.log(
        Level::Info,
        "replayer|81",
        "GlobalStateMgr.replayJournal():1780",
        &format!("start to replay journal from {from} to {last_journal}"),
    );
    let replay_started = Instant::now();
    if fe.release.fault_is(Fault::SlowStart) {
        std::thread::sleep(Duration::from_secs(fe.release.fault_secs));
    }
    let unknown_op = if fe.release.fault_is(Fault::UnknownOperationType) {
        Some(v.max_op_code() + 22)
    } else {
        (max_op > v.max_op_code()).then_some(max_op)
    };
    if let Some(op) = unknown_op {
        let key = (from + last_journal) / 2;
        log.log(
            Level::Error,
            "replayer|81",
            "BDBJournalCursor.deserializeData():241",
            &stack(
                &format!("fail to read journal entity key={key}, data=\njava.io.IOException: UNKNOWN Operation Type {op}"),
                &["com.starrocks.journal.JournalEntity.readFields(JournalEntity.java:1093)", "com.starrocks.journal.bdbje.BDBJournalCursor.deserializeData(BDBJournalCursor.java:236)"],
            ),
        );
        log.log(
            Level::Error,
            sce,
            "GlobalStateMgr.transferToLeader():1035",
            "failed to init journal after transfer to leader! will exit",
        );
        return Err(Stop::Exit);
    }
    log.log(
        Level::Info,
        "replayer|81",
        "GlobalStateMgr.replayJournal():1810",
        &format!(
            "finish replay from {from} to {last_journal} in {} msec",
            replay_started.elapsed().as_millis()
        ),
    );
    // The new leader writes to the meta it was given: new journal entries, ROLE.
    let mut frontends = header.frontends.clone();
    if recovery && v.resets_frontends() {
        // resetFrontends: every recorded FE is dropped and the node re-added with its own address.
        frontends = vec![Frontend {
            role: role.clone(),
            host: self_host.clone(),
            edit_log_port,
            name: node_name.clone(),
        }];
    }
    // Only the leader writes the journal; a follower replays it.
    if let Some((path, _)) = jdbs.last().filter(|_| leader) {
        let _ = fs::OpenOptions::new()
            .append(true)
            .open(path)
            .and_then(|mut f| {
                use std::io::Write;
                writeln!(
                    f,
                    "journal id={} op=meta_version writer={v}",
                    last_journal + 1
                )
            });
    }
    let final_journal = last_journal + 1;
    let _ = fs::write(
        &role_path,
        role_file(&Civil::now().java_date(), &role, &node_name),
    );

    if leader {
        log.log(
            Level::Info,
            sce,
            "GlobalStateMgr.transferToLeader():1101",
            "leader finished to replay journal, can write now.",
        );
        stdout_with_time("leader finished to replay journal, can write now.");
        log.log(
            Level::Info,
            sce,
            "GlobalStateMgr.transferToLeader():1120",
            v.leader_transfer_line(),
        );
    }
    log.info(
        "GlobalStateMgr.waitForReady():1355",
        &format!("globalStateMgr is ready. FE type: {fe_type}"),
    );
    if let Some(g) = group.as_ref().filter(|_| leader) {
        g.set_journal(final_journal);
    }

    let start_millis = unix_millis();
    let state = Arc::new(State {
        version: v,
        cluster_id,
        token,
        run_mode,
        self_host: self_host.clone(),
        node_name: node_name.clone(),
        http_port,
        rpc_port,
        query_port,
        edit_log_port,
        journal_id: final_journal,
        group: group.clone(),
        start_millis,
        start_time: Civil::now().log4j_comma(),
        frontends,
        tables: header.tables.clone(),
        backends: Mutex::new(
            header
                .backends
                .iter()
                .map(|b| BackendState {
                    be: b.clone(),
                    alive: false,
                    err: String::new(),
                    version: String::new(),
                    last_heartbeat: "NULL".into(),
                    ports: ["-1".into(), "-1".into(), "-1".into()],
                })
                .collect(),
        ),
    });

    // Servers, in StarRocksFE.start's order.
    let Ok(rpc) = TcpListener::bind(("0.0.0.0", rpc_port)) else {
        return Err(fe.fatal(
            "FeServer.start():65",
            &format!("thrift server start failed with port {rpc_port} , will exit"),
        ));
    };
    std::thread::spawn(move || {
        for s in rpc.incoming() {
            drop(s)
        }
    });
    log.info(
        "FeServer.start():52",
        &format!("thrift server started with port {rpc_port}."),
    );
    let Ok(http_l) = TcpListener::bind(("0.0.0.0", http_port)) else {
        return Err(fe.fatal(
            "HttpServer.run():257",
            &format!("Fail to start FE query http server[port: {http_port}] "),
        ));
    };
    let st = state.clone();
    http::serve(http_l, Arc::new(move |r: &Request| fe_http(&st, r)));
    log.log(
        Level::Info,
        "FE Http Server|60",
        "HttpServer.run():250",
        &format!("HttpServer started with port {http_port}"),
    );
    let Ok(mysql_l) = TcpListener::bind(("0.0.0.0", query_port)) else {
        log.warn(
            "MysqlServer.start():93",
            "Open MySQL network service failed.\njava.net.BindException: Address already in use",
        );
        return Err(fe.fatal("QeService.start():54", "mysql server start failed"));
    };
    let st = state.clone();
    let header_password = header.root_password.clone();
    let query: mysql::QueryFn = Arc::new(move |user: &str, q: &str| fe_query(&st, user, q));
    if let Some(g) = &group {
        g.set_query(query.clone());
    }
    mysql::serve(
        mysql_l,
        Arc::new(mysql::ServerConfig {
            server_version: v.mysql_server_version().to_string(),
            root_password: header_password,
            users: header.users.clone(),
            query,
        }),
    );
    log.info(
        "MysqlServer.start():100",
        &format!("Open mysql server success on {query_port}"),
    );
    log.info("QeService.start():58", "QE service start.");
    let mut extra = Vec::new();
    if v.has_arrow_flight() {
        let p = fe.conf_int("arrow_flight_port", -1)?;
        if p > 0 {
            match TcpListener::bind(("0.0.0.0", p as u16)) {
                Ok(l) => extra.push(l),
                Err(_) => {
                    return Err(fe.fatal(
                        "ArrowFlightSqlService.start():80",
                        &format!("[ARROW] Failed to start Arrow Flight SQL server on 0.0.0.0:{p}. Its port might be occupied. You can modify `arrow_flight_port` in `fe.conf` to an unused port or set it to -1 to disable it."),
                    ))
                }
            }
        }
    }
    if v.has_https_port() && fe.conf_str("enable_https", "false") == "true" {
        let p = fe.port("https_port", 8443)?;
        match TcpListener::bind(("0.0.0.0", p)) {
            Ok(l) => extra.push(l),
            Err(_) => {
                return Err(fe.fatal(
                    "HttpServer.run():257",
                    &format!("Fail to start FE query https server[port: {p}] "),
                ))
            }
        }
    }
    if state.run_mode == "shared_data" {
        let p = fe.port("cloud_native_meta_port", 6090)?;
        if let Ok(l) = TcpListener::bind(("0.0.0.0", p)) {
            extra.push(l);
        }
    }
    for l in extra {
        std::thread::spawn(move || {
            for s in l.incoming() {
                drop(s)
            }
        });
    }
    if v.logs_fe_started_successfully() {
        log.info(START, "FE started successfully");
    }
    if let Some(l) = edit_listener {
        std::thread::spawn(move || {
            for s in l.incoming() {
                drop(s)
            }
        });
    }

    let interval = Duration::from_millis(fe.release.heartbeat_ms.max(50));
    match &group {
        Some(g) if !leader => cluster::follow(g.clone(), peers.clone(), interval),
        _ => {
            if let Some(g) = &group {
                cluster::heartbeat_frontends(g.clone(), peers.clone(), interval);
            }
            let hb_state = state.clone();
            let hb_log = log.clone();
            std::thread::spawn(move || heartbeat_loop(&hb_state, &hb_log, interval));
        }
    }

    if fe.release.fault_is(Fault::CrashAfterReady) {
        let secs = fe.release.fault_secs;
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(secs));
            // An abrupt death, as the OOM killer or a JVM crash would cause: no hook, pid file left.
            let _ = nix::sys::signal::raise(Signal::SIGKILL);
        });
    }
    Ok(())
}

/// The image files of a meta dir, lowest id first; odd names are logged as real FEs log them.
fn list_images(image_dir: &Path, log: &FeLog) -> Vec<(u64, PathBuf)> {
    let mut out = Vec::new();
    for dir in [image_dir.to_path_buf(), image_dir.join("v2")] {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(suffix) = name.strip_prefix("image.") {
                if suffix == "ckpt" {
                    continue;
                }
                match suffix.parse::<u64>() {
                    Ok(id) => out.push((id, e.path())),
                    Err(_) => log.warn(
                        "Storage.getCurrentImageFile():200",
                        &format!(
                            "{} is not a validate meta file, ignore it",
                            e.path().display()
                        ),
                    ),
                }
            }
        }
    }
    out.sort();
    out
}

fn list_jdbs(bdb: &Path) -> Vec<(PathBuf, JdbHeader)> {
    let mut files: Vec<PathBuf> = fs::read_dir(bdb)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "jdb"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let h = image::read_header_lines(&p)
                .ok()
                .and_then(|l| JdbHeader::parse(&l).ok())?;
            Some((p, h))
        })
        .collect()
}

/// Holds `je.lck` for the life of the process, like BDB JE's single-writer lock.
fn lock_je(bdb: &Path) -> bool {
    let Ok(f) = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(bdb.join("je.lck"))
    else {
        return false;
    };
    match nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock) {
        Ok(l) => {
            std::mem::forget(l);
            true
        }
        Err(_) => false,
    }
}

/// The election that never completes: contact the recorded group, then wait and say so.
/// In the cluster mode (`group`), each round may end the wait with the role the group gave.
fn election_hang(
    fe: &Fe,
    log: &FeLog,
    peers: &[Frontend],
    group: Option<&Arc<cluster::Group>>,
) -> GroupRole {
    let helpers: Vec<String> = peers
        .iter()
        .map(|p| format!("/{}:{}", p.host, p.edit_log_port))
        .collect();
    let started = Instant::now();
    let mut warned = 0;
    loop {
        if let Some(role) = group.and_then(|g| cluster::try_elect(g, peers)) {
            return role;
        }
        // BDB JE contacts the recorded electable nodes itself and logs to bdb/je.info, not fe.log;
        // what fe.log shows is the UnknownMasterException that names them.
        for p in peers {
            let _ = connect_loopback(&p.host, p.edit_log_port, Duration::from_millis(500));
        }
        if !helpers.is_empty() {
            log.warn(
                "BDBEnvironment.setup():240",
                &format!(
                    "com.sleepycat.je.rep.UnknownMasterException: (JE 18.3.16) Could not determine master from helpers at:[{}]",
                    helpers.join(", ")
                ),
            );
        }
        log.info(
            "StarRocksFE.start():140",
            "wait globalStateMgr to be ready. FE type: UNKNOWN. is ready: false",
        );
        let waited = started.elapsed().as_secs();
        if fe.v >= Version::new(3, 3, 0) && waited / fe.release.too_much_time_secs.max(1) > warned {
            warned += 1;
            log.warn(
                "GlobalStateMgr.waitForReady():1370",
                "It took too much time for FE to transfer to a stable state(LEADER/FOLLOWER), it maybe caused by one of the following reasons: 1. There are some problems with the network connection between this FE and the others. 2. The other FEs are not started. 3. The metadata of this FE is broken.",
            );
        }
        std::thread::sleep(Duration::from_millis(if group.is_some() {
            300
        } else {
            2000
        }));
    }
}

enum HbFailure {
    /// The connection failed: the Java exception's message.
    Exception(String),
    /// The backend answered with an error status.
    Refused(String),
}

/// The Java exception a failed connection raises in the real FE, from the simulator's own error.
/// Addresses the simulator never contacts (anything but loopback) fail as an unreachable production
/// host does from a sandbox: the connect times out.
fn java_connect_error(e: &super::ConnectError) -> String {
    // A backend the simulator will not contact (any non-loopback host) looks like one that does
    // not answer in time, which is what a fenced sandbox or a firewalled host shows.
    if let super::ConnectError::NotLoopback { .. } = e {
        return "java.net.SocketTimeoutException: connect timed out".into();
    }
    let e = e.to_string();
    if e.contains("refused") {
        "java.net.ConnectException: Connection refused (Connection refused)".into()
    } else if e.contains("unreachable") {
        "java.net.NoRouteToHostException: No route to host (Host unreachable)".into()
    } else if e.contains("timed out") {
        "java.net.SocketTimeoutException: connect timed out".into()
    } else {
        format!("java.net.SocketException: {e}")
    }
}

/// Heartbeats every recorded backend at its heartbeat port, as `HeartbeatMgr` does. The wire format
/// is the simulator's own line protocol (real StarRocks speaks Thrift); what matters is that the
/// connection is made, to the recorded address, with the cluster id the FE believes in.
fn heartbeat_loop(state: &State, log: &FeLog, interval: Duration) {
    use std::io::{BufRead, BufReader, Write};
    let tl = "heartbeat mgr|37";
    loop {
        let targets: Vec<Backend> = state
            .backends
            .lock()
            .unwrap()
            .iter()
            .map(|b| b.be.clone())
            .collect();
        for b in targets {
            let result = connect_loopback(&b.host, b.heartbeat_port, Duration::from_millis(500))
                .and_then(|mut s| {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                    writeln!(
                        s,
                        "HEARTBEAT cluster_id={} token={} fe_host=127.0.0.1 rpc_port={} http_port={}",
                        state.cluster_id, state.token, state.rpc_port, state.http_port
                    )?;
                    let mut line = String::new();
                    BufReader::new(s).read_line(&mut line)?;
                    Ok(line.trim().to_string())
                });
            let mut all = state.backends.lock().unwrap();
            let Some(bs) = all.iter_mut().find(|x| x.be.id == b.id) else {
                continue;
            };
            let was_alive = bs.alive;
            let failure = match &result {
                Ok(reply) if reply.starts_with("OK") => None,
                Ok(reply) => Some(HbFailure::Refused(
                    reply
                        .strip_prefix("ERR ")
                        .unwrap_or("no heartbeat response")
                        .to_string(),
                )),
                Err(e) => Some(HbFailure::Exception(java_connect_error(e))),
            };
            match result {
                Ok(reply) if reply.starts_with("OK") => {
                    bs.alive = true;
                    bs.err.clear();
                    bs.version = reply
                        .split_whitespace()
                        .find_map(|kv| kv.strip_prefix("version="))
                        .unwrap_or("")
                        .to_string();
                    bs.last_heartbeat = Civil::now().log4j_comma();
                    for (i, key) in ["be_port=", "http_port=", "brpc_port="].iter().enumerate() {
                        if let Some(p) =
                            reply.split_whitespace().find_map(|kv| kv.strip_prefix(key))
                        {
                            bs.ports[i] = p.to_string();
                        }
                    }
                }
                Ok(reply) => {
                    bs.alive = false;
                    bs.err = reply
                        .strip_prefix("ERR ")
                        .unwrap_or("no heartbeat response")
                        .to_string();
                }
                Err(e) => {
                    bs.alive = false;
                    bs.err = e.to_string();
                }
            }
            // HeartbeatMgr's lines: the handler logs a failed connection with its exception on
            // the following lines, runAfterCatalogReady logs every bad response, and
            // ComputeNode.handleHbResponse logs the first answered heartbeat.
            match &failure {
                Some(HbFailure::Exception(ex)) => {
                    log.log(
                        Level::Warn,
                        "heartbeat-mgr-pool-0|61",
                        "HeartbeatMgr$BackendHeartbeatHandler.call():333",
                        &stack(
                            &format!(
                                "backend heartbeat got exception, addr: {}:{}\norg.apache.thrift.transport.TTransportException: {ex}",
                                b.host, b.heartbeat_port
                            ),
                            &[
                                "org.apache.thrift.transport.TSocket.open(TSocket.java:226)",
                                "com.starrocks.common.GenericPool$ThriftClientFactory.create(GenericPool.java:158)",
                                "com.starrocks.system.HeartbeatMgr$BackendHeartbeatHandler.call(HeartbeatMgr.java:296)",
                            ],
                        ),
                    );
                    log.log(
                        Level::Warn,
                        tl,
                        "HeartbeatMgr.runAfterCatalogReady():168",
                        &format!("get bad heartbeat response: type: BACKEND, status: BAD, msg: {ex}"),
                    );
                }
                Some(HbFailure::Refused(msg)) => log.log(
                    Level::Warn,
                    tl,
                    "HeartbeatMgr.runAfterCatalogReady():168",
                    &format!("get bad heartbeat response: type: BACKEND, status: BAD, msg: {msg}"),
                ),
                None if !was_alive => log.log(
                    Level::Info,
                    tl,
                    "ComputeNode.handleHbResponse():530",
                    &format!(
                        "Backend [id={}, host={}, heartbeatPort={}, alive=false] is alive, last start time: {}, hbTime: {}",
                        b.id, b.host, b.heartbeat_port, state.start_millis, unix_millis()
                    ),
                ),
                None => {}
            }
        }
        std::thread::sleep(interval);
    }
}

// ---------------------------------------------------------------- HTTP and SQL

fn rest_tail(v: Version, ok: bool, msg: &str) -> String {
    let status = if ok { "OK" } else { "FAILED" };
    if v.rest_has_code() {
        let code = if ok { "0" } else { "1" };
        let message = if ok { "OK" } else { msg };
        format!("\"status\":\"{status}\",\"code\":\"{code}\",\"msg\":\"{msg}\",\"message\":\"{message}\"")
    } else {
        format!("\"status\":\"{status}\",\"msg\":\"{msg}\"")
    }
}

fn bootstrap_body(st: &State, detail: bool, ok: bool, msg: &str) -> String {
    let v = st.version;
    let mut s = String::from("{");
    if detail {
        s.push_str(&format!(
            "\"replayedJournalId\":{},\"queryPort\":{},\"rpcPort\":{},\"feStartTime\":{},\"feVersion\":\"{}\",",
            st.group.as_ref().map_or(st.journal_id, |g| g.journal()), st.query_port, st.rpc_port, st.start_millis, v.full()
        ));
    } else {
        s.push_str("\"replayedJournalId\":0,\"queryPort\":0,\"rpcPort\":0,\"feStartTime\":0,");
    }
    if v.bootstrap_has_heap() {
        s.push_str("\"heapUsedPercent\":0.0,");
    }
    if v.bootstrap_has_cpu_cores() {
        s.push_str(&format!(
            "\"cpuCores\":{},",
            if detail {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            } else {
                0
            }
        ));
    }
    s.push_str(&rest_tail(v, ok, msg));
    s.push('}');
    s
}

fn fe_http(st: &State, r: &Request) -> Response {
    match r.path.as_str() {
        "/api/bootstrap" => {
            let v = st.version;
            // Strings.isNullOrEmpty: an empty parameter counts as no parameter, so the answer is
            // the plain OK without details.
            let token = r.param("token").filter(|t| !t.is_empty());
            let cid = r.param("cluster_id").filter(|c| !c.is_empty());
            let body = if v.bootstrap_checks_cluster_id() {
                match (cid, token) {
                    (Some(c), Some(t)) => match c.parse::<i64>() {
                        Err(_) => bootstrap_body(
                            st,
                            false,
                            false,
                            &format!("invalid cluster id format: {c}"),
                        ),
                        Ok(c) if c != st.cluster_id => bootstrap_body(
                            st,
                            false,
                            false,
                            &format!("invalid cluster id: {}", st.cluster_id),
                        ),
                        Ok(_) if t != st.token => bootstrap_body(
                            st,
                            false,
                            false,
                            &format!("invalid token: {}", st.token),
                        ),
                        Ok(_) => bootstrap_body(st, true, true, "Success"),
                    },
                    _ => bootstrap_body(st, false, true, "Success"),
                }
            } else {
                match token {
                    Some(t) if t == st.token => bootstrap_body(st, true, true, "Success"),
                    Some(_) => bootstrap_body(st, false, false, "invalid parameter"),
                    None => bootstrap_body(st, false, true, "Success"),
                }
            };
            Response::json(body)
        }
        "/api/health" => {
            let bes = st.backends.lock().unwrap();
            let online = bes.iter().filter(|b| b.alive).count();
            Response::json(format!(
                "{{\"online_backend_num\":{online},\"total_backend_num\":{},\"status\":\"OK\"}}",
                bes.len()
            ))
        }
        _ => Response::status(404, "text/html", "<html><body>Not Found</body></html>"),
    }
}

fn system_variable(st: &State, name: &str) -> Option<String> {
    let n = name
        .trim_start_matches("@@")
        .trim_start_matches("session.")
        .trim_start_matches("global.")
        .to_ascii_lowercase();
    Some(match n.as_str() {
        "max_allowed_packet" => "33554432".into(),
        "wait_timeout" => "28800".into(),
        "interactive_timeout" => "3600".into(),
        "net_write_timeout" => "60".into(),
        "version" => st.version.mysql_server_version().into(),
        "version_comment" => format!("StarRocks version {}", st.version.full()),
        "time_zone" | "system_time_zone" => "UTC".into(),
        "auto_increment_increment" => "1".into(),
        "lower_case_table_names" => "0".into(),
        "character_set_client"
        | "character_set_connection"
        | "character_set_results"
        | "character_set_server" => "utf8".into(),
        "collation_server" | "collation_connection" => "utf8_general_ci".into(),
        "transaction_isolation" | "tx_isolation" => "REPEATABLE-READ".into(),
        "sql_mode" => "ONLY_FULL_GROUP_BY".into(),
        "query_timeout" => "300".into(),
        "autocommit" => "1".into(),
        _ => return None,
    })
}

const KNOWN_VARIABLES: &[&str] = &[
    "max_allowed_packet",
    "wait_timeout",
    "interactive_timeout",
    "net_write_timeout",
    "version",
    "version_comment",
    "time_zone",
    "system_time_zone",
    "auto_increment_increment",
    "lower_case_table_names",
    "character_set_client",
    "character_set_connection",
    "character_set_results",
    "character_set_server",
    "collation_server",
    "collation_connection",
    "transaction_isolation",
    "tx_isolation",
    "sql_mode",
    "query_timeout",
    "autocommit",
];

/// `SELECT @@name` of a variable StarRocks does not have. The analyzer's SemanticException carries
/// ERR_UNKNOWN_SYSTEM_VARIABLE with three look-alike names; 3.1 put it on the wire as 1064/42000
/// (StarRocks#37243), later releases as 1193/HY000 (DataflareApp/dataflare#96).
fn unknown_variable(v: Version, name: &str) -> Outcome {
    let name = name
        .trim_start_matches("@@")
        .trim_start_matches("session.")
        .trim_start_matches("global.");
    // The real server ranks every session variable by Jaro-Winkler distance; a shared-letter
    // count over the simulator's short list stands in for it.
    let mut similar: Vec<(usize, &str)> = KNOWN_VARIABLES
        .iter()
        .map(|k| (k.chars().filter(|c| name.contains(*c)).count(), *k))
        .collect();
    similar.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let list = similar
        .iter()
        .take(3)
        .map(|(_, k)| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let detail = format!(
        "Getting analyzing error. Detail message: Unknown system variable '{name}', the most similar variables are {{{list}}}"
    );
    if v < UNKNOWN_VARIABLE_IS_1193 {
        Outcome::Err(1064, "42000", detail)
    } else {
        Outcome::Err(1193, "HY000", format!("{detail}."))
    }
}

/// First release line seen answering an unknown variable with 1193 (the exact patch is unknown).
const UNKNOWN_VARIABLE_IS_1193: Version = Version::new(3, 2, 0);
/// `enable_constant_execute_in_fe` (default true) runs constant SELECTs in the FE from 3.3.
const CONSTANT_SELECT_IN_FE: Version = Version::new(3, 3, 0);
/// ErrorStateTabletNum joined SHOW PROC '/statistic' with StarRocks#19517, backported to 2.5 (#20805).
const STATISTIC_HAS_ERROR_STATE: Version = Version::new(2, 5, 4);

/// A constant SELECT (no FROM) before 3.3 is planned onto a BE; with none alive it fails as
/// `FeConstants.BACKEND_NODE_NOT_FOUND_ERROR`, sent as error 1064.
fn needs_backend(st: &State) -> Option<Outcome> {
    let any_alive = st.backends.lock().unwrap().iter().any(|b| b.alive);
    (st.version < CONSTANT_SELECT_IN_FE && !any_alive).then(|| {
        Outcome::Err(
            1064,
            "HY000",
            "Backend node not found. Check if any backend node is down.".into(),
        )
    })
}

/// SHOW FRONTENDS as `FrontendsProcNode` builds it: one row per FE in the (copied) frontend list,
/// LEADER and Alive decided by comparing each row's host with this node's own address. Up to 3.3 a
/// sandbox keeps production's hosts, so no row matches; from 3.4 `resetFrontends` left only itself.
fn show_frontends(st: &State) -> Outcome {
    let cols = FRONTENDS_COLUMNS;
    let out = st
        .frontends
        .iter()
        .map(|f| {
            let me = f.host == st.self_host;
            // Up to 3.3 the leader is matched by host only; later by host and edit log port.
            let leader =
                me && (st.version < Version::new(3, 4, 0) || f.edit_log_port == st.edit_log_port);
            vec![
                f.name.clone(),
                f.host.clone(),
                f.edit_log_port.to_string(),
                st.http_port.to_string(),
                (if me { st.query_port } else { 0 }).to_string(),
                (if me { st.rpc_port } else { 0 }).to_string(),
                (if leader {
                    "LEADER".to_string()
                } else {
                    f.role.clone()
                }),
                st.cluster_id.to_string(),
                me.to_string(),
                me.to_string(),
                (if me { st.journal_id } else { 0 }).to_string(),
                (if me {
                    st.start_time.clone()
                } else {
                    "NULL".into()
                }),
                "true".into(),
                String::new(),
                (if me {
                    st.start_time.clone()
                } else {
                    "NULL".into()
                }),
                (if me { st.version.full() } else { "NULL".into() }),
            ]
        })
        .collect();
    rows(&cols, out)
}

/// The databases of the loaded catalog, `information_schema` included, sorted by name.
fn database_names(st: &State) -> Vec<String> {
    let mut dbs: Vec<String> = st.tables.iter().map(|t| t.db.clone()).collect();
    dbs.push("information_schema".into());
    dbs.sort();
    dbs.dedup();
    dbs
}

/// SHOW PROC '/statistic' of the sandbox FE: per database (information_schema skipped), sorted
/// by name. The simulated image gives each table one partition with one index of one tablet; with
/// no backend alive every tablet is unhealthy.
fn show_statistic(st: &State) -> Outcome {
    let any_alive = st.backends.lock().unwrap().iter().any(|b| b.alive);
    let dbs: Vec<DbStat> = database_names(st)
        .into_iter()
        .filter(|d| d != "information_schema")
        .enumerate()
        .map(|(i, db)| {
            let tables: Vec<&image::Table> = st.tables.iter().filter(|t| t.db == db).collect();
            let n = tables.len() as u64;
            DbStat {
                id: 10_001 + i as u64,
                name: db,
                tables: n,
                partitions: n,
                indexes: n,
                tablets: n,
                replicas: tables.iter().map(|t| t.replication_num as u64).sum(),
                unhealthy: if any_alive { 0 } else { n },
            }
        })
        .collect();
    statistic_result(st.version >= STATISTIC_HAS_ERROR_STATE, &dbs)
}

/// Accounts other than root hold no privilege in the simulated image: the statements that need a
/// system privilege fail the way each release's privilege check fails them.
fn missing_privilege(v: Version) -> Outcome {
    if v < Version::new(3, 0, 0) {
        // 2.5 PrivilegeChecker: SHOW PROC and friends need the global ADMIN privilege.
        Outcome::Err(
            1227,
            "42000",
            "Access denied; you need (at least one of) the ADMIN privilege(s) for this operation"
                .into(),
        )
    } else if v < ACCESS_DENIED_IS_5203 {
        // 3.0/3.1 checkStmtOperatePrivilege: OPERATE on SYSTEM.
        Outcome::Err(
            1227,
            "42000",
            "Access denied; you need (at least one of) the OPERATE privilege(s) for this operation"
                .into(),
        )
    } else {
        // AccessDeniedException.reportAccessDenied: ERR_ACCESS_DENIED with the role hint.
        Outcome::Err(
            5203,
            "42000",
            "Access denied; you need (at least one of) the OPERATE privilege(s) on SYSTEM for this operation. Please ask the admin to grant permission(s) or try activating existing roles using <set [default] role>. Current role(s): NONE. Inactivated role(s): NONE.".into(),
        )
    }
}

/// First release line seen reporting a missing privilege as 5203 (the exact patch is unknown).
const ACCESS_DENIED_IS_5203: Version = Version::new(3, 2, 0);

fn fe_query(st: &State, user: &str, sql: &str) -> Outcome {
    if let Some(out) = st
        .group
        .as_ref()
        .and_then(|g| cluster::intercept(g, &st.frontends, &st.tables, &st.node_name, user, sql))
    {
        return out;
    }
    let q = sql.trim().trim_end_matches(';').trim();
    let norm = q
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase();
    let privileged = user == "root";
    let system_statement = matches!(norm.as_str(), "SHOW FRONTENDS" | "SHOW BACKENDS")
        || norm.starts_with("SHOW PROC ");
    if !privileged && system_statement {
        return missing_privilege(st.version);
    }
    match norm.as_str() {
        "SHOW FRONTENDS" => show_frontends(st),
        // A user sees only the databases it holds a privilege on, and information_schema.
        "SHOW DATABASES" => rows(
            &["Database"],
            database_names(st)
                .into_iter()
                .filter(|d| privileged || d == "information_schema")
                .map(|d| vec![d])
                .collect(),
        ),
        "SHOW PROC '/STATISTIC'" | "SHOW PROC \"/STATISTIC\"" => show_statistic(st),
        "SHOW BACKENDS" => {
            let cols = [
                "BackendId", "IP", "HeartbeatPort", "BePort", "HttpPort", "BrpcPort",
                "LastStartTime", "LastHeartbeat", "Alive", "SystemDecommissioned",
                "ClusterDecommissioned", "TabletNum", "ErrMsg", "Version",
            ];
            // BackendsProcDir sorts its rows by IP, then BePort, as strings.
            let mut out: Vec<Vec<String>> = st
                .backends
                .lock()
                .unwrap()
                .iter()
                .map(|b| {
                    vec![
                        b.be.id.to_string(),
                        b.be.host.clone(),
                        b.be.heartbeat_port.to_string(),
                        b.ports[0].clone(),
                        b.ports[1].clone(),
                        b.ports[2].clone(),
                        "NULL".into(),
                        b.last_heartbeat.clone(),
                        b.alive.to_string(),
                        "false".into(),
                        "false".into(),
                        "0".into(),
                        b.err.clone(),
                        b.version.clone(),
                    ]
                })
                .collect();
            out.sort_by(|a, b| (&a[1], &a[3]).cmp(&(&b[1], &b[3])));
            rows(&cols, out)
        }
        "SELECT 1" | "SELECT CURRENT_VERSION()" | "SELECT VERSION()" => {
            if let Some(err) = needs_backend(st) {
                return err;
            }
            match norm.as_str() {
                "SELECT 1" => rows(&["1"], vec![vec!["1".into()]]),
                "SELECT CURRENT_VERSION()" => {
                    rows(&["current_version()"], vec![vec![st.version.full()]])
                }
                _ => rows(
                    &["version()"],
                    vec![vec![st.version.mysql_server_version().into()]],
                ),
            }
        }
        _ if norm.contains("FROM INFORMATION_SCHEMA.PARTITIONS_META") => {
            // One partition per table; `WHERE REPLICATION_NUM < N` is honoured.
            let below = norm
                .split("REPLICATION_NUM <")
                .nth(1)
                .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok());
            let out = st
                .tables
                .iter()
                .filter(|t| below.is_none_or(|n| t.replication_num < n))
                .map(|t| vec![t.db.clone(), t.name.clone(), t.name.clone(), t.replication_num.to_string()])
                .collect();
            rows(&["DB_NAME", "TABLE_NAME", "PARTITION_NAME", "REPLICATION_NUM"], out)
        }
        _ if norm.starts_with("SET ") => Outcome::Ok,
        _ if norm.starts_with("SELECT @@") => {
            let names: Vec<&str> = q[6..].split(',').map(|s| s.trim()).collect();
            let mut vals = Vec::new();
            // Analysis (is every variable known?) comes before planning (is a BE alive?).
            for n in &names {
                match system_variable(st, n) {
                    Some(v) => vals.push(v),
                    None => return unknown_variable(st.version, n),
                }
            }
            if let Some(err) = needs_backend(st) {
                return err;
            }
            rows(&names, vec![vals])
        }
        _ => Outcome::Err(
            1064,
            "42000",
            format!("Getting syntax error. Detail message: unsupported statement `{q}` in starrocks-sim."),
        ),
    }
}
