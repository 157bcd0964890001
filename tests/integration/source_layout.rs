//! The shape of the source tree a newcomer reads: every source file of the three crates fits on a
//! reader's screen-and-a-half (at most 600 lines) and opens with a `//!` paragraph saying why it
//! exists, and the README's layout section names the tree as it is. These tests read the files,
//! so a file that outgrows the rule, or a folder that moves without the README, fails here.

use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;

fn top() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file of the workspace's crates: their sources, build scripts and own tests.
fn rust_sources() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = ["src", "build.rs", "crates"]
        .iter()
        .flat_map(|d| walkdir::WalkDir::new(top().join(d)).into_iter().flatten())
        .map(|e| e.path().to_path_buf())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .filter(|p| !p.components().any(|c| c.as_os_str() == "target"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_source_file_is_short_and_says_why_it_exists() {
    let files = rust_sources();
    assert!(files.len() > 100, "sources not found: {}", files.len());
    let mut problems = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let rel = f.strip_prefix(top()).unwrap().display();
        let lines = text.lines().count();
        if lines > MAX_LINES {
            problems.push(format!(
                "{rel}: {lines} lines (at most {MAX_LINES}): split it by responsibility"
            ));
        }
        if !text.starts_with("//!") {
            problems.push(format!(
                "{rel}: no `//!` paragraph at the top saying why it exists"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The README's layout block: the lines between "## Layout" and the closing fence.
fn layout_block() -> String {
    let readme = std::fs::read_to_string(top().join("README.md")).unwrap();
    let start = readme
        .find("## Layout")
        .expect("README has a Layout section");
    let block = &readme[start..];
    let open = block.find("```\n").expect("the layout is a code block") + 4;
    let close = block[open..].find("```").unwrap() + open;
    block[open..close].to_string()
}

/// Paths the layout names: every word that looks like a path of this tree.
fn named_paths(block: &str) -> Vec<String> {
    block
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .filter(|w| {
            ["src/", "crates/", "tests/", "docs/", "scripts/"]
                .iter()
                .any(|p| w.starts_with(p))
                || matches!(*w, "build.rs" | "Cargo.toml")
        })
        .map(|w| w.trim_end_matches(['.', ';', ':']).to_string())
        .collect()
}

#[test]
fn the_readme_layout_names_what_exists_and_every_top_level_module() {
    let block = layout_block();
    let named = named_paths(&block);
    assert!(named.len() > 20, "too few paths found in:\n{block}");
    let missing: Vec<&String> = named.iter().filter(|p| !top().join(p).exists()).collect();
    assert!(
        missing.is_empty(),
        "the README layout names paths that do not exist: {missing:?}"
    );
    // Every module of the tool (a file or folder directly under src/) and every crate appears.
    let mut unnamed = Vec::new();
    for dir in ["src", "crates"] {
        for e in std::fs::read_dir(top().join(dir)).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == "lib.rs" {
                continue;
            }
            let rel = format!("{dir}/{name}{}", if e.path().is_dir() { "/" } else { "" });
            let bare = rel.trim_end_matches('/');
            if !block.contains(&rel) && !named.iter().any(|n| n == bare) {
                unnamed.push(rel);
            }
        }
    }
    assert!(
        unnamed.is_empty(),
        "the README layout does not name: {unnamed:?}"
    );
}
