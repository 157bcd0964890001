//! The host checks: limits, CPU, memory, kernel settings, disk and ports, each against the
//! StarRocks requirement it guards.
//!
//! The floors are StarRocks' own: a BE refuses to start under `min_file_descriptor_number`
//! (60000) open files (`StorageEngine::_check_file_descriptor_number`: "File descriptor number is
//! less than 60000. Please use (ulimit -n) to set a value equal or greater than 60000"), and
//! `start_backend.sh` first tries `ulimit -n 65535` when the limit is below 60000, which only
//! works up to the hard limit unless root runs it. A BE built with AVX2 aborts on a CPU without it
//! ("CPU flags check failed! ..."), or dies by SIGILL. The kernel settings are the environment
//! page's recommendations: overcommit on, THP `madvise`, swap off, `vm.max_map_count` 262144.

use std::path::{Path, PathBuf};

use super::doc::{ENVIRONMENT, PREREQUISITES};
use super::host::Host;
use super::java::{fe_options, max_heap, JdkUsed};
use super::{Finding, Level, Role};
use crate::conf::ConfFile;
use crate::version::Version;

/// `config::min_file_descriptor_number`'s default.
pub const OPEN_FILES_FLOOR: u64 = 60000;
/// What start_backend.sh raises a lower limit to.
pub const OPEN_FILES_RAISED: u64 = 65535;
/// What an FE of 3.2+ insists on being free on its meta disk.
const META_FREE: u64 = 5 << 30;

/// Every host check for `role`.
pub fn host_checks(
    host: &Host,
    role: Role,
    conf: &ConfFile,
    home: Option<&Path>,
    jdk: Option<&JdkUsed>,
    to: Version,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if role != Role::Fe {
        out.push(open_files(host));
        out.push(cpu(host));
    }
    if role == Role::Fe {
        out.extend(heap(host, conf, jdk, to));
    }
    out.extend(kernel(host));
    if let Some(h) = home {
        out.extend(disk(host, role, conf, h));
        out.extend(ports(host, role, conf, h));
    }
    out
}

/// The open-files limit against the BE/CN floor.
pub fn open_files(host: &Host) -> Finding {
    let id = "host.open-files";
    let Some(l) = host.open_files() else {
        return Finding::new(
            id,
            Level::Warning,
            "cannot read the open-files limit (/proc/self/limits)".into(),
            "check `ulimit -n` by hand: the BE needs 60000",
            ENVIRONMENT,
        );
    };
    let show = |v: Option<u64>| v.map_or("unlimited".to_string(), |n| n.to_string());
    let found = format!("ulimit -n is {} (hard {})", show(l.soft), show(l.hard));
    if l.soft.is_none_or(|s| s >= OPEN_FILES_FLOOR) {
        return Finding::new(id, Level::Ok, found, "", ENVIRONMENT);
    }
    let root = host.euid() == Some(0);
    if root || l.hard.is_none_or(|h| h >= OPEN_FILES_RAISED) {
        return Finding::new(id, Level::Notice,
            format!("{found}: below the BE's 60000, but start_be.sh raises it with `ulimit -n 65535`{}", if root { " (run as root)" } else { " (within the hard limit)" }),
            "set nofile to 655350 in /etc/security/limits.conf so the node does not depend on the script", ENVIRONMENT);
    }
    Finding::new(id, Level::Error,
        format!("{found}: the BE refuses to start (\"File descriptor number is less than 60000. Please use (ulimit -n) to set a value equal or greater than 60000\") and start_be.sh cannot raise it past the hard limit"),
        "raise nofile (soft and hard) to 655350 in /etc/security/limits.conf, log in again, and check `ulimit -n`", ENVIRONMENT)
}

/// AVX2, which StarRocks' x86 builds need.
pub fn cpu(host: &Host) -> Finding {
    let id = "host.cpu-avx2";
    match host.cpu_flags() {
        None => Finding::new(id, Level::Notice, "no x86 CPU flags in /proc/cpuinfo (another architecture?)".into(), "on x86_64 StarRocks needs AVX2; check `grep avx2 /proc/cpuinfo`", PREREQUISITES),
        Some(f) if f.iter().any(|x| x == "avx2") => Finding::new(id, Level::Ok, "the CPU has avx2".into(), "", PREREQUISITES),
        Some(_) => Finding::new(id, Level::Error,
            "the CPU lacks avx2: the BE aborts with \"CPU flags check failed! The following instruction sets are enabled during compiling but not supported in current running env: avx2!\" or dies with `Illegal instruction`".into(),
            "run the BE on a CPU (or a VM CPU model) with AVX2, or use a build made without AVX2", PREREQUISITES),
    }
}

