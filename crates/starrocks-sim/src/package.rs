//! `starrocks-sim make-package` and `make-jdk`: release folders and a stand-in JDK.
//!
//! A package looks like an unpacked StarRocks `fe/` or `be/`: `bin/` with the version's scripts,
//! `conf/` with a realistic conf file (comments, `${STARROCKS_HOME}`, quoted `JAVA_OPTS`, uppercase
//! shell keys), and `lib/`. The server binary is this simulator, linked (or copied) into place
//! under the name the real scripts check: `lib/starrocks_be` for a BE, and `bin/java` of a
//! stand-in JDK for an FE, so `ps -o comm=` says what stop_fe.sh and stop_be.sh expect.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::{scripts, Fault, Release, SimError, RELEASE_FILE};
use crate::release::Behaviour as _;
use starrocks_common::version::Version;

/// What `make-package` builds.
#[derive(Debug, Clone)]
pub struct PackageSpec {
    pub role: Role,
    pub version: Version,
    pub out: PathBuf,
    pub fault: Option<Fault>,
    pub fault_secs: u64,
    pub heartbeat_ms: u64,
    pub too_much_time_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    Fe,
    Be,
}

fn write(path: &Path, text: &str, exec: bool) -> Result<(), SimError> {
    let err = |e| SimError::Io(path.display().to_string(), e);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(err)?;
    }
    fs::write(path, text).map_err(err)?;
    if exec {
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).map_err(err)?;
    }
    Ok(())
}

/// The executable simulated packages run as `java` and `starrocks_be`, when not this process's own.
static BINARY: OnceLock<PathBuf> = OnceLock::new();

/// Names the `starrocks-sim` executable that packages built from now on run as their servers.
/// Needed only by a program that links this library without being the simulator itself (the
/// tool's `demo`): by default packages run the current executable, which is then `starrocks-sim`.
/// The first call wins.
pub fn use_binary(path: PathBuf) {
    let _ = BINARY.set(path);
}

/// Puts the simulator binary at `dest`: a hard link where the filesystem allows, else a copy.
fn place_binary(dest: &Path) -> Result<(), SimError> {
    let err = |e| SimError::Io(dest.display().to_string(), e);
    let me = match BINARY.get() {
        Some(p) => p.clone(),
        None => std::env::current_exe().map_err(err)?,
    };
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(err)?;
    }
    if fs::hard_link(&me, dest).is_err() {
        fs::copy(&me, dest).map_err(err)?;
    }
    fs::set_permissions(dest, fs::Permissions::from_mode(0o755)).map_err(err)
}

/// The 2.x/3.0 JDK 8 options with CMS, which JDK 17 refuses.
const CMS_OPTS: &str = "-Dlog4j2.formatMsgNoLookups=true -Xmx8192m -XX:+UseMembar -XX:SurvivorRatio=8 -XX:MaxTenuringThreshold=7 -XX:+PrintGCDateStamps -XX:+PrintGCDetails -XX:+UseConcMarkSweepGC -XX:+UseParNewGC -XX:+CMSClassUnloadingEnabled -XX:CMSInitiatingOccupancyFraction=80 -Xloggc:${LOG_DIR}/fe.gc.log.$DATE";
const G1_OPTS: &str = "-Dlog4j2.formatMsgNoLookups=true -Xmx8192m -XX:+UseG1GC -Xlog:gc*:${LOG_DIR}/fe.gc.log.$DATE:time -XX:ErrorFile=${LOG_DIR}/hs_err_pid%p.log";

