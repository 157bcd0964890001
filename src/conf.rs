//! A line-preserving editor for fe.conf and be.conf.
//!
//! An operator reads the rewritten sandbox conf next to production's, so every comment, blank line,
//! key order, quote and `${VAR}` reference stays as it was; only the values the rehearsal must change
//! are replaced. Java properties let a later duplicate key win, so the editor always edits the
//! *effective* (last) occurrence of a key, and appends a key that is absent at the end.

use std::collections::HashMap;

use crate::props;

/// One change made by [`ConfFile::set`], for `--plan` and the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub key: String,
    /// 1-based line in the rewritten file.
    pub line: usize,
    pub before: Option<String>,
    pub after: String,
}

impl Change {
    /// `line 12: http_port = 8030  ->  http_port = 28030`, for plans and verbose output.
    pub fn describe(&self) -> String {
        match &self.before {
            Some(b) => format!("line {:>3}: {b}  ->  {}", self.line, self.after),
            None => format!("line {:>3}: (added)  {}", self.line, self.after),
        }
    }
}

#[derive(Debug, Clone)]
struct Logical {
    key: String,
    value: String,
    /// First and last physical line (0-based, inclusive).
    start: usize,
    end: usize,
}

/// A conf file held as its physical lines.
#[derive(Debug, Clone)]
pub struct ConfFile {
    lines: Vec<String>,
    trailing_newline: bool,
}

fn is_continued(line: &str) -> bool {
    line.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

impl ConfFile {
    pub fn parse(text: &str) -> ConfFile {
        let trailing_newline = text.ends_with('\n') || text.is_empty();
        let body = text.strip_suffix('\n').unwrap_or(text);
        let lines = if body.is_empty() && text.is_empty() {
            Vec::new()
        } else {
            body.split('\n').map(|l| l.to_string()).collect()
        };
        ConfFile {
            lines,
            trailing_newline,
        }
    }

    fn logical(&self) -> Vec<Logical> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.lines.len() {
            let start = i;
            let trimmed = self.lines[i].trim_start_matches([' ', '\t', '\x0c']);
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
                i += 1;
                continue;
            }
            let mut end = i;
            while is_continued(self.lines[end].trim_end_matches('\r')) && end + 1 < self.lines.len()
            {
                end += 1;
            }
            let text = self.lines[start..=end].join("\n");
            if let Some(e) = props::parse(&text).into_iter().next() {
                out.push(Logical {
                    key: e.key,
                    value: e.value,
                    start,
                    end,
                });
            }
            i = end + 1;
        }
        out
    }

    /// The effective value of every key (the last occurrence wins).
    pub fn effective(&self) -> HashMap<String, String> {
        self.logical()
            .into_iter()
            .map(|l| (l.key, l.value))
            .collect()
    }

    pub fn get(&self, key: &str) -> Option<String> {
        self.logical()
            .into_iter()
            .rev()
            .find(|l| l.key == key)
            .map(|l| l.value)
    }

    /// The 1-based line of the effective occurrence of `key`.
    pub fn line_of(&self, key: &str) -> Option<usize> {
        self.logical()
            .into_iter()
            .rev()
            .find(|l| l.key == key)
            .map(|l| l.start + 1)
    }

    /// Sets `key` to `value` on every line that names it; appends `key = value` when none does.
    ///
    /// For the uppercase keys the start scripts export: `export_env_from_conf` exports each line
    /// in turn and knows only `KEY=value`, so the line the shell ends with is not always the one
    /// Java properties call effective (`PID_DIR=/a` then `PID_DIR /b`). Changing them all leaves no
    /// line that could name a production folder.
    pub fn set_all(&mut self, key: &str, value: &str) -> Vec<Change> {
        let count = self.logical().iter().filter(|l| l.key == key).count();
        if count == 0 {
            return vec![self.set(key, value)];
        }
        (0..count)
            .filter_map(|i| {
                let l = self.logical().into_iter().filter(|l| l.key == key).nth(i)?;
                Some(self.replace(l, key, value))
            })
            .collect()
    }

    /// Sets `key` to `value` on its effective line, keeping indentation, the separator and shell
    /// quoting; appends `key = value` when the key is absent.
    pub fn set(&mut self, key: &str, value: &str) -> Change {
        let found = self.logical().into_iter().rev().find(|l| l.key == key);
        match found {
            Some(l) => self.replace(l, key, value),
            None => {
                if !self.lines.iter().any(|l| l == ADDED_HEADER) {
                    if self.lines.last().is_some_and(|l| !l.trim().is_empty()) {
                        self.lines.push(String::new());
                    }
                    self.lines.push(ADDED_HEADER.into());
                }
                let line = format!("{key} = {value}");
                self.lines.push(line.clone());
                // `while read line` drops a last line without a newline: end with one.
                self.trailing_newline = true;
                Change {
                    key: key.into(),
                    line: self.lines.len(),
                    before: None,
                    after: line,
                }
            }
        }
    }

    /// Replaces the logical line `l` (of `key`) with `key<sep>value`.
    fn replace(&mut self, l: Logical, key: &str, value: &str) -> Change {
        let before = self.lines[l.start..=l.end].join("\n");
        let first = &self.lines[l.start];
        let indent_len = first.len() - first.trim_start().len();
        let indent = &first[..indent_len];
        let rest = &first[indent_len..];
        // The separator as written: everything between the key and the value.
        let key_len = rest
            .find(|c: char| c == '=' || c == ':' || c.is_whitespace())
            .unwrap_or(rest.len());
        let after_key = &rest[key_len..];
        // One `=` or `:` at most: in `key=:v` the value is `:v`, as Java reads it.
        let spaced = after_key.trim_start_matches([' ', '\t']);
        let spaced = spaced.strip_prefix(['=', ':']).unwrap_or(spaced);
        let sep_len = after_key.len() - spaced.trim_start_matches([' ', '\t']).len();
        let sep = &after_key[..sep_len];
        let quoted = l.value.len() >= 2 && l.value.starts_with('"') && l.value.ends_with('"');
        let new_value = if quoted {
            format!("\"{value}\"")
        } else {
            value.to_string()
        };
        // A key not written whole on the first line (split by a continuation, or escaped) is
        // written plainly: rebuilding its text would corrupt the line.
        let line = if &rest[..key_len] == key {
            format!("{indent}{key}{sep}{new_value}")
        } else {
            format!("{indent}{key} = {new_value}")
        };
        self.lines.splice(l.start..=l.end, [line.clone()]);
        Change {
            key: key.into(),
            line: l.start + 1,
            before: Some(before),
            after: line,
        }
    }

    pub fn render(&self) -> String {
        let mut s = self.lines.join("\n");
        if self.trailing_newline && !self.lines.is_empty() {
            s.push('\n');
        }
        s
    }
}

