//! The simulator's binary as packages use it: the name it is started under picks the part it
//! plays. `make-jdk` and `make-package` link this very binary into place as `bin/java` and
//! `lib/starrocks_be`, and the scripts of a simulated release run it under those names.
//!
//! Cargo builds this package's binary for these tests, which is also how the tool's integration
//! tests find `starrocks-sim` beside `sr-rehearse` after a `cargo test` at the top of the tree.

use std::os::unix::fs::MetadataExt;
use std::process::Command;

const SIM: &str = env!("CARGO_BIN_EXE_starrocks-sim");

fn sim(args: &[&str]) -> std::process::Output {
    Command::new(SIM).args(args).output().unwrap()
}

#[test]
fn a_jdk_runs_this_binary_as_java() {
    let dir = tempfile::tempdir().unwrap();
    let jdk = dir.path().join("jdk-17");
    let out = sim(&["make-jdk", "--major", "17", "--out", jdk.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let java = jdk.join("bin/java");
    assert_eq!(
        std::fs::metadata(&java).unwrap().ino(),
        std::fs::metadata(SIM).unwrap().ino(),
        "bin/java is a hard link of the simulator"
    );
    let v = Command::new(&java).arg("-version").output().unwrap();
    let text = String::from_utf8_lossy(&v.stderr);
    assert!(v.status.success(), "{v:?}");
    assert!(text.starts_with("openjdk version \"17"), "{text}");
}

#[test]
fn a_be_package_runs_this_binary_as_starrocks_be() {
    let dir = tempfile::tempdir().unwrap();
    let be = dir.path().join("be");
    let out = sim(&[
        "make-package",
        "--role",
        "be",
        "--version",
        "3.3.5",
        "--out",
        be.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(be.join("bin/start_be.sh").is_file());
    let v = Command::new(be.join("lib/starrocks_be"))
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&v.stdout);
    assert!(text.contains("3.3.5"), "{v:?}");
}

#[test]
fn under_its_own_name_it_takes_commands_and_refuses_unknown_ones() {
    let help = sim(&["--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    for cmd in ["make-meta", "make-package", "make-jdk", "make-cluster"] {
        assert!(text.contains(cmd), "{cmd} missing from:\n{text}");
    }
    let bad = sim(&["no-such-command"]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
}
