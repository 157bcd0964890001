//! Finding this node's row in `SHOW BACKENDS`.
//!
//! Real clusters run every BE on heartbeat port 9050 and the FE sorts the rows by IP, so a match on
//! the port alone reads another node's row: a false failure (and a rollback of a good upgrade) or
//! a false pass. The row is the one whose IP is this host's address and whose HeartbeatPort is the
//! node's. The address is `--be-host`, or found the way the BE finds its own: this host's interface
//! addresses, narrowed by `priority_networks` of be.conf (backend_options.cpp).

use std::collections::BTreeMap;
use std::net::{IpAddr, ToSocketAddrs};

pub type Row = BTreeMap<String, String>;

/// One CIDR of `priority_networks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    bits: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, b) = s.trim().split_once('/').unwrap_or((s.trim(), ""));
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = if b.is_empty() { max } else { b.parse().ok()? };
        (bits <= max).then_some(Cidr { addr, bits })
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        let bits = u32::from(self.bits);
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - bits)
                };
                u32::from(n) & mask == u32::from(*a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - bits)
                };
                u128::from(n) & mask == u128::from(*a) & mask
            }
            _ => false,
        }
    }
}

/// An entry of `priority_networks` the BE would reject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a CIDR")]
pub struct NotACidr(pub String);

/// `priority_networks`: CIDRs separated by `;`. Err names the entry the BE would reject.
pub fn parse_priority_networks(value: &str) -> Result<Vec<Cidr>, NotACidr> {
    value
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Cidr::parse(s).ok_or_else(|| NotACidr(s.to_string())))
        .collect()
}

/// This host's interface addresses.
pub fn local_addresses() -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = nix::ifaddrs::getifaddrs()
        .map(|it| {
            it.filter_map(|i| {
                let a = i.address?;
                a.as_sockaddr_in()
                    .map(|s| IpAddr::V4(s.ip()))
                    .or_else(|| a.as_sockaddr_in6().map(|s| IpAddr::V6(s.ip())))
            })
            .collect()
        })
        .unwrap_or_default();
    out.sort();
    out.dedup();
    out
}

/// The addresses this node's BE may be registered under: the interface addresses inside
/// `priority_networks` when it is set, all of them otherwise.
pub fn candidate_addresses(local: &[IpAddr], networks: &[Cidr]) -> Vec<IpAddr> {
    local
        .iter()
        .filter(|a| networks.is_empty() || networks.iter().any(|n| n.contains(a)))
        .copied()
        .collect()
}

/// Whether a row's IP column (an address, or a host name in FQDN mode) is one of `addrs`.
fn host_is(host: &str, addrs: &[IpAddr]) -> bool {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return addrs.contains(&ip);
    }
    (host, 0)
        .to_socket_addrs()
        .map(|mut it| it.any(|s| addrs.contains(&s.ip())))
        .unwrap_or(false)
}

/// How the node's address was decided, for messages.
pub enum Want<'a> {
    /// `--be-host`.
    Host(&'a str),
    /// Detected: candidate addresses of this host.
    Detected(&'a [IpAddr]),
}

/// Why SHOW BACKENDS does not name exactly one row for this node, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PickError {
    #[error("SHOW BACKENDS has no row for {who} with heartbeat port {hb_port} (rows on that port: {on_port}); pass this node's address as it appears in SHOW BACKENDS with --be-host")]
    NoRow {
        who: String,
        hb_port: u16,
        on_port: String,
    },
    #[error("SHOW BACKENDS has several rows for {who} with heartbeat port {hb_port}: {rows}; say which one is this node with --be-host")]
    Several {
        who: String,
        hb_port: u16,
        rows: String,
    },
}

