//! Preflight and plan: everything the FE rehearsal decides before it writes anything.
//!
//! The checks are read-only and in the order an operator would fix them: the meta dir, the new
//! package, the production conf and its ports, the cluster id, where the workspace goes and how
//! much room it has, the JDK, and whether the source is live. The plan that comes out holds the
//! sandbox ports and the base conf; `--plan` prints it and stops there.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::{Ending, FeConfig, Run};
use crate::conf::{Change, ConfFile};
use crate::meta::{self, MetaInventory};
use crate::version::{Version, KEY_NEW_RECOVERY, KEY_OLD_RECOVERY};
use crate::workspace::{self, Layout, Place};

/// Production ports that matter for an FE, and StarRocks' defaults for them.
const PORT_KEYS: &[(&str, u16)] = &[
    ("http_port", 8030),
    ("rpc_port", 9020),
    ("query_port", 9030),
    ("edit_log_port", 9010),
    ("https_port", 8443),
    ("cloud_native_meta_port", 6090),
    ("arrow_flight_port", 9408),
];

/// What preflight found and the sandbox will use.
pub struct Plan {
    pub source: MetaInventory,
    pub source_bytes: u64,
    pub source_files: usize,
    pub base_conf: ConfFile,
    pub base_conf_path: String,
    /// Sandbox ports by key, in launch order.
    pub ports: Vec<(String, u16)>,
    pub production: BTreeMap<String, u16>,
    pub password: Option<String>,
    pub java: Option<(String, u32)>,
    pub warnings: Vec<String>,
    /// Filled by `rewrite`.
    pub conf: ConfFile,
    pub changes: Vec<Change>,
}

