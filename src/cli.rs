//! The command line of `sr-rehearse`: clap definitions only, turned into plain config structs.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::fe::{FeConfig, Isolate, Keep};
use crate::version::{Version, VersionReq};

/// The version line: the crate's version and the commit it was built from (`build.rs`), so a report
/// or a bug can be tied to the exact build.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SR_REHEARSE_GIT_COMMIT"),
    ")"
);

/// The exit codes, as `--help` and the man page list them (the README has the same table).
const EXIT_CODES: &str = "Exit codes: 0 passed, 1 failed, 2 bad input or unsafe request (also a command line clap refuses), 3 environment error, 4 timed out, 5 in-place BE rollback failed, 101 internal error (a bug: please report it), 130 interrupted by SIGINT, 143 terminated by SIGTERM (129 for SIGHUP).";

#[derive(Parser, Debug)]
#[command(
    name = "sr-rehearse",
    version = VERSION,
    args_override_self = true,
    about = "Rehearse a StarRocks upgrade before it touches production",
    long_about = None,
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Colour the summary on stdout: auto (a terminal, or CLICOLOR_FORCE; never with NO_COLOR),
    /// always or never. Reports are never coloured.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
}

/// When the human summary is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start the new FE release on a copy of the Leader's metadata, in a sandbox, and decide.
    Fe(Box<FeArgs>),
    /// Check that a new BE build runs on this node: in a sandbox, or in place with a rollback.
    Be(Box<BeArgs>),
    /// Classify StarRocks logs (plain or .gz) with the signature catalog and say what happened.
    Scan {
        /// fe.log, fe.warn.log, fe.out, be.INFO, be.WARNING, be.out (rotated names too).
        #[arg(required_unless_present = "list", value_name = "LOG")]
        files: Vec<PathBuf>,
        /// Whose logs these are, when the file names do not say.
        #[arg(long, value_enum, value_name = "ROLE")]
        role: Option<ScanRole>,
        /// How to print the result: a summary for people, or JSON for scripts.
        #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Human)]
        format: Format,
        /// Print the signature catalog instead of scanning.
        #[arg(long, conflicts_with_all = ["role", "files"])]
        list: bool,
    },
    #[cfg(feature = "demo")]
    /// Show what the tool does on the built-in simulator: two FE rehearsals (one passes, one
    /// fails), a BE canary, then a simulated 3-FE/3-BE cluster checked, planned and upgraded.
    Demo {
        /// Keep the simulated cluster and the workspaces for inspection.
        #[arg(long)]
        keep: bool,
    },
    /// Check the health of a whole cluster from one FE: every FE, BE and CN, versions, leader and
    /// journal lag, tablets. Exit 0 healthy, 1 degraded, 2 bad input, 3 unreachable.
    Check(Box<crate::check::cli::CheckArgs>),
    /// Print the rolling-upgrade runbook of a healthy cluster (BEs, then FE followers, the leader
    /// last, a health gate between nodes), or write it as an Ansible playbook. Exit 2 when refused.
    UpgradePlan(Box<crate::upgrade_plan::cli::PlanArgs>),
    /// Turn tablet clone and balancing off on the leader before a rolling upgrade (the guide's
    /// "must" step; again after each FE restart), or put the recorded values back after it.
    UpgradeSettings(Box<crate::upgrade_settings::cli::SettingsArgs>),
    /// ALTER SYSTEM CREATE IMAGE on the leader, then wait for its fe.log to say the image was
    /// pushed to the other FEs. Exit 0 every node pushed, 1 fewer, 2 refused, 3 unreachable, 4 no
    /// push line within --wait.
    CreateImage(Box<crate::upgrade_settings::cli::ImageArgs>),
    /// Check this host before a node of ROLE is upgraded: open files, CPU, the JDK and JAVA_OPTS the
    /// target will run, memory, kernel settings, disk, ports, and the release notes' prerequisites.
    /// Exit 0 no error, 1 an error found, 2 bad input, 3 could not check.
    Precheck(Box<crate::precheck::args::PrecheckArgs>),
    /// End the processes of runs whose tool was killed, and remove their workspaces.
    Clean {
        /// Where run folders are (default: the temp folder).
        #[arg(long, value_name = "DIR")]
        workspace_root: Option<PathBuf>,
        /// List every run folder (age, size, kept, killed or in use) and change nothing.
        #[arg(long, conflicts_with = "older_than")]
        list: bool,
        /// Also remove the run folders finished runs kept (--keep) that started longer ago than
        /// this (e.g. 7d), when they are yours and no process runs from them.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        older_than: Option<std::time::Duration>,
    },
    /// Print a completion script for SHELL on stdout (e.g. `sr-rehearse completions bash >
    /// /etc/bash_completion.d/sr-rehearse`).
    Completions {
        /// The shell to complete in.
        #[arg(value_enum, value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout, or write one page per command into --out.
    Man {
        /// Write sr-rehearse.1 and sr-rehearse-COMMAND.1 into this existing folder instead.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Where run folders are created [default: the temp folder, $TMPDIR or /tmp].
    // An Option, not a clap default: the in-place modes must tell "not given" from "given".
    #[arg(long, value_name = "DIR", help_heading = "Workspace")]
    pub workspace_root: Option<PathBuf>,
    /// When to keep the run folder (the copy, the logs, sr-rehearse.log) afterwards.
    #[arg(long, value_enum, value_name = "WHEN", help_heading = "Workspace", default_value_t = Keep::OnFailure)]
    pub keep: Keep,
    /// How long to wait for a verdict (e.g. 90s, 10m).
    #[arg(long, value_name = "DURATION", help_heading = "Run", default_value = "10m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
    pub junit: Option<PathBuf>,
    /// Write a Markdown summary here (a CI job summary or a merge request comment); with
    /// $GITHUB_STEP_SUMMARY set it is also appended there.
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
    pub summary_md: Option<PathBuf>,
    /// Print every step, change, port and process, run the read-only checks, change nothing.
    #[arg(long, visible_alias = "dry-run", help_heading = "Run")]
    pub plan: bool,
    /// Network fence around the sandbox [default: auto].
    #[arg(long, value_enum, value_name = "HOW", help_heading = "Run")]
    pub isolate: Option<Isolate>,
    /// How long each rung of the stop ladder (stop script, SIGTERM) may take before the next.
    #[arg(long, value_name = "DURATION", help_heading = "Run", default_value = "10s", value_parser = humantime::parse_duration)]
    pub stop_grace: Duration,
    /// Diagnostics on stderr: -v the tool's steps (info), -vv everything (debug). RUST_LOG
    /// overrides. The run folder's sr-rehearse.log always has the full debug log.
    #[arg(short, long, action = clap::ArgAction::Count, help_heading = "Output")]
    pub verbose: u8,
    /// Print only the one-line verdict summary on stdout: no steps, no progress, no diagnostics
    /// below errors (the exit code and the reports are unchanged).
    #[arg(short, long, conflicts_with = "verbose", help_heading = "Output")]
    pub quiet: bool,
}

/// The longest `--timeout` and `--soak`: a week is past any real rehearsal, and keeps every
/// deadline computed from them far from overflowing.
pub const MAX_WAIT: Duration = Duration::from_secs(7 * 86_400);
/// The longest `--stop-grace`.
pub const MAX_GRACE: Duration = Duration::from_secs(3600);

/// `d`, or `max` with a message on stderr when `d` is longer.
pub fn capped(flag: &str, d: Duration, max: Duration) -> Duration {
    if d <= max {
        return d;
    }
    crate::output::err(&format!(
        "sr-rehearse: {flag} {} is longer than the {} allowed; using {}\n",
        humantime::format_duration(d),
        humantime::format_duration(max),
        humantime::format_duration(max)
    ));
    max
}

impl Common {
    /// `--workspace-root`, or the temp folder.
    pub fn workspace_root(&self) -> PathBuf {
        self.workspace_root
            .clone()
            .unwrap_or_else(std::env::temp_dir)
    }

    pub fn timeout(&self) -> Duration {
        capped("--timeout", self.timeout, MAX_WAIT)
    }
    pub fn stop_grace(&self) -> Duration {
        capped("--stop-grace", self.stop_grace, MAX_GRACE)
    }
}

#[derive(Args, Debug, Clone)]
pub struct FeArgs {
    /// The production Leader FE's meta_dir (holding image/ and bdb/). Read, never written.
    #[arg(long, value_name = "DIR", help_heading = "Input")]
    pub meta: PathBuf,
    /// The unpacked new release's fe/ folder. Read, never written.
    #[arg(long, value_name = "DIR", help_heading = "Input")]
    pub new_fe: PathBuf,
    /// The production fe.conf: its ports are avoided and its settings carried into the sandbox.
    #[arg(long, value_name = "FILE", help_heading = "Input")]
    pub prod_conf: Option<PathBuf>,
    /// The sandbox cluster id; must differ from the source's.
    #[arg(
        long,
        value_name = "ID",
        help_heading = "Sandbox",
        default_value_t = 123456
    )]
    pub cluster_id: i64,
    /// An extra statement that must succeed after the built-in SQL check (it must not need a BE).
    #[arg(
        long,
        value_name = "SQL",
        help_heading = "SQL check",
        conflicts_with = "no_query"
    )]
    pub query: Option<String>,
    /// Skip the SQL check (SHOW DATABASES, SHOW PROC '/statistic', SHOW FRONTENDS).
    #[arg(long, help_heading = "SQL check")]
    pub no_query: bool,
    /// The user of the SQL check (one of production's, since the copied meta carries its users).
    #[arg(
        long,
        value_name = "USER",
        help_heading = "SQL check",
        default_value = "root",
        conflicts_with = "no_query"
    )]
    pub user: String,
    /// Environment variable holding the password (the copied meta carries production's users).
    #[arg(
        long,
        value_name = "VAR",
        help_heading = "SQL check",
        conflicts_with = "no_query"
    )]
    pub password_env: Option<String>,
    /// The version production runs now (for upgrade-path advice).
    #[arg(long, value_name = "VERSION", help_heading = "Versions")]
    pub from_version: Option<Version>,
    /// The version being rehearsed (checked against what the package reports): `3.3` accepts any
    /// 3.3.x, `3.3.2` only that patch.
    #[arg(long, value_name = "VERSION", help_heading = "Versions")]
    pub to_version: Option<VersionReq>,
    #[command(flatten)]
    pub common: Common,
}

