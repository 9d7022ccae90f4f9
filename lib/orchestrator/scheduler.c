/*
 * scheduler.c: the orchestrator's periodic decisions (one tick), each step
 * under its own lease so several instances sharing a database split them,
 * each decision in its own transaction so a restart loses nothing
 * (docs/adr/0003-scheduler.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "cpc/error.h"
#include "orchestrator/orchestrator_int.h"

#define MAX_NODES 10000   /* nodes considered for placement per tick */
#define MAX_HOLDERS 64    /* replica rows read per block */
#define GAUGE_PERIOD_MS 5000

static const char *const LEASES[] = {
    "orchestrator/liveness", "orchestrator/work", "orchestrator/audits",
    "orchestrator/replication"};
enum { L_LIVENESS, L_WORK, L_AUDITS, L_REPLICATION, L_COUNT };

int64_t cpc__orch_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cpc__orch_random_id(void) {
  uint64_t v;
  randombytes_buf(&v, sizeof v);
  v &= UINT64_C(0x7fffffffffffffff);
  return v ? (int64_t)v : 1;
}

void cpc__orch_core_init(cpc__orch_core *core, cpc_sql *db,
                         const cpc_orchestrator_sched_config *sched,
                         cpc__orch_metrics *metrics) {
  uint8_t r[16];
  memset(core, 0, sizeof *core);
  core->db = db;
  core->sched = *sched;
  core->metrics = metrics;
  randombytes_buf(r, sizeof r);
  sodium_bin2hex(core->instance, sizeof core->instance, r, sizeof r);
}

static int64_t lease_ttl(const cpc__orch_core *core) {
  int64_t ttl = core->sched.tick_ms * 5;
  return ttl < 5000 ? 5000 : ttl;
}

static int hold(cpc__orch_core *core, int which, int64_t now) {
  int acquired = 0;
  if (cpc_sql_lease_acquire(core->db, LEASES[which], core->instance,
                            lease_ttl(core), now, &acquired, NULL) != 0)
    return 0;
  return acquired;
}

void cpc__orch_release_leases(cpc__orch_core *core) {
  int i;
  for (i = 0; i < L_COUNT; i++)
    (void)cpc_sql_lease_release(core->db, LEASES[i], core->instance, NULL);
}

/* ---- liveness --------------------------------------------------------- */

typedef struct retire_args {
  cpc__orch_core *core;
  const char *node;
  int64_t now;
} retire_args;

static int offline_txn(cpc_sql *db, void *arg) {
  retire_args *a = arg;
  char reason[CPC__MAX_REASON];
  int64_t n = 0;
  /* Re-check inside the transaction: a heartbeat may have just come. */
  int rc = cpc__q_run(db, &n,
                      "UPDATE nodes SET state = state WHERE peer_id = $1 "
                      "AND state IN (0, 1) AND last_heartbeat < $2",
                      "si", a->node, a->now - a->core->sched.heartbeat_timeout_ms);
  if (rc != 0 || n == 0)
    return rc;
  snprintf(reason, sizeof reason, "no heartbeat for %lld s",
           (long long)(a->core->sched.heartbeat_timeout_ms / 1000));
  return cpc__orch_node_retire_txn(a->core, a->node, CPC__NODE_OFFLINE, reason,
                                   a->now);
}

int cpc__orch_sched_liveness(cpc__orch_core *core, int64_t now, size_t *n) {
  cpc_sql_stmt *q = NULL;
  char(*nodes)[CPC_PEER_ID_MAX_TEXT] = NULL;
  size_t cap = core->sched.batch, count = 0, i;
  int rc;

  *n = 0;
  nodes = calloc(cap, sizeof *nodes);
  if (!nodes)
    return CPC_ENOMEM;
  rc = cpc__q_prepare(core->db, &q,
                      "SELECT peer_id FROM nodes WHERE state IN (0, 1) "
                      "AND last_heartbeat < $1 ORDER BY last_heartbeat LIMIT $2",
                      "ii", now - core->sched.heartbeat_timeout_ms,
                      (int64_t)cap);
  if (rc != 0)
    goto out;
  while (count < cap && (rc = cpc_sql_step(q)) == CPC_SQL_ROW)
    cpc__q_text(q, 0, nodes[count++], sizeof nodes[0]);
  cpc_sql_finalize(q);
  if (rc < 0)
    goto out;
  rc = 0;
  for (i = 0; i < count && rc == 0; i++) {
    retire_args a = {core, nodes[i], now};
    rc = cpc_sql_transact(core->db, offline_txn, &a);
    if (rc == 0)
      (*n)++;
  }
out:
  free(nodes);
  return rc;
}

/* ---- replication ------------------------------------------------------------ */

typedef struct node_slot {
  char peer_id[CPC_PEER_ID_MAX_TEXT];
  char region[CPC__MAX_REGION + 1];
  int state;
  int64_t free_bytes;
  int64_t held; /* pending + stored replicas */
} node_slot;

typedef struct node_table {
  node_slot *v;
  size_t n;
} node_table;

