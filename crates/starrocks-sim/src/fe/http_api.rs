//! The FE's HTTP answers: `/api/bootstrap` and `/api/health`, in each release's body layout.
//!
//! The tool probes a sandbox FE and a cluster's frontends through these, and a cluster's leader
//! learns its followers' state from `/api/bootstrap`; both depend on the exact fields and on how
//! each release checks the cluster id and token.

use super::state::State;
use crate::http::{Request, Response};
use crate::release::Behaviour as _;
use starrocks_common::version::Version;

fn rest_tail(v: Version, ok: bool, msg: &str) -> String {
    let status = if ok { "OK" } else { "FAILED" };
    if v.rest_has_code() {
        let code = if ok { "0" } else { "1" };
        let message = if ok { "OK" } else { msg };
        format!("\"status\":\"{status}\",\"code\":\"{code}\",\"msg\":\"{msg}\",\"message\":\"{message}\"")
    } else {
        format!("\"status\":\"{status}\",\"msg\":\"{msg}\"")
    }
}

fn bootstrap_body(st: &State, detail: bool, ok: bool, msg: &str) -> String {
    let v = st.version;
    let mut s = String::from("{");
    if detail {
        s.push_str(&format!(
            "\"replayedJournalId\":{},\"queryPort\":{},\"rpcPort\":{},\"feStartTime\":{},\"feVersion\":\"{}\",",
            st.group.as_ref().map_or(st.journal_id, |g| g.journal()), st.query_port, st.rpc_port, st.start_millis, v.full()
        ));
    } else {
        s.push_str("\"replayedJournalId\":0,\"queryPort\":0,\"rpcPort\":0,\"feStartTime\":0,");
    }
    if v.bootstrap_has_heap() {
        s.push_str("\"heapUsedPercent\":0.0,");
    }
    if v.bootstrap_has_cpu_cores() {
        s.push_str(&format!(
            "\"cpuCores\":{},",
            if detail {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            } else {
                0
            }
        ));
    }
    s.push_str(&rest_tail(v, ok, msg));
    s.push('}');
    s
}

pub(super) fn fe_http(st: &State, r: &Request) -> Response {
    match r.path.as_str() {
        "/api/bootstrap" => {
            let v = st.version;
            // Strings.isNullOrEmpty: an empty parameter counts as no parameter, so the answer is
            // the plain OK without details.
            let token = r.param("token").filter(|t| !t.is_empty());
            let cid = r.param("cluster_id").filter(|c| !c.is_empty());
            let body = if v.bootstrap_checks_cluster_id() {
                match (cid, token) {
                    (Some(c), Some(t)) => match c.parse::<i64>() {
                        Err(_) => bootstrap_body(
                            st,
                            false,
                            false,
                            &format!("invalid cluster id format: {c}"),
                        ),
                        Ok(c) if c != st.cluster_id => bootstrap_body(
                            st,
                            false,
                            false,
                            &format!("invalid cluster id: {}", st.cluster_id),
                        ),
                        Ok(_) if t != st.token => bootstrap_body(
                            st,
                            false,
                            false,
                            &format!("invalid token: {}", st.token),
                        ),
                        Ok(_) => bootstrap_body(st, true, true, "Success"),
                    },
                    _ => bootstrap_body(st, false, true, "Success"),
                }
            } else {
                match token {
                    Some(t) if t == st.token => bootstrap_body(st, true, true, "Success"),
                    Some(_) => bootstrap_body(st, false, false, "invalid parameter"),
                    None => bootstrap_body(st, false, true, "Success"),
                }
            };
            Response::json(body)
        }
        "/put" => super::image_write::put(st, r),
        "/api/health" => {
            let bes = st.backends.lock().unwrap();
            let online = bes.iter().filter(|b| b.alive).count();
            Response::json(format!(
                "{{\"online_backend_num\":{online},\"total_backend_num\":{},\"status\":\"OK\"}}",
                bes.len()
            ))
        }
        _ => Response::status(404, "text/html", "<html><body>Not Found</body></html>"),
    }
}
