#!/usr/bin/env bash
# The team's PostgreSQL (issue 14): one server for the MLflow tracking store and the Optuna
# studies, on 127.0.0.1 only. Debian's `postgresql` package, installed when missing (root).
#
#   bash scripts/postgres.sh start    install if missing, create the cluster once, start it,
#                                     make role `deltahall` and databases deltahall_mlflow and
#                                     deltahall_optuna; print the URLs (never the password)
#   bash scripts/postgres.sh stop     stop the cluster (its data stays)
#   bash scripts/postgres.sh url DB   postgresql://deltahall@127.0.0.1:PORT/DB
#
# The password: $DELTAHALL_PG_PASSWORD, else one generated at creation. Either way it is written
# to ~/.pgpass (mode 600), where libpq (psycopg2, psql, MLflow, Optuna) reads it, so URLs in
# params.yaml carry no password. DELTAHALL_PG_PORT (55432) and DELTAHALL_PG_DIR choose where.
set -euo pipefail

PORT="${DELTAHALL_PG_PORT:-55432}"
DIR="${DELTAHALL_PG_DIR:-/var/tmp/deltahall-pg-$PORT}"
ROLE=deltahall
DATABASES=(deltahall_mlflow deltahall_optuna)

bindir() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [[ -z "$found" ]]; then
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
      echo "postgres.sh: PostgreSQL is not installed; as root: apt-get install postgresql" >&2
      exit 1
    fi
    echo "postgres.sh: installing Debian's postgresql package" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
    found=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  fi
  echo "$found"
}

# The server refuses to run as root: as root, run it as Debian's `postgres` user.
as_server_user() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

psql_admin() {  # superuser over the cluster's own socket (peer authentication)
  as_server_user "$BIN/psql" -h "$DIR" -p "$PORT" -d postgres -v ON_ERROR_STOP=1 -qtA "$@"
}

pgpass_line() {
  local file="$HOME/.pgpass" pw="$1"
  touch "$file" && chmod 600 "$file"
  grep -v "^127.0.0.1:$PORT:\*:$ROLE:" "$file" >"$file.tmp" || true
  echo "127.0.0.1:$PORT:*:$ROLE:$pw" >>"$file.tmp" && mv "$file.tmp" "$file" && chmod 600 "$file"
}

stored_password() {
  grep "^127.0.0.1:$PORT:\*:$ROLE:" "$HOME/.pgpass" 2>/dev/null | tail -1 | cut -d: -f5- || true
}

url() { echo "postgresql://$ROLE@127.0.0.1:$PORT/$1"; }

start() {
  BIN=$(bindir)
  if [[ ! -f "$DIR/PG_VERSION" ]]; then
    mkdir -p "$DIR"
    [[ $(id -u) -eq 0 ]] && chown postgres:postgres "$DIR"
    chmod 700 "$DIR"
    as_server_user "$BIN/initdb" -D "$DIR" -U postgres --auth-local=peer \
      --auth-host=scram-sha-256 >/dev/null
  fi
  if ! as_server_user "$BIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
    as_server_user "$BIN/pg_ctl" -D "$DIR" -w -l "$DIR/server.log" \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c max_connections=300" start >/dev/null
  fi
  local pw="${DELTAHALL_PG_PASSWORD:-$(stored_password)}"
  [[ -n "$pw" ]] || pw=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
  local quoted=${pw//\'/\'\'}
  if [[ -z $(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'") ]]; then
    psql_admin -c "CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$quoted'" >/dev/null
  else
    psql_admin -c "ALTER ROLE $ROLE PASSWORD '$quoted'" >/dev/null
  fi
  pgpass_line "$pw"
  for db in "${DATABASES[@]}"; do
    if [[ -z $(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$db'") ]]; then
      psql_admin -c "CREATE DATABASE $db OWNER $ROLE" >/dev/null
    fi
  done
  echo "PostgreSQL on 127.0.0.1:$PORT (data $DIR; password in ~/.pgpass)"
  echo "  MLflow store: $(url deltahall_mlflow)"
  echo "  Optuna store: $(url deltahall_optuna)"
}

stop() {
  BIN=$(bindir)
  as_server_user "$BIN/pg_ctl" -D "$DIR" -w stop -m fast >/dev/null 2>&1 || true
  echo "PostgreSQL on port $PORT stopped (data kept in $DIR)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) url "${2:?usage: postgres.sh url DATABASE}" ;;
  *) echo "usage: bash scripts/postgres.sh start|stop|url DATABASE" >&2; exit 2 ;;
esac
