//! The signature catalog: every StarRocks log line the tool knows, as data.
//!
//! One table serves the live watch of `fe` and `be` and (later) `scan`. Each entry has a stable id,
//! the role whose logs it appears in, a severity (`fatal` ends the wait at once, `warning` is
//! reported, `progress` marks readiness), the pattern, what it means and what to do. The patterns
//! are compiled once into a `RegexSet`, so a line is classified in one pass whatever the table size.
//! Patterns accept both FE timestamp eras and both glog prefixes because they match the message
//! part only.

use std::sync::OnceLock;

use regex::{Regex, RegexSet};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Fe,
    Be,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Progress,
    Warning,
    Fatal,
}

/// One known log signature.
#[derive(Debug, Serialize)]
pub struct Signature {
    pub id: &'static str,
    pub role: Role,
    pub severity: Severity,
    pub pattern: &'static str,
    pub explanation: &'static str,
    pub remedy: &'static str,
    /// A real line (message part) this entry matches; the corpus and tests are built from it.
    pub example: &'static str,
}

const META_RECOVERY_DOC: &str = "https://docs.starrocks.io/docs/administration/Meta_recovery/";
const UPGRADE_DOC: &str = "https://docs.starrocks.io/docs/deployment/upgrade/";

macro_rules! sig {
    ($id:expr, $role:ident, $sev:ident, $pat:expr, $why:expr, $fix:expr, $ex:expr) => {
        Signature {
            id: $id,
            role: Role::$role,
            severity: Severity::$sev,
            pattern: $pat,
            explanation: $why,
            remedy: $fix,
            example: $ex,
        }
    };
}

