//! The JDK a node's start script will run, and the `JAVA_OPTS` that JDK will be handed.
//!
//! start_fe.sh takes `JAVA_HOME` from fe.conf over the environment and, from 3.1, infers it from
//! `javac` on `PATH` ([`super::script_jdk::script_java_home`]); it refuses a JRE from 3.0 and a JDK
//! below the release's minimum (8; 3.2/3.3 refuse 9 and 10; 11 from 3.4; 17 from 3.5). It then
//! picks one options variable by release and JDK: `JAVA_OPTS_FOR_JDK_9` on 2.x with a JDK above
//! 8, `JAVA_OPTS_FOR_JDK_11` (or `_9`) on 3.0-3.3, `JAVA_OPTS` alone from 3.4 (the 3.5 notes: "All
//! versions of JDK use `JAVA_OPTS`"). A JVM stops at the first option it no longer knows
//! (`Unrecognized VM option 'UseConcMarkSweepGC'`), in fe.out, before StarRocks runs at all.

use std::path::Path;
use std::process::{Command, Stdio};

use serde::Serialize;

use super::{Finding, Level, Role};
use crate::conf::ConfFile;
use crate::version::Version;

use super::doc::{PREREQUISITES as DOC_JDK, RELEASE_3_5 as DOC_35};

/// The JDK found, as the report records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JdkUsed {
    pub path: String,
    /// Where the start script takes it from (`JAVA_HOME in fe.conf`, `javac on PATH`, ...).
    pub source: String,
    /// The major version; 0 when neither the `release` file nor `java -version` tells.
    pub major: u32,
    /// `jdk`, or `jre` when there is no `bin/javac`.
    pub kind: &'static str,
    pub has_java: bool,
}

/// Options JDKs refuse at start (`Unrecognized VM option`), with the first major that refuses
/// them. Measured with OpenJDK 17.0.15 (`java <option> -version`); the GC logging flags went with
/// unified logging in 9, ParNew and UseMembar in 10, CMS in 14 (refused outright by 17).
const REFUSED: &[(&str, u32)] = &[
    ("PrintGCDateStamps", 9),
    ("PrintGCTimeStamps", 9),
    ("PrintGCApplicationStoppedTime", 9),
    ("UseGCLogFileRotation", 9),
    ("NumberOfGCLogFiles", 9),
    ("GCLogFileSize", 9),
    ("UseParNewGC", 10),
    ("UseMembar", 10),
    ("UseConcMarkSweepGC", 17),
    ("CMSClassUnloadingEnabled", 17),
    ("CMSParallelRemarkEnabled", 17),
    ("CMSInitiatingOccupancyFraction", 17),
    ("UseCMSInitiatingOccupancyOnly", 17),
];

/// The `-XX:` options in `opts` that JDK `major` refuses.
pub fn refused_options(opts: &str, major: u32) -> Vec<String> {
    opts.split_whitespace()
        .filter(|w| {
            let name = w
                .trim_matches(['"', '\''])
                .strip_prefix("-XX:")
                .map(|o| o.trim_start_matches(['+', '-']))
                .map(|o| o.split('=').next().unwrap_or(o));
            name.is_some_and(|n| REFUSED.iter().any(|(r, from)| *r == n && major >= *from))
        })
        .map(|w| w.trim_matches(['"', '\'']).to_string())
        .collect()
}

/// What start_fe.sh runs when no options variable applies (3.2+; the newest adds a security policy).
const DEFAULT_OPTS: &str = "-Dlog4j2.formatMsgNoLookups=true -Xmx8192m -XX:+UseG1GC";

/// The options variable start_fe.sh of `to` hands a JDK `major`, with its value. Read in the
/// scripts: 3.2/3.3 (`kill -0` era) give a JDK above 8 `JAVA_OPTS_FOR_JDK_11`, else
/// `JAVA_OPTS_FOR_JDK_9`, else a built-in G1 line (never `JAVA_OPTS`); the `MIN_JDK_VERSION=17`
/// script takes `JAVA_OPTS`, but a `JAVA_OPTS_FOR_JDK_11` still wins with "Warning: Configuration
/// parameter JAVA_OPTS_FOR_JDK_11 is not supported". 2.x, 3.0/3.1 and 3.4 follow the simulator's
/// scripts (not re-read here).
pub fn fe_options(conf: &ConfFile, to: Version, major: u32) -> (&'static str, String) {
    let get = |k: &'static str| conf.get(k).filter(|v| !v.trim().is_empty()).map(|v| (k, v));
    let default = || ("start_fe.sh's built-in options", DEFAULT_OPTS.to_string());
    match to.line() {
        (2, _) if major > 8 => get("JAVA_OPTS_FOR_JDK_9"),
        (3, 0) | (3, 1) if major > 8 => get("JAVA_OPTS_FOR_JDK_11")
            .or_else(|| get("JAVA_OPTS_FOR_JDK_9"))
            .or_else(|| get("JAVA_OPTS")),
        (3, 2) | (3, 3) if major > 8 => get("JAVA_OPTS_FOR_JDK_11")
            .or_else(|| get("JAVA_OPTS_FOR_JDK_9"))
            .or_else(|| Some(default())),
        (2, _) | (3, 0..=3) => get("JAVA_OPTS"),
        _ => get("JAVA_OPTS_FOR_JDK_11").or_else(|| get("JAVA_OPTS")),
    }
    .unwrap_or_else(default)
}

