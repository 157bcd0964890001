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
use sr_rehearse::report::file::Guarded;
use sr_rehearse::report::{exit, junit, markdown, Report};

/// Writes the JSON, JUnit and Markdown reports, each as a new file (never through a link). A failure is
/// printed and the other report still written; the verdict's exit code is the run's result
/// whatever happens here.
fn write_reports(r: &Report, common: &Common, guard: &Guarded) {
    let outputs = [
        ("JSON", common.json.as_deref(), r.to_json()),
        ("JUnit", common.junit.as_deref(), junit::render(r)),
        (
            "Markdown",
            common.summary_md.as_deref(),
            markdown::render(r),
        ),
    ];
    for (what, path, text) in outputs {
        let Some(p) = path else { continue };
        write_report_file("", what, p, &text, r.exit_code, guard);
    }
    // GitHub Actions gives every step a summary page to append to.
    if let Some(p) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        if let Err(e) = markdown::append_step_summary(&p, &markdown::render(r)) {
            err(&format!(
                "sr-rehearse: failed to append the summary to $GITHUB_STEP_SUMMARY ({}): {e}; the verdict stands (exit {})\n",
                p.display(),
                r.exit_code
            ));
        }
    }
}

/// Writes one report file; a failure is printed and the verdict's exit code stands.
fn write_report_file(command: &str, what: &str, p: &Path, text: &str, code: i32, guard: &Guarded) {
    if let Err(e) = guard.write(p, text.as_bytes()) {
        err(&format!(
            "sr-rehearse{command}: failed to write the {what} report to {}: {e}; the verdict stands (exit {code})\n",
            p.display()
        ));
    }
}

/// Prints what `-q` asks for, writes the report files, and gives the run's exit code.
fn emit(report: Report, common: &Common, guard: &Guarded) -> i32 {
    if common.quiet {
        outln(&sr_rehearse::report::human::verdict_line(&report));
    }
    if !common.plan {
        write_reports(&report, common, guard);
    }
    report.exit_code
}

/// The report options given, with their flags.
fn report_paths<'a>(
    json: &'a Option<PathBuf>,
    junit: &'a Option<PathBuf>,
    summary_md: &'a Option<PathBuf>,
) -> Vec<(&'static str, &'a Path)> {
    [
        ("--json", json),
        ("--junit", junit),
        ("--summary-md", summary_md),
    ]
    .into_iter()
    .filter_map(|(f, p)| p.as_deref().map(|p| (f, p)))
    .collect()
}

/// Refuses report paths that would write into what the run must not touch (directly, through a
/// link or through a linked folder), collide, are not regular files, or cannot be written, before
/// anything runs: a report that fails at the end of an hour-long rehearsal is worse than a refusal
/// now, and a FIFO would hold the tool at its end. The guard is kept to write the reports with.
fn check_report_paths(common: &Common, guarded: &[(&str, &Path)]) -> Result<Guarded, String> {
    let guard = Guarded::new(guarded);
    guard
        .check_all(&report_paths(
            &common.json,
            &common.junit,
            &common.summary_md,
        ))
        .map_err(|e| e.to_string())?;
    Ok(guard)
}

/// `precheck`: the findings on stdout (human or JSON), `--json` written as a new file never
/// inside the home or the package, exit 0/1 by the findings, 2/3 when it could not check.
fn run_precheck(args: &sr_rehearse::precheck::args::PrecheckArgs) -> i32 {
    use sr_rehearse::precheck;
    // A package of the other role could only be misread: say so rather than guess.
    let wrong = match args.role {
        precheck::Role::Fe => args.new_be.as_ref().map(|_| "--new-be with --role fe"),
        _ => args.new_fe.as_ref().map(|_| "--new-fe with --role be/cn"),
    };
    if let Some(w) = wrong {
        err(&format!(
            "sr-rehearse precheck: {w}: give the package of the role checked (--new-fe for an FE, --new-be for a BE or CN)\n"
        ));
        return exit::BAD_INPUT;
    }
    let cfg = args.to_config();
    let guarded: Vec<(&str, &Path)> = [("node home", &cfg.home), ("new package", &cfg.package)]
        .into_iter()
        .filter_map(|(w, p)| p.as_deref().map(|p| (w, p)))
        .collect();
    let guard = Guarded::new(&guarded);
    if let Some(p) = &args.json {
        if let Err(e) = guard.check("--json", p) {
            err(&format!("sr-rehearse precheck: {e}\n"));
            return exit::BAD_INPUT;
        }
    }
    let outcome = match precheck::run(&cfg, &precheck::host::Host::from_env()) {
        Ok(o) => o,
        Err(e) => {
            err(&format!("sr-rehearse precheck: {e}\n"));
            return e.exit_code();
        }
    };
    let json = precheck::render::json(&outcome);
    match args.format {
        precheck::args::PrecheckFormat::Human => out(&precheck::render::human(&outcome)),
        precheck::args::PrecheckFormat::Json => out(&json),
    }
    if let Some(p) = &args.json {
        write_report_file(" precheck", "JSON", p, &json, outcome.exit_code, &guard);
    }
    outcome.exit_code
}

