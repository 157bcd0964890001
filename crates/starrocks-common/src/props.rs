//! Java `Properties` files, read the way the JVM does it.
//!
//! StarRocks keeps `image/VERSION`, `image/ROLE` and `fe.conf` in this format (`ConfigBase.init`
//! loads fe.conf with `Properties.load(new FileReader(file))`), and the JVM's rules are not the
//! obvious ones: a line ends at LF, CR or CRLF, so a bare CR in the middle of what an editor shows
//! as one line starts a new entry; a line ending in an odd number of backslashes goes on with the
//! next one, whose leading blanks are dropped; `#` and `!` start comments (never continued);
//! `k = v`, `k=v`, `k: v` and `k v` all mean the same thing; `\t`, `\n`, `\uXXXX` and `\x` are
//! escapes; a later duplicate key wins; and `${VAR}` references expand the way `ConfigBase` does.
//! The tool (which must read production files exactly as StarRocks will), its line-preserving
//! editor (`src/conf.rs`) and the simulator read through this module; the simulator writes them
//! with `Properties.store`'s escaping in its own `properties` module.
//!
//! The rules are those of `java.util.Properties.LineReader.readLine`, `load0` and `loadConvert`
//! (OpenJDK 9 to 21, the JDKs StarRocks runs on), cited at each step below.

use std::collections::HashMap;

/// One logical entry of a properties file, with the line it started on (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// How a physical line ended: `LineReader` treats LF, CR and CRLF alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnd {
    Lf,
    CrLf,
    /// A carriage return not followed by a line feed: a line end to Java, not to a shell.
    Cr,
    /// The last line of a file that does not end with a line end.
    None,
}

impl LineEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            LineEnd::Lf => "\n",
            LineEnd::CrLf => "\r\n",
            LineEnd::Cr => "\r",
            LineEnd::None => "",
        }
    }
}

/// Splits `text` into physical lines the way `LineReader` ends them (`c == '\n' || c == '\r'`,
/// with the LF of a CRLF skipped). A file ending with a line end has no empty last line.
pub fn physical_lines(text: &str) -> Vec<(&str, LineEnd)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                out.push((&text[start..i], LineEnd::Lf));
                start = i + 1;
            }
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                out.push((&text[start..i], LineEnd::CrLf));
                i += 1;
                start = i + 1;
            }
            b'\r' => {
                out.push((&text[start..i], LineEnd::Cr));
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < text.len() {
        out.push((&text[start..], LineEnd::None));
    }
    out
}

/// The blanks `LineReader` skips at the start of a line: `' '`, `'\t'`, `'\f'` (not other Unicode
/// white space).
pub const BLANKS: [char; 3] = [' ', '\t', '\x0c'];

/// A logical line: the physical lines it spans (0-based, inclusive) and its text as `readLine`
/// returns it (continuations joined, escapes still in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logical {
    pub start: usize,
    pub end: usize,
    pub raw: String,
    /// Bytes of `raw` that come from the first physical line (after its leading blanks and
    /// without a continuation backslash), so an editor can tell where the value starts.
    pub first_len: usize,
}

