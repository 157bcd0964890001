//! The third startup phase: who this node is (`FrontendOptions` and `NodeMgr`): its address, its
//! ports with `edit_log_port` bound first, and its cluster id and role from VERSION and ROLE.
//!
//! Every later phase needs these facts together, so this phase hands them on as one `Node`.

use std::net::TcpListener;
use std::path::Path;

use super::boot::{Fe, Stop, START};
use super::version_role::{self, Identity};
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

/// Identifies the node; the listener is the bound `edit_log_port`, where BDB JE will listen.
pub(super) fn identify(
    fe: &Fe,
    log: &FeLog,
    image_dir: &Path,
) -> Result<(Node, TcpListener), Stop> {
    log.info(START, &fe.v.starting_line());
    let self_host = match fe.conf.get("frontend_address").filter(|a| *a != "0.0.0.0") {
        Some(addr) => {
            log.info(
                "FrontendOptions.init():93",
                &format!("use configured address. {addr}"),
            );
            addr.clone()
        }
        None => {
            log.info(
                "FrontendOptions.initAddrUseIp():215",
                "Use IP init local addr, IP: /127.0.0.1",
            );
            "127.0.0.1".into()
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
        TcpListener::bind(("0.0.0.0", edit_log_port)).ok()
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
