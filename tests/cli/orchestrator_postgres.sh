#!/usr/bin/env bash
# orchestrator_postgres.sh: the orchestrator scheduler suite
# (test_orchestrator_scheduler) against a real PostgreSQL server: starts a
# throwaway server on 127.0.0.1 (tests/lib/pg.sh), runs the test binary with
# CPC_TEST_PG_URL set (each test uses a schema of its own), stops the
# server and removes its directory on exit. CTest runs the same binary
# against SQLite as unit/test_orchestrator_scheduler.
set -u
CPC=${CPC_BIN:?CPC_BIN is not set}
SRC=${CPC_SOURCE_DIR:?CPC_SOURCE_DIR is not set}
test_bin=$(dirname "$CPC")/test_orchestrator_scheduler
[ -x "$test_bin" ] || { echo "FAIL: $test_bin not built"; exit 1; }

. "$SRC/tests/lib/pg.sh"
trap cpc_pg_stop EXIT
cpc_pg_start || { echo "FAIL: could not start PostgreSQL"; exit 1; }
echo "PostgreSQL at $CPC_PG_URL"

CPC_TEST_PG_URL=$CPC_PG_URL "$test_bin"
rc=$?
if [ $rc != 0 ]; then
  echo "FAIL: test_orchestrator_scheduler against PostgreSQL (server log follows)"
  tail -n 30 "$CPC_PG_DIR/server.log"
fi
exit $rc
