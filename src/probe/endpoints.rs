//! What the answers of StarRocks' readiness endpoints mean: `/api/health` and `/api/bootstrap`.
//!
//! The FE rehearsal, the BE canary (sandbox and in place) and `check` all ask these two endpoints
//! and must read them alike: a body whose spacing differs (`{"status": "OK"}` from a BE,
//! `{"status":"OK"}` from an FE's Gson) is the same answer, and a plain OK from `/api/bootstrap`
//! without `feVersion` means "up, but the details were withheld", not "ready with our metadata".
//! The verdicts are typed here; each caller decides what a verdict does to its run.

use serde_json::Value;

use super::http::HttpResponse;

/// Why an endpoint's answer is not the OK the caller waits for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotOk {
    #[error("HTTP {0}")]
    Status(u16),
    #[error("not JSON: {0}")]
    NotJson(String),
    /// The endpoint answered JSON with a status other than OK: that status and its message.
    #[error("status {status}{}", msg.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Answered { status: String, msg: Option<String> },
}

/// The JSON body of a 200 answer.
pub fn json_of(resp: &HttpResponse) -> Result<Value, NotOk> {
    if resp.status != 200 {
        return Err(NotOk::Status(resp.status));
    }
    serde_json::from_str(&resp.body).map_err(|_| NotOk::NotJson(resp.body.trim().to_string()))
}

fn status_of(v: &Value) -> Result<(), NotOk> {
    if v["status"] == "OK" {
        return Ok(());
    }
    let text = |f: &Value| match f {
        Value::String(s) => s.clone(),
        Value::Null => "none".into(),
        other => other.to_string(),
    };
    Err(NotOk::Answered {
        status: text(&v["status"]),
        msg: v["msg"].as_str().map(str::to_string),
    })
}

/// `/api/health`: healthy when it answers 200 with a JSON `"status": "OK"`.
pub fn health(resp: &HttpResponse) -> Result<(), NotOk> {
    health_json(&json_of(resp)?)
}

/// [`health`] on a body already parsed.
pub fn health_json(v: &Value) -> Result<(), NotOk> {
    status_of(v)
}

/// What an answer of `/api/bootstrap` says about the FE.
#[derive(Debug, Clone, PartialEq)]
pub enum Bootstrap {
    /// OK with `feVersion`: the FE is ready, runs that release and replayed its journal this far.
    /// Given only to a caller that sent the cluster's id and token.
    Ready {
        version: String,
        replayed: u64,
        body: Value,
    },
    /// OK without `feVersion`: the FE is up, but withheld the details (no token, or not its
    /// cluster's token).
    Withheld,
    /// FAILED with an `invalid ...` message: the FE rejected the cluster id or token sent, so it
    /// is not running the metadata they came from.
    Rejected(String),
    /// Anything else: not ready yet, or not an FE.
    NotReady(NotOk),
}

impl Bootstrap {
    /// Whether the FE answered OK at all (ready or withheld).
    pub fn is_up(&self) -> bool {
        matches!(self, Bootstrap::Ready { .. } | Bootstrap::Withheld)
    }
}

/// Reads an answer of `/api/bootstrap`.
pub fn bootstrap(resp: &HttpResponse) -> Bootstrap {
    match json_of(resp) {
        Ok(v) => bootstrap_json(v),
        Err(e) => Bootstrap::NotReady(e),
    }
}

/// [`bootstrap`] on a body already parsed.
pub fn bootstrap_json(v: Value) -> Bootstrap {
    if v["status"] == "OK" {
        return match v["feVersion"].as_str() {
            Some(version) => Bootstrap::Ready {
                version: version.to_string(),
                replayed: v["replayedJournalId"].as_u64().unwrap_or(0),
                body: v,
            },
            None => Bootstrap::Withheld,
        };
    }
    if v["status"] == "FAILED" {
        if let Some(m) = v["msg"].as_str().filter(|m| m.starts_with("invalid")) {
            return Bootstrap::Rejected(m.to_string());
        }
    }
    Bootstrap::NotReady(status_of(&v).err().unwrap_or(NotOk::Answered {
        status: "OK".into(),
        msg: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            body: body.into(),
            location: None,
        }
    }

    #[test]
    fn health_reads_the_json_status_whatever_its_spacing() {
        assert_eq!(
            health(&resp(200, r#"{"status":"OK","msg":"Success"}"#)),
            Ok(())
        );
        assert_eq!(
            health(&resp(200, r#"{"status": "OK","msg": "To Be Added"}"#)),
            Ok(())
        );
        assert_eq!(health(&resp(500, "{}")), Err(NotOk::Status(500)));
        assert!(matches!(
            health(&resp(200, "<html>")),
            Err(NotOk::NotJson(_))
        ));
        let down = health(&resp(200, r#"{"status":"FAILED","msg":"not ready"}"#)).unwrap_err();
        assert_eq!(down.to_string(), "status FAILED (not ready)");
        // A body that merely mentions OK somewhere is not healthy.
        assert!(health(&resp(
            200,
            r#"{"status":"FAILED","msg":"\"status\":\"OK\""}"#
        ))
        .is_err());
    }

    #[test]
    fn bootstrap_tells_ready_from_withheld_from_rejected() {
        let ready = bootstrap(&resp(
            200,
            r#"{"status":"OK","msg":"Success","feVersion":"3.3.2-abc","replayedJournalId":42}"#,
        ));
        assert!(
            matches!(&ready, Bootstrap::Ready { version, replayed: 42, .. } if version == "3.3.2-abc")
        );
        assert_eq!(
            bootstrap(&resp(200, r#"{"status":"OK","msg":"Success"}"#)),
            Bootstrap::Withheld
        );
        assert!(Bootstrap::Withheld.is_up());
        assert_eq!(
            bootstrap(&resp(
                200,
                r#"{"status":"FAILED","msg":"invalid cluster id: 7"}"#
            )),
            Bootstrap::Rejected("invalid cluster id: 7".into())
        );
        let not = bootstrap(&resp(200, r#"{"status":"FAILED","msg":"not ready"}"#));
        assert!(matches!(not, Bootstrap::NotReady(_)) && !not.is_up());
        assert!(matches!(
            bootstrap(&resp(404, "")),
            Bootstrap::NotReady(NotOk::Status(404))
        ));
    }
}
