//! The FE's configuration as `ConfigBase` holds it at run time: fe.conf over the defaults at
//! start, `ADMIN SET FRONTEND CONFIG` changing a mutable key in memory only (so a restart goes back
//! to fe.conf), and `ADMIN SHOW FRONTEND CONFIG [LIKE]` printing it.
//!
//! The heartbeats read `heartbeat_retry_times` and the leader's clone repair reads
//! `tablet_sched_max_scheduling_tablets` from here on every round, which is why a change made by
//! SQL takes effect at once, as it does in StarRocks.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::release::Behaviour as _;
use starrocks_common::version::Version;

/// One `@ConfField` of `Config.java` the simulator knows.
struct ConfKey {
    name: &'static str,
    aliases: &'static [&'static str],
    /// `f.getType().getSimpleName()`.
    ty: &'static str,
    default: &'static str,
    mutable: bool,
}

/// The keys an upgrade touches, with the names and aliases of the 3.x `Config.java` (the
/// `tablet_sched_` names carry the old ones as aliases, so both are accepted and `LIKE` matches
/// either). `tablet_sched_repair_delay_factor_second` is StarRocks's 60 s default; the simulated
/// clusters write a short value into fe.conf (see `make-cluster`).
const KEYS: &[ConfKey] = &[
    ConfKey {
        name: "heartbeat_timeout_second",
        aliases: &[],
        ty: "int",
        default: "5",
        mutable: true,
    },
    ConfKey {
        name: "heartbeat_retry_times",
        aliases: &[],
        ty: "int",
        default: "3",
        mutable: true,
    },
    ConfKey {
        name: "run_mode",
        aliases: &[],
        ty: "String",
        default: "shared_nothing",
        mutable: false,
    },
    ConfKey {
        name: "tablet_sched_max_scheduling_tablets",
        aliases: &["max_scheduling_tablets"],
        ty: "int",
        default: "10000",
        mutable: true,
    },
    ConfKey {
        name: "tablet_sched_max_balancing_tablets",
        aliases: &["max_balancing_tablets"],
        ty: "int",
        default: "500",
        mutable: true,
    },
    ConfKey {
        name: "tablet_sched_disable_balance",
        aliases: &["disable_balance"],
        ty: "boolean",
        default: "false",
        mutable: true,
    },
    ConfKey {
        name: "tablet_sched_disable_colocate_balance",
        aliases: &["disable_colocate_balance"],
        ty: "boolean",
        default: "false",
        mutable: true,
    },
    ConfKey {
        name: "tablet_sched_repair_delay_factor_second",
        aliases: &["tablet_repair_delay_factor_second"],
        ty: "long",
        default: "60",
        mutable: true,
    },
];

/// First release line whose ADMIN SHOW FRONTEND CONFIG has the `AliasNames` column (the 2.x
/// `AdminShowConfigStmt` prints Key, Value, Type, IsMutable, Comment; the exact release that added
/// it was not pinned, see docs/conformance.md).
const ALIAS_COLUMN: Version = Version::new(3, 0, 0);

fn key(name: &str) -> Option<&'static ConfKey> {
    KEYS.iter()
        .find(|k| k.name == name || k.aliases.contains(&name))
}

/// Whether release `v` has the key (`run_mode` came with shared-data in 3.0).
fn has_key(v: Version, k: &ConfKey) -> bool {
    k.name != "run_mode" || v.has_run_mode()
}

/// Why `ADMIN SET FRONTEND CONFIG` refused a key or value (`ConfigBase.setMutableConfig`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetConfigError {
    #[error("Config '{0}' does not exist or is not mutable")]
    NotMutable(String),
    #[error("Failed to set config '{key}'. err: For input string: \"{value}\"")]
    BadValue { key: String, value: String },
}

/// The running FE's configuration.
pub struct FeConfig {
    version: Version,
    values: Mutex<BTreeMap<&'static str, String>>,
}

