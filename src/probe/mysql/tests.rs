//! The client against a hostile server (`hostile`): each misbehaviour ends in its own kind of
//! error, by the deadline or the cap, without a panic and without the password leaving.

use std::sync::atomic::{AtomicBool, Ordering};

use super::hostile::{Hostile, Mode};
use super::*;

const PW: &str = "s3cret-Prod-Pw!";

fn never() -> bool {
    false
}

fn open(port: u16, timeout: Duration) -> Result<Session, SqlError> {
    let limits = Limits {
        rows: MAX_ROWS,
        bytes: MAX_RESULT_BYTES,
    };
    Session::open("127.0.0.1", port, "root", Some(PW), timeout, limits, never)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The packets in `bytes`, as (sequence, payload).
fn packets(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while bytes.len() >= 4 {
        let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], 0]) as usize;
        out.push((bytes[3], bytes[4..4 + len].to_vec()));
        bytes = &bytes[4 + len..];
    }
    assert!(bytes.is_empty(), "a torn packet");
    out
}

#[test]
fn a_greeting_naming_caching_sha2_gets_nothing_at_all() {
    let h = Hostile::start(Mode::Sha2Greeting);
    let e = open(h.port, Duration::from_secs(20)).err().unwrap();
    assert_eq!(
        e,
        SqlError::AuthRefused {
            plugin: "caching_sha2_password".into()
        }
    );
    assert!(e.to_string().contains("no password was sent"), "{e}");
    assert!(h.received().is_empty(), "not even a login packet");
}

#[test]
fn full_authentication_is_refused_and_only_the_scramble_was_sent() {
    let h = Hostile::start(Mode::Sha2FullAuth);
    let e = open(h.port, Duration::from_secs(20)).err().unwrap();
    assert!(
        matches!(&e, SqlError::AuthRefused { plugin } if plugin.starts_with("caching_sha2_password")),
        "{e:?}"
    );
    let got = h.received();
    assert!(!contains(&got, PW.as_bytes()), "the password left in clear");
    let p = packets(&got);
    assert_eq!(p.len(), 1, "the login packet and nothing after it: {p:?}");
    assert!(contains(&p[0].1, b"mysql_native_password\0"));
    assert!(
        contains(
            &p[0].1,
            &proto::native_scramble(Some(PW), b"abcdefghijklmnopqrst")
        ),
        "the login carries the native scramble"
    );
}

#[test]
fn a_switch_to_caching_sha2_with_a_malformed_key_is_an_error_not_a_panic() {
    let h = Hostile::start(Mode::MalformedKey);
    let e = open(h.port, Duration::from_secs(20)).err().unwrap();
    assert_eq!(
        e,
        SqlError::AuthRefused {
            plugin: "caching_sha2_password".into()
        }
    );
    let got = h.received();
    assert!(!contains(&got, PW.as_bytes()));
    assert_eq!(packets(&got).len(), 1, "nothing answers the switch");
}

