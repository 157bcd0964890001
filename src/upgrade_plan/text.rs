//! The plan as a text runbook: the documented procedure with the exact commands to type, one
//! numbered step per node.
//!
//! The runbook is meant to be pasted into a shell on the host each step names, so every value
//! placed in a command is shell-quoted: paths given by the user, the FE addresses the cluster
//! reported, the tool's own path. A value with control characters (or a path that is not UTF-8)
//! is written in bash's `$'...'` form, so a newline in it cannot end the command where it is
//! pasted. The steps and their sources: docs/en/deployment/upgrade.md and
//! manage_deployment/upgrade.md (compatibility configuration, "Upgrade BE/CN/FE", the CREATE
//! IMAGE caution), the 3.5 release notes (prerequisites), downgrade.md (the way back).

use super::downgrade::downgrade_lines;
use super::quote::{q, shell_quote};
use super::{node_arg, settings_state, tool, Plan, PlanConfig, PlanStep};

/// `HOST:PORT` of a gate as one shell word.
fn addr(host: &str, port: u16) -> String {
    shell_quote(&format!("{host}:{port}"))
}

/// `--fe HOST:HTTP_PORT --query-port N` (and the account, when not the default) as shell words.
fn reach(cfg: &PlanConfig, host: &str, http: u16, query: u16) -> String {
    let mut o = format!("--fe {} --query-port {query}", addr(host, http));
    if cfg.check.user != "root" {
        o.push_str(&format!(" --user {}", shell_quote(&cfg.check.user)));
    }
    if let Some(v) = &cfg.check.password_env {
        o.push_str(&format!(" --password-env {}", shell_quote(v)));
    }
    o
}

/// The FE the runbook's cluster-wide commands ask: the one `--fe` named.
fn reach_given(cfg: &PlanConfig) -> String {
    match crate::check::parse_host_port("--fe", &cfg.check.fe) {
        Ok((h, p)) => reach(cfg, &h, p, cfg.check.query_port),
        Err(_) => reach(cfg, &cfg.check.fe, 0, cfg.check.query_port),
    }
}

fn dur(d: std::time::Duration) -> String {
    shell_quote(&humantime::format_duration(d).to_string())
}

