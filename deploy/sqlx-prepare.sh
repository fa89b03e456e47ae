#!/usr/bin/env bash
# Regenerates the committed sqlx offline metadata (`<crate>/.sqlx/`) for every crate that uses
# `sqlx::query!`, against a throwaway database migrated with the current schema.
# Needs a PostgreSQL server: $PLYR_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres.
set -euo pipefail
cd "$(dirname "$0")/.."
admin="${PLYR_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
db="plyr_sqlx_prepare_$$"
base="${admin%/*}"
psql "$admin" -qc "CREATE DATABASE $db"
trap 'psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
for f in migrations/*.sql; do psql "$base/$db" -q -v ON_ERROR_STOP=1 -f "$f" >/dev/null; done
for crate in indexer appview; do
  rm -rf "$crate/.sqlx"
  mkdir -p "$crate/.sqlx"
  touch "$crate/src/lib.rs"   # force the macros to run again
  SQLX_OFFLINE=false SQLX_OFFLINE_DIR="$PWD/$crate/.sqlx" DATABASE_URL="$base/$db" \
    cargo check -q -p "plyr-$crate" --lib --bins  # not --all-targets: dev-dependencies would write their queries here too
  echo "$crate: $(ls "$crate/.sqlx" | wc -l) queries"
done
