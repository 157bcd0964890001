//! A line-preserving editor for fe.conf and be.conf, that reads each file the way its server does.
//!
//! An operator reads the rewritten sandbox conf next to production's, so every comment, blank line,
//! key order, quote, line end and `${VAR}` reference stays as it was; only the values the rehearsal
//! must change are replaced. The lines are the server's own: fe.conf's are Java's (`props`: a line
//! ends at LF, CR or CRLF, a trailing backslash continues it), be.conf's the BE's (`beconf`: LF
//! only, no continuation). A later duplicate key wins in both, so the editor edits the *effective*
//! (last) occurrence of a key, the whole logical line with its continuation lines, and appends a
//! key that is absent at the end.
//!
//! The start scripts read the same file a third way (`export_env_from_conf`: `while read line`,
//! LF only, backslash-newline joined), and export its uppercase keys. [`ConfFile::shell_mismatches`]
//! finds the lines where the shell would export a key the server's reading does not put there,
//! and [`ConfFile::normalise_line_ends`] turns the line ends only Java honours into LF, so what the
//! scripts see and what the editor rewrote agree.

use std::collections::HashMap;

use crate::props::{self, LineEnd};
use starrocks_common::beconf;

/// Whose rules the file is read by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `java.util.Properties.load` (fe.conf).
    Java,
    /// `config::Properties::load` of `be/src/common/configbase.cpp` (be.conf).
    Be,
}

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
struct Line {
    text: String,
    end: LineEnd,
}

#[derive(Debug, Clone)]
struct Logical {
    key: String,
    value: String,
    /// First and last physical line (0-based, inclusive).
    start: usize,
    end: usize,
    /// The first line up to where the value starts, when the key is written there whole: kept
    /// as it is (indentation, separator) when the value is replaced.
    prefix: Option<String>,
}

/// A conf file held as its physical lines, each with its own line end.
#[derive(Debug, Clone)]
pub struct ConfFile {
    dialect: Dialect,
    lines: Vec<Line>,
}

impl ConfFile {
    /// fe.conf (and any Java properties file).
    pub fn parse(text: &str) -> ConfFile {
        let lines = props::physical_lines(text)
            .into_iter()
            .map(|(t, end)| Line {
                text: t.to_string(),
                end,
            })
            .collect();
        ConfFile {
            dialect: Dialect::Java,
            lines,
        }
    }

    /// be.conf: `std::getline` splits at LF only, so a CR stays in its line.
    pub fn parse_be(text: &str) -> ConfFile {
        let body = text.strip_suffix('\n').unwrap_or(text);
        let mut lines: Vec<Line> = if text.is_empty() {
            Vec::new()
        } else {
            body.split('\n')
                .map(|t| Line {
                    text: t.to_string(),
                    end: LineEnd::Lf,
                })
                .collect()
        };
        if !text.ends_with('\n') {
            if let Some(l) = lines.last_mut() {
                l.end = LineEnd::None;
            }
        }
        ConfFile {
            dialect: Dialect::Be,
            lines,
        }
    }

    /// A malformed `\u` escape, which makes the JVM refuse the whole file.
    pub fn java_error(&self) -> Option<props::Malformed> {
        (self.dialect == Dialect::Java)
            .then(|| props::parse_strict(&self.render()).err())
            .flatten()
    }

