//! The modules of each crate depend on each other in one direction only, at the top level and inside
//! every folder: a module that calls into a sibling is never called back by it, however indirectly.
//! A cycle is where a change in one place breaks another without either file saying so. This test
//! reads the sources (every `crate::<path>::<module>` and `super::...::<module>` naming a sibling,
//! outside `#[cfg(test)]`) and fails on any cycle, naming the folder and the cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The modules that are children of the folder `dir` (its `*.rs` files but `mod.rs`, `lib.rs` and
/// `main.rs`, and its sub-folders) -> the sibling modules each names. A child's file names its
/// siblings as `crate::<path of dir>::<sibling>`, or as `super::` repeated once per level between the
/// file's module and `dir` (`dir/c.rs` and `dir/c/mod.rs` use one, `dir/c/x.rs` two, ...), alone or
/// inside a `{...}` group.
fn graph(dir: &Path, crate_path: &[String]) -> BTreeMap<String, BTreeSet<String>> {
    let mut children: BTreeMap<String, Vec<(std::path::PathBuf, usize)>> = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if p.is_dir() {
            let files = walkdir::WalkDir::new(&p)
                .into_iter()
                .flatten()
                .filter(|f| f.path().extension().is_some_and(|x| x == "rs"))
                .map(|f| {
                    let rel = f.path().strip_prefix(&p).unwrap();
                    // dir/c/mod.rs is module c (one level), dir/c/x.rs is c::x (two), and so on.
                    let mut levels = rel.components().count() + 1;
                    if rel.file_name().is_some_and(|n| n == "mod.rs") {
                        levels -= 1;
                    }
                    (f.path().to_path_buf(), levels)
                })
                .collect();
            children.insert(name, files);
        } else if name.ends_with(".rs") && !["mod.rs", "lib.rs", "main.rs"].contains(&name.as_str())
        {
            children.insert(name.trim_end_matches(".rs").to_string(), vec![(p, 1)]);
        }
    }
    let mut out = BTreeMap::new();
    for (module, files) in &children {
        let mut deps = BTreeSet::new();
        for (f, levels) in files {
            let text = std::fs::read_to_string(f).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            let mut prefixes = vec!["super::".repeat(*levels)];
            prefixes.push(format!(
                "crate::{}",
                crate_path
                    .iter()
                    .map(|c| format!("{c}::"))
                    .collect::<String>()
            ));
            for prefix in &prefixes {
                for (i, _) in code.match_indices(prefix.as_str()) {
                    // `super::super::x` also contains `super::x` one level down: only whole paths.
                    let before = &code[..i];
                    if before.ends_with("super::") || before.ends_with("crate::") {
                        continue;
                    }
                    for dep in names_after(&code[i + prefix.len()..]) {
                        if dep != *module && children.contains_key(&dep) {
                            deps.insert(dep);
                        }
                    }
                }
            }
        }
        out.insert(module.clone(), deps);
    }
    out
}

/// The first path segment after a prefix, or each item's first segment of a `{...}` group.
fn names_after(rest: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let Some(group) = rest.strip_prefix('{') else {
        return vec![ident(rest)];
    };
    let mut names = Vec::new();
    let mut depth = 0;
    let mut item_start = true;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => item_start = true,
            c if item_start && !c.is_whitespace() => {
                names.push(ident(&group[i..]));
                item_start = false;
            }
            _ => {}
        }
    }
    names
}

/// A cycle through `start`, if there is one.
fn cycle_from(
    g: &BTreeMap<String, BTreeSet<String>>,
    start: &str,
    node: &str,
    path: &mut Vec<String>,
) -> Option<Vec<String>> {
    for dep in g.get(node).into_iter().flatten() {
        if dep == start {
            let mut c = path.clone();
            c.push(dep.clone());
            return Some(c);
        }
        if g.contains_key(dep) && !path.contains(dep) {
            path.push(dep.clone());
            if let Some(c) = cycle_from(g, start, dep, path) {
                return Some(c);
            }
            path.pop();
        }
    }
    None
}

/// Every cycle among the children of `src` and, folder by folder, among the children of each of its
/// folders.
fn cycles_in(src: &str, must_have: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(src);
    let top = graph(&root, &[]);
    for m in must_have {
        assert!(top.contains_key(*m), "{src}: no module {m} in {top:?}");
    }
    let mut found = Vec::new();
    for dir in walkdir::WalkDir::new(&root)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_dir())
    {
        let rel: Vec<String> = dir
            .path()
            .strip_prefix(&root)
            .unwrap()
            .components()
            .map(|c| c.as_os_str().to_string_lossy().to_string())
            .collect();
        let g = graph(dir.path(), &rel);
        let place = if rel.is_empty() {
            src.to_string()
        } else {
            format!("{src}/{}", rel.join("/"))
        };
        found.extend(
            g.keys()
                .filter_map(|m| cycle_from(&g, m, m, &mut vec![m.clone()]))
                .map(|c| format!("{place}: {}", c.join(" -> "))),
        );
    }
    found
}

#[test]
fn top_level_modules_have_no_cycle() {
    let cycles = cycles_in("src", &["runner", "watch"]);
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_simulator_and_the_common_crate_have_no_module_cycle() {
    let mut cycles = cycles_in("crates/starrocks-sim/src", &["fe", "cluster"]);
    cycles.extend(cycles_in(
        "crates/starrocks-common/src",
        &["version", "ports"],
    ));
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

#[test]
fn a_cycle_is_found_when_there_is_one() {
    let mut g = BTreeMap::new();
    g.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    g.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    g.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    g.insert("d".to_string(), BTreeSet::from(["a".to_string()]));
    let c = cycle_from(&g, "a", "a", &mut vec!["a".to_string()]).unwrap();
    assert_eq!(c.join(" -> "), "a -> b -> c -> a");
    assert!(cycle_from(&g, "d", "d", &mut vec!["d".to_string()]).is_none());
}

#[test]
fn a_cycle_inside_a_folder_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("src/work");
    std::fs::create_dir_all(f.join("deep")).unwrap();
    std::fs::write(f.join("mod.rs"), "mod a;\nmod deep;\n").unwrap();
    std::fs::write(f.join("a.rs"), "use super::{deep::x, other};\n").unwrap();
    std::fs::write(f.join("deep/mod.rs"), "mod y;\n").unwrap();
    std::fs::write(f.join("deep/y.rs"), "use crate::work::a::thing;\n").unwrap();
    let g = graph(&f, &["work".to_string()]);
    assert_eq!(g["a"], BTreeSet::from(["deep".to_string()]));
    assert_eq!(g["deep"], BTreeSet::from(["a".to_string()]));
    let c = cycle_from(&g, "a", "a", &mut vec!["a".to_string()]).unwrap();
    assert_eq!(c.join(" -> "), "a -> deep -> a");
}
