#!/usr/bin/env bash
# orchestrator_rest_postgres.sh: the REST interop suite
# (tests/interop/orchestrator_rest.test.mjs) with cpc-orchestrator on a real
# PostgreSQL server: starts a throwaway server on 127.0.0.1 (tests/lib/pg.sh),
# runs the suite with CPC_TEST_PG_URL set, stops the server on exit. CTest
# runs the same suite against SQLite as an interop test.
set -u
CPC=${CPC_BIN:?CPC_BIN is not set}
SRC=${CPC_SOURCE_DIR:?CPC_SOURCE_DIR is not set}
[ -x "$(dirname "$CPC")/cpc-orchestrator" ] || { echo "FAIL: cpc-orchestrator not built"; exit 1; }

. "$SRC/tests/lib/pg.sh"
trap cpc_pg_stop EXIT
cpc_pg_start || { echo "FAIL: could not start PostgreSQL"; exit 1; }
echo "PostgreSQL at $CPC_PG_URL"

cd "$SRC" || exit 1
CPC_TEST_PG_URL=$CPC_PG_URL node --import ./tests/interop/polyfill.mjs --test \
  tests/interop/orchestrator_rest.test.mjs
rc=$?
if [ $rc != 0 ]; then
  echo "FAIL: orchestrator REST suite against PostgreSQL (server log follows)"
  tail -n 30 "$CPC_PG_DIR/server.log"
fi
exit $rc
