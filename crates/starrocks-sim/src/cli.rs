//! The simulator's command line: `make-meta`, `make-package`, `make-jdk`, and the servers.
//!
//! Started as `java` or `starrocks_be` (the names a simulated package gives its hard links to this
//! binary) it plays the JVM of an FE or the BE server; under any other name it takes commands.

use std::path::PathBuf;

use super::meta::{make_meta, MetaSpec};
use super::package::{make_jdk, make_jre, make_package, PackageSpec, Role};
use super::{be, fe, Fault};
use clap::{Parser, Subcommand};
use starrocks_common::version::Version;

#[derive(Parser)]
#[command(
    name = "starrocks-sim",
    version,
    about = "A StarRocks FE/BE simulator for rehearsal tests"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

// Parsed once per process and matched at once: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Cmd {
    /// Write a Leader FE meta dir (image/VERSION, image/ROLE, image.<N>, bdb/*.jdb) for a version.
    MakeMeta {
        #[arg(long)]
        version: Version,
        #[arg(long)]
        out: PathBuf,
        /// Frontends recorded (this node first), on 192.0.2.11, 192.0.2.12, … port 9010.
        #[arg(long, default_value_t = 1)]
        fes: usize,
        /// Backends recorded, on 192.0.2.101, 192.0.2.102, … port 9050.
        #[arg(long, default_value_t = 3)]
        backends: usize,
        /// Record this frontend instead (HOST:EDIT_LOG_PORT, repeatable; the first is this node).
        #[arg(long = "frontend")]
        frontend: Vec<String>,
        /// Record this backend instead (HOST:HEARTBEAT_PORT, repeatable).
        #[arg(long = "backend")]
        backend: Vec<String>,
        #[arg(long)]
        cluster_id: Option<i32>,
        #[arg(long)]
        token: Option<String>,
        #[arg(long, default_value = "shared_nothing")]
        run_mode: String,
        /// ROLE of this node: FOLLOWER (a leader's ROLE says FOLLOWER) or OBSERVER.
        #[arg(long, default_value = "FOLLOWER")]
        role: String,
        /// Approximate total bytes of image and journal files (e.g. 2147483648 for 2 GiB).
        #[arg(long, default_value_t = 0)]
        size: u64,
        /// Meta version in the image header (default: what the version writes; 3 for 2.5/3.0, 4 after).
        #[arg(long)]
        meta_version: Option<u32>,
        #[arg(long, default_value = "")]
        root_password: String,
        /// Record a table as DB.TABLE:REPLICATION_NUM (repeatable).
        #[arg(long = "table")]
        table: Vec<String>,
        /// Record an account besides root as NAME:PASSWORD, with no privilege (repeatable).
        #[arg(long = "user")]
        user: Vec<String>,
        #[arg(long, default_value_t = 120_000)]
        journal_id: u64,
    },
    /// Write an unpacked release folder (fe/ or be/) whose scripts start this simulator.
    MakePackage {
        #[arg(long, value_enum)]
        role: Role,
        #[arg(long)]
        version: Version,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_enum)]
        fault: Option<Fault>,
        /// Seconds for time-based faults (slow start, crash after ready, slow tablet load).
        #[arg(long, default_value_t = 5)]
        fault_secs: u64,
        /// Leader heartbeat interval to backends, in milliseconds.
        #[arg(long, default_value_t = 5000)]
        heartbeat_ms: u64,
        /// Interval of the "It took too much time" warning during a hung election.
        #[arg(long, default_value_t = 60)]
        too_much_time_secs: u64,
    },
    /// Write a stand-in JDK (release file and bin/java) of the given major version.
    MakeJdk {
        #[arg(long)]
        major: u32,
        #[arg(long)]
        out: PathBuf,
        /// Leave out bin/javac: a JRE, which start_fe.sh of 3.0+ refuses.
        #[arg(long)]
        jre: bool,
    },
    /// Run the simulated FE directly (start_fe.sh does this through the JDK's java).
    Fe {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run the simulated BE directly (start_be.sh does this through lib/starrocks_be).
    Be {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Write a whole cluster on loopback: FE and BE nodes, each in its own folder with its own
    /// package, meta or storage, distinct ports, and cluster.json describing them.
    MakeCluster {
        #[arg(long)]
        version: Version,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 3)]
        fes: usize,
        #[arg(long, default_value_t = 3)]
        bes: usize,
        /// Leader heartbeat interval (frontends and backends), in milliseconds.
        #[arg(long, default_value_t = 500)]
        heartbeat_ms: u64,
        /// A host that cannot run a build: be<N>:<fault>[@<version prefix>] or fe<N>:… (repeatable).
        #[arg(long = "be-fault", alias = "host-fault")]
        be_fault: Vec<String>,
        /// A follower that replays behind its leader: fe<N> (repeatable).
        #[arg(long = "lagging")]
        lagging: Vec<String>,
        /// How far behind a lagging follower stays, in thousands of journal entries.
        #[arg(long, default_value_t = 5)]
        lag: u64,
        /// Record a table as DB.TABLE:REPLICATION_NUM (repeatable).
        #[arg(long = "table")]
        table: Vec<String>,
        /// Tablets the leader reports unhealthy in SHOW PROC '/statistic'.
        #[arg(long, default_value_t = 0)]
        unhealthy_tablets: u64,
        /// The leader runs load transactions all the time: its journal advances and a few
        /// tablets are always mid-publish; replicas of a BE that was down stay behind until cloned.
        #[arg(long)]
        busy: bool,
        /// The nodes' ports, 4 per node, comma-separated: ports the caller has leased and holds
        /// while the nodes run. Without it make-cluster picks free ports itself.
        #[arg(long, value_delimiter = ',')]
        ports: Option<Vec<u16>>,
        /// One loopback address per node, comma-separated, FEs first then BEs (fe1..feN,
        /// be1..beM): each node binds its address and is recorded there. Default: 127.0.0.1.
        #[arg(long, value_delimiter = ',')]
        hosts: Vec<String>,
    },
    #[command(hide = true)]
    Linger {
        #[arg(long)]
        secs: u64,
    },
}