const ADDED_HEADER: &str = "# added by sr-rehearse for the rehearsal sandbox";

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# comment\nLOG_DIR = ${STARROCKS_HOME}/log\nJAVA_OPTS=\"-Xmx8g -Dx=${LOG_DIR}\"\n\nhttp_port = 8030\n  rpc_port:9020\nhttp_port=8031\n# tail\n";

    #[test]
    fn edits_the_effective_line_and_keeps_the_rest() {
        let mut c = ConfFile::parse(SAMPLE);
        assert_eq!(c.get("http_port").as_deref(), Some("8031"));
        let ch = c.set("http_port", "18030");
        assert_eq!(ch.line, 7);
        assert_eq!(ch.before.as_deref(), Some("http_port=8031"));
        assert_eq!(ch.after, "http_port=18030");
        let ch = c.set("rpc_port", "19020");
        assert_eq!(ch.after, "  rpc_port:19020");
        let out = c.render();
        assert!(
            out.contains("http_port = 8030\n"),
            "earlier duplicate untouched"
        );
        assert!(out.contains("JAVA_OPTS=\"-Xmx8g -Dx=${LOG_DIR}\""));
        assert!(out.starts_with("# comment\n") && out.ends_with("# tail\n"));
        assert_eq!(props::parse_map(&out)["http_port"], "18030");
    }

    #[test]
    fn keeps_shell_quotes_and_appends_missing_keys() {
        let mut c = ConfFile::parse("LOG_DIR = \"/var/log/sr\"\n");
        c.set("LOG_DIR", "/ws/log");
        let ch = c.set("meta_dir", "/ws/meta");
        assert_eq!(ch.before, None);
        let out = c.render();
        assert!(out.starts_with("LOG_DIR = \"/ws/log\"\n"));
        assert!(out.ends_with("meta_dir = /ws/meta\n"));
        assert_eq!(out.matches(ADDED_HEADER).count(), 1);
        let mut again = ConfFile::parse(&out);
        again.set("cluster_id", "1");
        assert_eq!(again.render().matches(ADDED_HEADER).count(), 1);
    }

    #[test]
    fn set_all_leaves_no_line_of_the_key_for_the_shell_to_pick() {
        let mut c = ConfFile::parse("PID_DIR=/prod/a \\\n  b\nx = 1\n  PID_DIR /prod/c\n");
        let changes = c.set_all("PID_DIR", "/ws/bin");
        assert_eq!(
            changes.iter().map(|c| c.line).collect::<Vec<_>>(),
            [1, 3],
            "line numbers of the rewritten file"
        );
        assert_eq!(c.render(), "PID_DIR=/ws/bin\nx = 1\n  PID_DIR /ws/bin\n");
        let mut none = ConfFile::parse("x = 1");
        assert_eq!(none.set_all("LOG_DIR", "/ws/log")[0].before, None);
        assert!(
            none.render().ends_with("LOG_DIR = /ws/log\n"),
            "an added last line ends with a newline, or `while read` skips it"
        );
    }

    #[test]
    fn continuation_lines_are_replaced_whole() {
        let mut c = ConfFile::parse("a = 1 \\\n  2\nb = 3\n");
        assert_eq!(c.get("a").as_deref(), Some("1 2"));
        c.set("a", "9");
        assert_eq!(c.render(), "a = 9\nb = 3\n");
    }
}
