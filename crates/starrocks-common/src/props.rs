//! Java `Properties` files, read and written the way the JVM does it.
//!
//! StarRocks keeps `image/VERSION`, `image/ROLE` and `fe.conf` in this format, and the JVM's rules are
//! not the obvious ones: `k = v`, `k=v`, `k: v` and `k v` all mean the same thing, a later duplicate key
//! wins, and `${VAR}` references expand the way `ConfigBase` does. Both the tool (which must read
//! production files exactly as StarRocks will) and the simulator read through this module; the
//! simulator writes them with `Properties.store`'s escaping in its own `properties` module.

use std::collections::HashMap;

/// One logical entry of a properties file, with the line it started on (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// Parses properties text into its entries, in file order, duplicates included.
pub fn parse(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.split('\n').collect();
    let mut i = 0;
    while i < lines.len() {
        let start = i;
        let first = lines[i].trim_end_matches('\r');
        i += 1;
        let trimmed = first.trim_start_matches([' ', '\t', '\x0c']);
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
            continue;
        }
        // A line ending in an odd number of backslashes continues on the next one.
        let mut logical = String::new();
        let mut cur = trimmed.to_string();
        loop {
            if ends_with_odd_backslashes(&cur) && i < lines.len() {
                cur.pop();
                logical.push_str(&cur);
                cur = lines[i]
                    .trim_end_matches('\r')
                    .trim_start_matches([' ', '\t', '\x0c'])
                    .to_string();
                i += 1;
            } else {
                logical.push_str(&cur);
                break;
            }
        }
        let (key, value) = split_key_value(&logical);
        out.push(Entry {
            key: unescape(&key),
            value: unescape(&value),
            line: start + 1,
        });
    }
    out
}

/// Parses properties text into a map where, as in Java, the last occurrence of a key wins.
pub fn parse_map(text: &str) -> HashMap<String, String> {
    parse(text).into_iter().map(|e| (e.key, e.value)).collect()
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

/// Splits a logical line at the first unescaped `=`, `:` or whitespace, as `Properties.load` does.
pub fn split_key_value(line: &str) -> (String, String) {
    let chars: Vec<char> = line.chars().collect();
    let mut k = 0;
    let mut escaped = false;
    while k < chars.len() {
        let c = chars[k];
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\x0c' {
            break;
        }
        k += 1;
    }
    let key: String = chars[..k].iter().collect();
    let mut v = k;
    while v < chars.len() && matches!(chars[v], ' ' | '\t' | '\x0c') {
        v += 1;
    }
    if v < chars.len() && (chars[v] == '=' || chars[v] == ':') {
        v += 1;
        while v < chars.len() && matches!(chars[v], ' ' | '\t' | '\x0c') {
            v += 1;
        }
    }
    (key, chars[v..].iter().collect())
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = it.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str(&hex),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// A `${VAR}` reference to a variable the lookup does not know; holds its name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no such env variable: {0}")]
pub struct UnsetVariable(pub String);

/// Expands `${VAR}` references the way StarRocks' `ConfigBase` does: from the given lookup, and an
/// unknown variable is an error naming it.
pub fn expand_vars(
    value: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, UnsetVariable> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(pos) = rest.find("${") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 2..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match lookup(name) {
                    Some(v) => out.push_str(&v),
                    None => return Err(UnsetVariable(name.to_string())),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[pos..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_and_later_key_wins() {
        let text = "# c\nhttp_port = 8030\nrpc_port:9020\nquery_port 9030\nhttp_port=18030\n";
        let map = parse_map(text);
        assert_eq!(map["http_port"], "18030");
        assert_eq!(map["rpc_port"], "9020");
        assert_eq!(map["query_port"], "9030");
        let entries = parse(text);
        assert_eq!(entries[0].line, 2);
        assert_eq!(entries[3].line, 5);
    }

    #[test]
    fn continuation_and_escapes() {
        let map = parse_map("a = one \\\n    two\nb=x\\:y\\=z\nc\\ d = e\n");
        assert_eq!(map["a"], "one two");
        assert_eq!(map["b"], "x:y=z");
        assert_eq!(map["c d"], "e");
    }

    #[test]
    fn expands_known_and_names_unknown() {
        let lookup = |n: &str| (n == "HOME").then(|| "/h".to_string());
        assert_eq!(expand_vars("${HOME}/log", &lookup).unwrap(), "/h/log");
        assert_eq!(
            expand_vars("${NOPE}/x", &lookup).unwrap_err(),
            UnsetVariable("NOPE".into())
        );
    }
}
