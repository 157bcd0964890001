//! The library's top-level modules depend on each other in one direction only: a module that calls
//! into another is never called back by it, however indirectly. A cycle is where a change in one
//! place breaks another without either file saying so. This test reads the sources (every
//! `crate::<module>` and, inside a module's folder, `super::super::<module>`, outside `#[cfg(test)]`)
//! and fails on any cycle, naming it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module name -> the top-level modules it names.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if ["main.rs", "lib.rs", "bin"].contains(&name.as_str()) {
            continue;
        }
        let module = name.trim_end_matches(".rs").to_string();
        let files: Vec<std::path::PathBuf> = if p.is_dir() {
            walkdir::WalkDir::new(&p)
                .into_iter()
                .flatten()
                .filter(|f| f.path().extension().is_some_and(|x| x == "rs"))
                .map(|f| f.path().to_path_buf())
                .collect()
        } else if name.ends_with(".rs") {
            vec![p.clone()]
        } else {
            continue;
        };
        let mut deps = BTreeSet::new();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            // A top-level file names its siblings as `super::` too.
            let prefixes: &[&str] = if p.is_dir() {
                &["crate::", "super::super::"]
            } else {
                &["crate::", "super::"]
            };
            for prefix in prefixes {
                for (i, _) in code.match_indices(prefix) {
                    let rest = &code[i + prefix.len()..];
                    let dep: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !dep.is_empty() && dep != module {
                        deps.insert(dep);
                    }
                }
            }
        }
        out.insert(module, deps);
    }
    out
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

fn cycles_in(src: &str, must_have: &[&str]) -> Vec<String> {
    let g = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join(src));
    for m in must_have {
        assert!(g.contains_key(*m), "{src}: no module {m} in {g:?}");
    }
    g.keys()
        .filter_map(|m| cycle_from(&g, m, m, &mut vec![m.clone()]))
        .map(|c| format!("{src}: {}", c.join(" -> ")))
        .collect()
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
