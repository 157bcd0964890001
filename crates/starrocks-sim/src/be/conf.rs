//! be.conf as the BE reads it (`be/src/common/configbase.cpp`, through
//! `starrocks_common::beconf`): LF-only lines trimmed of `isspace`, `#` comments, `key = value`
//! split at the first `=` (no `:` or blank separator, no escapes, no continuation), `doris_`
//! prefixes dropped, later key wins, `${VAR}` from the environment (unset or unclosed: the
//! file cannot be used), keys in upper case left to the shell.
//!
//! The raw text is kept beside the parsed map because one key (`be_http_port` with its alias
//! `webserver_port`) is resolved by the order of the lines, not by the last value of one key.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use starrocks_common::beconf;

pub(super) struct Conf {
    pub(super) text: String,
    pub(super) map: HashMap<String, String>,
}

impl Conf {
    /// None when the file cannot be read or names an unset variable; the BE says the same for both
    /// (`error read config file.`).
    pub(super) fn read(home: &Path) -> Option<Conf> {
        let text = fs::read_to_string(home.join("conf/be.conf")).ok()?;
        let lookup = |n: &str| std::env::var(n).ok();
        let mut map = HashMap::new();
        for e in beconf::parse(&text) {
            if e.key.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
                continue;
            }
            // Expanded at once: the BE expands each field it knows when it sets it
            // (`Properties::get` → `replaceenv`) and ignores unknown keys, so here a bad reference
            // in a key unknown to the BE fails too (conformance row "be.conf").
            map.insert(e.key, beconf::expand(&e.value, &lookup).ok()?);
        }
        Some(Conf { text, map })
    }

    pub(super) fn get(&self, k: &str, d: &str) -> String {
        self.map.get(k).cloned().unwrap_or_else(|| d.to_string())
    }

    /// An integer setting; a value that does not parse counts as unset.
    pub(super) fn int(&self, k: &str, d: i64) -> i64 {
        self.map
            .get(k)
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// configbase.cpp's reading: `k: v` is no setting (the default stays), a CR stays in its
    /// line, `doris_` comes off, the later line wins, an unclosed `${` fails the file.
    #[test]
    fn reads_be_conf_as_configbase_cpp_does() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("conf")).unwrap();
        let write = |t: &str| fs::write(d.path().join("conf/be.conf"), t).unwrap();
        write("be_port: 9061\ndoris_brpc_port = 8061\nbrpc_port = 8062\r\nsys_log_level = WARNING\rx=1\n");
        let c = Conf::read(d.path()).unwrap();
        assert_eq!(c.int("be_port", 9060), 9060);
        assert_eq!(c.int("brpc_port", 8060), 8062);
        assert_eq!(c.get("sys_log_level", "INFO"), "WARNING\rx=1");
        write("sys_log_dir = ${HOME\n");
        assert!(Conf::read(d.path()).is_none());
    }
}
