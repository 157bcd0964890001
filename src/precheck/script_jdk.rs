//! Where a node's start script takes its JDK from, read the way the script reads it.
//!
//! start_fe.sh exports fe.conf's uppercase keys after the environment, so a `JAVA_HOME` line there
//! wins; from 3.1 it infers a JDK from `javac` on `PATH` (3.4 also from `java`). The FE preflight
//! and `precheck` ask the same question, so the answer lives here once; a conf value only the
//! shell can evaluate (`$(...)`, backquotes) is said to be so rather than guessed.

use std::fs;
use std::path::Path;

use crate::conf::ConfFile;
use crate::version::Version;

/// A `JAVA_HOME` in fe.conf that only the shell can evaluate; holds its raw value.
#[derive(Debug, thiserror::Error)]
#[error(
    "JAVA_HOME = {0} in fe.conf is evaluated by the shell at start; cannot tell which JDK it names"
)]
pub struct ShellOnly(pub String);

/// Where start_fe.sh will take its JDK from, in the script's own order: `export_env_from_conf`
/// runs after the environment is inherited, so a `JAVA_HOME` line in fe.conf wins over the
/// environment; without either, 3.1+ infers the JDK from `javac` on `PATH` (and 3.4+ from `java`).
/// `Err` carries why the value cannot be known without running the shell.
pub fn script_java_home(
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
pub fn shell_word(raw: &str) -> Option<String> {
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