/// Runs the simulator for `argv` and returns its exit code. The part it plays is chosen by the
/// name it was started under: `java` (a simulated JDK), `starrocks_be`, or the CLI.
pub fn main(argv: Vec<String>) -> i32 {
    let name = argv
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .unwrap_or_default();
    match name.as_str() {
        "java" => return fe::java_main(argv[1..].to_vec()),
        "starrocks_be" => return be::be_main(argv[1..].to_vec()),
        _ => {}
    }
    let cli = Cli::parse_from(argv);
    let result = match cli.cmd {
        Cmd::MakeMeta {
            version,
            out,
            fes,
            backends,
            frontend,
            backend,
            cluster_id,
            token,
            run_mode,
            role,
            size,
            meta_version,
            root_password,
            table,
            user,
            journal_id,
        } => {
            let mut spec = MetaSpec::new(version, out).with_counts(fes, backends);
            if !frontend.is_empty() {
                spec.frontends = frontend;
            }
            if !backend.is_empty() {
                spec.backends = backend;
            }
            spec.cluster_id = cluster_id;
            spec.token = token;
            spec.run_mode = run_mode;
            spec.role = role;
            spec.size = size;
            spec.meta_version = meta_version;
            spec.root_password = root_password;
            spec.tables = table;
            spec.users = user;
            spec.journal_id = journal_id;
            make_meta(&spec).map(|s| {
                println!(
                    "meta for StarRocks {version} at {}: clusterId={} token={} image={} journal={} files={} bytes={}",
                    spec.out.display(),
                    s.cluster_id,
                    s.token,
                    s.image_id,
                    s.journal_id,
                    s.files,
                    s.bytes
                )
            })
        }
        Cmd::MakePackage {
            role,
            version,
            out,
            fault,
            fault_secs,
            heartbeat_ms,
            too_much_time_secs,
        } => make_package(&PackageSpec {
            role,
            version,
            out: out.clone(),
            fault,
            fault_secs,
            heartbeat_ms,
            too_much_time_secs,
        })
        .map(|()| println!("package for StarRocks {version} at {}", out.display())),
        Cmd::MakeJdk { major, out, jre } => {
            let (made, what) = if jre {
                (make_jre(major, &out), "JRE")
            } else {
                (make_jdk(major, &out), "JDK")
            };
            made.map(|()| println!("{what} {major} at {}", out.display()))
        }
        Cmd::MakeCluster {
            version,
            out,
            fes,
            bes,
            heartbeat_ms,
            be_fault,
            lagging,
            lag,
            table,
            unhealthy_tablets,
            busy,
            ports,
            hosts,
        } => super::cluster::make_cluster(&super::cluster::ClusterBuild {
            version,
            out: out.clone(),
            fes,
            bes,
            heartbeat_ms,
            be_faults: be_fault,
            lagging,
            lag_secs: lag,
            tables: table,
            unhealthy_tablets,
            busy,
            ports,
            hosts,
        })
        .map(|c| {
            println!(
                "cluster of StarRocks {version} at {}: {} nodes, clusterId={}",
                out.display(),
                c.nodes.len(),
                c.cluster_id
            )
        })
        .map_err(|e| super::SimError::Cluster(Box::new(e))),
        Cmd::Fe { args } => return fe::run(args),
        Cmd::Be { args } => return be::be_main(args),
        Cmd::Linger { secs } => return super::proc::linger(secs),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("starrocks-sim: {e}");
            2
        }
    }
}
