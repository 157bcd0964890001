//! be.conf read the way the BE reads it, which is not the Java way.
//!
//! The BE's `config::Properties::load` (`be/src/common/configbase.cpp`) has rules of its own:
//! `std::getline` splits at LF only (a CR inside a line stays in it; one at the end is trimmed
//! with the other `isspace` characters), each line is trimmed of `isspace` (space, tab, LF, VT,
//! FF, CR) on both sides, a line that is empty or starts with `#` is skipped (`!` is not a
//! comment), the key is everything before the first `=` (`splitkv`; `k: v` and `k v` are keys
//! without a value, which the BE ignores), key and value are trimmed, a `doris_` prefix is taken
//! off the key (`std::regex_replace(key, "^doris_", "")`), there are no escapes and no
//! continuation lines, and a later line of a key wins (`file_conf_map[key] = value`). `${VAR}` is
//! expanded from the environment when a value is used (`Properties::get` → `replaceenv`), where an
//! unset variable or a `${` without its `}` makes the field an error.

/// One line of be.conf as the BE keeps it, with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// The characters C's `isspace` accepts in the "C" locale, which `trim` in configbase.cpp strips.
pub const ISSPACE: [char; 6] = [' ', '\t', '\n', '\x0b', '\x0c', '\r'];

/// Where the BE splits one physical line (without its LF): `None` for a line it skips, else the
/// byte ranges of the key (before trimming, `doris_` still on) and of the value (trimmed).
pub fn split_line(line: &str) -> Option<(std::ops::Range<usize>, std::ops::Range<usize>)> {
    let lead = line.len() - line.trim_start_matches(ISSPACE).len();
    let body = line.trim_matches(ISSPACE);
    if body.is_empty() || body.starts_with('#') {
        return None;
    }
    let end = lead + body.len();
    Some(match body.find('=') {
        Some(eq) => {
            let v = &line[lead + eq + 1..end];
            let v_lead = v.len() - v.trim_start_matches(ISSPACE).len();
            (lead..lead + eq, lead + eq + 1 + v_lead..end)
        }
        None => (lead..end, end..end),
    })
}

/// The key the BE files a raw key under: trimmed, `doris_` taken off the front.
pub fn key_of(raw: &str) -> String {
    let k = raw.trim_matches(ISSPACE);
    k.strip_prefix("doris_").unwrap_or(k).to_string()
}

/// Every entry of be.conf in file order, duplicates included.
pub fn parse(text: &str) -> Vec<Entry> {
    text.split('\n')
        .enumerate()
        .filter_map(|(i, line)| {
            let (k, v) = split_line(line)?;
            Some(Entry {
                key: key_of(&line[k]),
                value: line[v].to_string(),
                line: i + 1,
            })
        })
        .collect()
}

/// Why `replaceenv` refused a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VarError {
    #[error("${{{0}}} is not set in the environment")]
    Unset(String),
    #[error("a `${{` has no closing `}}`")]
    Unclosed,
}

/// `replaceenv`: each `${NAME}` replaced by `getenv(NAME)`; an unset name or an unclosed `${` is
/// an error (the BE prints `config field error: <field>` and does not start). The text put in is
/// not searched again.
pub fn expand(value: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, VarError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(pos) = rest.find("${") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 2..];
        let end = after.find('}').ok_or(VarError::Unclosed)?;
        let name = &after[..end];
        out.push_str(&lookup(name).ok_or_else(|| VarError::Unset(name.to_string()))?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn map(text: &str) -> HashMap<String, String> {
        parse(text).into_iter().map(|e| (e.key, e.value)).collect()
    }

    #[test]
    fn follows_configbase_cpp_not_java() {
        let m = map("be_port = 9060\rstorage_root_path = /prod\n\
             webserver_port: 8041\nbrpc_port 8061\n! heartbeat_service_port = 9051\n\
             mem_limit = 80% \\\n  # x = 1\n\tdoris_starlet_port = 9071\x0b\r\n\
             sys_log_dir = \"/q\"\nstarlet_port=9072\nk=a=b\n");
        // A bare CR stays inside the line: the value is not a number, the BE refuses the field.
        assert_eq!(m["be_port"], "9060\rstorage_root_path = /prod");
        assert!(!m.contains_key("storage_root_path"));
        // Only `=` separates; the other forms are keys the BE does not know.
        assert!(m.contains_key("webserver_port: 8041") && m.contains_key("brpc_port 8061"));
        assert_eq!(m["! heartbeat_service_port"], "9051");
        // No continuation; `#` only at the start of a trimmed line.
        assert_eq!(m["mem_limit"], "80% \\");
        assert_eq!(
            m["starlet_port"], "9072",
            "doris_ prefix off, later line wins"
        );
        assert_eq!(m["sys_log_dir"], "\"/q\"", "quotes are part of the value");
        assert_eq!(m["k"], "a=b");
        assert_eq!(
            parse("a=1\n\n#c\nb=2")
                .iter()
                .map(|e| e.line)
                .collect::<Vec<_>>(),
            [1, 4]
        );
    }

    #[test]
    fn replaceenv_refuses_unset_and_unclosed() {
        let lookup = |n: &str| (n == "H").then(|| "/h${H}".to_string());
        assert_eq!(expand("${H}/x${H}", &lookup).unwrap(), "/h${H}/x/h${H}");
        assert_eq!(expand("${N}", &lookup), Err(VarError::Unset("N".into())));
        assert_eq!(expand("a${H", &lookup), Err(VarError::Unclosed));
    }
}
