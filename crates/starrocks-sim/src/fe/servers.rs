//! The seventh startup phase: the servers, bound in `StarRocksFE.start`'s order (thrift, HTTP,
//! MySQL, then Arrow Flight, HTTPS and the shared-data meta port where the release has them).
//!
//! Which port is taken decides which message the FE dies with, and the tool's diagnosis names
//! the port from that message, so the order and wording are the point of this file.
//!
//! A real FE binds these on 0.0.0.0, and so does a simulated one, except on a simulated host
//! (`make-cluster --hosts`): there it binds that host's address and 127.0.0.1
//! (`cluster::bind_node`), so it is reached at its host only.

use std::net::TcpListener;
use std::sync::Arc;

use super::boot::{Fe, Stop, START};
use super::http_api::fe_http;
use super::sql::fe_query;
use super::state::State;
use crate::cluster;
use crate::http::{self, Request};
use crate::image::ImageHeader;
use crate::logs::{FeLog, Level};
use crate::mysql;
use crate::release::Behaviour as _;

pub(super) fn serve(
    fe: &Fe,
    log: &FeLog,
    state: &Arc<State>,
    header: &ImageHeader,
    group: Option<&Arc<cluster::Group>>,
    edit_listener: Option<TcpListener>,
) -> Result<(), Stop> {
    let v = fe.v;
    let (rpc_port, http_port, query_port) = (state.rpc_port, state.http_port, state.query_port);
    let bind = |p: u16| cluster::bind_node(&state.self_host, p);
    let Ok(rpc) = bind(rpc_port) else {
        return Err(fe.fatal(
            "FeServer.start():65",
            &format!("thrift server start failed with port {rpc_port} , will exit"),
        ));
    };
    rpc.into_iter().for_each(sink);
    log.info(
        "FeServer.start():52",
        &format!("thrift server started with port {rpc_port}."),
    );
    let Ok(http_l) = bind(http_port) else {
        return Err(fe.fatal(
            "HttpServer.run():257",
            &format!("Fail to start FE query http server[port: {http_port}] "),
        ));
    };
    let st = state.clone();
    let handler: http::Handler = Arc::new(move |r: &Request| fe_http(&st, r));
    for l in http_l {
        http::serve(l, handler.clone());
    }
    log.log(
        Level::Info,
        "FE Http Server|60",
        "HttpServer.run():250",
        &format!("HttpServer started with port {http_port}"),
    );
    let Ok(mysql_l) = bind(query_port) else {
        log.warn(
            "MysqlServer.start():93",
            "Open MySQL network service failed.\njava.net.BindException: Address already in use",
        );
        return Err(fe.fatal("QeService.start():54", "mysql server start failed"));
    };
    let st = state.clone();
    let header_password = header.root_password.clone();
    let query: mysql::QueryFn = Arc::new(move |user: &str, q: &str| fe_query(&st, user, q));
    if let Some(g) = group {
        g.set_query(query.clone());
    }
    let config = Arc::new(mysql::ServerConfig {
        server_version: v.mysql_server_version().to_string(),
        root_password: header_password,
        users: header.users.clone(),
        query,
    });
    for l in mysql_l {
        mysql::serve(l, config.clone());
    }
    log.info(
        "MysqlServer.start():100",
        &format!("Open mysql server success on {query_port}"),
    );
    log.info("QeService.start():58", "QE service start.");
    let mut extra = Vec::new();
    if v.has_arrow_flight() {
        let p = fe.conf_int("arrow_flight_port", -1)?;
        if p > 0 {
            match bind(p as u16) {
                Ok(l) => extra.extend(l),
                Err(_) => {
                    return Err(fe.fatal(
                        "ArrowFlightSqlService.start():80",
                        &format!("[ARROW] Failed to start Arrow Flight SQL server on 0.0.0.0:{p}. Its port might be occupied. You can modify `arrow_flight_port` in `fe.conf` to an unused port or set it to -1 to disable it."),
                    ))
                }
            }
        }
    }
    if v.has_https_port() && fe.conf_str("enable_https", "false") == "true" {
        let p = fe.port("https_port", 8443)?;
        match bind(p) {
            Ok(l) => extra.extend(l),
            Err(_) => {
                return Err(fe.fatal(
                    "HttpServer.run():257",
                    &format!("Fail to start FE query https server[port: {p}] "),
                ))
            }
        }
    }
    if state.run_mode == "shared_data" {
        let p = fe.port("cloud_native_meta_port", 6090)?;
        if let Ok(l) = bind(p) {
            extra.extend(l);
        }
    }
    extra.into_iter().for_each(sink);
    if v.logs_fe_started_successfully() {
        log.info(START, "FE started successfully");
    }
    if let Some(l) = edit_listener {
        sink(l);
    }
    Ok(())
}

/// Accepts and drops connections for the life of the process: a port that must be bound.
fn sink(l: TcpListener) {
    std::thread::spawn(move || {
        for s in l.incoming() {
            drop(s)
        }
    });
}