/// The FE's heap against the memory available now.
fn heap(host: &Host, conf: &ConfFile, jdk: Option<&JdkUsed>, to: Version) -> Option<Finding> {
    let id = "host.memory";
    // The options the script would pick; a JDK of unknown version reads as the release's minimum.
    let major = jdk.map_or(0, |j| j.major);
    let major = if major == 0 { to.fe_min_jdk() } else { major };
    let (var, opts) = fe_options(conf, to, major);
    let xmx = max_heap(&opts)?;
    let mem = host.meminfo();
    let avail = mem
        .get("MemAvailable")
        .or_else(|| mem.get("MemFree"))
        .copied()?;
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    let found = format!(
        "-Xmx {:.1} GiB ({var}), {:.1} GiB available",
        gib(xmx),
        gib(avail)
    );
    Some(if xmx > avail {
        Finding::new(
            id,
            Level::Warning,
            format!("{found}: the heap does not fit in the memory available now"),
            "free memory on this host or lower -Xmx in fe.conf before the FE restarts",
            PREREQUISITES,
        )
    } else {
        Finding::new(id, Level::Ok, found, "", PREREQUISITES)
    })
}

/// Swap, swappiness, THP, overcommit and max_map_count.
fn kernel(host: &Host) -> Vec<Finding> {
    let mut out = Vec::new();
    let env = |id, ok: bool, level, found: String, fix: &str| {
        if ok {
            Finding::new(id, Level::Ok, found, "", ENVIRONMENT)
        } else {
            Finding::new(id, level, found, fix, ENVIRONMENT)
        }
    };
    if let Some(swap) = host.meminfo().get("SwapTotal").copied() {
        out.push(env("host.swap", swap == 0, Level::Warning, format!("swap space {} MiB", swap >> 20), "disable swap (swapoff -a, and remove it from /etc/fstab): StarRocks recommends no swap"));
    }
    if let Some(s) = host.vm("swappiness") {
        out.push(env(
            "host.swappiness",
            s == 0,
            Level::Notice,
            format!("vm.swappiness = {s}"),
            "set vm.swappiness=0 in /etc/sysctl.conf and run sysctl -p",
        ));
    }
    if let Some(t) = host.thp() {
        out.push(env("host.transparent-huge-pages", t != "always", Level::Warning, format!("transparent huge pages: {t}"), "echo madvise to /sys/kernel/mm/transparent_hugepage/enabled and defrag (and in rc.local): THP interferes with the memory allocator"));
    }
    if let Some(o) = host.vm("overcommit_memory") {
        out.push(env(
            "host.overcommit",
            o == 1,
            Level::Warning,
            format!("vm.overcommit_memory = {o}"),
            "set vm.overcommit_memory=1 in /etc/sysctl.conf and run sysctl -p",
        ));
    }
    if let Some(m) = host.vm("max_map_count") {
        out.push(env("host.max-map-count", m >= 262144, Level::Notice, format!("vm.max_map_count = {m}"), "set vm.max_map_count = 262144 in /etc/sysctl.conf and run sysctl -p (high load concurrency)"));
    }
    out
}

/// A path value of the conf, `${STARROCKS_HOME}` resolved to the home.
fn conf_path(conf: &ConfFile, key: &str, home: &Path) -> Option<PathBuf> {
    let raw = conf.get(key)?;
    let v = raw
        .trim()
        .replace("${STARROCKS_HOME}", &home.display().to_string())
        .replace("$STARROCKS_HOME", &home.display().to_string());
    let p = PathBuf::from(v);
    p.is_absolute().then_some(p)
}

