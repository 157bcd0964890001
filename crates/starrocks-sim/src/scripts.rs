//! The shell scripts of a simulated release, written per version.
//!
//! Operators and the tool drive StarRocks through `bin/start_fe.sh`, `bin/stop_fe.sh`,
//! `bin/start_be.sh` and `bin/stop_be.sh`, and those scripts changed between releases: how "already
//! running" is decided, where output goes, which JDK is accepted, whether stop has a timeout. These
//! are our own scripts, written to behave like each release's (see the reference notes, section 5
//! of the FE note and section 2 of the BE note); the server they start is this simulator.

use crate::release::Behaviour as _;
use starrocks_common::version::Version;

/// Helpers the start scripts source, like the release's `bin/common.sh`.
pub fn common_sh() -> String {
    r#"#!/usr/bin/env bash
# Helpers shared by the start scripts of this (simulated) StarRocks release.

# Every line of a conf file whose key is all uppercase becomes an environment variable. This is the
# release's own loop, quirks included: `read` without -r eats backslashes, the unquoted `echo $line`
# splits words (runs of blanks become one, globs expand), every ` = ` in the line loses its blanks,
# and `eval "echo ..."` runs quotes, ${VAR}, $(command) and backquotes. The last line of a key wins,
# and it wins over whatever the script exported before calling this.
export_env_from_conf() {
    while read line; do
        envline=`echo $line | sed 's/[[:blank:]]*=[[:blank:]]*/=/g' | sed 's/^[[:blank:]]*//g' | egrep "^[[:upper:]]([[:upper:]]|_|[[:digit:]])*="`
        envline=`eval "echo $envline"`
        if [[ $envline == *"="* ]]; then
            eval 'export "$envline"'
        fi
    done < $1
}

# The last value of a lowercase key, unexpanded.
read_var_from_conf() {
    sed -n "s/^[[:blank:]]*$1[[:blank:]]*=[[:blank:]]*//p" "$2" | tail -n 1
}

# The BE needs TCMALLOC_HEAP_LIMIT_MB; it is derived from the machine's memory.
export_mem_limit_from_conf() {
    local total_kb
    total_kb=$(awk '/MemTotal/ {print $2}' /proc/meminfo 2>/dev/null)
    export TCMALLOC_HEAP_LIMIT_MB=$(( ${total_kb:-8388608} * 9 / 10 / 1024 ))
}
"#
    .to_string()
}

/// `bin/start_fe.sh` for `v`.
pub fn start_fe_sh(v: Version) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "#!/usr/bin/env bash\n# start_fe.sh of a simulated StarRocks {v} frontend (starrocks-sim).\n\n"
    ));
    let mut longopts = String::from("daemon,helper:,host_type:,debug");
    if v >= Version::new(3, 1, 0) {
        longopts.push_str(",logconsole");
    }
    if v >= Version::new(3, 5, 0) {
        longopts.push_str(",cluster_snapshot,failpoint");
    }
    // The release's own JAVA_OPTS, used when fe.conf has none (2.5 @0022a1e, 3.x @e84f452).
    let default_opts = if v.major < 3 { "-Xmx1024m" } else { "-Xmx8g" };
    s.push_str(&format!(
        r#"curdir=$(dirname "$0")
curdir=$(cd "$curdir"; pwd)

OPTS=$(getopt -n "$0" -o '' -l {longopts} -- "$@") || exit 1
eval set -- "$OPTS"

RUN_DAEMON=0
RUN_LOG_CONSOLE=0
HELPER=
HOST_TYPE=
while true; do
    case "$1" in
        --daemon) RUN_DAEMON=1; shift ;;
        --logconsole) RUN_LOG_CONSOLE=1; shift ;;
        --helper) HELPER="-helper $2"; shift 2 ;;
        --host_type) HOST_TYPE="-host_type $2"; shift 2 ;;
        --debug|--cluster_snapshot|--failpoint) shift ;;
        --) shift; break ;;
        *) echo "Internal error"; exit 1 ;;
    esac
done

export STARROCKS_HOME=$(cd "$curdir/.."; pwd)
export DORIS_HOME="$STARROCKS_HOME"
# Unquoted as in the release: a home whose path has a blank cannot source it.
source $STARROCKS_HOME/bin/common.sh

