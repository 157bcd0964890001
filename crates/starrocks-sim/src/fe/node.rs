//! The third startup phase: who this node is (`FrontendOptions` and `NodeMgr`): its address, its
//! ports with `edit_log_port` bound first, and its cluster id and role from VERSION and ROLE.
//!
//! Every later phase needs these facts together, so this phase hands them on as one `Node`.

use std::net::TcpListener;
use std::path::Path;

use super::boot::{Fe, Stop, START};
use super::version_role::{self, Identity};
use crate::cluster::{self, LOOPBACK};
use crate::logs::FeLog;
use crate::release::Behaviour as _;
use crate::Fault;

/// The ports fe.conf gives this node.
pub(super) struct Ports {
    pub(super) http: u16,
    pub(super) rpc: u16,
    pub(super) query: u16,
    pub(super) edit_log: u16,
}

/// This node as the later phases see it.
pub(super) struct Node {
    /// The address this FE believes is its own (`frontend_address`, else the local IP).
    pub(super) self_host: String,
    pub(super) ports: Ports,
    pub(super) id: Identity,
}

/// How `FrontendOptions` found this node's address.
pub(super) enum Address {
    /// `frontend_address`.
    Configured(String),
    /// `priority_networks` selected this simulated host's address (see `cluster::host`).
    Networks(String, String),
    /// `priority_networks` is set and selects none: the loopback, with a warning.
    Unmatched(String),
    /// Nothing configured: this machine's loopback.
    Loopback,
}

/// This FE's address as `FrontendOptions.init` decides it: `frontend_address` when it is not
/// 0.0.0.0, else the host's address inside `priority_networks`, else the loopback.
pub(super) fn own_address(fe: &Fe) -> Address {
    if let Some(addr) = fe.conf.get("frontend_address").filter(|a| *a != "0.0.0.0") {
        return Address::Configured(addr.clone());
    }
    match fe
        .conf
        .get("priority_networks")
        .filter(|n| !n.trim().is_empty())
    {
        None => Address::Loopback,
        Some(n) => match cluster::host_of_networks(n) {
            Some(addr) => Address::Networks(n.clone(), addr),
            None => Address::Unmatched(n.clone()),
        },
    }
}

/// The address alone, for the host guard before fe.log opens.
pub(super) fn own_host(fe: &Fe) -> String {
    match own_address(fe) {
        Address::Configured(a) | Address::Networks(_, a) => a,
        Address::Unmatched(_) | Address::Loopback => LOOPBACK.into(),
    }
}

/// Identifies the node; the listener is the bound `edit_log_port`, where BDB JE will listen.
pub(super) fn identify(
    fe: &Fe,
    log: &FeLog,
    image_dir: &Path,
) -> Result<(Node, TcpListener), Stop> {
    log.info(START, &fe.v.starting_line());
    let self_host = match own_address(fe) {
        Address::Configured(addr) => {
            log.info(
                "FrontendOptions.init():93",
                &format!("use configured address. {addr}"),
            );
            addr
        }
        Address::Networks(networks, addr) => {
            log.info(
                "FrontendOptions.analyzePriorityCidrs():296",
                &format!("configured prior_cidrs value: {networks}"),
            );
            log.info(
                "FrontendOptions.initAddrUseIp():215",
                &format!("Use IP init local addr, IP: /{addr}"),
            );
            addr
        }
        Address::Unmatched(networks) => {
            log.info(
                "FrontendOptions.analyzePriorityCidrs():296",
                &format!("configured prior_cidrs value: {networks}"),
            );
            log.warn(
                "FrontendOptions.initAddrUseIp():210",
                "ip address range configured for priority_networks does not include the current IP address",
            );
            log.info(
                "FrontendOptions.initAddrUseIp():215",
                "Use IP init local addr, IP: /127.0.0.1",
            );
            LOOPBACK.into()
        }
        Address::Loopback => {
            log.info(
                "FrontendOptions.initAddrUseIp():215",
                "Use IP init local addr, IP: /127.0.0.1",
            );
            LOOPBACK.into()
        }
    };

    // NodeMgr: edit_log_port first; BDB JE will listen there.
    let ports = Ports {
        http: fe.port("http_port", 8030)?,
        rpc: fe.port("rpc_port", 9020)?,
        query: fe.port("query_port", 9030)?,
        edit_log: fe.port("edit_log_port", 9010)?,
    };
    let edit_log_port = ports.edit_log;
    let edit_listener = if fe.release.fault_is(Fault::PortInUse) {
        None
    } else {
        // BDB JE listens on the node's own host:port only (je.rep.bindInaddrAny is false).
        TcpListener::bind((cluster::edit_log_host(&self_host).as_str(), edit_log_port)).ok()
    };
    let Some(edit_listener) = edit_listener else {
        return Err(fe.fatal(
            "NodeMgr.getCheckedSelfHostPort():1102",
            &format!("edit_log_port {edit_log_port} is already in use. will exit."),
        ));
    };
    log.info(
        "NodeMgr.getHelperNodes():711",
        &format!("get helper nodes: [{self_host}:{edit_log_port}]"),
    );
    let id = version_role::identity(fe, log, image_dir, &self_host, edit_log_port)?;
    Ok((
        Node {
            self_host,
            ports,
            id,
        },
        edit_listener,
    ))
}