#[test]
fn a_trickling_greeting_ends_at_the_exchange_deadline() {
    let h = Hostile::start(Mode::Trickle);
    let e = open(h.port, Duration::from_millis(400)).err().unwrap();
    assert!(
        matches!(
            e,
            SqlError::Timeout {
                stage: "connect and login",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("within 400ms"), "{e}");
    h.received();
}

#[test]
fn a_trickling_answer_ends_at_the_statement_deadline() {
    let h = Hostile::start(Mode::TrickleAnswer);
    let mut s = open(h.port, Duration::from_millis(400)).unwrap();
    let e = s.query("SHOW FRONTENDS").unwrap_err();
    assert!(
        matches!(
            e,
            SqlError::Timeout {
                stage: "statement",
                ..
            }
        ),
        "{e:?}"
    );
    drop(s);
    h.received();
}

#[test]
fn a_server_that_never_answers_ends_at_the_deadline() {
    let h = Hostile::start(Mode::Hang);
    let e = open(h.port, Duration::from_millis(300)).err().unwrap();
    assert!(matches!(e, SqlError::Timeout { .. }), "{e:?}");
    assert!(h.received().is_empty());
}

static CANCELLED: AtomicBool = AtomicBool::new(false);

fn cancelled() -> bool {
    CANCELLED.load(Ordering::SeqCst)
}

#[test]
fn the_cancel_check_ends_a_wait_long_before_the_deadline() {
    let h = Hostile::start(Mode::Hang);
    let port = h.port;
    let client = std::thread::spawn(move || {
        let limits = Limits {
            rows: 10,
            bytes: 1 << 20,
        };
        let timeout = Duration::from_secs(3600);
        Session::open("127.0.0.1", port, "root", None, timeout, limits, cancelled).err()
    });
    h.wait_accepted();
    CANCELLED.store(true, Ordering::SeqCst);
    assert_eq!(client.join().unwrap(), Some(SqlError::Interrupted));
    h.received();
}

#[test]
fn endless_rows_stop_at_the_row_cap_and_close_the_session() {
    let h = Hostile::start(Mode::EndlessRows { value_len: 8 });
    let limits = Limits {
        rows: 1000,
        bytes: MAX_RESULT_BYTES,
    };
    let timeout = Duration::from_secs(120);
    let mut s = Session::open("127.0.0.1", h.port, "root", None, timeout, limits, never).unwrap();
    let e = s.query("SHOW FRONTENDS").unwrap_err();
    assert_eq!(e, SqlError::TooLarge("more than 1000 rows".into()));
    assert!(
        matches!(s.query("SHOW BACKENDS"), Err(SqlError::Transport(m)) if m.contains("closed after an earlier failure"))
    );
    drop(s);
    h.received();
}

#[test]
fn endless_rows_stop_at_the_memory_cap_before_the_row_cap() {
    for value_len in [8, 60_000] {
        let h = Hostile::start(Mode::EndlessRows { value_len });
        let mut s = open(h.port, Duration::from_secs(120)).unwrap();
        let e = s.query("SHOW FRONTENDS").unwrap_err();
        assert_eq!(e, SqlError::TooLarge("more than 64 MiB of rows".into()));
        drop(s);
        h.received();
    }
}

#[test]
fn a_result_set_is_read_with_nulls_and_the_session_stays_usable() {
    let h = Hostile::start(Mode::Normal);
    let mut s = open(h.port, Duration::from_secs(20)).unwrap();
    for _ in 0..2 {
        let rows = s.query("SHOW FRONTENDS").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["IP"], "127.0.0.1");
        assert_eq!(rows[0]["Role"], "FOLLOWER");
        assert_eq!(
            (rows[1]["IP"].as_str(), rows[1]["Role"].as_str()),
            ("", "x")
        );
    }
    drop(s);
    let p = packets(&h.received());
    assert_eq!(p.last().unwrap(), &(0, vec![0x01]), "COM_QUIT at the end");
}

#[test]
fn a_timeout_beyond_the_clock_is_no_panic() {
    let h = Hostile::start(Mode::Normal);
    let mut s = open(h.port, Duration::MAX).unwrap();
    assert_eq!(s.query("SHOW FRONTENDS").unwrap().len(), 2);
    drop(s);
    h.received();
}

#[test]
fn a_panic_inside_the_client_becomes_an_internal_error() {
    let r: Result<(), SqlError> = contained(|| panic!("boom"));
    assert_eq!(r, Err(SqlError::Internal("boom".into())));
    assert!(!panic_is_contained(), "reset after the call");
}

#[test]
fn the_scramble_is_the_one_the_simulated_fe_checks() {
    let salt = b"12345678901234567890";
    assert_eq!(
        proto::native_scramble(Some("pw"), salt),
        starrocks_sim::mysql::native_scramble("pw", salt)
    );
    assert!(proto::native_scramble(None, salt).is_empty());
    assert!(proto::native_scramble(Some(""), salt).is_empty());
}

#[test]
fn truncated_or_lying_packets_are_errors_not_panics() {
    let mut greeting = vec![10u8];
    greeting.extend_from_slice(b"5.1.0\0\x07\0\0\0abcdefgh\0\x0c\xa2\x21\0\0\x08\x00\x15");
    greeting.extend_from_slice(&[0; 10]);
    greeting.extend_from_slice(b"ijklmnopqrst\0mysql_native_password\0");
    let hs = proto::parse_handshake(&greeting).unwrap();
    assert_eq!(hs.salt, b"abcdefghijklmnopqrst");
    assert_eq!(hs.plugin.as_deref(), Some("mysql_native_password"));
    for n in 0..greeting.len() {
        let _ = proto::parse_handshake(&greeting[..n]);
    }
    for p in [
        &[][..],
        &[0xff],
        &[0xff, 0x15],
        &[0xfe],
        &[0x01],
        &[0xfc, 0xff],
        &[0xfe, 1, 2, 3],
        &[0xfd, 0xff, 0xff, 0xff],
    ] {
        let _ = proto::parse_auth_reply(p);
        let _ = proto::parse_query_head(p);
        let _ = proto::column_name(p);
        let _ = proto::row_values(p, 3);
        let _ = proto::parse_err(p);
        let _ = proto::more_results(p);
    }
    assert_eq!(
        proto::parse_err(b"\xff\x15\x04#28000Access denied"),
        SqlError::Server {
            code: 1045,
            state: "28000".into(),
            message: "Access denied".into()
        }
    );
}
