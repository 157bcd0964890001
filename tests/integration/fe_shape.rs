//! The FE rehearsal's shape: `--plan` lists the steps the run takes, under the same names and
//! saying what the run does (the SQL check, the keep rule), and a sandbox port another process
//! takes between the pick and the bind costs one relaunch on new ports, or exit 3 naming the
//! holder, never a failure blamed on the release.

use std::process::Stdio;

use crate::util::*;

/// The step names a `--plan` text lists (`  3. rewrite fe.conf: ...`), in order.
pub fn planned_steps(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let (n, rest) = l.trim_start().split_once(". ")?;
            n.parse::<usize>().ok()?;
            Some(rest.split_once(": ")?.0.to_string())
        })
        .collect()
}

/// The steps a report records, preflight (which `--plan` runs too) left out.
pub fn run_steps(json: &serde_json::Value) -> Vec<String> {
    json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .filter(|n| n != "preflight")
        .collect()
}

#[test]
fn plan_lists_the_steps_the_run_takes_and_what_it_checks() {
    let r = Rehearsal::new("3.2.5", "3.3.2", &[], &[]);
    let plan = r.run(&["--plan"]);
    assert_eq!(plan.code, Some(0), "{}", plan.stderr);
    assert!(
        plan.stdout.contains("`SHOW DATABASES`") && !plan.stdout.contains("no SQL check"),
        "the default run checks SQL, and the plan must say so:\n{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("keep the workspace: only when the run does not pass (--keep on-failure)")
            && !plan.stdout.contains("OnFailure"),
        "{}",
        plan.stdout
    );
    let o = r.run(&[]);
    assert_eq!(o.code, Some(0), "{}", o.stdout);
    assert_eq!(
        planned_steps(&plan.stdout),
        run_steps(&o.json),
        "{}",
        plan.stdout
    );
    let plan = r.run(&["--plan", "--no-query"]);
    assert!(
        plan.stdout.contains("(no SQL check: --no-query)"),
        "{}",
        plan.stdout
    );
    let plan = r.run(&["--plan", "--query", "SHOW TABLES FROM shop"]);
    assert!(
        plan.stdout.contains("then `SHOW TABLES FROM shop`"),
        "{}",
        plan.stdout
    );
}

/// The port is squatted by the tool itself (the test hook), after the check that the ports are
/// still free and before start_fe.sh runs: exactly the race of a port taken between the pick and
/// the bind. Without the fence (`--isolate none`) the FE dies with `fe.port.http-in-use`.
#[test]
fn a_port_taken_before_the_bind_costs_one_relaunch_on_new_ports() {
    let r = Rehearsal::new("3.2.5", "3.3.2", &[], &[]);
    let out = r
        .command(&["--isolate", "none", "--keep", "always"])
        .env("SR_REHEARSE_TEST_SQUAT", "http_port:1")
        .output()
        .unwrap();
    let o = r.outcome(out);
    assert_eq!(o.code, Some(0), "{}\n{}", o.stdout, o.stderr);
    let steps: Vec<String> = o.json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        steps,
        [
            "preflight",
            "workspace",
            "copy meta",
            "rewrite fe.conf",
            "patch VERSION",
            "launch",
            "port retry",
            "rewrite fe.conf",
            "launch",
            "decide",
            "stop"
        ]
    );
    let warnings = o.json["warnings"].to_string();
    assert!(
        warnings.contains("http_port") && warnings.contains("was taken by pid"),
        "{warnings}"
    );
    assert!(o.stdout.contains("port retry"), "{}", o.stdout);
    assert_eq!(o.json["verdict"], "pass");
    // The first attempt's signature is evidence in its own logs, not a finding of the run.
    assert!(!o.json["signatures"].to_string().contains("fe.port."));
    let ws = &r.workspaces()[0];
    let first = read(&ws.join("fe/log.port-taken/fe.log"));
    assert!(
        first.contains("Fail to start FE query http server"),
        "{first}"
    );
    let conf = read(&ws.join("fe/conf/fe.conf"));
    let http = o.json["ports"]["sandbox"]["http_port"].as_u64().unwrap();
    assert!(conf.contains(&format!("http_port = {http}\n")));
    r.assert_no_process_left();
}

#[test]
fn a_port_taken_again_is_the_environment_and_names_the_holder() {
    let r = Rehearsal::new("3.2.5", "3.3.2", &[], &[]);
    let child = r
        .command(&["--isolate", "none"])
        .env("SR_REHEARSE_TEST_SQUAT", "http_port:2")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let o = r.outcome(child.wait_with_output().unwrap());
    assert_eq!(o.code, Some(3), "{}\n{}", o.stdout, o.stderr);
    let summary = o.json["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!("pid {pid} (sr-rehearse) holds it"))
            && summary.contains("says nothing about the release"),
        "{summary}"
    );
    assert_eq!(o.json["verdict"], "error");
    r.assert_no_process_left();
}

/// The port found taken by the check just before the launch (the squat comes after the conf is
/// written): the same retry on new ports, before anything was started.
#[test]
fn a_port_taken_before_the_launch_check_is_retried_the_same_way() {
    let r = Rehearsal::new("3.2.5", "3.3.2", &[], &[]);
    let out = r
        .command(&["--isolate", "none"])
        .env("SR_REHEARSE_TEST_SQUAT", "query_port:1:before-launch")
        .output()
        .unwrap();
    let o = r.outcome(out);
    assert_eq!(o.code, Some(0), "{}\n{}", o.stdout, o.stderr);
    let steps: Vec<String> = o.json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        steps[5..],
        ["port retry", "rewrite fe.conf", "launch", "decide", "stop"],
        "{steps:?}"
    );
    assert!(
        o.json["warnings"]
            .to_string()
            .contains("seen in use just before the launch"),
        "{}",
        o.json["warnings"]
    );
    r.assert_no_process_left();
}
