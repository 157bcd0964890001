//! `apply` and `restore` against a scripted FE group: what each release answers to ADMIN SHOW/SET
//! FRONTEND CONFIG and the global variable, which statements reach which FE, and what the state
//! file holds across an FE restart, a restore and a state file of another cluster.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use super::apply::{apply, restore};
use super::leader::tests::fe_row;
use super::leader::SqlLink;
use super::state::load;
use super::{ApplyConfig, Conn, SettingsError};
use crate::probe::mysql::{Row, SqlError};
use crate::version::Version;

/// One release's FE config as ConfigBase keeps it: field name → (aliases, value).
struct Fake {
    config: Mutex<BTreeMap<String, (Vec<String>, String)>>,
    global: Mutex<Option<String>>,
    /// The newest `getConfigInfo` matches LIKE against aliases too; 2.x only the field name.
    like_matches_aliases: bool,
    frontends: Vec<Row>,
    /// Every statement, with the port it was sent to.
    sent: Mutex<Vec<(u16, String)>>,
    /// An error the SET statement answers with (after setting the leader, as setConfig does).
    set_error: Option<SqlError>,
}

const LEADER: u16 = 9030;
const FOLLOWER: u16 = 9031;

fn row(pairs: &[(&str, &str)]) -> Row {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Fake {
    /// 3.x names with the 2.x names as aliases; the leader at :9030, the FE asked at :9031.
    fn new_release(version: &str) -> Fake {
        let c = [
            (
                "tablet_sched_max_scheduling_tablets",
                "max_scheduling_tablets",
                "10000",
            ),
            (
                "tablet_sched_max_balancing_tablets",
                "max_balancing_tablets",
                "500",
            ),
            ("tablet_sched_disable_balance", "disable_balance", "false"),
            (
                "tablet_sched_disable_colocate_balance",
                "disable_colocate_balance",
                "false",
            ),
        ];
        Fake {
            config: Mutex::new(
                c.iter()
                    .map(|(k, a, v)| (k.to_string(), (vec![a.to_string()], v.to_string())))
                    .collect(),
            ),
            global: Mutex::new(Some("true".into())),
            like_matches_aliases: true,
            frontends: vec![
                fe_row("127.0.0.1", "9031", "FOLLOWER", version),
                fe_row("127.0.0.1", "9030", "LEADER", version),
            ],
            sent: Mutex::new(Vec::new()),
            set_error: None,
        }
    }

    /// 2.5: the old names are the fields, no aliases.
    fn old_release() -> Fake {
        let f = Fake::new_release("2.5.21-fd7a5b5");
        *f.config.lock().unwrap() = [
            ("max_scheduling_tablets", "2000"),
            ("max_balancing_tablets", "100"),
            ("disable_balance", "false"),
            ("disable_colocate_balance", "false"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), (Vec::new(), v.to_string())))
        .collect();
        Fake {
            like_matches_aliases: false,
            ..f
        }
    }

    fn value(&self, key: &str) -> String {
        self.config.lock().unwrap()[key].1.clone()
    }

    fn sets(&self) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, s)| s.starts_with("ADMIN SET") || s.starts_with("SET GLOBAL"))
            .map(|(_, s)| s.clone())
            .collect()
    }
}

