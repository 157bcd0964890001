//! What a cluster says about itself, checked before anything uses it, and escaped where printed.
//!
//! The rows of SHOW FRONTENDS / BACKENDS / COMPUTE NODES end up in places that interpret text: a
//! terminal (escape sequences set its title or clear it), the runbook an operator pastes into a
//! shell, the Ansible inventory whose strings are templates. An FE that is broken, or is not an FE
//! at all, can return anything in them. So every value is checked here against the shape StarRocks
//! gives it, once for `check` and `upgrade-plan` alike: a host is an IP literal or a host name, a
//! port a number from 1 to 65535, a Version `3.2.11-98f7576`, a Role one of the FE roles, Alive
//! `true` or `false`, an ErrMsg printable text. A value that does not fit makes its node bad in
//! `check` (with the value escaped) and refuses the plan in `upgrade-plan`, because it would be
//! placed in a command. Every server value printed goes through `escape`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::NodeStatus;

/// Longest text `escape` prints of one value: a message stays a line, not a screenful.
const MAX_SHOWN: usize = 1024;

/// Characters that change how text looks or where it goes on a terminal without being visible:
/// controls (ESC, BEL, CR, LF, DEL, the C1 set with NEL), line and paragraph separators, and the
/// zero-width and bidirectional formatting marks that reorder what a reader sees.
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}')
}

/// A column of a SHOW row as text (an absent column as empty).
pub(super) fn col<'a>(row: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    row.get(name).map(String::as_str).unwrap_or("")
}

/// `s` safe to print on a terminal: invisible characters (see `invisible`) as `\xNN` or `\u{N}`,
/// and a value longer than `MAX_SHOWN` characters cut there, its length said. The one function
/// every value from a server goes through before it is printed. It is idempotent (its output has
/// nothing left to escape, and a cut value is not cut again), so text built from escaped parts
/// can be escaped once more as a whole without garbling them.
pub fn escape(s: &str) -> String {
    // Room for the "... (N bytes in all)" a cut value ends with, so it is not cut twice.
    let cut = s.chars().count() > MAX_SHOWN + 40;
    let mut o = String::with_capacity(s.len().min(MAX_SHOWN + 40));
    for (n, c) in s.chars().enumerate() {
        if cut && n == MAX_SHOWN {
            o.push_str(&format!("... ({} bytes in all)", s.len()));
            break;
        }
        match c {
            c if invisible(c) && (c as u32) < 0x100 => o.push_str(&format!("\\x{:02x}", c as u32)),
            c if invisible(c) => o.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => o.push(c),
        }
    }
    o
}

/// A body that is not what was expected, as one short line: short ones whole, long ones as their
/// length and first bytes (an error page of megabytes is not worth a terminal's scrollback).
pub fn summarise(body: &str) -> String {
    const HEAD: usize = 120;
    let body = body.trim();
    if body.chars().count() <= HEAD {
        return format!("\"{}\"", escape(body));
    }
    let head: String = body.chars().take(HEAD).collect();
    format!("{} bytes, starting \"{}\"", body.len(), escape(&head))
}

/// An error text from a server (a SQL error message, a probe's failure), escaped for printing.
pub fn shown(e: &impl std::fmt::Display) -> String {
    escape(&e.to_string())
}

/// An IP literal, or an RFC 1123 host name (letters, digits and `-` in dot-separated labels of at
/// most 63 characters, 253 in all). `_` is accepted too: container runtimes name hosts with it,
/// and it means nothing to a shell or a template.
pub fn is_host(s: &str) -> bool {
    if s.parse::<IpAddr>().is_ok() {
        return true;
    }
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// A port as StarRocks prints it: digits only, 1 to 65535. `Ok(None)` is a port the leader does
/// not know yet, which it prints as `0` (an FE's QueryPort before its first heartbeat) or `-1` (a
/// BE's HttpPort before its first heartbeat), where `unknown_ok`.
fn port(s: &str, unknown_ok: bool) -> Result<Option<u16>, ()> {
    if unknown_ok && (s == "0" || s == "-1") {
        return Ok(None);
    }
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(Some(p)),
        _ => Err(()),
    }
}

