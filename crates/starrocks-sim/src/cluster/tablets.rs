//! Tablet health from the backends' state, as the leader's `TabletChecker` and `StatisticProcDir`
//! judge it: a tablet with a replica on a backend that is not Alive is REPLICA_MISSING, one with
//! a replica behind its partition's visible version is VERSION_INCOMPLETE, and both count as
//! unhealthy. Loads (`make-cluster --busy`) raise the visible version once a quorum of replicas
//! published, the last replica a round later (a tablet mid-publish is counted unhealthy for that
//! moment); a replica left behind while its backend was down stays behind until a clone repairs
//! it, and the leader schedules clones only while its `tablet_sched_max_scheduling_tablets` is
//! above 0, after `tablet_sched_repair_delay_factor_second` x 2 (NORMAL priority,
//! `TabletSchedCtx.isReadyToSchedule`). A backend down longer than
//! `tablet_sched_be_down_tolerate_time_s` (900 s) would have its replicas relocated; no simulated
//! outage lasts that long, so that is not modelled.
//!
//! The leader keeps this state and each follower copies it while it follows (the journal's
//! replay), so a follower answers SHOW PROC '/statistic' itself and a new leader goes on from it.
//! Every table has `TABLETS_PER_TABLE` tablets in one partition; a load writes all of them.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::answers::DbStat;
use crate::image::Table;

/// Tablets per table in the simulated catalogue (buckets of one partition).
pub const TABLETS_PER_TABLE: u64 = 10;

/// Journal entries one load transaction writes (begin, commit, visible).
const ENTRIES_PER_LOAD: u64 = 3;

/// One table's partition: its visible version and each backend's replica version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableState {
    pub db: String,
    pub name: String,
    pub replication_num: u32,
    pub visible: u64,
    /// backend id -> the version its replicas of this partition reached.
    pub versions: BTreeMap<u64, u64>,
    /// backend id -> when (unix ms) the checker first found its replicas behind, while the
    /// scheduler may take them (the repair delay counts from there).
    pub behind_since: BTreeMap<u64, i64>,
    /// The backend whose replicas publish the last load one round late.
    pub publishing: Option<u64>,
}

/// The cluster's tablets as the leader sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tablets {
    pub tables: Vec<TableState>,
    /// Every backend, in id order, and those Alive at the last heartbeat round.
    pub backends: Vec<u64>,
    pub alive: BTreeSet<u64>,
    /// The table the next load writes (round robin).
    next: usize,
}

/// What one leader round needs from the FE: the catalogue, the backends and their liveness, and
/// the scheduler's configuration.
pub struct Round<'a> {
    pub tables: &'a [Table],
    pub backends: &'a [(u64, bool)],
    pub busy: bool,
    pub max_scheduling: i64,
    pub repair_delay_secs: i64,
    pub now_ms: i64,
}

impl Tablets {
    /// The backends holding replicas of tablet `t` of a table with `replication_num` replicas.
    fn replica_bes(&self, t: u64, replication_num: u32) -> Vec<u64> {
        let n = self.backends.len();
        if n == 0 {
            return Vec::new();
        }
        (0..(replication_num as usize).min(n))
            .map(|i| self.backends[(t as usize + i) % n])
            .collect()
    }

    fn tablet_unhealthy(&self, ts: &TableState, t: u64) -> bool {
        self.replica_bes(t, ts.replication_num).iter().any(|be| {
            !self.alive.contains(be) || ts.versions.get(be).copied().unwrap_or(0) < ts.visible
        })
    }

