//! Which JDK start_fe.sh will run, found the way the script finds it, and whether the target
//! release accepts it.
//!
//! A missing JDK, a JRE or a JDK too old for the release would stop the sandbox before it reads any
//! metadata; preflight says so (exit 3) instead of a failed rehearsal that blames the metadata.

use std::fs;
use std::path::Path;

use super::Ending;
use crate::conf::ConfFile;
use crate::version::Version;

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
pub(super) fn shell_word(raw: &str) -> Option<String> {
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

/// The JDK start_fe.sh will use, as (path, major version), refused (exit 3) where the script or the
/// target release would refuse it; what is only doubtful goes to `warnings`.
pub(super) fn check(
    base_conf: &ConfFile,
    to_line: Option<Version>,
    file: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<(String, u32)>, Ending> {
    let java = check_jdk(base_conf, to_line, file, warnings)?;
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
    Ok(java)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