/// The catalog. Order matters only for display.
pub static CATALOG: &[Signature] = &[
    // ---- FE: readiness
    sig!("fe.ready.replayed", Fe, Progress, r"(leader|master) finished to replay journal, can write now\.", "the new FE replayed the copied journal and became leader", "", "leader finished to replay journal, can write now."),
    sig!("fe.ready.qe-service", Fe, Progress, r"QE service start\.", "the MySQL service is up (last start line before 3.1)", "", "QE service start."),
    sig!("fe.ready.started", Fe, Progress, r"FE started successfully", "the FE finished its startup sequence (3.1+)", "", "FE started successfully"),
    // ---- FE: metadata compatibility
    sig!("fe.meta.incompatible-version", Fe, Fatal, r"Not compatible with meta version \d+, current version is \d+", "the image was written by a release this version cannot load (3.3+ refuses images last written by 2.5/3.0)", "upgrade through the intermediate minor versions (2.5 -> 3.0 -> 3.1 -> 3.2 -> 3.3) and run ALTER SYSTEM CREATE IMAGE between steps; see https://docs.starrocks.io/docs/deployment/upgrade/", "Not compatible with meta version 3, current version is 4"),
    sig!("fe.meta.version-too-new", Fe, Fatal, r"invalid meta data version found, cat not bigger than FeConstants\.(meta_version|starrocks_meta_version)", "the image is newer than this release understands (a downgrade)", "downgrade one minor version at a time; see https://docs.starrocks.io/docs/deployment/downgrade/", "invalid meta data version found, cat not bigger than FeConstants.meta_version.please update FeConstants.meta_version bigger or equal to 4 and restart."),
    sig!("fe.meta.unknown-operation-type", Fe, Fatal, r"UNKNOWN Operation Type \d+", "the journal holds an operation written by a newer release (downgrade or mixed versions)", "set ignore_unknown_log_id = true (metadata_ignore_unknown_operation_type on 3.4+) until the first checkpoint, or upgrade instead; see https://docs.starrocks.io/docs/deployment/downgrade/", "java.io.IOException: UNKNOWN Operation Type 10005"),
    sig!("fe.meta.replay-failed", Fe, Fatal, r"catch exception when replaying|failed to load journal type \d+|JournalInconsistentException", "a journal entry failed to replay on the new version", "look at the entry's op code in the log; metadata_journal_skip_bad_journal_ids can skip a known-bad id; report the op code to StarRocks", "com.starrocks.journal.JournalInconsistentException: failed to load journal type 10267"),
    sig!("fe.meta.journal-init-failed", Fe, Fatal, r"failed to init journal after transfer to leader! will exit", "the new leader could not replay the journal", "see the replay error logged just before this line", "failed to init journal after transfer to leader! will exit"),
    // BDBJournalCursor.deserializeData (fe-core/.../journal/bdbje/BDBJournalCursor.java) logs
    // `fail to read journal entity key=%s, data=%s` with the exception below it (2.5+); older
    // releases logged `fail to read journal entity key={}, will exit` and exited.
    sig!("fe.meta.read-journal-failed", Fe, Fatal, r"fail to read journal entity key=\d+(, will exit|, data=)", "a journal entry could not be read", "the copied bdb/ may be incomplete; copy the meta from a stopped leader or after ALTER SYSTEM CREATE IMAGE", "fail to read journal entity key=4314, will exit"),
    // The same record with its cause: JournalEntity.readFields ran out of bytes (an entry written
    // empty or cut short, StarRocks PR #53044) ...
    sig!("fe.meta.journal-eof", Fe, Fatal, r"(?s)fail to read journal entity key=\d+.*java\.io\.EOFException", "a journal entry ends before its fields do: it was written empty or cut short (StarRocks #53044: a failed serialization wrote an empty entry), and no release can replay it", "do not upgrade this meta: copy it again from a stopped leader; if the leader itself fails on the same key, skip that id with metadata_journal_skip_bad_journal_ids only with StarRocks support's advice, or restore the meta from a backup", "fail to read journal entity key=13159, data=<DatabaseEntry offset=\"0\" size=\"2\" data=\"50 200 \"/>\njava.io.EOFException: null"),
    // ... or its JSON (Gson, GsonUtils in fe-core/.../persist/gson/) does not parse as the class
    // this release expects, which the replayer reports from JournalEntity.readFields or while it
    // replays (GlobalStateMgr.replayJournal / transferToLeader).
    sig!("fe.meta.journal-json", Fe, Fatal, r"(?s)(fail to read journal entity|failed to init journal after transfer to leader|catch an exception when replay journal|catch exception when replaying).*com\.google\.gson\.Json\w*Exception", "a journal entry's JSON does not parse as this release's class: it was written by a release with another layout (a downgrade, or a known bug of the writing release)", "note the journal key and the class in the exception; upgrade to a patch release that reads it (search the StarRocks issues for the class), or roll back to the release that wrote it; never skip the entry without StarRocks support", "failed to init journal after transfer to leader! will exit\ncom.google.gson.JsonSyntaxException: java.lang.IllegalStateException: Expected BEGIN_OBJECT but was STRING at line 1 column 91 path $.p.m2."),
    sig!("fe.meta.image-eof", Fe, Fatal, r"load image eof", "the image file ended early (truncated, or written by another version)", "copy the meta again; if it persists, create a new image on the leader with ALTER SYSTEM CREATE IMAGE", "load image eof."),
    sig!("fe.meta.image-checksum", Fe, Fatal, r"checksum mismatch! expect \d+ actual \d+", "the v2 image does not match its checksum file", "copy the meta again from a leader that is not writing an image", "checksum mismatch! expect 123 actual 456"),
    sig!("fe.meta.bdb-version-mismatch", Fe, Fatal, r"VersionMismatchException|VERSION_MISMATCH", "the BDB JE log was written by a newer JE than this release ships (3.0 -> 2.5 rollback)", "copy starrocks-bdb-je-18.3.13.jar from 3.0 into the 2.5 lib and delete je-7.*.jar, as the downgrade guide says", "com.sleepycat.je.VersionMismatchException: (JE 7.3.7) Expected log version 14 or earlier but found 17 VERSION_MISMATCH: The existing log was written with a version of JE that is later than the running version of JE"),
    sig!("fe.meta.vlsn", Fe, Fatal, r"recoveryTracker should overlap or follow on disk last VLSN", "BDB JE found the copied journal inconsistent (the JE VLSN bug, StarRocks issue #4969), typical of a meta copied while an FE wrote to it", "copy the meta from a stopped FE, or right after ALTER SYSTEM CREATE IMAGE; see https://github.com/StarRocks/starrocks/issues/4969", "com.sleepycat.je.EnvironmentFailureException: (JE 7.3.7) recoveryTracker should overlap or follow on disk last VLSN of 4273 recoveryFirst=4280 UNEXPECTED_STATE"),
    sig!("fe.meta.bdb-rollback", Fe, Fatal, r"RollbackException.*must rollback \d+ total commits", "the journal holds commits the replication group never confirmed (a meta copied from a running FE)", "copy the meta from the Leader after stopping it, or after ALTER SYSTEM CREATE IMAGE", "com.sleepycat.je.rep.RollbackException: (JE 7.3.7) Node 10.0.0.1_9010_1632647567330(523):/sr/meta/bdb must rollback 1 total commits(1 of which were durable) to the earliest point"),
    sig!("fe.meta.insufficient-log", Fe, Fatal, r"InsufficientLogException|INSUFFICIENT_LOG", "the journal files of this copy are obsolete for the group", "copy the meta of the current Leader", "com.sleepycat.je.rep.InsufficientLogException: (JE 7.3.8) Environment must be closed INSUFFICIENT_LOG: Log files at this node are obsolete."),
    sig!("fe.meta.bdb-env-invalid", Fe, Fatal, r"EnvironmentFailureException.*Environment (must be closed|invalid)", "BDB JE declared the journal environment unusable", "read the exception for the cause; copy the meta again from a stopped Leader", "com.sleepycat.je.EnvironmentFailureException: (JE 7.3.8) Environment must be closed, caused by: com.sleepycat.je.EnvironmentFailureException: Environment invalid because of previous exception"),
    sig!("fe.meta.skipped-journal", Fe, Warning, r"!!! DANGER: SKIP JOURNAL|skip ignorable journal load failure", "a journal entry was skipped on replay (metadata_journal_skip_bad_journal_ids or metadata_journal_ignore_replay_failure)", "the sandbox metadata differs from production by that entry; find out why it failed before upgrading", "!!! DANGER: SKIP JOURNAL 10234: {} !!!"),
    sig!("fe.meta.incomplete", Fe, Fatal, r"image exists, but bdb dir is empty", "the copied meta has an image but no journal", "copy the whole meta dir including bdb/", "image exists, but bdb dir is empty, set start_with_incomplete_meta to true if you want to forcefully recover from image data, this may end with stale meta data, so please be careful."),
    sig!("fe.meta.dir-missing", Fe, Fatal, r"meta dir \S+ (dose|does) not exist", "meta_dir points at a folder that does not exist", "check meta_dir in fe.conf", "meta dir /data/starrocks/meta dose not exist"),
    sig!("fe.meta.empty-cluster", Fe, Fatal, r"very first time to start this node", "the FE found no metadata and created a NEW EMPTY cluster: the rehearsal did not test your metadata", "check that --meta is the Leader's meta_dir (holding image/ and bdb/)", "very first time to start this node. role: FOLLOWER, node name: 10.0.0.1_9010_1705568349984"),
    sig!("fe.meta.role-version-mismatch", Fe, Fatal, r"role file and version file must both exist or both not exist", "image/ROLE and image/VERSION must come together", "copy both files from the leader", "role file and version file must both exist or both not exist. please specific one helper node to recover. will exit."),
    sig!("fe.meta.both-meta-dirs", Fe, Fatal, r"are both present\. Please make sure .* has the latest data", "both meta and doris-meta exist", "remove the stale one", "New default meta dir: /sr/meta and Old default meta dir: /sr/doris-meta are both present. Please make sure /sr/meta has the latest data, and remove the another one."),
    // ---- FE: cluster identity and election
    sig!("fe.conf.cluster-id-mismatch", Fe, Fatal, r"cluster id is not equal with config item cluster_id\. will exit", "fe.conf cluster_id differs from image/VERSION clusterId (checked up to 3.2)", "set clusterId in image/VERSION to the same value as cluster_id in fe.conf", "cluster id is not equal with config item cluster_id. will exit."),
    sig!("fe.conf.run-mode-mismatch", Fe, Fatal, r"Unmatched run mode between config file and version file", "fe.conf run_mode differs from VERSION runMode", "shared-nothing and shared-data clusters cannot be converted; use the production run_mode", "Unmatched run mode between config file and version file: shared_data vs shared_nothing. will exit! "),
    sig!("fe.conf.run-mode-upgrade", Fe, Fatal, r"Upgrading from a cluster with version less than 3\.0 to a cluster with run mode", "a pre-3.0 cluster cannot start as shared_data", "keep run_mode = shared_nothing", "Upgrading from a cluster with version less than 3.0 to a cluster with run mode shared_data of version 3.0 or above is disallowed. will exit"),
    sig!("fe.conf.run-mode-invalid", Fe, Fatal, r#"Invalid run_mode ".*"\. The candidates are"#, "run_mode has an unknown value", "use shared_nothing or shared_data", "Invalid run_mode \"cloud\". The candidates are \"shared_nothing\" and \"shared_data\""),
    sig!("fe.election.helper-mismatch", Fe, Fatal, r"(token|cluster id) is not equal with helper node .*will exit|Unmatched run mode with helper node", "the helper node belongs to another cluster", "do not pass --helper to a rehearsal", "token is not equal with helper node 10.0.0.2. will exit."),
    sig!("fe.election.not-in-group", Fe, Fatal, r"current node is not added to the cluster, will exit|current node role is \S+ not match with frontend recorded role", "without the election reset, the node is not in the recorded frontend list", "set bdbje_reset_election_group = true (metadata_failure_recovery on <= 3.2.4)", "current node is not added to the cluster, will exit"),
    // NodeMgr.getClusterIdAndRoleOnStartup (fe-core/.../server/NodeMgr.java): a node started with
    // --helper asks the helper for its role until the leader knows it, every 5 seconds, forever.
    sig!("fe.join.not-added", Fe, Warning, r"current node is not added to the group\. please add it first\. sleep 5 seconds and retry", "waiting forever: the helper does not know this FE (it answers 400), so the FE asks again every 5 seconds and never starts until the leader adds it", "on the leader run ALTER SYSTEM ADD FOLLOWER (or OBSERVER) '<host>:<edit_log_port>' with the host exactly as this FE names itself (IP or FQDN), then check SHOW FRONTENDS", "current node is not added to the group. please add it first. sleep 5 seconds and retry, current helper nodes: [10.0.0.1:9010]"),
    sig!("fe.election.observer", Fe, Fatal, r"Current node is not in the electable_nodes list\. will exit", "the copied meta is from an OBSERVER; the reset only works on an electable node", "copy the meta of the Leader FE, not an observer", "Current node is not in the electable_nodes list. will exit"),
    sig!("fe.election.wait", Fe, Warning, r"wait globalStateMgr to be ready\. FE type: (INIT|UNKNOWN)", "the FE is waiting for an election it cannot win", "check that the election-group reset key this version honours is set (bdbje_reset_election_group from 3.1.10/3.2.5/3.3)", "wait globalStateMgr to be ready. FE type: UNKNOWN. is ready: false"),
    sig!("fe.election.too-much-time", Fe, Warning, r"It took too much time for FE to transfer to a stable state", "the election has been stuck for a minute or more", "check the reset flag and that no other FE of the recorded group is reachable", "It took too much time for FE to transfer to a stable state(LEADER/FOLLOWER), it maybe caused by one of the following reasons:"),
    sig!("fe.election.unknown-master", Fe, Warning, r"UnknownMasterException.*Could not determine master from helpers", "the FE tried to reach the recorded frontends to elect a master", "the election-group reset flag was not honoured; check its name for this version", "com.sleepycat.je.rep.UnknownMasterException: (JE 18.3.16) Could not determine master from helpers at:[/10.0.0.2:9010, /10.0.0.3:9010]"),
    sig!("fe.election.bdb-setup-failed", Fe, Fatal, r"failed to setup environment after retried \d+ times", "BDB JE could not open the journal environment", "another process may hold bdb/je.lck, or the bdb files are damaged; see the exception above it", "com.starrocks.journal.JournalException: failed to setup environment after retried 3 times"),
    sig!("fe.election.demoted", Fe, Fatal, r"transfer FE type from LEADER to \w+\. exit", "the leader lost its role and exited", "look for network or disk stalls just before this line", "transfer FE type from LEADER to UNKNOWN. exit"),
    sig!("fe.election.reset-stale", Fe, Fatal, r"DatabaseNotFoundException.*_jeRepGroupDB", "the reset flag was left on after a previous recovery", "remove the recovery flag and restart, as the meta recovery guide says", "com.sleepycat.je.DatabaseNotFoundException: (JE 18.3.16) _jeRepGroupDB"),
    // ---- FE: ports and process
    sig!("fe.port.edit-log-in-use", Fe, Fatal, r"edit_log_port \d+ is already in use\. will exit", "edit_log_port is taken by another process", "pick another edit_log_port", "edit_log_port 9010 is already in use. will exit."),
    sig!("fe.port.rpc-in-use", Fe, Fatal, r"thrift server start failed with port \d+", "rpc_port is taken", "pick another rpc_port", "thrift server start failed with port 9020 , will exit"),
    sig!("fe.port.http-in-use", Fe, Fatal, r"Fail to start FE query http(\(s\))? server\[port: \d+\]", "http_port is taken", "pick another http_port", "Fail to start FE query http server[port: 8030] "),
    sig!("fe.port.query-in-use", Fe, Fatal, r"mysql server start failed", "query_port is taken", "pick another query_port", "mysql server start failed"),
    sig!("fe.port.arrow-in-use", Fe, Fatal, r"\[ARROW\] Failed to start Arrow Flight SQL server", "arrow_flight_port is taken", "set arrow_flight_port = -1", "[ARROW] Failed to start Arrow Flight SQL server on 0.0.0.0:9408. Its port might be occupied."),
    sig!("fe.process.pid-locked", Fe, Fatal, r"pid file is already locked|get pid file lock failed", "another FE runs from the same folder", "stop it, or use another folder", "java.io.IOException: pid file is already locked."),
    sig!("fe.disk.meta-free-space", Fe, Fatal, r"Free capacity left for meta dir: .* is less than", "StarRocks 3.2+ refuses to start with less than 5 GB free on the meta disk", "free space on the meta disk or pick another --workspace-root", "Free capacity left for meta dir: /data/starrocks/meta is less than 5GB"),
    sig!("fe.start.failed", Fe, Fatal, r"StarRocksFE start failed", "the FE threw an exception during startup (on 2.5/3.0 the JVM stays alive)", "read the exception logged with it", "StarRocksFE start failed"),
    sig!("fe.start.will-exit", Fe, Fatal, r"(?i)will exit[.!]?\s*$|exit now\s*$", "the FE decided to exit", "fix what the message names, then start the FE again", "unexpected state in catalog. will exit."),
    // ---- FE: JVM and scripts (fe.out)
    sig!("fe.jvm.unrecognized-option", Fe, Fatal, r"Unrecognized (VM )?option", "the JDK refuses an option in JAVA_OPTS written for an older JDK (CMS options were removed in JDK 14, -XX:+PrintGCDateStamps and -XX:+PrintGCDetails-style GC logging in JDK 9)", "remove those options from the JAVA_OPTS line start_fe.sh uses for this JDK (on current releases JAVA_OPTS for JDK 17, JAVA_OPTS_FOR_JDK_9/11 for the older JDKs), and use -Xlog:gc* with G1 instead", "Unrecognized VM option 'UseConcMarkSweepGC'"),
    sig!("fe.jvm.create-failed", Fe, Fatal, r"Could not create the Java Virtual Machine", "the JVM did not start", "see the JVM message just before this line in fe.out", "Error: Could not create the Java Virtual Machine."),
    sig!("fe.jvm.unsupported-jdk", Fe, Fatal, r"JDK \S+ is not supported, please use JDK", "this release does not run on that JDK", "point JAVA_HOME at a supported JDK (3.5+: 17; 3.4: 11+; 3.2/3.3: 11 or 17)", "Error: JDK 11 is not supported, please use JDK version 17 or higher"),
    sig!("fe.jvm.class-version", Fe, Fatal, r"UnsupportedClassVersionError", "the release was compiled for a newer JDK", "use the JDK the release requires", "java.lang.UnsupportedClassVersionError: com/starrocks/StarRocksFE has been compiled by a more recent version of the Java Runtime (class file version 61.0)"),
    sig!("fe.jvm.java-home", Fe, Fatal, r"JAVA_HOME is not set|JAVA_OPTS_FOR_JDK_9 is not set in fe\.conf", "start_fe.sh could not find a usable JDK setting", "set JAVA_HOME (and JAVA_OPTS_FOR_JDK_9 for 2.5 on JDK 9+)", "Error: JAVA_HOME is not set."),
    sig!("fe.jvm.main-class", Fe, Fatal, r"Could not find or load main class com\.starrocks", "the lib/ folder does not hold the FE jars", "point --new-fe at an unpacked fe/ folder", "Error: Could not find or load main class com.starrocks.StarRocksFE"),
    sig!("fe.process.already-running", Fe, Fatal, r"Frontend running as process \d+\. Stop it first\.", "a pid file in the package's bin/ names a live FE", "stop it first", "Frontend running as process 12345. Stop it first."),
    // ---- BE: readiness
    sig!("be.ready.started", Be, Progress, r"BE started successfully|CN started successfully", "the BE finished its startup (3.0+)", "", "BE started successfully"),
    sig!("be.ready.heartbeat-listening", Be, Progress, r"heartbeat has started listening port on \d+", "the heartbeat service is listening (every version)", "", "heartbeat has started listening port on 9050"),
    sig!("be.ready.heartbeat-service", Be, Progress, r"StarRocks BE HeartBeat Service started correctly\.", "the last start line of 2.x", "", "StarRocks BE HeartBeat Service started correctly."),
    sig!("be.progress.tablet-load", Be, Progress, r"begin loading tablet from meta", "tablet meta is loading; with many tablets this takes minutes and HTTP is not up yet", "allow a longer --timeout", "begin loading tablet from meta /data1/starrocks/storage"),
    // ---- BE: host and build
    // `Illegal instruction` is the shell's report of SIGILL, and 132 (128 + 4) the exit status a
    // container runtime prints for it (`exited with code 132`).
    sig!("be.cpu.avx2", Be, Fatal, r"CPU flags check failed!|Illegal instruction|terminated by SIGILL|exited with code 132", "the CPU lacks AVX2, which StarRocks BE builds require", "run on a host with AVX2 (grep avx2 /proc/cpuinfo)", "CPU flags check failed! The following instruction sets are enabled during compiling but not supported in current running env: avx2!"),
    // StorageEngine::check_file_descriptor_number (be/src/storage/storage_engine.cpp): below
    // min_file_descriptor_number (60000) open files the BE refuses to open its storage.
    sig!("be.host.open-files", Be, Fatal, r"File descriptor number is less than \d+\. Please use \(ulimit -n\)", "the open-files limit (ulimit -n) of the BE's process is below min_file_descriptor_number (60000), so the BE refuses to start", "raise the limit where the BE is started: ulimit -n 655350 in its shell or LimitNOFILE= in its systemd unit, the container runtime's nofile ulimit (docker --ulimit nofile=655350:655350), or /etc/security/limits.conf", "File descriptor number is less than 60000. Please use (ulimit -n) to set a value equal or greater than 60000"),
    sig!("be.lib.glibc", Be, Fatal, r"version `GLIBC_[\d.]+' not found", "the host's glibc is too old for this build", "StarRocks needs glibc 2.17+; use the build for this OS", "/lib64/libc.so.6: version `GLIBC_2.14' not found (required by /opt/starrocks/be/lib/starrocks_be)"),
    sig!("be.lib.shared-library", Be, Fatal, r"error while loading shared libraries", "a shared library the BE needs is missing (wrong OS build, or libjvm without JAVA_HOME)", "use the build for this OS and set JAVA_HOME", "/opt/starrocks/be/lib/starrocks_be: error while loading shared libraries: libbfd-2.38-system.so: cannot open shared object file: No such file or directory"),
    sig!("be.lib.symbol", Be, Fatal, r"symbol lookup error", "the binary does not match the host's libraries", "use the build for this OS", "/opt/starrocks/be/lib/starrocks_be: symbol lookup error: /opt/starrocks/be/lib/starrocks_be: undefined symbol: _dl_sym, version GLIBC_PRIVATE"),
    sig!("be.lib.bin-not-replaced", Be, Fatal, r"TCMALLOC_HEAP_LIMIT_MB is not set, maybe you forgot to replace bin directory", "a new lib/ runs under an old bin/", "replace bin/ together with lib/", "Environment variable TCMALLOC_HEAP_LIMIT_MB is not set, maybe you forgot to replace bin directory"),
    sig!("be.env.home", Be, Fatal, r"you need set STARROCKS_HOME environment variable", "the BE binary was started without the script", "start it with bin/start_be.sh", "you need set STARROCKS_HOME environment variable."),
    sig!("be.conf.unreadable", Be, Fatal, r"error read config file", "be.conf could not be read", "check conf/be.conf", "error read config file. "),
    // ---- BE: ports
    sig!("be.port.http", Be, Fatal, r"BE http server did not start correctly|Be http service did not start correctly", "be_http_port (webserver_port before 3.0) is taken", "pick another be_http_port; a YARN NodeManager often holds 8040", "BE http server did not start correctly, exiting: Failed to listen port. port: 8040, error: Address already in use"),
    sig!("be.port.thrift", Be, Fatal, r"ThriftServer '\w+' \(on port: \d+\) (did not start|exited)|Fail to start BackendService thrift server|Be server did not start correctly", "a thrift port (be_port or heartbeat_service_port) is taken", "pick another port, or stop the BE already running", "ThriftServer 'BackendService' (on port: 9060) did not start correctly "),
    sig!("be.port.brpc", Be, Fatal, r"BRPC service did not start correctly", "brpc_port is taken", "pick another brpc_port", "BRPC service did not start correctly, exiting errcoe: -1"),
    sig!("be.port.heartbeat", Be, Fatal, r"heartbeat server di(d|nt) not start correctly|Heartbeat services did not start correctly|HeartBeat Service did not start correctly", "heartbeat_service_port is taken", "pick another heartbeat_service_port", "BE heartbeat server did not start correctly, exiting: Internal error: Could not bind: Address already in use"),
    sig!("be.port.arrow", Be, Fatal, r"BE Arrow Flight Sql Server did not start correctly", "arrow_flight_port is taken", "set arrow_flight_port = -1", "BE Arrow Flight Sql Server did not start correctly, exiting: Address already in use. Its port might be occupied."),
    sig!("be.process.already-running", Be, Fatal, r"Backend running as process \d+\. Stop it first\.", "another BE runs from this folder", "stop it first", "Backend running as process 23456. Stop it first."),
    // ---- BE: storage
    sig!("be.storage.bad-path", Be, Fatal, r"parse config storage path failed|fail to parse storage_root_path config|path can not be canonicalized|invalid store path|invalid storage medium|invalid property of store path", "storage_root_path names a path that does not exist or is malformed", "each entry must be an absolute existing folder, optionally ,medium:SSD|HDD", "parse config storage path failed, path=/data9/starrocks,medium:SSD"),
    sig!("be.storage.disk", Be, Fatal, r"read write test file failed|All disks are broken|No space left on device|open engine failed|fail to open StorageEngine|Fail to init meta store", "a storage disk is unusable or full", "check the disks in storage_root_path", "open engine failed, error: Internal error: init path failed, error=IO error: /data1/starrocks/storage: No space left on device"),
    sig!("be.storage.tablet-load", Be, Fatal, r"load tablets encounter failure|load tablet from header failed|there is failure when scan rockdb tablet metas|TabletManager::load_tablet_from_meta", "a tablet's meta failed to load", "a later patch release may fix it; meta_tool can drop the bad tablet", "load tablets encounter failure. stop BE process. path: /data1/starrocks/storage"),
    sig!("be.crash.signal", Be, Fatal, r"\*\*\* (SIGSEGV|SIGABRT|SIGBUS|Aborted at)", "the BE crashed", "see the stack trace in be.out", "*** SIGSEGV (@0x0) received by PID 4321 (TID 0x7f3a2b) from PID 0; stack trace: ***"),
    // HeartbeatServer (be/src/agent/heartbeat_server.cpp): init_cluster_id_or_die puts the
    // storage's cluster id into a master info whose address is still empty (printed by thrift as
    // `hostname=, port=0`); a heartbeat of another cluster id is refused with `Unmatched cluster
    // id` and both master infos. An empty cached address means no FE of the
    // storage's own cluster has reached this BE since it started: it waits for one forever. A
    // rehearsal FE reaching a production BE finds the production FE's address cached instead,
    // which stays the warning below.
    sig!("be.cluster.foreign-storage", Be, Warning, r"Unmatched cluster id cached master info: TMasterInfo\(network_address=TNetworkAddress\(hostname=, port=0\)", "waiting forever: this BE's storage belongs to another cluster (the cluster id stored in storage_root_path), so it refuses every heartbeat of the FE that added it and never joins", "if the BE should join this cluster, point storage_root_path at this cluster's storage, or empty the paths if their data is not needed (SHOW BACKENDS shows ErrMsg: Unmatched cluster id)", "Fail to handle heartbeat: Internal error: Unmatched cluster id cached master info: TMasterInfo(network_address=TNetworkAddress(hostname=, port=0), cluster_id=417525268, epoch=0, token=<null>, backend_ip=<null>, http_port=<null>, heartbeat_flags=<null>, backend_id=<null>) received master info: TMasterInfo(network_address=TNetworkAddress(hostname=fe-0, port=9020), cluster_id=958778724, epoch=1)"),
    sig!("be.cluster.unmatched-id", Be, Warning, r"Unmatched cluster id|invalid cluster id\. ignore", "a heartbeat came from an FE of another cluster (expected for a rehearsal FE's heartbeats)", "if this is production, a rehearsal FE reached this BE: check its isolation", "Fail to handle heartbeat: Internal error: Unmatched cluster id cached master info: TMasterInfo(cluster_id=417525268) received master info: TMasterInfo(cluster_id=958778724)"),
    sig!("be.cluster.node-type", Be, Fatal, r"Unmatched node type!|was not compiled with SHARED_DATA support", "a BE/CN or shared-data/shared-nothing mismatch", "use the right binary for the cluster's run mode", "expect to be BE but actually CN,Unmatched node type!"),
];

/// The doc links used by several entries, kept for `scan --list` to print.
pub const DOCS: &[&str] = &[META_RECOVERY_DOC, UPGRADE_DOC];

struct Compiled {
    set: RegexSet,
    each: Vec<Regex>,
}

fn compiled() -> &'static Compiled {
    static C: OnceLock<Compiled> = OnceLock::new();
    C.get_or_init(|| Compiled {
        set: RegexSet::new(CATALOG.iter().map(|s| s.pattern)).expect("catalog patterns compile"),
        each: CATALOG
            .iter()
            .map(|s| Regex::new(s.pattern).expect("catalog pattern compiles"))
            .collect(),
    })
}

