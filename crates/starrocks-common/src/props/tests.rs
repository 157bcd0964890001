//! The properties reader against Java's own: each expected map below is what
//! `java.util.Properties.load(new FileReader(f))` printed for the same bytes (OpenJDK 17.0.15), so
//! a change that drifts from the JVM fails here without a JDK.

use super::*;

/// Line ends at CR and CRLF, continuations (with CRLF, onto a blank line, at the end of the file),
/// comments that never continue, a comment after a lone-backslash line, separators and escapes.
const JAVA_CASES: &str = "qe_max_connection = 1024\rmeta_dir = /prod/meta\rquery_port = 9030\n# c \\\nk1 = a \\\r\n   b\\\\\nk2=x\\\r\n\n k3 \\\n\nk4 : v\\u0041\\tz\n\\\n# not a comment?\n\\\nk5=after\n!bang=1\nk6\\ key=\\ lead\nk7==v\nk8 := v\nk9   v w\ntrail = end\\";

#[test]
fn reads_what_java_reads() {
    let map = parse_map(JAVA_CASES);
    let mut got: Vec<(String, String)> = map.into_iter().collect();
    got.sort();
    let want = [
        ("k1", "a b\\"),
        ("k2", "x"),
        ("k3", ""),
        ("k4", "vA\tz"),
        ("k5", "after"),
        ("k6 key", " lead"),
        ("k7", "=v"),
        ("k8", "= v"),
        ("k9", "v w"),
        ("meta_dir", "/prod/meta"),
        ("qe_max_connection", "1024"),
        ("query_port", "9030"),
        ("trail", "end"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn a_bare_cr_ends_a_line_and_numbers_follow_it() {
    let e = parse("a = 1\rb = 2\r\nc = 3\n");
    let lines: Vec<(&str, usize)> = e.iter().map(|e| (e.key.as_str(), e.line)).collect();
    assert_eq!(lines, [("a", 1), ("b", 2), ("c", 3)]);
    let ends: Vec<LineEnd> = physical_lines("a\rb\r\nc\nd")
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    assert_eq!(
        ends,
        [LineEnd::Cr, LineEnd::CrLf, LineEnd::Lf, LineEnd::None]
    );
}

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
fn continuation_spans_and_escapes() {
    let map = parse_map("a = one \\\n    two\nb=x\\:y\\=z\nc\\ d = e\n");
    assert_eq!(map["a"], "one two");
    assert_eq!(map["b"], "x:y=z");
    assert_eq!(map["c d"], "e");
    let l = logical_lines(&["a = 1 \\", "  2", "", "b \\", "", "c"]);
    let spans: Vec<(usize, usize, &str)> =
        l.iter().map(|l| (l.start, l.end, l.raw.as_str())).collect();
    assert_eq!(spans, [(0, 1, "a = 1 2"), (3, 3, "b "), (5, 5, "c")]);
    assert_eq!(l[0].first_len, "a = 1 ".len());
}

#[test]
fn unicode_escapes_like_java() {
    // A surrogate pair is one character, as in a Java String.
    assert_eq!(parse_map("k=\\uD83D\\uDE00")["k"], "\u{1F600}");
    assert_eq!(
        parse_strict("ok=1\nk=\\u12G4\n").unwrap_err(),
        Malformed { line: 2 }
    );
    assert_eq!(parse("ok=1\nk=\\u12\n").len(), 1);
    for v in ["C:\\dir", " lead", "a\nb"] {
        assert_eq!(parse_map(&format!("k={}", escape_value(v)))["k"], v);
    }
}

#[test]
fn expands_known_and_names_unknown() {
    let lookup = |n: &str| (n == "HOME").then(|| "/h".to_string());
    assert_eq!(expand_vars("${HOME}/log", &lookup).unwrap(), "/h/log");
    assert_eq!(
        expand_vars("${NOPE}/x", &lookup).unwrap_err(),
        UnsetVariable("NOPE".into())
    );
    assert_eq!(expand_vars("a${HOME", &lookup).unwrap(), "a${HOME");
}