/// The commands of one node's step, after its header line.
fn node_step(cfg: &PlanConfig, plan: &Plan, s: &PlanStep, o: &mut String) {
    let n = &s.node;
    let t = q(&tool());
    let id = shell_quote(&node_arg(n));
    let gate = reach(cfg, &s.gate.0, s.gate.1, s.gate.2);
    let b = shell_quote(&s.backup);
    let (new, stop, start) = match n.kind.as_str() {
        "fe" => (&cfg.new_fe, "bin/stop_fe.sh", "bin/start_fe.sh --daemon"),
        // A CN runs from the be/ package with its own scripts; the docs stop it gracefully
        // (SIGTERM: running queries drain) where stop_cn.sh alone kills it.
        "cn" => (
            &cfg.new_be,
            "bin/stop_cn.sh --graceful",
            "bin/start_cn.sh --daemon",
        ),
        _ => (&cfg.new_be, "bin/stop_be.sh", "bin/start_be.sh --daemon"),
    };
    o.push_str(&format!("   on host {}:\n", crate::check::escape(&n.host)));
    if n.kind == "fe" {
        o.push_str(&format!(
            "   {t} check {gate} --node {id} --print role   # LEADER while other FEs are not on {}: do those first, this one last\n",
            plan.to
        ));
    }
    o.push_str(&format!("   cd {}\n", q(&s.home)));
    // The gate proves this node restarted: its start time must move past the one read now.
    o.push_str(&format!(
        "   started=$({t} check {gate} --node {id} --print start-time)\n"
    ));
    o.push_str(&format!("   bash {stop}\n"));
    o.push_str(&format!("   mkdir {b} && mv bin lib {b}/\n"));
    // "Replace the original deployment files under bin, lib, and spark-dpp" (FE), when the new
    // package has spark-dpp/; an old node without one has nothing to move.
    let dpp = n.kind == "fe" && cfg.new_fe.join("spark-dpp").is_dir();
    if dpp {
        o.push_str(&format!("   [ ! -e spark-dpp ] || mv spark-dpp {b}/\n"));
        o.push_str(&format!(
            "   cp -a {}/bin {}/lib {}/spark-dpp .\n",
            q(new),
            q(new),
            q(new)
        ));
    } else {
        o.push_str(&format!("   cp -a {}/bin {}/lib .\n", q(new), q(new)));
    }
    if n.kind != "fe" {
        // "If a custom function (UDF) was used in the old version, you need to copy the old
        // version's UDF directory to the new lib directory" (manage_deployment/upgrade.md).
        o.push_str(&format!(
            "   [ ! -d {b}/lib/udf ] || cp -r {b}/lib/udf lib/\n"
        ));
    }
    o.push_str(&format!("   bash {start}\n"));
    o.push_str(&format!(
        "   {t} check {gate} --wait {} --node {id} --expect-version {} --started-after \"$started\" --stable-for {}\n",
        dur(cfg.gate_wait),
        shell_quote(&plan.to.to_string()),
        dur(cfg.stable_for)
    ));
    if n.kind == "fe" {
        // ADMIN SET FRONTEND CONFIG is not persisted: "restored to the default values in the
        // fe.conf file after the FE restarts" (docs ADMIN_SET_CONFIG).
        o.push_str(&format!(
            "   {t} upgrade-settings apply {gate} --to-version {} --state {}   # lost at an FE restart\n",
            shell_quote(&plan.to.to_string()),
            q(&settings_state(cfg))
        ));
        o.push_str("   if the gate fails: leave this FE as it is and see \"If an FE step fails\" above; the upgrade stops here\n");
        return;
    }
    if n.kind == "be" {
        o.push_str(&format!(
            "   (or all of the above but the gate, with a journal and automatic rollback: {t} be --be-home {} --new-be {} --in-place --fe {} --soak {})\n",
            q(&s.home),
            q(new),
            addr(&s.gate.0, s.gate.2),
            dur(cfg.soak)
        ));
    }
    // The FEs still run the old release while BEs and CNs are upgraded: putting this node's old
    // build back is the documented order of a downgrade (FEs first, then BEs), so it is safe.
    o.push_str(&format!(
        "   if the gate fails: bash {stop}; rm -rf bin lib && mv {b}/bin {b}/lib . && bash {start}; then {t} upgrade-settings restore {} --state {} and stop the upgrade\n",
        reach_given(cfg),
        q(&settings_state(cfg))
    ));
}