/// The major version of the JDK at `home`: its `release` file, else what `bin/java -version` says.
fn major_of(home: &str) -> u32 {
    let (_, major) = super::script_jdk::jdk_at(home);
    if major != 0 {
        return major;
    }
    let out = Command::new(Path::new(home).join("bin/java"))
        .arg("-version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .unwrap_or_default();
    // `openjdk version "17.0.15" 2025-04-15`, `java version "1.8.0_412"`.
    let quoted = text.split('"').nth(1).unwrap_or("");
    let major = match quoted.strip_prefix("1.") {
        Some(rest) => rest.split('.').next(),
        None => quoted.split(['.', '-', '+']).next(),
    };
    major.and_then(|m| m.parse().ok()).unwrap_or(0)
}

/// A `JAVA_HOME` only running the shell could tell.
#[derive(Debug, Clone, thiserror::Error)]
#[error("JAVA_HOME = {raw} in {file} is evaluated by the shell at start; cannot tell which JDK it names")]
pub struct ShellOnlyHome {
    pub raw: String,
    pub file: &'static str,
}

/// The JDK the role's start script of `to` would run: `Ok(None)` when it finds none, `Err` when
/// only the shell could tell (a `JAVA_HOME` computed by a command).
pub fn find(conf: &ConfFile, role: Role, to: Version) -> Result<Option<JdkUsed>, ShellOnlyHome> {
    let found = match role {
        Role::Fe => {
            super::script_jdk::script_java_home(conf, Some(to)).map_err(|e| ShellOnlyHome {
                raw: e.0,
                file: "fe.conf",
            })?
        }
        // start_backend.sh exports be.conf's keys over the environment and infers nothing.
        Role::Be | Role::Cn => match conf.get("JAVA_HOME") {
            Some(raw) => {
                let v = super::script_jdk::shell_word(&raw).ok_or_else(|| ShellOnlyHome {
                    raw: raw.trim().to_string(),
                    file: role.conf_name(),
                })?;
                Some((v, format!("JAVA_HOME in {}", role.conf_name())))
            }
            None => std::env::var("JAVA_HOME")
                .ok()
                .filter(|h| !h.is_empty())
                .map(|h| (h, "JAVA_HOME in the environment".to_string())),
        },
    };
    Ok(found.map(|(path, source)| {
        let home = Path::new(&path);
        let has_java = home.join("bin/java").is_file();
        JdkUsed {
            major: if has_java { major_of(&path) } else { 0 },
            kind: if home.join("bin/javac").is_file() {
                "jdk"
            } else {
                "jre"
            },
            has_java,
            path,
            source,
        }
    }))
}

/// The findings about the JDK and the options it will be handed.
pub fn judge(
    found: &Result<Option<JdkUsed>, ShellOnlyHome>,
    conf: &ConfFile,
    role: Role,
    to: Version,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let jdk = match found {
        Err(why) => {
            out.push(Finding::new(
                "jdk.found",
                Level::Warning,
                why.to_string(),
                "write JAVA_HOME as a plain path so it can be checked",
                DOC_JDK,
            ));
            return out;
        }
        Ok(None) if role == Role::Fe => {
            out.push(Finding::new("jdk.found", Level::Error,
                "no JDK: JAVA_HOME is set neither in the environment nor in fe.conf, and no javac is on PATH".into(),
                "install a JDK and set JAVA_HOME in fe.conf or the environment", DOC_JDK));
            return out;
        }
        Ok(None) => {
            let level = if to.at_least(3, 5) {
                Level::Warning
            } else {
                Level::Notice
            };
            out.push(Finding::new("jdk.found", level,
                format!("JAVA_HOME is not set for the {}: start_backend.sh says \"JAVA_HOME env not set. Functions or features that requires jni will not work at all.\"", role.word().to_uppercase()),
                "set JAVA_HOME (JDK 17 or later from 3.5) if external catalogs, Java UDFs or other JNI features are used", DOC_JDK));
            return out;
        }
        Ok(Some(j)) => j,
    };
    let at = format!("{} ({})", jdk.path, jdk.source);
    if !jdk.has_java {
        out.push(Finding::new(
            "jdk.found",
            Level::Error,
            format!("JAVA_HOME={at} has no bin/java"),
            "point JAVA_HOME at an installed JDK",
            DOC_JDK,
        ));
        return out;
    }
    let target = format!("StarRocks {}.{}", to.major, to.minor);
    if role == Role::Fe && jdk.kind == "jre" && to.at_least(3, 0) {
        // The MIN_JDK_VERSION=17 script dropped its JRE test; the prerequisites page still says
        // "StarRocks does not support JRE".
        let how = if to.at_least(3, 5) {
            "start_fe.sh runs it, but the deployment prerequisites say \"StarRocks does not support JRE\""
        } else {
            "start_fe.sh refuses it"
        };
        out.push(Finding::new(
            "jdk.jre",
            Level::Error,
            format!("JAVA_HOME={at} is a JRE (no bin/javac) and the target is {target}: {how}"),
            "install a JDK (StarRocks does not support a JRE) and point JAVA_HOME at it",
            DOC_JDK,
        ));
    }
    if jdk.major == 0 {
        out.push(Finding::new(
            "jdk.version",
            Level::Warning,
            format!("cannot tell the version of the JDK at {at}"),
            "check `java -version` by hand",
            DOC_JDK,
        ));
        return out;
    }
    let major = jdk.major;
    let refused = match role {
        Role::Fe => {
            major < to.fe_min_jdk()
                || (to.line() >= (3, 2) && to.line() <= (3, 3) && (9..11).contains(&major))
        }
        Role::Be | Role::Cn => to.at_least(3, 5) && major < 17,
    };
    if refused {
        let need = match (role, to.line()) {
            (Role::Fe, (3, 2) | (3, 3)) => "JDK 8, 11 or 17".to_string(),
            (Role::Fe, _) => format!("JDK {} or later", to.fe_min_jdk()),
            _ => "JDK 17 or later".into(),
        };
        out.push(Finding::new(
            "jdk.version",
            Level::Error,
            format!("JDK {major} at {at}: {target} needs {need}"),
            "install a supported JDK and point JAVA_HOME at it",
            if to.at_least(3, 5) { DOC_35 } else { DOC_JDK },
        ));
    } else {
        out.push(Finding::new(
            "jdk.version",
            Level::Ok,
            format!("{} {major} at {at}", jdk.kind.to_uppercase()),
            "",
            DOC_JDK,
        ));
    }
    if role == Role::Fe {
        if to.major == 2 && major > 8 && conf.get("JAVA_OPTS_FOR_JDK_9").is_none() {
            out.push(Finding::new("fe.java-opts.jdk9", Level::Error,
                format!("JDK {major} with no JAVA_OPTS_FOR_JDK_9 in fe.conf: start_fe.sh of {target} exits with \"JAVA_OPTS_FOR_JDK_9 is not set in fe.conf\""),
                "add JAVA_OPTS_FOR_JDK_9 to fe.conf, or run JDK 8", DOC_JDK));
        }
        let (var, opts) = fe_options(conf, to, major);
        let bad = refused_options(&opts, major);
        if bad.is_empty() {
            out.push(Finding::new(
                "fe.java-opts.jvm",
                Level::Ok,
                format!("{var} of fe.conf holds no option JDK {major} refuses"),
                "",
                DOC_35,
            ));
        } else {
            out.push(Finding::new("fe.java-opts.jvm", Level::Error,
                format!("{var} of fe.conf holds options JDK {major} refuses (the FE exits with `Unrecognized VM option` in fe.out): {}", bad.join(" ")),
                "remove them (CMS and the JDK 8 GC logging options; -Xlog:gc* replaces the GC log flags) or take the target's default JAVA_OPTS", DOC_35));
        }
    }
    out
}

/// The heap `-Xmx` of an options string, in bytes.
pub fn max_heap(opts: &str) -> Option<u64> {
    let v = opts.split_whitespace().rev().find_map(|w| {
        w.trim_matches(['"', '\''])
            .strip_prefix("-Xmx")
            .map(str::to_string)
    })?;
    let (num, mult) = match v.chars().last()? {
        'k' | 'K' => (&v[..v.len() - 1], 1u64 << 10),
        'm' | 'M' => (&v[..v.len() - 1], 1 << 20),
        'g' | 'G' => (&v[..v.len() - 1], 1 << 30),
        't' | 'T' => (&v[..v.len() - 1], 1 << 40),
        _ => (v.as_str(), 1),
    };
    num.parse::<u64>().ok().map(|n| n * mult)
}