static int load_nodes(cpc__orch_core *core, node_table *t) {
  cpc_sql_stmt *q = NULL;
  int rc;
  t->v = calloc(MAX_NODES, sizeof *t->v);
  t->n = 0;
  if (!t->v)
    return CPC_ENOMEM;
  rc = cpc__q_prepare(
      core->db, &q,
      "SELECT n.peer_id, n.region, n.state, n.capacity_bytes - n.used_bytes, "
      "n.free_bytes, "
      "COALESCE((SELECT sum(r.size) FROM replicas r WHERE r.node = n.peer_id "
      "AND r.state = 0), 0), "
      /* held only matters for vetting nodes (their extra copies); counting
       * an active node's millions of rows every tick would not do */
      "CASE WHEN n.state = 0 THEN (SELECT count(*) FROM replicas r2 "
      "WHERE r2.node = n.peer_id AND r2.state IN (0, 1)) ELSE 0 END "
      "FROM nodes n WHERE n.state IN (0, 1) ORDER BY n.peer_id LIMIT $1",
      "i", (int64_t)MAX_NODES);
  if (rc != 0)
    return rc;
  while (t->n < MAX_NODES && (rc = cpc_sql_step(q)) == CPC_SQL_ROW) {
    node_slot *s = &t->v[t->n++];
    int64_t room = cpc__q_col_int(q, 3, 0);
    int64_t reported = cpc__q_col_int(q, 4, -1);
    int64_t pending = cpc__q_col_int(q, 5, 0);
    cpc__q_text(q, 0, s->peer_id, sizeof s->peer_id);
    cpc__q_text(q, 1, s->region, sizeof s->region);
    s->state = (int)cpc__q_col_int(q, 2, 0);
    s->free_bytes = room - pending;
    if (reported >= 0 && reported - pending < s->free_bytes)
      s->free_bytes = reported - pending;
    s->held = cpc__q_col_int(q, 6, 0);
  }
  cpc_sql_finalize(q);
  return rc < 0 ? rc : 0;
}

/* The holders of one block, as placement and work detail need them. */
typedef struct holder {
  char node[CPC_PEER_ID_MAX_TEXT];
  char region[CPC__MAX_REGION + 1];
  char *addrs; /* JSON array text, malloc'd */
  int rstate, nstate;
} holder;

typedef struct block_plan {
  cpc__orch_core *core;
  node_table *nodes;
  const char *cid;
  int64_t now;
  int vetting_node; /* index into nodes for a vetting extra, else -1 */
  int from_queue;   /* the block came from the repair queue */
  /* results (applied to nodes after commit) */
  size_t chosen[16];
  size_t n_chosen;
  int64_t size;
  size_t n_trimmed;
  int dequeue; /* the block needs nothing more: drop it from the queue */
} block_plan;

static void holders_free(holder *h, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    free(h[i].addrs);
}

static int load_holders(cpc_sql *db, const char *cid, holder *h, size_t *n) {
  cpc_sql_stmt *q = NULL;
  int rc;
  *n = 0;
  rc = cpc__q_prepare(db, &q,
                      "SELECT r.node, n.region, n.addrs, r.state, n.state "
                      "FROM replicas r JOIN nodes n ON n.peer_id = r.node "
                      "WHERE r.cid = $1 ORDER BY r.node LIMIT $2",
                      "si", cid, (int64_t)MAX_HOLDERS);
  if (rc != 0)
    return rc;
  while (*n < MAX_HOLDERS && (rc = cpc_sql_step(q)) == CPC_SQL_ROW) {
    holder *x = &h[*n];
    const char *a = NULL;
    size_t alen = 0;
    cpc__q_text(q, 0, x->node, sizeof x->node);
    cpc__q_text(q, 1, x->region, sizeof x->region);
    (void)cpc_sql_column_text(q, 2, &a, &alen);
    x->addrs = strdup(a ? a : "[]");
    x->rstate = (int)cpc__q_col_int(q, 3, 0);
    x->nstate = (int)cpc__q_col_int(q, 4, 0);
    (*n)++;
    if (!x->addrs) {
      rc = CPC_ENOMEM;
      break;
    }
  }
  cpc_sql_finalize(q);
  return rc < 0 ? rc : 0;
}

/* Work detail of a replicate order: sources (holders with the block
 * stored, else the content's origin) and the block size. */
static char *replicate_detail(const holder *h, size_t n, const char *origin,
                              int64_t size) {
  json_t *root = json_object(), *src = json_array();
  json_error_t e;
  char *out = NULL;
  size_t i;
  if (!root || !src)
    goto out;
  for (i = 0; i < n; i++) {
    json_t *addrs;
    if (h[i].rstate != CPC__REPLICA_STORED ||
        (h[i].nstate != CPC__NODE_ACTIVE && h[i].nstate != CPC__NODE_VETTING))
      continue;
    addrs = json_loads(h[i].addrs, 0, &e);
    if (!json_is_array(addrs)) {
      json_decref(addrs);
      addrs = json_array();
    }
    json_array_append_new(src, json_pack("{s:s, s:o}", "peer_id", h[i].node,
                                         "addrs", addrs));
  }
  if (json_array_size(src) == 0 && origin) {
    json_t *addrs = json_loads(origin, 0, &e);
    if (json_is_array(addrs) && json_array_size(addrs) > 0)
      json_array_append_new(src, json_pack("{s:s, s:o}", "peer_id", "",
                                           "addrs", addrs));
    else
      json_decref(addrs);
  }
  json_object_set_new(root, "sources", src);
  src = NULL;
  json_object_set_new(root, "size", json_integer(size));
  out = json_dumps(root, JSON_COMPACT);
out:
  json_decref(src);
  json_decref(root);
  return out;
}