impl SqlLink for Fake {
    fn query(&self, _host: &str, port: u16, sql: &str) -> Result<Vec<Row>, SqlError> {
        self.sent.lock().unwrap().push((port, sql.to_string()));
        let quoted = |s: &str| s.split(['\'', '"']).nth(1).unwrap_or("").to_string();
        if sql == "SHOW FRONTENDS" {
            return Ok(self.frontends.clone());
        }
        assert_eq!(port, LEADER, "{sql} went to the leader");
        let mut config = self.config.lock().unwrap();
        if let Some(rest) = sql.strip_prefix("ADMIN SHOW FRONTEND CONFIG LIKE ") {
            let name = quoted(rest);
            return Ok(config
                .iter()
                .filter(|(k, (a, _))| {
                    **k == name || (self.like_matches_aliases && a.contains(&name))
                })
                .map(|(k, (a, v))| {
                    row(&[
                        ("Key", k),
                        ("AliasNames", &format!("[{}]", a.join(", "))),
                        ("Value", v),
                        ("IsMutable", "true"),
                    ])
                })
                .collect());
        }
        if let Some(rest) = sql.strip_prefix("ADMIN SET FRONTEND CONFIG (") {
            let mut parts = rest.split('"');
            let (key, value) = (parts.nth(1).unwrap(), parts.nth(1).unwrap());
            let field = config
                .iter()
                .find(|(k, (a, _))| *k == key || a.iter().any(|x| x == key))
                .map(|(k, _)| k.clone())
                .ok_or(SqlError::Server {
                    code: 1064,
                    state: "42000".into(),
                    message: format!("Config '{key}' does not exist"),
                })?;
            config.get_mut(&field).unwrap().1 = value.to_string();
            return self.set_error.clone().map_or(Ok(Vec::new()), Err);
        }
        let mut global = self.global.lock().unwrap();
        if sql.starts_with("SHOW GLOBAL VARIABLES LIKE") {
            return Ok(global
                .iter()
                .map(|v| {
                    row(&[
                        ("Variable_name", "cbo_enable_low_cardinality_optimize"),
                        ("Value", v),
                    ])
                })
                .collect());
        }
        if let Some(v) = sql.strip_prefix("SET GLOBAL cbo_enable_low_cardinality_optimize = ") {
            *global = Some(v.to_string());
            return Ok(Vec::new());
        }
        panic!("unexpected statement {sql}");
    }
}

fn cfg(state: &Path, to: &str) -> ApplyConfig {
    ApplyConfig {
        conn: Conn {
            fe: "127.0.0.1:8031".into(),
            query_port: FOLLOWER,
            user: "root".into(),
            password_env: None,
            timeout: std::time::Duration::from_secs(1),
        },
        to_version: to.parse::<Version>().unwrap(),
        state: state.to_path_buf(),
    }
}

#[test]
fn apply_sets_the_leader_and_keeps_the_originals_across_an_fe_restart() {
    let d = tempfile::tempdir().unwrap();
    let st = d.path().join("state.json");
    let fe = Fake::new_release("3.3.5-553732d");
    apply(&fe, "127.0.0.1", FOLLOWER, &cfg(&st, "3.4.1")).unwrap();
    assert_eq!(fe.value("tablet_sched_max_scheduling_tablets"), "0");
    assert_eq!(fe.value("tablet_sched_disable_colocate_balance"), "true");
    let s = load(&st).unwrap().unwrap();
    assert_eq!(s.cluster_id, "1361216597");
    assert_eq!(
        s.original("tablet_sched_max_balancing_tablets")
            .unwrap()
            .original,
        "500"
    );
    assert!(s.globals.is_empty(), "no 3.5 rule for a 3.4 target");
    // The leader restarted with the disabled values still set elsewhere, or re-applied: the
    // disabled values are not recorded as originals.
    apply(&fe, "127.0.0.1", FOLLOWER, &cfg(&st, "3.4.1")).unwrap();
    let again = load(&st).unwrap().unwrap();
    assert_eq!(again.settings, s.settings);
    restore(&fe, "127.0.0.1", FOLLOWER, &st).unwrap();
    assert_eq!(fe.value("tablet_sched_max_scheduling_tablets"), "10000");
    assert_eq!(fe.value("tablet_sched_disable_balance"), "false");
    assert!(load(&st).unwrap().unwrap().restored);
    // After a restore the next apply reads the values then in force.
    fe.config
        .lock()
        .unwrap()
        .get_mut("tablet_sched_max_balancing_tablets")
        .unwrap()
        .1 = "300".into();
    apply(&fe, "127.0.0.1", FOLLOWER, &cfg(&st, "3.5.0")).unwrap();
    let next = load(&st).unwrap().unwrap();
    assert_eq!(
        next.original("tablet_sched_max_balancing_tablets")
            .unwrap()
            .original,
        "300"
    );
    assert!(!next.restored);
}

