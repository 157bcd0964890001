//! The JVM options of fe.conf's `JAVA_OPTS*` lines that write files or listen on ports, and what
//! the sandbox runs instead.
//!
//! start_fe.sh gives the JVM what the shell makes of the line (`export_env_from_conf` `eval`s it,
//! so `$HOME`, `${HOME}`, `$STARROCKS_HOME` and `$LOG_DIR` are paths by then, and `$JAVA_OPTS` is
//! split at blanks), so an option is judged after expanding it as the shell would. Every option
//! that names an output file is pointed into the sandbox's log folder (a GC log set with
//! `-Xloggc:` is truncated when the JVM starts: left alone, a rehearsal run as the FE's user would
//! empty production's), `java.io.tmpdir` into the sandbox's `tmp/`, and every option that opens a
//! listening port (JMX, JDWP, a Prometheus or profiler agent) is dropped, since its port is
//! production's. Options whose path already lies inside the sandbox stay as written.

/// Where the sandbox's files go.
pub struct Targets<'a> {
    /// The sandbox FE home, as the scripts reach it.
    pub home: &'a str,
    pub log: &'a str,
    pub tmp: &'a str,
}

/// What happens to one option in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Written as this option instead.
    Moved(String),
    /// Left out: it opens a port.
    Dropped,
}

/// One option of a `JAVA_OPTS*` line the sandbox changes, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptChange {
    pub before: String,
    pub action: Action,
    pub why: &'static str,
}

impl OptChange {
    /// `-Xloggc:$HOME/gc.log (GC log) -> -Xloggc:/ws/fe/log/gc.log`, for warnings and the plan.
    pub fn describe(&self) -> String {
        match &self.action {
            Action::Moved(to) => format!("{} ({}) -> {to}", self.before, self.why),
            Action::Dropped => format!("{} ({}) -> dropped", self.before, self.why),
        }
    }
}

/// Expands `$NAME`, `${NAME}` and a leading `~` as `eval "echo ..."` would, unset names giving
/// nothing; `None` where the shell would run something (`$(`, a backquote) or use an operator
/// (`${X:-y}`), which the tool cannot judge.
pub fn expand(word: &str, var: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    if word.contains('`') || word.contains("$(") {
        return None;
    }
    let mut out = String::new();
    let mut rest = match word.strip_prefix('~') {
        Some(r) if r.is_empty() || r.starts_with('/') => {
            out.push_str(&var("HOME")?);
            r
        }
        _ => word,
    };
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let (name, next) = if let Some(braced) = after.strip_prefix('{') {
            let end = braced.find('}')?;
            (&braced[..end], &braced[end + 1..])
        } else {
            let end = after.find(|c| !is_name(c)).unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        if name.is_empty() || !name.chars().all(is_name) {
            return None;
        }
        out.push_str(&var(name).unwrap_or_default());
        rest = next;
    }
    out.push_str(rest);
    Some(out)
}

/// Whether `path` (expanded) lies inside `home`: no `..`, under it (`home` is absolute in a
/// run; a plan shows the workspace root as given).
fn inside(path: &str, home: &str) -> bool {
    !path.split('/').any(|c| c == "..")
        && path
            .strip_prefix(home)
            .is_some_and(|r| r.is_empty() || r.starts_with('/'))
}

/// The file name the moved option keeps: the path's last part, when it is a plain name.
fn file_name(raw: &str, expanded: Option<&str>, default: &str) -> String {
    let plain = |n: &str| {
        !n.is_empty()
            && n != "."
            && n != ".."
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._%+-@,=".contains(c))
    };
    [Some(raw), expanded]
        .into_iter()
        .flatten()
        .filter_map(|p| p.rsplit('/').next())
        .find(|n| plain(n))
        .unwrap_or(default)
        .to_string()
}

