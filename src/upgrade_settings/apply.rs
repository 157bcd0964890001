//! `upgrade-settings apply` and `restore`: clone and balancing off on the leader (and the 3.5
//! session setting), the values they replaced kept in the state file; then put back.
//!
//! What ADMIN SET FRONTEND CONFIG does: any FE forwards it to the leader (`RedirectStatus.
//! visitAdminSetConfigStatement` returns `FORWARD_NO_SYNC`), and there (ConfigBase/NodeMgr
//! `setConfig`, 2.5 to main) it sets the item on the leader, then sends a `setConfig` RPC to every
//! other FE not on the same host
//! (the newest releases skip FEs that are not alive), and reports `ERROR_SET_CONFIG_FAILED` naming
//! each FE that failed; nothing is persisted unless `WITH PERSISTENT` (newest releases) is given,
//! which the tool never does: the docs' statements are the plain form. So a statement that
//! errors may still have set the leader, and one that succeeds says nothing about an FE restarted
//! later. The tool therefore reads every value back from the leader (ADMIN SHOW FRONTEND CONFIG
//! there) and judges by that: the leader is where the tablet scheduler runs; a failure to reach
//! another FE is printed as a warning.

use std::path::Path;

use super::keys::{
    self, set_config_sql, set_global_sql, show_config_sql, show_global_sql, ConfigRow, Kind,
    Setting, LOW_CARDINALITY, SETTINGS,
};
use super::leader::{find_leader, Leader, SqlLink};
use super::state::{self, Recorded, State, FORMAT};
use super::{ApplyConfig, SettingsError};
use crate::check::escape;
use crate::output::outln;

/// The leader's row for `setting`, asked under each of its names in turn.
fn lookup(
    sql: &dyn SqlLink,
    l: &Leader,
    names: &[&str],
) -> Result<Option<ConfigRow>, SettingsError> {
    for name in names {
        let rows = sql
            .query(&l.host, l.query_port, &show_config_sql(name))
            .map_err(|e| {
                SettingsError::from_sql(
                    format!(
                        "failed to run ADMIN SHOW FRONTEND CONFIG on the leader {}",
                        l.id()
                    ),
                    &e,
                )
            })?;
        if let Some(mut row) = rows.iter().map(ConfigRow::from_row).find(|r| r.is(name)) {
            // A field renamed again in some later release still answers to the name asked (an
            // alias): that name is the one recorded and set, never a name the tool does not know.
            if !names.contains(&row.key.as_str()) {
                row.key = name.to_string();
            }
            return Ok(Some(row));
        }
    }
    Ok(None)
}

/// The leader's current value of one setting, checked; its printed `Key` is what is set later.
fn current(sql: &dyn SqlLink, l: &Leader, s: &Setting) -> Result<ConfigRow, SettingsError> {
    let row = lookup(sql, l, s.names)?.ok_or_else(|| {
        SettingsError::Failed(format!(
            "the leader {} ({}) knows no FE config item named {}: not a release the upgrade guide's settings apply to",
            l.id(),
            escape(&l.version_text),
            s.names.join(" or ")
        ))
    })?;
    if !keys::valid_value(s.kind, &row.value) {
        return Err(SettingsError::BadInput(format!(
            "the leader {} printed {} = \"{}\" for {}: not a name and value of that item; nothing is set",
            l.id(),
            escape(&row.key),
            escape(&row.value),
            s.names[0]
        )));
    }
    if row.mutable == Some(false) {
        return Err(SettingsError::Failed(format!(
            "the leader {} says {} is not mutable: ADMIN SET FRONTEND CONFIG cannot change it",
            l.id(),
            row.key
        )));
    }
    Ok(row)
}

/// The leader's value of the low-cardinality global variable.
fn current_global(sql: &dyn SqlLink, l: &Leader) -> Result<String, SettingsError> {
    let rows = sql
        .query(&l.host, l.query_port, &show_global_sql())
        .map_err(|e| {
            SettingsError::from_sql(
                format!("failed to read {LOW_CARDINALITY} on {}", l.id()),
                &e,
            )
        })?;
    let v = rows
        .iter()
        .find(|r| r.get("Variable_name").map(String::as_str) == Some(LOW_CARDINALITY))
        .and_then(|r| r.get("Value"))
        .ok_or_else(|| {
            SettingsError::Failed(format!(
                "the leader {} ({}) has no global variable {LOW_CARDINALITY}",
                l.id(),
                escape(&l.version_text)
            ))
        })?;
    if !keys::valid_value(Kind::Bool, v) {
        return Err(SettingsError::BadInput(format!(
            "the leader {} printed {LOW_CARDINALITY} = \"{}\": not a boolean",
            l.id(),
            escape(v)
        )));
    }
    Ok(v.clone())
}

