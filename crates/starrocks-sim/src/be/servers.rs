//! The BE's servers, bound in `starrocks_be`'s order: thrift `BackendService`, brpc, HTTP, then
//! starlet and Arrow Flight where configured, and the heartbeat service last.
//!
//! Each era words a taken port differently (2.x `starrocks_main.cpp`, 3.x `starrocks_be.cpp`), and
//! the tool names the port from those words; HTTP answers `/api/health` with the exact body.
//!
//! A real BE binds 0.0.0.0 (brpc says so in its line), and so does a simulated one, except on a
//! simulated host (`make-cluster --hosts`): there it binds that host's address and 127.0.0.1
//! (`cluster::bind_node`), so it is reached at its host only.

use std::net::TcpListener;
use std::sync::Arc;

use super::conf::Conf;
use super::steps::Steps;
use crate::cluster;
use crate::http::{self, Request, Response};
use crate::logs::Glog;
use crate::release::Behaviour as _;
use crate::{Fault, Release};
use starrocks_common::beconf;

/// The bound servers: the ports the heartbeat reply reports, and the heartbeat listener.
pub(super) struct Bound {
    pub(super) be_port: u16,
    pub(super) http_port: u16,
    pub(super) brpc_port: u16,
    pub(super) heartbeat: Vec<TcpListener>,
}

/// Binds every server; Err is the exit status (1) after the failure was logged.
pub(super) fn bind_servers(
    host: &str,
    conf: &Conf,
    log: &Glog,
    release: &Release,
    say: &mut Steps,
) -> Result<Bound, i32> {
    let v = release.version;
    let steps = v.be_start_steps();
    let conf_text = &conf.text;
    let port = |k: &str, d: i64| conf.int(k, d);
    let be_port = port("be_port", 9060) as u16;
    let http_port = if steps {
        // be_http_port, with webserver_port still accepted as its alias; the later line wins.
        beconf::parse(conf_text)
            .into_iter()
            .filter(|e| e.key == "be_http_port" || e.key == "webserver_port")
            .filter_map(|e| e.value.trim().parse().ok())
            .next_back()
            .unwrap_or(8040)
    } else {
        port("webserver_port", 8040) as u16
    };
    let hb_port = port("heartbeat_service_port", 9050) as u16;
    let brpc_port = port("brpc_port", 8060) as u16;
    let bind = |p: u16| cluster::bind_node(host, p).ok();
    let sink = |ls: Vec<TcpListener>| {
        for l in ls {
            std::thread::spawn(move || {
                for s in l.incoming() {
                    drop(s)
                }
            });
        }
    };

    // Thrift BackendService.
    match bind(be_port) {
        Some(l) => {
            sink(l);
            log.log(
                'I',
                "thrift_server.cpp:375",
                &format!("BackendService has started listening port on {be_port}"),
            );
            say.done("start thrift server");
        }
        None => {
            if steps {
                log.log('E', "thrift_server.cpp:398", &format!("ThriftServer 'BackendService' (on port: {be_port}) exited due to TException: Could not bind: Address already in use"));
                log.log('E', "thrift_server.cpp:410", &format!("ThriftServer 'BackendService' (on port: {be_port}) did not start correctly "));
                log.log('E', "starrocks_be.cpp:190", &format!("Fail to start BackendService thrift server on port {be_port}: Internal error: Could not bind: Address already in use"));
            } else {
                log.log(
                    'E',
                    "starrocks_main.cpp:260",
                    "StarRocks Be server did not start correctly, exiting",
                );
            }
            return Err(1);
        }
    }
    match bind(brpc_port) {
        Some(l) => {
            sink(l);
            log.log(
                'I',
                "starrocks_be.cpp:205",
                &format!("BRPC server bind to host: 0.0.0.0, port: {brpc_port}"),
            );
            say.done("start brpc server");
        }
        None => {
            let msg = if steps {
                "BRPC service did not start correctly, exiting errcoe: -1"
            } else {
                "BRPC service did not start correctly, exiting"
            };
            log.log('E', "starrocks_be.cpp:210", msg);
            return Err(1);
        }
    }
    let http_bound = if release.fault_is(Fault::PortInUse) {
        None
    } else {
        bind(http_port)
    };
    match http_bound {
        Some(ls) => {
            let handler: http::Handler = Arc::new(|r: &Request| be_http(r));
            for l in ls {
                http::serve(l, handler.clone());
            }
            say.done("start http server");
        }
        None => {
            if steps {
                log.log('E', "starrocks_be.cpp:225", &format!("BE http server did not start correctly, exiting: Failed to listen port. port: {http_port}, error: Address already in use"));
            } else {
                log.log(
                    'E',
                    "starrocks_main.cpp:280",
                    &format!("Internal Error:Failed to listen port. port: {http_port}"),
                );
                log.log(
                    'E',
                    "starrocks_main.cpp:281",
                    "StarRocks Be http service did not start correctly, exiting",
                );
            }
            return Err(1);
        }
    }
    if let Some(p) = conf
        .map
        .get("starlet_port")
        .and_then(|s| s.trim().parse::<u16>().ok())
    {
        if steps {
            if let Some(l) = bind(p) {
                sink(l);
            }
        }
    }
    if v.has_arrow_flight() {
        let p = port("arrow_flight_port", -1);
        if p > 0 {
            match bind(p as u16) {
                Some(l) => {
                    sink(l);
                    say.done("start arrow flight sql server");
                }
                None => {
                    log.log('E', "starrocks_be.cpp:240", "BE Arrow Flight Sql Server did not start correctly, exiting: Address already in use. Its port might be occupied. You can modify `arrow_flight_port` in `be.conf` to an unused port or set it to -1 to disable it.");
                    return Err(1);
                }
            }
        }
    }
    let Some(hb) = bind(hb_port) else {
        if steps {
            log.log('E', "thrift_server.cpp:398", &format!("ThriftServer 'heartbeat' (on port: {hb_port}) exited due to TException: Could not bind: Address already in use"));
            log.log(
                'E',
                "thrift_server.cpp:410",
                &format!("ThriftServer 'heartbeat' (on port: {hb_port}) did not start correctly "),
            );
            log.log('E', "starrocks_be.cpp:255", "BE heartbeat server did not start correctly, exiting: Internal error: Could not bind: Address already in use");
        } else {
            log.log(
                'E',
                "starrocks_main.cpp:290",
                "Heartbeat services did not start correctly, exiting",
            );
        }
        return Err(1);
    };
    log.log(
        'I',
        "thrift_server.cpp:375",
        &format!("heartbeat has started listening port on {hb_port}"),
    );
    Ok(Bound {
        be_port,
        http_port,
        brpc_port,
        heartbeat: hb,
    })
}

fn be_http(r: &Request) -> Response {
    match r.path.as_str() {
        "/api/health" => Response::json("{\"status\": \"OK\",\"msg\": \"To Be Added\"}".into()),
        _ => Response::status(404, "text/plain", "Not Found"),
    }
}
