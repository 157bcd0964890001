//! The command line of `sr-rehearse`: clap definitions only, turned into plain config structs.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::fe::{FeConfig, Isolate, Keep};
use crate::version::{Version, VersionReq};

#[derive(Parser, Debug)]
#[command(
    name = "sr-rehearse",
    version,
    args_override_self = true,
    about = "Rehearse a StarRocks upgrade before it touches production",
    long_about = "Rehearse a StarRocks upgrade before it touches production.\n\nExit codes: 0 passed, 1 failed, 2 bad input or unsafe request, 3 environment error, 4 timed out, 5 in-place BE rollback failed, 101 internal error (a bug: please report it), 130 interrupted."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
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
        #[arg(required_unless_present = "list")]
        files: Vec<PathBuf>,
        /// Whose logs these are, when the file names do not say.
        #[arg(long, value_enum)]
        role: Option<ScanRole>,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Print the signature catalog instead.
        #[arg(long)]
        list: bool,
    },
    /// Run a passing and a failing FE rehearsal on the built-in simulator.
    Demo {
        /// Keep the simulated cluster and the workspaces for inspection.
        #[arg(long)]
        keep: bool,
    },
    /// Check the health of a whole cluster from one FE: every FE, BE and CN, versions, leader and
    /// journal lag, tablets. Exit 0 healthy, 1 degraded, 2 bad input, 3 unreachable.
    Check(Box<CheckArgs>),
    /// Print the rolling-upgrade runbook of a healthy cluster (BEs, then FE followers, the leader
    /// last, a health gate between nodes), or write it as an Ansible playbook. Exit 2 when refused.
    UpgradePlan(Box<PlanArgs>),
    /// End the processes of runs whose tool was killed, and remove their workspaces.
    Clean {
        /// Where run folders are (default: the temp folder).
        #[arg(long)]
        workspace_root: Option<PathBuf>,
    },
}

