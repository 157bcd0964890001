//! The state file: the values the cluster had before `upgrade-settings apply` changed them.
//!
//! ADMIN SET FRONTEND CONFIG lives in the FE's memory and is gone when it restarts, so `apply` runs
//! again after every FE restart of the upgrade, when the leader already shows the disabled values:
//! reading "the originals" then would record 0 and true and make `restore` a no-op. The file
//! therefore keeps the first originals of a cluster until `restore` has put them back, and it is
//! tied to the cluster (its ClusterId from SHOW FRONTENDS), so a file of another cluster is never
//! restored onto this one. It is written as report files are (`report::file`: a new file renamed
//! over the name, never through a link), and read only when it is a regular file, not a link, and
//! small; every recorded key and value is checked again before it goes into a statement, because
//! the file is outside the tool's control between two runs.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::keys::{setting_of, valid_value, Kind, LOW_CARDINALITY};
use super::SettingsError;
use crate::check::escape;

/// The `format` a state file of this tool carries.
pub const FORMAT: &str = "sr-rehearse upgrade-settings 1";
/// Larger than any state file the tool writes (a few hundred bytes).
const MAX_BYTES: u64 = 64 << 10;

/// One setting: its name as the leader printed it, the value it had, the value set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub key: String,
    pub original: String,
    pub disabled: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub format: String,
    /// ClusterId of the leader's SHOW FRONTENDS row.
    pub cluster_id: String,
    /// The leader when the originals were read (`fe@HOST:QUERY_PORT`) and its version.
    pub leader: String,
    pub leader_version: String,
    pub to_version: String,
    /// Set by `restore`: the originals are back, and the next `apply` reads fresh ones.
    pub restored: bool,
    pub settings: Vec<Recorded>,
    /// Global variables (the 3.5 rule's `cbo_enable_low_cardinality_optimize`).
    pub globals: Vec<Recorded>,
}

impl State {
    #[cfg(test)]
    pub fn original(&self, key: &str) -> Option<&Recorded> {
        self.settings.iter().find(|r| r.key == key)
    }

    /// The record of an item under any of its names: a leader restarted on a release that names
    /// it differently (2.5's `max_scheduling_tablets`, 3.x's `tablet_sched_max_scheduling_tablets`)
    /// still finds the original recorded before.
    pub fn original_of(&self, names: &[&str]) -> Option<&Recorded> {
        self.settings
            .iter()
            .find(|r| names.contains(&r.key.as_str()))
    }
}

fn shown(p: &Path) -> String {
    escape(&p.display().to_string())
}

/// Checks `--state` before the cluster is asked anything: not a link, not a FIFO or device, in a
/// folder that exists and can be written (the file itself may not exist yet).
pub fn check_path(p: &Path) -> Result<(), SettingsError> {
    crate::report::file::Guarded::default()
        .check("--state", p)
        .map_err(|e| SettingsError::BadInput(e.to_string()))
}

/// The state file at `p`, `None` when there is none yet.
pub fn load(p: &Path) -> Result<Option<State>, SettingsError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(p)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(SettingsError::BadInput(format!(
                "failed to read --state {}: {e} (a link is never followed)",
                shown(p)
            )))
        }
    };
    let meta = f.metadata().map_err(|e| {
        SettingsError::Unreachable(format!("failed to read --state {}: {e}", shown(p)))
    })?;
    if !meta.is_file() || meta.len() > MAX_BYTES {
        return Err(SettingsError::BadInput(format!(
            "--state {} is not a state file sr-rehearse wrote (not a regular file of at most {MAX_BYTES} bytes)",
            shown(p)
        )));
    }
    let mut text = String::new();
    f.by_ref()
        .take(MAX_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| {
            SettingsError::BadInput(format!("failed to read --state {}: {e}", shown(p)))
        })?;
    let state: State = serde_json::from_str(&text).map_err(|e| {
        SettingsError::BadInput(format!(
            "--state {} is not a state file sr-rehearse wrote ({e})",
            shown(p)
        ))
    })?;
    if let Some(why) = invalid(&state) {
        return Err(SettingsError::BadInput(format!(
            "--state {} holds {why}; it is not used (a state file is only what sr-rehearse wrote)",
            shown(p)
        )));
    }
    Ok(Some(state))
}

/// What in `s` is not what the tool writes (an unknown key, a value not of its kind), if anything:
/// these go back into statements.
fn invalid(s: &State) -> Option<String> {
    if s.format != FORMAT {
        return Some(format!(
            "the format \"{}\", not \"{FORMAT}\"",
            escape(&s.format)
        ));
    }
    if s.cluster_id.is_empty() || !s.cluster_id.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!("the cluster id \"{}\"", escape(&s.cluster_id)));
    }
    for r in &s.settings {
        let Some(set) = setting_of(&r.key) else {
            return Some(format!("the unknown setting \"{}\"", escape(&r.key)));
        };
        for v in [&r.original, &r.disabled] {
            if !valid_value(set.kind, v) {
                return Some(format!("the value \"{}\" for {}", escape(v), r.key));
            }
        }
    }
    for r in &s.globals {
        if r.key != LOW_CARDINALITY {
            return Some(format!("the unknown variable \"{}\"", escape(&r.key)));
        }
        for v in [&r.original, &r.disabled] {
            if !valid_value(Kind::Bool, v) {
                return Some(format!("the value \"{}\" for {}", escape(v), r.key));
            }
        }
    }
    None
}

/// Writes `s` to `p` as a new file (never through a link; an existing file is replaced whole).
pub fn save(p: &Path, s: &State) -> Result<(), SettingsError> {
    let mut text = serde_json::to_string_pretty(s).expect("a state serialises");
    text.push('\n');
    crate::report::file::Guarded::default()
        .write(p, text.as_bytes())
        .map_err(|e| {
            SettingsError::Unreachable(format!("failed to write --state {}: {e}", shown(p)))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> State {
        State {
            format: FORMAT.into(),
            cluster_id: "1361216597".into(),
            leader: "fe@10.0.0.1:9030".into(),
            leader_version: "3.3.5-553732d".into(),
            to_version: "3.4.1".into(),
            restored: false,
            settings: vec![Recorded {
                key: "tablet_sched_max_scheduling_tablets".into(),
                original: "10000".into(),
                disabled: "0".into(),
            }],
            globals: Vec::new(),
        }
    }

    #[test]
    fn a_state_round_trips_and_a_link_is_never_read_or_written() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("state.json");
        assert_eq!(load(&p).unwrap(), None);
        save(&p, &sample()).unwrap();
        assert_eq!(load(&p).unwrap(), Some(sample()));
        let link = d.path().join("link.json");
        std::os::unix::fs::symlink(&p, &link).unwrap();
        assert!(matches!(load(&link), Err(SettingsError::BadInput(_))));
        assert!(matches!(check_path(&link), Err(SettingsError::BadInput(_))));
    }

    #[test]
    fn an_edited_value_is_not_put_into_a_statement() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("state.json");
        let mut s = sample();
        s.settings[0].original = "1\"); ADMIN SET FRONTEND CONFIG (\"x\" = \"1".into();
        save(&p, &s).unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("is not used"), "{e}");
        let mut s = sample();
        s.settings[0].key = "enable_auth_check".into();
        save(&p, &s).unwrap();
        assert!(load(&p)
            .unwrap_err()
            .to_string()
            .contains("unknown setting"));
        std::fs::write(&p, "not json").unwrap();
        assert!(matches!(load(&p), Err(SettingsError::BadInput(_))));
    }
}
