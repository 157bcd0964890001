//! The FE rehearsal and the BE sandbox canary run on one shared run module (`src/runner/`): the
//! run folder, the copy, the launch and stop scripts, the port picking, `run.json` and the keep
//! rules exist once. These tests read the sources, so a pipeline that grows its own copy of one of
//! them again fails here with the place named (the length of every file, these included, is
//! `source_layout`'s check).

use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The Rust files of `rel` (a file or a folder under src/).
fn files(rel: &str) -> Vec<PathBuf> {
    let p = src().join(rel);
    if p.is_dir() {
        let mut v: Vec<PathBuf> = walkdir::WalkDir::new(&p)
            .into_iter()
            .flatten()
            .map(|e| e.path().to_path_buf())
            .filter(|f| f.extension().is_some_and(|x| x == "rs"))
            .collect();
        v.sort();
        v
    } else {
        vec![p]
    }
}

/// The sandbox pipelines: what must call the run module instead of doing its work.
const PIPELINES: &[&str] = &["fe", "be/sandbox", "be/mod.rs"];

#[test]
fn the_sandbox_pipelines_leave_the_shared_run_steps_to_the_run_module() {
    // What only `runner` may do for a sandbox: make or remove the run folder, write run.json, run
    // the copy and report what it met, pick ports, run a release script, or run the readiness
    // wait (its wake-up, its flush of the logs when the process exits).
    let owned = [
        "create_run_dir",
        "remove_dir_all_writable",
        "write_run_state",
        "RUN_FILE",
        "workspace::copy_tree",
        "ports::pick",
        "Command::new(\"bash\")",
        "Progress::bytes",
        "Wake::new",
        ".flush(",
        "outside_links",
        "still_changing",
    ];
    let mut found = Vec::new();
    for rel in PIPELINES {
        for f in files(rel) {
            let text = std::fs::read_to_string(&f).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for what in owned {
                if code.contains(what) {
                    found.push(format!("{} uses {what}", f.display()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "a sandbox pipeline does the run module's work itself:\n{}",
        found.join("\n")
    );
    // And the run module does it, for both.
    let runner: String = files("runner")
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    for what in [
        "create_run_dir",
        "write_run_state",
        "copy_tree",
        "ports::pick",
        "Wake::new",
        ".flush(",
        "outside_links",
    ] {
        assert!(runner.contains(what), "src/runner/ no longer has {what}");
    }
}

#[test]
fn the_run_module_never_calls_a_pipeline() {
    for f in files("runner").into_iter().chain(files("workspace")) {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, _) in text.match_indices("crate::") {
            let name: String = text[i + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            assert!(
                name != "fe" && name != "be",
                "{} calls into crate::{name}",
                f.display()
            );
        }
    }
}

/// What `/api/health` and `/api/bootstrap` answers mean is decided in one place
/// (`src/probe/endpoints.rs`), so the FE rehearsal, the BE canary and `check` cannot read the
/// same answer differently (a substring test on one side, JSON on the other).
#[test]
fn endpoint_answers_are_judged_only_by_the_probe_module() {
    let judging = [
        "[\"status\"] == \"OK\"",
        "\\\"status\\\":\\\"OK\\\"",
        "[\"feVersion\"]",
    ];
    let mut found = Vec::new();
    for rel in ["fe", "be", "check"] {
        for f in files(rel) {
            let text = std::fs::read_to_string(&f).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for what in judging {
                if code.contains(what) {
                    found.push(format!("{} judges an endpoint itself: {what}", f.display()));
                }
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
    let endpoints = std::fs::read_to_string(src().join("probe/endpoints.rs")).unwrap();
    assert!(endpoints.contains("pub fn health(") && endpoints.contains("pub fn bootstrap("));
}
