#!/usr/bin/env bash
# Fuzzes every parser of outside input (see src/fuzzing.rs) with cargo-fuzz (libFuzzer), one
# target after another, each for SECONDS (default 600), with debug assertions (integer overflow
# panics). Each starts from the curated seeds (fuzz/seeds/<target>/) and the crash regressions
# (fuzz/regressions/<target>/); the working corpus grows in fuzz/corpus/<target>/ (not
# committed, minimized at the end). A crash is saved under fuzz/artifacts/<target>/ and fails
# the script: once fixed, copy it to fuzz/regressions/<target>/ under a name saying what it found.
#
#   cargo install cargo-fuzz --locked     # once; works on stable Rust with `-s none`
#   bash fuzz/run.sh [SECONDS] [TARGET...]
#
# `cargo fuzz run` rebuilds from the working tree: run it from a checkout nobody edits meanwhile
# (e.g. `git worktree add`), or an edit that does not compile ends the run.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(libtest cargo_output policy cargo_config report manifest)
# No sanitizer: the code is safe Rust; what is looked for is a panic (or an overflow, with -a).
flags=(-s none -O -a)
cargo fuzz build "${flags[@]}"
status=0
for t in "${targets[@]}"; do
  echo "==> $t: ${seconds}s"
  mkdir -p "corpus/$t"
  dirs=("corpus/$t" "seeds/$t")
  [ -d "regressions/$t" ] && dirs+=("regressions/$t")
  if ! cargo fuzz run "${flags[@]}" "$t" "${dirs[@]}" -- -max_total_time="$seconds" -max_len=65536 \
      -rss_limit_mb=2048 -print_final_stats=1 2>"/tmp/fuzz-$t.log"; then
    status=1
    if ls "artifacts/$t/"crash-* "artifacts/$t/"oom-* "artifacts/$t/"timeout-* >/dev/null 2>&1; then
      echo "CRASH in $t: see fuzz/artifacts/$t/ and /tmp/fuzz-$t.log"
    else
      echo "ERROR in $t (no crash input saved; did it build?): see /tmp/fuzz-$t.log"
    fi
  fi
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "/tmp/fuzz-$t.log" || true
  grep -E '^#[0-9]+ *DONE' "/tmp/fuzz-$t.log" || tail -3 "/tmp/fuzz-$t.log"
  cargo fuzz cmin "${flags[@]}" "$t" "corpus/$t" >/dev/null 2>&1 || true
done
exit $status