#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Where run folders are created.
    #[arg(long, default_value_os_t = std::env::temp_dir())]
    pub workspace_root: PathBuf,
    /// When to keep the workspace.
    #[arg(long, value_enum, default_value_t = Keep::OnFailure)]
    pub keep: Keep,
    /// How long to wait for a verdict (e.g. 90s, 10m).
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Write the JSON report here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Print every step, change, port and process, run the read-only checks, change nothing.
    #[arg(long)]
    pub plan: bool,
    /// Network fence around the sandbox.
    #[arg(long, value_enum, default_value_t = Isolate::Auto)]
    pub isolate: Isolate,
    /// How long each rung of the stop ladder (stop script, SIGTERM) may take before the next.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub stop_grace: Duration,
    /// More detail.
    #[arg(short, long)]
    pub verbose: bool,
    /// Only the verdict line.
    #[arg(short, long, conflicts_with = "verbose")]
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
    #[arg(long)]
    pub meta: PathBuf,
    /// The unpacked new release's fe/ folder. Read, never written.
    #[arg(long)]
    pub new_fe: PathBuf,
    /// The production fe.conf: its ports are avoided and its settings carried into the sandbox.
    #[arg(long)]
    pub prod_conf: Option<PathBuf>,
    /// The sandbox cluster id; must differ from the source's.
    #[arg(long, default_value_t = 123456)]
    pub cluster_id: i64,
    /// An extra statement that must succeed after the built-in SQL check (it must not need a BE).
    #[arg(long, conflicts_with = "no_query")]
    pub query: Option<String>,
    /// Skip the SQL check (SHOW DATABASES, SHOW PROC '/statistic', SHOW FRONTENDS).
    #[arg(long)]
    pub no_query: bool,
    #[arg(long, default_value = "root")]
    pub user: String,
    /// Environment variable holding the password (the copied meta carries production's users).
    #[arg(long)]
    pub password_env: Option<String>,
    /// The version production runs now (for upgrade-path advice).
    #[arg(long)]
    pub from_version: Option<Version>,
    /// The version being rehearsed (checked against what the package reports): `3.3` accepts any
    /// 3.3.x, `3.3.2` only that patch.
    #[arg(long)]
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
            workspace_root: self.common.workspace_root.clone(),
            keep: self.common.keep,
            timeout: self.common.timeout(),
            plan: self.common.plan,
            isolate: self.common.isolate,
            cluster_id: self.cluster_id,
            sql_check: !self.no_query,
            query: self.query.clone(),
            user: self.user.clone(),
            password_env: self.password_env.clone(),
            from_version: self.from_version,
            to_version: self.to_version,
            quiet: self.common.quiet,
            verbose: self.common.verbose,
            stop_grace: self.common.stop_grace(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScanRole {
    Fe,
    Be,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct BeArgs {
    /// The node's BE home (bin/, lib/, conf/be.conf). Only --in-place and --rollback write there.
    #[arg(long)]
    pub be_home: PathBuf,
    /// The unpacked new release's be/ folder. Read, never written.
    #[arg(long, required_unless_present = "rollback")]
    pub new_be: Option<PathBuf>,
    /// Swap the build on the real node, with a journal and an automatic rollback.
    #[arg(long, conflicts_with = "rollback")]
    pub in_place: bool,
    /// Finish an interrupted in-place canary backwards, from its journal.
    #[arg(long)]
    pub rollback: bool,
    /// Sandbox: copy this storage root instead of starting with an empty one.
    #[arg(long)]
    pub storage_copy: Option<PathBuf>,
    /// In place: an FE's HOST:QUERY_PORT, to require Alive and the new Version in SHOW BACKENDS.
    #[arg(long)]
    pub fe: Option<String>,
    /// In place: this node's address as SHOW BACKENDS lists it (default: detected from this host's
    /// interfaces and priority_networks).
    #[arg(long)]
    pub be_host: Option<String>,
    #[arg(long, default_value = "root")]
    pub user: String,
    /// Environment variable holding the FE password.
    #[arg(long)]
    pub password_env: Option<String>,
    /// In place: how long the new build must stay healthy.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub soak: Duration,
    #[command(flatten)]
    pub common: Common,
}

impl BeArgs {
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
            soak: capped("--soak", self.soak, MAX_WAIT),
            workspace_root: self.common.workspace_root.clone(),
            keep: self.common.keep,
            timeout: self.common.timeout(),
            plan: self.common.plan,
            isolate: self.common.isolate,
            quiet: self.common.quiet,
            verbose: self.common.verbose,
            stop_grace: self.common.stop_grace(),
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// Any FE of the cluster, as HOST:HTTP_PORT.
    #[arg(long)]
    pub fe: String,
    /// That FE's query_port.
    #[arg(long, default_value_t = 9030)]
    pub query_port: u16,
    #[arg(long, default_value = "root")]
    pub user: String,
    /// Environment variable holding the password.
    #[arg(long)]
    pub password_env: Option<String>,
    /// Poll until the cluster is healthy or this long has passed (e.g. 5m): the gate between steps.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub wait: Option<Duration>,
    /// A follower further behind the leader's journal than this many entries is lagging.
    #[arg(long, default_value_t = 1000)]
    pub max_journal_lag: u64,
    /// A version allowed to run beside the others (a rolling upgrade in progress; repeatable).
    #[arg(long = "allow-version")]
    pub allow_version: Vec<String>,
    /// Timeout of each probe.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub probe_timeout: Duration,
    /// Write the result as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report here (one case per node).
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Only the verdict line.
    #[arg(short, long)]
    pub quiet: bool,
}

impl CheckArgs {
    pub fn to_config(&self) -> crate::check::CheckConfig {
        crate::check::CheckConfig {
            fe: self.fe.clone(),
            query_port: self.query_port,
            user: self.user.clone(),
            password_env: self.password_env.clone(),
            wait: self.wait,
            max_journal_lag: self.max_journal_lag,
            allow_versions: self.allow_version.clone(),
            probe_timeout: self.probe_timeout,
            json: self.json.clone(),
            junit: self.junit.clone(),
            quiet: self.quiet,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct PlanArgs {
    #[command(flatten)]
    pub check: CheckArgs,
    /// The unpacked new release's be/ folder.
    #[arg(long)]
    pub new_be: PathBuf,
    /// The unpacked new release's fe/ folder.
    #[arg(long)]
    pub new_fe: PathBuf,
    /// The JSON report of a passing `sr-rehearse fe` for this target.
    #[arg(long)]
    pub rehearsal_report: Option<PathBuf>,
    /// The JSON report of a passing `sr-rehearse be` canary for this target.
    #[arg(long)]
    pub canary_report: Option<PathBuf>,
    /// The target version (by default the one the reports tested).
    #[arg(long)]
    pub to_version: Option<Version>,
    /// Plan even when a refusal applies; the plan says which.
    #[arg(long)]
    pub force: bool,
    #[arg(long, value_enum, default_value_t = crate::upgrade_plan::PlanFormat::Text)]
    pub format: crate::upgrade_plan::PlanFormat,
    /// Where --format ansible writes inventory.yml, playbook.yml and fe-node.yml.
    #[arg(long, required_if_eq("format", "ansible"))]
    pub out: Option<PathBuf>,
    /// The FE home on every host.
    #[arg(long, default_value = "/opt/starrocks/fe")]
    pub fe_home: PathBuf,
    /// The BE home on every host.
    #[arg(long, default_value = "/opt/starrocks/be")]
    pub be_home: PathBuf,
    /// One node's home: fe@HOST:QUERY_PORT=DIR or be@HOST:HEARTBEAT_PORT=DIR (repeatable).
    #[arg(long = "node-home", value_parser = crate::upgrade_plan::parse_node_home)]
    pub node_home: Vec<(String, PathBuf)>,
    /// JAVA_HOME for the FE start script, when the hosts do not set it.
    #[arg(long)]
    pub java_home: Option<PathBuf>,
    /// How long each gate waits for the cluster to be healthy.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub gate_wait: Duration,
    /// How long each new BE must stay healthy.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub soak: Duration,
}

impl PlanArgs {
    pub fn to_config(&self) -> crate::upgrade_plan::PlanConfig {
        // The runbook and playbook run elsewhere: every path in them is absolute.
        let abs = |p: &PathBuf| std::path::absolute(p).unwrap_or_else(|_| p.clone());
        crate::upgrade_plan::PlanConfig {
            check: self.check.to_config(),
            new_be: abs(&self.new_be),
            new_fe: abs(&self.new_fe),
            rehearsal_report: self.rehearsal_report.clone(),
            canary_report: self.canary_report.clone(),
            to_version: self.to_version,
            force: self.force,
            format: self.format,
            out: self.out.clone(),
            fe_home: self.fe_home.clone(),
            be_home: self.be_home.clone(),
            node_homes: self
                .node_home
                .iter()
                .map(|(k, p)| (k.clone(), abs(p)))
                .collect(),
            java_home: self.java_home.as_ref().map(abs),
            gate_wait: self.gate_wait,
            soak: self.soak,
        }
    }
}