impl Plan {
    pub fn port(&self, key: &str) -> u16 {
        self.ports
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, p)| *p)
            .unwrap_or(0)
    }

    pub fn preflight_detail(&self) -> String {
        let mut s = format!(
            "meta clusterId {}, {} image(s) up to {}, {} journal file(s), {:.1} MiB",
            self.source.cluster_id,
            self.source.image_files,
            self.source
                .highest_image_id
                .map(|i| i.to_string())
                .unwrap_or_else(|| "none".into()),
            self.source.journal_files,
            self.source_bytes as f64 / (1 << 20) as f64
        );
        if !self.source.live_reasons.is_empty() {
            s.push_str("; source is LIVE");
        }
        s
    }

    /// The sandbox fe.conf for an FE home that the scripts reach as `fe_home` (a path made only of
    /// [`shell_safe`] characters: see [`script_home`]).
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

    /// The `--plan` text.
    pub fn render(&mut self, cfg: &FeConfig) -> String {
        let ws = format!(
            "{}/sr-rehearse-<UTC timestamp>-<random>",
            cfg.workspace_root.display()
        );
        let fe_home = format!("{ws}/fe");
        let root =
            fs::canonicalize(&cfg.workspace_root).unwrap_or_else(|_| cfg.workspace_root.clone());
        let link = (!shell_safe(&root.display().to_string())).then(|| {
            home_link_path(Path::new("sr-rehearse-TIMESTAMP-RANDOM"))
                .display()
                .to_string()
                .replace("TIMESTAMP-RANDOM", "<UTC timestamp>-<random>")
        });
        self.rewrite(link.as_deref().unwrap_or(&fe_home), cfg.cluster_id);
        let mut s = String::from("plan (nothing below has been done):\n");
        s.push_str(&format!(
            "  1. create {ws}/ with fe/bin (copied), fe/lib (linked to {}/lib), fe/conf, fe/log\n",
            cfg.new_fe.display()
        ));
        if let Some(l) = &link {
            s.push_str(&format!(
                "     and the link {l} -> {fe_home}, through which the scripts reach it (the workspace path has characters the start scripts split or evaluate); removed once the FE is stopped\n"
            ));
        }
        s.push_str(&format!(
            "  2. copy {} -> {fe_home}/meta ({} files, {:.1} MiB), hashing into {ws}/manifest.sha256\n",
            self.source.path.display(),
            self.source_files,
            self.source_bytes as f64 / (1 << 20) as f64
        ));
        s.push_str(&format!(
            "  3. rewrite fe.conf (base: {}):\n",
            self.base_conf_path
        ));
        for c in &self.changes {
            s.push_str(&format!("       {}\n", c.describe()));
        }
        s.push_str(&format!(
            "  4. patch {fe_home}/meta/image/VERSION: clusterId={} -> clusterId={}\n",
            self.source.cluster_id, cfg.cluster_id
        ));
        s.push_str(&format!(
            "  5. run `bash {fe_home}/bin/start_fe.sh` in its own process group (JAVA_HOME={})\n",
            self.java.as_ref().map(|j| j.0.as_str()).unwrap_or("unset")
        ));
        s.push_str("  6. decide from fe.log/fe.warn.log/fe.out, GET /api/bootstrap, ");
        match &cfg.query {
            Some(q) => s.push_str(&format!("`{q}` as {} over MySQL, ", cfg.user)),
            None => s.push_str("(no SQL check), "),
        }
        s.push_str(&format!(
            "GET /api/health; timeout {}\n",
            humantime::format_duration(cfg.timeout)
        ));
        s.push_str(
            "  7. stop with bin/stop_fe.sh, then SIGTERM, then SIGKILL to the process group\n",
        );
        s.push_str(&format!(
            "  8. report; keep the workspace: {:?}\n",
            cfg.keep
        ));
        s.push_str("ports (sandbox / production):\n");
        for (k, p) in &self.ports {
            s.push_str(&format!(
                "  {k:<24} {p:>5} / {}\n",
                self.production
                    .get(k)
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "-".into())
            ));
        }
        s
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
fn java_opts_moved(conf: &ConfFile, log_dir: &str) -> Vec<(String, Vec<String>, String)> {
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

/// Characters that reach a start script and the FE unchanged: through `export_env_from_conf`'s
/// unquoted `echo`, its `eval`, the scripts' unquoted `$LOG_DIR`/`$PID_DIR`/`$STARROCKS_HOME`, and
/// Java's `Properties` and `${VAR}` expansion. A blank, a quote, `$`, a backquote, a backslash, a
/// glob character or `=` would each change the path somewhere on the way.
pub fn shell_safe(path: &str) -> bool {
    !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._+,:@%-".contains(c))
}

/// The path the scripts and the FE are given for the sandbox home. The release's start_fe.sh
/// expands `$STARROCKS_HOME`, `$LOG_DIR` and `$PID_DIR` unquoted (`source $STARROCKS_HOME/bin/
/// common.sh`, `mkdir -p $LOG_DIR`, `exec >> $LOG_FILE`), so a home whose path has a blank fails to
/// read fe.conf and makes folders outside the workspace. When the real path is not [`shell_safe`],
/// the scripts reach it through a symlink named after the run folder in a shell-safe temporary
/// folder; the caller removes it once the FE is stopped. Returns the path and the link made.
pub fn script_home(run_dir: &Path, fe_home: &Path) -> std::io::Result<(PathBuf, Option<PathBuf>)> {
    if shell_safe(&fe_home.display().to_string()) {
        return Ok((fe_home.to_path_buf(), None));
    }
    let link = home_link_path(run_dir);
    std::os::unix::fs::symlink(fe_home, &link)?;
    Ok((link.clone(), Some(link)))
}

/// Where [`script_home`] puts the link for a run folder: named after it (the run folder's name is
/// unique and shell-safe) in the temporary folder, or `/tmp` when that path is not shell-safe.
fn home_link_path(run_dir: &Path) -> PathBuf {
    let base = std::env::temp_dir();
    let base = if base.is_absolute() && shell_safe(&base.display().to_string()) && base.is_dir() {
        base
    } else {
        PathBuf::from("/tmp")
    };
    let name = run_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| shell_safe(n))
        .unwrap_or_else(|| "sr-rehearse-run".into());
    base.join(format!("{name}-fe"))
}

/// Removes the link [`script_home`] made for `run_dir`, if it is there and still points at the
/// run's home: what `clean` does for a run whose tool was killed before its teardown.
pub fn remove_home_link(run_dir: &Path) {
    let link = home_link_path(run_dir);
    let home = fs::canonicalize(run_dir.join("fe"));
    if fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink())
        && home.is_ok_and(|h| fs::canonicalize(&link).is_ok_and(|t| t == h))
    {
        let _ = fs::remove_file(link);
    }
}

fn port_value(conf: &ConfFile, key: &str, file: &str) -> Result<Option<u16>, Ending> {
    match conf.get(key) {
        None => Ok(None),
        Some(v) => match v.trim().parse::<i64>() {
            Ok(-1) if key == "arrow_flight_port" => Ok(None),
            Ok(n) if (1..=65535).contains(&n) => Ok(Some(n as u16)),
            _ => Err(Ending::bad_input(format!(
                "{file}: {key} = `{}` (line {}) is not a port number; fix the value or pass another --prod-conf",
                v.trim(),
                conf.line_of(key).unwrap_or(0)
            ))),
        },
    }
}

