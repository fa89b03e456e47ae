#!/usr/bin/env bash
# Regenerates the committed sqlx offline metadata (`<crate>/.sqlx/`) for every crate that uses
# `sqlx::query!`, against a throwaway database migrated with the current schema. With --check,
# writes it to a scratch folder instead and fails when the committed metadata differs (CI).
# Needs a PostgreSQL server: $PLYR_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres.
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: deploy/sqlx-prepare.sh [--check]" >&2; exit 2 ;;
esac
admin="${PLYR_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
db="plyr_sqlx_prepare_$$"
base="${admin%/*}"
scratch="$(mktemp -d)"
psql "$admin" -qc "CREATE DATABASE $db"
trap 'psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"; rm -rf "$scratch"' EXIT
for f in migrations/*.sql; do psql "$base/$db" -q -v ON_ERROR_STOP=1 -f "$f" >/dev/null; done
stale=0
for crate in indexer appview; do
  out="$PWD/$crate/.sqlx"
  [ "$check" = 1 ] && out="$scratch/$crate"
  rm -rf "$out"
  mkdir -p "$out"
  touch "$crate/src/lib.rs"   # force the macros to run again
  SQLX_OFFLINE=false SQLX_OFFLINE_DIR="$out" DATABASE_URL="$base/$db" \
    cargo check -q --locked -p "plyr-$crate" --lib --bins  # not --all-targets: dev-dependencies would write their queries here too
  if [ "$check" = 1 ]; then
    if ! diff -r -q "$crate/.sqlx" "$out" >&2; then
      echo "$crate/.sqlx is stale: run deploy/sqlx-prepare.sh and commit the result" >&2
      stale=1
    fi
  else
    echo "$crate: $(ls "$out" | wc -l) queries"
  fi
done
exit $stale
