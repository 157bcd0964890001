//! `sr-rehearse scan` over the fixture corpus: every file's verdict, every signature covered.

use predicates::prelude::*;
use predicates::str::{contains, ends_with};
use sr_rehearse::watch::catalog::{Role, CATALOG};
use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::util::*;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/logs")
}

fn expected() -> Vec<(String, String)> {
    read(&corpus().join("expected.tsv"))
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (f, v) = l.split_once('\t').unwrap();
            (f.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn every_fixture_gets_its_expected_verdict() {
    let cases = expected();
    assert!(cases.len() > 100, "the corpus is there");
    let mut wrong = Vec::new();
    for (file, want) in &cases {
        let r = sr_rehearse::scan::scan(&[corpus().join(file)], None).unwrap();
        if &r.verdict != want {
            wrong.push(format!("{file}: got `{}`, want `{want}`", r.verdict));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_signature_is_covered_in_each_era() {
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for (file, _) in expected() {
        let r = sr_rehearse::scan::scan(&[corpus().join(&file)], None).unwrap();
        let era = if file.contains(".3.2.") || file.contains(".2.5.") {
            "old"
        } else if file.contains(".3.3.") {
            "new"
        } else {
            "any"
        };
        for m in r.matches {
            seen.insert((m.id.to_string(), era.to_string()));
            seen.insert((m.id.to_string(), "any".to_string()));
        }
    }
    for sig in CATALOG {
        assert!(
            seen.contains(&(sig.id.to_string(), "any".to_string())),
            "{} has no fixture",
            sig.id
        );
    }
    // Lines inside log files must be recognised with both timestamp / glog prefixes.
    for id in [
        "fe.meta.incompatible-version",
        "fe.meta.unknown-operation-type",
        "fe.election.wait",
        "be.port.http",
        "be.storage.bad-path",
        "be.ready.started",
    ] {
        for era in ["old", "new"] {
            assert!(
                seen.contains(&(id.to_string(), era.to_string())),
                "{id} not seen in the {era} format"
            );
        }
    }
}

#[test]
fn stack_traces_attach_to_the_line_that_started_them() {
    let r = sr_rehearse::scan::scan(
        &[corpus().join("fe.meta.unknown-operation-type.3.3.fe.log")],
        None,
    )
    .unwrap();
    let m = r
        .matches
        .iter()
        .find(|m| m.id == "fe.meta.unknown-operation-type")
        .unwrap();
    assert_eq!(
        m.line, 4,
        "reported at the ERROR line the exception belongs to"
    );
    assert!(m.text.contains("fail to read journal entity key=21460997"));
}

#[test]
fn gzip_and_rotated_names_and_several_files() {
    let files = [
        corpus().join("rotated-compressed.fe.log.20240102-1.gz"),
        corpus().join("fe.log.20240101-1"),
    ];
    let r = sr_rehearse::scan::scan(&files, None).unwrap();
    assert_eq!(r.verdict, "started");
    assert_eq!(r.files.len(), 2);
    let lines = read(&files[1]).lines().count();
    assert!(
        r.files
            .iter()
            .all(|f| f.role == Role::Fe && f.lines == lines),
        "the .gz file decompresses to the same {lines} lines"
    );
    let both = sr_rehearse::scan::scan(
        &[
            corpus().join("fe.log.20240101-1"),
            corpus().join("fe.jvm.unrecognized-option.fe.out"),
        ],
        None,
    )
    .unwrap();
    assert_eq!(both.verdict, "failed: fe.jvm.unrecognized-option");
}

#[test]
fn cli_verdicts_formats_and_errors() {
    let scan = || {
        let mut c = assert_cmd::Command::new(tool_bin());
        c.arg("scan");
        c
    };
    let c = corpus();
    scan()
        .arg(c.join("fe.meta.incompatible-version.3.3.fe.log"))
        .assert()
        .code(1)
        .stdout(
            contains(
                "fe.meta.incompatible-version.3.3.fe.log:4 [fatal] fe.meta.incompatible-version",
            )
            .and(contains(
                "what to do: upgrade through the intermediate minor versions",
            ))
            .and(ends_with("verdict: failed: fe.meta.incompatible-version").trim()),
        );

    let o = scan()
        .args(["--format", "json"])
        .arg(c.join("clean-start-be-3.3.5.be.INFO"))
        .assert()
        .code(0);
    let j: serde_json::Value = serde_json::from_slice(&o.get_output().stdout).unwrap();
    assert_eq!(j["verdict"], "started");
    assert_eq!(j["files"][0]["role"], "be");

    let o = scan().arg("--list").assert().code(0);
    assert_eq!(
        String::from_utf8_lossy(&o.get_output().stdout)
            .lines()
            .filter(|l| !l.starts_with(' '))
            .count(),
        CATALOG.len()
    );

    scan()
        .arg("/nonexistent/fe.log")
        .assert()
        .code(2)
        .stderr(contains("failed to open /nonexistent/fe.log"));
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("server.txt");
    std::fs::write(&odd, "x\n").unwrap();
    scan()
        .arg(&odd)
        .assert()
        .code(2)
        .stderr(contains("pass --role fe or --role be"));
    scan()
        .args(["--role", "fe"])
        .arg(&odd)
        .assert()
        .code(0)
        .stdout(contains("verdict: no StarRocks lines found"));
}