/// A `JAVA_HOME` in fe.conf that only the shell can evaluate; holds its raw value.
#[derive(Debug, thiserror::Error)]
#[error(
    "JAVA_HOME = {0} in fe.conf is evaluated by the shell at start; cannot tell which JDK it names"
)]
struct ShellOnly(String);

/// Where start_fe.sh will take its JDK from, in the script's own order: `export_env_from_conf`
/// runs after the environment is inherited, so a `JAVA_HOME` line in fe.conf wins over the
/// environment; without either, 3.1+ infers the JDK from `javac` on `PATH` (and 3.4+ from `java`).
/// `Err` carries why the value cannot be known without running the shell.
fn script_java_home(
    conf: &ConfFile,
    to: Option<Version>,
) -> Result<Option<(String, String)>, ShellOnly> {
    if let Some(raw) = conf.get("JAVA_HOME") {
        let value = shell_word(&raw).ok_or_else(|| ShellOnly(raw.trim().to_string()))?;
        if !value.is_empty() {
            return Ok(Some((value, "JAVA_HOME in fe.conf".into())));
        }
    }
    if let Some(env) = std::env::var("JAVA_HOME").ok().filter(|h| !h.is_empty()) {
        return Ok(Some((env, "JAVA_HOME in the environment".into())));
    }
    let infers = to.is_none_or(|t| t >= Version::new(3, 1, 0));
    if !infers {
        return Ok(None);
    }
    let mut tools = vec!["javac"];
    if to.is_none_or(|t| t >= Version::new(3, 4, 0)) {
        tools.push("java");
    }
    for tool in tools {
        let found = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(tool))
                .find(|p| p.is_file())
        });
        if let Some(bin) = found.and_then(|p| fs::canonicalize(p).ok()) {
            if let Some(home) = bin.parent().and_then(Path::parent) {
                return Ok(Some((
                    home.display().to_string(),
                    format!("{tool} on PATH"),
                )));
            }
        }
    }
    Ok(None)
}