# The script's own values first; fe.conf, read next, wins over each of them.
export JAVA_OPTS="{default_opts}"
export LOG_DIR="$STARROCKS_HOME/log"
export PID_DIR=$(cd "$curdir"; pwd)
export_env_from_conf $STARROCKS_HOME/conf/fe.conf
mkdir -p $LOG_DIR
"#
    ));
    if v.creates_missing_meta_dir() {
        s.push_str(
            r#"meta_dir=$(eval echo "$(read_var_from_conf meta_dir "$STARROCKS_HOME/conf/fe.conf")")
mkdir -p "${meta_dir:-"$STARROCKS_HOME/meta"}"
"#,
        );
    }
    let redirect_all = v >= Version::new(3, 1, 0);
    if redirect_all {
        s.push_str(
            r#"LOG_FILE=$LOG_DIR/fe.out
if [ "$RUN_LOG_CONSOLE" -eq 0 ] && [ "${SYS_LOG_TO_CONSOLE:-0}" != "1" ]; then
    exec >> $LOG_FILE 2>&1
fi
"#,
        );
        s.push_str(
            r#"if [ -z "$JAVA_HOME" ]; then
    javac_path=$(command -v javac)
    if [ -z "$javac_path" ]; then
        echo "Error: JAVA_HOME is not set, and javac is not found in PATH."
        echo "Please install a JDK and set JAVA_HOME in conf/fe.conf or in the environment."
        exit 1
    fi
    export JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$javac_path")")")
    echo "Infered JAVA_HOME=$JAVA_HOME"
fi
"#,
        );
    } else {
        s.push_str(
            r#"if [ -z "$JAVA_HOME" ]; then
    echo "Error: JAVA_HOME is not set."
    exit 1
fi
"#,
        );
    }
    // Both wordings of the JRE check: the short one beside the `JAVA_HOME is not set.` check, the
    // long one once the script infers JAVA_HOME.
    if v.line() == (3, 0) {
        s.push_str(
            r#"if [ ! -f "$JAVA_HOME/bin/javac" ]; then
    echo "Error: JAVA_HOME can not be jre"
    exit 1
fi
"#,
        );
    } else if redirect_all {
        s.push_str(
            r#"if [ ! -f "$JAVA_HOME/bin/javac" ]; then
    echo "Error: It appears that your JAVA_HOME environment variable is pointing to a non-JDK path: $JAVA_HOME"
    echo "The FE program requires the full JDK to be installed and configured properly. Please check that JAVA_HOME"
    echo "is set to the installation directory of JDK 8 or higher, rather than the JRE installation directory."
    exit 1
fi
"#,
        );
    }
    s.push_str(
        r#"JAVA="$JAVA_HOME/bin/java"
JAVA_VERSION=$("$JAVA" -version 2>&1 | awk -F '"' '/version/ {print $2}' | awk -F '.' '{ if ($1 == 1) print $2; else print $1 }')
final_java_opt=$JAVA_OPTS
"#,
    );
    match v.line() {
        (2, _) => s.push_str(
            r#"if [[ "$JAVA_VERSION" -gt 8 ]]; then
    if [ -z "$JAVA_OPTS_FOR_JDK_9" ]; then
        echo "JAVA_OPTS_FOR_JDK_9 is not set in fe.conf" >> "$LOG_DIR/fe.out"
        exit -1
    fi
    final_java_opt=$JAVA_OPTS_FOR_JDK_9
fi
"#,
        ),
        (3, 0) | (3, 1) => s.push_str(
            r#"if [[ "$JAVA_VERSION" -gt 8 ]]; then
    if [ -n "$JAVA_OPTS_FOR_JDK_11" ]; then
        final_java_opt=$JAVA_OPTS_FOR_JDK_11
    elif [ -n "$JAVA_OPTS_FOR_JDK_9" ]; then
        final_java_opt=$JAVA_OPTS_FOR_JDK_9
    fi
fi
"#,
        ),
        (3, 2) | (3, 3) => s.push_str(
            r#"if [[ "$JAVA_VERSION" -gt 8 && "$JAVA_VERSION" -lt 11 ]]; then
    echo "JDK $JAVA_VERSION is not supported, please use JDK 11 or 17"
    exit -1
fi
if [[ "$JAVA_VERSION" -gt 8 && -n "$JAVA_OPTS_FOR_JDK_11" ]]; then
    final_java_opt=$JAVA_OPTS_FOR_JDK_11
fi
"#,
        ),
        _ => s.push_str(&format!(
            r#"MIN_JDK_VERSION={}
if [[ "$JAVA_VERSION" -lt $MIN_JDK_VERSION ]]; then
    echo "Error: JDK $JAVA_VERSION is not supported, please use JDK version $MIN_JDK_VERSION or higher"
    exit -1
fi
"#,
            v.fe_min_jdk()
        )),
    }
    let running_test = if v.start_script_checks_cmd() {
        r#"ps -q "$oldpid" -o cmd= 2>/dev/null | grep -qw StarRocksFE"#
    } else {
        r#"kill -0 "$oldpid" >/dev/null 2>&1"#
    };
    s.push_str(&format!(
        r#"pidfile=$PID_DIR/fe.pid
if [ -f $pidfile ]; then
    oldpid=$(cat $pidfile)
    if [ -n "$oldpid" ] && {running_test}; then
        echo "Frontend running as process $oldpid. Stop it first."
        exit 1
    fi
fi
"#
    ));
    if redirect_all {
        s.push_str("echo \"using java version $JAVA_VERSION\"\necho $final_java_opt\n");
        if v >= Version::new(3, 3, 0) {
            s.push_str("echo \"start time: $(date), server uptime: $(uptime)\"\n");
        } else {
            s.push_str("date\n");
        }
        s.push_str(
            r#"if [ "$RUN_DAEMON" -eq 1 ]; then
    nohup "$JAVA" $final_java_opt com.starrocks.StarRocksFE $HELPER $HOST_TYPE "$@" </dev/null &
else
    exec "$JAVA" $final_java_opt com.starrocks.StarRocksFE $HELPER $HOST_TYPE "$@" </dev/null
fi
"#,
        );
    } else {
        s.push_str(
            r#"echo "using java version $JAVA_VERSION" >> "$LOG_DIR/fe.out"
echo $final_java_opt >> "$LOG_DIR/fe.out"
echo $(date) >> "$LOG_DIR/fe.out"
if [ "$RUN_DAEMON" -eq 1 ]; then
    nohup "$JAVA" $final_java_opt com.starrocks.StarRocksFE $HELPER $HOST_TYPE "$@" >> "$LOG_DIR/fe.out" 2>&1 </dev/null &
else
    "$JAVA" $final_java_opt com.starrocks.StarRocksFE $HELPER $HOST_TYPE "$@" >> "$LOG_DIR/fe.out" 2>&1 </dev/null
fi
echo $! > $pidfile
"#,
        );
    }
    s
}

