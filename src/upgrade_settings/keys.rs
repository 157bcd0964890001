//! The StarRocks facts `upgrade-settings` acts on: which FE config items turn clone and balancing
//! off, under which names each release knows them, the values the docs give, how ADMIN SHOW
//! FRONTEND CONFIG prints them, and the 3.5 release-note rule.
//!
//! Names per release (fe/fe-core/.../common/Config.java):
//! - 2.x: `@ConfField(mutable = true) public static int max_scheduling_tablets = 2000;`,
//!   `max_balancing_tablets = 100`, `public static boolean disable_balance = false;`,
//!   `disable_colocate_balance = false`.
//! - later (3.x, main): `@ConfField(mutable = true, aliases = {"max_scheduling_tablets"}) public
//!   static int tablet_sched_max_scheduling_tablets = 10000;`, `aliases = {"max_balancing_tablets"}
//!   ... tablet_sched_max_balancing_tablets = 500`, `aliases = {"disable_balance"} ...
//!   tablet_sched_disable_balance = false`, `aliases = {"disable_colocate_balance"} ...
//!   tablet_sched_disable_colocate_balance = false`.
//!
//! `ConfigBase.initAllMutableConfigs` registers a field under its name and every alias, so ADMIN
//! SET FRONTEND CONFIG accepts either; `getConfigInfo` prints the field name in `Key`, the aliases
//! as `Arrays.toString` (`[disable_balance]`) in `AliasNames`, and in the newest releases matches
//! a LIKE pattern against the aliases too ("If the alias match here, we also show the config").
//! Which release renamed which item is not needed: the tool asks for the newer name, then the older
//! one, keeps the row whose `Key` or `AliasNames` names it exactly, and sets the `Key` it printed
//! (the field's own name, valid in every release that printed it).
//!
//! The docs' values (docs/en/deployment/upgrade.md): disable with `"tablet_sched_max_scheduling_tablets"
//! = "0"`, `"tablet_sched_max_balancing_tablets" = "0"`, `"disable_balance"="true"`,
//! `"disable_colocate_balance"="true"`; restore with 10000/500/false/false (the 2.5-era pages:
//! `max_scheduling_tablets` 2000, `max_balancing_tablets` 100). The tool restores what the cluster
//! had instead, recorded before anything was changed.

use std::collections::BTreeMap;

use crate::version::Version;

/// What one config item holds; a value of the wrong shape is never put into a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Bool,
}

/// One documented setting: its names, newest first, and the value that turns it off.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub names: &'static [&'static str],
    pub disabled: &'static str,
    pub kind: Kind,
}

/// The four settings, in the docs' order.
pub const SETTINGS: [Setting; 4] = [
    Setting {
        names: &[
            "tablet_sched_max_scheduling_tablets",
            "max_scheduling_tablets",
        ],
        disabled: "0",
        kind: Kind::Int,
    },
    Setting {
        names: &[
            "tablet_sched_max_balancing_tablets",
            "max_balancing_tablets",
        ],
        disabled: "0",
        kind: Kind::Int,
    },
    Setting {
        names: &["tablet_sched_disable_balance", "disable_balance"],
        disabled: "true",
        kind: Kind::Bool,
    },
    Setting {
        names: &[
            "tablet_sched_disable_colocate_balance",
            "disable_colocate_balance",
        ],
        disabled: "true",
        kind: Kind::Bool,
    },
];

/// The session variable of the 3.5 release notes: "It is recommended to upgrade the cluster to
/// v3.4.10 or later before upgrading it to v3.5. Otherwise, you must manually disable low
/// cardinality optimization during the gray-scale upgrade by executing the following statement:
/// `SET GLOBAL cbo_enable_low_cardinality_optimize=false;`".
pub const LOW_CARDINALITY: &str = "cbo_enable_low_cardinality_optimize";

/// Whether the 3.5 rule applies: a target of 3.5 or later, and an FE still below 3.4.10.
pub fn low_cardinality_off_needed(to: Version, lowest_fe: Version) -> bool {
    to >= Version::new(3, 5, 0) && lowest_fe < Version::new(3, 4, 10)
}

/// The setting a recorded key belongs to (its `Key` is one of the names).
pub fn setting_of(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.names.contains(&key))
}

