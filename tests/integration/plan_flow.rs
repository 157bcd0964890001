//! The generated playbook's control flow, run by `ansible-playbook`: the order of the documented
//! steps, the LEADER left for the last play, a node already on the target skipped, and an FE
//! that fails left as it is with the downgrade printed. The commands other parts of the tool
//! answer (`precheck`, `upgrade-settings`, `create-image`, `check --node`) are stood in for by a
//! script, so that this proves the plays themselves; those commands have their own tests.

use std::path::Path;
use std::process::Command;

use super::plan::stderr;
use super::plan_rules::inputs;
use super::util::{read, stdout, tool_bin, HostileFe, HostileSpec};

/// A stand-in for `sr-rehearse` in the playbook (the commands other parts of the tool answer
/// for real), which logs its arguments and answers `check --print` from a state folder: every
/// node runs 3.2.11 until its gate passed, except `be@127.0.0.1:9060`, already on 3.3.5; every FE
/// is LEADER; the FE gate fails when `state/fail-fe` exists.
const STUB: &str = r#"#!/bin/bash
st=__STATE__
echo "$*" >> "$st/log"
node=""; prev=""
for a in "$@"; do [ "$prev" = "--node" ] && node="$a"; prev="$a"; done
if [ "$1" = check ]; then
  case " $* " in
    *" --print version "*)
      if [ -e "$st/up-$node" ] || [ "$node" = be@127.0.0.1:9060 ]; then echo 3.3.5-553732d; else echo 3.2.11-98f7576; fi ;;
    *" --print role "*) echo LEADER ;;
    *" --print start-time "*) echo "2026-12-05 05:00:00" ;;
    *" --expect-version "*)
      if [ -n "$node" ]; then
        case "$node" in fe@*) [ -e "$st/fail-fe" ] && exit 1 ;; esac
        touch "$st/up-$node"
      fi ;;
  esac
fi
exit 0
"#;

/// An FE home or package: scripts that log, `lib/` with one jar, `spark-dpp/`.
fn fe_tree(dir: &Path, jar: &str, log: &Path) {
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    std::fs::create_dir_all(dir.join("spark-dpp")).unwrap();
    for s in ["stop_fe.sh", "start_fe.sh"] {
        std::fs::write(
            dir.join("bin").join(s),
            format!("echo {s} >> '{}'\n", log.display()),
        )
        .unwrap();
    }
    std::fs::write(dir.join("lib").join(jar), jar).unwrap();
    std::fs::write(dir.join("spark-dpp").join(jar), jar).unwrap();
}

/// The playbook's control flow, run by ansible-playbook with the commands of the other parts
/// of the tool stood in for (they are proven by their own tests): the order of the steps, the
/// LEADER left for the last play, the node already on the target skipped, and an FE that fails
/// left as it is with the downgrade printed.
#[test]
fn playbook_runs_the_steps_in_order_skips_and_stops_as_documented() {
    let Some(bin) = super::plan::ansible_playbook(
        "playbook_runs_the_steps_in_order_skips_and_stops_as_documented",
    ) else {
        return;
    };
    let fe = HostileFe::start(HostileSpec {
        backends: vec![
            super::util::BeRow::new("127.0.0.1", "9050"),
            super::util::BeRow::new("127.0.0.1", "9060"),
        ],
        ..HostileSpec::default()
    });
    for fail in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (state, home) = (dir.path().join("state"), dir.path().join("fe"));
        std::fs::create_dir_all(&state).unwrap();
        let log = state.join("log");
        fe_tree(&home, "old.jar", &log);
        let mut args = inputs(dir.path(), "3.3.5");
        fe_tree(&dir.path().join("pkg/fe"), "new.jar", &log);
        let pb = dir.path().join("pb");
        args.extend(
            [
                "--node-home",
                &format!("fe@127.0.0.1:{}={}", fe.query_port, home.display()),
                "--format",
                "ansible",
                "--out",
                pb.to_str().unwrap(),
                "--connection",
                "local",
            ]
            .map(String::from),
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = Command::new(tool_bin())
            .arg("upgrade-plan")
            .args(fe.args())
            .args(&args)
            .arg("--allow-quorum-loss")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let stub = dir.path().join("stub.sh");
        std::fs::write(&stub, STUB.replace("__STATE__", state.to_str().unwrap())).unwrap();
        let mut perm = std::fs::metadata(&stub).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&stub, perm).unwrap();
        let inv_path = pb.join("inventory.yml");
        let inv = read(&inv_path).replace(
            &format!("sr_rehearse: !unsafe \"{}\"", tool_bin()),
            &format!("sr_rehearse: !unsafe \"{}\"", stub.display()),
        );
        assert!(inv.contains(stub.to_str().unwrap()), "{inv}");
        std::fs::write(&inv_path, inv).unwrap();
        if fail {
            std::fs::write(state.join("fail-fe"), "").unwrap();
        }
        let out = Command::new(bin)
            .arg("-i")
            .arg(&inv_path)
            .arg(pb.join("playbook.yml"))
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_LOCAL_TEMP", dir.path().join("ansible-tmp"))
            .env("ANSIBLE_HOME", dir.path().join("ansible-home"))
            .output()
            .unwrap();
        let play = stdout(&out);
        let calls = read(&log);
        let at = |w: &str| {
            calls
                .find(w)
                .unwrap_or_else(|| panic!("no {w:?} in the calls:\n{calls}\n{play}"))
        };
        // Before the first node, then the BE not yet on the target, then the image and the FE.
        assert!(
            at("precheck --role be") < at("upgrade-settings apply"),
            "{calls}"
        );
        assert!(at("upgrade-settings apply") < at("be --be-home"), "{calls}");
        assert_eq!(calls.matches("be --be-home").count(), 1, "{calls}");
        assert!(
            play.contains("be@127.0.0.1:9060 already runs 3.3.5: skipped"),
            "{play}"
        );
        assert!(at("be --be-home") < at("create-image"), "{calls}");
        assert!(at("create-image") < at("stop_fe.sh"), "{calls}");
        assert!(play.contains("is LEADER now: skipped here"), "{play}");
        // The FE's files: the new ones installed, the old ones in the backup named after them.
        let backup = home.join("sr-rehearse-backup-3.2.11");
        for d in ["lib", "spark-dpp"] {
            assert!(home.join(d).join("new.jar").exists(), "{d}: {play}");
            assert!(backup.join(d).join("old.jar").exists(), "{d}: {play}");
        }
        if !fail {
            assert_eq!(out.status.code(), Some(0), "{play}{}", stderr(&out));
            // The settings again after the FE restart, back at the end, every node checked.
            let fe_gate = at("--expect-version 3.3.5 --started-after 2026-12-05 05:00:00");
            assert!(
                calls[fe_gate..].contains("upgrade-settings apply"),
                "{calls}"
            );
            assert!(
                at("upgrade-settings restore") > at("start_fe.sh"),
                "{calls}"
            );
            assert!(
                calls
                    .trim_end()
                    .ends_with("--wait 10m --expect-version 3.3.5 -q"),
                "{calls}"
            );
        } else {
            assert_ne!(out.status.code(), Some(0), "{play}");
            for want in [
                "Print the documented downgrade for this cluster",
                "ignore_unknown_log_id = true",
                "it is left as it is",
            ] {
                assert!(play.contains(want), "{want}: {play}");
            }
            // Left as it is (one stop, one start), the settings kept off, no last check.
            assert_eq!(calls.matches("stop_fe.sh").count(), 1, "{calls}");
            assert!(!calls.contains("upgrade-settings restore"), "{calls}");
        }
    }
}