/// `bin/stop_fe.sh` for `v`.
pub fn stop_fe_sh(v: Version) -> String {
    let head = format!(
        "#!/usr/bin/env bash\n# stop_fe.sh of a simulated StarRocks {v} frontend (starrocks-sim).\n\n\
         curdir=$(dirname \"$0\")\ncurdir=$(cd \"$curdir\"; pwd)\n\
         export STARROCKS_HOME=$(cd \"$curdir/..\"; pwd)\nexport DORIS_HOME=\"$STARROCKS_HOME\"\n\
         export PID_DIR=$(cd \"$curdir\"; pwd)\n\
         source $STARROCKS_HOME/bin/common.sh\n\
         # fe.conf is read after PID_DIR is set, so a PID_DIR line there names the pid file to signal.\n\
         export_env_from_conf $STARROCKS_HOME/conf/fe.conf\n\
         pidfile=$PID_DIR/fe.pid\n"
    );
    if !v.stop_fe_has_timeout() {
        // Up to 3.4: SIGTERM, then wait with no timeout; a non-java pid is only warned about.
        return head
            + r#"
if [ -f $pidfile ]; then
    pid=$(cat $pidfile)
    pidcomm=$(ps -p "$pid" -o comm= 2>/dev/null)
    if [ "java" != "$pidcomm" ]; then
        echo "ERROR: pid process may not be fe. "
    fi
    if kill "$pid" >/dev/null 2>&1; then
        while true; do
            if kill -0 "$pid" >/dev/null 2>&1; then
                echo "waiting fe to stop, pid: $pid"
                sleep 2
            else
                echo "stop $pidcomm, and remove pid file. "
                if [ -f "$pidfile" ]; then rm "$pidfile"; fi
                exit 0
            fi
        done
    fi
fi
exit 0
"#;
    }
    head + r#"
usage() {
    echo "Usage: $0 [-g|--graceful] [--timeout <seconds>] [-h|--help]"
    echo "  -g, --graceful   graceful exit (SIGUSR1)"
    echo "  --timeout        specify the timeout for graceful exit"
}
OPTS=$(getopt -n "$0" -o 'gh' -l graceful,timeout:,help -- "$@") || { usage; exit 1; }
eval set -- "$OPTS"
sig=15
timeout=
while true; do
    case "$1" in
        -g|--graceful) sig=10; shift ;;
        --timeout) timeout=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        --) shift; break ;;
        *) usage; exit 1 ;;
    esac