static int place_replica_txn(cpc__orch_core *core, const char *cid,
                             const char *node, int64_t size,
                             const char *detail, int64_t now) {
  int rc = cpc__q_run(core->db, NULL,
                      "INSERT INTO replicas (cid, node, state, updated_at, size) "
                      "VALUES ($1, $2, 0, $3, $4)",
                      "ssii", cid, node, now, size);
  if (rc == 0)
    rc = cpc__orch_work_enqueue_txn(core, 0, node, CPC__WORK_REPLICATE, cid,
                                    detail, now, NULL);
  return rc;
}

/* Free space the node table has for node, or 0 when it is not there. */
static int64_t free_of(const node_table *t, const char *node) {
  size_t i;
  for (i = 0; i < t->n; i++)
    if (strcmp(t->v[i].peer_id, node) == 0)
      return t->v[i].free_bytes;
  return 0;
}

/*
 * More copies stored on active nodes than desired (a node came back with
 * copies that were re-made meanwhile, a vetting node's extras now count):
 * delete the surplus, in the caller's transaction. Victims are stored
 * copies on active nodes without an open audit of this block (a node must
 * not fail a challenge for a copy it was told to drop), from the failure
 * domain holding the most copies first, then the node with the least free
 * space. *trimmed gets the number.
 */
static int trim_surplus(block_plan *p, holder *h, size_t nh, int64_t desired,
                        size_t *trimmed) {
  cpc_sql_stmt *q = NULL;
  int64_t stored = 0;
  size_t i, j, region_n[MAX_HOLDERS];
  int cand[MAX_HOLDERS];
  int rc;

  *trimmed = 0;
  for (i = 0; i < nh; i++) {
    cand[i] = 0;
    region_n[i] = 0;
    if (h[i].nstate != CPC__NODE_ACTIVE)
      continue;
    if (h[i].rstate == CPC__REPLICA_STORED) {
      stored++;
      cand[i] = 1;
    }
    if (h[i].rstate == CPC__REPLICA_STORED ||
        h[i].rstate == CPC__REPLICA_PENDING)
      for (j = 0; j < nh; j++)
        if (strcmp(h[j].region, h[i].region) == 0)
          region_n[j]++;
  }
  if (stored <= desired)
    return 0;
  rc = cpc__q_prepare(p->core->db, &q,
                      "SELECT node FROM audits WHERE cid = $1 AND state = 0",
                      "s", p->cid);
  while (rc == 0 && (rc = cpc_sql_step(q)) == CPC_SQL_ROW) {
    char node[CPC_PEER_ID_MAX_TEXT];
    rc = 0;
    cpc__q_text(q, 0, node, sizeof node);
    for (i = 0; i < nh; i++)
      if (strcmp(h[i].node, node) == 0)
        cand[i] = 0;
  }
  cpc_sql_finalize(q);
  if (rc < 0)
    return rc;
  rc = 0;
  while (stored > desired && rc == 0) {
    int best = -1;
    for (i = 0; i < nh; i++) {
      if (!cand[i])
        continue;
      if (best < 0 || region_n[i] > region_n[best] ||
          (region_n[i] == region_n[best] &&
           free_of(p->nodes, h[i].node) < free_of(p->nodes, h[best].node)))
        best = (int)i;
    }
    if (best < 0)
      break; /* the rest are under audit: next time */
    cand[best] = 0;
    for (j = 0; j < nh; j++)
      if (strcmp(h[j].region, h[best].region) == 0 && region_n[j] > 0)
        region_n[j]--;
    rc = cpc__q_run(p->core->db, NULL,
                    "UPDATE replicas SET state = 3, updated_at = $3 "
                    "WHERE cid = $1 AND node = $2 AND state = 1",
                    "ssi", p->cid, h[best].node, p->now);
    if (rc == 0)
      rc = cpc__orch_work_enqueue_txn(p->core, 0, h[best].node,
                                      CPC__WORK_DELETE, p->cid, NULL, p->now,
                                      NULL);
    if (rc == 0) {
      h[best].rstate = CPC__REPLICA_DELETING;
      stored--;
      (*trimmed)++;
    }
  }
  return rc;
}

