//! The sandbox's fe.conf: every folder, port and address the production conf names moved into the
//! workspace, a new cluster id, and the election-group reset.
//!
//! It reads the conf as start_fe.sh does (uppercase keys are exported to the shell, `JAVA_OPTS*`
//! may write GC logs and heap dumps anywhere), because a key left alone is a file of production's
//! the sandbox would write.

use std::path::Path;

use super::jdk::shell_word;
use super::Plan;
use crate::conf::ConfFile;
use crate::version::{KEY_NEW_RECOVERY, KEY_OLD_RECOVERY};

impl Plan {
    /// The sandbox fe.conf for an FE home that the scripts reach as `fe_home` (a path made only of
    /// [`shell_safe`](super::home::shell_safe) characters: see
    /// [`script_home`](super::home::script_home)).
    pub fn rewrite(&mut self, fe_home: &str, cluster_id: i64) {
        let mut conf = self.base_conf.clone();
        let mut changes = Vec::new();
        let log = format!("{fe_home}/log");
        // Every line of an uppercase key, since the shell's last line may not be Java's.
        changes.extend(conf.set_all("LOG_DIR", &log));
        // start_fe.sh and stop_fe.sh export PID_DIR and then read fe.conf: a PID_DIR line there
        // would make the sandbox lock, and its stop script signal, production's fe.pid.
        changes.extend(conf.set_all("PID_DIR", &format!("{fe_home}/bin")));
        for (key, dest) in env_path_keys(&self.base_conf, fe_home) {
            changes.extend(conf.set_all(&key, &dest));
        }
        for (key, _, value) in java_opts_moved(&self.base_conf, &log) {
            changes.extend(conf.set_all(&key, &value));
        }
        // Below INFO the readiness lines the decision waits for are never written.
        if conf
            .get("sys_log_level")
            .is_some_and(|l| !l.trim().eq_ignore_ascii_case("INFO"))
        {
            changes.push(conf.set("sys_log_level", "INFO"));
        }
        changes.push(conf.set("meta_dir", &format!("{fe_home}/meta")));
        changes.push(conf.set("sys_log_dir", &log));
        changes.push(conf.set("audit_log_dir", &log));
        // Any other folder the production conf names would make the sandbox write there.
        let keys: Vec<String> = self.base_conf.effective().into_keys().collect();
        let mut extra: Vec<&String> = keys
            .iter()
            .filter(|k| {
                (k.ends_with("_log_dir") && !matches!(k.as_str(), "sys_log_dir" | "audit_log_dir"))
                    || matches!(k.as_str(), "tmp_dir" | "small_file_dir")
            })
            .collect();
        extra.sort();
        for k in extra {
            let dest = if k.ends_with("_log_dir") {
                log.clone()
            } else {
                format!("{fe_home}/{k}")
            };
            changes.push(conf.set(k, &dest));
        }
        for (k, p) in &self.ports {
            changes.push(conf.set(k, &p.to_string()));
        }
        changes.push(conf.set("arrow_flight_port", "-1"));
        // The sandbox must never claim a production address (a copied frontend_address, or the
        // FQDN a ROLE file asks for), and inside the fence only loopback exists.
        changes.push(conf.set("frontend_address", "127.0.0.1"));
        changes.push(conf.set("cluster_id", &cluster_id.to_string()));
        changes.push(conf.set(KEY_OLD_RECOVERY, "true"));
        changes.push(conf.set(KEY_NEW_RECOVERY, "true"));
        if let Some(rm) = &self.source.run_mode {
            if conf.get("run_mode").as_deref().unwrap_or("shared_nothing") != rm {
                changes.push(conf.set("run_mode", rm));
            }
        }
        changes.retain(|c| c.before.as_deref() != Some(c.after.as_str()));
        self.conf = conf;
        self.changes = changes;
    }
}

