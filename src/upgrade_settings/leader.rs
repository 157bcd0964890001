//! Which FE leads, from SHOW FRONTENDS on the FE given, and the seam every statement goes through.
//!
//! The settings belong on the leader: the tablet scheduler and the colocate balancer run there
//! (`TabletScheduler`/`ColocateTableBalancer` are leader daemons), the checkpoint that writes and
//! pushes an image runs there (`CheckpointController`: "daemon is running on master node"), and
//! only the leader's fe.log has the push line. SHOW FRONTENDS is forwarded to the leader
//! (`ShowFrontendsStmt` redirect status `FORWARD_NO_SYNC`), so any FE names it. Its IP and
//! QueryPort come from the cluster and become the address this tool connects to, so they are
//! checked (`check::values`) before use, as `check` and `upgrade-plan` check them.

use crate::check::{escape, is_host, is_version, known_port};
use crate::probe::mysql::{Row, SqlError};
use crate::version::Version;

use super::SettingsError;

/// The SQL the commands send; the real one is `check::Sql` (a bounded connection per statement),
/// the tests script the answers.
pub trait SqlLink {
    fn query(&self, host: &str, port: u16, sql: &str) -> Result<Vec<Row>, SqlError>;
}

impl SqlLink for crate::check::Sql {
    fn query(&self, host: &str, port: u16, sql: &str) -> Result<Vec<Row>, SqlError> {
        crate::check::Sql::query(self, host, port, sql)
    }
}

/// The leader as SHOW FRONTENDS lists it, with what the commands decide on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leader {
    pub host: String,
    pub query_port: u16,
    /// `3.3.5-553732d` as printed.
    pub version_text: String,
    pub version: Version,
    /// `ClusterId` of the leader's row: what a state file is tied to.
    pub cluster_id: String,
    /// The leader's own `ReplayedJournalId` (its max journal id, `BDBJEJournal.getMaxJournalId`).
    pub journal_id: Option<u64>,
    /// The other FEs listed (followers and observers, alive or not).
    pub others: usize,
    /// The lowest version any FE row reports (the leader's when none other does).
    pub lowest_fe_version: Version,
    /// `fe@HOST:QUERY_PORT` of every FE row whose IP and QueryPort are valid.
    pub members: Vec<String>,
}

impl Leader {
    /// `fe@HOST:QUERY_PORT`, the node id of the command line.
    pub fn id(&self) -> String {
        format!("fe@{}:{}", self.host, self.query_port)
    }
}

fn col<'a>(r: &'a Row, c: &str) -> &'a str {
    r.get(c).map(String::as_str).unwrap_or("")
}

/// Asks the FE at `host:port` for SHOW FRONTENDS and returns the one leader.
pub fn find_leader(sql: &dyn SqlLink, host: &str, port: u16) -> Result<Leader, SettingsError> {
    let rows = sql.query(host, port, "SHOW FRONTENDS").map_err(|e| {
        SettingsError::from_sql(
            format!("failed to run SHOW FRONTENDS on {}:{port}", escape(host)),
            &e,
        )
    })?;
    leader_from_rows(&rows)
}

