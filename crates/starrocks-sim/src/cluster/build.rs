//! `make-cluster`: FE and BE nodes, each in its own folder with its own package, meta or storage,
//! ports and host faults, every FE recording the whole group as `ADD FOLLOWER` leaves it.
//!
//! Ports are picked sorted so the first FE has the lowest `edit_log_port` and wins the first
//! election, which keeps a freshly built cluster's leader predictable for the tests (the election
//! compares `host:edit_log_port`, so with `--hosts` the FE of the lowest address leads first).
//!
//! `--hosts` puts each node on its own loopback address, as on its own machine: its conf gets
//! `priority_networks = <addr>/32` and every meta records it there. Addresses may repeat (an FE
//! and a BE sharing a host, as on small real clusters); without `--hosts` every node is on
//! 127.0.0.1.
//!
//! `make-cluster` exits once the cluster is written, long before its nodes bind their ports, so a
//! lease it took would end with it. A caller that outlives the nodes (a test harness, `demo`)
//! therefore leases the ports itself and passes them in (`--ports`), holding them across every
//! start and restart of the nodes; without them the ports are picked here, free and unleased by
//! anyone at the time of the build.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::host::{HostFault, HostFaults, HOST_FILE};
use super::spec::{io_err, ClusterError, ClusterSpec, NodeSpec};
use crate::release::Behaviour as _;
use crate::Fault;
use starrocks_common::version::Version;

/// The cluster's `n` ports: the caller's when it gave them, else ports nobody listens on or
/// holds now, all distinct, outside the kernel's ephemeral range (where any outgoing connection
/// of this host could take one before the node binds it).
fn cluster_ports(given: Option<&[u16]>, n: usize) -> Result<Vec<u16>, ClusterError> {
    match given {
        Some(p) => {
            let distinct: std::collections::BTreeSet<u16> = p.iter().copied().collect();
            if p.len() != n || distinct.len() != n || distinct.contains(&0) {
                return Err(ClusterError::Ports {
                    given: p.len(),
                    needed: n,
                });
            }
            Ok(p.to_vec())
        }
        None => Ok(starrocks_common::ports::pick(n, &Default::default())
            .map_err(ClusterError::NoFreePort)?
            .ports()),
    }
}

/// What `make-cluster` builds.
pub struct ClusterBuild {
    pub version: Version,
    pub out: PathBuf,
    pub fes: usize,
    pub bes: usize,
    pub heartbeat_ms: u64,
    /// `be<N>:<fault>@<version prefix>` (or `fe<N>:…`): a host that cannot run that build.
    pub be_faults: Vec<String>,
    /// `fe<N>`: followers that replay behind the leader.
    pub lagging: Vec<String>,
    pub lag_secs: u64,
    pub tables: Vec<String>,
    /// Unhealthy tablets the leader reports (set on every FE host, read by whichever leads).
    pub unhealthy_tablets: u64,
    /// The leader runs load transactions all the time (`--busy`).
    pub busy: bool,
    /// The ports to use (4 per node), leased by the caller; `None` picks them here.
    pub ports: Option<Vec<u16>>,
    /// One loopback address per node, FEs then BEs; empty puts every node on 127.0.0.1.
    pub hosts: Vec<String>,
}

/// Addresses for a cluster laid out as the tests and `demo` use it: each FE on a host of its own
/// (the first on 127.0.0.1, then 127.0.0.2, ...) and every BE on 127.0.0.1 beside the first FE.
/// FEs need hosts of their own because a leader up to 3.3 shows every FE sharing its host as
/// LEADER; BEs stay on 127.0.0.1 because the tool's BE node finds its own SHOW BACKENDS row from
/// this machine's interface addresses, and only 127.0.0.1 is one of them.
pub fn fe_per_host(fes: usize, bes: usize) -> Vec<String> {
    (0..fes)
        .map(|i| format!("127.0.0.{}", i + 1))
        .chain((0..bes).map(|_| super::host::LOOPBACK.to_string()))
        .collect()
}

/// The address of each node, FEs first: `--hosts` checked (one loopback IPv4 address per node),
/// or 127.0.0.1 for all.
fn node_hosts(given: &[String], n: usize) -> Result<Vec<String>, ClusterError> {
    if given.is_empty() {
        return Ok(vec![super::host::LOOPBACK.to_string(); n]);
    }
    if given.len() != n {
        return Err(ClusterError::Hosts {
            given: given.len(),
            needed: n,
        });
    }
    given
        .iter()
        .map(|h| match h.trim().parse::<std::net::Ipv4Addr>() {
            Ok(ip) if ip.is_loopback() => Ok(ip.to_string()),
            _ => Err(ClusterError::NotLoopback(h.clone())),
        })
        .collect()
}

