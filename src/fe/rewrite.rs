//! The sandbox's fe.conf: every folder, port and address the production conf names moved into the
//! workspace, a new cluster id, and the election-group reset.
//!
//! It reads the conf as start_fe.sh does (uppercase keys are exported to the shell, `JAVA_OPTS*`
//! may write GC logs and heap dumps anywhere), because a key left alone is a file of production's
//! the sandbox would write.

use super::jdk::shell_word;
use super::Plan;
use crate::conf::{Change, ConfFile};
use crate::runner::Ending;
use java_opts::{OptChange, Targets};

mod java_opts;
use crate::version::{KEY_NEW_RECOVERY, KEY_OLD_RECOVERY};

impl Plan {
    /// The sandbox fe.conf for an FE home that the scripts reach as `fe_home` (a path made only of
    /// [`shell_safe`](super::home::shell_safe) characters: see
    /// [`script_home`](super::home::script_home)).
    pub fn rewrite(&mut self, fe_home: &str, cluster_id: i64) {
        let mut conf = self.base_conf.clone();
        let mut changes = Vec::new();
        // Java ends a line at a bare CR, the start scripts do not: LF is a line end to both.
        let bare = conf.bare_cr_lines();
        for line in conf.normalise_line_ends() {
            let end = if bare.contains(&line) {
                "CR"
            } else {
                "CRLF after a backslash"
            };
            changes.push(Change {
                key: String::new(),
                line,
                before: Some(format!("(line end {end})")),
                after: "(line end LF)".into(),
            });
        }
        let log = format!("{fe_home}/log");
        // Every line of an uppercase key, since the shell's last line may not be Java's.
        changes.extend(conf.set_all("LOG_DIR", &log));
        // start_fe.sh and stop_fe.sh export PID_DIR and then read fe.conf: a PID_DIR line there
        // would make the sandbox lock, and its stop script signal, production's fe.pid.
        changes.extend(conf.set_all("PID_DIR", &format!("{fe_home}/bin")));
        for (key, dest) in env_path_keys(&self.base_conf, fe_home) {
            changes.extend(conf.set_all(&key, &dest));
        }
        let tmp = format!("{fe_home}/tmp");
        let targets = Targets {
            home: fe_home,
            log: &log,
            tmp: &tmp,
        };
        let env_keys = env_path_keys(&self.base_conf, fe_home);
        for (key, lines, opts) in java_opts_moved(&mut conf, &targets, &env_keys) {
            // The plan shows each option's own before -> after under its line's.
            for line in lines {
                let span = line.line..line.line + line.after.lines().count().max(1);
                changes.push(line);
                for (_, o) in opts.iter().filter(|(n, _)| span.contains(n)) {
                    changes.push(Change {
                        key: key.clone(),
                        line: span.start,
                        before: Some(o.before.clone()),
                        after: match &o.action {
                            java_opts::Action::Moved(to) => to.clone(),
                            java_opts::Action::Dropped => format!("(dropped: {})", o.why),
                        },
                    });
                }
            }
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

/// The options a rewrite changed, each with its 1-based line.
type OptsByLine = Vec<(usize, OptChange)>;

/// `JAVA_OPTS*` keys of fe.conf, in order.
fn java_opts_keys(conf: &ConfFile) -> Vec<String> {
    let mut keys: Vec<String> = conf
        .effective()
        .into_keys()
        .filter(|k| k.starts_with("JAVA_OPTS") && is_env_key(k))
        .collect();
    keys.sort();
    keys
}

/// Rewrites the `JAVA_OPTS*` lines of `conf` for the sandbox at `t` (see [`java_opts`]): every
/// option that writes a file outside the sandbox points into it, every one that listens is
/// dropped. The shell's variables are the sandbox's: the script sets `STARROCKS_HOME`, `LOG_DIR`
/// and `PID_DIR` to its own folders and the rewrite moves fe.conf's path keys; others come from
/// the environment start_fe.sh inherits.
pub(super) fn java_opts_moved(
    conf: &mut ConfFile,
    t: &Targets,
    env_keys: &[(String, String)],
) -> Vec<(String, Vec<Change>, OptsByLine)> {
    let var = |n: &str| match n {
        "STARROCKS_HOME" | "DORIS_HOME" => Some(t.home.to_string()),
        "LOG_DIR" => Some(t.log.to_string()),
        "PID_DIR" => Some(format!("{}/bin", t.home)),
        _ => env_keys
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(n).ok()),
    };
    let mut out = Vec::new();
    for key in java_opts_keys(conf) {
        let mut opts = Vec::new();
        let lines = conf.edit_lines(&key, &mut |n, text, from| {
            let continued = crate::props::continues(text);
            let mut found = Vec::new();
            let new = java_opts::edit_line(
                text,
                from,
                continued,
                &mut |o| java_opts::judge(o, &var, t),
                &mut found,
            );
            opts.extend(found.into_iter().map(|o| (n, o)));
            new
        });
        if !lines.is_empty() {
            out.push((key, lines, opts));
        }
    }
    out
}

/// What preflight says about fe.conf before anything runs: lines only Java ends (bare CR), and
/// each JVM option the sandbox moves or drops, as `before (what) -> after`.
pub(super) fn conf_warnings(conf: &ConfFile, file: &str) -> Vec<String> {
    let mut out = Vec::new();
    let crs = conf.bare_cr_lines();
    if !crs.is_empty() {
        let lines: Vec<String> = crs.iter().map(|l| l.to_string()).collect();
        out.push(format!(
            "{file}: line(s) {} end with a bare carriage return (CR): a line end to the FE (java.util.Properties) but not to the start scripts; the sandbox copy ends them with LF, which the FE reads the same way (fix production's file with `sed -i 's/\\r$//; s/\\r/\\n/g'`)",
            lines.join(", ")
        ));
    }
    let mut c = conf.clone();
    let t = Targets {
        home: "<sandbox>/fe",
        log: "<sandbox>/fe/log",
        tmp: "<sandbox>/fe/tmp",
    };
    // One warning per key: the summary shows the first few warnings only.
    for (key, _, opts) in java_opts_moved(&mut c, &t, &[]) {
        let said: Vec<String> = opts.iter().map(|(_, o)| o.describe()).collect();
        out.push(format!("{file}: {key}: {}", said.join("; ")));
    }
    out
}

/// fe.conf files the rehearsal cannot rewrite safely: a malformed `\u` escape (the JVM loads
/// none of the file), or a line where the start scripts export an uppercase key that Java reads
/// as something else (so the rewrite, which follows Java, would leave the shell's value).
pub(super) fn check_conf(conf: &ConfFile, file: &str) -> Result<(), Ending> {
    if let Some(e) = conf.java_error() {
        return Err(Ending::bad_input(format!(
            "{file}: {e}; the FE would refuse this fe.conf: fix the escape"
        )));
    }
    let mut c = conf.clone();
    c.normalise_line_ends();
    if let Some(m) = c.shell_mismatches().first() {
        return Err(Ending::bad_input(format!(
            "{file}: {m}: the start scripts export this key from a line Java reads otherwise (a backslash before it, in its name or at the end of the line above); write it as `KEY = value` on a line of its own"
        )));
    }
    Ok(())
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

    fn moved(conf: &str) -> (String, Vec<String>) {
        let mut c = ConfFile::parse(conf);
        let t = Targets {
            home: "/ws/fe",
            log: "/ws/fe/log",
            tmp: "/ws/fe/tmp",
        };
        let env = [("GC_DIR".to_string(), "/ws/fe/gc_dir".to_string())];
        let found = java_opts_moved(&mut c, &t, &env)
            .into_iter()
            .flat_map(|(k, _, opts)| {
                opts.into_iter()
                    .map(move |o| format!("{k}: {}", o.1.describe()))
            })
            .collect();
        (c.render(), found)
    }

    /// Every output file goes to the sandbox's log folder, judged after the shell's expansion
    /// (`$HOME`, `${HOME}`, a relative path all move; `$LOG_DIR`, `$STARROCKS_HOME` and a moved
    /// path key already point into the sandbox), and every listening port is dropped.
    #[test]
    fn jvm_options_writing_or_listening_outside_the_sandbox_are_moved_or_dropped() {
        let (out, found) = moved(
            "JAVA_OPTS=\"-Xmx4g -Xloggc:$HOME/fe.gc.log -XX:ErrorFile=${HOME}/hs_err_%p.log -XX:HeapDumpPath=$HOME/dumps \\\n   \
             -XX:+LogVMOutput -XX:LogFile=/var/log/sr/vm.log -XX:StartFlightRecording=name=x,filename=/var/log/sr/fe.jfr,settings=profile \
             -XX:FlightRecorderOptions:repository=/data/jfr -Djava.io.tmpdir=/data/prod-tmp \
             -Dcom.sun.management.jmxremote -Dcom.sun.management.jmxremote.port=9999 -Dcom.sun.management.jmxremote.rmi.port=9998 \
             -javaagent:/opt/jmx_prometheus_javaagent.jar=9404:/opt/jmx.yaml -javaagent:/opt/otel.jar \
             -agentlib:jdwp=transport=dt_socket,server=y,suspend=n,address=*:5005 -Xlog:safepoint:file=gc/sp.log:time\"\n\
             JAVA_OPTS_FOR_JDK_11='-Xlog:gc*:${LOG_DIR}/gc.log:time -Xloggc:$STARROCKS_HOME/log/gc.log -Xloggc:$GC_DIR/g.log -XX:HeapDumpPath=`pwd`'\n",
        );
        assert_eq!(
            out,
            "JAVA_OPTS=\"-Xmx4g -Xloggc:/ws/fe/log/fe.gc.log -XX:ErrorFile=/ws/fe/log/hs_err_%p.log -XX:HeapDumpPath=/ws/fe/log \\\n   \
             -XX:+LogVMOutput -XX:LogFile=/ws/fe/log/vm.log -XX:StartFlightRecording=name=x,filename=/ws/fe/log/fe.jfr,settings=profile \
             -XX:FlightRecorderOptions:repository=/ws/fe/log -Djava.io.tmpdir=/ws/fe/tmp \
             -Dcom.sun.management.jmxremote -javaagent:/opt/otel.jar \
             -Xlog:safepoint:file=/ws/fe/log/sp.log:time\"\n\
             JAVA_OPTS_FOR_JDK_11='-Xlog:gc*:${LOG_DIR}/gc.log:time -Xloggc:$STARROCKS_HOME/log/gc.log -Xloggc:$GC_DIR/g.log -XX:HeapDumpPath=/ws/fe/log'\n"
        );
        let want = [
            "JAVA_OPTS: -Xloggc:$HOME/fe.gc.log (GC log, truncated at start) -> -Xloggc:/ws/fe/log/fe.gc.log",
            "JAVA_OPTS: -XX:ErrorFile=${HOME}/hs_err_%p.log (fatal error log) -> -XX:ErrorFile=/ws/fe/log/hs_err_%p.log",
            "JAVA_OPTS: -XX:HeapDumpPath=$HOME/dumps (heap dump) -> -XX:HeapDumpPath=/ws/fe/log",
            "JAVA_OPTS: -XX:LogFile=/var/log/sr/vm.log (VM log) -> -XX:LogFile=/ws/fe/log/vm.log",
            "JAVA_OPTS: -XX:StartFlightRecording=name=x,filename=/var/log/sr/fe.jfr,settings=profile (flight recording) -> -XX:StartFlightRecording=name=x,filename=/ws/fe/log/fe.jfr,settings=profile",
            "JAVA_OPTS: -XX:FlightRecorderOptions:repository=/data/jfr (flight recorder repository) -> -XX:FlightRecorderOptions:repository=/ws/fe/log",
            "JAVA_OPTS: -Djava.io.tmpdir=/data/prod-tmp (JVM temporary files) -> -Djava.io.tmpdir=/ws/fe/tmp",
            "JAVA_OPTS: -Dcom.sun.management.jmxremote.port=9999 (JMX remote port and its settings) -> dropped",
            "JAVA_OPTS: -Dcom.sun.management.jmxremote.rmi.port=9998 (JMX remote port and its settings) -> dropped",
            "JAVA_OPTS: -javaagent:/opt/jmx_prometheus_javaagent.jar=9404:/opt/jmx.yaml (Java agent listening on a port) -> dropped",
            "JAVA_OPTS: -agentlib:jdwp=transport=dt_socket,server=y,suspend=n,address=*:5005 (debugger port) -> dropped",
            "JAVA_OPTS: -Xlog:safepoint:file=gc/sp.log:time (unified JVM log) -> -Xlog:safepoint:file=/ws/fe/log/sp.log:time",
            "JAVA_OPTS_FOR_JDK_11: -XX:HeapDumpPath=`pwd` (heap dump) -> -XX:HeapDumpPath=/ws/fe/log",
        ];
        assert_eq!(found, want);
        // Java reads the same JAVA_OPTS key on the same line (the FE checks `${VAR}` in it too).
        let java = crate::props::parse_map(&out);
        assert!(java["JAVA_OPTS"].starts_with("\"-Xmx4g -Xloggc:/ws/fe/log/fe.gc.log"));
        assert_eq!(moved("JAVA_OPTS = \"-Xmx4g\"\n").1.len(), 0);
    }

    #[test]
    fn variables_expand_as_the_shell_would() {
        let var = |n: &str| match n {
            "HOME" => Some("/root".to_string()),
            _ => None,
        };
        assert_eq!(
            java_opts::expand("$HOME/a", &var).as_deref(),
            Some("/root/a")
        );
        assert_eq!(
            java_opts::expand("${HOME}x", &var).as_deref(),
            Some("/rootx")
        );
        assert_eq!(
            java_opts::expand("~/a$UNSET", &var).as_deref(),
            Some("/root/a")
        );
        assert_eq!(java_opts::expand("$(id)", &var), None);
        assert_eq!(java_opts::expand("${HOME:-/x}", &var), None);
    }
}
