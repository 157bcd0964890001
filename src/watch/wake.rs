//! Waking a decision loop the moment something it watches changes.
//!
//! The FE and BE decisions wait for log lines, a port and a process. Sleeping a fixed interval
//! between looks puts that interval on the path from "ready" to the verdict; here the loop blocks
//! on inotify events of the log folders instead, so a new line wakes it at once, and the caller
//! passes the longest it may sleep (for what no file event announces: a port that starts to
//! accept, a process that exits). Where inotify is unavailable (its limits reached), the wait
//! falls back to a short sleep; the loop stays correct, only slower.

use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

/// The sleep used when inotify cannot be had.
const FALLBACK: Duration = Duration::from_millis(10);

pub struct Wake {
    inotify: Option<Inotify>,
}

impl Wake {
    /// Watches `dirs` (those that exist) for files created, written or moved in.
    pub fn new(dirs: &[&Path]) -> Wake {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .ok()
            .filter(|i| {
                let flags = AddWatchFlags::IN_MODIFY
                    | AddWatchFlags::IN_CREATE
                    | AddWatchFlags::IN_MOVED_TO
                    | AddWatchFlags::IN_CLOSE_WRITE;
                let mut watched = 0;
                for d in dirs {
                    if i.add_watch(*d, flags).is_ok() {
                        watched += 1;
                    }
                }
                watched > 0
            });
        Wake { inotify }
    }

    /// Whether a file event (rather than a timer) wakes the loop.
    pub fn is_event_driven(&self) -> bool {
        self.inotify.is_some()
    }

    /// Blocks until a watched folder changes or `max` has passed; returns whether a change woke it.
    /// Every event pending is consumed, so one burst of lines wakes the loop once.
    pub fn wait(&mut self, max: Duration) -> bool {
        let Some(i) = &self.inotify else {
            std::thread::sleep(max.min(FALLBACK));
            return false;
        };
        let deadline = Instant::now() + max;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            // Round up so a sub-millisecond remainder does not become a busy loop of 0 ms polls.
            let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
            let mut fds = [PollFd::new(i.as_fd(), PollFlags::POLLIN)];
            match poll(
                &mut fds,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
            ) {
                Ok(0) => return false,
                Ok(_) => {
                    while i.read_events().is_ok_and(|e| !e.is_empty()) {}
                    return true;
                }
                Err(nix::errno::Errno::EINTR) if Instant::now() < deadline => continue,
                Err(_) => {
                    std::thread::sleep(left.min(FALLBACK));
                    return false;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_write_wakes_the_wait_and_silence_lets_it_time_out() {
        let d = tempfile::tempdir().unwrap();
        let mut w = Wake::new(&[d.path()]);
        assert!(w.is_event_driven(), "inotify on a temp dir");
        assert!(!w.wait(Duration::from_millis(1)), "nothing changed yet");
        let path = d.path().join("fe.log");
        let writer = std::thread::spawn(move || {
            let mut f = std::fs::File::create(path).unwrap();
            f.write_all(b"line\n").unwrap();
        });
        // The write wakes it long before this deadline; a timer would not report a change.
        assert!(w.wait(Duration::from_secs(30)));
        writer.join().unwrap();
    }

    #[test]
    fn missing_folders_fall_back_to_a_timer() {
        let d = tempfile::tempdir().unwrap();
        let mut w = Wake::new(&[&d.path().join("not-yet")]);
        assert!(!w.is_event_driven());
        assert!(!w.wait(Duration::from_millis(1)));
    }
}
