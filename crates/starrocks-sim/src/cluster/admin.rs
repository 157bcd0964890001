//! `ADMIN SET FRONTEND CONFIG` in a group, as `GlobalStateMgr.setConfig` runs it on the leader
//! (followers forward the statement, `RedirectStatus` FORWARD_NO_SYNC): the leader sets the key in
//! its own memory, then asks every other recorded frontend to do the same, skipping each whose
//! host string equals its own (`fe.getHost().equals(selfNode.first)`), so on one host only the
//! leader changes. A peer that cannot be reached makes the statement fail with
//! `Set config failed: set config for fe[<host>] failed: <message>` (error 5101) after the others
//! were set.
//!
//! The peer call is StarRocks's `setConfig` thrift RPC on the `rpc_port`; the simulator carries it
//! on its `edit_log_port` line protocol (`SETCONFIG`), and nothing is persisted anywhere.

use super::edit_log::request;
use super::group::Group;
use crate::frontend_config::SetConfigError;
use crate::image::Frontend;
use crate::mysql::Outcome;

/// `("key" = "value")` of `ADMIN SET FRONTEND CONFIG`, quotes taken off; None when malformed.
pub fn parse_set_config(q: &str) -> Option<(String, String)> {
    let open = q.find('(')?;
    let close = q.rfind(')')?;
    let (k, v) = q.get(open + 1..close)?.split_once('=')?;
    let unquote = |s: &str| {
        s.trim()
            .trim_matches(|c| c == '"' || c == '\'' || c == '`')
            .to_string()
    };
    let (k, v) = (unquote(k), unquote(v));
    (!k.is_empty()).then_some((k, v))
}

/// The answer to a local `setConfig`, as the statement reports it.
pub fn set_config_error(e: &SetConfigError) -> Outcome {
    Outcome::Err(1064, "HY000", e.to_string())
}

/// The leader's `setConfig`: itself, then every other frontend on another host.
pub(super) fn set_on_group(g: &Group, frontends: &[Frontend], key: &str, value: &str) -> Outcome {
    if let Err(e) = g.config.set(key, value) {
        return set_config_error(&e);
    }
    let mut err = String::new();
    for f in frontends {
        let me = f.host == g.host && f.edit_log_port == g.edit_log_port;
        if me || f.host == g.host {
            continue;
        }
        let body = serde_json::json!({"key": key, "value": value}).to_string();
        match request(
            g,
            &f.host,
            f.edit_log_port,
            &format!("SETCONFIG json={body}"),
        ) {
            Ok(reply) if reply == "OK" => {}
            Ok(reply) => err.push_str(&format!(
                "set config for fe[{}] failed: {};",
                f.host,
                reply.strip_prefix("ERR ").unwrap_or(&reply)
            )),
            Err(e) => err.push_str(&format!("set config for fe[{}] failed: {e}", f.host)),
        }
    }
    if err.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Err(5101, "F0000", format!("Set config failed: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_key_and_value_in_any_quotes() {
        assert_eq!(
            parse_set_config(r#"ADMIN SET FRONTEND CONFIG ("disable_balance"="true")"#),
            Some(("disable_balance".into(), "true".into()))
        );
        assert_eq!(
            parse_set_config("admin set frontend config ( 'max_scheduling_tablets' = '0' )"),
            Some(("max_scheduling_tablets".into(), "0".into()))
        );
        assert_eq!(parse_set_config("ADMIN SET FRONTEND CONFIG"), None);
    }
}