/// A realistic conf/fe.conf for `v`, in our own words.
pub fn fe_conf(v: Version, fault: Option<Fault>) -> String {
    let mut s = format!(
        "# Frontend configuration of a simulated StarRocks {v} release.\n\
         #\n\
         # Keys in UPPERCASE are exported to the environment by bin/start_fe.sh;\n\
         # lowercase keys are read by the frontend process itself.\n\n\
         # stdout/stderr of the JVM (fe.out) and the GC log go here\n\
         LOG_DIR = ${{STARROCKS_HOME}}/log\n\n\
         DATE = \"$(date +%Y%m%d-%H%M%S)\"\n"
    );
    if fault == Some(Fault::JvmOption) {
        // An operator carried the 2.5-era CMS options into a release that runs on JDK 17.
        s.push_str(&format!(
            "JAVA_OPTS=\"{}\"\n",
            CMS_OPTS.replace("-XX:+UseMembar", "-XX:+UseConcMarkSweepGC -XX:+UseMembar")
        ));
    } else if v < Version::new(3, 2, 0) {
        s.push_str(&format!("JAVA_OPTS=\"{CMS_OPTS}\"\n\n# used instead of JAVA_OPTS when the JDK is newer than 8\nJAVA_OPTS_FOR_JDK_9=\"-Dlog4j2.formatMsgNoLookups=true -Xmx8192m -XX:SurvivorRatio=8 -XX:+CMSClassUnloadingEnabled -Xlog:gc*:${{LOG_DIR}}/fe.gc.log.$DATE:time\"\n"));
    } else if v < Version::new(3, 3, 0) {
        s.push_str(&format!("JAVA_OPTS=\"{CMS_OPTS}\"\n\n# used instead of JAVA_OPTS with JDK 11 or 17\nJAVA_OPTS_FOR_JDK_11=\"{G1_OPTS}\"\n"));
    } else {
        s.push_str(&format!("JAVA_OPTS=\"{G1_OPTS}\"\n"));
    }
    s.push_str(
        "\n# DEBUG, INFO, WARN, ERROR, FATAL\nsys_log_level = INFO\n\n\
         # Metadata lives here. Create the folder before the first start.\n\
         # meta_dir = ${STARROCKS_HOME}/meta\n\n\
         http_port = 8030\nrpc_port = 9020\nquery_port = 9030\nedit_log_port = 9010\n",
    );
    if v < Version::new(3, 4, 0) {
        s.push_str("mysql_service_nio_enabled = true\n");
    }
    if v.has_run_mode() {
        s.push_str("\n# shared_nothing or shared_data\n# run_mode = shared_nothing\n# cloud_native_meta_port = 6090\n");
    }
    if v.has_arrow_flight() {
        s.push_str("\n# Arrow Flight SQL; -1 disables it\n# arrow_flight_port = -1\n");
    }
    s.push_str(
        "\n# When the host has several addresses, the one in these networks is used (CIDR, ';'-separated)\n\
         # priority_networks = 10.10.10.0/24;192.168.0.0/16\n\n\
         # Advanced settings\n\
         # sys_log_dir = ${STARROCKS_HOME}/log\n\
         # sys_log_roll_num = 10\n\
         # audit_log_dir = ${STARROCKS_HOME}/log\n\
         # qe_max_connection = 1024\n",
    );
    s
}

/// A realistic conf/be.conf for `v`, in our own words.
pub fn be_conf(v: Version) -> String {
    let mut s = format!(
        "# Backend configuration of a simulated StarRocks {v} release.\n\n\
         # INFO, WARNING, ERROR, FATAL\nsys_log_level = INFO\n\n\
         # ports: thrift service, web server, heartbeat, brpc\n\
         be_port = 9060\n{} = 8040\nheartbeat_service_port = 9050\nbrpc_port = 8060\n",
        v.be_http_key()
    );
    if v.line() < (3, 0) {
        s.push_str("default_rowset_type = beta\n");
    }
    s.push_str(
        "\n# When the host has several addresses, the one in these networks is used\n\
         # priority_networks = 10.10.10.0/24;192.168.0.0/16\n\n\
         # Data directories, ';'-separated, each optionally followed by ,medium:SSD or ,medium:HDD\n\
         # storage_root_path = /data1,medium:HDD;/data2,medium:SSD;/data3\n\
         # Default: ${STARROCKS_HOME}/storage, which must be created by hand.\n\
         # storage_root_path = ${STARROCKS_HOME}/storage\n\n\
         # sys_log_dir = ${STARROCKS_HOME}/log\n\
         # sys_log_roll_mode = SIZE-MB-1024\n\
         # sys_log_roll_num = 10\n\n\
         # JVM options for the JNI parts of the backend\n\
         # JAVA_OPTS=\"-Djava.security.krb5.conf=/etc/krb5.conf\"\n",
    );
    s
}

