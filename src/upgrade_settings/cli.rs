//! The command line of `upgrade-settings` and `create-image`: clap definitions, turned into the
//! module's config structs (src/cli.rs names the commands; their options live here beside what
//! they configure).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::version::Version;

/// How `upgrade-settings` and `create-image` reach the cluster (the names `check` uses).
#[derive(Args, Debug, Clone)]
pub struct ConnArgs {
    /// Any FE of the cluster, as HOST:HTTP_PORT (its host and --query-port are asked for the
    /// leader; every statement then goes to the leader).
    #[arg(long, value_name = "ADDR", help_heading = "Cluster")]
    pub fe: String,
    /// That FE's query_port.
    #[arg(long, value_name = "PORT", help_heading = "Cluster", default_value_t = 9030, value_parser = clap::value_parser!(u16).range(1..))]
    pub query_port: u16,
    /// The user of the SQL statements (ADMIN SET/SHOW FRONTEND CONFIG need the OPERATE privilege,
    /// ALTER SYSTEM CREATE IMAGE the NODE privilege).
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
    /// Bound of each SQL exchange (connect, login, statement and its rows).
    #[arg(long, value_name = "DURATION", help_heading = "Cluster", default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

impl ConnArgs {
    pub fn to_conn(&self) -> super::Conn {
        super::Conn {
            fe: self.fe.clone(),
            query_port: self.query_port,
            user: self.user.clone(),
            password_env: self.password_env.clone(),
            timeout: self.timeout,
        }
    }
}

#[derive(Args, Debug)]
pub struct SettingsArgs {
    #[command(subcommand)]
    pub action: SettingsAction,
}

#[derive(Subcommand, Debug)]
pub enum SettingsAction {
    /// Record the leader's clone/balance settings in --state (kept when it already holds this
    /// cluster's originals) and set the documented disabled values on the leader; for a 3.5+
    /// target from below 3.4.10 also SET GLOBAL cbo_enable_low_cardinality_optimize = false.
    Apply {
        #[command(flatten)]
        conn: ConnArgs,
        /// The release the cluster is being upgraded to.
        #[arg(long, value_name = "VERSION")]
        to_version: Version,
        /// The state file: the original values, for restore.
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
    },
    /// Put the values recorded in --state back on the current leader.
    Restore {
        #[command(flatten)]
        conn: ConnArgs,
        /// The state file `apply` wrote.
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
    },
}

#[derive(Args, Debug)]
pub struct ImageArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// The leader's fe.log on this host, read from its end at the time of the statement.
    #[arg(long, value_name = "FILE")]
    pub leader_log: PathBuf,
    /// How long to wait for the push line (the checkpoint daemon runs every 60 s, then makes and
    /// pushes the image).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = humantime::parse_duration)]
    pub wait: Duration,
    /// The FE this host runs (fe@HOST:QUERY_PORT): when it is not the leader, print that and exit
    /// 0 without doing anything (a playbook runs this on every FE host).
    #[arg(long, value_name = "ID")]
    pub node: Option<String>,
}

impl ImageArgs {
    pub fn to_config(&self) -> super::ImageConfig {
        super::ImageConfig {
            conn: self.conn.to_conn(),
            leader_log: self.leader_log.clone(),
            wait: self.wait,
            node: self.node.clone(),
        }
    }
}