/// Entries that say *that* startup failed rather than *why*: `LOG.error(msg, e)` writes them with
/// the cause on the following lines, and a follow-on line (`failed to init journal after transfer to
/// leader! will exit`) repeats them. A record that also matches a specific entry is named by that.
const GENERIC: &[&str] = &[
    "fe.start.failed",
    "fe.start.will-exit",
    "fe.meta.journal-init-failed",
    "fe.meta.read-journal-failed",
    "fe.meta.replay-failed",
    "fe.meta.bdb-env-invalid",
    "fe.election.bdb-setup-failed",
    "fe.jvm.create-failed",
];

/// Entries that mean the node waits for something that will not come by itself: its log repeats
/// them until a person acts. They are warnings line by line, but a log that ends waiting on one
/// is `waiting forever`, not `still starting` (the verdict rule of the record module).
const WAITS_FOREVER: &[&str] = &["fe.join.not-added", "be.cluster.foreign-storage"];

/// Whether `id` names a wait that never ends by itself.
pub fn waits_forever(id: &str) -> bool {
    WAITS_FOREVER.contains(&id)
}

/// What a match of `sig` on `line` means. For the catch-all `will exit` entry the message itself
/// is the diagnosis, so it is quoted; every other entry has its fixed explanation.
pub fn explain(sig: &Signature, line: &str) -> std::borrow::Cow<'static, str> {
    if sig.id != "fe.start.will-exit" {
        return sig.explanation.into();
    }
    // The message: after log4j's `[Class.method():line] `, without the `will exit` it ends with.
    let first = line.lines().next().unwrap_or("");
    let msg = first
        .find("] ")
        .map_or(first, |i| &first[i + 2..])
        .trim_end();
    let lower = msg.to_ascii_lowercase();
    let cut = ["will exit.", "will exit!", "will exit", "exit now"]
        .iter()
        .find_map(|t| lower.ends_with(t).then(|| msg.len() - t.len()))
        .unwrap_or(msg.len());
    let msg = msg[..cut].trim_end_matches([' ', ',', '.', '!', ';']);
    if msg.is_empty() {
        return sig.explanation.into();
    }
    format!("the FE exits because \"{msg}\"").into()
}

