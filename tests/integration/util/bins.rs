//! Where the two binaries under test are and how the simulator is run to completion: every helper
//! that starts `sr-rehearse` or `starrocks-sim` finds it here, so a move of either binary (the
//! simulator is to become its own crate) changes one line of this file.

use std::process::Output;

pub fn sim_bin() -> &'static str {
    env!("CARGO_BIN_EXE_starrocks-sim")
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
