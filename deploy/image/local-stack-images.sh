#!/usr/bin/env bash
# Makes stand-ins for the two third-party images deploy/compose.yaml runs, from Debian's
# packages, for machines that cannot pull from Docker Hub (run deploy/image/local-bases.sh first):
#
#   localhost/postgres:15  Debian's postgresql-15 with the official image's contract: the
#                          POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB and POSTGRES_INITDB_ARGS
#                          variables initialize an empty /var/lib/postgresql/data; pg_isready
#   localhost/caddy:2      Debian's caddy, serving /etc/caddy/Caddyfile as the official image does
#
# Then:
#
#   POSTGRES_IMAGE=localhost/postgres:15 CADDY_IMAGE=localhost/caddy:2 PLYR_IMAGE=localhost/plyr \
#       podman-compose -f deploy/compose.yaml up -d
set -euo pipefail
base=localhost/debian:bookworm-slim
podman image exists "$base" || { echo "no $base: run deploy/image/local-bases.sh first" >&2; exit 1; }

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT

cat >"$context/postgres-entrypoint.sh" <<'EOF'
#!/bin/sh
# The official postgres image's start, reduced: initialize an empty data directory from the
# POSTGRES_* variables, then run the server on every interface with password authentication.
set -eu
: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}" "${POSTGRES_INITDB_ARGS:=}"
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
bin=/usr/lib/postgresql/15/bin
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    chown postgres "$pwfile"
    # shellcheck disable=SC2086 # the initdb arguments are a word list
    as_postgres "$bin/initdb" -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 $POSTGRES_INITDB_ARGS
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    if [ "$POSTGRES_DB" != postgres ]; then
        as_postgres "$bin/pg_ctl" -D "$PGDATA" -o "-c listen_addresses=''" -w start
        as_postgres "$bin/createdb" -U "$POSTGRES_USER" "$POSTGRES_DB"
        as_postgres "$bin/pg_ctl" -D "$PGDATA" -m fast -w stop
    fi
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups "$bin/postgres" -D "$PGDATA" -c listen_addresses='*'
EOF

cat >"$context/Containerfile.postgres" <<EOF
FROM $base
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \\
 && rm -rf /var/lib/apt/lists/*
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PGDATA=/var/lib/postgresql/data
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["sh", "/usr/local/bin/docker-entrypoint.sh"]
EOF

cat >"$context/Containerfile.caddy" <<EOF
FROM $base
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends caddy ca-certificates \\
 && rm -rf /var/lib/apt/lists/*
EXPOSE 80 443
CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]
EOF

podman build -t localhost/postgres:15 -f "$context/Containerfile.postgres" "$context"
podman build -t localhost/caddy:2 -f "$context/Containerfile.caddy" "$context"
podman images --filter reference=localhost/postgres --filter reference=localhost/caddy