impl FeConfig {
    /// fe.conf over the defaults, as `Config.init` leaves it (a key may be given by an alias).
    pub fn from_conf<'a>(
        conf: impl IntoIterator<Item = (&'a String, &'a String)>,
        version: Version,
    ) -> FeConfig {
        let mut values: BTreeMap<&'static str, String> = KEYS
            .iter()
            .map(|k| (k.name, k.default.to_string()))
            .collect();
        for (k, v) in conf {
            if let Some(known) = key(k) {
                values.insert(known.name, v.trim().to_string());
            }
        }
        FeConfig {
            version,
            values: Mutex::new(values),
        }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        let k = key(name)?;
        self.values.lock().unwrap().get(k.name).cloned()
    }

    /// An integer key, or `default` when it is unknown or not a number.
    pub fn int(&self, name: &str, default: i64) -> i64 {
        self.get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    /// `ConfigBase.setMutableConfig`: only a mutable key, by its name or an alias, with a value of
    /// its type.
    pub fn set(&self, name: &str, value: &str) -> Result<(), SetConfigError> {
        let k = key(name)
            .filter(|k| k.mutable && has_key(self.version, k))
            .ok_or_else(|| SetConfigError::NotMutable(name.to_string()))?;
        let ok = match k.ty {
            "int" => value.parse::<i32>().is_ok(),
            "long" => value.parse::<i64>().is_ok(),
            // Boolean.parseBoolean takes anything, true only for "true" (any case).
            "boolean" => true,
            _ => true,
        };
        if !ok {
            return Err(SetConfigError::BadValue {
                key: name.to_string(),
                value: value.to_string(),
            });
        }
        let v = if k.ty == "boolean" {
            value.eq_ignore_ascii_case("true").to_string()
        } else {
            value.to_string()
        };
        self.values.lock().unwrap().insert(k.name, v);
        Ok(())
    }

    /// The columns ADMIN SHOW FRONTEND CONFIG prints in this release.
    pub fn columns(&self) -> Vec<&'static str> {
        if self.version >= ALIAS_COLUMN {
            vec!["Key", "AliasNames", "Value", "Type", "IsMutable", "Comment"]
        } else {
            vec!["Key", "Value", "Type", "IsMutable", "Comment"]
        }
    }

    /// The rows of `ADMIN SHOW FRONTEND CONFIG [LIKE pattern]`: a key is shown when its name or
    /// (where the release lists aliases) one of its aliases matches.
    pub fn rows(&self, pattern: Option<&str>) -> Vec<Vec<String>> {
        let values = self.values.lock().unwrap();
        let aliased = self.version >= ALIAS_COLUMN;
        KEYS.iter()
            .filter(|k| has_key(self.version, k))
            .filter(|k| {
                pattern.is_none_or(|p| {
                    like(p, k.name) || (aliased && k.aliases.iter().any(|a| like(p, a)))
                })
            })
            .map(|k| {
                let mut row = vec![k.name.to_string()];
                if aliased {
                    row.push(format!("[{}]", k.aliases.join(", ")));
                }
                row.push(values.get(k.name).cloned().unwrap_or_default());
                row.push(k.ty.to_string());
                row.push(k.mutable.to_string());
                row.push(String::new());
                row
            })
            .collect()
    }
}

/// MySQL `LIKE` as `PatternMatcher.createMysqlPattern(pattern, false)` applies it: `%` any run,
/// `_` one character, `\` escapes, case-insensitive.
pub fn like(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('%') => (0..=t.len()).any(|i| go(&p[1..], &t[i..])),
            Some('_') => !t.is_empty() && go(&p[1..], &t[1..]),
            Some('\\') if p.len() > 1 => {
                !t.is_empty() && t[0].eq_ignore_ascii_case(&p[1]) && go(&p[2..], &t[1..])
            }
            Some(c) => !t.is_empty() && t[0].eq_ignore_ascii_case(c) && go(&p[1..], &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_names_are_aliases_and_like_matches_them() {
        let conf = BTreeMap::from([("max_scheduling_tablets".to_string(), "7".to_string())]);
        let c = FeConfig::from_conf(&conf, Version::new(3, 3, 5));
        assert_eq!(
            c.get("tablet_sched_max_scheduling_tablets").as_deref(),
            Some("7")
        );
        c.set("disable_balance", "TRUE").unwrap();
        assert_eq!(
            c.get("tablet_sched_disable_balance").as_deref(),
            Some("true")
        );
        assert_eq!(
            c.set("run_mode", "shared_data"),
            Err(SetConfigError::NotMutable("run_mode".into()))
        );
        assert!(c.set("heartbeat_retry_times", "x").is_err());
        let rows = c.rows(Some("disable_bal%"));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][0], "tablet_sched_disable_balance");
        assert_eq!(rows[0][1], "[disable_balance]");
        assert!(like("%retry%", "heartbeat_retry_times"));
        assert!(!like("retry", "heartbeat_retry_times"));
    }
}