/// Whether `id` is one of the generic entries that a specific one overrides.
pub fn is_generic(id: &str) -> bool {
    GENERIC.contains(&id)
}

/// The signatures of `role` that match `line` (one line or a whole record), most severe first and,
/// among the fatal ones, the most specific first: `hits[0]` names the record.
pub fn classify(line: &str, role: Role) -> Vec<&'static Signature> {
    let c = compiled();
    // Most log lines match nothing; the yes/no question is much cheaper than which ones.
    if !c.set.is_match(line) {
        return Vec::new();
    }
    let mut hits: Vec<&Signature> = c
        .set
        .matches(line)
        .into_iter()
        .map(|i| &CATALOG[i])
        .filter(|s| s.role == role)
        .collect();
    // Most severe first; among equals, a cause before the generic line that reports it.
    hits.sort_by_key(|s| (std::cmp::Reverse(s.severity), is_generic(s.id)));
    // The generic "will exit" entry only counts when nothing more specific matched.
    if hits.len() > 1 {
        hits.retain(|s| s.id != "fe.start.will-exit");
    }
    // A heartbeat refused for foreign storage is that, not a rehearsal FE's stray heartbeat.
    if hits.iter().any(|s| s.id == "be.cluster.foreign-storage") {
        hits.retain(|s| s.id != "be.cluster.unmatched-id");
    }
    hits
}

