//! `sr-rehearse scan` over the fixture corpus: every file's verdict, every signature covered.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use sr_rehearse::watch::catalog::{Role, CATALOG};

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
    let run = |args: &[&str]| {
        Command::new(tool_bin())
            .arg("scan")
            .args(args)
            .output()
            .unwrap()
    };
    let c = corpus();
    let o = run(&[c
        .join("fe.meta.incompatible-version.3.3.fe.log")
        .to_str()
        .unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains(
        "fe.meta.incompatible-version.3.3.fe.log:4 [fatal] fe.meta.incompatible-version"
    ));
    assert!(text.contains("what to do: upgrade through the intermediate minor versions"));
    assert!(text
        .trim_end()
        .ends_with("verdict: failed: fe.meta.incompatible-version"));

    let o = run(&[
        "--format",
        "json",
        c.join("clean-start-be-3.3.5.be.INFO").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["verdict"], "started");
    assert_eq!(j["files"][0]["role"], "be");

    let o = run(&["--list"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.starts_with(' '))
            .count(),
        CATALOG.len()
    );

    let o = run(&["/nonexistent/fe.log"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("failed to open /nonexistent/fe.log"));
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("server.txt");
    std::fs::write(&odd, "x\n").unwrap();
    let o = run(&[odd.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("pass --role fe or --role be"));
    let o = run(&["--role", "fe", odd.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("verdict: no StarRocks lines found"));
}

/// The id a failed rehearsal's summary names, and the verdict `scan` gives on the logs it left.
fn live_and_scan(r: &Rehearsal, extra: &[&str]) -> (String, String) {
    let o = r.run(extra);
    assert_eq!(o.code, Some(1), "{}\n{}", o.stdout, o.stderr);
    let live = o.json["summary"]
        .as_str()
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_string();
    let ws = r.workspaces();
    assert_eq!(ws.len(), 1, "a failed run keeps its workspace");
    let log = ws[0].join("fe/log");
    let scanned =
        sr_rehearse::scan::scan(&[log.join("fe.log"), log.join("fe.warn.log")], None).unwrap();
    r.assert_no_process_left();
    (live, scanned.verdict)
}

#[test]
fn a_downgrade_names_the_unknown_operation_type_live_and_in_scan() {
    let r = Rehearsal::new("3.5.0", "3.3.2", &[], &[]);
    let (live, scanned) = live_and_scan(&r, &[]);
    assert_eq!(live, "fe.meta.unknown-operation-type");
    assert_eq!(scanned, format!("failed: {live}"));
}

#[test]
fn an_incompatible_image_is_named_live_and_in_scan() {
    let r = Rehearsal::new("3.0.9", "3.3.2", &[], &[]);
    let (live, scanned) = live_and_scan(&r, &["--from-version", "3.0.9", "--to-version", "3.3.2"]);
    assert_eq!(live, "fe.meta.incompatible-version");
    assert_eq!(scanned, format!("failed: {live}"));
}

#[test]
fn the_exception_after_start_failed_names_the_failure_live_and_in_scan() {
    // ImageLoader.checkCheckSum throws; StarRocksFE logs `StarRocksFE start failed` with the
    // exception on the following lines. The cause, not the generic first line, is the verdict.
    let r = Rehearsal::new("3.4.2", "3.5.0", &[], &[]);
    let v2 = r.meta.join("image/v2");
    let ck = std::fs::read_dir(&v2)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("checksum."))
        .expect("a 3.4 meta has a v2 checksum");
    let wrong: u64 = read(&ck).trim().parse::<u64>().unwrap() ^ 1;
    std::fs::write(&ck, wrong.to_string()).unwrap();
    let (live, scanned) = live_and_scan(&r, &[]);
    assert_eq!(live, "fe.meta.image-checksum");
    assert_eq!(scanned, format!("failed: {live}"));
}