/// Sets `key` to `value` on the leader and reads it back; what the statement said is kept as a
/// warning when the leader holds the value anyway (another FE did not take it).
fn set_and_check(
    sql: &dyn SqlLink,
    l: &Leader,
    key: &str,
    value: &str,
) -> Result<Option<String>, SettingsError> {
    let said = sql
        .query(&l.host, l.query_port, &set_config_sql(key, value))
        .err();
    if let Some(e) = &said {
        // A refused login or privilege, or no answer: the value was not set.
        let err =
            SettingsError::from_sql(format!("failed to set {key} on the leader {}", l.id()), e);
        if !matches!(err, SettingsError::Failed(_)) {
            return Err(err);
        }
    }
    let now = lookup(sql, l, &[key])?.map(|r| r.value).unwrap_or_default();
    if now != value {
        return Err(SettingsError::Failed(format!(
            "the leader {} shows {key} = \"{}\" after ADMIN SET FRONTEND CONFIG (\"{key}\" = \"{value}\"){}",
            l.id(),
            escape(&now),
            said.map(|e| format!(", which answered: {}", crate::check::shown(&e)))
                .unwrap_or_default()
        )));
    }
    Ok(said.map(|e| crate::check::shown(&e)))
}

fn set_global_and_check(sql: &dyn SqlLink, l: &Leader, value: &str) -> Result<(), SettingsError> {
    sql.query(&l.host, l.query_port, &set_global_sql(value))
        .map_err(|e| {
            SettingsError::from_sql(format!("failed to set {LOW_CARDINALITY} on {}", l.id()), &e)
        })?;
    let now = current_global(sql, l)?;
    if now != value {
        return Err(SettingsError::Failed(format!(
            "the leader {} shows {LOW_CARDINALITY} = {now} after SET GLOBAL {LOW_CARDINALITY} = {value}",
            l.id()
        )));
    }
    Ok(())
}

/// A state file of another cluster is refused before anything is read from this one.
fn same_cluster(s: &State, l: &Leader, p: &Path) -> Result<(), SettingsError> {
    if s.cluster_id != l.cluster_id {
        return Err(SettingsError::BadInput(format!(
            "--state {} records cluster {} (leader then {}), but this cluster's id is {}: give this cluster's state file, or a new path",
            escape(&p.display().to_string()),
            s.cluster_id,
            escape(&s.leader),
            l.cluster_id
        )));
    }
    Ok(())
}

/// `upgrade-settings apply`.
pub fn apply(
    sql: &dyn SqlLink,
    host: &str,
    port: u16,
    cfg: &ApplyConfig,
) -> Result<(), SettingsError> {
    let path = cfg.state.as_path();
    state::check_path(path)?;
    let before = state::load(path)?;
    let l = find_leader(sql, host, port)?;
    if let Some(s) = &before {
        same_cluster(s, &l, path)?;
    }
    // Originals of an earlier apply stay the originals until restore has put them back.
    let kept = before.filter(|s| !s.restored);
    outln(&format!(
        "leader {} ({}), cluster {}; target {}",
        l.id(),
        escape(&l.version_text),
        l.cluster_id,
        cfg.to_version
    ));
    let mut plan = Vec::new();
    let mut new = State {
        format: FORMAT.into(),
        cluster_id: l.cluster_id.clone(),
        leader: kept.as_ref().map_or_else(|| l.id(), |s| s.leader.clone()),
        leader_version: kept
            .as_ref()
            .map_or_else(|| l.version_text.clone(), |s| s.leader_version.clone()),
        to_version: cfg.to_version.to_string(),
        restored: false,
        settings: Vec::new(),
        globals: Vec::new(),
    };
    for s in &SETTINGS {
        let row = current(sql, &l, s)?;
        let recorded = kept.as_ref().and_then(|k| k.original_of(s.names)).cloned();
        let original = recorded
            .as_ref()
            .map_or(row.value.clone(), |r| r.original.clone());
        new.settings.push(Recorded {
            key: row.key.clone(),
            original,
            disabled: s.disabled.into(),
        });
        plan.push((s, row, recorded.is_some()));
    }
    let global_kept = kept
        .as_ref()
        .and_then(|k| k.globals.iter().find(|g| g.key == LOW_CARDINALITY))
        .cloned();
    let global = if keys::low_cardinality_off_needed(cfg.to_version, l.lowest_fe_version)
        || global_kept.is_some()
    {
        let now = current_global(sql, &l)?;
        let original = global_kept
            .as_ref()
            .map_or(now.clone(), |g| g.original.clone());
        new.globals.push(Recorded {
            key: LOW_CARDINALITY.into(),
            original,
            disabled: "false".into(),
        });
        Some((now, global_kept.is_some()))
    } else {
        None
    };
    // Recorded before anything changes: an apply stopped half-way still leaves the originals.
    state::save(path, &new)?;
    let file = escape(&path.display().to_string());
    for ((s, row, was_kept), rec) in plan.into_iter().zip(&new.settings) {
        let whence = if was_kept { "kept from" } else { "recorded in" };
        if row.value == s.disabled {
            outln(&format!(
                "{}: already {} on the leader; original {} {whence} {file}",
                row.key, s.disabled, rec.original
            ));
            if !was_kept {
                // Off before this state file existed: an operator's choice, or an apply whose
                // state file was lost. Restore would leave it off; say so while it can be fixed.
                outln(&format!(
                    "  warning: {} was already {} with no original recorded, so restore will leave it {}; if an earlier apply set it, give that apply's state file instead",
                    row.key, s.disabled, s.disabled
                ));
            }
            continue;
        }
        let warning = set_and_check(sql, &l, &row.key, s.disabled)?;
        outln(&format!(
            "{}: {} -> {} on the leader {}; original {} {whence} {file}",
            row.key,
            row.value,
            s.disabled,
            l.id(),
            rec.original
        ));
        if let Some(w) = warning {
            outln(&format!("  warning: the statement answered: {w} (the leader holds the value; an FE that did not take it gets it when this is run after its restart)"));
        }
    }
    if let (Some((now, was_kept)), Some(rec)) = (global, new.globals.first()) {
        let whence = if was_kept { "kept from" } else { "recorded in" };
        if now == "false" {
            outln(&format!(
                "{LOW_CARDINALITY}: already false (global); original {} {whence} {file}",
                rec.original
            ));
        } else {
            set_global_and_check(sql, &l, "false")?;
            outln(&format!(
                "{LOW_CARDINALITY}: {now} -> false (SET GLOBAL, release notes 3.5: upgrades from below 3.4.10); original {} {whence} {file}",
                rec.original
            ));
        }
    }
    Ok(())
}

