//! Property tests: arbitrary fe.conf/be.conf text, VERSION/ROLE files and argument strings go
//! through the parsers and the rewrite without a panic, and the rewrite keeps every line it does
//! not change. The library properties run many cases; the end-to-end ones feed the same kind of
//! input to the real binary (`--plan`, which runs every parser and the rewrite and starts nothing).

use std::fs;
use std::process::Command;

use proptest::prelude::*;
use sr_rehearse::conf::ConfFile;

use crate::util::*;

/// Text shaped like a conf file: real keys, separators, comments, quotes, continuations, `${VAR}`
/// references, CRLF and odd characters, mixed with arbitrary lines.
fn conf_text() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("http_port".to_string()),
        Just("meta_dir".to_string()),
        Just("LOG_DIR".to_string()),
        Just("frontend_address".to_string()),
        Just("priority_networks".to_string()),
        Just("be_port".to_string()),
        Just("storage_root_path".to_string()),
        "[a-zA-Z_.]{1,12}",
        "\\PC{0,6}",
    ];
    let sep = prop_oneof![
        Just(" = "),
        Just("="),
        Just(":"),
        Just(" "),
        Just("\t=\t"),
        Just(" : ")
    ];
    let value = prop_oneof![
        "[0-9]{1,6}",
        "\"[^\"\n]{0,12}\"",
        "\\$\\{[A-Z_]{1,8}\\}/[a-z]{0,6}",
        "[^\n]{0,16}",
    ];
    let line = prop_oneof![
        (
            key,
            sep,
            value,
            prop_oneof![Just(""), Just("\\"), Just("\r"), Just("\\\\")]
        )
            .prop_map(|(k, s, v, end)| format!("{k}{s}{v}{end}")),
        "#[^\n]{0,20}".prop_map(|s| s),
        Just(String::new()),
        "[ \t\x0c]{0,3}[^\n]{0,24}",
    ];
    (prop::collection::vec(line, 0..24), any::<bool>())
        .prop_map(|(lines, nl)| lines.join("\n") + if nl { "\n" } else { "" })
}

/// The keys the FE and BE rewrites set, and values like the ones they write.
fn edits() -> impl Strategy<Value = Vec<(String, String)>> {
    let key = prop_oneof![
        Just("LOG_DIR"),
        Just("meta_dir"),
        Just("sys_log_dir"),
        Just("http_port"),
        Just("rpc_port"),
        Just("arrow_flight_port"),
        Just("frontend_address"),
        Just("cluster_id"),
        Just("metadata_failure_recovery"),
        Just("be_port"),
        Just("storage_root_path"),
    ];
    let value = prop_oneof![
        "[0-9]{1,5}",
        "/ws/sr-rehearse-[a-z0-9]{4}/fe/[a-z]{1,6}",
        Just("true".to_string())
    ];
    prop::collection::vec((key.prop_map(String::from), value), 1..12)
}

