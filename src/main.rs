//! `sr-rehearse`: thin entry point. Parses the command line, runs the command, maps the outcome to
//! the documented exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("sr-rehearse: the rehearsal pipelines are not built yet; only the simulator (starrocks-sim) exists so far");
    ExitCode::from(3)
}
