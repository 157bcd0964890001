//! `sr-rehearse demo`: the README's first command, run on nothing but the binary (no JAVA_HOME,
//! a fresh temporary folder): every part ends as expected and only the reports stay.

use crate::util::*;

#[test]
fn demo_runs_on_nothing_but_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(tool_bin())
        .arg("demo")
        .env("TMPDIR", tmp.path())
        .env_remove("JAVA_HOME")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("verdict: PASS (exit 0): StarRocks 3.3.2"));
    assert!(text.contains("verdict: FAIL (exit 1): fe.meta.incompatible-version"));
    assert!(text.contains("verdict: PASS (exit 0): StarRocks BE 3.3.5"));
    assert!(text
        .trim_end()
        .ends_with("demo: all four parts ended as expected"));
    // Part four: the cluster was healthy, the plan came out in order, and (with ansible) upgraded.
    assert!(text.contains("verdict: healthy (exit 0)"), "{text}");
    assert!(
        text.contains("sr-rehearse upgrade-plan: 3.2.11 -> 3.3.5 (6 nodes"),
        "{text}"
    );
    assert!(text.contains("6. FE LEADER"), "{text}");
    if !text.contains("PLAY RECAP") {
        assert!(text.contains("ansible-playbook is not installed"), "{text}");
        // No command to paste for files the demo removes at its end.
        assert!(!text.contains("ansible-playbook -i"), "{text}");
        skip(
            "demo_runs_on_nothing_but_the_binary (the playbook part)",
            "ansible-playbook is not installed",
        );
    }
    let demo_dir = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let kept: Vec<String> = std::fs::read_dir(&demo_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(kept, ["reports"], "only the reports stay without --keep");
    for r in ["pass.json", "fail.json", "be-canary.json"] {
        let j: serde_json::Value =
            serde_json::from_str(&read(&demo_dir.join("reports").join(r))).unwrap();
        assert_eq!(j["schema"], 1);
    }
    assert!(procs_mentioning(tmp.path()).is_empty(), "no process left");
}
