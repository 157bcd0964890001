//! Hosts reached over SSH, for the tests that run commands "on" a simulated host: one `sshd` per
//! loopback address, each setting `STARROCKS_SIM_HOST` to its address for every session it opens.
//!
//! A simulated cluster with `make-cluster --hosts` puts each node on a loopback address of its own;
//! a command sent over SSH to that address runs with `STARROCKS_SIM_HOST` set (sshd's `SetEnv`,
//! OpenSSH 7.8+), and a simulated node whose address is another refuses to start there and says
//! so in the cluster's `wrong-host.log`. So a test (and the playbook `upgrade-plan` writes, run by
//! `ansible-playbook` against these hosts) can prove that each step ran on the node's own host.
//!
//! Everything lives in the test's folder: the host key and the client key (made here with
//! `ssh-keygen`, never /etc/ssh), `authorized_keys`, each sshd's configuration and pid file. The
//! sshds share one leased port (each binds its own address on it, so one `ansible_port` serves
//! every host), run in the foreground (`-D -e`) as children of the test, and are killed when the
//! [`SshHosts`] is dropped. Without `sshd` or `ssh-keygen` the test is skipped (`skip`), which
//! `SR_REHEARSE_REQUIRE_ALL=1` turns into a failure.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use super::ports::{free_ports, Lease};
use super::skip::skip;
use super::wait::wait_for_or_none;

/// Where Debian's openssh-server installs the daemon (`scripts/install-deps.sh` installs it).
const SSHD: &str = "/usr/sbin/sshd";

/// How long each sshd may take to accept connections and log a first session in.
const SSHD_READY: Duration = Duration::from_secs(20);

/// The sshds of a test, one per address, killed on drop.
pub struct SshHosts {
    dir: PathBuf,
    port: u16,
    user: String,
    key: PathBuf,
    addrs: Vec<String>,
    children: Vec<Child>,
    /// The port the sshds listen on, held until they are gone (fields drop after `drop` ran).
    _lease: Lease,
}

