//! The command line of `upgrade-plan`: its clap options, turned into the plan's config
//! (src/cli.rs names the command; its options live here beside what they configure).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::check::cli::ClusterArgs;
use crate::version::Version;

#[derive(Args, Debug, Clone)]
pub struct PlanArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// The unpacked new release's be/ folder.
    #[arg(long, value_name = "DIR", help_heading = "Target")]
    pub new_be: PathBuf,
    /// The unpacked new release's fe/ folder.
    #[arg(long, value_name = "DIR", help_heading = "Target")]
    pub new_fe: PathBuf,
    /// The JSON report of a passing `sr-rehearse fe` for this target.
    #[arg(long, value_name = "FILE", help_heading = "Target")]
    pub rehearsal_report: Option<PathBuf>,
    /// The JSON report of a passing `sr-rehearse be` canary for this target.
    #[arg(long, value_name = "FILE", help_heading = "Target")]
    pub canary_report: Option<PathBuf>,
    /// The target version (by default the one the reports tested).
    #[arg(long, value_name = "VERSION", help_heading = "Target")]
    pub to_version: Option<Version>,
    /// Plan even when a refusal applies; the plan says which.
    #[arg(long, help_heading = "Plan")]
    pub force: bool,
    /// A runbook on stdout, or Ansible files written into --out.
    #[arg(long, value_enum, value_name = "FORMAT", help_heading = "Plan", default_value_t = crate::upgrade_plan::PlanFormat::Text)]
    pub format: crate::upgrade_plan::PlanFormat,
    /// Where --format ansible writes inventory.yml, playbook.yml and fe-node.yml.
    #[arg(
        long,
        value_name = "DIR",
        help_heading = "Plan",
        required_if_eq("format", "ansible")
    )]
    pub out: Option<PathBuf>,
    /// The FE home on every host.
    #[arg(
        long,
        value_name = "DIR",
        help_heading = "Hosts",
        default_value = "/opt/starrocks/fe"
    )]
    pub fe_home: PathBuf,
    /// The BE home on every host.
    #[arg(
        long,
        value_name = "DIR",
        help_heading = "Hosts",
        default_value = "/opt/starrocks/be"
    )]
    pub be_home: PathBuf,
    /// One node's home: fe@HOST:QUERY_PORT=DIR or be@HOST:HEARTBEAT_PORT=DIR (repeatable).
    #[arg(long = "node-home", value_name = "ENTRY", help_heading = "Hosts", value_parser = crate::upgrade_plan::parse_node_home)]
    pub node_home: Vec<(String, PathBuf)>,
    /// JAVA_HOME for the FE start script, when the hosts do not set it.
    #[arg(long, value_name = "DIR", help_heading = "Hosts")]
    pub java_home: Option<PathBuf>,
    /// How long each gate waits for the cluster to be healthy.
    #[arg(long, value_name = "DURATION", help_heading = "Plan", default_value = "10m", value_parser = humantime::parse_duration)]
    pub gate_wait: Duration,
    /// How long each node's gate watches the restarted node stay Alive with its heartbeat moving
    /// (check --stable-for): longer than heartbeat_retry_times x the heartbeat interval.
    #[arg(long, value_name = "DURATION", help_heading = "Plan", default_value = "20s", value_parser = humantime::parse_duration)]
    pub stable_for: Duration,
    /// How long each new BE must stay healthy.
    #[arg(long, value_name = "DURATION", help_heading = "Plan", default_value = "30s", value_parser = humantime::parse_duration)]
    pub soak: Duration,
    /// Plan FE restarts that leave fewer than a majority of the FOLLOWER-role FEs alive (the
    /// cluster then takes no metadata changes while that FE restarts).
    #[arg(long, help_heading = "Plan")]
    pub allow_quorum_loss: bool,
    /// How the playbook reaches the hosts: Ansible's default (SSH to each node's address), or
    /// `local` for a lab whose nodes all run on the machine that runs ansible-playbook.
    #[arg(long, value_enum, value_name = "HOW", help_heading = "Hosts", default_value_t = crate::upgrade_plan::Connection::Default)]
    pub connection: crate::upgrade_plan::Connection,
    /// Where `upgrade-settings apply` records the settings it changes [default:
    /// upgrade-settings.json beside the playbook, or in the current folder].
    #[arg(long, value_name = "FILE", help_heading = "Plan")]
    pub settings_state: Option<PathBuf>,
}

impl PlanArgs {
    pub fn to_config(&self) -> crate::upgrade_plan::PlanConfig {
        // The runbook and playbook run elsewhere: every path in them is absolute.
        let abs = |p: &PathBuf| std::path::absolute(p).unwrap_or_else(|_| p.clone());
        crate::upgrade_plan::PlanConfig {
            check: self.cluster.to_config(),
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
            stable_for: self.stable_for,
            soak: self.soak,
            allow_quorum_loss: self.allow_quorum_loss,
            connection: self.connection,
            settings_state: self.settings_state.as_ref().map(abs),
        }
    }
}