static int block_txn(cpc_sql *db, void *arg) {
  block_plan *p = arg;
  holder h[MAX_HOLDERS];
  size_t nh = 0, i, j, regular = 0, nc = 0;
  cpc__place_node *cands = NULL;
  const char *taken[MAX_HOLDERS];
  size_t n_taken = 0, chosen[16];
  int64_t desired = 0, size = 0;
  char *origin = NULL, *detail = NULL;
  cpc_sql_stmt *q = NULL;
  int rc;

  p->n_chosen = 0;
  p->n_trimmed = 0;
  p->dequeue = 1;
  rc = cpc__q_prepare(db, &q,
                      "SELECT max(ct.replicas_desired), max(c.size), "
                      "max(ct.origin) FROM chunks c "
                      "JOIN content ct ON ct.content_id = c.content_id "
                      "WHERE c.cid = $1 AND ct.state = 0",
                      "s", p->cid);
  if (rc != 0)
    return rc;
  rc = cpc_sql_step(q);
  if (rc == CPC_SQL_ROW && cpc_sql_column_is_null(q, 0) == 0) {
    const char *o = NULL;
    size_t olen = 0;
    desired = cpc__q_col_int(q, 0, 0);
    size = cpc__q_col_int(q, 1, 0);
    if (cpc_sql_column_text(q, 2, &o, &olen) == 0)
      origin = strdup(o);
  }
  cpc_sql_finalize(q);
  if (rc < 0)
    goto out;
  rc = 0;
  if (desired == 0) /* in no active content: nothing to keep */
    goto out;
  if (desired > 16)
    desired = 16;
  rc = load_holders(db, p->cid, h, &nh);
  if (rc != 0)
    goto out;
  if (p->vetting_node < 0) {
    rc = trim_surplus(p, h, nh, desired, &p->n_trimmed);
    if (rc != 0)
      goto out;
  }
  for (i = 0; i < nh; i++) {
    int live = h[i].rstate == CPC__REPLICA_PENDING ||
               h[i].rstate == CPC__REPLICA_STORED;
    if (live && h[i].nstate == CPC__NODE_ACTIVE) {
      regular++;
      taken[n_taken++] = h[i].region;
    }
  }
  if (p->vetting_node >= 0) {
    node_slot *s = &p->nodes->v[p->vetting_node];
    for (i = 0; i < nh; i++)
      if (strcmp(h[i].node, s->peer_id) == 0)
        goto out; /* already has (or had) a row for this block */
    if (s->free_bytes < size)
      goto out;
    chosen[0] = (size_t)p->vetting_node;
    nc = 1;
  } else {
    size_t want = regular < (size_t)desired ? (size_t)desired - regular : 0;
    size_t *map;
    if (want == 0)
      goto out;
    cands = calloc(p->nodes->n ? p->nodes->n : 1, sizeof *cands);
    map = calloc(p->nodes->n ? p->nodes->n : 1, sizeof *map);
    if (!cands || !map) {
      free(map);
      rc = CPC_ENOMEM;
      goto out;
    }
    for (i = 0, j = 0; i < p->nodes->n; i++) {
      node_slot *s = &p->nodes->v[i];
      size_t k;
      int has = 0;
      if (s->state != CPC__NODE_ACTIVE)
        continue;
      for (k = 0; k < nh; k++)
        if (strcmp(h[k].node, s->peer_id) == 0)
          has = 1;
      if (has)
        continue;
      cands[j].peer_id = s->peer_id;
      cands[j].region = s->region;
      cands[j].free_bytes = s->free_bytes;
      map[j++] = i;
    }
    cpc__orch_place(cands, j, taken, n_taken, size, want, chosen, &nc);
    for (i = 0; i < nc; i++)
      chosen[i] = map[chosen[i]];
    free(map);
    if (nc < want) /* not enough nodes: keep it queued for later */
      p->dequeue = 0;
  }
  if (nc == 0)
    goto out;
  detail = replicate_detail(h, nh, origin, size);
  if (!detail) {
    rc = CPC_ENOMEM;
    goto out;
  }
  for (i = 0; i < nc && rc == 0; i++)
    rc = place_replica_txn(p->core, p->cid, p->nodes->v[chosen[i]].peer_id,
                           size, detail, p->now);
  if (rc == 0) { /* applied to the node table after commit */
    memcpy(p->chosen, chosen, nc * sizeof *chosen);
    p->n_chosen = nc;
    p->size = size;
  }
out:
  /* Only queued blocks touch the queue: a sweep over blocks that need
   * nothing then writes nothing (no WAL growth on SQLite). */
  if (rc == 0 && p->vetting_node < 0 && p->from_queue) {
    if (p->dequeue)
      rc = cpc__q_run(db, NULL, "DELETE FROM repair_queue WHERE cid = $1",
                      "s", p->cid);
    else /* to the back of the queue */
      rc = cpc__q_run(db, NULL,
                      "UPDATE repair_queue SET queued_at = $2 WHERE cid = $1",
                      "si", p->cid, p->now);
  }
  holders_free(h, nh);
  free(cands);
  free(origin);
  free(detail);
  return rc;
}

/* Place what block cid lacks, trim what it has too much of; count the
 * replicas placed and (trimmed may be NULL) trimmed. */
