//! `starrocks-sim`: the simulator's thin entry point (see `starrocks_sim::cli`).

use std::process::ExitCode;

fn main() -> ExitCode {
    let code = starrocks_sim::cli::main(std::env::args().collect());
    ExitCode::from(code.clamp(0, 255) as u8)
}