/// Uppercase keys of fe.conf that `export_env_from_conf` exports and that name a folder of their
/// own (an absolute path not under `${STARROCKS_HOME}`), with where they go in the sandbox.
/// `JAVA_HOME` names the JDK to run, and search paths only name what is read, so they stay.
fn env_path_keys(conf: &ConfFile, fe_home: &str) -> Vec<(String, String)> {
    const KEEP: &[&str] = &[
        "JAVA_HOME",
        "LOG_DIR",
        "PID_DIR",
        "PATH",
        "LD_LIBRARY_PATH",
        "LD_PRELOAD",
        "CLASSPATH",
    ];
    let mut out: Vec<(String, String)> = conf
        .effective()
        .into_iter()
        .filter(|(k, _)| is_env_key(k) && !KEEP.contains(&k.as_str()))
        .filter_map(|(k, raw)| {
            // The script sets these to the sandbox's own folders before it reads fe.conf.
            let unquoted = raw.trim().trim_start_matches(['"', '\'']);
            let in_sandbox = ["STARROCKS_HOME", "DORIS_HOME", "LOG_DIR", "PID_DIR"]
                .iter()
                .any(|v| {
                    unquoted.starts_with(&format!("${v}"))
                        || unquoted.starts_with(&format!("${{{v}}}"))
                });
            if in_sandbox {
                return None;
            }
            let value = shell_word(&raw).unwrap_or_else(|| raw.trim().to_string());
            if !(value.starts_with('/') || value.starts_with('~')) {
                return None;
            }
            let dest = match k.as_str() {
                "STARROCKS_HOME" | "DORIS_HOME" => fe_home.to_string(),
                _ => format!("{fe_home}/{}", k.to_ascii_lowercase()),
            };
            (value != dest).then_some((k, dest))
        })
        .collect();
    out.sort();
    out
}

/// Whether `export_env_from_conf` exports `key`: `^[[:upper:]]([[:upper:]]|_|[[:digit:]])*`.
fn is_env_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// `JAVA_OPTS*` keys of fe.conf whose JVM options write to an absolute path (GC log, error file,
/// heap dump), with the options found and the value that writes those files under `log_dir`
/// instead. `-Xloggc:` truncates its file when the JVM starts, so left alone the sandbox would
/// overwrite production's GC log.
pub(super) fn java_opts_moved(
    conf: &ConfFile,
    log_dir: &str,
) -> Vec<(String, Vec<String>, String)> {
    let mut out = Vec::new();
    let mut keys: Vec<(String, String)> = conf
        .effective()
        .into_iter()
        .filter(|(k, _)| k.starts_with("JAVA_OPTS") && is_env_key(k))
        .collect();
    keys.sort();
    for (key, value) in keys {
        let t = value.trim();
        // `ConfFile::set` puts double quotes back; single quotes stay part of the value.
        let mut inner = if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
            t[1..t.len() - 1].to_string()
        } else {
            t.to_string()
        };
        let mut found = Vec::new();
        let opts: Vec<String> = inner
            .trim_matches('\'')
            .split_whitespace()
            .map(String::from)
            .collect();
        for opt in opts {
            if let Some(moved) = relocate_opt(&opt, log_dir) {
                inner = inner.replace(&opt, &moved);
                found.push(opt);
            }
        }
        if !found.is_empty() {
            out.push((key, found, inner));
        }
    }
    out
}

