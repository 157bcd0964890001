//! `upgrade-settings apply|restore` and `create-image` against a scripted FE group: each FE a real
//! MySQL server (the simulator's protocol code) answering SHOW FRONTENDS, ADMIN SHOW/SET FRONTEND
//! CONFIG, the global variable and ALTER SYSTEM CREATE IMAGE as the release it plays does, so the
//! tests can name exactly which FE got which statement; and a leader fe.log the test writes the
//! push line into once the statement has arrived (the statement is the synchronisation).

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use starrocks_sim::answers::FRONTENDS_COLUMNS;
use starrocks_sim::mysql::{serve, Outcome, ResultSet, ServerConfig};

use super::util::{free_ports, kill, tool_bin, wait_exit, HostileFe, HostileSpec, Signal};

/// A guard against a hang of the tool, far beyond what any run needs; never a sync point.
const GUARD: Duration = Duration::from_secs(90);

type Config = BTreeMap<String, (Vec<String>, String)>;

/// One scripted FE: its query port, its in-memory config (lost at restart, as ADMIN SET FRONTEND
/// CONFIG is), the statements it got.
struct Fe {
    port: u16,
    role: &'static str,
    config: Arc<Mutex<Config>>,
    global: Arc<Mutex<String>>,
    got: Arc<Mutex<Vec<String>>>,
}

/// FEs sharing one SHOW FRONTENDS; `images` hears each ALTER SYSTEM CREATE IMAGE.
struct Group {
    fes: Vec<Fe>,
    images: mpsc::Receiver<u16>,
}

fn config_of(version: &str) -> (Config, bool) {
    let old = version.starts_with("2.");
    let items: &[(&str, &str, &str)] = if old {
        &[
            ("max_scheduling_tablets", "", "2000"),
            ("max_balancing_tablets", "", "100"),
            ("disable_balance", "", "false"),
            ("disable_colocate_balance", "", "false"),
        ]
    } else {
        &[
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
        ]
    };
    let c = items
        .iter()
        .map(|(k, a, v)| {
            let aliases = if a.is_empty() {
                vec![]
            } else {
                vec![a.to_string()]
            };
            (k.to_string(), (aliases, v.to_string()))
        })
        .collect();
    // 2.x `getConfigInfo` matches LIKE against the field name only; later also the aliases.
    (c, !old)
}

fn rs(cols: &[&str], rows: Vec<Vec<String>>) -> Outcome {
    Outcome::Rows(ResultSet {
        columns: cols.iter().map(|c| c.to_string()).collect(),
        rows: rows
            .into_iter()
            .map(|r| r.into_iter().map(Some).collect())
            .collect(),
    })
}

fn quoted(s: &str) -> String {
    s.split(['\'', '"']).nth(1).unwrap_or("").to_string()
}