impl FeArgs {
    pub fn to_config(&self) -> FeConfig {
        FeConfig {
            meta: self.meta.clone(),
            new_fe: self.new_fe.clone(),
            prod_conf: self.prod_conf.clone(),
            workspace_root: self.common.workspace_root(),
            keep: self.common.keep,
            timeout: self.common.timeout(),
            plan: self.common.plan,
            isolate: self.common.isolate.unwrap_or(Isolate::Auto),
            cluster_id: self.cluster_id,
            sql_check: !self.no_query,
            query: self.query.clone(),
            user: self.user.clone(),
            password_env: self.password_env.clone(),
            from_version: self.from_version,
            to_version: self.to_version,
            quiet: self.common.quiet,
            verbose: self.common.verbose > 0,
            stop_grace: self.common.stop_grace(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScanRole {
    /// Frontend logs (fe.log, fe.warn.log, fe.out).
    Fe,
    /// Backend logs (be.INFO, be.WARNING, be.out).
    Be,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A summary for people.
    Human,
    /// JSON for scripts.
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct BeArgs {
    /// The node's BE home (bin/, lib/, conf/be.conf). Only --in-place and --rollback write there.
    #[arg(long, value_name = "DIR", help_heading = "Input")]
    pub be_home: PathBuf,
    /// The unpacked new release's be/ folder. Read, never written.
    #[arg(
        long,
        value_name = "DIR",
        help_heading = "Input",
        required_unless_present = "rollback"
    )]
    pub new_be: Option<PathBuf>,
    /// Swap the build on the real node, with a journal and an automatic rollback (default: a
    /// sandbox beside the node). The node is the workspace: no run folder, ports or fence.
    #[arg(long, help_heading = "Mode", conflicts_with_all = ["rollback", "storage_copy", "keep"])]
    pub in_place: bool,
    /// Finish an interrupted in-place canary backwards, from its journal, and nothing else.
    #[arg(long, help_heading = "Mode", conflicts_with_all = ["new_be", "storage_copy", "keep", "plan", "soak", "fe", "be_host", "user", "password_env"])]
    pub rollback: bool,
    /// Sandbox: copy this storage root instead of starting with an empty one.
    #[arg(long, value_name = "DIR", help_heading = "Sandbox")]
    pub storage_copy: Option<PathBuf>,
    /// In place: an FE's HOST:QUERY_PORT, to require Alive and the new Version in SHOW BACKENDS.
    #[arg(
        long,
        value_name = "ADDR",
        help_heading = "In place",
        requires = "in_place"
    )]
    pub fe: Option<String>,
    /// In place with --fe: this node's address as SHOW BACKENDS lists it (default: detected from
    /// this host's interfaces and priority_networks).
    #[arg(long, value_name = "HOST", help_heading = "In place", requires = "fe")]
    pub be_host: Option<String>,
    /// In place with --fe: the user of the SHOW BACKENDS check.
    #[arg(
        long,
        value_name = "USER",
        help_heading = "In place",
        default_value = "root",
        requires = "fe"
    )]
    pub user: String,
    /// In place with --fe: environment variable holding the FE password.
    #[arg(long, value_name = "VAR", help_heading = "In place", requires = "fe")]
    pub password_env: Option<String>,
    /// In place: how long the new build must stay healthy [default: 30s].
    #[arg(long, value_name = "DURATION", help_heading = "In place", requires = "in_place", value_parser = humantime::parse_duration)]
    pub soak: Option<Duration>,
    #[command(flatten)]
    pub common: Common,
}

