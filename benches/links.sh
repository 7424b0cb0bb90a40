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
mkdir -p "$WORK/fetch/src"
printf '[package]\nname = "fetch"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\nbytes = "=1.12.2"\n' > "$WORK/fetch/Cargo.toml"
: > "$WORK/fetch/src/lib.rs"
src=$(cargo metadata --quiet --format-version 1 --manifest-path "$WORK/fetch/Cargo.toml" |
  python3 -c 'import json,sys; m=json.load(sys.stdin); print([p for p in m["packages"] if p["name"]=="bytes"][0]["manifest_path"])')
rm -rf "$WORK/bytes" && cp -r "$(dirname "$src")" "$WORK/bytes" && chmod -R u+w "$WORK/bytes"
printf '\n[workspace]\n' >> "$WORK/bytes/Cargo.toml"
cargo fetch --quiet --manifest-path "$WORK/bytes/Cargo.toml"

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

python3 - "$WORK" "$RUNS" "${TARGETS[*]}" <<'PY'
import json, statistics, sys
work, runs, targets = sys.argv[1], int(sys.argv[2]), sys.argv[3]
load = lambda n: [json.load(open(f"{work}/{n}-{i}.json")) for i in range(1, runs + 1)]
lld, gnu = load("lld"), load("gnu")
med = lambda rs, f: statistics.median(f(r) for r in rs)
kinds = sorted({k for r in lld + gnu for k in r["cpu"]})
print(f"\ntargets: {targets}  ({runs} turn(s) each, cold, bytes 1.12.2)")
print(f"{'':14} {'rust-lld':>10} {'GNU ld':>10}")
print(f"{'wall s':14} {med(lld, lambda r: r['wall']):10.1f} {med(gnu, lambda r: r['wall']):10.1f}")
for k in kinds:
    print(f"{k + ' CPU-s':14} {med(lld, lambda r: r['cpu'].get(k, 0)):10.1f} {med(gnu, lambda r: r['cpu'].get(k, 0)):10.1f}")
total = lambda r: sum(r["cpu"].values())
print(f"{'all CPU-s':14} {med(lld, total):10.1f} {med(gnu, total):10.1f}")
link = lambda rs: med(rs, lambda r: r["cpu"].get("linker", 0))
print(f"link CPU ratio {link(lld) / link(gnu):.3f} (goal <= 0.4); wall ratio "
      f"{med(lld, lambda r: r['wall']) / med(gnu, lambda r: r['wall']):.3f}; all CPU ratio "
      f"{med(lld, total) / med(gnu, total):.3f}")
exits = {r["exit"] for r in lld + gnu}
if exits != {0}:
    print(f"note: exit codes {sorted(exits)} (bytes passes everywhere: anything else is a broken run)")
PY