/// `opt` with its absolute output path moved into `log_dir` (same file name), or `None` when it
/// writes nowhere absolute.
fn relocate_opt(opt: &str, log_dir: &str) -> Option<String> {
    let name = |p: &str| {
        Path::new(p)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
    };
    for prefix in ["-Xloggc:", "-XX:ErrorFile="] {
        if let Some(p) = opt.strip_prefix(prefix) {
            return p
                .starts_with('/')
                .then(|| Some(format!("{prefix}{log_dir}/{}", name(p)?)))
                .flatten();
        }
    }
    if let Some(p) = opt.strip_prefix("-XX:HeapDumpPath=") {
        return p
            .starts_with('/')
            .then(|| format!("-XX:HeapDumpPath={log_dir}"));
    }
    let rest = opt.strip_prefix("-Xlog:")?;
    // -Xlog:<what>:<output>:<decorators>:<options>, the output as `file=<path>` or a bare path.
    let mut parts: Vec<String> = rest.split(':').map(String::from).collect();
    let output = parts.get(1)?.clone();
    let (pre, path) = match output.strip_prefix("file=") {
        Some(p) => ("file=", p.to_string()),
        None => ("", output.clone()),
    };
    if !path.starts_with('/') {
        return None;
    }
    parts[1] = format!("{pre}{log_dir}/{}", name(&path)?);
    Some(format!("-Xlog:{}", parts.join(":")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uppercase_path_keys_move_into_the_home_and_java_home_stays() {
        let conf = ConfFile::parse(
            "PID_DIR = /opt/sr/fe/bin\nSTARROCKS_HOME=/opt/sr/fe\nUDF_RUNTIME_DIR = \"/data/udf\"\n\
             JAVA_HOME = /usr/lib/jvm/17\nLD_LIBRARY_PATH=/opt/lib\nJAVA_OPTS=\"-Xmx8g\"\n\
             REL_DIR = ${STARROCKS_HOME}/rel\nlower_dir = /data/x\nDATE = `date +%Y`\n",
        );
        assert_eq!(
            env_path_keys(&conf, "/ws/fe"),
            [
                ("STARROCKS_HOME".to_string(), "/ws/fe".to_string()),
                (
                    "UDF_RUNTIME_DIR".to_string(),
                    "/ws/fe/udf_runtime_dir".to_string()
                ),
            ]
        );
        assert!(is_env_key("JAVA_OPTS_FOR_JDK_11") && !is_env_key("Java_opts"));
    }

    #[test]
    fn jvm_options_writing_outside_the_log_dir_move_into_it() {
        let conf = ConfFile::parse(
            "JAVA_OPTS=\"-Xloggc:/var/log/gc.log -Xlog:gc*:${LOG_DIR}/gc.log:time -XX:ErrorFile=/var/hs_err_pid%p.log\"\n\
             JAVA_OPTS_FOR_JDK_11='-Xlog:gc*:file=/var/gc11.log:time -XX:HeapDumpPath=${LOG_DIR}'\n\
             JAVA_OPTS_FOR_JDK_9=\"-XX:HeapDumpPath=/dumps -Xmx4g\"\n",
        );
        let moved = java_opts_moved(&conf, "/ws/fe/log");
        let keys: Vec<(&str, Vec<&str>, &str)> = moved
            .iter()
            .map(|(k, o, v)| {
                (
                    k.as_str(),
                    o.iter().map(String::as_str).collect(),
                    v.as_str(),
                )
            })
            .collect();
        assert_eq!(
            keys,
            [
                (
                    "JAVA_OPTS",
                    vec!["-Xloggc:/var/log/gc.log", "-XX:ErrorFile=/var/hs_err_pid%p.log"],
                    "-Xloggc:/ws/fe/log/gc.log -Xlog:gc*:${LOG_DIR}/gc.log:time -XX:ErrorFile=/ws/fe/log/hs_err_pid%p.log"
                ),
                (
                    "JAVA_OPTS_FOR_JDK_11",
                    vec!["-Xlog:gc*:file=/var/gc11.log:time"],
                    "'-Xlog:gc*:file=/ws/fe/log/gc11.log:time -XX:HeapDumpPath=${LOG_DIR}'"
                ),
                (
                    "JAVA_OPTS_FOR_JDK_9",
                    vec!["-XX:HeapDumpPath=/dumps"],
                    "-XX:HeapDumpPath=/ws/fe/log -Xmx4g"
                ),
            ]
        );
        let mut c = conf.clone();
        c.set_all("JAVA_OPTS", &moved[0].2);
        assert!(c
            .render()
            .starts_with("JAVA_OPTS=\"-Xloggc:/ws/fe/log/gc.log -Xlog:gc*:${LOG_DIR}/gc.log:time"));
    }
}
