#!/usr/bin/env bash
# Benchmark: cargo-xtest against the baselines it replaces, measured in one run on this machine.
#
#   bash benches/matrix.sh            (needs the toolchains of scripts/install-toolchains.sh,
#                                      and cargo-nextest for ratio 2b)
#   XTEST_BENCH_PAIRS=1 bash benches/matrix.sh     (ratio 1's cold pairs; default 3)
#
# Workloads: `bytes` 1.12.2, fetched by cargo from crates.io (13 integration-test files plus unit
# tests and doctests), and the example workspace. Prints wall and CPU seconds and the ratios
#   1  cold full matrix (host + aarch64 + s390x + riscv64gc) vs the sequential `cargo test` script,
#      XTEST_BENCH_PAIRS cold pairs in alternating order, each run under benches/acct.py: CPU by
#      process kind (rustc, rustdoc, linker, emulator, cargo-xtest, ...) when run as root, else
#      wall and total CPU only; the medians of the pairs are compared
#   2a emulated test phase alone (binaries built), s390x, vs `cargo test --target`
#   2b the same without doctests vs `cargo nextest run --target`
#   3  re-run with nothing changed vs the sequential script's re-run
#   4  re-run after changing one crate of the example: which packages' tests ran again
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${XTEST_BENCH_DIR:-/tmp/cargo-xtest-bench}
XTEST="$ROOT/target/release/cargo-xtest"
CROSS=(aarch64-unknown-linux-gnu s390x-unknown-linux-gnu riscv64gc-unknown-linux-gnu)
mkdir -p "$WORK"

echo "==> building cargo-xtest (release)"
cargo build --release --locked --quiet --manifest-path "$ROOT/Cargo.toml"

echo "==> fetching bytes 1.12.2 with cargo"
. "$ROOT/benches/common.sh"
fetch_workspace bytes 1.12.2 "$WORK/bytes" "$WORK/fetch"

# Both sides use the same runners. The baselines link with the cross gcc configured, as a user
# of `cargo test` must; cargo-xtest with what it picks where nothing is configured (the same gcc
# driving rustc's rust-lld): its commands run under "${AS_PICKED[@]}".
AS_PICKED=(env)
for t in "${CROSS[@]}"; do
  arch=${t%%-*}; gnu=$arch; [ "$arch" = riscv64gc ] && gnu=riscv64
  qemu=qemu-$gnu
  var=$(echo "$t" | tr 'a-z-' 'A-Z_')
  export "CARGO_TARGET_${var}_LINKER=${gnu}-linux-gnu-gcc"
  export "CARGO_TARGET_${var}_RUNNER=$qemu -L /usr/${gnu}-linux-gnu"
  AS_PICKED+=(-u "CARGO_TARGET_${var}_LINKER")
done

cat > "$WORK/sequential.sh" <<SEQ
# The seed's sequential script: host tests, then each cross target's tests under QEMU.
cargo test --no-fail-fast -q >/dev/null 2>&1 || true
$(for t in "${CROSS[@]}"; do echo "cargo test --no-fail-fast -q --target $t >/dev/null 2>&1 || true"; done)
SEQ

# measure NAME DIR TARGET_DIR CMD... -> "wall cpu" in $WORK/NAME.time, output in $WORK/NAME.log
measure() {
  local name=$1 dir=$2 tdir=$3; shift 3
  (cd "$dir" && CARGO_TARGET_DIR=$tdir /usr/bin/time -f '%e %U %S' -o "$WORK/$name.raw" "$@" >"$WORK/$name.log" 2>&1) || true
  tail -n 1 "$WORK/$name.raw" | awk '{ printf "%.1f %.1f\n", $1, $2 + $3 }' > "$WORK/$name.time"
  echo "    $name: $(awk '{ print $1 " s wall, " $2 " CPU-s" }' "$WORK/$name.time")"
}
wall() { awk '{ print $1 }' "$WORK/$1.time"; }
cpu() { awk '{ print $2 }' "$WORK/$1.time"; }
ratio() { awk -v a="$(wall "$1")" -v b="$(wall "$2")" 'BEGIN { printf "%.3f", a / b }'; }