done

if [ -f $pidfile ]; then
    pid=$(cat $pidfile)
    pidcomm=$(ps -p "$pid" -o comm= 2>/dev/null)
    if [ "java" != "$pidcomm" ]; then
        echo "ERROR: pid process may not be FE. "
        exit 1
    fi
    if kill -$sig "$pid" >/dev/null 2>&1; then
        start=$(date +%s)
        while kill -0 "$pid" >/dev/null 2>&1; do
            if [ -n "$timeout" ] && [ $(( $(date +%s) - start )) -ge "$timeout" ]; then
                kill -9 "$pid" >/dev/null 2>&1
                echo "graceful exit timeout, forced termination of the process"
                break
            fi
            echo "waiting fe to stop, pid: $pid"
            sleep 1
        done
        echo "stop $pidcomm, and remove pid file. "
        rm -f "$pidfile"
        exit 0
    else
        echo "ERROR: failed to stop process $pid"
        rm -f "$pidfile"
        exit 1
    fi
fi
exit 0
"#
}

/// `bin/start_be.sh` (and, from 3.0, the `start_backend.sh` it calls) for `v`.
/// `export_heap_limit` is false for the lib-without-bin fault: an old `bin/` that predates the
/// `TCMALLOC_HEAP_LIMIT_MB` export the new binary requires.
pub fn start_be_sh(v: Version, export_heap_limit: bool) -> Vec<(&'static str, String)> {
    let mem = if export_heap_limit {
        "export_mem_limit_from_conf \"$STARROCKS_HOME/conf/be.conf\"\n"
    } else {
        ""
    };
    let body = |name: &str, opts: &str| {
        format!(
            r#"#!/usr/bin/env bash
# {name} of a simulated StarRocks {v} backend (starrocks-sim).

curdir=$(dirname "$0")
curdir=$(cd "$curdir"; pwd)

OPTS=$(getopt -n "$0" -o '' -l {opts} -- "$@") || exit 1
eval set -- "$OPTS"
RUN_DAEMON=0
RUN_LOG_CONSOLE=0
while true; do
    case "$1" in
        --daemon) RUN_DAEMON=1; shift ;;
        --logconsole) RUN_LOG_CONSOLE=1; shift ;;
        --be|--cn) shift ;;
        --) shift; break ;;
        *) echo "Internal error"; exit 1 ;;
    esac
done