/// The value a shell gives a simple conf word: one layer of quotes removed, `${VAR}` and `$VAR`
/// taken from the environment. `None` for anything only running the shell could tell (command
/// substitution, backslashes, unbalanced quotes).
fn shell_word(raw: &str) -> Option<String> {
    let t = raw.trim();
    if t.contains('`') || t.contains("$(") || t.contains('\\') {
        return None;
    }
    let (body, expand) = match t.chars().next() {
        Some(q @ ('"' | '\'')) if t.len() >= 2 && t.ends_with(q) => (&t[1..t.len() - 1], q == '"'),
        _ => (t, true),
    };
    if body.contains(['"', '\'']) {
        return None;
    }
    if !expand {
        return Some(body.to_string());
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let (name, tail) = if let Some(inner) = after.strip_prefix('{') {
            let end = inner.find('}')?;
            (&inner[..end], &inner[end + 1..])
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        if name.is_empty() {
            return None;
        }
        out.push_str(&std::env::var(name).unwrap_or_default());
        rest = tail;
    }
    out.push_str(rest);
    Some(out)
}

/// The JDK at `home`, as (path, major version; 0 when its `release` file does not say).
pub fn jdk_at(home: &str) -> (String, u32) {
    let home = home.to_string();
    let release = fs::read_to_string(Path::new(&home).join("release")).unwrap_or_default();
    let full = crate::props::parse_map(&release)
        .get("JAVA_VERSION")
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_default();
    let major = match full.strip_prefix("1.") {
        Some(rest) => rest.split('.').next().and_then(|m| m.parse().ok()),
        None => full.split('.').next().and_then(|m| m.parse().ok()),
    }
    .unwrap_or(0);
    (home, major)
}

/// Finds the JDK start_fe.sh will use and refuses (exit 3) what the script would refuse: no JDK at
/// all, a `JAVA_HOME` without `bin/java`, or (3.0+) a JRE, which has no `bin/javac`.
fn check_jdk(
    conf: &ConfFile,
    to: Option<Version>,
    conf_file: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<(String, u32)>, Ending> {
    let target = to
        .map(|t| format!("StarRocks {}.{}", t.major, t.minor))
        .unwrap_or_else(|| "the new release".into());
    let found = match script_java_home(conf, to) {
        Ok(f) => f,
        Err(why) => {
            warnings.push(why.to_string());
            return Ok(None);
        }
    };
    let Some((home, source)) = found else {
        let how = if to.is_some_and(|t| t < Version::new(3, 1, 0)) {
            "its start_fe.sh does not look for javac"
        } else {
            "and no javac is on PATH"
        };
        return Err(Ending::env(format!(
            "failed to find a JDK: JAVA_HOME is set neither in the environment nor in {conf_file}, {how}; start_fe.sh of {target} would refuse to start. Set JAVA_HOME to a JDK"
        )));
    };
    if !Path::new(&home).join("bin/java").is_file() {
        return Err(Ending::env(format!(
            "failed to find bin/java under JAVA_HOME={home} ({source}); point {} at a JDK",
            if source.contains("fe.conf") {
                format!("JAVA_HOME in {conf_file}")
            } else {
                "JAVA_HOME".into()
            }
        )));
    }
    if !Path::new(&home).join("bin/javac").is_file() {
        let msg = format!(
            "JAVA_HOME={home} ({source}) is a JRE (no bin/javac): start_fe.sh of StarRocks 3.0+ refuses it; install a JDK and point {} at it",
            if source.contains("fe.conf") { format!("JAVA_HOME in {conf_file}") } else { "JAVA_HOME".into() }
        );
        match to {
            Some(t) if t < Version::new(3, 0, 0) => {}
            Some(_) => return Err(Ending::env(msg)),
            None => warnings.push(format!("{msg} (pass --to-version to have this checked)")),
        }
    }
    Ok(Some(jdk_at(&home)))
}

/// Upgrade-path advice when both versions are known.
pub fn path_warnings(from: Version, to: Version) -> Vec<String> {
    let mut w = Vec::new();
    if to < from {
        w.push(format!("{from} -> {to} is a downgrade: downgrade one minor version at a time, FE first, then BE"));
        if to.line() == (3, 2) && to.patch <= 2 && from.line() >= (3, 3) {
            w.push("after 3.3 never downgrade straight to 3.2.0-3.2.2: it loses metadata".into());
        }
        return w;
    }
    if to.major == 3 && from.major == 2 && from.minor < 5 {
        w.push(format!(
            "{from} -> {to}: reaching 3.0 requires upgrading to 2.5 first"
        ));
    }
    let minors = |v: Version| v.major * 100 + v.minor;
    let gap = if from.major == to.major {
        to.minor.saturating_sub(from.minor)
    } else if from.line() == (2, 5) && to.major == 3 {
        to.minor + 1
    } else {
        minors(to) - minors(from)
    };
    if gap > 1 {
        w.push(format!("{from} -> {to} skips minor versions: StarRocks strongly recommends upgrading one minor version at a time"));
    }
    if from.meta_version_written() == 3 && to.check_meta_version(3).is_err() {
        w.push(format!("{to} refuses images last written by {from} (meta version 3): upgrade through 3.1 or 3.2 first and create a new image"));
    }
    w
}

pub fn preflight(run: &mut Run) -> Result<Plan, Ending> {
    let cfg = run.cfg;
    crate::runner::check_timeout(cfg.timeout)?;
    run.set_isolation(cfg.isolate, "FE")?;

    // The source meta dir.
    let source = meta::inspect(&cfg.meta).map_err(|e| Ending::bad_input(e.to_string()))?;
    run.report.source.cluster_id = Some(source.cluster_id);
    run.report.source.run_mode = source.run_mode.clone();
    run.report.source.highest_image_id = source.highest_image_id;
    run.report.source.live = !source.live_reasons.is_empty();
    run.report.source.live_reasons = source.live_reasons.clone();
    if cfg.cluster_id == source.cluster_id {
        return Err(Ending::bad_input(format!(
            "--cluster-id {} is the source's own cluster id; the sandbox needs a different one so production backends reject its heartbeats",
            cfg.cluster_id
        )));
    }
    if !(1..=i32::MAX as i64).contains(&cfg.cluster_id) {
        return Err(Ending::bad_input(format!(
            "--cluster-id {} is out of range; StarRocks cluster ids are positive 32-bit integers",
            cfg.cluster_id
        )));
    }

    // The new package.
    let start = cfg.new_fe.join("bin/start_fe.sh");
    if !start.is_file() {
        return Err(Ending::bad_input(format!(
            "{} has no bin/start_fe.sh; pass the unpacked new release's fe/ folder as --new-fe",
            cfg.new_fe.display()
        )));
    }
    if !cfg.new_fe.join("lib").is_dir() {
        return Err(Ending::bad_input(format!(
            "{} has no lib/ folder; pass the unpacked new release's fe/ folder as --new-fe",
            cfg.new_fe.display()
        )));
    }
    if !cfg.new_fe.join("bin/stop_fe.sh").is_file() {
        run.report
            .warnings
            .push("the package has no bin/stop_fe.sh; the FE will be stopped with signals".into());
    }

    // The conf: production's when given, else the package's.
    let conf_path = match &cfg.prod_conf {
        Some(p) => p.clone(),
        None => cfg.new_fe.join("conf/fe.conf"),
    };
    let text = fs::read_to_string(&conf_path).map_err(|e| {
        Ending::bad_input(format!(
            "failed to read {}: {e}; pass a readable fe.conf",
            conf_path.display()
        ))
    })?;
    if text.contains('\0') {
        return Err(Ending::bad_input(format!(
            "{} is not a text file; pass the production fe.conf",
            conf_path.display()
        )));
    }
    let base_conf = ConfFile::parse(&text);
    let file = conf_path.display().to_string();
    let mut production = BTreeMap::new();
    let mut avoid = BTreeSet::new();
    for (key, default) in PORT_KEYS {
        let value = port_value(&base_conf, key, &file)?;
        avoid.insert(*default);
        avoid.extend(value);
        let is_arrow = *key == "arrow_flight_port";
        // Without a production conf, StarRocks' defaults are the ones to avoid.
        let prod = if cfg.prod_conf.is_some() {
            value.or((!is_arrow).then_some(*default))
        } else {
            (!is_arrow).then_some(*default)
        };
        if let Some(v) = prod {
            production.insert(key.to_string(), v);
        }
    }
    let keys = [
        "http_port",
        "rpc_port",
        "query_port",
        "edit_log_port",
        "https_port",
        "cloud_native_meta_port",
    ];
    let ports = run.pick_ports(&keys, &avoid, production.clone())?;

    // Where the workspace goes.
    let root = &cfg.workspace_root;
    crate::runner::check_workspace_root(
        root,
        &[("meta dir", &cfg.meta), ("new package", &cfg.new_fe)],
    )?;
    let (bytes, files) = meta::tree_size(&cfg.meta);
    // A clone shares the source's extents: only the 5 GB the FE insists on must be free.
    let copy_bytes = if workspace::may_clone(&cfg.meta, root) {
        0
    } else {
        bytes
    };
    let need = copy_bytes + (5u64 << 30);
    if let Some(free) = workspace::free_bytes(root) {
        if free < need {
            return Err(Ending::env(format!(
                "not enough free space in {}: {:.1} GiB free, the copy needs {:.1} GiB plus the 5 GB StarRocks 3.2+ requires on its meta disk; free space or choose another --workspace-root",
                root.display(),
                free as f64 / (1u64 << 30) as f64,
                copy_bytes as f64 / (1u64 << 30) as f64
            )));
        }
    }

    // The JDK and the password.
    let mut warnings = Vec::new();
    let to_line = cfg.to_version.map(|r| r.lowest());
    let java = check_jdk(&base_conf, to_line, &file, &mut warnings)?;
    match (&java, to_line) {
        (None, _) => {}
        (Some((home, 0)), _) => warnings.push(format!(
            "cannot tell the JDK version of JAVA_HOME={home} (no release file)"
        )),
        (Some((home, major)), Some(to)) => {
            let min = to.fe_min_jdk();
            let refused = *major < min
                || (to.line() >= (3, 2) && to.line() <= (3, 3) && (9..11).contains(major));
            if refused {
                return Err(Ending::env(format!(
                    "JDK {major} at JAVA_HOME={home} cannot run StarRocks {to} (it needs JDK {}); point JAVA_HOME at a supported JDK",
                    if to.line() >= (3, 2) && min < 11 { "11 or 17".to_string() } else { format!("{min}+") }
                )));
            }
            if to.line() >= (3, 5)
                && *major >= 17
                && base_conf
                    .get("JAVA_OPTS")
                    .is_some_and(|o| o.contains("ConcMarkSweep"))
            {
                warnings.push("JAVA_OPTS uses CMS options that JDK 17 refuses; StarRocks 3.5 will fail in fe.out".into());
            }
        }
        _ => {}
    }
    let password = match &cfg.password_env {
        Some(var) => Some(std::env::var(var).map_err(|_| {
            Ending::bad_input(format!(
                "--password-env {var}: the environment variable {var} is not set"
            ))
        })?),
        None => None,
    };
    for (key, opts, _) in java_opts_moved(&base_conf, "${LOG_DIR}") {
        warnings.push(format!(
            "{file}: {key} writes outside ${{LOG_DIR}} ({}); the sandbox writes those files in its own log folder",
            opts.join(", ")
        ));
    }
    if let (Some(f), Some(t)) = (cfg.from_version, to_line) {
        warnings.extend(path_warnings(f, t));
    }
    for r in &source.live_reasons {
        warnings.push(format!(
            "the source looks live ({r}); it is copied as it is and checked for changes"
        ));
    }
    if source.run_mode.as_deref() == Some("shared_data") {
        warnings.push("shared_data metadata: the sandbox leader may contact object storage and compute nodes; rehearse it only on an isolated host".into());
    }
    run.report.warnings.extend(warnings.iter().cloned());
    run.report.source.bytes = bytes;
    run.report.source.file_count = files;
    Ok(Plan {
        source,
        source_bytes: bytes,
        source_files: files,
        base_conf: base_conf.clone(),
        base_conf_path: file,
        ports,
        production,
        password,
        java,
        warnings,
        conf: base_conf,
        changes: Vec::new(),
    })
}

/// The sandbox FE home: `bin/` and `conf/` copied (so pid files and the conf live in the
/// workspace), `lib/` and the other read-only folders of the release linked, `log/` and the folders
/// an FE writes into (`plugins`, `temp_dir`, `small_files`) empty.
pub const LAYOUT: Layout = Layout {
    made: &["log"],
    place: |name| match name {
        "bin" | "conf" => Place::Copy,
        "log" | "meta" => Place::Skip,
        // Folders the FE writes into at run time start empty in the workspace.
        "plugins" | "temp_dir" | "small_files" => Place::Empty,
        _ => Place::Link,
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_safe_refuses_what_eval_or_word_splitting_would_change() {
        assert!(shell_safe("/tmp/.tmpAb3/ws/sr-rehearse-20261130-1a2b/fe"));
        for bad in [
            "/tmp/my root",
            "/tmp/x$(touch y)",
            "/tmp/x`id`",
            "/tmp/it's",
            "/tmp/\"q\"",
            "/tmp/a=b",
            "/tmp/*",
            "/tmp/back\\slash",
            "",
        ] {
            assert!(!shell_safe(bad), "{bad}");
        }
    }

    #[test]
    fn shell_word_gives_the_value_or_admits_it_cannot() {
        assert_eq!(shell_word(" /opt/jdk ").as_deref(), Some("/opt/jdk"));
        assert_eq!(shell_word("\"/opt/jdk\"").as_deref(), Some("/opt/jdk"));
        assert_eq!(shell_word("'/opt/$X'").as_deref(), Some("/opt/$X"));
        assert_eq!(
            shell_word("${SR_REHEARSE_UNSET_FOR_TEST}/jdk").as_deref(),
            Some("/jdk")
        );
        assert_eq!(shell_word("$(ls /usr/lib/jvm | head -1)"), None);
        assert_eq!(shell_word("`cat /etc/jdk`"), None);
        assert_eq!(shell_word("\"a\"b\""), None);
    }

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

    #[test]
    fn a_home_with_a_blank_is_reached_through_a_link_that_clean_removes() {
        let tmp = tempfile::tempdir().unwrap();
        let safe = tmp.path().join("sr-rehearse-a");
        fs::create_dir_all(safe.join("fe")).unwrap();
        let (home, link) = script_home(&safe, &safe.join("fe")).unwrap();
        assert_eq!((home, link), (safe.join("fe"), None));

        let run = tmp.path().join("my root/sr-rehearse-20261130-0000-test");
        fs::create_dir_all(run.join("fe/bin")).unwrap();
        let (home, link) = script_home(&run, &run.join("fe")).unwrap();
        let link = link.expect("a link for a path with a blank");
        assert_eq!(home, link);
        assert!(shell_safe(&home.display().to_string()));
        assert!(home.join("bin").is_dir());
        remove_home_link(&run);
        assert!(fs::symlink_metadata(&link).is_err());
    }
}
