//! Diagnostics: what the tool did and why, apart from the human summary and the reports.
//!
//! A failed CI run must be understandable afterwards without running it again, and a person at a
//! terminal wants to see a long step move. So there are three outlets, all best effort (a full disk
//! or a closed stderr never fails the run, which is why nothing here returns an error):
//!
//! - `tracing` events on stderr: warnings by default, `-v` the steps (info), `-vv` everything
//!   (debug); `RUST_LOG` overrides both.
//! - the same events at debug level in `<run folder>/sr-rehearse.log`, kept or removed with the
//!   workspace per `--keep`. Events before the run folder exists (the preflight) wait in memory and
//!   are written first. The file is created new inside the run folder, never through a link, so the
//!   log cannot write outside the workspace.
//! - progress bars and spinners ([`Progress`]) on a terminal only: never with `-q`, with `CI` set,
//!   or when stderr is a pipe or a file, so logs of CI hold no control characters. Under `CI` a
//!   long wait prints plain lines instead ([`CiLines`]): one per phase it reaches, and one at a
//!   steady interval, since CI systems kill a step that stays silent.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The run log's file name inside the run folder.
pub const LOG_FILE: &str = "sr-rehearse.log";

/// Events kept in memory before a run folder exists; past this they are dropped (a preflight
/// writes a few dozen lines, so only a runaway loop reaches it).
const PENDING_MAX: usize = 1 << 20;

/// Where the run log goes: the open file, or the lines waiting for one.
struct RunLog {
    file: Option<(PathBuf, File)>,
    pending: Vec<u8>,
}

static RUN_LOG: Mutex<RunLog> = Mutex::new(RunLog {
    file: None,
    pending: Vec::new(),
});

/// The progress bar on screen, if any: stderr events are printed around it, not through it.
static ACTIVE_BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while logging must not take the next log line (or the teardown's) with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Installs the global subscriber: stderr at the level `-v`/`-q`/`RUST_LOG` ask for, the run log
/// at debug. Calling it twice keeps the first (tests that run commands in-process).
pub fn init(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => LevelFilter::ERROR,
        (false, 0) => LevelFilter::WARN,
        (false, 1) => LevelFilter::INFO,
        (false, _) => LevelFilter::DEBUG,
    };
    let stderr_filter = match std::env::var("RUST_LOG") {
        Ok(s) if !s.trim().is_empty() => EnvFilter::try_new(&s).unwrap_or_else(|e| {
            crate::output::err(&format!(
                "sr-rehearse: RUST_LOG={s:?} is not a valid filter ({e}); using the -v level\n"
            ));
            EnvFilter::new(level.to_string())
        }),
        _ => EnvFilter::new(level.to_string()),
    };
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(StderrWriter)
        .with_ansi(false)
        .with_target(verbose > 1)
        .without_time()
        .log_internal_errors(false)
        .with_filter(stderr_filter);
    let file = tracing_subscriber::fmt::layer()
        .with_writer(RunLogWriter)
        .with_ansi(false)
        .with_thread_names(true)
        .log_internal_errors(false)
        .with_filter(EnvFilter::new("sr_rehearse=debug,warn"));
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init();
}

/// Starts writing the run log into `run_dir` (a no-op when it already does). Events logged before
/// are written first.
pub fn attach(run_dir: &Path) {
    let mut log = lock(&RUN_LOG);
    if log.file.as_ref().is_some_and(|(d, _)| d == run_dir) {
        return;
    }
    use std::os::unix::fs::OpenOptionsExt;
    let opened = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(run_dir.join(LOG_FILE));
    if let Ok(mut f) = opened {
        let pending = std::mem::take(&mut log.pending);
        let _ = f.write_all(&pending);
        log.file = Some((run_dir.to_path_buf(), f));
    }
}

/// Stops writing the run log (before its folder is removed or handed over as kept).
pub fn detach() {
    let mut log = lock(&RUN_LOG);
    if let Some((_, mut f)) = log.file.take() {
        let _ = f.flush();
    }
    log.pending.clear();
}

/// `tracing`'s writer for the run log.
struct RunLogWriter;

