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

/// `check`: the summary on stdout, the files asked for, the verdict's exit code.
fn run_check(cfg: &sr_rehearse::check::CheckConfig) -> anyhow::Result<i32> {
    use sr_rehearse::check;
    let status = match check::run_check(cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sr-rehearse check: {e}");
            if let (Some(p), check::CheckError::Unreachable(_)) = (&cfg.json, &e) {
                let v = serde_json::json!({"schema": 1, "command": "check", "verdict": "unreachable",
                    "exit_code": e.exit_code(), "fe": cfg.fe, "problems": [e.to_string()]});
                std::fs::write(p, serde_json::to_string_pretty(&v)?).with_context(|| {
                    format!("failed to write the JSON report to {}", p.display())
                })?;
            }
            return Ok(e.exit_code());
        }
    };
    let text = check::render_human(&status);
    if cfg.quiet {
        println!("{}", text.lines().last().unwrap_or_default());
    } else {
        print!("{text}");
    }
    if let Some(p) = &cfg.json {
        std::fs::write(p, serde_json::to_string_pretty(&status)?)
            .with_context(|| format!("failed to write the JSON report to {}", p.display()))?;
    }
    if let Some(p) = &cfg.junit {
        std::fs::write(p, junit::render(&check::to_report(&status)))
            .with_context(|| format!("failed to write the JUnit report to {}", p.display()))?;
    }
    Ok(status.exit_code)
}

/// `upgrade-plan`: the runbook on stdout, or the playbook files; refusals on stderr, exit 2.
fn run_plan(cfg: &sr_rehearse::upgrade_plan::PlanConfig) -> anyhow::Result<i32> {
    use sr_rehearse::upgrade_plan::{self as up, PlanFormat};
    let plan = match up::plan(cfg) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("sr-rehearse upgrade-plan: {e}");
            return Ok(e.exit_code());
        }
    };
    match (cfg.format, &cfg.out) {
        (PlanFormat::Ansible, Some(out)) => match up::write_ansible(cfg, &plan, out) {
            Ok(files) => {
                for f in &plan.forced {
                    println!("FORCED (--force): {f}");
                }
                println!(
                    "sr-rehearse upgrade-plan: {} -> {}, {} hosts; wrote {}",
                    plan.from,
                    plan.to,
                    plan.steps.len(),
                    files
                        .iter()
                        .map(|f| f.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                println!(
                    "run: ansible-playbook -i {} {}",
                    files[0].display(),
                    files[1].display()
                );
            }
            Err(e) => {
                eprintln!("sr-rehearse upgrade-plan: {e}");
                return Ok(e.exit_code());
            }
        },
        _ => print!("{}", up::render_text(cfg, &plan)),
    }
    Ok(exit::PASS)
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
        } => {
            use sr_rehearse::cli::{Format, ScanRole};
            use sr_rehearse::watch::catalog::Role;
            if list {
                match format {
                    Format::Human => print!("{}", sr_rehearse::scan::render_catalog()),
                    Format::Json => println!(
                        "{}",
                        serde_json::to_string_pretty(sr_rehearse::watch::catalog::CATALOG)?
                    ),
                }
                return Ok(exit::PASS);
            }
            let role = role.map(|r| match r {
                ScanRole::Fe => Role::Fe,
                ScanRole::Be => Role::Be,
            });
            match sr_rehearse::scan::scan(&files, role) {
                Ok(r) => {
                    match format {
                        Format::Human => print!("{}", sr_rehearse::scan::render_human(&r)),
                        Format::Json => println!("{}", serde_json::to_string_pretty(&r)?),
                    }
                    Ok(if r.verdict.starts_with("failed") {
                        exit::FAIL
                    } else {
                        exit::PASS
                    })
                }
                Err(e) => {
                    eprintln!("sr-rehearse scan: {e}");
                    Ok(e.exit_code())
                }
            }
        }
        Command::Check(args) => run_check(&args.to_config()),
        Command::UpgradePlan(args) => run_plan(&args.to_config()),
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
