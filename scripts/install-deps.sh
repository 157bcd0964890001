#!/usr/bin/env bash
# Installs the system tools the simulated StarRocks scripts use (ps, uptime, getopt, awk), when a
# machine lacks them. Needs root for apt-get; prints what it would need otherwise.
set -euo pipefail
missing=()
command -v ps >/dev/null 2>&1 || missing+=(procps)
command -v uptime >/dev/null 2>&1 || missing+=(procps)
command -v getopt >/dev/null 2>&1 || missing+=(util-linux)
command -v awk >/dev/null 2>&1 || missing+=(gawk)
# The clone-copy tests format an XFS image. Where a tool is missing the tests that need it skip,
# saying so, except under SR_REHEARSE_REQUIRE_ALL=1 (.ci/run), where they fail.
command -v mkfs.xfs >/dev/null 2>&1 || missing+=(xfsprogs)
# The fe.conf tests read the sandbox conf with java.util.Properties itself (`java File.java`).
command -v java >/dev/null 2>&1 || missing+=(default-jdk-headless)
# ansible-core runs the playbook `upgrade-plan --format ansible` writes: from PyPI where pip works,
# else from the distribution.
if ! command -v ansible-playbook >/dev/null 2>&1; then
    pip="$(command -v pip3 || command -v pip || true)"
    if [ -z "$pip" ] || ! "$pip" install --quiet ansible-core; then
        echo "install-deps: ansible-core did not install with pip; trying the distribution's package" >&2
        missing+=(ansible-core)
    fi
fi
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
