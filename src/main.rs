//! `sr-rehearse`: thin entry point. Parses the command line, runs the command, maps the outcome to
//! the documented exit code.
//!
//! It also holds the last line of defence: report paths are checked before anything runs, a report
//! that cannot be written never hides the verdict, and a panic becomes one line and exit 101 after
//! the run's guards have stopped the sandbox.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use sr_rehearse::cli::{Cli, Command, Common};
use sr_rehearse::output::{err, out, outln};
use sr_rehearse::report::{exit, junit, Report};

/// Writes the JSON and JUnit reports. A failure is printed and the other report still written;
/// the verdict's exit code is the run's result whatever happens here.
fn write_reports(r: &Report, json: Option<&Path>, junit_path: Option<&Path>) {
    let outputs = [
        ("JSON", json, r.to_json()),
        ("JUnit", junit_path, junit::render(r)),
    ];
    for (what, path, text) in outputs {
        let Some(p) = path else { continue };
        if let Err(e) = std::fs::write(p, text) {
            err(&format!(
                "sr-rehearse: failed to write the {what} report to {}: {e}; the verdict stands (exit {})\n",
                p.display(),
                r.exit_code
            ));
        }
    }
}

/// Prints what `-q` asks for, writes the report files, and gives the run's exit code.
fn emit(report: Report, common: &Common) -> i32 {
    if common.quiet {
        outln(&sr_rehearse::report::human::verdict_line(&report));
    }
    if !common.plan {
        write_reports(&report, common.json.as_deref(), common.junit.as_deref());
    }
    report.exit_code
}

/// `p` with its folder resolved (the file itself may not exist yet).
fn resolved(p: &Path) -> PathBuf {
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir = std::fs::canonicalize(&parent).unwrap_or(parent);
    match p.file_name() {
        Some(n) => dir.join(n),
        None => dir,
    }
}

/// Refuses report paths that would write into what the run must not touch, collide, or cannot be
/// written, before anything runs: a report that fails at the end of an hour-long rehearsal is
/// worse than a refusal now.
fn check_report_paths(common: &Common, guarded: &[(&str, &Path)]) -> Result<(), String> {
    let reports: Vec<(&str, &Path)> = [("--json", &common.json), ("--junit", &common.junit)]
        .into_iter()
        .filter_map(|(f, p)| p.as_deref().map(|p| (f, p)))
        .collect();
    if let [(_, a), (_, b)] = reports.as_slice() {
        if resolved(a) == resolved(b) {
            return Err(format!(
                "--json and --junit both name {}; give each report its own file",
                a.display()
            ));
        }
    }
    for (flag, p) in &reports {
        let at = resolved(p);
        for (what, base) in guarded {
            let base = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
            if at.starts_with(&base) {
                return Err(format!(
                    "{flag} {} is inside the {what} {}, which the run must never write; write the report elsewhere",
                    p.display(),
                    base.display()
                ));
            }
        }
        let writable = |q: &Path| {
            nix::unistd::access(q, nix::unistd::AccessFlags::W_OK).is_ok()
                && !nix::sys::statvfs::statvfs(q)
                    .is_ok_and(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
        };
        let problem = match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => Some("is a folder"),
            Ok(_) if !writable(p) => Some("cannot be written"),
            Ok(_) => None,
            Err(_) => match at.parent() {
                Some(d) if !d.is_dir() => Some("is in a folder that does not exist"),
                Some(d) if !writable(d) => Some("is in a folder that cannot be written"),
                _ => None,
            },
        };
        if let Some(why) = problem {
            return Err(format!(
                "{flag} {} {why}; give a writable file path",
                p.display()
            ));
        }
    }
    Ok(())
}

/// Writes one report file of `check`; a failure is printed and the verdict's exit code stands.
fn write_check_file(what: &str, path: &Path, text: String, code: i32) {
    if let Err(e) = std::fs::write(path, text) {
        err(&format!(
            "sr-rehearse check: failed to write the {what} report to {}: {e}; the verdict stands (exit {code})\n",
            path.display()
        ));
    }
}

/// `check`: the summary on stdout, the files asked for, the verdict's exit code.
fn run_check(cfg: &sr_rehearse::check::CheckConfig) -> anyhow::Result<i32> {
    use sr_rehearse::check;
    let checked = check::run_check(cfg);
    if let Some(sig) = sr_rehearse::signals::interrupted() {
        err(&format!(
            "sr-rehearse check: interrupted by signal {sig}; no verdict\n"
        ));
        return Ok(sr_rehearse::signals::exit_code());
    }
    let status = match checked {
        Ok(s) => s,
        Err(e) => {
            err(&format!("sr-rehearse check: {e}\n"));
            if let (Some(p), check::CheckError::Unreachable(_)) = (&cfg.json, &e) {
                let v = serde_json::json!({"schema": 1, "command": "check", "verdict": "unreachable",
                    "exit_code": e.exit_code(), "fe": cfg.fe, "problems": [e.to_string()]});
                write_check_file("JSON", p, serde_json::to_string_pretty(&v)?, e.exit_code());
            }
            return Ok(e.exit_code());
        }
    };
    let text = check::render_human(&status);
    if cfg.quiet {
        outln(text.lines().last().unwrap_or_default());
    } else {
        out(&text);
    }
    if let Some(p) = &cfg.json {
        let json = serde_json::to_string_pretty(&status)?;
        write_check_file("JSON", p, json, status.exit_code);
    }
    if let Some(p) = &cfg.junit {
        let xml = junit::render(&check::to_report(&status));
        write_check_file("JUnit", p, xml, status.exit_code);
    }
    Ok(status.exit_code)
}

