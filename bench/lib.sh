# Shared by the bench/*.sh scripts (sourced, not run): help text, the machine line, and building
# an earlier revision's binary for a side-by-side baseline.

# Prints the script's header comment (its help) and exits, if the first argument asks for it.
bench_help() {
  case "${2:-}" in
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$1"; exit 0 ;;
  esac
}

# The machine and its load, printed at the start of every benchmark (the machine may be shared).
bench_machine() {
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# bench_baseline ROOT REV PACKAGE BINARY: builds PACKAGE at git revision REV in a worktree under
# ROOT/target (its own target dir, seeded from ours so only what differs is compiled again) and
# sets BENCH_BASELINE_BIN to BINARY's path and BENCH_BASELINE_WORKTREE to the worktree (remove
# it when done) and BENCH_BASELINE_REV to the short revision.
bench_baseline() {
  local root="$1" rev package="$3" binary="$4"
  rev="$(git -C "$root" rev-parse --short "$2^{commit}")"
  local worktree="$root/target/bench-baseline-$rev" target="$root/target/bench-baseline-target"
  git -C "$root" worktree remove --force "$worktree" >/dev/null 2>&1 || true
  git -C "$root" worktree add --detach "$worktree" "$rev" >/dev/null 2>&1
  if [ ! -d "$target/release" ]; then
    mkdir -p "$target"
    # Files may vanish while another build runs: a partial seed only means more to compile.
    cp -a --reflink=auto "$root/target/release" "$target/release" 2>/dev/null || true
  fi
  echo "building the baseline $package ($rev) in $worktree..." >&2
  (cd "$worktree" && CARGO_TARGET_DIR="$target" cargo build --release -q -p "$package")
  BENCH_BASELINE_BIN="$target/release/$binary"
  BENCH_BASELINE_WORKTREE="$worktree"
  BENCH_BASELINE_REV="$rev"
}

# bench_indexer_setup ROOT BASELINE EVENTS SEED OUT: prints the machine line, builds our release
# indexer and plyr-gen (and BASELINE's indexer, when given, with bench_baseline) and writes the
# generated Jetstream stream (EVENTS events, seed SEED) to OUT. Sets BENCH_CURRENT, BENCH_PREVIOUS
# (empty without a baseline), BENCH_BASELINE_WORKTREE and BENCH_BASELINE_REV.
bench_indexer_setup() {
  local root="$1" baseline="$2" events="$3" seed="$4" out="$5"
  bench_machine >&2
  (cd "$root" && cargo build --release --locked -q -p plyr-indexer -p plyr-gen)
  BENCH_CURRENT="$root/target/release/indexer" BENCH_PREVIOUS="" BENCH_BASELINE_WORKTREE="" BENCH_BASELINE_REV=""
  if [ -n "$baseline" ]; then
    bench_baseline "$root" "$baseline" plyr-indexer indexer
    BENCH_PREVIOUS="$BENCH_BASELINE_BIN"
  fi
  "$root/target/release/plyr-gen" jetstream --events "$events" --seed "$seed" --out "$out" 2>/dev/null
}