/// `upgrade-settings restore`.
pub fn restore(sql: &dyn SqlLink, host: &str, port: u16, path: &Path) -> Result<(), SettingsError> {
    state::check_path(path)?;
    let mut st = state::load(path)?.ok_or_else(|| {
        SettingsError::BadInput(format!(
            "--state {}: no such file, so no originals to put back; `upgrade-settings apply` writes it",
            escape(&path.display().to_string())
        ))
    })?;
    let l = find_leader(sql, host, port)?;
    same_cluster(&st, &l, path)?;
    outln(&format!(
        "leader {} ({}), cluster {}",
        l.id(),
        escape(&l.version_text),
        l.cluster_id
    ));
    let then = st.leader_version.parse::<crate::version::Version>().ok();
    if then.is_some_and(|v| v.line() != l.version.line()) {
        outln(&format!(
            "note: the originals were read on {}, the leader runs {}: the values put back are the ones {} had; an FE restarted later takes its fe.conf value or this release's default",
            escape(&st.leader_version),
            escape(&l.version_text),
            escape(&st.leader_version)
        ));
    }
    for rec in &st.settings {
        // The recorded name first, then the item's other names (the leader may run a release
        // that names it differently from the one the originals were read on).
        let set = keys::setting_of(&rec.key).expect("validated when loaded");
        let mut names = vec![rec.key.as_str()];
        names.extend(set.names.iter().filter(|n| **n != rec.key));
        let now = lookup(sql, &l, &names)?.ok_or_else(|| {
            SettingsError::Failed(format!(
                "the leader {} ({}) knows no FE config item {}, recorded in the state file",
                l.id(),
                escape(&l.version_text),
                rec.key
            ))
        })?;
        if now.value == rec.original {
            outln(&format!(
                "{}: already {} (the original)",
                now.key, rec.original
            ));
            continue;
        }
        let warning = set_and_check(sql, &l, &now.key, &rec.original)?;
        outln(&format!(
            "{}: {} -> {} on the leader {} (restored)",
            now.key,
            escape(&now.value),
            rec.original,
            l.id()
        ));
        if let Some(w) = warning {
            outln(&format!("  warning: the statement answered: {w}"));
        }
    }
    for rec in &st.globals {
        let now = current_global(sql, &l)?;
        if now == rec.original {
            outln(&format!(
                "{LOW_CARDINALITY}: already {} (the original)",
                rec.original
            ));
            continue;
        }
        set_global_and_check(sql, &l, &rec.original)?;
        outln(&format!(
            "{LOW_CARDINALITY}: {now} -> {} (restored, global)",
            rec.original
        ));
    }
    st.restored = true;
    state::save(path, &st)?;
    outln(&format!(
        "restored; {} marks them so: the next apply records the values then in force",
        escape(&path.display().to_string())
    ));
    Ok(())
}