    fn logical(&self) -> Vec<Logical> {
        match self.dialect {
            Dialect::Java => {
                let texts: Vec<&str> = self.lines.iter().map(|l| l.text.as_str()).collect();
                props::logical_lines(&texts)
                    .into_iter()
                    .filter_map(|l| {
                        let (k, v) = props::key_value_bounds(&l.raw);
                        let key = props::unescape(&l.raw[..k])?;
                        let value = props::unescape(&l.raw[v..])?;
                        let first = &self.lines[l.start].text;
                        let indent = first.len() - first.trim_start_matches(props::BLANKS).len();
                        let prefix = (l.raw[..k] == key && v <= l.first_len)
                            .then(|| first[..indent + v].to_string());
                        Some(Logical {
                            key,
                            value,
                            start: l.start,
                            end: l.end,
                            prefix,
                        })
                    })
                    .collect()
            }
            Dialect::Be => self
                .lines
                .iter()
                .enumerate()
                .filter_map(|(i, l)| {
                    let (k, v) = beconf::split_line(&l.text)?;
                    Some(Logical {
                        key: beconf::key_of(&l.text[k]),
                        value: l.text[v.clone()].to_string(),
                        start: i,
                        end: i,
                        prefix: Some(l.text[..v.start].to_string()),
                    })
                })
                .collect(),
        }
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
    /// the server calls effective (`PID_DIR=/a` then `PID_DIR /b`). Changing them all leaves no
    /// line that could name a production folder.
    pub fn set_all(&mut self, key: &str, value: &str) -> Vec<Change> {
        let count = self.logical().iter().filter(|l| l.key == key).count();
        if count == 0 {
            return vec![self.set(key, value)];
        }
        (0..count)
            .filter_map(|i| {
                let l = self.logical().into_iter().filter(|l| l.key == key).nth(i)?;
                let line = self.value_line(&l, key, value);
                Some(self.splice(&l, key, vec![line]))
            })
            .collect()
    }

    /// Sets `key` to `value` on its effective line, keeping indentation, the separator and shell
    /// quoting; appends `key = value` when the key is absent.
    pub fn set(&mut self, key: &str, value: &str) -> Change {
        let found = self.logical().into_iter().rev().find(|l| l.key == key);
        match found {
            Some(l) => {
                let line = self.value_line(&l, key, value);
                self.splice(&l, key, vec![line])
            }
            None => {
                if self.lines.iter().all(|l| l.text != ADDED_HEADER) {
                    if self.lines.last().is_some_and(|l| !l.text.trim().is_empty()) {
                        self.push(String::new());
                    }
                    self.push(ADDED_HEADER.into());
                }
                let line = format!("{key} = {}", self.escape(value));
                self.push(line.clone());
                Change {
                    key: key.into(),
                    line: self.lines.len(),
                    before: None,
                    after: line,
                }
            }
        }
    }

    /// Rewrites every logical line of `key` physical line by physical line: `edit` gets each
    /// line's number (1-based), text and the byte where the value may start on it (past the key
    /// on the first line), and returns the new text. For values only the shell reads (`JAVA_OPTS`), where escapes and
    /// quotes must stay exactly as they were around the words that change.
    pub fn edit_lines(
        &mut self,
        key: &str,
        edit: &mut dyn FnMut(usize, &str, usize) -> String,
    ) -> Vec<Change> {
        let spans: Vec<Logical> = self
            .logical()
            .into_iter()
            .filter(|l| l.key == key)
            .collect();
        let mut changes = Vec::new();
        // One line for one: the line numbers stay.
        for l in spans {
            let before = self.span_text(&l);
            for i in l.start..=l.end {
                let text = &self.lines[i].text;
                let from = match (&l.prefix, i == l.start) {
                    (Some(p), true) => p.len(),
                    (None, true) => text.len(),
                    _ => 0,
                };
                self.lines[i].text = edit(i + 1, text, from);
            }
            let after = self.span_text(&l);
            if after != before {
                changes.push(Change {
                    key: key.into(),
                    line: l.start + 1,
                    before: Some(before),
                    after,
                });
            }
        }
        changes
    }

    fn span_text(&self, l: &Logical) -> String {
        self.lines[l.start..=l.end]
            .iter()
            .map(|x| x.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn escape(&self, value: &str) -> String {
        match self.dialect {
            Dialect::Java => props::escape_value(value),
            Dialect::Be => value.to_string(),
        }
    }

    /// The one line that gives `key` the value `value`, written as the logical line `l` was.
    fn value_line(&self, l: &Logical, key: &str, value: &str) -> String {
        let quoted = l.value.len() >= 2 && l.value.starts_with('"') && l.value.ends_with('"');
        let v = self.escape(value);
        let v = if quoted { format!("\"{v}\"") } else { v };
        match &l.prefix {
            Some(p) if p.ends_with('=') && l.value.is_empty() => format!("{p} {v}"),
            Some(p) => format!("{p}{v}"),
            // A key not written whole on the first line (split by a continuation, or escaped)
            // is written plainly: rebuilding its text would corrupt the line.
            None => {
                let first = &self.lines[l.start].text;
                let indent = &first[..first.len() - first.trim_start_matches(props::BLANKS).len()];
                format!("{indent}{key} = {v}")
            }
        }
    }

    /// Replaces the physical lines of `l` by `new`. A replaced line ends with LF where it ended
    /// with CR or CRLF (the same to Java; to the shell a CR would end the value).
    fn splice(&mut self, l: &Logical, key: &str, new: Vec<String>) -> Change {
        let before = self.span_text(l);
        let end = match self.lines[l.end].end {
            LineEnd::None => LineEnd::None,
            _ => LineEnd::Lf,
        };
        let after = new.join("\n");
        let n = new.len();
        let lines = new.into_iter().enumerate().map(|(i, text)| Line {
            text,
            end: if i + 1 == n { end } else { LineEnd::Lf },
        });
        self.lines
            .splice(l.start..=l.end, lines.collect::<Vec<_>>());
        Change {
            key: key.into(),
            line: l.start + 1,
            before: Some(before),
            after,
        }
    }

    /// Appends a line; the line before it ends with LF if it had no line end (`while read` skips
    /// a last line without one) or a bare CR (which an empty line after it would turn into CRLF).
    fn push(&mut self, text: String) {
        // An empty last line after a bare CR: `\r` + `\n` would read as one CRLF and the empty
        // line would vanish, so that one ends with CRLF (still its own line to Java and a shell).
        let n = self.lines.len();
        let after_cr = n >= 2 && self.lines[n - 2].end == LineEnd::Cr;
        if let Some(last) = self.lines.last_mut() {
            if matches!(last.end, LineEnd::None | LineEnd::Cr) {
                last.end = if last.end == LineEnd::Cr && last.text.is_empty() && after_cr {
                    LineEnd::CrLf
                } else {
                    LineEnd::Lf
                };
            }
        }
        self.lines.push(Line {
            text,
            end: LineEnd::Lf,
        });
    }

    /// The 1-based lines ending with a bare CR: a line end to Java, not to the start scripts.
    pub fn bare_cr_lines(&self) -> Vec<usize> {
        (self.lines.iter().enumerate())
            .filter(|(_, l)| l.end == LineEnd::Cr)
            .map(|(i, _)| i + 1)
            .collect()
    }

    /// Ends with LF every line that Java and the shell would otherwise split differently: a bare
    /// CR (Java ends the line, `read` does not), and a CRLF after a continuing backslash (Java
    /// continues, `read` sees `\` + CR). Both are the same line end to Java, so the FE reads the
    /// file as before. Returns the 1-based lines changed.
    pub fn normalise_line_ends(&mut self) -> Vec<usize> {
        let mut changed = Vec::new();
        for (i, l) in self.lines.iter_mut().enumerate() {
            let split =
                l.end == LineEnd::Cr || (l.end == LineEnd::CrLf && props::continues(&l.text));
            if self.dialect == Dialect::Java && split {
                l.end = LineEnd::Lf;
                changed.push(i + 1);
            }
        }
        changed
    }

    /// The uppercase keys `export_env_from_conf` exports, with the 1-based physical line each
    /// of its lines starts on: `while read line` (LF only; a backslash-newline joins, other
    /// backslashes drop; a last line without LF is never read), then `^[[:upper:]]([[:upper:]]|_|
    /// [[:digit:]])*=` once blanks around `=` are gone.
    pub fn shell_exports(&self) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        let mut buf = String::new();
        let mut start = None;
        for (i, l) in self.lines.iter().enumerate() {
            start.get_or_insert(i);
            buf.push_str(&l.text);
            match l.end {
                LineEnd::Cr => {
                    buf.push('\r');
                    continue;
                }
                LineEnd::CrLf => buf.push('\r'),
                LineEnd::Lf => {}
                LineEnd::None => break,
            }
            if props::continues(&buf) {
                buf.pop();
                continue;
            }
            if let Some(key) = shell_key(&buf) {
                out.push((key, start.unwrap_or(i) + 1));
            }
            buf.clear();
            start = None;
        }
        out
    }

    /// Lines where the start scripts export an uppercase key that the server's reading of the
    /// file does not start there: the editor, which rewrites what the server reads, would leave
    /// the shell's value alone. Each as `line N: KEY`.
    pub fn shell_mismatches(&self) -> Vec<String> {
        let logical = self.logical();
        self.shell_exports()
            .into_iter()
            .filter(|(key, line)| {
                !logical
                    .iter()
                    .any(|l| l.start + 1 == *line && &l.key == key)
            })
            .map(|(key, line)| format!("line {line}: {key}"))
            .collect()
    }

    pub fn render(&self) -> String {
        self.lines
            .iter()
            .flat_map(|l| [l.text.as_str(), l.end.as_str()])
            .collect()
    }
}

/// The key a `read` line gives `export_env_from_conf`: backslashes drop (`\x` is `x`), blanks
/// lead, then `KEY`, blanks, `=`.
fn shell_key(line: &str) -> Option<String> {
    let mut s = String::with_capacity(line.len());
    let mut it = line.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            s.extend(it.next());
        } else {
            s.push(c);
        }
    }
    let s = s.trim_start_matches([' ', '\t']);
    let key_len = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_uppercase() || (i > 0 && (c.is_ascii_digit() || c == '_'))))
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    let rest = s[key_len..].trim_start_matches([' ', '\t']);
    (key_len > 0 && rest.starts_with('=')).then(|| s[..key_len].to_string())
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
    fn an_empty_line_after_a_bare_cr_stays_a_line_when_a_key_is_added() {
        let mut c = ConfFile::parse("meta_dir = \r\r");
        c.set("sys_log_dir", "0");
        let lines: Vec<String> = props::physical_lines(&c.render())
            .into_iter()
            .map(|(l, _)| l.to_string())
            .collect();
        assert_eq!(lines[..3], ["meta_dir = ", "", ADDED_HEADER]);
    }

    #[test]
    fn set_all_leaves_no_line_of_the_key_for_the_shell_to_pick() {
        let mut c = ConfFile::parse("PID_DIR=/prod/a \\\n  b\nx = 1\n  PID_DIR /prod/c\n");
        let changes = c.set_all("PID_DIR", "/ws/bin");
        let lines: Vec<usize> = changes.iter().map(|c| c.line).collect();
        assert_eq!(lines, [1, 3], "line numbers of the rewritten file");
        assert_eq!(c.render(), "PID_DIR=/ws/bin\nx = 1\n  PID_DIR /ws/bin\n");
        let mut none = ConfFile::parse("x = 1");
        assert_eq!(none.set_all("LOG_DIR", "/ws/log")[0].before, None);
        assert!(
            none.render().starts_with("x = 1\n") && none.render().ends_with("LOG_DIR = /ws/log\n"),
            "an added last line ends with a newline, or `while read` skips it"
        );
    }

    #[test]
    fn continuation_lines_are_replaced_whole() {
        let mut c = ConfFile::parse("a = 1 \\\n  2\nb = 3\nc = \\\r\n  4\n");
        assert_eq!(c.get("a").as_deref(), Some("1 2"));
        assert_eq!(c.get("c").as_deref(), Some("4"));
        c.set("a", "9");
        c.set("c", "C:\\x");
        assert_eq!(c.render(), "a = 9\nb = 3\nc = C:\\\\x\n");
        assert_eq!(props::parse_map(&c.render())["c"], "C:\\x");
    }

    /// The probe's production line: one line to an editor splitting at LF, three to the FE.
    #[test]
    fn a_bare_cr_is_a_line_end_and_the_lines_after_it_are_edited() {
        let prod = "meta_dir = /opt/meta\nqe_max_connection = 1024\rmeta_dir = /prod/meta\rquery_port = 9030\r\nk=v\n";
        let mut c = ConfFile::parse(prod);
        assert_eq!(c.get("meta_dir").as_deref(), Some("/prod/meta"));
        assert_eq!(c.line_of("query_port"), Some(4));
        assert_eq!(c.bare_cr_lines(), [2, 3]);
        c.set("meta_dir", "/ws/meta");
        c.set("query_port", "19030");
        let out = c.render();
        let java = props::parse_map(&out);
        assert_eq!(
            (java["meta_dir"].as_str(), java["query_port"].as_str()),
            ("/ws/meta", "19030")
        );
        assert_eq!(
            out,
            "meta_dir = /opt/meta\nqe_max_connection = 1024\rmeta_dir = /ws/meta\nquery_port = 19030\nk=v\n"
        );
        assert_eq!(c.normalise_line_ends(), [2]);
        assert_eq!(c.render(), out.replace('\r', "\n"));
    }

    #[test]
    fn the_shell_and_the_fe_must_start_the_same_key_lines() {
        // `read` turns `\ ` into a blank: the shell exports PID_DIR, Java reads key "PID_DIR ".
        let c = ConfFile::parse("PID_DIR\\ =/prod/bin\nLOG_DIR = /l\nJAVA_OPTS : x\n# c \\\nX=1\n");
        assert_eq!(c.shell_mismatches(), ["line 1: PID_DIR"]);
        let exported: Vec<(String, usize)> = c.shell_exports();
        assert_eq!(
            exported,
            [("PID_DIR".into(), 1), ("LOG_DIR".into(), 2)],
            "X is in a comment"
        );
        // Java continues over `\` CRLF, the shell does not, until the line end is LF.
        let mut c = ConfFile::parse("A=1 \\\r\nPID_DIR=/prod\r\nB=2\rPID_DIR=/p2\n");
        assert_eq!(c.shell_mismatches(), ["line 2: PID_DIR"]);
        assert_eq!(c.normalise_line_ends(), [1, 3]);
        assert!(c.shell_mismatches().is_empty());
        assert_eq!(
            c.shell_exports(),
            [("A".into(), 1), ("B".into(), 3), ("PID_DIR".into(), 4)]
        );
        assert_eq!(
            ConfFile::parse("PID_DIR=/x").shell_exports(),
            [],
            "never read: no LF"
        );
    }
}
