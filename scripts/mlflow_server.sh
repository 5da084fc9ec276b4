#!/usr/bin/env bash
# The team's MLflow tracking server (issue 14): `make server`. Starts the project's PostgreSQL
# (scripts/postgres.sh), then `mlflow server` on it, bound to 127.0.0.1, proxying artifacts
# into a folder. Runs in the foreground; Ctrl-C stops it (PostgreSQL keeps running).
#
#   bash scripts/mlflow_server.sh [PORT]      (default 5001)
#
# DELTAHALL_MLFLOW_DB (deltahall_mlflow) names the database, DELTAHALL_ARTIFACTS (mlartifacts/)
# the artifact folder. Workers then set MLFLOW_TRACKING_URI=http://HOST:PORT (or tracking.uri).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${1:-5001}"
DB="${DELTAHALL_MLFLOW_DB:-deltahall_mlflow}"
ARTIFACTS="$(realpath -m "${DELTAHALL_ARTIFACTS:-mlartifacts}")"
bash scripts/postgres.sh start >&2
STORE="$(bash scripts/postgres.sh url "$DB")"
echo "MLflow tracking server: http://127.0.0.1:$PORT (store $STORE, artifacts $ARTIFACTS)" >&2
exec mlflow server --backend-store-uri "$STORE" --artifacts-destination "$ARTIFACTS" \
  --host 127.0.0.1 --port "$PORT"
