//! Global variables (`SET GLOBAL`), persisted as StarRocks persists them: the leader writes the
//! change to its journal (`VariableMgr`, an edit log entry), every follower replays it, and a
//! restart keeps it. The simulator keeps them in `sim-global-variables.json` in each FE's meta
//! folder: the leader writes its own, a follower copies the leader's while it follows.
//!
//! Only the variables an upgrade touches are known; `cbo_enable_low_cardinality_optimize` is the
//! one the 3.5 release notes ask to turn off during a rolling upgrade from before 3.4.10.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// `(name, type, default)` of the known global variables (`SessionVariable`).
const KNOWN: &[(&str, &str, &str)] = &[("cbo_enable_low_cardinality_optimize", "boolean", "true")];

pub const GLOBALS_FILE: &str = "sim-global-variables.json";

/// This FE's global variables, as replayed.
pub struct GlobalVars {
    path: Option<PathBuf>,
    values: Mutex<BTreeMap<String, String>>,
}

impl GlobalVars {
    /// The variables kept in `meta_dir` (the defaults where none was set).
    pub fn load(meta_dir: Option<&Path>) -> GlobalVars {
        let path = meta_dir.map(|m| m.join(GLOBALS_FILE));
        let values = path
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        GlobalVars {
            path,
            values: Mutex::new(values),
        }
    }

    /// Whether StarRocks has this variable (by the simulator's short list).
    pub fn known(name: &str) -> bool {
        KNOWN.iter().any(|(n, _, _)| n.eq_ignore_ascii_case(name))
    }

    pub fn get(&self, name: &str) -> Option<String> {
        let (n, _, default) = KNOWN
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(name))?;
        Some(
            self.values
                .lock()
                .unwrap()
                .get(*n)
                .cloned()
                .unwrap_or_else(|| default.to_string()),
        )
    }

    /// Sets a known variable and persists every value; None for an unknown one.
    pub fn set(&self, name: &str, value: &str) -> Option<()> {
        let (n, ty, _) = KNOWN
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(name))?;
        let v = match *ty {
            "boolean" => match value.to_ascii_lowercase().as_str() {
                "1" | "true" | "on" => "true".to_string(),
                _ => "false".to_string(),
            },
            _ => value.to_string(),
        };
        let mut vals = self.values.lock().unwrap();
        vals.insert(n.to_string(), v);
        self.persist(&vals);
        Some(())
    }

    /// Every value set, as the journal carries them to the followers.
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        self.values.lock().unwrap().clone()
    }

    /// A follower's replay of the leader's values.
    pub fn replace_all(&self, new: BTreeMap<String, String>) {
        let mut vals = self.values.lock().unwrap();
        if *vals != new {
            *vals = new;
            self.persist(&vals);
        }
    }

    fn persist(&self, vals: &BTreeMap<String, String>) {
        if let Some(p) = &self.path {
            let _ = std::fs::write(p, serde_json::to_string(vals).unwrap_or_default());
        }
    }

    /// The rows of `SHOW [GLOBAL] VARIABLES [LIKE p]` for the known variables.
    pub fn rows(&self, pattern: Option<&str>) -> Vec<Vec<String>> {
        KNOWN
            .iter()
            .filter(|(n, _, _)| pattern.is_none_or(|p| crate::frontend_config::like(p, n)))
            .map(|(n, _, _)| vec![n.to_string(), self.get(n).unwrap_or_default()])
            .collect()
    }
}