#[test]
fn a_release_with_the_old_names_is_set_under_them() {
    let d = tempfile::tempdir().unwrap();
    let st = d.path().join("state.json");
    let fe = Fake::old_release();
    apply(&fe, "127.0.0.1", FOLLOWER, &cfg(&st, "3.0.9")).unwrap();
    assert_eq!(
        fe.sets(),
        [
            "ADMIN SET FRONTEND CONFIG (\"max_scheduling_tablets\" = \"0\")",
            "ADMIN SET FRONTEND CONFIG (\"max_balancing_tablets\" = \"0\")",
            "ADMIN SET FRONTEND CONFIG (\"disable_balance\" = \"true\")",
            "ADMIN SET FRONTEND CONFIG (\"disable_colocate_balance\" = \"true\")",
        ]
    );
    restore(&fe, "127.0.0.1", FOLLOWER, &st).unwrap();
    assert_eq!(fe.value("max_scheduling_tablets"), "2000");
    assert_eq!(fe.value("max_balancing_tablets"), "100");
}

#[test]
fn the_3_5_rule_turns_low_cardinality_off_only_from_below_3_4_10() {
    let d = tempfile::tempdir().unwrap();
    let st = d.path().join("state.json");
    let fe = Fake::new_release("3.4.9-abc1234");
    apply(&fe, "127.0.0.1", FOLLOWER, &cfg(&st, "3.5.2")).unwrap();
    assert_eq!(fe.global.lock().unwrap().as_deref(), Some("false"));
    assert_eq!(load(&st).unwrap().unwrap().globals[0].original, "true");
    // Re-applied once the FEs run 3.5: still kept (and still off) until restore.
    let fe35 = Fake::new_release("3.5.2-abc1234");
    *fe35.global.lock().unwrap() = Some("false".into());
    apply(&fe35, "127.0.0.1", FOLLOWER, &cfg(&st, "3.5.2")).unwrap();
    assert_eq!(load(&st).unwrap().unwrap().globals[0].original, "true");
    restore(&fe35, "127.0.0.1", FOLLOWER, &st).unwrap();
    assert_eq!(fe35.global.lock().unwrap().as_deref(), Some("true"));

    let st2 = d.path().join("other.json");
    let fe = Fake::new_release("3.4.10-abc1234");
    apply(&fe, "127.0.0.1", FOLLOWER, &cfg(&st2, "3.5.2")).unwrap();
    assert!(fe.sets().iter().all(|s| !s.starts_with("SET GLOBAL")));
}

#[test]
fn a_state_file_of_another_cluster_is_refused_before_anything_is_set() {
    let d = tempfile::tempdir().unwrap();
    let st = d.path().join("state.json");
    let fe = Fake::new_release("3.3.5-553732d");
    apply(&fe, "127.0.0.1", FOLLOWER, &cfg(&st, "3.4.1")).unwrap();
    let mut other = Fake::new_release("3.3.5-553732d");
    for r in &mut other.frontends {
        r.insert("ClusterId".into(), "42".into());
    }
    let e = apply(&other, "127.0.0.1", FOLLOWER, &cfg(&st, "3.4.1")).unwrap_err();
    assert!(matches!(e, SettingsError::BadInput(_)), "{e}");
    assert!(e.to_string().contains("records cluster 1361216597"), "{e}");
    let e = restore(&other, "127.0.0.1", FOLLOWER, &st).unwrap_err();
    assert!(matches!(e, SettingsError::BadInput(_)), "{e}");
    assert!(other.sets().is_empty());
    let missing = restore(&fe, "127.0.0.1", FOLLOWER, &d.path().join("none.json")).unwrap_err();
    assert!(matches!(missing, SettingsError::BadInput(_)), "{missing}");
}

