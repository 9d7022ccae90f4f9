/*
 * store_replicas.c: the replica map (which node holds which block) as
 * healing sees it: losing a replica puts its block in the repair queue,
 * which the scheduler drains before its regular sweep.
 */
#include "cpc/error.h"
#include "orchestrator/orchestrator_int.h"

int cpc__orch_repair_enqueue(cpc_sql *db, const char *cid, int64_t now) {
  return cpc__q_run(db, NULL,
                    "INSERT INTO repair_queue (cid, queued_at) VALUES ($1, $2) "
                    "ON CONFLICT (cid) DO NOTHING",
                    "si", cid, now);
}

int cpc__orch_replica_lose_txn(cpc__orch_core *core, const char *cid,
                               const char *node, int64_t now) {
  int rc = cpc__q_run(core->db, NULL,
                      "UPDATE replicas SET state = 2, updated_at = $3 "
                      "WHERE cid = $1 AND node = $2 AND state IN (0, 1)",
                      "ssi", cid, node, now);
  if (rc == 0)
    rc = cpc__orch_repair_enqueue(core->db, cid, now);
  return rc;
}

typedef struct corrupt_args {
  cpc__orch_core *core;
  const char *node, *cid;
  int64_t now;
} corrupt_args;

static int corrupt_txn(cpc_sql *db, void *arg) {
  corrupt_args *a = arg;
  int64_t n = 0;
  int rc = cpc__q_run(db, &n,
                      "UPDATE replicas SET state = 2, updated_at = $3 "
                      "WHERE cid = $1 AND node = $2 AND state IN (0, 1)",
                      "ssi", a->cid, a->node, a->now);
  if (rc != 0)
    return rc;
  if (n == 0)
    return CPC_ENOENT;
  /* An open audit on this block stays open: reporting corruption is no
   * way to dodge a challenge (unanswered, it fails at its deadline). */
  return cpc__orch_repair_enqueue(db, a->cid, a->now);
}

int cpc__orch_report_corrupt(cpc__orch_core *core, const char *node,
                             const char *cid, int64_t now) {
  corrupt_args a = {core, node, cid, now};
  return cpc_sql_transact(core->db, corrupt_txn, &a);
}
