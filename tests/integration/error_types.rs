//! The library reports failures as typed errors (`thiserror` enums), not strings, and leaves
//! `anyhow` to the binaries' edges: a caller can match on what went wrong, and a message is built
//! in one place. This test reads the sources, so a new `Result<_, String>` fails CI at once.

use std::path::{Path, PathBuf};

/// The edges, where errors become one line for a person and `anyhow` belongs (paths from the
/// top of the source tree).
const EDGES: &[&str] = &[
    "src/main.rs",
    "src/demo.rs",
    "src/demo_cluster.rs",
    "crates/starrocks-sim/src/main.rs",
];

/// Every library source folder of the workspace: the tool's and each crate's.
const LIBRARIES: &[&str] = &[
    "src",
    "crates/starrocks-common/src",
    "crates/starrocks-sim/src",
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The error types of every `Result<T, E>` in `code` (whitespace removed), by bracket matching.
fn result_error_types(code: &str) -> Vec<String> {
    let flat: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = Vec::new();
    let mut rest = flat.as_str();
    while let Some(i) = rest.find("Result<") {
        let body = &rest[i + "Result<".len()..];
        let (mut depth, mut comma, mut end) = (0i32, None, None);
        for (j, c) in body.char_indices() {
            match c {
                '<' | '(' | '[' => depth += 1,
                '>' if depth == 0 => {
                    end = Some(j);
                    break;
                }
                '>' | ')' | ']' => depth -= 1,
                ',' if depth == 0 && comma.is_none() => comma = Some(j),
                ';' | '{' => break,
                _ => {}
            }
        }
        if let (Some(c), Some(e)) = (comma, end) {
            out.push(body[c + 1..e].to_string());
        }
        rest = body;
    }
    out
}

#[test]
fn the_library_has_no_string_errors_and_no_anyhow() {
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for lib in LIBRARIES {
        sources(&top.join(lib), &mut files);
    }
    assert!(files.len() > 50, "the sources were not found: {files:?}");
    let mut found = Vec::new();
    for f in files {
        let rel = f.strip_prefix(top).unwrap().to_string_lossy().into_owned();
        if EDGES.contains(&rel.as_str()) {
            continue;
        }
        let code = std::fs::read_to_string(&f).unwrap();
        for e in result_error_types(&code) {
            if e == "String" || e == "&'staticstr" || e.starts_with("Box<dyn") {
                found.push(format!("{rel}: Result<_, {e}>"));
            }
        }
        if code.contains("anyhow") {
            found.push(format!("{rel}: uses anyhow"));
        }
    }
    assert!(
        found.is_empty(),
        "untyped errors in the library:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_reader_finds_error_types_across_lines_and_generics() {
    let code = "fn a() -> Result<Vec<Row>,\n String> {}\nfn b() -> io::Result<HashMap<String, String>> {}\nfn c() -> Result<(String, u16), &'static str> {}";
    assert_eq!(result_error_types(code), ["String", "&'staticstr"]);
}