/// The conf line that puts a node on its own host; none for a node on 127.0.0.1 (as before
/// `--hosts` existed).
fn networks_line(host: &str) -> String {
    if host == super::host::LOOPBACK {
        String::new()
    } else {
        format!("priority_networks = {host}/32\n")
    }
}

fn host_faults_for(name: &str, b: &ClusterBuild) -> Result<HostFaults, ClusterError> {
    let mut hf = HostFaults::default();
    for spec in &b.be_faults {
        let (node, rest) = spec
            .split_once(':')
            .ok_or_else(|| ClusterError::HostFaultSyntax(spec.clone()))?;
        if node != name {
            continue;
        }
        let (fault, version) = rest.split_once('@').unwrap_or((rest, ""));
        let fault: Fault = serde_json::from_value(serde_json::Value::String(fault.into()))
            .map_err(|_| ClusterError::UnknownFault {
                spec: spec.clone(),
                fault: fault.into(),
            })?;
        hf.faults.push(HostFault {
            fault,
            version: version.to_string(),
        });
    }
    if name.starts_with("fe") {
        hf.unhealthy_tablets = b.unhealthy_tablets;
        hf.busy = b.busy;
    }
    if b.lagging.iter().any(|l| l == name) {
        hf.faults.push(HostFault {
            fault: Fault::LaggingFollower,
            version: String::new(),
        });
    }
    Ok(hf)
}

/// Builds `fes` FE nodes and `bes` BE nodes under `out`, each in its own folder with its own
/// package, meta or storage and ports, and writes `cluster.json`.
pub fn make_cluster(b: &ClusterBuild) -> Result<ClusterSpec, ClusterError> {
    use crate::meta::{make_meta, MetaSpec};
    use crate::package::{make_jdk, make_package, PackageSpec, Role};
    if b.out.join("cluster.json").exists() {
        return Err(ClusterError::NotEmpty(b.out.clone()));
    }
    let v = b.version;
    let hosts = node_hosts(&b.hosts, b.fes + b.bes)?;
    let (fe_hosts, be_hosts) = hosts.split_at(b.fes);
    let jdk = b.out.join("jdk");
    make_jdk(17, &jdk)?;
    // Sorted, so fe1 has the lowest edit_log_port and wins the first election.
    let mut ports = cluster_ports(b.ports.as_deref(), b.fes * 4 + b.bes * 4)?;
    ports.sort_unstable();
    let mut it = ports.into_iter();
    let mut nodes = Vec::new();
    let edit_ports: Vec<u16> = it.by_ref().take(b.fes).collect();
    let fe_ports: Vec<[u16; 4]> = edit_ports
        .iter()
        .map(|e| {
            [
                it.next().unwrap(),
                it.next().unwrap(),
                it.next().unwrap(),
                *e,
            ]
        })
        .collect();
    let be_ports: Vec<[u16; 4]> = (0..b.bes)
        .map(|_| {
            [
                it.next().unwrap(),
                it.next().unwrap(),
                it.next().unwrap(),
                it.next().unwrap(),
            ]
        })
        .collect();
    let cluster_id = 100_000 + (crate::meta::random_u64() % 800_000) as i64;
    let token = crate::meta::random_token();
    let backends: Vec<String> = be_ports
        .iter()
        .zip(be_hosts)
        .map(|(p, h)| format!("{h}:{}", p[2]))
        .collect();
    for (i, p) in fe_ports.iter().enumerate() {
        let name = format!("fe{}", i + 1);
        let dir = b.out.join(&name);
        let home = dir.join("fe");
        let meta = dir.join("meta");
        let mut spec = MetaSpec::new(v, meta.clone());
        // Each node records the whole group, itself first, as `ADD FOLLOWER` leaves it.
        let host = &fe_hosts[i];
        let mut fes = vec![format!("{host}:{}", p[3])];
        fes.extend(
            fe_ports
                .iter()
                .zip(fe_hosts)
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, (q, h))| format!("{h}:{}", q[3])),
        );
        spec.frontends = fes;
        spec.backends = backends.clone();
        spec.cluster_id = Some(cluster_id as i32);
        spec.token = Some(token.clone());
        spec.tables = b.tables.clone();
        make_meta(&spec)?;
        make_package(&PackageSpec {
            role: Role::Fe,
            version: v,
            out: home.clone(),
            fault: None,
            fault_secs: b.lag_secs,
            heartbeat_ms: b.heartbeat_ms,
            too_much_time_secs: 60,
        })?;
        append(
            &home.join("conf/fe.conf"),
            &format!(
                "\n# node {name} of a simulated cluster\n{}meta_dir = {}\nhttp_port = {}\nrpc_port = {}\nquery_port = {}\nedit_log_port = {}\n",
                networks_line(host),
                meta.display(),
                p[0], p[1], p[2], p[3]
            ),
        )?;
        write_host(&dir, &host_faults_for(&name, b)?)?;
        // The clone repair waits 2 x this (60 s in StarRocks), shortened for the simulator.
        append(
            &home.join("conf/fe.conf"),
            "tablet_sched_repair_delay_factor_second = 1\n",
        )?;
        let ports = BTreeMap::from([
            ("http_port".to_string(), p[0]),
            ("rpc_port".to_string(), p[1]),
            ("query_port".to_string(), p[2]),
            ("edit_log_port".to_string(), p[3]),
        ]);
        nodes.push(NodeSpec {
            name,
            role: "fe".into(),
            dir,
            home,
            ports,
            host: host.clone(),
        });
    }
    for (i, p) in be_ports.iter().enumerate() {
        let name = format!("be{}", i + 1);
        let dir = b.out.join(&name);
        let home = dir.join("be");
        let storage = dir.join("storage");
        std::fs::create_dir_all(&storage).map_err(io_err("create", &storage))?;
        make_package(&PackageSpec {
            role: Role::Be,
            version: v,
            out: home.clone(),
            fault: None,
            fault_secs: 5,
            heartbeat_ms: b.heartbeat_ms,
            too_much_time_secs: 60,
        })?;
        append(
            &home.join("conf/be.conf"),
            &format!(
                "\n# node {name} of a simulated cluster\n{}be_port = {}\n{} = {}\nheartbeat_service_port = {}\nbrpc_port = {}\nstorage_root_path = {}\n",
                networks_line(&be_hosts[i]),
                p[0],
                v.be_http_key(),
                p[1],
                p[2],
                p[3],
                storage.display()
            ),
        )?;
        write_host(&dir, &host_faults_for(&name, b)?)?;
        let ports = BTreeMap::from([
            ("be_port".to_string(), p[0]),
            ("http_port".to_string(), p[1]),
            ("heartbeat_service_port".to_string(), p[2]),
            ("brpc_port".to_string(), p[3]),
        ]);
        nodes.push(NodeSpec {
            name,
            role: "be".into(),
            dir,
            home,
            ports,
            host: be_hosts[i].clone(),
        });
    }
    let spec = ClusterSpec {
        version: v,
        jdk,
        cluster_id,
        nodes,
    };
    let text = serde_json::to_string_pretty(&spec).expect("a cluster spec serialises");
    let path = b.out.join("cluster.json");
    std::fs::write(&path, text).map_err(io_err("write", &path))?;
    Ok(spec)
}