B="$WORK/bytes"
PAIRS=${XTEST_BENCH_PAIRS:-3}
# cold NAME TARGET_DIR CMD... : a cold run (empty target directory) under acct.py, into
# $WORK/acct/NAME.json
cold() {
  local name=$1 tdir=$2; shift 2
  rm -rf "$tdir"
  (cd "$B" && CARGO_TARGET_DIR=$tdir python3 "$ROOT/benches/acct.py" "$WORK/acct/$name.json" -- "$@")
}
rm -rf "$WORK/acct" && mkdir -p "$WORK/acct"
for ((i = 1; i <= PAIRS; i++)); do
  echo "==> 1. cold full matrix on bytes, pair $i of $PAIRS"
  if ((i % 2)); then
    cold "seq-$i" "$WORK/t-seq" bash "$WORK/sequential.sh"
    cold "x-$i" "$WORK/t-x" "${AS_PICKED[@]}" "$XTEST" xtest --no-fail-fast
  else
    cold "x-$i" "$WORK/t-x" "${AS_PICKED[@]}" "$XTEST" xtest --no-fail-fast
    cold "seq-$i" "$WORK/t-seq" bash "$WORK/sequential.sh"
  fi
done

echo "==> 2. emulated test phase alone (s390x, binaries already built)"
measure seq_s390x "$B" "$WORK/t-seq" cargo test --no-fail-fast -q --target s390x-unknown-linux-gnu
measure x_s390x "$B" "$WORK/t-x" "${AS_PICKED[@]}" "$XTEST" xtest --no-fail-fast --no-cache --target s390x-unknown-linux-gnu
have_nextest=0
if cargo nextest --version >/dev/null 2>&1; then
  have_nextest=1
  (cd "$B" && CARGO_TARGET_DIR="$WORK/t-seq" cargo nextest run --no-run --target s390x-unknown-linux-gnu >/dev/null 2>&1) || true
  measure nextest_s390x "$B" "$WORK/t-seq" cargo nextest run --no-fail-fast --target s390x-unknown-linux-gnu
  measure x_s390x_nodoc "$B" "$WORK/t-x" "${AS_PICKED[@]}" "$XTEST" xtest --no-fail-fast --no-cache --no-doctests --target s390x-unknown-linux-gnu
fi

echo "==> 3. re-run with nothing changed"
measure seq_rerun "$B" "$WORK/t-seq" bash "$WORK/sequential.sh"
measure x_rerun "$B" "$WORK/t-x" "${AS_PICKED[@]}" "$XTEST" xtest --no-fail-fast

echo "==> 4. re-run after changing one crate of the example workspace"
E="$WORK/example"
rm -rf "$E" && cp -r "$ROOT/example" "$E" && rm -rf "$E/target"
measure x_example_cold "$E" "$E/target" "${AS_PICKED[@]}" "$XTEST" xtest --no-fail-fast
# A real change to the proc-macro: its output gains an attribute, so its user `shapes` rebuilds.
sed -i 's/format!("impl Describe for/format!("#[automatically_derived] impl Describe for/' "$E/xtest-macros/src/lib.rs"
measure x_example_touch "$E" "$E/target" "${AS_PICKED[@]}" "$XTEST" xtest --no-fail-fast --report "$E/touch.json"
touched=$(python3 - "$E/touch.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ran, total, pkgs = 0, 0, set()
for t in r["targets"]:
    for p in t["packages"]:
        for x in p["tests"]:
            total += 1
            if not x.get("cached") and x["outcome"] != "ignored":
                ran += 1
                pkgs.add(p["name"])
print(f"{ran} of {total} tests ran again, in: {', '.join(sorted(pkgs)) or 'none'}")
PY
)

echo
echo "cargo-xtest benchmark on $(nproc) cores ($(date -u +%Y-%m-%d))"
printf '%-44s %-22s %-22s %-7s %s\n' "" "baseline" "cargo-xtest" "ratio" "goal"
row() { printf '%-44s %-22s %-22s %-7s %s\n' "$1" "$(wall "$2") s ($(cpu "$2") CPU-s)" "$(wall "$3") s ($(cpu "$3") CPU-s)" "$(ratio "$3" "$2")" "$4"; }
echo "1  cold matrix vs sequential cargo test (goal <= 0.75; medians of $PAIRS pairs, CPU by process kind):"
python3 "$ROOT/benches/acct.py" compare "$WORK/acct" "$PAIRS" seq "script" x "cargo-xtest" | sed 's/^/   /'
row "2a s390x test phase vs cargo test --target" seq_s390x x_s390x "<= 0.60"
if [ "$have_nextest" = 1 ]; then
  row "2b s390x, no doctests, vs cargo nextest run" nextest_s390x x_s390x_nodoc "<= 0.15"
else
  echo "2b skipped: cargo-nextest is not installed"
fi
row "3  re-run, nothing changed" seq_rerun x_rerun "<= 0.05"
echo "4  proc-macro xtest-macros changed: $touched (its dependents: xtest-macros, shapes); $(wall x_example_touch) s"
