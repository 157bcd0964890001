//! The JSON report as a contract: real reports of `fe`, `be` and `check` validate against
//! docs/report-schema.json, and snapshots pin their keys.
//!
//! CI and dashboards read these files; a renamed or dropped key breaks them silently. The schema
//! lists every key (`additionalProperties: false`), so an undocumented key fails here too. The
//! snapshots keep keys and the few values that are part of the contract (schema, command, verdict,
//! exit code, step names and statuses) and replace everything else by its JSON type, so times,
//! paths, ports and ids do not churn them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Map, Value};

use crate::util::*;

fn schema() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report-schema.json");
    serde_json::from_str(&read(&p)).expect("docs/report-schema.json is JSON")
}

/// Every way `report` breaks the schema, one line each.
fn violations(report: &Value) -> Vec<String> {
    let v = jsonschema::draft202012::new(&schema()).expect("docs/report-schema.json compiles");
    v.iter_errors(report)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

pub(crate) fn assert_valid(what: &str, report: &Value) {
    let errs = violations(report);
    assert!(
        errs.is_empty(),
        "{what} breaks docs/report-schema.json:\n{}\n{report:#}",
        errs.join("\n")
    );
}

/// Values a reader may rely on verbatim; everything else becomes its type.
const KEPT: &[&str] = &[
    "schema",
    "command",
    "verdict",
    "exit_code",
    "name",
    "status",
];

/// Keys and types of `v`. Arrays other than `steps` (whose order is part of the contract) become
/// `<array>`: how many signatures, warnings or reach attempts a run has depends on the host (fenced
/// as root or not) and on timing, and the keys of their items are pinned by the schema instead.
fn shape(key: &str, v: &Value, in_steps: bool) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), shape(k, x, in_steps || k == "steps")))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(a) if key == "steps" => {
            Value::Array(a.iter().map(|x| shape("", x, true)).collect())
        }
        Value::Array(_) => json!("<array>"),
        _ if KEPT.contains(&key) && (in_steps || !matches!(key, "name" | "status")) => v.clone(),
        Value::Null => json!("<null>"),
        Value::Bool(_) => json!("<bool>"),
        Value::Number(_) => json!("<number>"),
        Value::String(_) => json!("<string>"),
    }
}

#[test]
fn the_schema_is_valid_draft_2020_12_and_rejects_a_broken_report() {
    let s = schema();
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    jsonschema::meta::validate(&s).expect("a valid draft 2020-12 schema");
    // The validator must be able to say no: a report without its verdict, with an unknown key,
    // and with a mistyped exit code all fail.
    let mut r = serde_json::to_value(sr_rehearse::report::Report::new("fe")).unwrap();
    assert_valid("a fresh report", &r);
    r.as_object_mut().unwrap().remove("verdict");
    assert!(
        !violations(&r).is_empty(),
        "a report without verdict passed"
    );
    let mut r = serde_json::to_value(sr_rehearse::report::Report::new("fe")).unwrap();
    r["undocumented"] = json!(1);
    assert!(!violations(&r).is_empty(), "an undocumented key passed");
    let mut r = serde_json::to_value(sr_rehearse::report::Report::new("be")).unwrap();
    r["exit_code"] = json!("0");
    assert!(!violations(&r).is_empty(), "a string exit code passed");
}

#[test]
fn fe_passing_rehearsal_report() {
    let r = Rehearsal::new("3.2.5", "3.3.2", &["--cluster-id", "777"], &[]);
    let o = r.run(&[]);
    assert_eq!(o.code, Some(0), "{}\n{}", o.stdout, o.stderr);
    assert_valid("fe pass", &o.json);
    insta::assert_json_snapshot!("fe_pass", shape("", &o.json, false));
}

#[test]
fn fe_failing_rehearsal_report() {
    let r = Rehearsal::new("3.0.9", "3.3.2", &[], &[]);
    let o = r.run(&["--keep", "never"]);
    assert_eq!(o.code, Some(1), "{}\n{}", o.stdout, o.stderr);
    assert_valid("fe fail", &o.json);
    insta::assert_json_snapshot!("fe_fail", shape("", &o.json, false));
}