/// How long an in-place canary soaks when `--soak` is not given.
pub const DEFAULT_SOAK: Duration = Duration::from_secs(30);

impl BeArgs {
    /// The sandbox options that an in-place canary or a rollback would silently ignore are parse
    /// errors. Not clap `conflicts_with`: clap drops a `requires = "in_place"` (as on `--soak`)
    /// whenever an argument conflicting with `--in-place` is present.
    pub fn check_modes(&self) -> Result<(), clap::Error> {
        let mode = match (self.in_place, self.rollback) {
            (true, _) => "--in-place",
            (_, true) => "--rollback",
            _ => return Ok(()),
        };
        let given = [
            (
                "--workspace-root <DIR>",
                self.common.workspace_root.is_some(),
            ),
            ("--isolate <HOW>", self.common.isolate.is_some()),
        ];
        match given.iter().find(|(_, on)| *on) {
            Some((flag, _)) => {
                let mut cli = <Cli as clap::CommandFactory>::command();
                // Built, so that the usage line names `sr-rehearse be`.
                cli.build();
                let be = cli.find_subcommand_mut("be").expect("the be command");
                Err(be.error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("the argument '{flag}' cannot be used with '{mode}': the node itself is the workspace, with no run folder and no fence"),
                ))
            }
            None => Ok(()),
        }
    }

    pub fn to_config(&self) -> crate::be::BeConfig {
        crate::be::BeConfig {
            be_home: self.be_home.clone(),
            new_be: self.new_be.clone(),
            in_place: self.in_place,
            rollback: self.rollback,
            storage_copy: self.storage_copy.clone(),
            fe: self.fe.clone(),
            be_host: self.be_host.clone(),
            user: self.user.clone(),
            password_env: self.password_env.clone(),
            soak: capped("--soak", self.soak.unwrap_or(DEFAULT_SOAK), MAX_WAIT),
            workspace_root: self.common.workspace_root(),
            keep: self.common.keep,
            timeout: self.common.timeout(),
            plan: self.common.plan,
            isolate: self.common.isolate.unwrap_or(Isolate::Auto),
            quiet: self.common.quiet,
            verbose: self.common.verbose > 0,
            stop_grace: self.common.stop_grace(),
        }
    }
}
