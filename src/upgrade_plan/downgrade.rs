//! The way back once the FE phase has begun: the documented downgrade for this cluster, printed
//! by the runbook under "If an FE step fails" and by the playbook when an FE step fails.
//!
//! Swapping one FE's binaries back is not a way back: once a node of the group runs the new
//! release, a leader on it may write journal entries the old release cannot replay (`UNKNOWN
//! Operation Type`, docs administration/Meta_recovery.md). docs/en/deployment/downgrade.md (and
//! manage_deployment/downgrade.md) is the reverse procedure: tablet clone off, fe.conf
//! `ignore_unknown_log_id = true` ("If you downgrade from v2.2 and later versions"), ALTER SYSTEM
//! CREATE IMAGE and the leader's push line, the FEs first (followers, the leader last), "bin, lib,
//! and spark-dpp" of the earlier version, then the BEs and CNs. The steps are written for this
//! cluster's nodes and backups, with the downgrade targets the docs forbid named; they are
//! printed, never run: whether to go back is the operator's call.

use super::paths::forbidden_downgrade;
use super::quote::{q, shell_quote};
use super::{node_arg, tool, Plan, PlanConfig};

/// The lines of the documented downgrade from the target back to `plan.from`.
pub(super) fn downgrade_lines(cfg: &PlanConfig, plan: &Plan) -> Vec<String> {
    let (from, to) = (plan.from, plan.to);
    let t = q(&tool());
    let fe = crate::check::parse_host_port("--fe", &cfg.check.fe)
        .map(|(h, p)| format!("{h}:{p}"))
        .unwrap_or_else(|_| cfg.check.fe.clone());
    let reach = format!(
        "--fe {} --query-port {}",
        shell_quote(&fe),
        cfg.check.query_port
    );
    let mut o = vec![
        format!("Do not put this FE's old bin/ and lib/ back alone: a leader on {to} may already have written journal entries {from} cannot read. Leave the node as it is; to go back to {from}, downgrade as docs/en/deployment/downgrade.md says:"),
        format!("  1. Keep tablet clone and balance off: {t} upgrade-settings apply {reach} --to-version {to} --state {}", q(&super::settings_state(cfg))),
        "  2. In fe.conf of every FE add ignore_unknown_log_id = true (static: it takes effect when each FE restarts below; set it back to false after the first checkpoint on the old release)".into(),
        format!("  3. A new image on every FE: ALTER SYSTEM CREATE IMAGE on the leader, then its fe.log line \"push image.* from subdir [] to other nodes. totally xx nodes, push succeeded xx nodes\": {t} create-image {reach} --leader-log <the leader's FE home>/log/fe.log"),
        format!("  4. The FEs first, the followers and observers, the leader last ({t} check {reach} --node fe@HOST:QUERY_PORT --print role), one at a time: bash bin/stop_fe.sh; move bin lib spark-dpp aside; copy the backup's bin lib (and spark-dpp) back; bash bin/start_fe.sh --daemon; {t} check {reach} --wait {} --node fe@HOST:QUERY_PORT --expect-version {from}:", shell_quote(&humantime::format_duration(cfg.gate_wait).to_string())),
    ];
    let fes = plan.steps.iter().filter(|s| s.node.kind == "fe");
    for s in fes {
        o.push(format!(
            "     {} in {}: the old build in {}",
            node_arg(&s.node),
            q(&s.home),
            q(&s.home.join(&s.backup))
        ));
    }
    o.push(format!("  5. Then the BEs and CNs that run {to}, one at a time: bash bin/stop_be.sh (a CN: bin/stop_cn.sh --graceful); put the old bin/ and lib/ back from the backup in its home (the runbook's sr-rehearse-backup-<version>, the in-place canary's sr-rehearse-backup-<time> named in its journal); keep lib/udf; bash bin/start_be.sh --daemon; gate it with --expect-version {from}"));
    o.push(format!(
        "  6. When every BE is Alive: {t} upgrade-settings restore {reach} --state {}",
        q(&super::settings_state(cfg))
    ));
    if let Some(f) = forbidden_downgrade(from, to) {
        o.push(format!("  downgrade.md forbids it here: {f}"));
    }
    if to.line() == (3, 0) {
        o.push("  From 3.0 to 2.5 (downgrade.md): copy fe/lib/starrocks-bdb-je-18.3.13.jar of the 3.0 package into the 2.5 fe/lib and delete fe/lib/je-7.*.jar; the RBAC privileges stay".into());
    }
    o
}