/// The shape of a StarRocks version as SHOW FRONTENDS / BACKENDS print it: `3.2.11-98f7576`, the
/// release in dotted numbers, then `-` parts of letters, digits, `.` and `_` (`-rc01-ae0b3e4`).
pub fn is_version(s: &str) -> bool {
    let mut parts = s.split('-');
    let release = parts.next().unwrap_or("");
    let nums: Vec<&str> = release.split('.').collect();
    s.len() <= 64
        && (2..=4).contains(&nums.len())
        && nums
            .iter()
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        && parts.all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        })
}

/// The roles `FrontendNodeType` names; only the first three are members of a working group.
const FE_ROLES: [&str; 5] = ["LEADER", "FOLLOWER", "OBSERVER", "INIT", "UNKNOWN"];

/// `"value"` escaped, for a sentence about a bad value.
fn quoted(s: &str) -> String {
    format!("\"{}\"", escape(s))
}

/// One node from its row of `stmt` (SHOW FRONTENDS for `fe`, SHOW BACKENDS for `be`, SHOW COMPUTE
/// NODES for `cn`). Every value is checked; a bad one is kept (escaped where shown), named in the
/// node's `invalid` list and its problems, and an identity that cannot be trusted (host, port)
/// gives the node a label of the values as printed, so two bad rows never share an id.
pub(super) fn node_from_row(kind: &str, stmt: &str, r: &BTreeMap<String, String>) -> NodeStatus {
    let mut invalid = Vec::new();
    let mut bad = |what: &str, v: &str, why: &str| {
        invalid.push(format!("{what} {} in {stmt} {why}", quoted(v)));
    };
    let ip = col(r, "IP");
    if !is_host(ip) {
        bad(
            "IP",
            ip,
            "is not an IP address or host name (RFC 1123 letters, digits, '-', '.')",
        );
    }
    // An FE is known by its query port, a BE or CN by its heartbeat port; the leader knows the
    // latter from ADD BACKEND, so it is never unknown.
    let (id_col, id_unknown_ok) = if kind == "fe" {
        ("QueryPort", true)
    } else {
        ("HeartbeatPort", false)
    };
    let id_port = port(col(r, id_col), id_unknown_ok);
    if id_port.is_err() {
        bad(id_col, col(r, id_col), "is not a port (1 to 65535)");
    }
    let http = port(col(r, "HttpPort"), true);
    if http.is_err() {
        bad("HttpPort", col(r, "HttpPort"), "is not a port (1 to 65535)");
    }
    let role = if kind == "fe" { col(r, "Role") } else { "" };
    if kind == "fe" && !FE_ROLES.contains(&role) {
        bad(
            "Role",
            role,
            "is not an FE role (LEADER, FOLLOWER, OBSERVER)",
        );
    }
    // An FE the leader never heard from has `NULL` (FrontendsProcNode): no version known.
    let version = match col(r, "Version") {
        "NULL" => "",
        v => v,
    };
    if !version.is_empty() && !is_version(version) {
        bad(
            "Version",
            version,
            "is not a StarRocks version (e.g. 3.2.11-98f7576)",
        );
    }
    let flag = |c: &str, missing_ok: bool, bad: &mut dyn FnMut(&str, &str, &str)| match col(r, c) {
        "true" => true,
        "false" => false,
        "" if missing_ok => false,
        v => {
            bad(c, v, "is neither true nor false");
            false
        }
    };
    let alive = flag("Alive", false, &mut bad);
    // SystemDecommissioned is not a column of every release's SHOW COMPUTE NODES.
    let decommissioned = kind != "fe" && flag("SystemDecommissioned", kind == "cn", &mut bad);
    let err_msg = col(r, "ErrMsg");
    if err_msg.chars().any(invisible) {
        bad("ErrMsg", err_msg, "holds control characters");
    }
    // The start time is printed by `--print start-time` and given back to `--started-after` in a
    // playbook: it must be the date TimeUtils.longToTimeString prints, or NULL.
    let start_col = if kind == "fe" {
        "StartTime"
    } else {
        "LastStartTime"
    };
    let start_time = col(r, start_col);
    if !start_time.is_empty() && start_time != "NULL" && parse_time(start_time).is_none() {
        bad(
            start_col,
            start_time,
            "is not a time (yyyy-MM-dd HH:mm:ss) or NULL",
        );
    }
    let status_code = if kind == "fe" {
        ""
    } else {
        col(r, "StatusCode")
    };
    if !status_code
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b == b'_')
    {
        bad("StatusCode", status_code, "is not a status name");
    }
    let label = (!is_host(ip) || id_port.is_err())
        .then(|| format!("{kind} {}:{}", escape(ip), escape(col(r, id_col))));
    let mut problems: Vec<String> = invalid
        .iter()
        .map(|i| format!("invalid value: {i}"))
        .collect();
    if version.is_empty() {
        problems.push(format!(
            "no Version in {stmt} (the leader has no heartbeat answer from it)"
        ));
    }
    if matches!(role, "INIT" | "UNKNOWN") {
        problems.push(format!("Role {role}: the FE has not joined the group"));
    }
    NodeStatus {
        kind: kind.into(),
        host: ip.to_string(),
        http_port: http.ok().flatten().unwrap_or(0),
        port: id_port.ok().flatten().unwrap_or(0),
        role: role.to_string(),
        alive,
        version: version.to_string(),
        last_heartbeat: col(r, "LastHeartbeat").to_string(),
        start_time: start_time.to_string(),
        status_code: status_code.to_string(),
        err_msg: err_msg.to_string(),
        replayed_journal_id: (kind == "fe")
            .then(|| col(r, "ReplayedJournalId").parse().ok())
            .flatten(),
        journal_lag: None,
        decommissioned,
        probes: Vec::new(),
        problems,
        invalid,
        label,
    }
}