impl Group {
    /// `roles[0]` is the FE the command is pointed at; one of them is LEADER.
    fn start(version: &str, cluster_id: &str, roles: &[&'static str]) -> Group {
        let listeners: Vec<TcpListener> = roles
            .iter()
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let ports: Vec<u16> = listeners
            .iter()
            .map(|l| l.local_addr().unwrap().port())
            .collect();
        let frontends: Vec<Vec<String>> = roles
            .iter()
            .zip(&ports)
            .map(|(role, port)| {
                FRONTENDS_COLUMNS
                    .iter()
                    .map(|c| match *c {
                        "IP" => "127.0.0.1".into(),
                        "QueryPort" => port.to_string(),
                        "Role" => role.to_string(),
                        "ClusterId" => cluster_id.into(),
                        "ReplayedJournalId" => "5120".into(),
                        "Version" => version.into(),
                        "Alive" | "Join" => "true".into(),
                        _ => "0".into(),
                    })
                    .collect()
            })
            .collect();
        let (tx, images) = mpsc::channel();
        let mut fes = Vec::new();
        for ((listener, port), role) in listeners.into_iter().zip(ports).zip(roles) {
            let (c, like_aliases) = config_of(version);
            let fe = Fe {
                port,
                role,
                config: Arc::new(Mutex::new(c)),
                global: Arc::new(Mutex::new("true".into())),
                got: Arc::new(Mutex::new(Vec::new())),
            };
            let (config, global, got) = (fe.config.clone(), fe.global.clone(), fe.got.clone());
            let (frontends, tx) = (frontends.clone(), tx.clone());
            let answer = move |_user: &str, sql: &str| -> Outcome {
                got.lock().unwrap().push(sql.to_string());
                let mut config = config.lock().unwrap();
                if sql == "SHOW FRONTENDS" {
                    return rs(&FRONTENDS_COLUMNS, frontends.clone());
                }
                if let Some(rest) = sql.strip_prefix("ADMIN SHOW FRONTEND CONFIG LIKE ") {
                    let name = quoted(rest);
                    let rows = config
                        .iter()
                        .filter(|(k, (a, _))| **k == name || (like_aliases && a.contains(&name)))
                        .map(|(k, (a, v))| {
                            vec![
                                k.clone(),
                                format!("[{}]", a.join(", ")),
                                v.clone(),
                                "int".into(),
                                "true".into(),
                                String::new(),
                            ]
                        })
                        .collect();
                    let cols = ["Key", "AliasNames", "Value", "Type", "IsMutable", "Comment"];
                    return rs(&cols, rows);
                }
                if let Some(rest) = sql.strip_prefix("ADMIN SET FRONTEND CONFIG (") {
                    let mut parts = rest.split('"');
                    let (key, value) = (parts.nth(1).unwrap_or(""), parts.nth(1).unwrap_or(""));
                    let field = config
                        .iter()
                        .find(|(k, (a, _))| *k == key || a.iter().any(|x| x == key))
                        .map(|(k, _)| k.clone());
                    return match field {
                        Some(f) => {
                            config.get_mut(&f).unwrap().1 = value.to_string();
                            Outcome::Ok
                        }
                        None => {
                            Outcome::Err(1064, "42000", format!("Config '{key}' does not exist"))
                        }
                    };
                }
                if sql.starts_with("SHOW GLOBAL VARIABLES LIKE") {
                    let v = global.lock().unwrap().clone();
                    return rs(
                        &["Variable_name", "Value"],
                        vec![vec!["cbo_enable_low_cardinality_optimize".into(), v]],
                    );
                }
                if let Some(v) =
                    sql.strip_prefix("SET GLOBAL cbo_enable_low_cardinality_optimize = ")
                {
                    *global.lock().unwrap() = v.to_string();
                    return Outcome::Ok;
                }
                if sql == "ALTER SYSTEM CREATE IMAGE" {
                    let _ = tx.send(port);
                    return Outcome::Ok;
                }
                Outcome::Err(
                    1064,
                    "42000",
                    format!("unexpected statement (scripted FE): {sql}"),
                )
            };
            serve(
                listener,
                Arc::new(ServerConfig {
                    server_version: "5.1.0".into(),
                    root_password: String::new(),
                    users: Vec::new(),
                    query: Arc::new(answer),
                }),
            );
            fes.push(fe);
        }
        Group { fes, images }
    }

    fn leader(&self) -> &Fe {
        self.fes.iter().find(|f| f.role == "LEADER").unwrap()
    }

    /// `--fe 127.0.0.1:8030 --query-port <the first FE's>`: the HTTP port is never asked.
    fn args(&self) -> Vec<String> {
        vec![
            "--fe".into(),
            "127.0.0.1:8030".into(),
            "--query-port".into(),
            self.fes[0].port.to_string(),
        ]
    }
}

impl Fe {
    fn value(&self, key: &str) -> String {
        self.config.lock().unwrap()[key].1.clone()
    }

    fn sets(&self) -> usize {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|s| {
                s.starts_with("ADMIN SET") || s.starts_with("SET GLOBAL") || s.starts_with("ALTER")
            })
            .count()
    }
}

