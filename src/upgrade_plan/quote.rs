//! Shell quoting for the runbook: every value placed in a command becomes one shell word.
//!
//! The runbook is pasted into a shell on the hosts, so a path given by the user, an FE address the
//! cluster reported or the tool's own path must reach the command as one word, with nothing in it
//! run: as it is when it holds nothing a shell reads, in single quotes otherwise, and in bash's
//! `$'...'` form when it holds a control character (or is not UTF-8), so that a newline in it
//! cannot end the command where it is pasted.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A path as one shell word.
pub(super) fn q(p: &Path) -> String {
    let bytes = p.as_os_str().as_bytes();
    match std::str::from_utf8(bytes) {
        Ok(s) => shell_quote(s),
        Err(_) => ansi_c_quote(bytes),
    }
}

/// `s` as one shell word: as it is when it holds nothing a shell reads, else in single quotes, or
/// in `$'...'` when it holds a control character.
pub(super) fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:@=,+".contains(c))
    {
        s.to_string()
    } else if s
        .chars()
        .any(|c| c.is_control() || !c.is_ascii() && !c.is_alphanumeric())
    {
        ansi_c_quote(s.as_bytes())
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// bash's `$'...'`: printable ASCII as it is (but `\` and `'`), every other byte as `\xNN`.
fn ansi_c_quote(bytes: &[u8]) -> String {
    let mut o = String::from("$'");
    for &b in bytes {
        match b {
            b'\\' => o.push_str("\\\\"),
            b'\'' => o.push_str("\\'"),
            0x20..=0x7e => o.push(b as char),
            _ => o.push_str(&format!("\\x{b:02x}")),
        }
    }
    o.push('\'');
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    /// What bash makes of a quoted word: run through `printf %s`, nothing executed.
    fn bash_word(word: &str) -> Vec<u8> {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("printf %s {word}"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{word}");
        out.stdout
    }

    #[test]
    fn every_word_reads_back_as_itself() {
        for s in [
            "/opt/starrocks/be",
            "/opt/sr/odd bin $(id)/it's",
            "127.0.0.1$(id>/tmp/x):8030",
            "a\nb`id`",
            "/opt/a\u{85}b\u{2028}c\x7fd",
            "",
            "名前",
        ] {
            assert_eq!(bash_word(&shell_quote(s)), s.as_bytes(), "{s:?}");
        }
        let raw = OsStr::from_bytes(b"/opt/\xff\x1b[2J'x");
        assert_eq!(bash_word(&q(Path::new(raw))), raw.as_bytes());
    }
}