/// A value StarRocks prints for `kind` (`String.valueOf` of an int or a boolean): only these are
/// recorded, and only these are put into a statement.
pub fn valid_value(kind: Kind, v: &str) -> bool {
    match kind {
        Kind::Bool => v == "true" || v == "false",
        Kind::Int => {
            let digits = v.strip_prefix('-').unwrap_or(v);
            !digits.is_empty()
                && digits.len() <= 10
                && digits.bytes().all(|b| b.is_ascii_digit())
                && v.parse::<i32>().is_ok()
        }
    }
}

/// One row of ADMIN SHOW FRONTEND CONFIG: columns Key, AliasNames, Value, Type, IsMutable,
/// Comment (older releases' `AdminShowConfigStmt.TITLE_NAMES`, the newest
/// `ShowResultMetaFactory.visitAdminShowConfigStatement`, the same six).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigRow {
    pub key: String,
    pub aliases: Vec<String>,
    pub value: String,
    pub mutable: Option<bool>,
}

impl ConfigRow {
    pub fn from_row(r: &BTreeMap<String, String>) -> ConfigRow {
        let get = |c: &str| r.get(c).cloned().unwrap_or_default();
        let aliases = get("AliasNames");
        ConfigRow {
            key: get("Key"),
            aliases: aliases
                .trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .split(',')
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect(),
            value: get("Value"),
            mutable: r.get("IsMutable").map(|m| m == "true"),
        }
    }

    /// Whether this row is the item `name` (its field name or one of its aliases).
    pub fn is(&self, name: &str) -> bool {
        self.key == name || self.aliases.iter().any(|a| a == name)
    }
}

/// `ADMIN SHOW FRONTEND CONFIG LIKE 'name'` for one of the known names (letters, digits, `_`:
/// nothing to quote).
pub fn show_config_sql(name: &str) -> String {
    debug_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    format!("ADMIN SHOW FRONTEND CONFIG LIKE '{name}'")
}

/// `ADMIN SET FRONTEND CONFIG ("key" = "value")`, the docs' form; `key` is a known name and
/// `value` passed [`valid_value`].
pub fn set_config_sql(key: &str, value: &str) -> String {
    format!("ADMIN SET FRONTEND CONFIG (\"{key}\" = \"{value}\")")
}

/// `SHOW GLOBAL VARIABLES LIKE '...'` (columns Variable_name, Value).
pub fn show_global_sql() -> String {
    format!("SHOW GLOBAL VARIABLES LIKE '{LOW_CARDINALITY}'")
}

/// `SET GLOBAL cbo_enable_low_cardinality_optimize = v` with a checked boolean.
pub fn set_global_sql(value: &str) -> String {
    debug_assert!(valid_value(Kind::Bool, value));
    format!("SET GLOBAL {LOW_CARDINALITY} = {value}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_of_the_wrong_shape_are_refused() {
        for ok in ["0", "10000", "-1", "2147483647"] {
            assert!(valid_value(Kind::Int, ok), "{ok}");
        }
        for bad in ["", "1e3", "0\")", "2147483648", " 1", "+1", "--1"] {
            assert!(!valid_value(Kind::Int, bad), "{bad:?}");
        }
        assert!(valid_value(Kind::Bool, "false"));
        for bad in ["TRUE", "1", "true\"); DROP", ""] {
            assert!(!valid_value(Kind::Bool, bad), "{bad:?}");
        }
    }

    #[test]
    fn a_config_row_is_matched_by_its_name_or_an_alias() {
        let r: BTreeMap<String, String> = [
            ("Key", "tablet_sched_disable_balance"),
            ("AliasNames", "[disable_balance]"),
            ("Value", "false"),
            ("Type", "boolean"),
            ("IsMutable", "true"),
            ("Comment", ""),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let c = ConfigRow::from_row(&r);
        assert!(c.is("disable_balance") && c.is("tablet_sched_disable_balance"));
        assert!(!c.is("disable_colocate_balance"));
        assert_eq!(c.mutable, Some(true));
        assert_eq!(
            setting_of("max_balancing_tablets").unwrap().names[0],
            "tablet_sched_max_balancing_tablets"
        );
    }

    #[test]
    fn the_3_5_rule_needs_a_3_5_target_and_an_fe_below_3_4_10() {
        let v = |s: &str| s.parse::<Version>().unwrap();
        assert!(low_cardinality_off_needed(v("3.5.0"), v("3.4.9")));
        assert!(low_cardinality_off_needed(v("3.5.3"), v("3.3.5")));
        assert!(!low_cardinality_off_needed(v("3.5.0"), v("3.4.10")));
        assert!(!low_cardinality_off_needed(v("3.4.10"), v("3.4.2")));
    }
}