/// Lines of `text` as the editor holds fe.conf: Java's (a line ends at LF, CR or CRLF).
fn lines(text: &str) -> Vec<String> {
    sr_rehearse::props::physical_lines(text)
        .into_iter()
        .map(|(l, _)| l.to_string())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn conf_parsing_never_panics(text in conf_text(), raw in "\\PC{0,200}") {
        for t in [&text, &raw] {
            let c = ConfFile::parse(t);
            let _ = c.effective();
            let _ = c.get("http_port");
            let _ = c.line_of("meta_dir");
            prop_assert_eq!(c.render(), t.clone());
            prop_assert_eq!(ConfFile::parse_be(t).render(), t.clone());
            let _ = sr_rehearse::props::parse(t);
            let _ = sr_rehearse::props::parse_map(t);
        }
    }

    /// Each edit replaces exactly the lines of the key's effective occurrence with one line, or
    /// appends at the end; every other line stays, in order.
    #[test]
    fn the_rewrite_keeps_every_line_it_does_not_change(text in conf_text(), edits in edits()) {
        let mut c = ConfFile::parse(&text);
        for (key, value) in edits {
            let before = lines(&c.render());
            let ch = c.set(&key, &value);
            let after = lines(&c.render());
            match &ch.before {
                Some(old) => {
                    let start = ch.line - 1;
                    let span = old.split('\n').count();
                    prop_assert_eq!(&after[..start], &before[..start]);
                    prop_assert_eq!(&after[start], &ch.after);
                    prop_assert_eq!(&after[start + 1..], &before[start + span..]);
                }
                None => {
                    prop_assert!(after.len() > before.len());
                    prop_assert_eq!(&after[..before.len()], &before[..]);
                    prop_assert_eq!(after.last(), Some(&ch.after));
                }
            }
            let got = c.get(&key);
            let quoted = format!("\"{value}\"");
            prop_assert!(
                got.as_deref() == Some(value.as_str()) || got.as_deref() == Some(quoted.as_str()),
                "{} -> {:?} in {:?}", key, got, c.render()
            );
        }
    }

    #[test]
    fn version_files_never_panic(version in "\\PC{0,120}", role in "\\PC{0,60}", id in any::<i64>()) {
        let d = tempfile::tempdir().unwrap();
        let image = d.path().join("image");
        fs::create_dir_all(&image).unwrap();
        fs::write(image.join("VERSION"), &version).unwrap();
        fs::write(image.join("ROLE"), &role).unwrap();
        let _ = sr_rehearse::meta::inspect(d.path());
        let patched = sr_rehearse::meta::patch_version(&version, id);
        // Only the clusterId line changes: every other line is still there.
        for l in version.split_inclusive('\n') {
            let is_id = l.trim_start().starts_with("clusterId");
            prop_assert!(is_id || patched.contains(l), "{:?} lost from {:?}", l, patched);
        }
        let _ = version.parse::<sr_rehearse::version::Version>();
    }

    #[test]
    fn argument_strings_never_panic(args in prop::collection::vec(prop_oneof![
        Just("fe".to_string()), Just("be".to_string()), Just("scan".to_string()),
        Just("clean".to_string()), Just("--timeout".to_string()), Just("--soak".to_string()),
        Just("--stop-grace".to_string()), Just("--cluster-id".to_string()),
        Just("--from-version".to_string()), Just("--keep".to_string()),
        "[0-9]{1,25}[a-z]{0,6}", "\\PC{0,12}",
    ], 0..8)) {
        use clap::Parser;
        let argv = std::iter::once("sr-rehearse".to_string()).chain(args);
        if let Ok(cli) = sr_rehearse::cli::Cli::try_parse_from(argv) {
            match cli.command {
                sr_rehearse::cli::Command::Fe(a) => { let _ = a.to_config(); }
                sr_rehearse::cli::Command::Be(a) => { let _ = a.to_config(); }
                _ => {}
            }
        }
    }
}

/// The binary, end to end: `fe --plan --prod-conf` and `be --plan` over arbitrary conf text,
/// with arbitrary VERSION text, never end in a panic (exit 101 or a "panicked" message).
#[test]
fn plans_over_arbitrary_files_never_panic() {
    let r = Rehearsal::new("3.3.0", "3.3.0", &[], &[]);
    let node = BeNode::build("3.3.0", &[], &[]);
    let new_be = r.dir.path().join("new-be");
    run_sim(&[
        "make-package",
        "--role",
        "be",
        "--version",
        "3.3.0",
        "--out",
        new_be.to_str().unwrap(),
    ]);
    let prod = r.dir.path().join("prod-fe.conf");
    let version = r.meta.join("image/VERSION");
    let original = fs::read_to_string(&version).unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(24));
    runner
        .run(&(conf_text(), "\\PC{0,80}"), |(text, extra)| {
            fs::write(&prod, &text).unwrap();
            fs::write(&version, format!("{original}{extra}\n")).unwrap();
            let fe = r
                .command(&["--plan", "--prod-conf"])
                .arg(&prod)
                .output()
                .unwrap();
            fs::write(node.home.join("conf/be.conf"), &text).unwrap();
            let be = Command::new(tool_bin())
                .args(["be", "--plan", "--be-home"])
                .arg(&node.home)
                .arg("--new-be")
                .arg(&new_be)
                .output()
                .unwrap();
            for out in [fe, be] {
                let err = String::from_utf8_lossy(&out.stderr);
                prop_assert!(
                    matches!(out.status.code(), Some(0..=3)),
                    "exit {:?}: {}",
                    out.status.code(),
                    err
                );
                prop_assert!(
                    !err.contains("panicked") && !err.contains("internal error"),
                    "{}",
                    err
                );
            }
            Ok(())
        })
        .unwrap();
    assert!(r.workspaces().is_empty());
}