/// The one row for this node; Err says why there is not exactly one, and what to do.
pub fn pick(rows: Vec<Row>, want: &Want, hb_port: u16) -> Result<Row, PickError> {
    let port = hb_port.to_string();
    let on_port: Vec<&Row> = rows
        .iter()
        .filter(|r| r.get("HeartbeatPort") == Some(&port))
        .collect();
    let matches: Vec<&Row> = on_port
        .iter()
        .copied()
        .filter(|r| {
            let ip = r.get("IP").map(String::as_str).unwrap_or("");
            match want {
                Want::Host(h) => {
                    ip.eq_ignore_ascii_case(h)
                        || matches!((ip.parse::<IpAddr>(), h.parse::<IpAddr>()), (Ok(a), Ok(b)) if a == b)
                }
                Want::Detected(addrs) => host_is(ip, addrs),
            }
        })
        .collect();
    let listed = |rs: &[&Row]| {
        rs.iter()
            .map(|r| {
                format!(
                    "{}:{} (BackendId {})",
                    r.get("IP").map(String::as_str).unwrap_or("?"),
                    r.get("HeartbeatPort").map(String::as_str).unwrap_or("?"),
                    r.get("BackendId").map(String::as_str).unwrap_or("?")
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let who = match want {
        Want::Host(h) => format!("--be-host {h}"),
        Want::Detected(a) => format!(
            "this host's addresses ({})",
            a.iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    match matches.len() {
        1 => Ok(matches[0].clone()),
        0 => Err(PickError::NoRow {
            who,
            hb_port,
            on_port: if on_port.is_empty() {
                "none".to_string()
            } else {
                listed(&on_port)
            },
        }),
        _ => Err(PickError::Several {
            who,
            hb_port,
            rows: listed(&matches),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ip: &str, port: u16, id: u32) -> Row {
        [
            ("BackendId", id.to_string()),
            ("IP", ip.to_string()),
            ("HeartbeatPort", port.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    #[test]
    fn cidrs_contain_what_they_should() {
        let n = parse_priority_networks("10.10.10.0/24; 192.168.0.0/16").unwrap();
        assert!(n[0].contains(&"10.10.10.7".parse().unwrap()));
        assert!(!n[0].contains(&"10.10.11.7".parse().unwrap()));
        assert!(n[1].contains(&"192.168.4.1".parse().unwrap()));
        assert!(parse_priority_networks("10.0.0.0/33").is_err());
        assert!(
            parse_priority_networks("fe80::/10").unwrap()[0].contains(&"fe80::1".parse().unwrap())
        );
    }

    #[test]
    fn the_row_is_chosen_by_host_and_port() {
        let rows = vec![
            row("10.0.0.1", 9050, 1),
            row("10.0.0.2", 9050, 2),
            row("10.0.0.3", 9050, 3),
            row("10.0.0.2", 9051, 4),
        ];
        let r = pick(rows.clone(), &Want::Host("10.0.0.2"), 9050).unwrap();
        assert_eq!(r["BackendId"], "2");
        let local: Vec<IpAddr> = vec!["10.0.0.3".parse().unwrap(), "127.0.0.1".parse().unwrap()];
        let r = pick(rows.clone(), &Want::Detected(&local), 9050).unwrap();
        assert_eq!(r["BackendId"], "3");
        assert!(pick(rows.clone(), &Want::Host("10.0.0.9"), 9050)
            .unwrap_err()
            .to_string()
            .contains("no row"));
        let two: Vec<IpAddr> = vec!["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()];
        assert!(pick(rows, &Want::Detected(&two), 9050)
            .unwrap_err()
            .to_string()
            .contains("several rows"));
    }

    #[test]
    fn priority_networks_narrow_the_candidates() {
        let local: Vec<IpAddr> = vec!["10.0.0.3".parse().unwrap(), "172.17.0.1".parse().unwrap()];
        let n = parse_priority_networks("10.0.0.0/8").unwrap();
        assert_eq!(candidate_addresses(&local, &n), vec![local[0]]);
        assert_eq!(candidate_addresses(&local, &[]), local);
    }
}
