//! `sr-rehearse`: thin entry point. Parses the command line, runs the command, maps the outcome to
//! the documented exit code. Started as `java`, `starrocks_be` or `starrocks-sim` (which is how
//! simulated packages built by `demo` run it) it plays the simulator instead.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use sr_rehearse::cli::{Cli, Command};
use sr_rehearse::report::{exit, junit, Report};

fn write_reports(
    r: &Report,
    json: Option<&std::path::Path>,
    junit_path: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    if let Some(p) = json {
        std::fs::write(p, r.to_json())
            .with_context(|| format!("failed to write the JSON report to {}", p.display()))?;
    }
    if let Some(p) = junit_path {
        std::fs::write(p, junit::render(r))
            .with_context(|| format!("failed to write the JUnit report to {}", p.display()))?;
    }
    Ok(())
}

/// Prints what `-q` asks for, writes the report files, and gives the run's exit code.
fn emit(report: Report, common: &sr_rehearse::cli::Common) -> anyhow::Result<i32> {
    if common.quiet {
        println!("{}", report.summary);
    }
    if !common.plan {
        write_reports(&report, common.json.as_deref(), common.junit.as_deref())?;
    }
    Ok(report.exit_code)
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Fe(args) => {
            let cfg = args.to_config();
            emit(sr_rehearse::fe::run(&cfg), &args.common)
        }
        Command::Be(args) => {
            let cfg = args.to_config();
            emit(sr_rehearse::be::run(&cfg), &args.common)
        }
        Command::Scan {
            files,
            role,
            format,
            list,
        } => sr_rehearse::scan::run(&files, role, format, list),
        Command::Demo { keep } => sr_rehearse::demo::run(keep),
        Command::Clean { workspace_root } => sr_rehearse::clean::run(&workspace_root),
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let name = argv
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .unwrap_or_default();
    if matches!(name.as_str(), "java" | "starrocks_be" | "starrocks-sim") {
        return ExitCode::from(sr_rehearse::sim::cli::main(argv).clamp(0, 255) as u8);
    }
    let cli = Cli::parse();
    sr_rehearse::signals::install();
    let code = match run(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sr-rehearse: {e:#}");
            exit::ENVIRONMENT
        }
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}
