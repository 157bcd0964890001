//! `upgrade-settings apply|restore` and `create-image`: the documented steps of a rolling upgrade
//! that talk to the cluster itself rather than to one node.
//!
//! The upgrade guide (docs/en/deployment/upgrade.md, every release from 2.5 on) says "Before
//! upgrading your StarRocks cluster, you must disable tablet clone" with four `ADMIN SET FRONTEND
//! CONFIG` statements, and to restore them once every BE is back; `ADMIN SET CONFIG` "The
//! configurations will be restored to the default values in the fe.conf file after the FE
//! restarts", so the settings have to be applied again after each FE restart and the values they
//! replaced kept somewhere that outlives the leader: the state file. For chained upgrades (and a
//! re-upgrade after a downgrade) the guide asks for `ALTER SYSTEM CREATE IMAGE` and a wait until
//! the leader's fe.log shows "push image.* from subdir [] to other nodes. totally xx nodes, push
//! succeeded xx nodes". The 3.5 release notes add a session setting for upgrades from below 3.4.10.
//!
//! Every statement goes to the leader found in SHOW FRONTENDS (its IP and QueryPort checked by
//! `check::values` first) through the project's bounded MySQL client. The pieces: `leader` (which
//! FE leads, the SQL seam tests replace), `keys` (the StarRocks facts: names per release, values,
//! the 3.5 rule), `state` (the file of originals), `apply` (apply and restore), `image` (CREATE
//! IMAGE and the push line), `follow` (reading fe.log from its end across log rotation).

mod apply;
pub mod cli;
mod follow;
mod image;
mod keys;
mod leader;
mod state;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::Duration;

use crate::probe::mysql::SqlError;
use crate::report::exit;
use crate::version::Version;

pub use apply::{apply, restore};
pub use follow::LogFollower;
pub use image::{create_image, parse_push, Push};
pub use leader::{find_leader, Leader, SqlLink};

/// How to reach the cluster: any FE's `HOST:HTTP_PORT` (the host is used, with `query_port`), the
/// account, and the bound of each SQL exchange.
#[derive(Debug, Clone)]
pub struct Conn {
    pub fe: String,
    pub query_port: u16,
    pub user: String,
    pub password_env: Option<String>,
    pub timeout: Duration,
}

/// What `upgrade-settings apply` was asked.
#[derive(Debug, Clone)]
pub struct ApplyConfig {
    pub conn: Conn,
    pub to_version: Version,
    pub state: PathBuf,
}

/// What `create-image` was asked.
#[derive(Debug, Clone)]
pub struct ImageConfig {
    pub conn: Conn,
    pub leader_log: PathBuf,
    pub wait: Duration,
    /// `fe@HOST:QUERY_PORT`: the FE whose host runs this; only the leader's acts.
    pub node: Option<String>,
}

/// Why a command stopped; each kind is one of the README's exit codes.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Exit 2: the command line, the state file or a value the cluster reports is unusable.
    #[error("{0}")]
    BadInput(String),
    /// Exit 1: the cluster answered, and not as the step needs (no leader, a refused statement, an
    /// image pushed to fewer nodes than it has).
    #[error("{0}")]
    Failed(String),
    /// Exit 3: the FE or the leader could not be reached, or a file could not be read or written.
    #[error("{0}")]
    Unreachable(String),
    /// Exit 4: the push line did not come within `--wait`.
    #[error("{0}")]
    TimedOut(String),
    /// SIGINT/SIGTERM: 130/143.
    #[error("interrupted by a signal")]
    Interrupted,
}

impl SettingsError {
    pub fn exit_code(&self) -> i32 {
        match self {
            SettingsError::BadInput(_) => exit::BAD_INPUT,
            SettingsError::Failed(_) => exit::FAIL,
            SettingsError::Unreachable(_) => exit::ENVIRONMENT,
            SettingsError::TimedOut(_) => exit::TIMEOUT,
            SettingsError::Interrupted => crate::signals::exit_code(),
        }
    }

    /// A failed statement as the caller reports it: a refused login or privilege (1045; 1227 and,
    /// from about 3.2, 5203) and a login method the client will not use are bad input, as for
    /// `check`; any other server error is the step failing; no answer is unreachable.
    pub(crate) fn from_sql(what: String, e: &SqlError) -> SettingsError {
        let text = format!("{what}: {}", crate::check::shown(e));
        match e {
            SqlError::Interrupted => SettingsError::Interrupted,
            SqlError::AuthRefused { .. } => SettingsError::BadInput(text),
            SqlError::Server {
                code: 1045 | 1227 | 5203,
                ..
            } => SettingsError::BadInput(format!(
                "{text}; check --user and --password-env (ADMIN SET/SHOW FRONTEND CONFIG need the OPERATE privilege, ALTER SYSTEM the NODE privilege)"
            )),
            SqlError::Server { .. } => SettingsError::Failed(text),
            _ => SettingsError::Unreachable(text),
        }
    }
}

impl Conn {
    /// The host of `--fe`, checked, and the password from `--password-env`.
    pub(crate) fn open(&self) -> Result<(String, crate::check::Sql), SettingsError> {
        let (host, _http) = crate::check::parse_host_port("--fe", &self.fe)
            .map_err(|e| SettingsError::BadInput(e.to_string()))?;
        if !crate::check::is_host(&host) {
            return Err(SettingsError::BadInput(format!(
                "failed to read --fe {}: the host is not an IP address or host name",
                crate::check::escape(&self.fe)
            )));
        }
        let password = match &self.password_env {
            Some(var) => Some(std::env::var(var).map_err(|_| {
                SettingsError::BadInput(format!(
                    "failed to read the password: environment variable {var} is not set; export it or drop --password-env"
                ))
            })?),
            None => None,
        };
        Ok((
            host,
            crate::check::Sql::new(&self.user, password, self.timeout),
        ))
    }
}

/// Runs `upgrade-settings apply` against the cluster; the lines are printed as they happen.
pub fn run_apply(cfg: &ApplyConfig) -> i32 {
    finish(
        "upgrade-settings apply",
        cfg.conn
            .open()
            .and_then(|(host, sql)| apply(&sql, &host, cfg.conn.query_port, cfg)),
    )
}

/// Runs `upgrade-settings restore`.
pub fn run_restore(conn: &Conn, state: &std::path::Path) -> i32 {
    finish(
        "upgrade-settings restore",
        conn.open()
            .and_then(|(host, sql)| restore(&sql, &host, conn.query_port, state)),
    )
}

/// Runs `create-image`.
pub fn run_create_image(cfg: &ImageConfig) -> i32 {
    finish(
        "create-image",
        cfg.conn
            .open()
            .and_then(|(host, sql)| create_image(&sql, &host, cfg.conn.query_port, cfg)),
    )
}

fn finish(command: &str, r: Result<(), SettingsError>) -> i32 {
    match r {
        Ok(()) => exit::PASS,
        Err(e) => {
            let code = e.exit_code();
            crate::output::err(&format!("sr-rehearse {command}: {e} (exit {code})\n"));
            code
        }
    }
}
