#!/usr/bin/env bash
# Benchmark: what the toolchain probes cost, measured in one run on this machine.
#
#   bash benches/probes.sh [RUNS]     (needs the toolchains of scripts/install-toolchains.sh)
#
# On the example workspace, for the host + aarch64 + s390x + riscv64gc, times (median of RUNS,
# default 7, wall seconds, with min and max) three forms of `cargo xtest plan`:
#   baseline  --level none    discovery, `cargo metadata`, policy and plan, but no probe at all
#   cold      --reprobe       every probe run: link, run (QEMU) and C for each target, in parallel
#   warm      (no flag)       every probe result read from the cache
# and prints the probes' cost: (cold - baseline) per target, and (warm - baseline).
# Goals (issue 8): cold < 1 s per target; warm: nothing measurable (within the baseline's spread).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${1:-7}
XTEST="$ROOT/target/release/cargo-xtest"
TARGETS=(--target host --target aarch64-unknown-linux-gnu --target s390x-unknown-linux-gnu
  --target riscv64gc-unknown-linux-gnu)
NTARGETS=4

echo "==> building cargo-xtest (release)"
cargo build --release --locked --quiet --manifest-path "$ROOT/Cargo.toml"
cd "$ROOT/example"

# Seconds (float) one command takes.
once() {
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f\n", b - a }'
}

# "median min max" of RUNS timings of a command.
measure() {
  local times=()
  for _ in $(seq "$RUNS"); do times+=("$(once "$@")"); done
  printf '%s\n' "${times[@]}" | sort -g | awk '{ a[NR] = $1 } END { printf "%.3f %.3f %.3f\n", a[int((NR + 1) / 2)], a[1], a[NR] }'
}

# The plan must really have probed (else the cold figure would measure nothing).
"$XTEST" xtest plan --format json --reprobe "${TARGETS[@]}" |
  python3 -c 'import json,sys
p = json.load(sys.stdin)
for t in p["targets"]:
    ok = [k for k, v in t["probes"].items() if v and v["ok"]]
    assert {"link", "run", "c-compiler"} <= set(ok), (t["triple"], t["probes"])
print("    every target linked, ran and compiled C in its probes")'

read -r base bmin bmax < <(measure "$XTEST" xtest plan --level none "${TARGETS[@]}")
read -r cold cmin cmax < <(measure "$XTEST" xtest plan --reprobe "${TARGETS[@]}")
"$XTEST" xtest plan "${TARGETS[@]}" >/dev/null
read -r warm wmin wmax < <(measure "$XTEST" xtest plan "${TARGETS[@]}")

printf '\n%-32s %8s %8s %8s\n' "cargo xtest plan, $NTARGETS targets" median min max
printf '%-32s %8s %8s %8s\n' "baseline (--level none)" "$base" "$bmin" "$bmax"
printf '%-32s %8s %8s %8s\n' "cold (--reprobe)" "$cold" "$cmin" "$cmax"
printf '%-32s %8s %8s %8s\n' "warm (cached)" "$warm" "$wmin" "$wmax"
awk -v b="$base" -v c="$cold" -v w="$warm" -v lo="$bmin" -v hi="$bmax" -v n="$NTARGETS" 'BEGIN {
  printf "\ncold probes: %.3f s per target (goal < 1 s); ratio cold/baseline %.2f\n", (c - b) / n, c / b
  printf "warm probes: %+.3f s in all (baseline spread %.3f s); ratio warm/baseline %.3f\n", w - b, hi - lo, w / b
}'
