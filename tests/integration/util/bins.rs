//! Where the two binaries under test are and how the simulator is run to completion: every helper
//! that starts `sr-rehearse` or `starrocks-sim` finds it here.

use std::process::Output;

/// `starrocks-sim`, built beside the tool: its package has integration tests of its own, so
/// `cargo test` at the top of the source tree builds its binary before any test runs.
pub fn sim_bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let p = std::path::Path::new(tool_bin()).with_file_name("starrocks-sim");
        assert!(
            p.is_file(),
            "{} is missing: run `cargo test` at the top of the source tree, or `cargo build -p starrocks-sim` first",
            p.display()
        );
        p.to_string_lossy().into_owned()
    })
}

pub fn tool_bin() -> &'static str {
    env!("CARGO_BIN_EXE_sr-rehearse")
}

/// Runs `starrocks-sim` to completion; a failure shows its command line and both outputs.
pub fn run_sim(args: &[&str]) -> Output {
    assert_cmd::Command::new(sim_bin())
        .args(args)
        .assert()
        .success()
        .get_output()
        .clone()
}
