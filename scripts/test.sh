#!/usr/bin/env bash
# Installs the toolchains the integration tests drive (real cross gcc, real QEMU) and proves
# them, then runs the whole test suite: every test binary, even after one fails
# (--no-fail-fast). Tests that need a toolchain fail (never skip) when CI=true. Ends with one
# line totalling every test binary's results.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-toolchains.sh --all
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --locked --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
grep -E '^test result: ' "$log" | awk '{ p += $4; f += $6; i += $8 } END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, i }'
exit "$status"
