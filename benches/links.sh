#!/usr/bin/env bash
# Benchmark: what linking costs in a cold cross run, with the linker cargo-xtest picks (the
# Debian cross gcc driving the rust-lld rustc ships) against the same gcc with its own GNU ld
# (what a user who configures `CARGO_TARGET_<T>_LINKER=<gcc>` gets), measured in one run.
#
#   bash benches/links.sh              (needs scripts/install-toolchains.sh's cross toolchains)
#   XTEST_BENCH_TARGETS="aarch64-unknown-linux-gnu" bash benches/links.sh
#
# Workload: `bytes` 1.12.2 fetched by cargo from crates.io (13 integration-test files, unit
# tests and 248 doctests per target, each doctest its own linked executable). Each side is a
# cold `cargo xtest` (empty target directory, dependencies fetched) of the cross targets
# (default aarch64, s390x, riscv64gc), run under process accounting (benches/acct.py, root
# only) in turns, XTEST_BENCH_RUNS times (default 1). Printed per side: wall, CPU by process
# kind, and the ratios lld ÷ GNU ld of link CPU (goal, issue 30: ≤ 0.4) and of wall.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${XTEST_BENCH_DIR:-/tmp/cargo-xtest-links}
XTEST="$ROOT/target/release/cargo-xtest"
TARGETS=(aarch64-unknown-linux-gnu s390x-unknown-linux-gnu riscv64gc-unknown-linux-gnu)
[ -z "${XTEST_BENCH_TARGETS:-}" ] || read -r -a TARGETS <<< "$XTEST_BENCH_TARGETS"
RUNS=${XTEST_BENCH_RUNS:-1}
[ "$(id -u)" = 0 ] || { echo "error: process accounting needs root" >&2; exit 2; }

echo "==> building cargo-xtest (release)"
cargo build --release --locked --quiet --manifest-path "$ROOT/Cargo.toml"
mkdir -p "$WORK"
echo "==> fetching bytes 1.12.2 with cargo"
. "$ROOT/benches/common.sh"
fetch_workspace bytes 1.12.2 "$WORK/bytes" "$WORK/fetch"

args=(xtest --no-fail-fast --no-cache)
gnu_env=()
for t in "${TARGETS[@]}"; do
  args+=(--target "$t")
  arch=${t%%-*}; gnu=$arch; [ "$arch" = riscv64gc ] && gnu=riscv64
  gnu_env+=("CARGO_TARGET_$(echo "$t" | tr 'a-z-' 'A-Z_')_LINKER=${gnu}-linux-gnu-gcc")
done

# cold NAME ENV... : a cold run of cargo-xtest on bytes, accounted, into $WORK/NAME-K.json
cold() {
  local name=$1; shift
  rm -rf "$WORK/bytes/target"
  (cd "$WORK/bytes" && env -u CARGO_TARGET_DIR "$@" python3 "$ROOT/benches/acct.py" "$WORK/$name.json" -- "$XTEST" "${args[@]}")
}
for ((i = 1; i <= RUNS; i++)); do
  echo "==> turn $i: rust-lld (cargo-xtest's pick)"
  cold "lld-$i"
  echo "==> turn $i: GNU ld (the gcc configured as the linker)"
  cold "gnu-$i" "${gnu_env[@]}"
done

echo
echo "targets: ${TARGETS[*]}  ($RUNS turn(s) each, cold, bytes 1.12.2; bytes passes everywhere: exit 0)"
python3 "$ROOT/benches/acct.py" compare "$WORK" "$RUNS" gnu "GNU ld" lld rust-lld
echo "goal (issue 30): the linker CPU ratio <= 0.4"