/// A time as TimeUtils.longToTimeString prints it, `yyyy-MM-dd HH:mm:ss` (the simulator and log4j
/// add `,mmm`; a `.fraction` is taken too): the date and time numbers, then the milliseconds when
/// given. The fields are fixed width, so the tuples order as the times do.
pub fn parse_time(s: &str) -> Option<([u32; 6], Option<u32>)> {
    let (main, frac) = match s.find([',', '.']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let b = main.as_bytes();
    let shape_ok = b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    let n = |a: usize, z: usize| main[a..z].parse::<u32>().ok();
    let fields = [
        n(0, 4)?,
        n(5, 7)?,
        n(8, 10)?,
        n(11, 13)?,
        n(14, 16)?,
        n(17, 19)?,
    ];
    let ms = match frac {
        None => None,
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|c| c.is_ascii_digit()) => {
            // Scaled to milliseconds whatever the number of digits.
            let padded = format!("{f:0<3}");
            Some(padded[..3].parse().ok()?)
        }
        Some(_) => return None,
    };
    Some((fields, ms))
}

/// Whether time `a` is later than `b`, both as `parse_time` reads them; `None` when either is not
/// a time (NULL). Milliseconds count only when both carry them: a time printed to the second is
/// not later than another in the same second.
pub fn later_than(a: &str, b: &str) -> Option<bool> {
    let (ta, ma) = parse_time(a)?;
    let (tb, mb) = parse_time(b)?;
    Some(match (ma, mb) {
        (Some(x), Some(y)) => (ta, x) > (tb, y),
        _ => ta > tb,
    })
}

