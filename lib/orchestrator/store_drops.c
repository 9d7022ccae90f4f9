/*
 * store_drops.c: drop orders (migration 0004, docs/adr/0003-scheduler.md).
 *
 * When the orchestrator forgets a replica row while the node cannot be
 * told (it is offline, or never confirmed a delete), the node may keep
 * the block on its disk forever. A drop order remembers (node, cid) until
 * the node's WorkStream is open again; then it becomes an ordinary delete:
 * a replica row in state deleting plus delete work, which the node
 * confirms like any other (and which becomes a drop order again if the
 * node goes offline or never confirms).
 *
 * Safety: an order is carried out only when no active content uses the
 * block and the node has no replica row for it (a row means the replica
 * map governs that copy: pending, stored, coming back with its node, or
 * already being deleted). The row is inserted with ON CONFLICT DO
 * NOTHING in the same transaction as the check, so a concurrent placement
 * cannot slip in between. An order whose block is in use again waits
 * (due_at moves on) until that content goes too.
 */
#include <stdlib.h>

#include "cpc/error.h"
#include "orchestrator/orchestrator_int.h"

#define MAX_DROP_NODES 10000 /* nodes looked at per content deletion */

/* Looked at again this long after its block was found in use. */
#define DROP_RECHECK_MS INT64_C(3600000)

/* Is cid used by active content? (SQL fragment over an alias's cid.) */
#define LIVE_CID(col)                                                          \
  "EXISTS (SELECT 1 FROM chunks lc JOIN content lct "                         \
  "ON lct.content_id = lc.content_id WHERE lc.cid = " col                     \
  " AND lct.state = 0)"

/* Room left under the per-node cap (0 when full). */
static int room_of(cpc__orch_core *core, const char *node, int64_t *room) {
  int64_t have = 0;
  int rc = cpc__q_int(core->db, &have,
                      "SELECT count(*) FROM node_drops WHERE node = $1", "s",
                      node);
  if (rc != 0)
    return rc;
  *room = (int64_t)core->sched.max_drops_per_node - have;
  if (*room < 0)
    *room = 0;
  return 0;
}

int cpc__orch_drop_add_txn(cpc__orch_core *core, const char *node,
                           const char *cid, int64_t now) {
  int64_t room = 0;
  int rc = room_of(core, node, &room);
  if (rc != 0 || room == 0)
    return rc;
  return cpc__q_run(core->db, NULL,
                    "INSERT INTO node_drops (node, cid, created_at, due_at) "
                    "VALUES ($1, $2, $3, $3) ON CONFLICT (node, cid) DO NOTHING",
                    "ssi", node, cid, now);
}

int cpc__orch_drops_add_deleting_txn(cpc__orch_core *core, const char *node,
                                     int64_t now) {
  int64_t room = 0;
  int rc = room_of(core, node, &room);
  if (rc != 0 || room == 0)
    return rc;
  return cpc__q_run(core->db, NULL,
                    "INSERT INTO node_drops (node, cid, created_at, due_at) "
                    "SELECT node, cid, $2, $2 FROM replicas "
                    "WHERE node = $1 AND state = 3 ORDER BY cid LIMIT $3 "
                    "ON CONFLICT (node, cid) DO NOTHING",
                    "sii", node, now, room);
}

/* The lost rows of content_id's blocks that no active content uses, on
 * nodes that can still be told (vetting, active, offline). */
#define LOST_OF_CONTENT                                                        \
  "FROM replicas r JOIN nodes n ON n.peer_id = r.node "                       \
  "WHERE r.state = 2 AND n.state IN (0, 1, 2) AND r.cid IN "                  \
  "(SELECT c.cid FROM chunks c WHERE c.content_id = $1) "                     \
  "AND NOT " LIVE_CID("r.cid")