/// `check`: the summary on stdout, the files asked for, the verdict's exit code.
fn run_check(cfg: &sr_rehearse::check::CheckConfig) -> anyhow::Result<i32> {
    use sr_rehearse::check;
    // `check` is given no local path to guard, but its reports follow the same rules.
    let guard = Guarded::default();
    if let Err(e) = guard.check_all(&report_paths(&cfg.json, &cfg.junit, &None)) {
        err(&format!("sr-rehearse check: {e}\n"));
        return Ok(exit::BAD_INPUT);
    }
    // `--print`: one value of one node's row, for a script; no verdict.
    if cfg.print.is_some() {
        return Ok(match check::print_field(cfg) {
            Ok(v) => {
                outln(&v);
                exit::PASS
            }
            Err(e) => {
                err(&format!("sr-rehearse check: {e}\n"));
                e.exit_code()
            }
        });
    }
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
            // Every exit writes the reports asked for: CI reads a missing file as a pass or as
            // its own error, never as the check's answer.
            let verdict = match e {
                check::CheckError::Unreachable(_) => "unreachable",
                check::CheckError::BadInput(_) => "bad input",
            };
            if let Some(p) = &cfg.json {
                let v = serde_json::json!({"schema": 1, "command": "check", "verdict": verdict,
                    "exit_code": e.exit_code(), "fe": cfg.fe, "problems": [e.to_string()]});
                let text = serde_json::to_string_pretty(&v)?;
                write_report_file(" check", "JSON", p, &text, e.exit_code(), &guard);
            }
            if let Some(p) = &cfg.junit {
                let mut r = Report::new("check");
                r.verdict = sr_rehearse::report::Verdict::Error;
                r.exit_code = e.exit_code();
                r.summary = e.to_string();
                write_report_file(
                    " check",
                    "JUnit",
                    p,
                    &junit::render(&r),
                    e.exit_code(),
                    &guard,
                );
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
        write_report_file(" check", "JSON", p, &json, status.exit_code, &guard);
    }
    if let Some(p) = &cfg.junit {
        let xml = junit::render(&check::to_report(&status));
        write_report_file(" check", "JUnit", p, &xml, status.exit_code, &guard);
    }
    Ok(status.exit_code)
}