/// Runs `cmd` (its subcommand words, then its options) with the cluster options `args`.
fn run(args: &[String], cmd: &[&str]) -> Output {
    let sub = cmd.iter().take_while(|w| !w.starts_with("--")).count();
    let mut child = Command::new(tool_bin())
        .args(&cmd[..sub])
        .args(args)
        .args(&cmd[sub..])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_exit(&mut child, GUARD);
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn state_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn apply_through_a_follower_sets_the_leader_and_restore_puts_the_originals_back() {
    let g = Group::start("3.3.5-553732d", "1361216597", &["FOLLOWER", "LEADER"]);
    let d = tempfile::tempdir().unwrap();
    let st = d.path().join("settings.json");
    let s = st.to_str().unwrap();
    let apply = [
        "upgrade-settings",
        "apply",
        "--to-version",
        "3.4.1",
        "--state",
        s,
    ];
    let o = run(&g.args(), &apply);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let l = g.leader();
    assert_eq!(l.value("tablet_sched_max_scheduling_tablets"), "0");
    assert_eq!(l.value("tablet_sched_max_balancing_tablets"), "0");
    assert_eq!(l.value("tablet_sched_disable_balance"), "true");
    assert_eq!(l.value("tablet_sched_disable_colocate_balance"), "true");
    assert_eq!(
        g.fes[0].sets(),
        0,
        "nothing is set on the FE asked, a follower"
    );
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(
        out.lines().filter(|l| l.contains(" -> ")).count(),
        4,
        "{out}"
    );
    let first = state_json(&st);
    assert_eq!(first["cluster_id"], "1361216597");
    assert_eq!(first["settings"][0]["original"], "10000");

    // Again, as after an FE restart: the disabled values are not recorded as originals.
    let o = run(&g.args(), &apply);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(state_json(&st)["settings"], first["settings"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("already 0"),
        "{}",
        text(&o)
    );

    let o = run(&g.args(), &["upgrade-settings", "restore", "--state", s]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(l.value("tablet_sched_max_scheduling_tablets"), "10000");
    assert_eq!(l.value("tablet_sched_max_balancing_tablets"), "500");
    assert_eq!(l.value("tablet_sched_disable_colocate_balance"), "false");
    assert_eq!(state_json(&st)["restored"], true);
}

#[test]
fn a_2_5_cluster_is_set_under_its_names_and_a_3_5_target_turns_low_cardinality_off() {
    let g = Group::start("2.5.21-fd7a5b5", "77", &["LEADER"]);
    let d = tempfile::tempdir().unwrap();
    let st = d.path().join("s.json");
    let s = st.to_str().unwrap();
    let o = run(
        &g.args(),
        &[
            "upgrade-settings",
            "apply",
            "--to-version",
            "3.0.9",
            "--state",
            s,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(g.leader().value("max_scheduling_tablets"), "0");
    assert_eq!(g.leader().value("disable_colocate_balance"), "true");
    let o = run(&g.args(), &["upgrade-settings", "restore", "--state", s]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(g.leader().value("max_scheduling_tablets"), "2000");
    assert_eq!(g.leader().value("max_balancing_tablets"), "100");

    let g = Group::start("3.4.6-abc1234", "78", &["LEADER", "FOLLOWER"]);
    let st = d.path().join("s35.json");
    let s = st.to_str().unwrap();
    let o = run(
        &g.args(),
        &[
            "upgrade-settings",
            "apply",
            "--to-version",
            "3.5.2",
            "--state",
            s,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(*g.leader().global.lock().unwrap(), "false");
    assert_eq!(state_json(&st)["globals"][0]["original"], "true");
    let o = run(&g.args(), &["upgrade-settings", "restore", "--state", s]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(*g.leader().global.lock().unwrap(), "true");
}

#[test]
fn a_state_file_of_another_cluster_a_link_or_none_is_refused_and_nothing_is_set() {
    let a = Group::start("3.3.5-553732d", "1", &["LEADER"]);
    let b = Group::start("3.3.5-553732d", "2", &["LEADER"]);
    let d = tempfile::tempdir().unwrap();
    let st = d.path().join("a.json");
    let s = st.to_str().unwrap();
    let apply = [
        "upgrade-settings",
        "apply",
        "--to-version",
        "3.4.1",
        "--state",
        s,
    ];
    assert_eq!(run(&a.args(), &apply).status.code(), Some(0));
    for cmd in [&apply[..], &["upgrade-settings", "restore", "--state", s]] {
        let o = run(&b.args(), cmd);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("records cluster 1"),
            "{}",
            text(&o)
        );
    }
    assert_eq!(b.leader().sets(), 0);
    let link = d.path().join("link.json");
    std::os::unix::fs::symlink(&st, &link).unwrap();
    let l = link.to_str().unwrap();
    let o = run(&a.args(), &["upgrade-settings", "restore", "--state", l]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let none = d.path().join("none.json");
    let o = run(
        &a.args(),
        &[
            "upgrade-settings",
            "restore",
            "--state",
            none.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // Nobody listening (a leased port): unreachable.
    let lease = free_ports(1);
    let args = [
        "--fe".into(),
        "127.0.0.1:8030".into(),
        "--query-port".into(),
        lease.ports()[0].to_string(),
    ];
    let o = run(&args, &apply);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
}

fn append(p: &Path, s: &str) {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(p)
        .unwrap()
        .write_all(s.as_bytes())
        .unwrap();
}

/// Starts `create-image`, waits for the statement to reach the leader, then lets `after` write
/// the log; returns the tool's output.
fn create_image(g: &Group, log: &Path, wait: &str, after: impl FnOnce(i32)) -> Output {
    let mut child = Command::new(tool_bin())
        .arg("create-image")
        .args(g.args())
        .args(["--leader-log", log.to_str().unwrap(), "--wait", wait])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let port = g
        .images
        .recv_timeout(GUARD)
        .expect("ALTER SYSTEM CREATE IMAGE reached an FE");
    assert_eq!(port, g.leader().port, "the statement went to the leader");
    after(child.id() as i32);
    wait_exit(&mut child, GUARD);
    child.wait_with_output().unwrap()
}

const LINE: &str = "2026-12-05 06:00:01.123+00:00 INFO (leaderCheckpointer|98) [CheckpointController.pushImage():412] push image.";

#[test]
fn create_image_waits_for_the_push_line_of_its_own_image_across_a_rotation() {
    let g = Group::start("3.3.5-553732d", "9", &["FOLLOWER", "LEADER", "FOLLOWER"]);
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("fe.log");
    append(
        &log,
        &format!(
            "{LINE}9999 from subdir [] to other nodes. totally 2 nodes, push succeeded 2 nodes\n"
        ),
    );
    let o = create_image(&g, &log, "60s", |_| {
        // An image made before the statement, the StarManager's, then rotation and ours.
        append(&log, &format!("{LINE}4000 from subdir [] to other nodes. totally 2 nodes, push succeeded 1 nodes\n"));
        append(&log, &format!("{LINE}5200 from subdir [starmgr] to other nodes. totally 2 nodes, push succeeded 0 nodes\n"));
        std::fs::rename(&log, d.path().join("fe.log.20261205-1")).unwrap();
        append(&log, &format!("{LINE}5200 from subdir [] to other nodes. totally 2 nodes, push succeeded 2 nodes\n"));
    });
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("image.5200 pushed to 2 of 2 nodes"),
        "{}",
        text(&o)
    );
}

#[test]
fn create_image_fails_on_fewer_nodes_times_out_without_a_line_and_skips_a_follower_host() {
    let g = Group::start("3.3.5-553732d", "9", &["LEADER", "FOLLOWER", "FOLLOWER"]);
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("fe.log");
    append(&log, "");
    let o = create_image(&g, &log, "60s", |_| {
        append(&log, &format!("{LINE}6000 from subdir [] to other nodes. totally 2 nodes, push successed 1 nodes\n"));
    });
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("pushed to 1 of 2 nodes"),
        "{}",
        text(&o)
    );

    let o = create_image(&g, &log, "1s", |_| {});
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));

    let follower = format!("fe@127.0.0.1:{}", g.fes[1].port);
    let o = run(
        &g.args(),
        &[
            "create-image",
            "--leader-log",
            log.to_str().unwrap(),
            "--node",
            &follower,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("is not the leader"),
        "{}",
        text(&o)
    );
    let o = run(
        &g.args(),
        &[
            "create-image",
            "--leader-log",
            log.to_str().unwrap(),
            "--node",
            "fe@127.0.0.1:1",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "a node the cluster does not list: {}",
        text(&o)
    );
    assert_eq!(
        g.leader().sets(),
        2,
        "only the two runs above sent CREATE IMAGE"
    );

    // A release before 2.5.3 has no CREATE IMAGE: refused before anything is sent.
    let old = Group::start("2.5.2-1234567", "10", &["LEADER", "FOLLOWER"]);
    let o = run(
        &old.args(),
        &["create-image", "--leader-log", log.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(old.leader().sets(), 0);
}

#[test]
fn create_image_on_one_fe_waits_for_nothing_and_a_signal_ends_the_wait() {
    let one = Group::start("3.3.5-553732d", "11", &["LEADER"]);
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("fe.log");
    append(&log, "");
    let o = create_image(&one, &log, "60s", |_| {});
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("one FE"),
        "{}",
        text(&o)
    );

    let g = Group::start("3.3.5-553732d", "12", &["LEADER", "FOLLOWER"]);
    let o = create_image(&g, &log, "60s", |pid| {
        kill(pid, Signal::SIGTERM);
    });
    assert_eq!(o.status.code(), Some(143), "{}", text(&o));
}

#[test]
fn a_leader_address_that_is_not_an_address_is_refused_before_it_is_connected_to() {
    let fe = HostileFe::start(HostileSpec {
        leader_ip: "10.0.0.1$(touch /tmp/x)\x1b[2J".into(),
        ..Default::default()
    });
    let d = tempfile::tempdir().unwrap();
    let st = d.path().join("s.json");
    let log = d.path().join("fe.log");
    append(&log, "");
    for cmd in [
        &[
            "upgrade-settings",
            "apply",
            "--to-version",
            "3.3.0",
            "--state",
            st.to_str().unwrap(),
        ][..],
        &["create-image", "--leader-log", log.to_str().unwrap()],
    ] {
        let o = run(&fe.args(), cmd);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("the leader's IP") && !err.contains('\x1b'),
            "{err}"
        );
    }
    assert!(
        !st.exists(),
        "nothing recorded from a cluster whose leader cannot be trusted"
    );
}
