#!/usr/bin/env bash
# Benchmark: the example's tests interpreted by Miri, `cargo xtest --miri-only` against
# `cargo +nightly miri test` run for each target one after another (the same tests, doctests
# included on both sides), measured in one run on this machine.
#
#   bash benches/miri.sh              (needs `install-toolchains.sh --all`: nightly with miri and
#                                      rust-src, zig for the example's C on macOS and FreeBSD)
#   XTEST_BENCH_TARGETS="x86_64-pc-windows-msvc" bash benches/miri.sh
#
# Both sides build first (not timed: `cargo miri test --no-run`; Miri's sysroots too), then take
# turns XTEST_BENCH_RUNS times (default 3), the result cache off on cargo-xtest's side. Printed:
# each side's wall and CPU seconds and utilisation (CPU ÷ (wall × cores)), medians of the
# turns, and the ratio of the medians (xtest ÷ cargo miri test) with the range of the per-turn
# ratios. Goal (issue 29): ratio ≤ 0.6 on 2 cores.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${XTEST_BENCH_DIR:-/tmp/cargo-xtest-miri}
XTEST="$ROOT/target/release/cargo-xtest"
CORES=$(nproc)
TARGETS=(x86_64-pc-windows-msvc aarch64-apple-darwin x86_64-unknown-freebsd)
[ -z "${XTEST_BENCH_TARGETS:-}" ] || read -r -a TARGETS <<< "$XTEST_BENCH_TARGETS"
RUNS=${XTEST_BENCH_RUNS:-3}

echo "==> building cargo-xtest (release)"
cargo build --release --locked --quiet --manifest-path "$ROOT/Cargo.toml"
rm -rf "$WORK" && mkdir -p "$WORK" && cp -r "$ROOT/example" "$WORK/example" && rm -rf "$WORK/example/target"
cd "$WORK/example"

# "wall cpu exit" of a command: wall seconds, and user + system seconds of it and everything it
# waited for (Miri included).
timed() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
start = time.monotonic()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
wall = time.monotonic() - start
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{wall:.2f} {r.ru_utime + r.ru_stime:.2f} {code}")
PY
}

xargs_targets=()
for t in "${TARGETS[@]}"; do xargs_targets+=(--target "$t"); done
# cargo-xtest's side; its first run also writes the zig wrappers the baseline's C needs.
"$XTEST" xtest --miri-only --no-fail-fast --level build-tests "${xargs_targets[@]}" >/dev/null 2>&1 || true
"$XTEST" xtest --miri-only --no-fail-fast --no-cache "${xargs_targets[@]}" >/dev/null 2>&1 || true

# The baseline: `cargo miri test` per target, with what cargo-xtest hands cargo (zig compiles
# the example's C for macOS and FreeBSD), and without the package cargo-xtest's policy excludes
# on MSVC (nothing here compiles C for it).
baseline="$WORK/baseline.sh"
{
  echo '#!/bin/sh'
  for t in "${TARGETS[@]}"; do
    var=$(echo "$t" | tr 'a-z-' 'A-Z_'); low=$(echo "$t" | tr '-' '_')
    zig="$WORK/example/target/xtest/zig"
    env=""
    if [ -x "$zig/zig-cc-$t" ]; then
      env="CARGO_TARGET_${var}_LINKER=$zig/zig-cc-$t CC_$low=$zig/zig-cc-$t AR_$low=$zig/zig-ar-$t"
    fi
    exclude=""
    [ "$t" = x86_64-pc-windows-msvc ] && exclude="--exclude c-checksum"
    echo "env $env cargo +nightly miri test --workspace --no-fail-fast --target $t $exclude"
  done
} > "$baseline"
sh "$baseline" >/dev/null 2>&1 || true

turns=()
for ((i = 1; i <= RUNS; i++)); do
  read -r cw cc _ < <(timed sh "$baseline")
  read -r xw xc xcode < <(timed "$XTEST" xtest --miri-only --no-fail-fast --no-cache "${xargs_targets[@]}")
  # The example's planted failures end it with 1; anything else is a broken run, not a time.
  if [ "$xcode" != 1 ]; then
    echo "error: cargo xtest --miri-only exited $xcode (expected 1: the example's planted failures)" >&2
    exit 1
  fi
  turns+=("$cw $cc $xw $xc")
done
python3 - "${TARGETS[*]}" "$CORES" "${turns[@]}" <<'PY'
import statistics, sys
targets, cores, *turns = sys.argv[1:]
cores = int(cores)
turns = [list(map(float, line.split())) for line in turns]
med = lambda i: statistics.median(r[i] for r in turns)
cw, cc, xw, xc = med(0), med(1), med(2), med(3)
ratios = [r[2] / r[0] for r in turns]
ut = lambda w, c: c / (w * cores)
print(f"\ntargets: {targets}  ({len(turns)} turns, {cores} cores)")
print(f"{'':24} {'wall s':>8} {'cpu s':>8} {'util':>6}")
print(f"{'cargo miri test (seq.)':24} {cw:8.2f} {cc:8.2f} {ut(cw, cc):6.2f}")
print(f"{'cargo xtest --miri-only':24} {xw:8.2f} {xc:8.2f} {ut(xw, xc):6.2f}")
print(f"ratio {xw / cw:.3f} (per turn {min(ratios):.3f}-{max(ratios):.3f})")
PY

# One more turn of each side under process accounting (root only): where the CPU went, by
# process kind (Miri is a rustc driver: its processes count as rustc).
if [ "$(id -u)" = 0 ]; then
  echo
  echo "CPU by process kind (one accounted turn each):"
  echo " cargo miri test (seq.):"
  python3 "$ROOT/benches/acct.py" "$WORK/acct-baseline.json" -- sh "$baseline" || true
  echo " cargo xtest --miri-only:"
  python3 "$ROOT/benches/acct.py" "$WORK/acct-xtest.json" -- "$XTEST" xtest --miri-only --no-fail-fast --no-cache "${xargs_targets[@]}" || true
fi
