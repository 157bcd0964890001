//! Java `Properties` files written the way `Properties.store` writes them.
//!
//! A simulated FE writes `image/VERSION` and `image/ROLE` as the JVM does: a `#<date>` first line
//! and a handful of characters escaped (`saveConvert`). Only the simulator writes these files; both
//! it and the tool read them with `starrocks_common::props`.

/// Escapes a key or value the way `Properties.store` does (`saveConvert`).
fn escape(s: &str, is_key: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        match c {
            ' ' if i == 0 || is_key => out.push_str("\\ "),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\x0c' => out.push_str("\\f"),
            '=' | ':' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// Renders entries as `Properties.store(out, null)` would: a `#<date>` line, then `key=value` lines,
/// each ending in `\n`. The caller chooses the key order, because the JVM's order depends on its
/// version (see `Storage.java` notes in the reference).
pub fn store(date_line: &str, entries: &[(&str, &str)]) -> String {
    let mut out = format!("#{date_line}\n");
    for (k, v) in entries {
        out.push_str(&escape(k, true));
        out.push('=');
        out.push_str(&escape(v, false));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use starrocks_common::props::parse_map;

    #[test]
    fn store_round_trips_and_escapes() {
        let text = store(
            "Fri Jan 19 20:03:14 UTC 2024",
            &[("clusterId", "123"), ("token", "a:b=c")],
        );
        assert_eq!(
            text,
            "#Fri Jan 19 20:03:14 UTC 2024\nclusterId=123\ntoken=a\\:b\\=c\n"
        );
        let map = parse_map(&text);
        assert_eq!(map["token"], "a:b=c");
    }
}
