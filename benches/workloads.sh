#!/usr/bin/env bash
# Benchmark: the test phase of cargo-xtest against `cargo test --target T`, per target, on the
# same built binaries, measured in one run on this machine.
#
#   bash benches/workloads.sh [WORKLOAD...]   (needs the toolchains of scripts/install-toolchains.sh)
#   XTEST_BENCH_TARGETS="aarch64-unknown-linux-gnu" bash benches/workloads.sh memchr   (a subset)
#
# Workloads, fetched by cargo from crates.io (default: all three):
#   bytes           1.12.2: ~1,000 tests per target, unit and 13 integration-test files
#   memchr          2.8.3: `[profile.test] opt-level = 3`, quickcheck property tests, one of which
#                   runs for tens of seconds under QEMU
#   pulldown-cmark  0.13.6: 1,262 tiny tests (one per CommonMark spec example), 1,154 in one binary
#
# For each workload and target (host, aarch64, s390x, riscv64gc): both tools build first (not
# timed), then each runs the tests of the built binaries (doctests left out on both sides: they
# are compiled at test time, not built binaries):
#   cargo test [--target T] --tests
#   cargo xtest --target T --no-doctests --no-cache       (the result cache off: every test runs)
# cargo-xtest runs once with no duration history ("1st"); then the two tools take turns,
# XTEST_BENCH_RUNS times (default 3), cargo-xtest with the history its earlier runs left. Property
# tests (memchr's quickcheck) draw new inputs on every run, so one run of each side compares two
# draws; the medians of the turns compare the tools.
# Printed per target: wall and CPU seconds and utilisation (CPU ÷ (wall × cores)) of each side
# (medians of the turns), the ratio of those medians (xtest ÷ cargo test) with the range of the
# per-turn ratios, and the machine's bound for cargo-xtest's work (CPU-seconds ÷ cores, or its
# longest single test, whichever is larger; see `longest`) with the median of its wall time ÷
# that bound.
# Goals (issue 9): ratio ≤ 1.0 on every target; wall within 10 % of the bound.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${XTEST_BENCH_DIR:-/tmp/cargo-xtest-workloads}
XTEST="$ROOT/target/release/cargo-xtest"
CORES=$(nproc)
ALL_TARGETS=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu s390x-unknown-linux-gnu riscv64gc-unknown-linux-gnu)
# The host first: it is built without --target, as cargo test builds it.
TARGETS=("${ALL_TARGETS[@]}")
[ -z "${XTEST_BENCH_TARGETS:-}" ] || read -r -a TARGETS <<< "$XTEST_BENCH_TARGETS"
declare -A VERSION=([bytes]=1.12.2 [memchr]=2.8.3 [pulldown-cmark]=0.13.6)
WORKLOADS=("$@")
[ ${#WORKLOADS[@]} -gt 0 ] || WORKLOADS=(bytes memchr pulldown-cmark)
mkdir -p "$WORK"

echo "==> building cargo-xtest (release)"
cargo build --release --locked --quiet --manifest-path "$ROOT/Cargo.toml"

# Both tools use the same linkers and runners.
for t in "${ALL_TARGETS[@]:1}"; do
  arch=${t%%-*}; gnu=$arch; [ "$arch" = riscv64gc ] && gnu=riscv64
  var=$(echo "$t" | tr 'a-z-' 'A-Z_')
  export "CARGO_TARGET_${var}_LINKER=${gnu}-linux-gnu-gcc"
  export "CARGO_TARGET_${var}_RUNNER=qemu-$gnu -L /usr/${gnu}-linux-gnu"
done

# "wall cpu exit" of a command: wall seconds, and user + system seconds of it and everything it
# waited for (QEMU included).
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

. "$ROOT/benches/common.sh"
fetch() { fetch_workspace "$1" "${VERSION[$1]}" "$WORK/$1" "$WORK/fetch"; }

# The longest test in a cargo-xtest report, in seconds, and the number of tests. A test that had
# a process of its own counts with its CPU time where that is shorter than its wall time: a long
# test that shared the CPUs with others (issue 9's shared placement) ran longer than it takes
# alone, and counting that would raise the bound it is judged against.
longest() {
  python3 -c "import json,sys
r = json.load(open(sys.argv[1]))
d = [min(x['duration_ms'], x.get('cpu_ms', x['duration_ms']))
     for t in r['targets'] for p in t['packages'] for x in p['tests']]
print(f'{max(d) / 1000:.2f} {len(d)}')" "$1"
}

RUNS=${XTEST_BENCH_RUNS:-3}
printf '\n%-15s %-10s %-19s %-19s %-19s %-6s %-11s %-6s %-7s %s\n' workload target \
  "cargo test w/cpu/ut" "xtest 1st w/cpu/ut" "xtest w/cpu/ut" "ratio" "range" "bound" "x/bound" "tests"
for w in "${WORKLOADS[@]}"; do
  fetch "$w" >/dev/null
  cd "$WORK/$w"
  for t in "${TARGETS[@]}"; do
    targ=(--target "$t"); [ "$t" = "${ALL_TARGETS[0]}" ] && targ=()
    # Build both sides' binaries (they are the same files: see tests/fidelity.rs).
    cargo test --no-run --quiet "${targ[@]}" >/dev/null 2>&1
    "$XTEST" xtest --target "$t" --level build-tests --no-doctests >/dev/null 2>&1 || true
    rm -f target/xtest/durations.json
    read -r x1w x1c _ < <(timed "$XTEST" xtest --target "$t" --no-doctests --no-cache --report "$WORK/$w-$t-1.json")
    # One line per turn: cargo test's wall and CPU, cargo-xtest's wall and CPU, its longest test
    # and its number of tests.
    turns=()
    for ((i = 1; i <= RUNS; i++)); do
      read -r cw cc _ < <(timed cargo test "${targ[@]}" --tests)
      read -r xw xc _ < <(timed "$XTEST" xtest --target "$t" --no-doctests --no-cache --report "$WORK/$w-$t-2.json")
      read -r long n < <(longest "$WORK/$w-$t-2.json")
      turns+=("$cw $cc $xw $xc $long $n")
    done
    python3 - "$w" "$t" "$x1w" "$x1c" "$CORES" "${turns[@]}" <<'PY'
import statistics, sys
w, t, x1w, x1c, cores, *turns = sys.argv[1:]
x1w, x1c, cores = float(x1w), float(x1c), int(cores)
turns = [list(map(float, line.split())) for line in turns]
med = lambda i: statistics.median(r[i] for r in turns)
cw, cc, xw, xc = med(0), med(1), med(2), med(3)
ut = lambda wall, cpu: cpu / (wall * cores) if wall else 0
cell = lambda wall, cpu: f"{wall:5.1f}/{cpu:5.1f}/{ut(wall, cpu):4.0%}"
ratios = [r[2] / r[0] for r in turns]
bounds = [max(r[3] / cores, r[4]) for r in turns]
to_bound = statistics.median(r[2] / b for r, b in zip(turns, bounds))
span = f"{min(ratios):.2f}-{max(ratios):.2f}"
short = t.replace("-unknown-linux-gnu", "")
print(f"{w:<15} {short:<10} {cell(cw, cc):<19} {cell(x1w, x1c):<19} {cell(xw, xc):<19} "
      f"{xw / cw:<6.3f} {span:<11} {statistics.median(bounds):<6.1f} {to_bound:<7.3f} {int(turns[-1][5])}")
PY
  done
  cd - >/dev/null
done
echo
echo "Medians of $RUNS turns (XTEST_BENCH_RUNS); 1st = cargo-xtest with no duration history, once."
echo "ratio = cargo-xtest ÷ cargo test, of the median walls (goal ≤ 1.0); range = the per-turn ratios;"
echo "bound = max(CPU-s ÷ $CORES cores, longest test) of cargo-xtest's run; x/bound = its wall ÷ that"
echo "bound (goal ≤ 1.10). w/cpu/ut = wall s / CPU s / utilisation."