/// Two rows with the same id (kind, host and port) are one node listed twice, or two nodes the
/// plan could not tell apart (`--node-home`, the inventory's host names): both are bad.
pub(super) fn flag_duplicates(nodes: &mut [NodeStatus]) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for n in nodes.iter() {
        *seen.entry(n.id()).or_default() += 1;
    }
    for n in nodes.iter_mut() {
        if seen[&n.id()] > 1 {
            let why = "listed more than once with this host and port".to_string();
            n.problems.push(format!("invalid value: {why}"));
            n.invalid.push(why);
        }
    }
}

/// A port as SHOW FRONTENDS prints a known one (digits, 1 to 65535), for the commands outside
/// `check` that connect to it (`upgrade-settings`, `create-image`); `None` for anything else.
pub fn known_port(s: &str) -> Option<u16> {
    port(s, false).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_leaves_no_control_character() {
        let s = "a\x1b]0;title\x07\x1b[2J\r\nb\u{85}c\u{2028}d\u{202e}e\x7f";
        let e = escape(s);
        assert!(!e.chars().any(invisible), "{e}");
        assert_eq!(
            e,
            "a\\x1b]0;title\\x07\\x1b[2J\\x0d\\x0ab\\x85c\\u{2028}d\\u{202e}e\\x7f"
        );
        assert_eq!(escape(&e), e, "escaping twice changes nothing");
        assert_eq!(escape("名前.例え 3.2.11"), "名前.例え 3.2.11");
        let long = escape(&"x".repeat(5000));
        assert!(long.ends_with("... (5000 bytes in all)"));
        assert_eq!(escape(&long), long);
    }

    #[test]
    fn a_huge_body_is_summarised() {
        let body = format!("<html>\x1b[2J{}", "x".repeat(9 << 20));
        let s = summarise(&body);
        assert!(s.starts_with(&format!("{} bytes, starting \"<html>\\x1b[2J", body.len())));
        assert!(s.len() < 200, "{s}");
        assert_eq!(summarise(" short\n"), "\"short\"");
    }

    #[test]
    fn hosts_are_ip_literals_or_host_names() {
        for ok in [
            "127.0.0.1",
            "::1",
            "fe-1.starrocks.svc.cluster.local",
            "starrocks_fe_1",
            "10",
        ] {
            assert!(is_host(ok), "{ok}");
        }
        for bad in [
            "",
            "bad host",
            "127.0.0.1$(id)",
            "a\nb",
            "-a.b",
            "a..b",
            "a.b.",
            "h{{x}}",
            "名前.例え",
            "[::1]",
            "a:b",
        ] {
            assert!(!is_host(bad), "{bad:?}");
        }
    }

    #[test]
    fn ports_are_parsed_strictly() {
        assert_eq!(port("9050", false), Ok(Some(9050)));
        assert_eq!(port("65535", false), Ok(Some(65535)));
        assert_eq!(port("0", true), Ok(None));
        assert_eq!(port("-1", true), Ok(None));
        for bad in [
            "0",
            "-1",
            "99999",
            "70000",
            " 9050",
            "+9050",
            "9050\n",
            "",
            "000009050",
        ] {
            assert_eq!(port(bad, false), Err(()), "{bad:?}");
        }
    }

    #[test]
    fn versions_have_the_starrocks_shape() {
        for ok in [
            "3.2.11-98f7576",
            "3.3.5",
            "2.5.21-fd7a5b5",
            "3.4.0-rc01-ae0b3e4",
        ] {
            assert!(is_version(ok), "{ok}");
        }
        for bad in [
            "",
            "NULL",
            "3",
            "3.2.11-98f7576\n   curl x | sh",
            "3.2.11 98f7576",
            "3.2.11-",
            "3.2.11-{{x}}",
            "v3.2.11",
        ] {
            assert!(!is_version(bad), "{bad:?}");
        }
    }

    fn row(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn times_are_read_as_starrocks_prints_them() {
        assert_eq!(
            parse_time("2024-01-19 20:03:14"),
            Some(([2024, 1, 19, 20, 3, 14], None))
        );
        assert_eq!(
            parse_time("2024-01-19 20:03:14,123"),
            Some(([2024, 1, 19, 20, 3, 14], Some(123)))
        );
        assert_eq!(parse_time("2024-01-19 20:03:14.5").unwrap().1, Some(500));
        for bad in [
            "NULL",
            "",
            "2024-01-19T20:03:14",
            "2024-01-19 20:03:14,",
            "2024-1-19 20:03:14",
            "2024-01-19 20:03:14; id",
        ] {
            assert_eq!(parse_time(bad), None, "{bad:?}");
        }
        assert_eq!(
            later_than("2024-01-19 20:03:15", "2024-01-19 20:03:14"),
            Some(true)
        );
        assert_eq!(
            later_than("2024-01-19 20:03:14", "2024-01-19 20:03:14"),
            Some(false)
        );
        assert_eq!(
            later_than("2024-01-19 20:03:14,900", "2024-01-19 20:03:14"),
            Some(false),
            "the same second is not later"
        );
        assert_eq!(
            later_than("2024-01-19 20:03:14,900", "2024-01-19 20:03:14,100"),
            Some(true)
        );
        assert_eq!(later_than("NULL", "2024-01-19 20:03:14"), None);
        assert_eq!(
            later_than("2025-01-01 00:00:00", "2024-12-31 23:59:59"),
            Some(true)
        );
    }

    #[test]
    fn a_start_time_that_is_not_a_time_is_invalid() {
        let r = row(&[
            ("IP", "127.0.0.1"),
            ("HeartbeatPort", "9050"),
            ("HttpPort", "8040"),
            ("Alive", "true"),
            ("SystemDecommissioned", "false"),
            ("Version", "3.4.1-abcdef0"),
            ("LastStartTime", "2024-01-19 20:03:14 $(id)"),
            ("StatusCode", "SHUTDOWN"),
        ]);
        let n = node_from_row("be", "SHOW BACKENDS", &r);
        assert_eq!(n.invalid.len(), 1, "{:?}", n.invalid);
        assert!(n.invalid[0].starts_with("LastStartTime"), "{:?}", n.invalid);
        assert_eq!(n.status_code, "SHUTDOWN");
        let r = row(&[
            ("IP", "127.0.0.1"),
            ("QueryPort", "9030"),
            ("HttpPort", "8030"),
            ("Role", "FOLLOWER"),
            ("Alive", "false"),
            ("Version", "NULL"),
            ("StartTime", "NULL"),
        ]);
        let n = node_from_row("fe", "SHOW FRONTENDS", &r);
        assert_eq!(n.start_time, "NULL");
        assert!(n.invalid.iter().all(|i| !i.contains("StartTime")));
    }

    #[test]
    fn a_bad_row_is_named_and_keeps_its_own_id() {
        let r = row(&[
            ("IP", "127.0.0.1"),
            ("HeartbeatPort", "99999"),
            ("HttpPort", "8040"),
            ("Alive", "true"),
            ("SystemDecommissioned", "false"),
            ("Version", "3.2.11-98f7576"),
        ]);
        let n = node_from_row("be", "SHOW BACKENDS", &r);
        assert_eq!(n.id(), "be 127.0.0.1:99999");
        assert_eq!(n.invalid.len(), 1, "{:?}", n.invalid);
        assert!(
            n.problems[0].contains("HeartbeatPort \"99999\""),
            "{:?}",
            n.problems
        );

        let r = row(&[
            ("IP", "127.0.0.1"),
            ("QueryPort", "0"),
            ("HttpPort", "8030"),
            ("Role", "FOLLOWER\n   rm -rf /"),
            ("Alive", "true"),
            ("Version", ""),
        ]);
        let n = node_from_row("fe", "SHOW FRONTENDS", &r);
        assert_eq!(n.port, 0);
        assert_eq!(n.invalid.len(), 1);
        assert!(n.problems.iter().any(|p| p.starts_with("no Version")));
        assert!(
            n.problems[0].contains("\"FOLLOWER\\x0a   rm -rf /\""),
            "{:?}",
            n.problems
        );
    }
}
