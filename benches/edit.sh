#!/usr/bin/env bash
# Benchmark: the edit-and-rerun loop. A developer edits one leaf crate of a multi-crate workspace
# and verifies again on every target; what they wait for is cargo's rebuild of that crate and
# its relinks, then the tests. The sequential script reruns `cargo test` per target; cargo-xtest
# rebuilds the same, reruns the changed crate's tests and replays the rest from its result cache
# (each unchanged executable and doctest set checked against its listing and hashes).
#
#   bash benches/edit.sh               (needs scripts/install-toolchains.sh's cross toolchains)
#   XTEST_BENCH_TARGETS="aarch64-unknown-linux-gnu s390x-unknown-linux-gnu" bash benches/edit.sh
#
# Workspace: two real crates from crates.io as members, `bytes` 1.12.2 (the leaf that is edited)
# and `memchr` 2.8.3 (quickcheck property tests: most of the tests' time). Targets: the host and
# XTEST_BENCH_TARGETS (default aarch64). Both sides warm up first (built, tested once: cargo-xtest
# has its cache and history), then XTEST_BENCH_RUNS turns (default 1) of: a new line in
# bytes/src/lib.rs, the script's rerun, cargo-xtest's rerun, each under process accounting
# (benches/acct.py, root) when possible. Each side has its own target directory; both link with
# what they would use (the script the configured cross gcc, cargo-xtest its rust-lld pick).
# Goal (issue 30): ratio ≤ 0.35.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${XTEST_BENCH_DIR:-/tmp/cargo-xtest-edit}
XTEST="$ROOT/target/release/cargo-xtest"
CROSS=(aarch64-unknown-linux-gnu)
[ -z "${XTEST_BENCH_TARGETS:-}" ] || read -r -a CROSS <<< "$XTEST_BENCH_TARGETS"
RUNS=${XTEST_BENCH_RUNS:-1}

echo "==> building cargo-xtest (release)"
cargo build --release --locked --quiet --manifest-path "$ROOT/Cargo.toml"
rm -rf "$WORK" && mkdir -p "$WORK/ws"
echo "==> fetching bytes 1.12.2 and memchr 2.8.3 with cargo"
. "$ROOT/benches/common.sh"
copy_crate bytes 1.12.2 "$WORK/ws/bytes" "$WORK/fetch"
copy_crate memchr 2.8.3 "$WORK/ws/memchr" "$WORK/fetch"
printf '[workspace]\nresolver = "2"\nmembers = ["bytes", "memchr"]\n' > "$WORK/ws/Cargo.toml"
cargo fetch --quiet --manifest-path "$WORK/ws/Cargo.toml"

script_env=()
xtest_targets=(--target host)
for t in "${CROSS[@]}"; do
  arch=${t%%-*}; gnu=$arch; [ "$arch" = riscv64gc ] && gnu=riscv64
  var=$(echo "$t" | tr 'a-z-' 'A-Z_')
  script_env+=("CARGO_TARGET_${var}_LINKER=${gnu}-linux-gnu-gcc" "CARGO_TARGET_${var}_RUNNER=qemu-$gnu -L /usr/${gnu}-linux-gnu")
  xtest_targets+=(--target "$t")
done
{
  echo '#!/bin/sh'
  echo 'cargo test --workspace --no-fail-fast -q >/dev/null 2>&1 || true'
  for t in "${CROSS[@]}"; do echo "cargo test --workspace --no-fail-fast -q --target $t >/dev/null 2>&1 || true"; done
} > "$WORK/sequential.sh"

# side NAME: one accounted run of the script or of cargo-xtest, its figures in $WORK/NAME.json
side() {
  local name=$1
  if [ "$name" = script ] || [[ "$name" == script-* ]]; then
    (cd "$WORK/ws" && env "${script_env[@]}" CARGO_TARGET_DIR="$WORK/target-script" python3 "$ROOT/benches/acct.py" "$WORK/$name.json" -- sh "$WORK/sequential.sh")
  else
    (cd "$WORK/ws" && env -u CARGO_TARGET_DIR CARGO_TARGET_DIR="$WORK/target-xtest" python3 "$ROOT/benches/acct.py" "$WORK/$name.json" -- "$XTEST" xtest --workspace --no-fail-fast "${xtest_targets[@]}")
  fi
}
echo "==> warming up: both sides build and test once"
side script-warm
side xtest-warm
for ((i = 1; i <= RUNS; i++)); do
  echo "==> turn $i: an edit of bytes, then both reruns"
  echo "// edit $i $(date +%s%N)" >> "$WORK/ws/bytes/src/lib.rs"
  side "script-$i"
  side "xtest-$i"
done

echo
echo "edit-and-rerun: bytes edited; targets: host ${CROSS[*]}; $RUNS turn(s)"
python3 "$ROOT/benches/acct.py" compare "$WORK" "$RUNS" script "script" xtest "cargo-xtest"
echo "goal (issue 30): the wall ratio <= 0.35"
