//! The command line of `check`: how to reach the cluster and what counts as healthy (shared with
//! `upgrade-plan`, which checks the cluster before it plans), and what only a check does (the
//! gate's options, wait, reports), turned into `CheckConfig` (src/cli.rs names the command).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// How to reach the cluster and what counts as healthy: shared by `check` and `upgrade-plan`.
#[derive(Args, Debug, Clone)]
pub struct ClusterArgs {
    /// Any FE of the cluster, as HOST:HTTP_PORT.
    #[arg(long, value_name = "ADDR", help_heading = "Cluster")]
    pub fe: String,
    /// That FE's query_port.
    #[arg(
        long,
        value_name = "PORT",
        help_heading = "Cluster",
        default_value_t = 9030,
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub query_port: u16,
    /// The user of the SQL queries.
    #[arg(
        long,
        value_name = "USER",
        help_heading = "Cluster",
        default_value = "root"
    )]
    pub user: String,
    /// Environment variable holding the password.
    #[arg(long, value_name = "VAR", help_heading = "Cluster")]
    pub password_env: Option<String>,
    /// A follower whose replayed journal does not reach, within this time, the leader's journal
    /// id seen at the start of the check is lagging.
    #[arg(long, value_name = "DURATION", help_heading = "Health", default_value = "60s", value_parser = humantime::parse_duration)]
    pub max_journal_delay: Duration,
    /// A version allowed to run beside the others (a rolling upgrade in progress; repeatable).
    #[arg(
        long = "allow-version",
        value_name = "VERSION",
        help_heading = "Health"
    )]
    pub allow_version: Vec<String>,
    /// Timeout of each probe.
    #[arg(long, value_name = "DURATION", help_heading = "Health", default_value = "5s", value_parser = humantime::parse_duration)]
    pub probe_timeout: Duration,
}

/// `check`: the cluster options, and what only a check does (wait, reports, quiet).
#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Poll until the cluster is healthy or this long has passed (e.g. 5m): the gate between steps.
    #[arg(long, value_name = "DURATION", help_heading = "Health", value_parser = humantime::parse_duration)]
    pub wait: Option<Duration>,
    /// Write the result as JSON here.
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report here (one case per node).
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
    pub junit: Option<PathBuf>,
    /// Print only the verdict line (the last line of the summary).
    #[arg(short, long, help_heading = "Output")]
    pub quiet: bool,
    /// The node this gate proves: fe@HOST:QUERY_PORT, be@HOST:HEARTBEAT_PORT or cn@HOST:HEARTBEAT_PORT.
    #[arg(long, value_name = "ID", help_heading = "Gate")]
    pub node: Option<String>,
    /// The version the node runs (every node's without --node); the build hash is not compared.
    #[arg(long, value_name = "VERSION", help_heading = "Gate")]
    pub expect_version: Option<String>,
    /// The node's StartTime (FE) / LastStartTime (BE, CN) must be later than this, as
    /// `--print start-time` printed it before the stop.
    #[arg(long, value_name = "TIME", help_heading = "Gate", requires = "node")]
    pub started_after: Option<String>,
    /// Once the node meets the above, how long it must stay Alive with its LastHeartbeat moving
    /// on (longer than heartbeat_retry_times x the heartbeat interval).
    #[arg(long, value_name = "DURATION", help_heading = "Gate", default_value = "20s", value_parser = humantime::parse_duration)]
    pub stable_for: Duration,
    /// Print this value of the node's row on one line and exit 0, without judging the cluster.
    #[arg(
        long,
        value_enum,
        value_name = "FIELD",
        help_heading = "Gate",
        requires = "node"
    )]
    pub print: Option<crate::check::PrintField>,
}

impl ClusterArgs {
    /// A check of the cluster as it is now: no wait, no report files, the full summary.
    pub fn to_config(&self) -> crate::check::CheckConfig {
        crate::check::CheckConfig {
            fe: self.fe.clone(),
            query_port: self.query_port,
            user: self.user.clone(),
            password_env: self.password_env.clone(),
            max_journal_delay: self.max_journal_delay,
            allow_versions: self.allow_version.clone(),
            probe_timeout: self.probe_timeout,
            ..crate::check::CheckConfig::default()
        }
    }
}

impl CheckArgs {
    pub fn to_config(&self) -> crate::check::CheckConfig {
        crate::check::CheckConfig {
            wait: self.wait,
            json: self.json.clone(),
            junit: self.junit.clone(),
            quiet: self.quiet,
            node: self.node.clone(),
            expect_version: self.expect_version.clone(),
            started_after: self.started_after.clone(),
            stable_for: self.stable_for,
            print: self.print,
            ..self.cluster.to_config()
        }
    }
}
