/*
 * store_work.c: the work queue. Work is created by the scheduler in the
 * same transaction as the decision it carries out, claimed when sent down
 * a node's WorkStream, confirmed by the node, and re-sent or given up when
 * its deadline passes (docs/adr/0003-scheduler.md).
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "orchestrator/orchestrator_int.h"

void cpc__work_item_clear(cpc__work_item *w) {
  if (!w)
    return;
  free(w->detail);
  memset(w, 0, sizeof *w);
}

int cpc__orch_work_enqueue_txn(cpc__orch_core *core, int64_t work_id,
                               const char *node, int kind, const char *cid,
                               const char *detail, int64_t now,
                               int64_t *out_id) {
  int rc;
  if (work_id == 0)
    work_id = cpc__orch_random_id();
  rc = cpc__q_run(core->db, NULL,
                  "INSERT INTO work (work_id, node, kind, cid, detail, state, "
                  "created_at, updated_at, deadline) "
                  "VALUES ($1, $2, $3, $4, $5, 0, $6, $6, $7)",
                  "isissii", work_id, node, (int64_t)kind, cid,
                  detail ? detail : "{}", now,
                  now + core->sched.work_timeout_ms);
  if (rc == 0 && out_id)
    *out_id = work_id;
  return rc;
}

typedef struct claim_args {
  cpc__orch_core *core;
  const char *node;
  int64_t now;
  cpc__work_item *items;
  size_t max, n;
} claim_args;

static int claim_txn(cpc_sql *db, void *arg) {
  claim_args *a = arg;
  cpc_sql_stmt *q = NULL;
  size_t i;
  int rc;

  for (i = 0; i < a->n; i++)
    cpc__work_item_clear(&a->items[i]);
  a->n = 0;
  rc = cpc__q_prepare(db, &q,
                      "SELECT work_id, kind, cid, detail FROM work "
                      "WHERE node = $1 AND state = 0 "
                      "ORDER BY created_at, work_id LIMIT $2",
                      "si", a->node, (int64_t)a->max);
  if (rc != 0)
    return rc;
  while ((rc = cpc_sql_step(q)) == CPC_SQL_ROW && a->n < a->max) {
    cpc__work_item *w = &a->items[a->n];
    const char *d = NULL;
    size_t dlen = 0;
    memset(w, 0, sizeof *w);
    w->work_id = cpc__q_col_int(q, 0, 0);
    w->kind = (int)cpc__q_col_int(q, 1, 0);
    cpc__q_text(q, 2, w->cid, sizeof w->cid);
    (void)cpc_sql_column_text(q, 3, &d, &dlen);
    w->detail = strdup(d ? d : "{}");
    if (!w->detail) {
      rc = CPC_ENOMEM;
      break;
    }
    a->n++;
  }
  cpc_sql_finalize(q);
  if (rc < 0)
    return rc;
  for (i = 0; i < a->n; i++) {
    cpc__work_item *w = &a->items[i];
    int64_t timeout = w->kind == CPC__WORK_AUDIT ? a->core->sched.audit_timeout_ms
                                                 : a->core->sched.work_timeout_ms;
    w->deadline = a->now + timeout;
    rc = cpc__q_run(db, NULL,
                    "UPDATE work SET state = 1, updated_at = $2, deadline = $3 "
                    "WHERE work_id = $1 AND state = 0",
                    "iii", w->work_id, a->now, w->deadline);
    /* The answer is due one audit timeout after the challenge is sent. */
    if (rc == 0 && w->kind == CPC__WORK_AUDIT)
      rc = cpc__q_run(db, NULL,
                      "UPDATE audits SET deadline = $2 "
                      "WHERE audit_id = $1 AND state = 0",
                      "ii", w->work_id, w->deadline);
    if (rc != 0)
      return rc;
  }
  return 0;
}

int cpc__orch_work_claim(cpc__orch_core *core, const char *node, int64_t now,
                         cpc__work_item *items, size_t max, size_t *n) {
  claim_args a = {core, node, now, items, max, 0};
  size_t i;
  int rc;
  *n = 0;
  if (max == 0)
    return 0;
  rc = cpc_sql_transact(core->db, claim_txn, &a);
  if (rc != 0) {
    for (i = 0; i < a.n; i++)
      cpc__work_item_clear(&items[i]);
    return rc;
  }
  *n = a.n;
  return 0;
}

int cpc__orch_work_unclaim(cpc__orch_core *core, int64_t work_id) {
  return cpc__q_run(core->db, NULL,
                    "UPDATE work SET state = 0 WHERE work_id = $1 AND state = 1",
                    "i", work_id);
}

typedef struct confirm_args {
  cpc__orch_core *core;
  const char *node, *cid;
  int64_t work_id, now;
  int ok;
} confirm_args;