int cpc__orch_drops_add_lost_txn(cpc__orch_core *core, const char *content_id,
                                 int64_t now) {
  cpc_sql_stmt *q = NULL;
  char(*nodes)[CPC_PEER_ID_MAX_TEXT] = NULL;
  size_t n = 0, i;
  int64_t room;
  int rc;

  if (core->sched.max_drops_per_node == 0)
    return 0;
  nodes = calloc(MAX_DROP_NODES, sizeof *nodes);
  if (!nodes)
    return CPC_ENOMEM;
  rc = cpc__q_prepare(core->db, &q,
                      "SELECT DISTINCT r.node " LOST_OF_CONTENT " LIMIT $2",
                      "si", content_id, (int64_t)MAX_DROP_NODES);
  if (rc != 0)
    goto out;
  while (n < MAX_DROP_NODES && (rc = cpc_sql_step(q)) == CPC_SQL_ROW)
    cpc__q_text(q, 0, nodes[n++], sizeof nodes[0]);
  cpc_sql_finalize(q);
  if (rc < 0)
    goto out;
  rc = 0;
  for (i = 0; i < n && rc == 0; i++) {
    rc = room_of(core, nodes[i], &room);
    if (rc != 0 || room == 0)
      continue;
    rc = cpc__q_run(core->db, NULL,
                    "INSERT INTO node_drops (node, cid, created_at, due_at) "
                    "SELECT r.node, r.cid, $3, $3 " LOST_OF_CONTENT
                    " AND r.node = $2 ORDER BY r.cid LIMIT $4 "
                    "ON CONFLICT (node, cid) DO NOTHING",
                    "ssii", content_id, nodes[i], now, room);
  }
out:
  free(nodes);
  return rc;
}

typedef struct release_args {
  cpc__orch_core *core;
  const char *node;
  int64_t now;
  size_t max;
  size_t looked, queued; /* out */
} release_args;

static int release_txn(cpc_sql *db, void *arg) {
  release_args *a = arg;
  cpc_sql_stmt *q = NULL;
  char(*cids)[CPC__MAX_CID_TEXT + 1] = NULL;
  size_t n = 0, i;
  int rc;

  a->looked = a->queued = 0;
  cids = calloc(a->max, sizeof *cids);
  if (!cids)
    return CPC_ENOMEM;
  rc = cpc__q_prepare(db, &q,
                      "SELECT cid FROM node_drops WHERE node = $1 "
                      "AND due_at <= $2 ORDER BY due_at, cid LIMIT $3",
                      "sii", a->node, a->now, (int64_t)a->max);
  if (rc != 0)
    goto out;
  while (n < a->max && (rc = cpc_sql_step(q)) == CPC_SQL_ROW)
    cpc__q_text(q, 0, cids[n++], sizeof cids[0]);
  cpc_sql_finalize(q);
  if (rc < 0)
    goto out;
  rc = 0;
  for (i = 0; i < n && rc == 0; i++) {
    int64_t live = 0, added = 0;
    rc = cpc__q_int(db, &live, "SELECT CASE WHEN " LIVE_CID("$1")
                               " THEN 1 ELSE 0 END",
                    "s", cids[i]);
    if (rc != 0)
      break;
    if (live) { /* in use again: not now, and not by this order's word */
      rc = cpc__q_run(db, NULL,
                      "UPDATE node_drops SET due_at = $3 "
                      "WHERE node = $1 AND cid = $2",
                      "ssi", a->node, cids[i], a->now + DROP_RECHECK_MS);
      continue;
    }
    rc = cpc__q_run(db, &added,
                    "INSERT INTO replicas (cid, node, state, updated_at, size) "
                    "VALUES ($1, $2, 3, $3, 0) ON CONFLICT (cid, node) DO NOTHING",
                    "ssi", cids[i], a->node, a->now);
    if (rc == 0 && added > 0) {
      rc = cpc__orch_work_enqueue_txn(a->core, 0, a->node, CPC__WORK_DELETE,
                                      cids[i], NULL, a->now, NULL);
      if (rc == 0)
        a->queued++;
    }
    if (rc == 0) /* carried out, or the replica map governs the copy */
      rc = cpc__q_run(db, NULL,
                      "DELETE FROM node_drops WHERE node = $1 AND cid = $2",
                      "ss", a->node, cids[i]);
  }
  if (rc == 0)
    a->looked = n;
out:
  free(cids);
  return rc;
}

int cpc__orch_drops_release(cpc__orch_core *core, const char *node,
                            int64_t now, size_t max, size_t *looked,
                            size_t *queued) {
  release_args a = {core, node, now, max, 0, 0};
  int rc;
  if (looked)
    *looked = 0;
  if (queued)
    *queued = 0;
  if (max == 0)
    return 0;
  rc = cpc_sql_transact(core->db, release_txn, &a);
  if (rc == 0) {
    if (looked)
      *looked = a.looked;
    if (queued)
      *queued = a.queued;
  }
  return rc;
}
