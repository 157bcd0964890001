#!/usr/bin/env bash
# Builds the release archive: sr-rehearse and starrocks-sim for x86_64 Linux, linked against glibc
# 2.17 so they start on every system StarRocks supports (CentOS/RHEL 7 has 2.17, RHEL 8 2.28), with
# completions, man pages, README and LICENSE, and a sha256 file beside the archive.
#
# The binaries are built by cargo-zigbuild (zig as the linker, with glibc 2.17's symbol versions),
# then checked: no GLIBC_ symbol newer than 2.17, and `sr-rehearse demo` run from the unpacked
# archive (the simulator is in it, so the demo is the end-to-end test of what users download).
#
#   scripts/release.sh [--out DIR] [--no-demo]
#
# Needs cargo-zigbuild and ziglang (PyPI; scripts/install-deps.sh installs both) and objdump.
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/dist
demo=1
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out="$2"; shift 2 ;;
        --no-demo) demo=0; shift ;;
        *) echo "release: unknown argument $1 (use --out DIR, --no-demo)" >&2; exit 2 ;;
    esac
done

glibc=2.17
target=x86_64-unknown-linux-gnu
for tool in cargo-zigbuild objdump tar sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "release: $tool not found; run scripts/install-deps.sh" >&2
        exit 3
    }
done

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
name="sr-rehearse-$version-x86_64-linux-glibc$glibc"
# A target folder of its own: the zig-linked objects must not mix with the host build's.
cargo zigbuild --release --locked --target "$target.$glibc" --target-dir target/zig \
    --bin sr-rehearse --bin starrocks-sim
bins="target/zig/$target/release"

# The newest glibc symbol version each binary needs, compared as version numbers.
for b in sr-rehearse starrocks-sim; do
    newest=$(objdump -T "$bins/$b" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
    if [ -z "$newest" ]; then
        echo "release: $b lists no GLIBC_ symbol; is it linked against glibc at all?" >&2
        exit 1
    fi
    if [ "$(printf '%s\n%s\n' "$newest" "$glibc" | sort -V | tail -1)" != "$glibc" ]; then
        echo "release: $b needs GLIBC_$newest, newer than $glibc; it would not start on CentOS 7" >&2
        exit 1
    fi
    echo "release: $b needs at most GLIBC_$newest"
done

# The test hooks are compiled only with the `test-hooks` feature, which a release never has.
for h in SR_REHEARSE_TEST_KILL_AT SR_REHEARSE_TEST_PANIC_AT; do
    if grep -q "$h" "$bins/sr-rehearse"; then
        echo "release: the binary reads $h: the test-hooks feature leaked into the release build" >&2
        exit 1
    fi
done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
dir="$stage/$name"
mkdir -p "$dir/completions" "$dir/man"
cp "$bins/sr-rehearse" "$bins/starrocks-sim" README.md LICENSE "$dir/"
"$dir/sr-rehearse" completions bash >"$dir/completions/sr-rehearse.bash"
"$dir/sr-rehearse" completions zsh >"$dir/completions/_sr-rehearse"
"$dir/sr-rehearse" completions fish >"$dir/completions/sr-rehearse.fish"
"$dir/sr-rehearse" man --out "$dir/man"

mkdir -p "$out"
# Reproducible member order, owner and times, so one commit gives one archive.
stamp=$(git log -1 --format=%ct 2>/dev/null || echo 0)
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$stamp" \
    -C "$stage" -czf "$out/$name.tar.gz" "$name"
(cd "$out" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
echo "release: $out/$name.tar.gz"

if [ "$demo" = 1 ]; then
    # The end-to-end test of the archive: unpacked where nothing of the build is, the demo runs
    # the FE rehearsals, the BE canary and the cluster upgrade with the binaries users get.
    check=$(mktemp -d)
    trap 'rm -rf "$stage" "$check"' EXIT
    (cd "$out" && sha256sum -c --quiet "$name.tar.gz.sha256")
    tar -C "$check" -xzf "$out/$name.tar.gz"
    "$check/$name/sr-rehearse" demo >"$check/demo.log" 2>&1 || {
        echo "release: the archived binary's demo failed:" >&2
        tail -40 "$check/demo.log" >&2
        exit 1
    }
    tail -1 "$check/demo.log"
fi