/// The leader among `rows`, every value of it checked.
pub(super) fn leader_from_rows(rows: &[Row]) -> Result<Leader, SettingsError> {
    if rows.is_empty() {
        return Err(SettingsError::Failed(
            "SHOW FRONTENDS returned no rows: no FE group to act on".into(),
        ));
    }
    // Before 2.4 (StarRocks PR #8954) SHOW FRONTENDS had `IsMaster`, and the master's Role was
    // FOLLOWER: finding a leader by Role there would pick none or the wrong FE.
    if rows.iter().all(|r| !r.contains_key("Role")) {
        return Err(SettingsError::BadInput(
            "SHOW FRONTENDS has no Role column (an IsMaster column instead?): releases before 2.5 are not supported".into(),
        ));
    }
    let leaders: Vec<&Row> = rows.iter().filter(|r| col(r, "Role") == "LEADER").collect();
    let r = match leaders.as_slice() {
        [one] => *one,
        [] => {
            return Err(SettingsError::Failed(
                "no FE in SHOW FRONTENDS is LEADER: the group has no leader to set anything on; wait until `sr-rehearse check` names one".into(),
            ))
        }
        many => {
            return Err(SettingsError::Failed(format!(
                "{} FEs in SHOW FRONTENDS say LEADER ({}): not acting on an ambiguous group",
                many.len(),
                many.iter()
                    .map(|r| format!("{}:{}", escape(col(r, "IP")), escape(col(r, "QueryPort"))))
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    };
    let bad = |what: &str, v: &str, why: &str| {
        SettingsError::BadInput(format!(
            "the leader's {what} \"{}\" in SHOW FRONTENDS {why}; it is not used as an address or a fact",
            escape(v)
        ))
    };
    let ip = col(r, "IP");
    if !is_host(ip) {
        return Err(bad("IP", ip, "is not an IP address or host name"));
    }
    let qp = col(r, "QueryPort");
    let query_port =
        known_port(qp).ok_or_else(|| bad("QueryPort", qp, "is not a port (1 to 65535)"))?;
    let vt = col(r, "Version");
    let version = match vt.parse::<Version>() {
        Ok(v) if is_version(vt) => v,
        _ => {
            return Err(bad(
                "Version",
                vt,
                "is not a StarRocks version (e.g. 3.2.11-98f7576)",
            ))
        }
    };
    let cid = col(r, "ClusterId");
    if cid.is_empty() || cid.len() > 20 || !cid.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("ClusterId", cid, "is not a cluster id (digits)"));
    }
    let lowest_fe_version = rows
        .iter()
        .filter_map(|r| {
            let v = col(r, "Version");
            is_version(v).then(|| v.parse::<Version>().ok()).flatten()
        })
        .min()
        .unwrap_or(version)
        .min(version);
    let members = rows
        .iter()
        .filter(|r| is_host(col(r, "IP")))
        .filter_map(|r| {
            Some(format!(
                "fe@{}:{}",
                col(r, "IP"),
                known_port(col(r, "QueryPort"))?
            ))
        })
        .collect();
    Ok(Leader {
        members,
        host: ip.to_string(),
        query_port,
        version_text: vt.to_string(),
        version,
        cluster_id: cid.to_string(),
        journal_id: col(r, "ReplayedJournalId").parse().ok(),
        others: rows.len() - 1,
        lowest_fe_version,
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub fn fe_row(ip: &str, port: &str, role: &str, version: &str) -> Row {
        [
            ("IP", ip),
            ("QueryPort", port),
            ("Role", role),
            ("Version", version),
            ("ClusterId", "1361216597"),
            ("ReplayedJournalId", "5120"),
            ("Alive", "true"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn the_leader_is_the_one_leader_row_checked() {
        let rows = vec![
            fe_row("10.0.0.2", "9030", "FOLLOWER", "3.4.2-abc1234"),
            fe_row("10.0.0.1", "9030", "LEADER", "3.4.9-abc1234"),
            fe_row("10.0.0.3", "9030", "OBSERVER", "3.5.0-abc1234"),
        ];
        let l = leader_from_rows(&rows).unwrap();
        assert_eq!(l.id(), "fe@10.0.0.1:9030");
        assert_eq!((l.others, l.journal_id), (2, Some(5120)));
        assert_eq!(l.lowest_fe_version, Version::new(3, 4, 2));
        assert_eq!(l.cluster_id, "1361216597");
        assert_eq!(l.members.len(), 3);
    }

    #[test]
    fn a_leader_row_with_a_planted_value_is_refused() {
        for (col, v) in [
            ("IP", "10.0.0.1;DROP"),
            ("QueryPort", "99999"),
            ("Version", "3.3.5\nrm -rf /"),
            ("ClusterId", "1' OR '1"),
        ] {
            let mut r = fe_row("10.0.0.1", "9030", "LEADER", "3.3.5-abc1234");
            r.insert(col.into(), v.into());
            let e = leader_from_rows(&[r]).unwrap_err();
            assert!(matches!(e, SettingsError::BadInput(_)), "{col}: {e}");
            assert!(!e.to_string().contains('\n'), "escaped: {e}");
        }
    }

    #[test]
    fn no_leader_several_leaders_and_is_master_are_named() {
        let f = fe_row("10.0.0.1", "9030", "FOLLOWER", "3.3.5-abc1234");
        assert!(matches!(
            leader_from_rows(std::slice::from_ref(&f)),
            Err(SettingsError::Failed(_))
        ));
        let l = fe_row("10.0.0.1", "9030", "LEADER", "3.3.5-abc1234");
        assert!(matches!(
            leader_from_rows(&[l.clone(), l]),
            Err(SettingsError::Failed(_))
        ));
        let mut old = f;
        old.remove("Role");
        old.insert("IsMaster".into(), "true".into());
        let e = leader_from_rows(&[old]).unwrap_err().to_string();
        assert!(e.contains("before 2.5"), "{e}");
    }
}