/// Room for the new `bin/` and `lib/` beside the old ones, and (FE) the 5 GB on the meta disk.
fn disk(host: &Host, role: Role, conf: &ConfFile, home: &Path) -> Vec<Finding> {
    let mut out = Vec::new();
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    let (lib, _) = crate::meta::tree_size(&home.join("lib"));
    if let Some(free) = host.free_bytes(home) {
        let need = lib + (1 << 30);
        let found = format!(
            "{:.1} GiB free in {}, the backup and the new lib/ need about {:.1} GiB",
            gib(free),
            home.display(),
            gib(need)
        );
        out.push(if free < need {
            Finding::new(
                "host.disk-home",
                Level::Error,
                found,
                "free space on the node's disk before the new build is copied in",
                ENVIRONMENT,
            )
        } else {
            Finding::new("host.disk-home", Level::Ok, found, "", ENVIRONMENT)
        });
    }
    if role == Role::Fe {
        let meta = conf_path(conf, "meta_dir", home).unwrap_or_else(|| home.join("meta"));
        if let Some(free) = host.free_bytes(&meta) {
            let found = format!("{:.1} GiB free for meta_dir {}", gib(free), meta.display());
            out.push(if free < META_FREE {
                Finding::new("host.disk-meta", Level::Error, format!("{found}: an FE of 3.2+ refuses to start (\"Free capacity left for meta dir ... is less than 5GB\")"), "free at least 5 GB on the meta disk", ENVIRONMENT)
            } else {
                Finding::new("host.disk-meta", Level::Ok, found, "", ENVIRONMENT)
            });
        }
    }
    out
}

/// The role's ports and StarRocks' defaults for them.
fn port_keys(role: Role) -> &'static [(&'static str, u16)] {
    match role {
        Role::Fe => &[
            ("http_port", 8030),
            ("rpc_port", 9020),
            ("query_port", 9030),
            ("edit_log_port", 9010),
        ],
        Role::Be | Role::Cn => &[
            ("be_port", 9060),
            ("be_http_port", 8040),
            ("heartbeat_service_port", 9050),
            ("brpc_port", 8060),
        ],
    }
}

/// The pid in the node's pid file (`PID_DIR` of the conf, else `bin/`).
fn node_pid(role: Role, conf: &ConfFile, home: &Path) -> Option<i32> {
    let dir = conf_path(conf, "PID_DIR", home).unwrap_or_else(|| home.join("bin"));
    let name = format!("{}.pid", role.word());
    std::fs::read_to_string(dir.join(name))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Each port free, or held by this node's own server.
fn ports(host: &Host, role: Role, conf: &ConfFile, home: &Path) -> Vec<Finding> {
    let pid = node_pid(role, conf, home);
    let mut out = Vec::new();
    for (key, default) in port_keys(role) {
        let key_used = if *key == "be_http_port"
            && conf.get(key).is_none()
            && conf.get("webserver_port").is_some()
        {
            "webserver_port"
        } else {
            key
        };
        let port = conf
            .get(key_used)
            .and_then(|v| v.trim().parse::<u16>().ok())
            .unwrap_or(*default);
        let id = "host.ports";
        let what = format!("{key_used} {port}");
        if !host.listening(port) {
            out.push(Finding::new(
                id,
                Level::Ok,
                format!("{what} is free"),
                "",
                ENVIRONMENT,
            ));
            continue;
        }
        if !host.is_real() {
            out.push(Finding::new(
                id,
                Level::Notice,
                format!(
                    "{what} is in use (which process holds it is not read from a fixture tree)"
                ),
                "",
                ENVIRONMENT,
            ));
            continue;
        }
        let holders = crate::procfs::port_holders(port);
        if holders.is_empty() {
            out.push(Finding::new(id, Level::Notice, format!("{what} is in use by a process this user cannot see"), "run the precheck as the node's user (or root) to see whether it is this node's server", ENVIRONMENT));
        } else if pid.is_some_and(|p| holders.iter().any(|(h, _)| *h == p)) {
            out.push(Finding::new(
                id,
                Level::Ok,
                format!(
                    "{what} is held by this node{}",
                    pid.map_or(String::new(), |p| format!(" (pid {p})"))
                ),
                "",
                ENVIRONMENT,
            ));
        } else {
            let names: Vec<String> = holders
                .iter()
                .map(|(p, n)| format!("{n} (pid {p})"))
                .collect();
            out.push(Finding::new(
                id,
                Level::Error,
                format!(
                    "{what} is held by {}, not by this node's server",
                    names.join(", ")
                ),
                "stop that process or move the port in the conf before the node restarts",
                ENVIRONMENT,
            ));
        }
    }
    out
}
