//! How a BE build is judged started: from the process, /api/health and the heartbeat port, not from
//! INFO lines that glog holds back (or a log level drops) and that older builds never print.

use super::{fe_for, sig_ids, Node};
use crate::util::*;

#[test]
fn canaries_pass_on_a_node_that_logs_warnings_only() {
    // glog holds INFO back for 30 s and sys_log_level = WARNING drops it: a healthy build must be
    // judged from the process, /api/health and the heartbeat port, well inside that buffer.
    let n = Node::new("3.2.11", "3.3.5", &[]);
    n.conf("sys_log_level = WARNING");
    let (code, out, j) = n.sandbox(&["--timeout", "20s", "--keep", "always"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(j["target"]["detected_version"]
        .as_str()
        .unwrap()
        .starts_with("3.3.5-"));
    let ws = &n.workspaces()[0];
    assert!(
        read(&ws.join("be/conf/be.conf")).contains("sys_log_level = INFO"),
        "the sandbox logs INFO"
    );
    assert!(
        read(&ws.join("be/log/be.INFO")).contains("BE started successfully"),
        "the sandbox's INFO lines are kept: the graceful stop flushed them"
    );

    n.start();
    let fe = fe_for(&n);
    let fe_addr = format!("127.0.0.1:{}", fe.query);
    let (code, out, _) = n.in_place(&["--fe", &fe_addr, "--timeout", "20s"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        !read(&n.home.join("log/be.INFO")).contains("BE started successfully"),
        "the node itself logged no INFO"
    );
    assert_eq!(n.last_step(), "kept");
}

#[test]
fn a_3_0_build_without_the_success_line_passes() {
    let n = Node::new("2.5.22", "3.0.2", &[]);
    let (code, out, j) = n.sandbox(&["--timeout", "20s"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!sig_ids(&j).contains("be.ready.started"));
    assert!(j["target"]["detected_version"]
        .as_str()
        .unwrap()
        .starts_with("3.0.2"));
}
