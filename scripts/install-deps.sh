#!/usr/bin/env bash
# Installs the system tools the simulated StarRocks scripts use (ps, uptime, getopt, awk), when a
# machine lacks them. Needs root for apt-get; prints what it would need otherwise.
set -euo pipefail
missing=()
command -v ps >/dev/null 2>&1 || missing+=(procps)
command -v uptime >/dev/null 2>&1 || missing+=(procps)
command -v getopt >/dev/null 2>&1 || missing+=(util-linux)
command -v awk >/dev/null 2>&1 || missing+=(gawk)
# The clone-copy tests format an XFS image; without mkfs.xfs they skip, saying so.
command -v mkfs.xfs >/dev/null 2>&1 || missing+=(xfsprogs)
# ansible-core (PyPI) runs the playbook `upgrade-plan --format ansible` writes; its test skips,
# saying so, where it is missing.
if ! command -v ansible-playbook >/dev/null 2>&1; then
    if command -v pip3 >/dev/null 2>&1 || command -v pip >/dev/null 2>&1; then
        "$(command -v pip3 || command -v pip)" install --quiet ansible-core ||
            echo "install-deps: failed to install ansible-core with pip; the playbook test will skip" >&2
    else
        echo "install-deps: pip is missing, so ansible-core is not installed; the playbook test will skip" >&2
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
