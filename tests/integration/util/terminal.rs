//! Running the tool with its stderr on a pseudo-terminal, the only way a test can see what a user at
//! a terminal sees (progress bars, colour) while stdout stays a pipe.

use std::fs;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};

use super::wait::wait_exit;

/// Runs `cmd` with its stderr on a fresh pseudo-terminal and returns what it wrote there. Only for
/// runs that leave no process behind (a sandbox): the read ends when the last holder of the
/// terminal is gone, so a daemon the run leaves running (an in-place BE) would block it.
pub fn stderr_on_a_terminal(mut cmd: Command) -> (Option<i32>, String, String) {
    let pty = nix::pty::openpty(None, None).unwrap();
    cmd.stderr(Stdio::from(pty.slave)).stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    let mut master = fs::File::from(pty.master);
    // Read while it runs: a full pty buffer would block the tool.
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match master.read(&mut buf) {
                Ok(0) | Err(_) => break, // EIO once the last writer is gone
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
        let _ = master.as_raw_fd();
        all
    });
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let st = wait_exit(&mut child, std::time::Duration::from_secs(60));
    let err = reader.join().unwrap();
    (st.code(), out, String::from_utf8_lossy(&err).into_owned())
}
