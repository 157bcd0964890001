//! The run report: one structure, rendered as the human summary, JSON (schema 1), JUnit and
//! Markdown, and written to the report files (`file`: checked before the run, created new, never
//! through a link).

pub mod file;
pub mod human;
pub mod junit;
pub mod markdown;

use std::collections::BTreeMap;

use serde::Serialize;

// What the log watcher found: reports carry them as they are.
pub use crate::watch::reach::ReachAttempt;
pub use crate::watch::SignatureHit;

/// Exit codes, stable and documented in the README.
pub mod exit {
    pub const PASS: i32 = 0;
    pub const FAIL: i32 = 1;
    pub const BAD_INPUT: i32 = 2;
    pub const ENVIRONMENT: i32 = 3;
    pub const TIMEOUT: i32 = 4;
    pub const ROLLBACK_FAILED: i32 = 5;
    /// Interrupted by SIGINT (128 + 2, the shell's convention).
    pub const INTERRUPTED: i32 = 130;
    /// Terminated by SIGTERM (128 + 15), as a service manager or CI stops a job.
    pub const TERMINATED: i32 = 143;
    /// A bug of the tool (a panic); the sandbox was stopped on the way out.
    pub const INTERNAL: i32 = 101;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Error,
    Timeout,
    Interrupted,
}

impl Verdict {
    /// The verdict's word in the human summary and the Markdown summary (`PASS`, `FAIL`, ...).
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Error => "ERROR",
            Verdict::Timeout => "TIMEOUT",
            Verdict::Interrupted => "INTERRUPTED",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Ok,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub name: String,
    pub status: StepStatus,
    pub duration_ms: u64,
    pub detail: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Isolation {
    pub mode: String,
    pub reason: String,
    /// Addresses outside the sandbox it tried to reach, read from its own log lines.
    pub reach_attempts: Vec<ReachAttempt>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Source {
    pub meta: String,
    pub cluster_id: Option<i64>,
    pub run_mode: Option<String>,
    pub highest_image_id: Option<u64>,
    pub file_count: usize,
    pub bytes: u64,
    pub manifest_digest: Option<String>,
    pub live: bool,
    pub live_reasons: Vec<String>,
    pub changed_during_copy: Vec<String>,
    /// Files per copy method (`clone`, `copy_file_range`, `stream`).
    pub copy_methods: crate::workspace::CopyMethods,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Target {
    pub package: String,
    pub detected_version: Option<String>,
    /// The JDK the FE's start script runs, found at preflight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jdk: Option<crate::precheck::java::JdkUsed>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Ports {
    pub sandbox: BTreeMap<String, u16>,
    pub production: BTreeMap<String, u16>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Probe {
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Probes {
    pub bootstrap: Option<Probe>,
    pub health: Option<Probe>,
    pub query: Option<Probe>,
}

/// What the sandbox FE's catalog holds, read with FE-only SQL: information for the reader, not
/// part of the verdict (a sandbox has no live BE, so every tablet counts as unhealthy).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Catalog {
    /// `SHOW DATABASES`, `information_schema` included.
    pub databases: Vec<String>,
    /// `SHOW PROC '/statistic'`, one entry per database.
    pub per_database: Vec<DbCounts>,
    /// Its `Total` row (`db_name` holds the number of databases).
    pub total: Option<DbCounts>,
    /// `SHOW FRONTENDS` as the sandbox answers it: up to 3.3 the copied list of production's
    /// frontends, none of them the sandbox; from 3.4 the sandbox alone.
    pub frontends: Vec<BTreeMap<String, String>>,
    /// Why `SHOW FRONTENDS` gave no rows, when it failed.
    pub frontends_error: Option<String>,
}

/// One row of `SHOW PROC '/statistic'`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DbCounts {
    pub db_id: String,
    pub db_name: String,
    pub tables: u64,
    pub partitions: u64,
    pub indexes: u64,
    pub tablets: u64,
    pub replicas: u64,
    pub unhealthy_tablets: u64,
    pub inconsistent_tablets: u64,
    pub cloning_tablets: u64,
    /// Absent before 2.5.4 (StarRocks#19517).
    pub error_state_tablets: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Workspace {
    pub path: Option<String>,
    pub kept: bool,
}

/// Everything a run reports.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    pub tool_version: String,
    pub command: String,
    pub verdict: Verdict,
    pub exit_code: i32,
    /// One line: why the run ended as it did.
    pub summary: String,
    pub started_at: String,
    pub duration_ms: u64,
    pub isolation: Isolation,
    pub source: Source,
    pub target: Target,
    pub ports: Ports,
    pub steps: Vec<Step>,
    pub signatures: Vec<SignatureHit>,
    pub probes: Probes,
    /// The FE rehearsal's catalog, when the SQL check ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog: Option<Catalog>,
    /// The host precheck's findings at preflight (`crate::precheck`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub precheck: Vec<crate::precheck::Finding>,
    pub warnings: Vec<String>,
    pub workspace: Workspace,
    /// The last lines of the node's logs as the run ended (fe.log and fe.out, be.INFO and be.out):
    /// what an operator reads first, kept in the report because the workspace may be removed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log_tail: Vec<LogTail>,
}

/// The last lines of one log file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LogTail {
    pub file: String,
    pub lines: Vec<String>,
}

impl Report {
    pub fn new(command: &str) -> Report {
        Report {
            schema: 1,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            command: command.to_string(),
            verdict: Verdict::Error,
            exit_code: exit::ENVIRONMENT,
            summary: String::new(),
            started_at: crate::timefmt::Civil::now().rfc3339(),
            duration_ms: 0,
            isolation: Isolation::default(),
            source: Source::default(),
            target: Target::default(),
            ports: Ports::default(),
            steps: Vec::new(),
            signatures: Vec::new(),
            probes: Probes::default(),
            catalog: None,
            precheck: Vec::new(),
            warnings: Vec::new(),
            workspace: Workspace::default(),
            log_tail: Vec::new(),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serialises")
    }
}