/// `upgrade-plan`: the runbook on stdout, or the playbook files; refusals on stderr, exit 2.
fn run_plan(cfg: &sr_rehearse::upgrade_plan::PlanConfig) -> anyhow::Result<i32> {
    use sr_rehearse::upgrade_plan::{self as up, PlanFormat};
    if let (PlanFormat::Ansible, Some(out)) = (cfg.format, &cfg.out) {
        // The playbook must not land in what it upgrades nor through a link planted in --out.
        let mut guarded: Vec<(&str, &Path)> = vec![
            ("new BE package", &cfg.new_be),
            ("new FE package", &cfg.new_fe),
            ("FE home", &cfg.fe_home),
            ("BE home", &cfg.be_home),
        ];
        guarded.extend(
            cfg.node_homes
                .iter()
                .map(|(_, p)| ("node home", p.as_path())),
        );
        for p in [&cfg.rehearsal_report, &cfg.canary_report]
            .into_iter()
            .flatten()
        {
            guarded.push(("rehearsal report", p));
        }
        if let Err(e) = Guarded::new(&guarded).check_folder("--out", out, &up::ANSIBLE_FILES) {
            err(&format!("sr-rehearse upgrade-plan: {e}\n"));
            return Ok(exit::BAD_INPUT);
        }
    }
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
                // What the runbook prints before its steps, said for the playbook too.
                for f in &plan.forced {
                    outln(&format!("FORCED (--force): {f}"));
                }
                for q in &plan.quorum_loss {
                    outln(&format!("QUORUM LOST (--allow-quorum-loss): {q}"));
                }
                for w in &plan.warnings {
                    outln(&format!("warning: {w}"));
                }
                for p in &plan.prerequisites {
                    outln(&format!("prerequisite: {p}"));
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
            let guard = match check_report_paths(&args.common, &guarded) {
                Ok(g) => g,
                Err(e) => {
                    err(&format!("sr-rehearse fe: {e}\n"));
                    return Ok(exit::BAD_INPUT);
                }
            };
            Ok(emit(sr_rehearse::fe::run(&cfg), &args.common, &guard))
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
            let roots = sr_rehearse::be::storage_roots(&cfg.be_home);
            guarded.extend(roots.iter().map(|p| ("storage root", p.as_path())));
            let guard = match check_report_paths(&args.common, &guarded) {
                Ok(g) => g,
                Err(e) => {
                    err(&format!("sr-rehearse be: {e}\n"));
                    return Ok(exit::BAD_INPUT);
                }
            };
            Ok(emit(sr_rehearse::be::run(&cfg), &args.common, &guard))
        }
        Command::Scan {
            files,
            role,
            format,
            list,
        } => Ok(sr_rehearse::scan::run(&files, role, format, list)?),
        Command::Check(args) => run_check(&args.to_config()),
        Command::Precheck(args) => Ok(run_precheck(&args)),
        Command::UpgradePlan(args) => run_plan(&args.to_config()),
        Command::UpgradeSettings(args) => Ok(match &args.action {
            sr_rehearse::upgrade_settings::cli::SettingsAction::Apply {
                conn,
                to_version,
                state,
            } => sr_rehearse::upgrade_settings::run_apply(
                &sr_rehearse::upgrade_settings::ApplyConfig {
                    conn: conn.to_conn(),
                    to_version: *to_version,
                    state: state.clone(),
                },
            ),
            sr_rehearse::upgrade_settings::cli::SettingsAction::Restore { conn, state } => {
                sr_rehearse::upgrade_settings::run_restore(&conn.to_conn(), state)
            }
        }),
        Command::CreateImage(args) => Ok(sr_rehearse::upgrade_settings::run_create_image(
            &args.to_config(),
        )),
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
            write_man_pages(&dir).map_err(|e| {
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

/// The manual pages, one per command as `clap_mangen::generate_to` names them, each written as a
/// new file renamed into place: a link planted in `--out` is replaced, never written through.
fn write_man_pages(dir: &std::path::Path) -> std::io::Result<()> {
    fn each(cmd: clap::Command, dir: &std::path::Path) -> std::io::Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
            each(sub, dir)?;
        }
        let man = clap_mangen::Man::new(cmd);
        let mut buf = Vec::new();
        man.render(&mut buf)?;
        sr_rehearse::report::file::write_new(&dir.join(man.get_filename()), &buf)
    }
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    each(cmd, dir)
}

/// One line for any panic, on whichever thread: it is a bug of the tool, and the operator needs
/// to know the sandbox was stopped and what to report, not a backtrace.
fn install_panic_hook(aftermath: &'static str) {
    std::panic::set_hook(Box::new(move |info| {
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
            "sr-rehearse: internal error: {}{at}; {aftermath}this is a bug, please report it with the command line and this line (exit {})\n",
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
    sr_rehearse::report::human::set_colour(match cli.color {
        sr_rehearse::cli::ColorWhen::Always => true,
        sr_rehearse::cli::ColorWhen::Never => false,
        sr_rehearse::cli::ColorWhen::Auto => sr_rehearse::report::human::colour_wanted(),
    });
    tracing::debug!(version = sr_rehearse::cli::VERSION, args = ?std::env::args_os().skip(1).collect::<Vec<_>>(), "sr-rehearse started");
    // What the run's guards do on the way out, which the panic's line tells the operator.
    let aftermath = match &cli.command {
        Command::Fe(_) => "the sandbox of this run is being stopped; ",
        Command::Be(a) if a.rollback => {
            "the rollback stopped where it was; run `sr-rehearse be --rollback` again; "
        }
        Command::Be(a) if a.in_place => {
            "a node whose build was swapped is being put back on its old build; "
        }
        Command::Be(_) => "the sandbox of this run is being stopped; ",
        #[cfg(feature = "demo")]
        Command::Demo { .. } => "the demo's simulated servers are being stopped; ",
        _ => "",
    };
    install_panic_hook(aftermath);
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