#[test]
fn a_set_answered_with_an_error_is_judged_by_what_the_leader_holds() {
    let d = tempfile::tempdir().unwrap();
    // setConfig: the leader took it, another FE did not (ERROR_SET_CONFIG_FAILED).
    let fe = Fake {
        set_error: Some(SqlError::Server {
            code: 1064,
            state: "42000".into(),
            message: "set config for fe[10.0.0.3] failed: connect timed out".into(),
        }),
        ..Fake::new_release("3.3.5-553732d")
    };
    apply(
        &fe,
        "127.0.0.1",
        FOLLOWER,
        &cfg(&d.path().join("a.json"), "3.4.1"),
    )
    .unwrap();
    assert_eq!(fe.value("tablet_sched_disable_balance"), "true");
    // No privilege: bad input, the originals recorded before anything was set.
    let mut fe = Fake::new_release("3.3.5-553732d");
    fe.set_error = Some(SqlError::Server {
        code: 1227,
        state: "42000".into(),
        message: "Access denied; you need (at least one of) the OPERATE privilege(s)".into(),
    });
    let b = d.path().join("b.json");
    let e = apply(&fe, "127.0.0.1", FOLLOWER, &cfg(&b, "3.4.1")).unwrap_err();
    assert!(matches!(e, SettingsError::BadInput(_)), "{e}");
    assert_eq!(load(&b).unwrap().unwrap().settings[0].original, "10000");
    // A release without the items at all: the step fails, naming them.
    let fe = Fake::new_release("3.3.5-553732d");
    fe.config.lock().unwrap().clear();
    let e = apply(
        &fe,
        "127.0.0.1",
        FOLLOWER,
        &cfg(&d.path().join("c.json"), "3.4.1"),
    )
    .unwrap_err();
    assert!(matches!(e, SettingsError::Failed(_)), "{e}");
    assert!(e.to_string().contains("max_scheduling_tablets"), "{e}");
}

#[test]
fn an_item_renamed_again_is_recorded_and_set_under_the_name_asked() {
    let d = tempfile::tempdir().unwrap();
    let st = d.path().join("state.json");
    let fe = Fake::new_release("4.1.0-abc1234");
    {
        let mut c = fe.config.lock().unwrap();
        let (_, v) = c.remove("tablet_sched_disable_balance").unwrap();
        let aliases = vec![
            "tablet_sched_disable_balance".into(),
            "disable_balance".into(),
        ];
        c.insert("tablet_sched_balance_disabled".into(), (aliases, v));
    }
    apply(&fe, "127.0.0.1", FOLLOWER, &cfg(&st, "4.1.1")).unwrap();
    assert_eq!(fe.value("tablet_sched_balance_disabled"), "true");
    let s = load(&st).unwrap().unwrap();
    assert_eq!(s.settings[2].key, "tablet_sched_disable_balance");
    restore(&fe, "127.0.0.1", FOLLOWER, &st).unwrap();
    assert_eq!(fe.value("tablet_sched_balance_disabled"), "false");
}

#[test]
fn originals_read_on_2_5_survive_a_leader_on_3_0_and_are_put_back_under_its_names() {
    let d = tempfile::tempdir().unwrap();
    let st = d.path().join("state.json");
    let old = Fake::old_release();
    apply(&old, "127.0.0.1", FOLLOWER, &cfg(&st, "3.0.9")).unwrap();
    // The leader now runs 3.0 with the settings applied again after its restart (new names).
    let new = Fake::new_release("3.0.9-abc1234");
    for k in [
        "tablet_sched_max_scheduling_tablets",
        "tablet_sched_max_balancing_tablets",
    ] {
        new.config.lock().unwrap().get_mut(k).unwrap().1 = "0".into();
    }
    apply(&new, "127.0.0.1", FOLLOWER, &cfg(&st, "3.0.9")).unwrap();
    let s = load(&st).unwrap().unwrap();
    let rec = s.original("tablet_sched_max_scheduling_tablets").unwrap();
    assert_eq!(
        rec.original, "2000",
        "not the disabled 0 the 3.0 leader showed"
    );
    restore(&new, "127.0.0.1", FOLLOWER, &st).unwrap();
    assert_eq!(new.value("tablet_sched_max_scheduling_tablets"), "2000");
    assert_eq!(new.value("tablet_sched_disable_balance"), "false");
}