pub fn make_package(spec: &PackageSpec) -> Result<(), SimError> {
    let out = &spec.out;
    if out.join("bin").exists() || out.join("lib").exists() {
        return Err(SimError::BadArgument(format!(
            "{} already holds a package; choose an empty folder",
            out.display()
        )));
    }
    let v = spec.version;
    let release = Release {
        role: match spec.role {
            Role::Fe => "fe".into(),
            Role::Be => "be".into(),
        },
        version: v,
        fault: spec.fault,
        fault_secs: spec.fault_secs,
        heartbeat_ms: spec.heartbeat_ms,
        too_much_time_secs: spec.too_much_time_secs,
    };
    let release_json = serde_json::to_string_pretty(&release).expect("release serialises");
    write(&out.join("lib").join(RELEASE_FILE), &release_json, false)?;
    write(&out.join("bin/common.sh"), &scripts::common_sh(), false)?;
    match spec.role {
        Role::Fe => {
            write(&out.join("bin/start_fe.sh"), &scripts::start_fe_sh(v), true)?;
            write(&out.join("bin/stop_fe.sh"), &scripts::stop_fe_sh(v), true)?;
            write(&out.join("conf/fe.conf"), &fe_conf(v, spec.fault), false)?;
            write(
                &out.join("lib/starrocks-fe.jar"),
                &format!("simulated StarRocks FE {}\n", v.full()),
                false,
            )?;
            write(
                &out.join("conf/udf_security.policy"),
                "grant { permission java.security.AllPermission; };\n",
                false,
            )?;
        }
        Role::Be => {
            let export_heap = spec.fault != Some(Fault::LibWithoutBin);
            for (name, text) in scripts::start_be_sh(v, export_heap) {
                write(&out.join("bin").join(name), &text, true)?;
            }
            write(&out.join("bin/stop_be.sh"), &scripts::stop_be_sh(v), true)?;
            write(&out.join("conf/be.conf"), &be_conf(v), false)?;
            place_binary(&out.join("lib/starrocks_be"))?;
            fs::create_dir_all(out.join("lib/udf"))
                .map_err(|e| SimError::Io(out.display().to_string(), e))?;
        }
    }
    Ok(())
}

/// Builds a stand-in JDK at `out`: `release` with `JAVA_VERSION`, `bin/java`, which is this
/// simulator, and `bin/javac`, whose presence is all start_fe.sh (3.0+) checks to tell a JDK from a
/// JRE. `java` answers `-version` like OpenJDK, refuses the JVM options that JDK really refuses,
/// and runs the simulated FE for `com.starrocks.StarRocksFE`.
pub fn make_jdk(major: u32, out: &Path) -> Result<(), SimError> {
    make_java_runtime(major, out)?;
    write(
        &out.join("bin/javac"),
        "#!/bin/sh\necho \"javac: the starrocks-sim JDK compiles nothing\" >&2\nexit 2\n",
        true,
    )
}

/// Like [`make_jdk`] without `bin/javac`: a JRE, which start_fe.sh of 3.0+ refuses.
pub fn make_jre(major: u32, out: &Path) -> Result<(), SimError> {
    make_java_runtime(major, out)
}

fn make_java_runtime(major: u32, out: &Path) -> Result<(), SimError> {
    let full = match major {
        8 => "1.8.0_412".to_string(),
        11 => "11.0.23".to_string(),
        17 => "17.0.15".to_string(),
        21 => "21.0.7".to_string(),
        m => format!("{m}.0.1"),
    };
    write(
        &out.join("release"),
        &format!("IMPLEMENTOR=\"starrocks-sim\"\nJAVA_VERSION=\"{full}\"\n"),
        false,
    )?;
    place_binary(&out.join("bin/java"))
}