/// Options that name one output file, the default name, and what the file is.
const FILE_OPTS: &[(&str, &str, &str)] = &[
    ("-Xloggc:", "gc.log", "GC log, truncated at start"),
    ("-XX:ErrorFile=", "hs_err_pid%p.log", "fatal error log"),
    ("-XX:LogFile=", "vm.log", "VM log"),
    ("-XX:PerfDataFile=", "hsperfdata", "perf data file"),
    (
        "-XX:ArchiveClassesAtExit=",
        "classes.jsa",
        "class archive written at exit",
    ),
];

/// What the sandbox does with one JVM option (quotes already off), or `None` to keep it.
pub fn judge(opt: &str, var: &dyn Fn(&str) -> Option<String>, t: &Targets) -> Option<OptChange> {
    let change = |action, why| {
        Some(OptChange {
            before: opt.to_string(),
            action,
            why,
        })
    };
    // The path the option names, moved unless it already lies in the sandbox.
    let relocate = |raw: &str, default: &str, dir: bool| -> Option<String> {
        let expanded = expand(raw, var);
        if expanded.as_deref().is_some_and(|p| inside(p, t.home)) {
            return None;
        }
        Some(if dir {
            t.log.to_string()
        } else {
            format!("{}/{}", t.log, file_name(raw, expanded.as_deref(), default))
        })
    };
    for (prefix, default, why) in FILE_OPTS {
        if let Some(p) = opt.strip_prefix(prefix) {
            let to = relocate(p, default, false)?;
            return change(Action::Moved(format!("{prefix}{to}")), why);
        }
    }
    if let Some(p) = opt.strip_prefix("-XX:HeapDumpPath=") {
        let to = relocate(p, "java.hprof", !p.ends_with(".hprof"))?;
        return change(Action::Moved(format!("-XX:HeapDumpPath={to}")), "heap dump");
    }
    if let Some(p) = opt.strip_prefix("-Djava.io.tmpdir=") {
        if expand(p, var).is_some_and(|e| inside(&e, t.home)) {
            return None;
        }
        return change(
            Action::Moved(format!("-Djava.io.tmpdir={}", t.tmp)),
            "JVM temporary files",
        );
    }
    if let Some(rest) = opt.strip_prefix("-Xlog:") {
        // -Xlog:<what>:<output>:<decorators>:<options>, the output `file=<path>` or a bare path.
        let mut parts: Vec<String> = rest.split(':').map(String::from).collect();
        let output = parts.get(1)?.clone();
        let (pre, path) = match output.strip_prefix("file=") {
            Some(p) => ("file=", p.trim_matches('"')),
            None => ("", output.as_str()),
        };
        if path.is_empty() || path == "stdout" || path == "stderr" {
            return None;
        }
        parts[1] = format!("{pre}{}", relocate(path, "jvm.log", false)?);
        return change(
            Action::Moved(format!("-Xlog:{}", parts.join(":"))),
            "unified JVM log",
        );
    }
    for (prefix, why) in [
        ("-XX:StartFlightRecording", "flight recording"),
        ("-XX:FlightRecorderOptions", "flight recorder repository"),
    ] {
        let Some(rest) = opt.strip_prefix(prefix) else {
            continue;
        };
        let (sep, list) = rest.split_at(rest.len().min(1));
        let mut moved = false;
        let items: Vec<String> = list
            .split(',')
            .map(|item| match item.split_once('=') {
                Some((k @ ("filename" | "repository" | "dumppath"), p)) => {
                    match relocate(p, "fe.jfr", k != "filename") {
                        Some(to) => {
                            moved = true;
                            format!("{k}={to}")
                        }
                        None => item.to_string(),
                    }
                }
                _ => item.to_string(),
            })
            .collect();
        if !moved {
            return None;
        }
        return change(
            Action::Moved(format!("{prefix}{sep}{}", items.join(","))),
            why,
        );
    }
    let drop = |why| change(Action::Dropped, why);
    if opt.starts_with("-Dcom.sun.management.jmxremote.")
        || opt.starts_with("-Dcom.sun.management.config.file=")
    {
        return drop("JMX remote port and its settings");
    }
    if opt.starts_with("-agentlib:jdwp") || opt.starts_with("-Xrunjdwp") {
        return drop("debugger port");
    }
    if let Some(rest) = opt
        .strip_prefix("-agentlib:")
        .or_else(|| opt.strip_prefix("-agentpath:"))
    {
        let opts = rest.split_once('=').map(|(_, o)| o).unwrap_or("");
        if opts.split([',', ';']).any(|o| {
            o.starts_with("port=") || o.starts_with("address=") || o.starts_with("listen=")
        }) {
            return drop("native agent listening on a port");
        }
        return None;
    }
    if let Some(rest) = opt.strip_prefix("-javaagent:") {
        // jmx_prometheus_javaagent.jar=[host:]port:config serves metrics on that port.
        let args = rest.split_once('=').map(|(_, a)| a).unwrap_or("");
        let fields: Vec<&str> = args.split(':').collect();
        let port_at = |i: usize| {
            fields.get(i).is_some_and(|f| {
                !f.is_empty() && f.len() <= 5 && f.bytes().all(|b| b.is_ascii_digit())
            })
        };
        let listens = (fields.len() >= 2 && (port_at(0) || port_at(1)))
            || args.split([',', ';', '&']).any(|o| o.starts_with("port="));
        if listens || rest.contains("jmx_prometheus") {
            return drop("Java agent listening on a port");
        }
    }
    None
}