    /// One leader round: the liveness the heartbeat found, a load when busy, the publish of the
    /// previous one, and the clones the scheduler may run. Returns the journal entries written.
    pub fn round(&mut self, r: &Round) -> u64 {
        self.backends = r.backends.iter().map(|(id, _)| *id).collect();
        self.alive = r
            .backends
            .iter()
            .filter(|(_, a)| *a)
            .map(|(id, _)| *id)
            .collect();
        if self.tables.len() != r.tables.len() {
            self.tables = r
                .tables
                .iter()
                .map(|t| TableState {
                    db: t.db.clone(),
                    name: t.name.clone(),
                    replication_num: t.replication_num,
                    visible: 1,
                    versions: self.backends.iter().map(|b| (*b, 1)).collect(),
                    ..Default::default()
                })
                .collect();
        }
        let alive = self.alive.clone();
        // The late replica of the last load publishes now, if its backend is up.
        for ts in &mut self.tables {
            if let Some(be) = ts.publishing.take() {
                if alive.contains(&be) {
                    ts.versions.insert(be, ts.visible);
                }
            }
        }
        let mut written = 0;
        if r.busy && !self.tables.is_empty() {
            let i = self.next % self.tables.len();
            self.next = i + 1;
            let ts = &mut self.tables[i];
            let holders: Vec<u64> = alive.iter().copied().collect();
            // Quorum publish: a majority of the replicas must take the version.
            let quorum = ts.replication_num as usize / 2 + 1;
            if holders.len() >= quorum.min(self.backends.len()) && !holders.is_empty() {
                let behind_before: BTreeSet<u64> = holders
                    .iter()
                    .copied()
                    .filter(|b| ts.versions.get(b).copied().unwrap_or(0) < ts.visible)
                    .collect();
                ts.visible += 1;
                for b in &holders {
                    // A replica already behind misses this version too (it needs a clone).
                    if !behind_before.contains(b) {
                        ts.versions.insert(*b, ts.visible);
                    }
                }
                let late = holders[(ts.visible as usize) % holders.len()];
                if !behind_before.contains(&late) {
                    ts.versions.insert(late, ts.visible - 1);
                    ts.publishing = Some(late);
                }
                written += ENTRIES_PER_LOAD;
            }
        }
        // TabletChecker + TabletScheduler: clone the replicas left behind on live backends.
        for ts in &mut self.tables {
            let visible = ts.visible;
            for be in alive.iter() {
                let behind = ts.versions.get(be).copied().unwrap_or(0) < visible
                    && ts.publishing != Some(*be);
                if !behind || r.max_scheduling <= 0 {
                    // The checker adds nothing while the scheduler is full (0 means always).
                    ts.behind_since.remove(be);
                    continue;
                }
                let since = *ts.behind_since.entry(*be).or_insert(r.now_ms);
                if r.now_ms - since > r.repair_delay_secs * 1000 * 2 {
                    ts.versions.insert(*be, visible);
                    ts.behind_since.remove(be);
                    written += 1;
                }
            }
        }
        written
    }

    /// Per database, as SHOW PROC '/statistic' counts it; `extra` unhealthy tablets (the
    /// `--unhealthy-tablets` of the build, which never heal) are added to the first database.
    pub fn db_stats(&self, tables: &[Table], extra: u64) -> Vec<DbStat> {
        let mut per_db: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
        for t in tables {
            let e = per_db.entry(t.db.as_str()).or_default();
            e.0 += 1;
            e.1 += TABLETS_PER_TABLE * t.replication_num as u64;
            if let Some(ts) = self
                .tables
                .iter()
                .find(|s| s.db == t.db && s.name == t.name)
            {
                e.2 += (0..TABLETS_PER_TABLE)
                    .filter(|i| self.tablet_unhealthy(ts, *i))
                    .count() as u64;
            }
        }
        per_db
            .iter()
            .enumerate()
            .map(|(i, (db, (n, replicas, unhealthy)))| {
                let tablets = n * TABLETS_PER_TABLE;
                let fixed = if i == 0 { extra } else { 0 };
                DbStat {
                    id: 10_004 + i as u64,
                    name: db.to_string(),
                    tables: *n,
                    partitions: *n,
                    indexes: *n,
                    tablets,
                    replicas: *replicas,
                    unhealthy: (unhealthy + fixed).min(tablets),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(t: &mut Tablets, alive: [bool; 3], busy: bool, sched: i64, now: i64) {
        let tables = [Table {
            db: "db1".into(),
            name: "t1".into(),
            replication_num: 3,
        }];
        let bes = [(1, alive[0]), (2, alive[1]), (3, alive[2])];
        t.round(&Round {
            tables: &tables,
            backends: &bes,
            busy,
            max_scheduling: sched,
            repair_delay_secs: 1,
            now_ms: now,
        });
    }

    fn unhealthy(t: &Tablets) -> u64 {
        let tables = [Table {
            db: "db1".into(),
            name: "t1".into(),
            replication_num: 3,
        }];
        t.db_stats(&tables, 0)[0].unhealthy
    }

    #[test]
    fn a_replica_left_behind_heals_only_by_clone_while_scheduling_is_on() {
        let mut t = Tablets::default();
        round(&mut t, [true; 3], false, 10000, 0);
        assert_eq!(unhealthy(&t), 0);
        // be1 down: every tablet has a replica missing.
        round(&mut t, [false, true, true], true, 0, 100);
        assert_eq!(unhealthy(&t), 10);
        round(&mut t, [false, true, true], true, 0, 200);
        // be1 back, clone disabled: its replicas stay behind however long it waits.
        for now in [300, 5_000, 60_000] {
            round(&mut t, [true; 3], false, 0, now);
            assert_eq!(unhealthy(&t), 10, "at {now}");
        }
        // Clone enabled: repaired once the delay (2 x 1 s) passed since the checker saw it.
        round(&mut t, [true; 3], false, 10000, 61_000);
        assert_eq!(unhealthy(&t), 10);
        round(&mut t, [true; 3], false, 10000, 63_500);
        assert_eq!(unhealthy(&t), 0);
    }
}