/// Whether `s` ends in an odd number of backslashes: `readLine` flips `precedingBackslash` at
/// each one, and a set flag at the line end means "continued".
pub fn continues(s: &str) -> bool {
    s.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

/// Groups physical lines (without their line ends) into Java's logical lines.
pub fn logical_lines(lines: &[&str]) -> Vec<Logical> {
    let mut out = Vec::new();
    let mut raw = String::new();
    let mut start: Option<usize> = None;
    let mut first_len = None;
    for (i, line) in lines.iter().enumerate() {
        // `skipWhiteSpace` is set at every line start, after a continuation too.
        let s = line.trim_start_matches(BLANKS);
        if raw.is_empty() {
            // `if (len == 0)`: blank lines are skipped, and `#`/`!` start a comment that runs to
            // the line end, never continued (the comment loop stops at the first CR or LF).
            if s.is_empty() || s.starts_with(['#', '!']) {
                start = None;
                first_len = None;
                continue;
            }
            start.get_or_insert(i);
        } else if s.is_empty() {
            // A continuation onto a blank line: `appendedLineBegin` keeps the line end from
            // being skipped, so it ends the logical line (the blank line itself stays blank).
            out.push(Logical {
                start: start.take().unwrap_or(i),
                end: i - 1,
                first_len: first_len.take().unwrap_or(raw.len()),
                raw: std::mem::take(&mut raw),
            });
            continue;
        }
        raw.push_str(s);
        let joined = continues(s);
        if joined {
            // "backslash at EOL is not part of the line"
            raw.pop();
        }
        first_len.get_or_insert(raw.len());
        // At the end of the input a trailing backslash is dropped and the line returned
        // (`return precedingBackslash ? len - 1 : len`), even when nothing is left of it.
        if !joined || i + 1 == lines.len() {
            out.push(Logical {
                start: start.take().unwrap_or(i),
                end: i,
                first_len: first_len.take().unwrap_or(raw.len()),
                raw: std::mem::take(&mut raw),
            });
        }
    }
    out
}

/// Where `load0` splits a logical line: the key's length and where the value starts (in bytes).
/// The key ends at the first `=`, `:` or blank not preceded by an odd run of backslashes; then
/// blanks, at most one `=` or `:` (unless the key already ended on one), and blanks again.
pub fn key_value_bounds(line: &str) -> (usize, usize) {
    let b = line.as_bytes();
    let mut key_len = 0;
    let mut value_start = b.len();
    let mut has_sep = false;
    let mut preceding_backslash = false;
    while key_len < b.len() {
        let c = b[key_len];
        if (c == b'=' || c == b':') && !preceding_backslash {
            value_start = key_len + 1;
            has_sep = true;
            break;
        } else if matches!(c, b' ' | b'\t' | b'\x0c') && !preceding_backslash {
            value_start = key_len + 1;
            break;
        }
        preceding_backslash = c == b'\\' && !preceding_backslash;
        key_len += 1;
    }
    while value_start < b.len() {
        let c = b[value_start];
        if !matches!(c, b' ' | b'\t' | b'\x0c') {
            if !has_sep && (c == b'=' || c == b':') {
                has_sep = true;
            } else {
                break;
            }
        }
        value_start += 1;
    }
    (key_len, value_start)
}

/// Splits a logical line into its key and value, both still escaped, as `load0` does.
pub fn split_key_value(line: &str) -> (String, String) {
    let (k, v) = key_value_bounds(line);
    (line[..k].to_string(), line[v..].to_string())
}

/// A `\u` escape without four hex digits: `loadConvert` throws `IllegalArgumentException:
/// Malformed \uxxxx encoding.`, so the JVM loads nothing of the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: malformed \\uxxxx encoding (a `\\u` escape needs four hex digits)")]
pub struct Malformed {
    pub line: usize,
}

/// `loadConvert`, or `None` for a malformed `\u` escape: `\t`, `\r`, `\n`, `\f`, `\uXXXX` (UTF-16 units, so a surrogate pair makes one
/// character; a lone surrogate, which Java keeps, becomes U+FFFD), any other `\x` is `x`.
pub fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut units: Vec<u16> = Vec::new();
    let flush = |units: &mut Vec<u16>, out: &mut String| {
        out.push_str(&String::from_utf16_lossy(units));
        units.clear();
    };
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            flush(&mut units, &mut out);
            out.push(c);
            continue;
        }
        match it.next() {
            Some('u') => {
                let hex: String = it.by_ref().take(4).collect();
                if hex.len() != 4 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                units.push(u16::from_str_radix(&hex, 16).ok()?);
            }
            other => {
                flush(&mut units, &mut out);
                match other {
                    Some('t') => out.push('\t'),
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some('f') => out.push('\x0c'),
                    Some(o) => out.push(o),
                    // readLine never leaves an odd backslash at the end of a line.
                    None => {}
                }
            }
        }
    }
    flush(&mut units, &mut out);
    Some(out)
}

/// Parses properties text into its entries, in file order, duplicates included; a malformed
/// `\u` escape is an error, as it is to the JVM.
pub fn parse_strict(text: &str) -> Result<Vec<Entry>, Malformed> {
    let physical = physical_lines(text);
    let lines: Vec<&str> = physical.iter().map(|(l, _)| *l).collect();
    logical_lines(&lines)
        .into_iter()
        .map(|l| {
            let (k, v) = key_value_bounds(&l.raw);
            let bad = || Malformed { line: l.start + 1 };
            Ok(Entry {
                key: unescape(&l.raw[..k]).ok_or_else(bad)?,
                value: unescape(&l.raw[v..]).ok_or_else(bad)?,
                line: l.start + 1,
            })
        })
        .collect()
}

/// Parses properties text into its entries, in file order, duplicates included. For files the
/// JVM wrote (`image/VERSION`, `image/ROLE`): an entry with a malformed `\u` escape is skipped.
pub fn parse(text: &str) -> Vec<Entry> {
    let physical = physical_lines(text);
    let lines: Vec<&str> = physical.iter().map(|(l, _)| *l).collect();
    logical_lines(&lines)
        .into_iter()
        .filter_map(|l| {
            let (k, v) = key_value_bounds(&l.raw);
            Some(Entry {
                key: unescape(&l.raw[..k])?,
                value: unescape(&l.raw[v..])?,
                line: l.start + 1,
            })
        })
        .collect()
}

/// Parses properties text into a map where, as in Java, the last occurrence of a key wins.
pub fn parse_map(text: &str) -> HashMap<String, String> {
    parse(text).into_iter().map(|e| (e.key, e.value)).collect()
}

/// A value written so that `loadConvert` reads it back unchanged: backslashes doubled, a leading
/// blank and line-end characters escaped.
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            ' ' | '\t' | '\x0c' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A `${VAR}` reference to a variable the lookup does not know; holds its name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no such env variable: {0}")]
pub struct UnsetVariable(pub String);

/// Expands `${VAR}` references the way StarRocks' `ConfigBase.replacedByEnv` does (pattern
/// `\$\{([^\}]*)\}`): from the given lookup, an unknown variable is an error naming it, and a `${`
/// without its `}` is left as it is.
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
mod tests;