impl Write for RunLogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut guard = lock(&RUN_LOG);
        let log = &mut *guard;
        match &mut log.file {
            Some((_, f)) => {
                let _ = f.write_all(buf);
            }
            None if log.pending.len() + buf.len() <= PENDING_MAX => {
                log.pending.extend_from_slice(buf)
            }
            None => {}
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for RunLogWriter {
    type Writer = RunLogWriter;
    fn make_writer(&'a self) -> Self::Writer {
        RunLogWriter
    }
}

/// `tracing`'s writer for stderr: a closed stderr is ignored (see [`crate::output`]), and a bar on
/// screen is lifted while the line is printed.
struct StderrWriter;

impl Write for StderrWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        match lock(&ACTIVE_BAR).as_ref() {
            Some(bar) => bar.suspend(|| crate::output::err(&text)),
            None => crate::output::err(&text),
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for StderrWriter {
    type Writer = StderrWriter;
    fn make_writer(&'a self) -> Self::Writer {
        StderrWriter
    }
}

/// Whether progress may be drawn: a person is watching stderr, and did not ask for quiet.
pub fn progress_enabled(quiet: bool) -> bool {
    !quiet
        && std::io::stderr().is_terminal()
        && std::env::var_os("CI").is_none_or(|v| v.is_empty())
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

/// A progress bar or spinner on stderr, or nothing at all where [`progress_enabled`] says no.
/// Cleared from the screen when dropped, so the step line that follows starts on a clean line.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar over `total` bytes.
    pub fn bytes(what: &str, total: u64, quiet: bool) -> Progress {
        let style = ProgressStyle::with_template(
            "  {msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
        )
        .map(|s| s.progress_chars("=> "));
        Progress::start(ProgressBar::new(total), style, what, quiet)
    }

    /// A spinner for a wait whose end is not known; `set_message` says what it waits for.
    pub fn spinner(what: &str, quiet: bool) -> Progress {
        let style = ProgressStyle::with_template("  {spinner} {msg} ({elapsed})");
        Progress::start(ProgressBar::new_spinner(), style, what, quiet)
    }

    fn start(
        bar: ProgressBar,
        style: Result<ProgressStyle, indicatif::style::TemplateError>,
        what: &str,
        quiet: bool,
    ) -> Progress {
        if !progress_enabled(quiet) {
            return Progress(None);
        }
        bar.set_draw_target(ProgressDrawTarget::stderr());
        if let Ok(s) = style {
            bar.set_style(s);
        }
        bar.set_message(what.to_string());
        // Drawn at once: a step that ends quickly still showed what it was doing.
        bar.tick();
        *lock(&ACTIVE_BAR) = Some(bar.clone());
        Progress(Some(bar))
    }

    /// Bytes done so far.
    pub fn set_position(&self, done: u64) {
        if let Some(b) = &self.0 {
            b.set_position(done);
        }
    }

    /// What is being waited for now; redrawn only when it changes.
    pub fn set_message(&self, msg: &str) {
        if let Some(b) = &self.0 {
            if b.message() != msg {
                b.set_message(msg.to_string());
            }
            b.tick();
        }
    }

    /// Moves a spinner on (drawing is rate limited by indicatif).
    pub fn tick(&self) {
        if let Some(b) = &self.0 {
            b.tick();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = self.0.take() {
            b.finish_and_clear();
            *lock(&ACTIVE_BAR) = None;
        }
    }
}

/// A duration for a progress message, as `1m 30s`.
/// Plain progress lines for a long wait under `CI` (never with `-q`, never where a spinner is
/// drawn): a line when the phase changes, and one every `SR_REHEARSE_PROGRESS_EVERY` (30 s by
/// default) saying what the wait is on.
pub struct CiLines {
    on: bool,
    what: String,
    every: Duration,
    started: std::time::Instant,
    last: std::time::Instant,
    phase: String,
}

impl CiLines {
    pub fn new(what: &str, quiet: bool) -> CiLines {
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
        let every = std::env::var("SR_REHEARSE_PROGRESS_EVERY")
            .ok()
            .and_then(|v| humantime::parse_duration(&v).ok())
            .filter(|d| !d.is_zero())
            .unwrap_or(Duration::from_secs(30));
        let now = std::time::Instant::now();
        CiLines {
            on: ci && !quiet,
            what: what.to_string(),
            every,
            started: now,
            last: now,
            phase: String::new(),
        }
    }

    fn line(&mut self, text: &str) {
        crate::output::err(&format!(
            "{}: {text} (after {})\n",
            self.what,
            short(self.started.elapsed())
        ));
        self.last = std::time::Instant::now();
    }

    /// The phase the wait reached; printed when it differs from the last one.
    pub fn phase(&mut self, phase: &str) {
        if self.on && phase != self.phase {
            self.phase = phase.to_string();
            self.line(phase);
        }
    }

    /// Called on every round of the wait: a line when the interval has passed since the last.
    pub fn tick(&mut self, waiting_for: &str) {
        if self.on && self.last.elapsed() >= self.every {
            let text = if self.phase.is_empty() {
                format!("still waiting: {waiting_for}")
            } else {
                format!("still waiting ({}): {waiting_for}", self.phase)
            };
            self.line(&text);
        }
    }
}

pub fn short(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the run log is process-wide state.
    #[test]
    fn run_log_holds_early_lines_and_never_follows_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        std::fs::create_dir(&run).unwrap();
        let _ = RunLogWriter.write(b"before the folder\n");
        attach(&run);
        let _ = RunLogWriter.write(b"inside\n");
        detach();
        let _ = RunLogWriter.write(b"after the run\n");
        let log = std::fs::read_to_string(run.join(LOG_FILE)).unwrap();
        assert_eq!(log, "before the folder\ninside\n");

        // A link planted where the log goes is not followed: nothing is written outside.
        let other = tmp.path().join("other");
        std::fs::create_dir(&other).unwrap();
        let outside = tmp.path().join("outside.txt");
        std::fs::write(&outside, "").unwrap();
        std::os::unix::fs::symlink(&outside, other.join(LOG_FILE)).unwrap();
        attach(&other);
        let _ = RunLogWriter.write(b"secret\n");
        detach();
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "");
    }
}
