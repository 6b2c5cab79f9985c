#!/usr/bin/env bash
# Runs the test suite with every node, worker and index the tests start on PostgreSQL
# instead of SQLite: starts one PostgreSQL 15 server in a temporary folder for the whole
# run (as `nobody` when run as root: PostgreSQL refuses root), runs CTest against it (each
# node gets a database of its own), and stops the server. Tests about SQLite itself (its
# file, lock, log) are skipped, naming why; the tests labelled `postgresql` (on PostgreSQL
# in every run anyway) and the browser test (its node is not the test support's) are left out.
#   scripts/test-postgresql-suite.sh [ctest arguments...]   e.g. -R '^Ingest\.' or -j2
# Needs a built tree (scripts/build.sh) and postgresql-15 (scripts/install-deps.sh --tests).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VOLNODE_BUILD_DIR:-$root/build}
bindir=${VOLNODE_PG_BINDIR:-/usr/lib/postgresql/15/bin}
if [[ ! -x "$bindir/initdb" ]]; then
  echo "test-postgresql-suite.sh: no PostgreSQL at $bindir (scripts/install-deps.sh --tests installs postgresql-15; VOLNODE_PG_BINDIR names another)" >&2
  exit 1
fi
if [[ ! -f "$build/CTestTestfile.cmake" ]]; then
  echo "test-postgresql-suite.sh: no built tree at $build (run scripts/build.sh first)" >&2
  exit 1
fi

as_server() {
  if [[ $EUID -eq 0 ]]; then setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; else "$@"; fi
}

dir=$(mktemp -d "${TMPDIR:-/tmp}/volnode-pg-suite.XXXXXX")
chmod 711 "$dir"
mkdir "$dir/data"
[[ $EUID -eq 0 ]] && chown nobody:nogroup "$dir/data"
stop_server() {
  as_server "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop_server EXIT

# A test server: its data need not survive a power loss (no fsync), and the nodes of
# parallel tests each hold a few connections.
as_server "$bindir/initdb" -D "$dir/data" -U volnode --auth=trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }
port=
for attempt in $(seq 1 50); do
  candidate=$((20000 + RANDOM % 30000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
done
[[ -n "$port" ]] || { echo "test-postgresql-suite.sh: no free port found" >&2; exit 1; }
as_server "$bindir/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w -t 60 \
  -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir/data -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
  start >/dev/null || { cat "$dir/data/server.log" >&2; exit 1; }

export VOLNODE_TEST_INDEX_BACKEND=postgresql
export VOLNODE_TEST_POSTGRES_URL="postgresql://volnode@127.0.0.1:$port/postgres"
echo "test-postgresql-suite.sh: PostgreSQL on 127.0.0.1:$port ($dir)"
cd "$build"
status=0
ctest --output-on-failure --timeout 900 --label-exclude 'postgresql|browser' "$@" || status=$?
exit $status