export STARROCKS_HOME=$(cd "$curdir/.."; pwd)
export UDF_RUNTIME_DIR="$STARROCKS_HOME/lib/udf-runtime"
export LOG_DIR="$STARROCKS_HOME/log"
export PID_DIR=$(cd "$curdir"; pwd)
source "$STARROCKS_HOME/bin/common.sh"
export_env_from_conf "$STARROCKS_HOME/conf/be.conf"
{mem}mkdir -p "$LOG_DIR" "$UDF_RUNTIME_DIR"
rm -rf "$UDF_RUNTIME_DIR"/*
"#
        )
    };
    let running = if v >= Version::new(3, 4, 0) {
        r#"ps -q "$oldpid" -o cmd= 2>/dev/null | grep -qw starrocks_be"#
    } else {
        r#"kill -0 "$oldpid" >/dev/null 2>&1"#
    };
    let tail = format!(
        r#"pidfile="$PID_DIR/be.pid"
if [ -f "$pidfile" ]; then
    oldpid=$(cat "$pidfile")
    if [ -n "$oldpid" ] && {running}; then
        echo "Backend running as process $oldpid. Stop it first."
        exit 1
    else
        rm -f "$pidfile"
    fi
fi
if [ "$(ulimit -n)" != "unlimited" ] && [ "$(ulimit -n)" -lt 60000 ]; then
    ulimit -n 65535 2>/dev/null
fi
chmod 755 "$STARROCKS_HOME/lib/starrocks_be"
"#
    );
    if !v.be_start_steps() {
        let mut s = body("start_be.sh", "daemon");
        s.push_str(&tail);
        s.push_str(
            r#"echo "start time: $(date)" >> "$LOG_DIR/be.out"
if [ "$RUN_DAEMON" -eq 1 ]; then
    nohup "$STARROCKS_HOME/lib/starrocks_be" "$@" >> "$LOG_DIR/be.out" 2>&1 </dev/null &
else
    exec "$STARROCKS_HOME/lib/starrocks_be" "$@" >> "$LOG_DIR/be.out" 2>&1 </dev/null
fi
"#,
        );
        return vec![("start_be.sh", s)];
    }
    let wrapper = format!(
        "#!/usr/bin/env bash\n# start_be.sh of a simulated StarRocks {v} backend (starrocks-sim).\n\
         curdir=$(dirname \"$0\")\ncurdir=$(cd \"$curdir\"; pwd)\n\
         exec \"$curdir/start_backend.sh\" --be \"$@\"\n"
    );
    let mut s = body("start_backend.sh", "daemon,be,cn,logconsole");
    s.push_str(
        r#"if [ "$RUN_LOG_CONSOLE" -eq 0 ]; then
    exec >> "$LOG_DIR/be.out" 2>&1
fi
if [ -z "$JAVA_HOME" ]; then
    echo "[WARNING] JAVA_HOME env not set. Functions or features that requires jni will not work at all."
fi
"#,
    );
    s.push_str(&tail);
    s.push_str(
        r#"echo "start time: $(date), server uptime: $(uptime)"
if [ "$RUN_DAEMON" -eq 1 ]; then
    nohup "$STARROCKS_HOME/lib/starrocks_be" "$@" </dev/null &
else
    exec "$STARROCKS_HOME/lib/starrocks_be" "$@" </dev/null
fi
"#,
    );
    vec![("start_be.sh", wrapper), ("start_backend.sh", s)]
}

/// `bin/stop_be.sh` for `v`: SIGKILL by default; `-g` (3.0+) for SIGTERM; `--timeout` (3.4+).
pub fn stop_be_sh(v: Version) -> String {
    let mut longopts = String::new();
    let mut cases = String::new();
    if v.stop_be_has_graceful() {
        longopts.push_str("graceful,help");
        cases.push_str("        -g|--graceful) sig=15; shift ;;\n        -h|--help) echo \"Usage: $0 [-g|--graceful]\"; exit 0 ;;\n");
    }
    if v.stop_be_has_timeout() {
        longopts.push_str(",timeout:");
        cases.push_str("        --timeout) timeout=$2; shift 2 ;;\n");
    }
    let parse = if longopts.is_empty() {
        String::new()
    } else {
        format!(
            "OPTS=$(getopt -n \"$0\" -o 'gh' -l {longopts} -- \"$@\") || exit 1\neval set -- \"$OPTS\"\n\
             while true; do\n    case \"$1\" in\n{cases}        --) shift; break ;;\n        *) exit 1 ;;\n    esac\ndone\n"
        )
    };
    format!(
        r#"#!/usr/bin/env bash
# stop_be.sh of a simulated StarRocks {v} backend (starrocks-sim).

curdir=$(dirname "$0")
curdir=$(cd "$curdir"; pwd)
export STARROCKS_HOME=$(cd "$curdir/.."; pwd)
export PID_DIR=$(cd "$curdir"; pwd)
# Like the release's script, be.conf may move PID_DIR.
source "$STARROCKS_HOME/bin/common.sh"
export_env_from_conf "$STARROCKS_HOME/conf/be.conf"
sig=9
timeout=
{parse}
pidfile="$PID_DIR/be.pid"
if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile")
    pidcomm=$(ps -p "$pid" -o comm= 2>/dev/null)
    if [ "starrocks_be" != "$pidcomm" ]; then
        echo "ERROR: pid process may not be be. "
        exit 1
    fi
    if kill -$sig "$pid" >/dev/null 2>&1; then
        start=$(date +%s)
        while kill -0 "$pid" >/dev/null 2>&1; do
            if [ -n "$timeout" ] && [ $(( $(date +%s) - start )) -ge "$timeout" ]; then
                kill -9 "$pid" >/dev/null 2>&1
                echo "graceful exit timeout, forced termination of the process"
            fi
            sleep 1
        done
        echo "stop $pidcomm, and remove pid file. "
        rm -f "$pidfile"
    fi
fi
exit 0
"#
    )
}