impl Drop for SshHosts {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn tool(name: &str) -> Option<PathBuf> {
    if name.starts_with('/') {
        return Path::new(name).is_file().then(|| PathBuf::from(name));
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// The interpreter `ansible-playbook --version` names (`python version = ... (/path/python)`).
fn ansible_python() -> Option<String> {
    let out = Command::new("ansible-playbook")
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("python version"))?;
    let path = line.rsplit_once('(')?.1.trim_end().strip_suffix(')')?;
    Path::new(path).is_file().then(|| path.to_string())
}

/// `text` as one word of a POSIX shell command line.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

fn keygen(keygen: &Path, file: &Path) {
    let out = Command::new(keygen)
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "sr-rehearse-test",
            "-f",
        ])
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ssh-keygen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl SshHosts {
    /// Starts one sshd per address in `addrs` on one leased port, with keys made in `dir`; None
    /// (after `skip`) when this machine has no sshd or ssh-keygen.
    pub fn start(dir: &Path, addrs: &[&str]) -> Option<SshHosts> {
        let test = "SshHosts::start";
        let (Some(sshd), Some(ssh_keygen), Some(_)) = (tool(SSHD), tool("ssh-keygen"), tool("ssh"))
        else {
            skip(test, "sshd, ssh or ssh-keygen is not installed (scripts/install-deps.sh installs openssh-server)");
            return None;
        };
        // sshd refuses to start without its privilege separation folder, which a service
        // manager makes at boot (install-deps.sh makes it where none runs).
        if nix::unistd::Uid::effective().is_root() && !Path::new("/run/sshd").is_dir() {
            skip(
                test,
                "/run/sshd is missing (scripts/install-deps.sh makes it)",
            );
            return None;
        }
        let dir = dir.join("ssh");
        std::fs::create_dir_all(&dir).unwrap();
        let host_key = dir.join("host_ed25519_key");
        let key = dir.join("id_ed25519");
        keygen(&ssh_keygen, &host_key);
        keygen(&ssh_keygen, &key);
        let authorized = dir.join("authorized_keys");
        std::fs::copy(key.with_extension("pub"), &authorized).unwrap();
        let user = nix::unistd::User::from_uid(nix::unistd::Uid::effective())
            .ok()
            .flatten()
            .map(|u| u.name)
            .expect("the test's user has a name");
        let lease = free_ports(1);
        let port = lease.ports()[0];
        let mut hosts = SshHosts {
            dir: dir.clone(),
            port,
            user,
            key,
            addrs: addrs.iter().map(|a| a.to_string()).collect(),
            children: Vec::new(),
            _lease: lease,
        };
        for addr in addrs {
            let conf = dir.join(format!("sshd-{addr}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "ListenAddress {addr}:{port}\n\
                     HostKey {}\n\
                     PidFile {}\n\
                     AuthorizedKeysFile {}\n\
                     StrictModes no\n\
                     UsePAM no\n\
                     PermitRootLogin prohibit-password\n\
                     PubkeyAuthentication yes\n\
                     PasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\n\
                     SetEnv STARROCKS_SIM_HOST={addr}\n\
                     Subsystem sftp internal-sftp\n\
                     LogLevel ERROR\n",
                    host_key.display(),
                    dir.join(format!("sshd-{addr}.pid")).display(),
                    authorized.display(),
                ),
            )
            .unwrap();
            let log = std::fs::File::create(dir.join(format!("sshd-{addr}.log"))).unwrap();
            let child = Command::new(&sshd)
                .arg("-D")
                .arg("-e")
                .arg("-f")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            hosts.children.push(child);
        }
        for addr in addrs {
            hosts.wait_ready(addr);
        }
        Some(hosts)
    }

    /// Waits until the sshd of `addr` accepts connections and logs a session in, or panics with
    /// its log.
    fn wait_ready(&self, addr: &str) {
        let sock: SocketAddr = format!("{addr}:{}", self.port).parse().unwrap();
        let accepted = wait_for_or_none(SSHD_READY, || {
            TcpStream::connect_timeout(&sock, Duration::from_millis(200))
                .ok()
                .map(|_| ())
        });
        let log = || std::fs::read_to_string(self.dir.join(format!("sshd-{addr}.log")));
        assert!(
            accepted.is_some(),
            "sshd on {sock} never accepted a connection: {:?}",
            log()
        );
        let out = self.run(addr, "true");
        assert!(
            out.status.success(),
            "ssh to {sock} failed: {}\nsshd: {:?}",
            String::from_utf8_lossy(&out.stderr),
            log()
        );
    }

    /// The addresses served.
    pub fn addrs(&self) -> &[String] {
        &self.addrs
    }

    /// The `ssh` arguments that reach `addr` with the test's key, trusting the test's host key
    /// without a known_hosts file, and never asking anything.
    pub fn ssh_args(&self, addr: &str) -> Vec<String> {
        vec![
            "-F".into(),
            "/dev/null".into(),
            "-p".into(),
            self.port.to_string(),
            "-i".into(),
            self.key.display().to_string(),
            "-o".into(),
            "IdentitiesOnly=yes".into(),
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            "StrictHostKeyChecking=no".into(),
            "-o".into(),
            "UserKnownHostsFile=/dev/null".into(),
            "-o".into(),
            "LogLevel=ERROR".into(),
            "-o".into(),
            "ConnectTimeout=10".into(),
            format!("{}@{addr}", self.user),
        ]
    }

    /// Runs a shell command line on `addr` over SSH.
    pub fn run(&self, addr: &str, command: &str) -> Output {
        Command::new("ssh")
            .args(self.ssh_args(addr))
            .arg(command)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// The extra arguments `ansible-playbook` needs to reach these hosts: the port, the user and
    /// the key, and the Python that runs ansible-playbook itself as the hosts' interpreter (the
    /// hosts are this machine; the one a login shell finds may be a version manager's shim that
    /// works only in an interactive shell). Each inventory host's `ansible_host` is its address.
    pub fn ansible_args(&self) -> Vec<String> {
        let mut args = vec![
            "-e".into(),
            format!("ansible_port={}", self.port),
            "-e".into(),
            format!("ansible_user={}", self.user),
            "-e".into(),
            format!("ansible_ssh_private_key_file={}", self.key.display()),
        ];
        if let Some(python) = ansible_python() {
            args.push("-e".into());
            args.push(format!("ansible_python_interpreter={python}"));
        }
        args
    }

    /// The environment `ansible-playbook` needs beside [`Self::ansible_args`]: the test's host key
    /// is not in any known_hosts file.
    pub fn ansible_env(&self) -> Vec<(String, String)> {
        vec![
            ("ANSIBLE_HOST_KEY_CHECKING".into(), "False".into()),
            (
                "ANSIBLE_SSH_ARGS".into(),
                "-o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes".into(),
            ),
        ]
    }
}
