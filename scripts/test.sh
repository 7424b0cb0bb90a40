#!/usr/bin/env bash
# Installs the toolchains the integration tests drive (real cross gcc, real QEMU), then runs the
# whole test suite. Tests that need a toolchain fail (never skip) when CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-toolchains.sh
cargo test --locked "$@"