static int fix_block(cpc__orch_core *core, node_table *t, const char *cid,
                     int vetting_node, int from_queue, int64_t now,
                     size_t *placed, size_t *trimmed) {
  block_plan p;
  size_t i;
  int rc;
  memset(&p, 0, sizeof p);
  p.core = core;
  p.nodes = t;
  p.cid = cid;
  p.now = now;
  p.vetting_node = vetting_node;
  p.from_queue = from_queue;
  rc = cpc_sql_transact(core->db, block_txn, &p);
  if (rc != 0)
    return rc;
  for (i = 0; i < p.n_chosen; i++) {
    node_slot *s = &t->v[p.chosen[i]];
    s->held++;
    s->free_bytes -= p.size;
  }
  *placed += p.n_chosen;
  if (trimmed)
    *trimmed += p.n_trimmed;
  return 0;
}

static int load_cids(cpc_sql *db, const char *sql, const char *cursor,
                     size_t cap, char (*out)[CPC__MAX_CID_TEXT + 1],
                     size_t *n) {
  cpc_sql_stmt *q = NULL;
  int rc;
  *n = 0;
  if (cursor)
    rc = cpc__q_prepare(db, &q, sql, "si", cursor, (int64_t)cap);
  else
    rc = cpc__q_prepare(db, &q, sql, "i", (int64_t)cap);
  if (rc != 0)
    return rc;
  while (*n < cap && (rc = cpc_sql_step(q)) == CPC_SQL_ROW)
    cpc__q_text(q, 0, out[(*n)++], sizeof out[0]);
  cpc_sql_finalize(q);
  return rc < 0 ? rc : 0;
}

#define VETTING_WINDOW 64 /* blocks looked at per vetting node and tick */

/* Append to w (*n so far, *seen rows counted) the blocks with a stored
 * copy from cid >= from (and < below, unless NULL), up to VETTING_WINDOW
 * in all, that suit node as test data: stored on an active node, with an
 * unused audit token of active content, and no row of node's. */
static int vetting_window(cpc_sql *db, const char *node, const char *from,
                          const char *below, char (*w)[CPC__MAX_CID_TEXT + 1],
                          size_t *n, size_t *seen) {
  static const char *const head =
      "SELECT w.cid, CASE WHEN EXISTS (SELECT 1 FROM replicas r JOIN nodes n "
      "ON n.peer_id = r.node WHERE r.cid = w.cid AND r.state = 1 "
      "AND n.state = 1) AND EXISTS (SELECT 1 FROM audit_tokens t JOIN content "
      "ct ON ct.content_id = t.content_id WHERE t.cid = w.cid AND t.used = 0 "
      "AND ct.state = 0) AND NOT EXISTS (SELECT 1 FROM replicas r2 "
      "WHERE r2.cid = w.cid AND r2.node = $1) THEN 1 ELSE 0 END "
      "FROM (SELECT DISTINCT cid FROM replicas WHERE state = 1 AND cid >= $2 ";
  char sql[1024];
  cpc_sql_stmt *q = NULL;
  int rc;
  snprintf(sql, sizeof sql, "%s%s", head,
           below ? "AND cid < $3 ORDER BY cid LIMIT $4) w"
                 : "ORDER BY cid LIMIT $3) w");
  if (below)
    rc = cpc__q_prepare(db, &q, sql, "sssi", node, from, below,
                        (int64_t)(VETTING_WINDOW - *seen));
  else
    rc = cpc__q_prepare(db, &q, sql, "ssi", node, from,
                        (int64_t)(VETTING_WINDOW - *seen));
  if (rc != 0)
    return rc;
  while (*seen < VETTING_WINDOW && (rc = cpc_sql_step(q)) == CPC_SQL_ROW) {
    (*seen)++;
    if (cpc__q_col_int(q, 1, 0))
      cpc__q_text(q, 0, w[(*n)++], sizeof w[0]);
  }
  cpc_sql_finalize(q);
  return rc < 0 ? rc : 0;
}

/* One end of the stored cids (first, or last when desc); "" if none. */
static int stored_end(cpc_sql *db, int desc, char *out, size_t cap) {
  cpc_sql_stmt *q = NULL;
  int rc = cpc__q_prepare(db, &q,
                          desc ? "SELECT cid FROM replicas WHERE state = 1 "
                                 "ORDER BY cid DESC LIMIT 1"
                               : "SELECT cid FROM replicas WHERE state = 1 "
                                 "ORDER BY cid LIMIT 1",
                          "");
  out[0] = '\0';
  if (rc != 0)
    return rc;
  rc = cpc_sql_step(q);
  if (rc == CPC_SQL_ROW)
    cpc__q_text(q, 0, out, cap);
  cpc_sql_finalize(q);
  return rc < 0 ? rc : 0;
}

/*
 * Up to want blocks (want <= 16) to give vetting node as test data, into
 * out; *n their number. A random probe into the cids of stored replicas
 * (cpc__orch_audit_probe) and the VETTING_WINDOW blocks from there on,
 * wrapping round: bounded work per call, however many replicas there
 * are, and every suitable block can be chosen.
 */
