//! The SQL check: a real MySQL-protocol query against the sandbox FE.

use std::collections::BTreeMap;
use std::time::Duration;

use mysql::prelude::Queryable;

/// Runs `sql` on `127.0.0.1:port` and returns the rows as column → text maps.
pub fn query(
    port: u16,
    user: &str,
    password: Option<&str>,
    sql: &str,
    timeout: Duration,
) -> Result<Vec<BTreeMap<String, String>>, String> {
    query_host("127.0.0.1", port, user, password, sql, timeout)
}

/// Runs `sql` on `host:port`.
pub fn query_host(
    host: &str,
    port: u16,
    user: &str,
    password: Option<&str>,
    sql: &str,
    timeout: Duration,
) -> Result<Vec<BTreeMap<String, String>>, String> {
    let opts = mysql::OptsBuilder::new()
        .ip_or_hostname(Some(host))
        .tcp_port(port)
        .user(Some(user))
        .pass(password)
        .tcp_connect_timeout(Some(timeout))
        .read_timeout(Some(timeout))
        .write_timeout(Some(timeout));
    let mut conn = mysql::Conn::new(opts).map_err(|e| e.to_string())?;
    let rows: Vec<mysql::Row> = conn.query(sql).map_err(|e| e.to_string())?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let cols: Vec<String> = r
                .columns_ref()
                .iter()
                .map(|c| c.name_str().into_owned())
                .collect();
            cols.into_iter()
                .enumerate()
                .map(|(i, c)| {
                    let v = match r.as_ref(i) {
                        Some(mysql::Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
                        Some(mysql::Value::NULL) | None => String::new(),
                        Some(other) => other.as_sql(true),
                    };
                    (c, v)
                })
                .collect()
        })
        .collect())
}