fn append(p: &Path, text: &str) -> Result<(), ClusterError> {
    let mut t = std::fs::read_to_string(p).map_err(io_err("read", p))?;
    t.push_str(text);
    std::fs::write(p, t).map_err(io_err("write", p))
}

fn write_host(dir: &Path, hf: &HostFaults) -> Result<(), ClusterError> {
    if hf.faults.is_empty() && hf.unhealthy_tablets == 0 && !hf.busy {
        return Ok(());
    }
    let p = dir.join(HOST_FILE);
    std::fs::write(&p, serde_json::to_string_pretty(hf).unwrap_or_default())
        .map_err(io_err("write", &p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_ports_are_used_as_they_are_and_must_be_enough_distinct_ports() {
        assert_eq!(
            cluster_ports(Some(&[30001, 30000, 30002]), 3).unwrap(),
            vec![30001, 30000, 30002]
        );
        for bad in [
            &[30000, 30001][..],
            &[30000, 30000, 30001],
            &[0, 30000, 30001],
        ] {
            assert!(matches!(
                cluster_ports(Some(bad), 3),
                Err(ClusterError::Ports { needed: 3, .. })
            ));
        }
        let picked = cluster_ports(None, 8).unwrap();
        let distinct: std::collections::BTreeSet<u16> = picked.iter().copied().collect();
        assert_eq!(distinct.len(), 8);
    }

    #[test]
    fn hosts_are_one_loopback_address_per_node() {
        assert_eq!(node_hosts(&[], 2).unwrap(), vec!["127.0.0.1", "127.0.0.1"]);
        let given = vec!["127.0.0.11".to_string(), "127.0.0.12".to_string()];
        assert_eq!(node_hosts(&given, 2).unwrap(), given);
        assert!(matches!(
            node_hosts(&given, 3),
            Err(ClusterError::Hosts {
                given: 2,
                needed: 3
            })
        ));
        for bad in ["10.0.0.1", "localhost", "::1", "127.0.0.256"] {
            assert!(matches!(
                node_hosts(&[bad.to_string()], 1),
                Err(ClusterError::NotLoopback(h)) if h == bad
            ));
        }
        assert_eq!(networks_line("127.0.0.1"), "");
        assert_eq!(
            networks_line("127.0.0.11"),
            "priority_networks = 127.0.0.11/32\n"
        );
    }
}
