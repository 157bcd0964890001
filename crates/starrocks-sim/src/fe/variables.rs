//! `SELECT @@variable` answers: the session variables clients and the tool read, and the error an
//! unknown one raises in each release.
//!
//! Drivers read a handful of variables on connect, so a wrong answer breaks a connection before any
//! statement runs; the list and the error wording are kept apart from the statements for that.

use super::state::State;
use crate::mysql::Outcome;
use crate::release::Behaviour as _;
use starrocks_common::version::Version;

pub(super) fn system_variable(st: &State, name: &str) -> Option<String> {
    let n = name
        .trim_start_matches("@@")
        .trim_start_matches("session.")
        .trim_start_matches("global.")
        .to_ascii_lowercase();
    Some(match n.as_str() {
        "max_allowed_packet" => "33554432".into(),
        "wait_timeout" => "28800".into(),
        "interactive_timeout" => "3600".into(),
        "net_write_timeout" => "60".into(),
        "version" => st.version.mysql_server_version().into(),
        "version_comment" => format!("StarRocks version {}", st.version.full()),
        "time_zone" | "system_time_zone" => "UTC".into(),
        "auto_increment_increment" => "1".into(),
        "lower_case_table_names" => "0".into(),
        "character_set_client"
        | "character_set_connection"
        | "character_set_results"
        | "character_set_server" => "utf8".into(),
        "collation_server" | "collation_connection" => "utf8_general_ci".into(),
        "transaction_isolation" | "tx_isolation" => "REPEATABLE-READ".into(),
        "sql_mode" => "ONLY_FULL_GROUP_BY".into(),
        "query_timeout" => "300".into(),
        "autocommit" => "1".into(),
        _ => return None,
    })
}

const KNOWN_VARIABLES: &[&str] = &[
    "max_allowed_packet",
    "wait_timeout",
    "interactive_timeout",
    "net_write_timeout",
    "version",
    "version_comment",
    "time_zone",
    "system_time_zone",
    "auto_increment_increment",
    "lower_case_table_names",
    "character_set_client",
    "character_set_connection",
    "character_set_results",
    "character_set_server",
    "collation_server",
    "collation_connection",
    "transaction_isolation",
    "tx_isolation",
    "sql_mode",
    "query_timeout",
    "autocommit",
];

/// `SELECT @@name` of a variable StarRocks does not have. The analyzer's SemanticException carries
/// ERR_UNKNOWN_SYSTEM_VARIABLE with three look-alike names; 3.1 put it on the wire as 1064/42000
/// (StarRocks#37243), later releases as 1193/HY000 (DataflareApp/dataflare#96).
pub(super) fn unknown_variable(v: Version, name: &str) -> Outcome {
    let name = name
        .trim_start_matches("@@")
        .trim_start_matches("session.")
        .trim_start_matches("global.");
    // The real server ranks every session variable by Jaro-Winkler distance; a shared-letter
    // count over the simulator's short list stands in for it.
    let mut similar: Vec<(usize, &str)> = KNOWN_VARIABLES
        .iter()
        .map(|k| (k.chars().filter(|c| name.contains(*c)).count(), *k))
        .collect();
    similar.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let list = similar
        .iter()
        .take(3)
        .map(|(_, k)| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let detail = format!(
        "Getting analyzing error. Detail message: Unknown system variable '{name}', the most similar variables are {{{list}}}"
    );
    if v < UNKNOWN_VARIABLE_IS_1193 {
        Outcome::Err(1064, "42000", detail)
    } else {
        Outcome::Err(1193, "HY000", format!("{detail}."))
    }
}

/// First release line seen answering an unknown variable with 1193 (the exact patch is unknown).
const UNKNOWN_VARIABLE_IS_1193: Version = Version::new(3, 2, 0);