/// Whether a pattern matches, for tests and for `scan` excerpts.
pub fn pattern_of(id: &str) -> Option<&'static Regex> {
    CATALOG
        .iter()
        .position(|s| s.id == id)
        .map(|i| &compiled().each[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_patterns_compile() {
        let mut ids: Vec<&str> = CATALOG.iter().map(|s| s.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), CATALOG.len());
        assert!(pattern_of("fe.ready.started").is_some());
    }

    #[test]
    fn every_example_classifies_as_its_entry() {
        for sig in CATALOG {
            let hits = classify(sig.example, sig.role);
            assert!(
                hits.iter().any(|h| h.id == sig.id),
                "{}: example `{}` classified as {:?}",
                sig.id,
                sig.example,
                hits.iter().map(|h| h.id).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn classifies_both_fe_eras() {
        let old = "2023-12-30 20:55:41,352 ERROR (stateChangeExecutor|77) [GlobalStateMgr.transferToLeader():1035] failed to init journal after transfer to leader! will exit";
        let new = "2025-08-09 08:22:35.431-06:00 ERROR (main|1) [GlobalStateMgr.loadHeader():1301] Not compatible with meta version 3, current version is 4";
        assert_eq!(classify(old, Role::Fe)[0].id, "fe.meta.journal-init-failed");
        assert_eq!(
            classify(new, Role::Fe)[0].id,
            "fe.meta.incompatible-version"
        );
        let generic = "2024-01-01 00:00:00,000 ERROR (main|1) [X.y():1] something odd. will exit";
        assert_eq!(classify(generic, Role::Fe)[0].id, "fe.start.will-exit");
    }

    #[test]
    fn classifies_both_glog_prefixes() {
        let a = "I0901 11:27:08.965626 23134 thrift_server.cpp:375] heartbeat has started listening port on 9050";
        let b = "I20241111 19:11:26.881520 281472970518592 starrocks_be.cpp:300] BE started successfully";
        assert_eq!(classify(a, Role::Be)[0].id, "be.ready.heartbeat-listening");
        assert_eq!(classify(b, Role::Be)[0].id, "be.ready.started");
    }
}