static int vetting_candidates(cpc_sql *db, const char *node, size_t want,
                              char (*out)[CPC__MAX_CID_TEXT + 1], size_t *n) {
  char lo[CPC__MAX_CID_TEXT + 1], hi[CPC__MAX_CID_TEXT + 1];
  char probe[CPC__MAX_CID_TEXT + 16];
  char(*w)[CPC__MAX_CID_TEXT + 1] = NULL;
  size_t got = 0, seen = 0, i;
  int rc;

  *n = 0;
  rc = stored_end(db, 0, lo, sizeof lo);
  if (rc == 0)
    rc = stored_end(db, 1, hi, sizeof hi);
  if (rc != 0 || !lo[0])
    return rc;
  w = calloc(VETTING_WINDOW, sizeof *w);
  if (!w)
    return CPC_ENOMEM;
  cpc__orch_audit_probe(lo, hi, probe, sizeof probe);
  rc = vetting_window(db, node, probe, NULL, w, &got, &seen);
  if (rc == 0 && seen < VETTING_WINDOW) /* ran off the end: wrap round */
    rc = vetting_window(db, node, lo, probe, w, &got, &seen);
  /* a random want of them (partial Fisher-Yates) */
  for (i = 0; rc == 0 && i < want && i < got; i++) {
    size_t j = i + randombytes_uniform((uint32_t)(got - i));
    memcpy(out[i], w[j], sizeof w[0]);
    if (j != i)
      memcpy(w[j], w[i], sizeof w[0]);
    (*n)++;
  }
  free(w);
  return rc;
}

/* Give each vetting node extra copies of audited blocks to be tested on. */
static int place_vetting(cpc__orch_core *core, node_table *t, int64_t now,
                         size_t *placed) {
  char(*cids)[CPC__MAX_CID_TEXT + 1] = NULL;
  size_t i, k, n, want;
  int rc = 0;
  cids = calloc(16, sizeof *cids);
  if (!cids)
    return CPC_ENOMEM;
  for (i = 0; i < t->n && rc == 0; i++) {
    node_slot *s = &t->v[i];
    if (s->state != CPC__NODE_VETTING ||
        s->held >= (int64_t)core->sched.vetting_replicas)
      continue;
    want = (size_t)((int64_t)core->sched.vetting_replicas - s->held);
    if (want > 16)
      want = 16;
    rc = vetting_candidates(core->db, s->peer_id, want, cids, &n);
    if (rc != 0)
      break;
    for (k = 0; k < n && rc == 0; k++)
      rc = fix_block(core, t, cids[k], (int)i, 0, now, placed, NULL);
  }
  free(cids);
  return rc;
}

int cpc__orch_sched_replicate(cpc__orch_core *core, int64_t now,
                              size_t *placed, size_t *vetting_placed,
                              size_t *trimmed) {
  node_table t = {NULL, 0};
  char(*cids)[CPC__MAX_CID_TEXT + 1] = NULL;
  size_t cap = core->sched.batch, n = 0, i;
  int rc;

  *placed = *vetting_placed = *trimmed = 0;
  cids = calloc(cap, sizeof *cids);
  if (!cids)
    return CPC_ENOMEM;
  rc = load_nodes(core, &t);
  if (rc != 0)
    goto out;
  /* 1. Blocks known to have lost a replica. */
  rc = load_cids(core->db,
                 "SELECT cid FROM repair_queue ORDER BY queued_at, cid "
                 "LIMIT $1",
                 NULL, cap, cids, &n);
  for (i = 0; i < n && rc == 0; i++)
    rc = fix_block(core, &t, cids[i], -1, 1, now, placed, trimmed);
  /* 2. The sweep over every block of active content, a batch per tick,
   * which finds new content and anything the queue missed. */
  if (rc == 0)
    rc = load_cids(core->db,
                   "SELECT DISTINCT c.cid FROM chunks c JOIN content ct "
                   "ON ct.content_id = c.content_id WHERE ct.state = 0 "
                   "AND c.cid > $1 ORDER BY c.cid LIMIT $2",
                   core->sweep_cursor, cap, cids, &n);
  if (rc == 0) {
    for (i = 0; i < n && rc == 0; i++)
      rc = fix_block(core, &t, cids[i], -1, 0, now, placed, trimmed);
    if (rc == 0) {
      if (n < cap)
        core->sweep_cursor[0] = '\0'; /* wrap around */
      else
        snprintf(core->sweep_cursor, sizeof core->sweep_cursor, "%s",
                 cids[n - 1]);
    }
  }
  /* 3. Test data for vetting nodes. */
  if (rc == 0)
    rc = place_vetting(core, &t, now, vetting_placed);
out:
  free(t.v);
  free(cids);
  return rc;
}

/* ---- deletion of content ------------------------------------------------------ */