static int confirm_txn(cpc_sql *db, void *arg) {
  confirm_args *a = arg;
  cpc_sql_stmt *q = NULL;
  char cid[CPC__MAX_CID_TEXT + 1];
  int64_t kind, state;
  int rc;

  rc = cpc__q_prepare(db, &q,
                      "SELECT kind, cid, state FROM work "
                      "WHERE work_id = $1 AND node = $2",
                      "is", a->work_id, a->node);
  if (rc != 0)
    return rc;
  rc = cpc_sql_step(q);
  if (rc != CPC_SQL_ROW) {
    cpc_sql_finalize(q);
    return rc == CPC_SQL_DONE ? CPC_ENOENT : rc;
  }
  kind = cpc__q_col_int(q, 0, -1);
  cpc__q_text(q, 1, cid, sizeof cid);
  state = cpc__q_col_int(q, 2, -1);
  cpc_sql_finalize(q);
  if (kind == CPC__WORK_AUDIT)
    return CPC_ENOENT;
  if (strcmp(cid, a->cid) != 0)
    return CPC_EMISMATCH;
  if (state == CPC__WORK_DONE)
    return 0;
  if (state == CPC__WORK_FAILED)
    return CPC_ESTATE;
  rc = cpc__q_run(db, NULL,
                  "UPDATE work SET state = $2, updated_at = $3 "
                  "WHERE work_id = $1",
                  "iii", a->work_id,
                  (int64_t)(a->ok || kind == CPC__WORK_DELETE ? CPC__WORK_DONE
                                                              : CPC__WORK_FAILED),
                  a->now);
  if (rc != 0)
    return rc;
  if (kind == CPC__WORK_DELETE)
    return cpc__q_run(db, NULL,
                      "DELETE FROM replicas WHERE cid = $1 AND node = $2 "
                      "AND state = 3",
                      "ss", cid, a->node);
  if (!a->ok)
    return cpc__orch_replica_lose_txn(a->core, cid, a->node, a->now);
  return cpc__q_run(db, NULL,
                    "UPDATE replicas SET state = 1, updated_at = $3 "
                    "WHERE cid = $1 AND node = $2 AND state = 0",
                    "ssi", cid, a->node, a->now);
}

int cpc__orch_work_confirm(cpc__orch_core *core, const char *node,
                           int64_t work_id, const char *cid, int ok,
                           int64_t now) {
  confirm_args a = {core, node, cid, work_id, now, ok};
  return cpc_sql_transact(core->db, confirm_txn, &a);
}

/* One expired piece of work: re-queue it, or give it up. */
typedef struct expire_args {
  cpc__orch_core *core;
  int64_t work_id, now, attempts, kind;
  const char *node, *cid;
  int failed;
} expire_args;

static int expire_txn(cpc_sql *db, void *arg) {
  expire_args *a = arg;
  int64_t n = 0;
  int rc;
  a->failed = a->attempts + 1 >= (int64_t)a->core->sched.work_max_attempts;
  if (!a->failed)
    return cpc__q_run(db, NULL,
                      "UPDATE work SET state = 0, attempts = attempts + 1, "
                      "updated_at = $2, deadline = $3 "
                      "WHERE work_id = $1 AND state IN (0, 1) AND deadline < $2",
                      "iii", a->work_id, a->now,
                      a->now + a->core->sched.work_timeout_ms);
  rc = cpc__q_run(db, &n,
                  "UPDATE work SET state = 3, attempts = attempts + 1, "
                  "updated_at = $2 "
                  "WHERE work_id = $1 AND state IN (0, 1) AND deadline < $2",
                  "ii", a->work_id, a->now);
  if (rc != 0 || n == 0)
    return rc;
  if (a->kind == CPC__WORK_DELETE) { /* give up: a drop order remembers */
    rc = cpc__q_run(db, &n,
                    "DELETE FROM replicas WHERE cid = $1 AND node = $2 "
                    "AND state = 3",
                    "ss", a->cid, a->node);
    if (rc == 0 && n > 0)
      rc = cpc__orch_drop_add_txn(a->core, a->node, a->cid, a->now);
    return rc;
  }
  return cpc__orch_replica_lose_txn(a->core, a->cid, a->node, a->now);
}

int cpc__orch_sched_work_deadlines(cpc__orch_core *core, int64_t now,
                                   size_t *retried, size_t *failed) {
  cpc_sql_stmt *q = NULL;
  expire_args *list = NULL;
  char(*nodes)[CPC_PEER_ID_MAX_TEXT] = NULL;
  char(*cids)[CPC__MAX_CID_TEXT + 1] = NULL;
  size_t n = 0, i, cap = core->sched.batch;
  int rc;

  *retried = *failed = 0;
  list = calloc(cap, sizeof *list);
  nodes = calloc(cap, sizeof *nodes);
  cids = calloc(cap, sizeof *cids);
  if (!list || !nodes || !cids) {
    rc = CPC_ENOMEM;
    goto out;
  }
  rc = cpc__q_prepare(core->db, &q,
                      "SELECT work_id, node, kind, cid, attempts FROM work "
                      "WHERE state IN (0, 1) AND deadline < $1 AND kind <> 2 "
                      "ORDER BY deadline LIMIT $2",
                      "ii", now, (int64_t)cap);
  if (rc != 0)
    goto out;
  while (n < cap && (rc = cpc_sql_step(q)) == CPC_SQL_ROW) {
    list[n].core = core;
    list[n].now = now;
    list[n].work_id = cpc__q_col_int(q, 0, 0);
    cpc__q_text(q, 1, nodes[n], sizeof nodes[n]);
    list[n].kind = cpc__q_col_int(q, 2, 0);
    cpc__q_text(q, 3, cids[n], sizeof cids[n]);
    list[n].attempts = cpc__q_col_int(q, 4, 0);
    list[n].node = nodes[n];
    list[n].cid = cids[n];
    n++;
  }
  cpc_sql_finalize(q);
  if (rc < 0)
    goto out;
  rc = 0;
  for (i = 0; i < n && rc == 0; i++) {
    rc = cpc_sql_transact(core->db, expire_txn, &list[i]);
    if (rc == 0)
      (*(list[i].failed ? failed : retried))++;
  }
out:
  free(list);
  free(nodes);
  free(cids);
  return rc;
}