/// The runbook as text: what holds before the first node, one numbered step per node, and what
/// comes after the last.
pub fn render_text(cfg: &PlanConfig, plan: &Plan) -> String {
    let t = q(&tool());
    let to = shell_quote(&plan.to.to_string());
    let state = q(&settings_state(cfg));
    let given = reach_given(cfg);
    let mut o = format!(
        "sr-rehearse upgrade-plan: {} -> {} ({} nodes: BEs one at a time, then FE observers and followers, the leader last)\n",
        plan.from,
        plan.to,
        plan.steps.len()
    );
    for f in &plan.forced {
        o.push_str(&format!("FORCED (--force): {f}\n"));
    }
    for q in &plan.quorum_loss {
        o.push_str(&format!("QUORUM LOST (--allow-quorum-loss): {q}\n"));
    }
    for w in &plan.warnings {
        o.push_str(&format!("warning: {w}\n"));
    }
    for p in &plan.prerequisites {
        o.push_str(&format!("prerequisite: {p}\n"));
    }
    if plan.patch_only {
        o.push_str("note: a patch upgrade within one minor version; the guide allows replacing only lib/starrocks_be and lib/starrocks-fe.jar, the commands below replace bin/ and lib/, which is always safe\n");
    }

    // Before you begin: every host checked against the release notes in between, then "you
    // must disable tablet clone" (upgrade.md, Universal compatibility configuration).
    o.push_str(
        "\nBefore the first node: check every host, then turn tablet clone and balance off\n",
    );
    for s in &plan.steps {
        o.push_str(&format!(
            "   on host {} ({}): {t} precheck --role {} --from-version {} --to-version {to} --home {}\n",
            crate::check::escape(&s.node.host),
            node_arg(&s.node),
            s.node.kind,
            shell_quote(&plan.from.to_string()),
            q(&s.home)
        ));
    }
    o.push_str(&format!(
        "   {t} upgrade-settings apply {given} --to-version {to} --state {state}\n"
    ));

    let mut image_done = false;
    for (i, s) in plan.steps.iter().enumerate() {
        let n = &s.node;
        if n.kind == "fe" && !image_done {
            image_done = true;
            fe_phase_intro(cfg, plan, &mut o);
        }
        let what = match (n.kind.as_str(), n.role.as_str()) {
            ("fe", r) => format!("FE {}", crate::check::escape(r)),
            (k, _) => k.to_uppercase(),
        };
        // The cluster's values were checked (check::values) before a plan was made; they are
        // escaped here all the same, as everything printed from a server is.
        let head = format!(
            "\n{}. {what} {} (home {}, now {})",
            i + 1,
            n.id().split_once(' ').map_or("", |(_, a)| a),
            q(&s.home),
            crate::check::escape(&n.version)
        );
        if s.on_target {
            o.push_str(&format!("{head}: already on {}: skipped\n", plan.to));
            continue;
        }
        o.push_str(&format!("{head}\n"));
        node_step(cfg, plan, s, &mut o);
    }

    // "After the upgrade, and the status of all BE nodes is Alive, you can re-enable tablet
    // clone", to the values read before; then every node must run the target.
    o.push_str(
        "\nAfter the last node: tablet clone and balance back, and every node on the target\n",
    );
    o.push_str(&format!(
        "   {t} upgrade-settings restore {given} --state {state}\n"
    ));
    o.push_str(&format!(
        "   {t} check {given} --wait {} --expect-version {to}\n",
        dur(cfg.gate_wait)
    ));
    o
}

/// Before the first FE: a new image pushed to every FE, and what to do if an FE step fails.
fn fe_phase_intro(cfg: &PlanConfig, plan: &Plan, o: &mut String) {
    let t = q(&tool());
    // upgrade.md, CAUTION: between consecutive upgrades (and after a downgrade) "Run ALTER
    // SYSTEM CREATE IMAGE to create a new image" and wait for the leader's push line. Whether
    // this cluster was upgraded a moment ago cannot be seen from here, and an image costs one
    // checkpoint: it is always made. Before 2.5.3 the statement does not exist (downgrade.md:
    // "In earlier versions, you need to create a metadata snapshot by restarting the Leader FE").
    o.push_str("\nBefore the FE phase: a new image on every FE (upgrade.md: between consecutive upgrades)\n");
    if plan.from < crate::version::Version::new(2, 5, 3) {
        o.push_str("   ALTER SYSTEM CREATE IMAGE needs 2.5.3: restart the leader FE instead, and look for \"push image.* ... push succeeded\" in its fe.log\n");
    } else {
        for s in plan.steps.iter().filter(|s| s.node.kind == "fe") {
            o.push_str(&format!(
                "   on host {} (only the FE that is LEADER now acts): {t} create-image {} --node {} --leader-log {}\n",
                crate::check::escape(&s.node.host),
                reach(cfg, &s.gate.0, s.gate.1, s.gate.2),
                shell_quote(&node_arg(&s.node)),
                q(&s.home.join("log/fe.log"))
            ));
        }
    }
    o.push_str("If an FE step fails:\n");
    for l in downgrade_lines(cfg, plan) {
        o.push_str(&format!("   {l}\n"));
    }
}