static int delete_content_txn(cpc_sql *db, void *arg) {
  retire_args *a = arg; /* node holds the content_id here */
  const char *content_id = a->node;
  cpc_sql_stmt *q = NULL;
  char(*rows)[2][CPC__MAX_CID_TEXT + 1] = NULL;
  size_t n = 0, i, cap = a->core->sched.batch;
  int64_t left = 0;
  int rc;

  /* Blocks of this content that no active content still uses. */
  static const char *const exclusive =
      "FROM replicas r JOIN chunks c ON c.cid = r.cid "
      "WHERE c.content_id = $1 AND NOT EXISTS (SELECT 1 FROM chunks c2 "
      "JOIN content ct2 ON ct2.content_id = c2.content_id "
      "WHERE c2.cid = r.cid AND ct2.state = 0)";
  char sql[512];

  rows = calloc(cap, sizeof *rows);
  if (!rows)
    return CPC_ENOMEM;
  snprintf(sql, sizeof sql, "SELECT DISTINCT r.cid, r.node %s AND r.state IN (0, 1) "
           "LIMIT $2", exclusive);
  rc = cpc__q_prepare(db, &q, sql, "si", content_id, (int64_t)cap);
  if (rc != 0)
    goto out;
  while (n < cap && (rc = cpc_sql_step(q)) == CPC_SQL_ROW) {
    cpc__q_text(q, 0, rows[n][0], sizeof rows[n][0]);
    cpc__q_text(q, 1, rows[n][1], sizeof rows[n][1]);
    n++;
  }
  cpc_sql_finalize(q);
  if (rc < 0)
    goto out;
  rc = 0;
  for (i = 0; i < n && rc == 0; i++) {
    rc = cpc__q_run(db, NULL,
                    "UPDATE replicas SET state = 3, updated_at = $3 "
                    "WHERE cid = $1 AND node = $2",
                    "ssi", rows[i][0], rows[i][1], a->now);
    if (rc == 0) /* a fetch still under way is moot */
      rc = cpc__q_run(db, NULL,
                      "UPDATE work SET state = 3, updated_at = $3 "
                      "WHERE cid = $1 AND node = $2 AND kind = 0 "
                      "AND state IN (0, 1)",
                      "ssi", rows[i][0], rows[i][1], a->now);
    if (rc == 0)
      rc = cpc__orch_work_enqueue_txn(a->core, 0, rows[i][1], CPC__WORK_DELETE,
                                      rows[i][0], NULL, a->now, NULL);
  }
  if (rc != 0 || n == cap)
    goto out;
  /* Lost copies (offline nodes, failed audits, ...) cannot be told now:
   * drop orders remember them, then the rows are forgotten. */
  rc = cpc__orch_drops_add_lost_txn(a->core, content_id, a->now);
  if (rc != 0)
    goto out;
  rc = cpc__q_run(db, NULL,
                  "DELETE FROM replicas WHERE state = 2 AND cid IN "
                  "(SELECT c.cid FROM chunks c WHERE c.content_id = $1) "
                  "AND NOT EXISTS (SELECT 1 FROM chunks c2 JOIN content ct2 "
                  "ON ct2.content_id = c2.content_id "
                  "WHERE c2.cid = replicas.cid AND ct2.state = 0)",
                  "s", content_id);
  if (rc != 0)
    goto out;
  snprintf(sql, sizeof sql, "SELECT count(*) %s", exclusive);
  rc = cpc__q_int(db, &left, sql, "s", content_id);
  if (rc == 0 && left == 0)
    rc = cpc__q_run(db, NULL,
                    "UPDATE content SET state = 2 WHERE content_id = $1 "
                    "AND state = 1",
                    "s", content_id);
out:
  free(rows);
  return rc;
}

int cpc__orch_sched_deletions(cpc__orch_core *core, int64_t now, size_t *n) {
  char(*ids)[CPC__MAX_CID_TEXT + 1] = NULL;
  size_t count = 0, i, cap = 16;
  int rc;
  *n = 0;
  ids = calloc(cap, sizeof *ids);
  if (!ids)
    return CPC_ENOMEM;
  rc = load_cids(core->db,
                 "SELECT content_id FROM content WHERE state = 1 "
                 "ORDER BY content_id LIMIT $1",
                 NULL, cap, ids, &count);
  for (i = 0; i < count && rc == 0; i++) {
    retire_args a = {core, ids[i], now};
    rc = cpc_sql_transact(core->db, delete_content_txn, &a);
    if (rc == 0)
      (*n)++;
  }
  free(ids);
  return rc;
}

/* ---- gauges -------------------------------------------------------------------- */

static const char *const NODE_STATES[] = {"vetting", "active", "offline",
                                          "disqualified", "left"};
static const char *const REPLICA_STATES[] = {"pending", "stored", "lost",
                                             "deleting"};
static const char *const CONTENT_STATES[] = {"active", "deleting", "deleted"};
static const char *const WORK_KINDS[] = {"replicate", "delete", "audit"};
static const char *const WORK_STATES[] = {"queued", "sent"};

static int gauge_by_state(cpc_sql *db, cpc_metrics_family *f, const char *sql,
                          const char *const *names, size_t n_names) {
  double counts[8] = {0};
  cpc_sql_stmt *q = NULL;
  cpc_metrics_series *s;
  size_t i;
  int rc = cpc__q_prepare(db, &q, sql, "");
  if (rc != 0)
    return rc;
  while ((rc = cpc_sql_step(q)) == CPC_SQL_ROW) {
    int64_t st = cpc__q_col_int(q, 0, -1), c = cpc__q_col_int(q, 1, 0);
    if (st >= 0 && (size_t)st < n_names)
      counts[st] = (double)c;
  }
  cpc_sql_finalize(q);
  for (i = 0; i < n_names; i++) {
    const char *v[1] = {names[i]};
    if (cpc_metrics_series_get(f, v, 1, &s) == 0)
      cpc_metrics_gauge_set(s, counts[i]);
  }
  return rc < 0 ? rc : 0;
}