/// `upgrade-plan`: the runbook on stdout, or the playbook files; refusals on stderr, exit 2.
fn run_plan(cfg: &sr_rehearse::upgrade_plan::PlanConfig) -> anyhow::Result<i32> {
    use sr_rehearse::upgrade_plan::{self as up, PlanFormat};
    let plan = match up::plan(cfg) {
        Ok(p) => p,
        Err(e) => {
            err(&format!("sr-rehearse upgrade-plan: {e}\n"));
            return Ok(e.exit_code());
        }
    };
    match (cfg.format, &cfg.out) {
        (PlanFormat::Ansible, Some(out)) => match up::write_ansible(cfg, &plan, out) {
            Ok(files) => {
                for f in &plan.forced {
                    outln(&format!("FORCED (--force): {f}"));
                }
                outln(&format!(
                    "sr-rehearse upgrade-plan: {} -> {}, {} hosts; wrote {}",
                    plan.from,
                    plan.to,
                    plan.steps.len(),
                    files
                        .iter()
                        .map(|f| f.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                outln(&format!(
                    "run: ansible-playbook -i {} {}",
                    files[0].display(),
                    files[1].display()
                ));
            }
            Err(e) => {
                err(&format!("sr-rehearse upgrade-plan: {e}\n"));
                return Ok(e.exit_code());
            }
        },
        _ => out(&up::render_text(cfg, &plan)),
    }
    Ok(exit::PASS)
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Fe(args) => {
            let cfg = args.to_config();
            let mut guarded: Vec<(&str, &Path)> =
                vec![("meta dir", &cfg.meta), ("new FE package", &cfg.new_fe)];
            if let Some(p) = &cfg.prod_conf {
                guarded.push(("production fe.conf", p));
            }
            if let Err(e) = check_report_paths(&args.common, &guarded) {
                err(&format!("sr-rehearse fe: {e}\n"));
                return Ok(exit::BAD_INPUT);
            }
            Ok(emit(sr_rehearse::fe::run(&cfg), &args.common))
        }
        Command::Be(args) => {
            if let Err(e) = args.check_modes() {
                e.exit();
            }
            let cfg = args.to_config();
            let mut guarded: Vec<(&str, &Path)> = vec![("BE home", &cfg.be_home)];
            if let Some(p) = &cfg.new_be {
                guarded.push(("new BE package", p));
            }
            if let Some(p) = &cfg.storage_copy {
                guarded.push(("storage root", p));
            }
            if let Err(e) = check_report_paths(&args.common, &guarded) {
                err(&format!("sr-rehearse be: {e}\n"));
                return Ok(exit::BAD_INPUT);
            }
            Ok(emit(sr_rehearse::be::run(&cfg), &args.common))
        }
        Command::Scan {
            files,
            role,
            format,
            list,
        } => Ok(sr_rehearse::scan::run(&files, role, format, list)?),
        Command::Check(args) => run_check(&args.to_config()),
        Command::UpgradePlan(args) => run_plan(&args.to_config()),
        #[cfg(feature = "demo")]
        Command::Demo { keep } => sr_rehearse::demo::run(keep),
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "sr-rehearse", &mut buf);
            out(&String::from_utf8_lossy(&buf));
            Ok(exit::PASS)
        }
        Command::Man { out: None } => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut buf)?;
            out(&String::from_utf8_lossy(&buf));
            Ok(exit::PASS)
        }
        Command::Man { out: Some(dir) } => {
            if !dir.is_dir() {
                err(&format!(
                    "sr-rehearse man: --out {} is not a folder; create it or pass another\n",
                    dir.display()
                ));
                return Ok(exit::BAD_INPUT);
            }
            clap_mangen::generate_to(Cli::command(), &dir).map_err(|e| {
                anyhow::anyhow!(
                    "failed to write the manual pages into {}: {e}",
                    dir.display()
                )
            })?;
            outln(&format!(
                "sr-rehearse man: wrote the manual pages into {}",
                dir.display()
            ));
            Ok(exit::PASS)
        }
        Command::Clean {
            workspace_root,
            list,
            older_than,
        } => Ok(sr_rehearse::clean::run(&sr_rehearse::clean::CleanConfig {
            root: workspace_root,
            list,
            older_than,
        })?),
    }
}

/// One line for any panic, on whichever thread: it is a bug of the tool, and the operator needs
/// to know the sandbox was stopped and what to report, not a backtrace.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        // The SQL client catches its own panics and reports them as an error (exit 3).
        if sr_rehearse::probe::mysql::panic_is_contained() {
            return;
        }
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        err(&format!(
            "sr-rehearse: internal error: {}{at}; any sandbox of this run is being stopped; this is a bug, please report it with the command line and this line (exit {})\n",
            what.replace('\n', " "),
            exit::INTERNAL
        ));
    }));
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(std::env::args_os());
    let (verbose, quiet) = match &cli.command {
        Command::Fe(a) => (a.common.verbose, a.common.quiet),
        Command::Be(a) => (a.common.verbose, a.common.quiet),
        Command::Check(a) => (0, a.quiet),
        _ => (0, false),
    };
    sr_rehearse::diag::init(verbose, quiet);
    sr_rehearse::report::human::set_colour(sr_rehearse::report::human::colour_wanted());
    tracing::debug!(version = sr_rehearse::cli::VERSION, args = ?std::env::args_os().skip(1).collect::<Vec<_>>(), "sr-rehearse started");
    install_panic_hook();
    sr_rehearse::signals::install();
    let code = match std::panic::catch_unwind(move || run(cli)) {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            err(&format!("sr-rehearse: {e:#}\n"));
            exit::ENVIRONMENT
        }
        // The hook printed the line; the guards stopped the sandbox while unwinding.
        Err(_) => exit::INTERNAL,
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}