/// A BE home of 3.2.11 with its storage and a 3.3.5 release beside it, and the lease on the
/// node's four ports (its production ports, which the canary must avoid).
fn be_node(dir: &Path) -> (PathBuf, PathBuf, Lease) {
    let home = dir.join("node/be");
    let new_be = dir.join("release/be");
    let storage = dir.join("node/storage");
    fs::create_dir_all(&storage).unwrap();
    for (v, out) in [("3.2.11", &home), ("3.3.5", &new_be)] {
        run_sim(&[
            "make-package",
            "--role",
            "be",
            "--version",
            v,
            "--out",
            out.to_str().unwrap(),
        ]);
    }
    let lease = free_ports(4);
    let p = lease.ports();
    let mut conf = read(&home.join("conf/be.conf"));
    conf.push_str(&format!(
        "\nbe_port = {}\nbe_http_port = {}\nheartbeat_service_port = {}\nbrpc_port = {}\nstorage_root_path = {}\n",
        p[0],
        p[1],
        p[2],
        p[3],
        storage.display()
    ));
    fs::write(home.join("conf/be.conf"), conf).unwrap();
    (home, new_be, lease)
}

#[test]
fn be_sandbox_canary_report() {
    let dir = tempfile::tempdir().unwrap();
    let (home, new_be, _ports) = be_node(dir.path());
    let root = dir.path().join("ws");
    fs::create_dir_all(&root).unwrap();
    let report = dir.path().join("report.json");
    let out = Command::new(tool_bin())
        .arg("be")
        .arg("--be-home")
        .arg(&home)
        .arg("--new-be")
        .arg(&new_be)
        .arg("--workspace-root")
        .arg(&root)
        .arg("--json")
        .arg(&report)
        .args(["--timeout", "30s"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    kill_all_mentioning(dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let j: Value = serde_json::from_str(&read(&report)).unwrap();
    assert_valid("be sandbox", &j);
    insta::assert_json_snapshot!("be_sandbox", shape("", &j, false));
}

#[test]
fn check_reports_match_the_schema() {
    let c = SimCluster::build("3.2.11", &["--table", "db1.orders:3"]);
    c.start_all();
    c.wait_healthy();
    let report = c.dir.join("check.json");
    let out = c.check(&["--json", report.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let j: Value = serde_json::from_str(&read(&report)).unwrap();
    assert_valid("check healthy", &j);
    insta::assert_json_snapshot!("check_healthy", shape("", &j, false));

    // Unreachable: the short form main.rs writes.
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let nobody = free_ports(1);
    let out = Command::new(tool_bin())
        .args([
            "check",
            "--fe",
            &format!("127.0.0.1:{}", nobody.ports()[0]),
            "--json",
        ])
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let j: Value = serde_json::from_str(&read(&report)).unwrap();
    assert_valid("check unreachable", &j);
}

/// `scan --format json` carries the same `schema` field as the run reports, its verdict as data,
/// and matches `$defs/scan`: for a failing log, a started one, one waiting forever, and a file it
/// could not read.
#[test]
fn scan_reports_match_the_schema() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/logs");
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("gone.fe.log");
    let cases: [(&str, Vec<PathBuf>, &str, Value); 4] = [
        (
            "a downgrade",
            vec![corpus.join("fe.meta.unknown-operation-type.3.3.fe.log")],
            "failed",
            Value::from("fe.meta.unknown-operation-type"),
        ),
        (
            "a clean start",
            vec![corpus.join("clean-start-fe-3.3.5.fe.log")],
            "started",
            Value::Null,
        ),
        (
            "a follower that is never added (repeated records grouped)",
            vec![corpus.join("real/starrocks-60847.not-added.fe.log")],
            "waiting_forever",
            Value::from("fe.join.not-added"),
        ),
        (
            "a missing file beside a clean start",
            vec![corpus.join("clean-start-fe-3.3.5.fe.log"), missing],
            "started",
            Value::Null,
        ),
    ];
    for (what, files, verdict, cause) in cases {
        let out = std::process::Command::new(tool_bin())
            .args(["scan", "--format", "json"])
            .args(&files)
            .output()
            .unwrap();
        let j: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_valid(what, &j);
        assert_eq!(j["schema"], 1, "{what}");
        assert_eq!(j["command"], "scan", "{what}");
        assert_eq!(j["verdict"], verdict, "{what}");
        assert_eq!(j["root_cause"], cause, "{what}");
        assert_eq!(
            j["exit_code"].as_i64(),
            out.status.code().map(i64::from),
            "{what}"
        );
    }
}