/// One `JAVA_OPTS*` line's text with the options judged from byte `from` on (past the key on
/// its first line): moved options written in place, dropped ones removed with one blank beside
/// them, quotes and everything else kept. `continued` says the line ends in a continuation
/// backslash, which stays.
pub fn edit_line(
    text: &str,
    from: usize,
    continued: bool,
    judge: &mut dyn FnMut(&str) -> Option<OptChange>,
    found: &mut Vec<OptChange>,
) -> String {
    let body_end = if continued {
        text.len() - 1
    } else {
        text.len()
    };
    let body = &text[from..body_end];
    // Blank and non-blank runs, in order.
    let mut pieces: Vec<(bool, String)> = Vec::new();
    for c in body.chars() {
        let blank = c == ' ' || c == '\t';
        match pieces.last_mut() {
            Some((b, s)) if *b == blank => s.push(c),
            _ => pieces.push((blank, c.to_string())),
        }
    }
    let mut k = 0;
    while k < pieces.len() {
        if pieces[k].0 {
            k += 1;
            continue;
        }
        let tok = pieces[k].1.clone();
        let lead = tok.len() - tok.trim_start_matches(['"', '\'']).len();
        let inner_end = tok.trim_end_matches(['"', '\'']).len().max(lead);
        let inner = &tok[lead..inner_end];
        let Some(change) = judge(inner) else {
            k += 1;
            continue;
        };
        let new_inner = match &change.action {
            Action::Moved(to) => to.clone(),
            Action::Dropped => String::new(),
        };
        let new_tok = format!("{}{new_inner}{}", &tok[..lead], &tok[inner_end..]);
        found.push(change);
        if new_inner.is_empty() {
            // One blank beside a dropped option goes with it: the one before, else the one after.
            if k > 0 && pieces[k - 1].0 {
                pieces.remove(k - 1);
                k -= 1;
            } else if k + 1 < pieces.len() && pieces[k + 1].0 {
                pieces.remove(k + 1);
            }
            if new_tok.is_empty() {
                pieces.remove(k);
                continue;
            }
        }
        pieces[k].1 = new_tok;
        k += 1;
    }
    let mut out = text[..from].to_string();
    out.extend(pieces.into_iter().map(|(_, s)| s));
    out.push_str(&text[body_end..]);
    out
}
