#!/usr/bin/env bash
# The fast test tier, for contributors: no network (no registry, npm or PyPI), 80 to 100 s once
# compiled on 2 cores. `cargo test --workspace` stays the full suite, which CI runs.
#
#   deploy/test-fast.sh [cargo test options] [-- test binary options]    e.g. -q, -- FILTER
#
# Runs the unit tests of every library and binary and every integration test of the workspace,
# less:
#   - `needs_packages`: the end-to-end tests that run npm, PyPI or Debian packages (the reference
#     lexicon validator in tests/js, the reference PDS and PLC directory in tests/pds, the labeler
#     in tests/labeler, @atproto/sync in bench/ts, the plyrfm SDK from tests/py, promtool from
#     Debian's prometheus, Debian's chromium for the home page), which they install from the
#     network on first use;
#   - `slow`: the five tests that wait out real time (a database outage, the connection cap,
#     SIGKILLs during a replay, writer failovers, a lagging streaming replica), about two and a
#     half minutes together;
#   - doc tests, which rustdoc compiles at test time (the workspace has one, `no_run`).
# PostgreSQL is needed as for the full suite: a server on 127.0.0.1:5432 (or
# PLYR_TEST_DATABASE_URL), else `initdb` and `pg_ctl` on PATH for a private cluster.
# A new integration test joins this tier by itself; list it in `needs_packages` if it needs the
# network. One `cargo test --workspace` invocation, so it reuses the full suite's build.
set -euo pipefail
cd "$(dirname "$0")/.."

needs_packages=" appview_outputs deploy_manifests deploy_rules discovery firehose_baseline home_page labelers lexicons_reference local_pds pds_proxy pds_scenario plyr_sdk subsonic_clients "
slow=(
  the_pipeline_waits_out_a_database_outage_and_loses_nothing
  open_connections_are_capped_and_service_resumes_when_they_close
  sigkill_at_random_points_during_replay_loses_and_doubles_nothing
  the_standby_takes_over_within_seconds_of_each_sigkill_and_nothing_differs
  answers_never_go_back_to_an_older_count_and_catch_up_within_the_lag_plus_a_second
)

tests=()
for name in $(cargo metadata --no-deps --format-version 1 --offline |
  grep -o '"kind":\["test"\],"crate_types":\["bin"\],"name":"[^"]*"' | sed 's/.*"name":"//; s/"$//' | sort -u); do
  [[ "$needs_packages" == *" $name "* ]] || tests+=(--test "$name")
done
if [ ${#tests[@]} -eq 0 ]; then
  echo "deploy/test-fast.sh: found no integration tests in cargo metadata" >&2
  exit 1
fi

skips=()
for name in "${slow[@]}"; do skips+=(--skip "$name"); done
for arg in "$@"; do
  # Options for the test binaries already follow a `--`.
  [ "$arg" = "--" ] && exec cargo test --workspace --lib --bins "${tests[@]}" "$@" "${skips[@]}"
done
exec cargo test --workspace --lib --bins "${tests[@]}" "$@" -- "${skips[@]}"
