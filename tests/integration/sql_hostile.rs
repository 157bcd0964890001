//! `check` against an FE whose MySQL port misbehaves: each run ends by its own deadline or a
//! signal, with its documented exit code, and never hands the password to a server that asks for
//! another authentication method.

use std::process::{Command, Stdio};
use std::time::Duration;

use super::util::{kill, tool_bin, wait_exit, HostileSqlFe, Signal, SqlMode};

/// A running `check`, killed if the test fails before it exits, so no process outlives the test.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    fn spawn(cmd: &mut Command) -> Running {
        Running(
            cmd.stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        )
    }

    /// The exit code, stdout and stderr, waiting at most [`GUARD`].
    fn finish(&mut self) -> (Option<i32>, String) {
        let status = wait_exit(&mut self.0, GUARD);
        // The verdict line is on stdout, diagnostics on stderr: both, in that order (a check's
        // output is far below a pipe's buffer, so reading after the exit cannot block it).
        let mut err = String::new();
        std::io::Read::read_to_string(self.0.stdout.as_mut().unwrap(), &mut err).unwrap();
        std::io::Read::read_to_string(self.0.stderr.as_mut().unwrap(), &mut err).unwrap();
        (status.code(), err)
    }
}

/// A guard against a hang of the tool, far beyond what any run below needs; never a sync point.
const GUARD: Duration = Duration::from_secs(90);

#[test]
fn check_against_a_trickling_fe_ends_by_its_wait() {
    let fe = HostileSqlFe::start(SqlMode::Trickle);
    let mut check = Running::spawn(Command::new(tool_bin()).args(fe.check_args()).args([
        "--probe-timeout",
        "1s",
        "--wait",
        "2s",
    ]));
    // `--wait` ran out before the FE answered: timed out (4), the reason on the way.
    let (code, err) = check.finish();
    assert_eq!(code, Some(4), "{err}");
    assert!(
        err.contains("no complete answer within 1s (connect and login)"),
        "{err}"
    );
}

#[test]
fn sigterm_during_a_stuck_sql_probe_ends_check_with_143() {
    let fe = HostileSqlFe::start(SqlMode::Hang);
    let mut check = Running::spawn(
        Command::new(tool_bin())
            .args(fe.check_args())
            .args(["--probe-timeout", "10m"]),
    );
    fe.wait_accepted(GUARD);
    assert!(kill(check.0.id() as i32, Signal::SIGTERM));
    let (code, err) = check.finish();
    assert_eq!(code, Some(143), "{err}");
    assert!(err.contains("interrupted by signal 15"), "{err}");
}

#[test]
fn check_sends_no_password_to_an_fe_asking_for_caching_sha2() {
    let fe = HostileSqlFe::start(SqlMode::Sha2);
    let (code, err) = Running::spawn(
        Command::new(tool_bin())
            .args(fe.check_args())
            .args(["--password-env", "SR_TEST_PW", "--probe-timeout", "20s"])
            .args(["--wait", "20s"])
            .env("SR_TEST_PW", "s3cret-Prod-Pw!"),
    )
    .finish();
    assert_eq!(code, Some(2), "bad input, not retried: {err}");
    assert!(
        err.contains("asked for the authentication method caching_sha2_password"),
        "{err}"
    );
    assert!(err.contains("no password was sent"), "{err}");
    fe.wait_closed(GUARD);
    assert!(fe.received().is_empty(), "not even a login packet");
}

#[test]
fn a_panic_in_the_sql_client_is_exit_3_with_one_sentence() {
    let fe = HostileSqlFe::start(SqlMode::Hang);
    let (code, err) = Running::spawn(
        Command::new(tool_bin())
            .args(fe.check_args())
            .args(["--probe-timeout", "5s"])
            .env("SR_REHEARSE_TEST_PANIC_AT", "mysql"),
    )
    .finish();
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("internal error in the MySQL client (test panic requested at mysql); this is a bug of sr-rehearse"),
        "{err}"
    );
    assert!(!err.contains("exit 101"), "{err}");
}

#[test]
fn check_against_endless_rows_stops_at_the_cap() {
    let fe = HostileSqlFe::start(SqlMode::EndlessRows);
    let (code, err) = Running::spawn(
        Command::new(tool_bin())
            .args(fe.check_args())
            .args(["--probe-timeout", "60s"]),
    )
    .finish();
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("more than 64 MiB of rows, more than sr-rehearse reads from one statement"),
        "{err}"
    );
}
