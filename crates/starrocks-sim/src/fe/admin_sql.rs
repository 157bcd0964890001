//! The administration statements an FE answers itself: ADMIN SHOW FRONTEND CONFIG (never
//! forwarded: each FE shows its own memory), ADMIN SET FRONTEND CONFIG outside a group, SET
//! GLOBAL / SHOW [GLOBAL] VARIABLES, and ALTER SYSTEM CREATE IMAGE on the leader.
//!
//! In a group the follower forwards ADMIN SET, ALTER SYSTEM and SET GLOBAL before this file sees
//! them (`cluster::intercept`), so what reaches here runs on the FE that owns the change.

use std::sync::Arc;

use super::image_write::create_image;
use super::state::State;
use super::variables::unknown_variable;
use crate::answers::rows;
use crate::cluster::parse_set_config;
use crate::mysql::Outcome;

/// The quoted pattern of a `... LIKE 'p'` tail, if any.
fn like_pattern(q: &str) -> Option<String> {
    let upper = q.to_ascii_uppercase();
    let at = upper.rfind(" LIKE ")?;
    Some(
        q[at + 6..]
            .trim()
            .trim_matches(|c| c == '\'' || c == '"')
            .to_string(),
    )
}

fn syntax_error(q: &str) -> Outcome {
    Outcome::Err(
        1064,
        "42000",
        format!(
            "Getting syntax error. Detail message: unsupported statement `{q}` in starrocks-sim."
        ),
    )
}

/// Answers an administration statement, or None for any other statement.
pub(super) fn admin_query(st: &Arc<State>, q: &str, norm: &str) -> Option<Outcome> {
    if norm.starts_with("ADMIN SHOW FRONTEND CONFIG") {
        let cols = st.config.columns();
        return Some(rows(&cols, st.config.rows(like_pattern(q).as_deref())));
    }
    if norm.starts_with("ADMIN SET FRONTEND CONFIG") {
        return Some(match parse_set_config(q) {
            Some((k, v)) => match st.config.set(&k, &v) {
                Ok(()) => Outcome::Ok,
                Err(e) => crate::cluster::set_config_error(&e),
            },
            None => syntax_error(q),
        });
    }
    if norm == "ALTER SYSTEM CREATE IMAGE" {
        return Some(create_image(st));
    }
    if let Some(rest) = norm
        .strip_prefix("SET GLOBAL ")
        .or_else(|| norm.strip_prefix("SET @@GLOBAL."))
    {
        let Some((name, value)) = rest.split_once('=') else {
            return Some(syntax_error(q));
        };
        let (name, value) = (
            name.trim(),
            value.trim().trim_matches(|c| c == '\'' || c == '"'),
        );
        return Some(match st.globals.set(name, value) {
            Some(()) => Outcome::Ok,
            None => unknown_variable(st.version, &name.to_ascii_lowercase()),
        });
    }
    if norm.starts_with("SHOW GLOBAL VARIABLES") || norm.starts_with("SHOW VARIABLES") {
        let pattern = like_pattern(q);
        return Some(rows(
            &["Variable_name", "Value"],
            st.globals.rows(pattern.as_deref()),
        ));
    }
    None
}