/* The refresh itself; the caller holds m->refresh_lock. */
static int gauges_locked(cpc__orch_metrics *m, cpc_sql *db, int64_t now) {
  double work[3][2] = {{0}};
  cpc_sql_stmt *q = NULL;
  cpc_metrics_series *s;
  size_t k, st;
  int rc;
  uint64_t bytes;

  bytes = atomic_load(&m->bytes);
  if (m->last_tick_ms > 0 && now > m->last_tick_ms)
    cpc_metrics_gauge_set(m->bandwidth_orch,
                          (double)(bytes - m->bytes_at_last_tick) * 1000.0 /
                              (double)(now - m->last_tick_ms));
  m->bytes_at_last_tick = bytes;
  m->last_tick_ms = now;

  rc = gauge_by_state(db, m->nodes,
                      "SELECT state, count(*) FROM nodes GROUP BY state",
                      NODE_STATES, 5);
  if (rc == 0)
    rc = gauge_by_state(db, m->replicas,
                        "SELECT state, count(*) FROM replicas GROUP BY state",
                        REPLICA_STATES, 4);
  if (rc == 0)
    rc = gauge_by_state(db, m->content,
                        "SELECT state, count(*) FROM content GROUP BY state",
                        CONTENT_STATES, 3);
  if (rc != 0)
    return rc;
  rc = cpc__q_prepare(db, &q,
                      "SELECT kind, state, count(*) FROM work "
                      "WHERE state IN (0, 1) GROUP BY kind, state",
                      "");
  if (rc != 0)
    return rc;
  while ((rc = cpc_sql_step(q)) == CPC_SQL_ROW) {
    int64_t kd = cpc__q_col_int(q, 0, -1), sd = cpc__q_col_int(q, 1, -1);
    if (kd >= 0 && kd < 3 && sd >= 0 && sd < 2)
      work[kd][sd] = (double)cpc__q_col_int(q, 2, 0);
  }
  cpc_sql_finalize(q);
  for (k = 0; k < 3; k++)
    for (st = 0; st < 2; st++) {
      const char *v[2] = {WORK_KINDS[k], WORK_STATES[st]};
      if (cpc_metrics_series_get(m->work, v, 2, &s) == 0)
        cpc_metrics_gauge_set(s, work[k][st]);
    }
  return rc < 0 ? rc : 0;
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cpc__orch_refresh_gauges(cpc__orch_metrics *m, cpc_sql *db, int64_t now,
                             int64_t min_age_ms) {
  int64_t t0;
  int rc = 0;
  if (!m || !m->reg || !db)
    return 0;
  pthread_mutex_lock(&m->refresh_lock);
  if (min_age_ms < 50 * m->refresh_cost_ms)
    min_age_ms = 50 * m->refresh_cost_ms;
  if (m->last_tick_ms == 0 || now - m->last_tick_ms >= min_age_ms) {
    t0 = mono_ms();
    rc = gauges_locked(m, db, now);
    m->refresh_cost_ms = mono_ms() - t0;
  }
  pthread_mutex_unlock(&m->refresh_lock);
  return rc;
}

int cpc__orch_sched_gauges(cpc__orch_core *core, int64_t now) {
  int rc;
  if (!core->metrics || !core->metrics->reg)
    return 0;
  pthread_mutex_lock(&core->metrics->refresh_lock);
  rc = gauges_locked(core->metrics, core->db, now);
  pthread_mutex_unlock(&core->metrics->refresh_lock);
  return rc;
}

/* ---- the tick --------------------------------------------------------------------- */

int cpc__orch_tick(cpc__orch_core *core, int64_t now, cpc__tick_report *report) {
  cpc__tick_report r;
  int rc, first = 0;
  memset(&r, 0, sizeof r);
#define STEP(expr)                                                             \
  do {                                                                         \
    rc = (expr);                                                               \
    if (rc != 0 && first == 0)                                                 \
      first = rc;                                                              \
  } while (0)
  if (hold(core, L_LIVENESS, now))
    STEP(cpc__orch_sched_liveness(core, now, &r.went_offline));
  if (hold(core, L_WORK, now))
    STEP(cpc__orch_sched_work_deadlines(core, now, &r.work_retried,
                                        &r.work_failed));
  if (hold(core, L_AUDITS, now)) {
    STEP(cpc__orch_audits_expire(core, now, &r.audits_expired));
    STEP(cpc__orch_audits_issue(core, now, &r.audits_issued));
  }
  if (hold(core, L_REPLICATION, now)) {
    STEP(cpc__orch_sched_replicate(core, now, &r.replicas_placed,
                                   &r.vetting_placed, &r.replicas_trimmed));
    STEP(cpc__orch_sched_deletions(core, now, &r.deletes_queued));
  }
#undef STEP
  rc = cpc__orch_refresh_gauges(core->metrics, core->db, now, GAUGE_PERIOD_MS);
  if (rc != 0 && first == 0)
    first = rc;
  if (report)
    *report = r;
  return first;
}
