/*
 * store_nodes.c: provider nodes in the database: registration from a
 * verified commitment, look-ups for authentication, heartbeats, and
 * retiring a node (offline, disqualified, left) with what that implies for
 * its replicas, work and audits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/orchestrator/v1/node.pb-c.h"
#include "orchestrator/orchestrator_int.h"

/* The state a node returns to from offline. */
static int back_state(const cpc__orch_core *core, int64_t passed) {
  return passed >= (int64_t)core->sched.vetting_audits ? CPC__NODE_ACTIVE
                                                       : CPC__NODE_VETTING;
}

static void status_fill(const cpc__orch_core *core, cpc__node_status *st,
                        int state, const char *reason, int64_t passed) {
  st->state = state;
  if (state == CPC__NODE_VETTING)
    snprintf(st->reason, sizeof st->reason, "vetting: %lld of %u audits passed",
             (long long)passed, core->sched.vetting_audits);
  else
    snprintf(st->reason, sizeof st->reason, "%s", reason ? reason : "");
}

/* timestamp_ms of a stored SignedCommitment, 0 if it does not parse. */
static uint64_t stored_timestamp(const void *pb, size_t len) {
  Cpc__Orchestrator__V1__SignedCommitment *sc;
  Cpc__Orchestrator__V1__ResourceCommitment *rcm;
  uint64_t ts = 0;
  sc = cpc__orchestrator__v1__signed_commitment__unpack(NULL, len, pb);
  if (!sc)
    return 0;
  rcm = cpc__orchestrator__v1__resource_commitment__unpack(
      NULL, sc->commitment.len, sc->commitment.data);
  if (rcm) {
    ts = rcm->timestamp_ms;
    cpc__orchestrator__v1__resource_commitment__free_unpacked(rcm, NULL);
  }
  cpc__orchestrator__v1__signed_commitment__free_unpacked(sc, NULL);
  return ts;
}

typedef struct register_args {
  cpc__orch_core *core;
  const cpc__commitment *c;
  const uint8_t *pb;
  size_t pb_len;
  int64_t now;
  cpc__node_status *st;
} register_args;

static int register_txn(cpc_sql *db, void *arg) {
  register_args *a = arg;
  const cpc__commitment *c = a->c;
  cpc_sql_stmt *st = NULL;
  char *dial = NULL;
  char reason[CPC__MAX_REASON];
  int64_t state = -1, passed = 0;
  int rc;

  rc = cpc__q_prepare(db, &st,
                      "SELECT state, state_reason, commitment, audits_passed "
                      "FROM nodes WHERE peer_id = $1",
                      "s", c->peer_id);
  if (rc != 0)
    return rc;
  rc = cpc_sql_step(st);
  if (rc == CPC_SQL_ROW) {
    const void *old = NULL;
    size_t old_len = 0;
    state = cpc__q_col_int(st, 0, 0);
    cpc__q_text(st, 1, reason, sizeof reason);
    passed = cpc__q_col_int(st, 3, 0);
    if (cpc_sql_column_blob(st, 2, &old, &old_len) == 0 &&
        stored_timestamp(old, old_len) > c->timestamp_ms) {
      cpc_sql_finalize(st);
      return CPC_ESTATE;
    }
  } else if (rc < 0) {
    cpc_sql_finalize(st);
    return rc;
  }
  cpc_sql_finalize(st);
  dial = cpc__orch_dial_addrs(c->addrs_json, c->peer_id);
  if (!dial)
    return CPC_ENOMEM;
  if (state < 0) {
    state = a->core->sched.vetting_audits == 0 ? CPC__NODE_ACTIVE
                                               : CPC__NODE_VETTING;
    reason[0] = '\0';
    rc = cpc__q_run(db, NULL,
                    "INSERT INTO nodes (peer_id, public_key, addrs, "
                    "capacity_bytes, bandwidth_bps, region, state, "
                    "state_reason, commitment, registered_at, last_heartbeat, "
                    "dial_addrs) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8, $9, $9, $10)",
                    "sbsiisibis", c->peer_id, c->key_pb, c->key_pb_len,
                    c->addrs_json, (int64_t)c->capacity_bytes,
                    (int64_t)c->bandwidth_bps, c->region, state, a->pb,
                    a->pb_len, a->now, dial);
  } else {
    if (state == CPC__NODE_OFFLINE) {
      state = back_state(a->core, passed);
      reason[0] = '\0';
      rc = cpc__orch_node_return_txn(a->core, c->peer_id, a->now);
      if (rc != 0) {
        free(dial);
        return rc;
      }
    }
    rc = cpc__q_run(db, NULL,
                    "UPDATE nodes SET public_key = $2, addrs = $3, "
                    "capacity_bytes = $4, bandwidth_bps = $5, region = $6, "
                    "state = $7, state_reason = $8, commitment = $9, "
                    "last_heartbeat = $10, dial_addrs = $11 WHERE peer_id = $1",
                    "sbsiisisbis", c->peer_id, c->key_pb, c->key_pb_len,
                    c->addrs_json, (int64_t)c->capacity_bytes,
                    (int64_t)c->bandwidth_bps, c->region, state, reason, a->pb,
                    a->pb_len, a->now, dial);
  }
  free(dial);
  if (rc == 0)
    status_fill(a->core, a->st, (int)state, reason, passed);
  return rc;
}

int cpc__orch_node_register(cpc__orch_core *core, const cpc__commitment *c,
                            const uint8_t *signed_pb, size_t signed_len,
                            int64_t now, cpc__node_status *st) {
  register_args a = {core, c, signed_pb, signed_len, now, st};
  return cpc_sql_transact(core->db, register_txn, &a);
}

int cpc__orch_node_lookup(cpc__orch_core *core, const char *peer_id,
                          const cpc_pubkey *pk, cpc__node_status *st) {
  cpc_sql_stmt *q = NULL;
  uint8_t pb[CPC_PUBKEY_PROTO_MAX];
  size_t pb_len = 0;
  const void *stored = NULL;
  size_t stored_len = 0;
  char reason[CPC__MAX_REASON];
  int rc;

  if (pk && cpc_pubkey_encode(pk, pb, sizeof pb, &pb_len) != 0)
    return CPC_EPERM;
  rc = cpc__q_prepare(core->db, &q,
                      "SELECT state, state_reason, public_key, audits_passed "
                      "FROM nodes WHERE peer_id = $1",
                      "s", peer_id);
  if (rc != 0)
    return rc;
  rc = cpc_sql_step(q);
  if (rc == CPC_SQL_DONE) {
    rc = CPC_ENOENT;
    goto out;
  }
  if (rc < 0)
    goto out;
  rc = 0;
  if (pk && (cpc_sql_column_blob(q, 2, &stored, &stored_len) != 0 ||
             stored_len != pb_len || memcmp(stored, pb, pb_len) != 0)) {
    rc = CPC_EPERM;
    goto out;
  }
  cpc__q_text(q, 1, reason, sizeof reason);
  if (st)
    status_fill(core, st, (int)cpc__q_col_int(q, 0, 0), reason,
                cpc__q_col_int(q, 3, 0));
out:
  cpc_sql_finalize(q);
  return rc;
}

typedef struct heartbeat_args {
  cpc__orch_core *core;
  const char *peer_id;
  int64_t used, free_, now;
  cpc__node_status *st;
} heartbeat_args;

static int heartbeat_txn(cpc_sql *db, void *arg) {
  heartbeat_args *a = arg;
  cpc_sql_stmt *q = NULL;
  char reason[CPC__MAX_REASON];
  int64_t state, passed;
  int rc;

  rc = cpc__q_prepare(db, &q,
                      "SELECT state, state_reason, audits_passed FROM nodes "
                      "WHERE peer_id = $1",
                      "s", a->peer_id);
  if (rc != 0)
    return rc;
  rc = cpc_sql_step(q);
  if (rc != CPC_SQL_ROW) {
    cpc_sql_finalize(q);
    return rc == CPC_SQL_DONE ? CPC_ENOENT : rc;
  }
  state = cpc__q_col_int(q, 0, 0);
  cpc__q_text(q, 1, reason, sizeof reason);
  passed = cpc__q_col_int(q, 2, 0);
  cpc_sql_finalize(q);
  if (state == CPC__NODE_OFFLINE) {
    state = back_state(a->core, passed);
    reason[0] = '\0';
    rc = cpc__orch_node_return_txn(a->core, a->peer_id, a->now);
    if (rc != 0)
      return rc;
  }
  rc = cpc__q_run(db, NULL,
                  "UPDATE nodes SET used_bytes = $2, free_bytes = $3, "
                  "last_heartbeat = $4, state = $5, state_reason = $6 "
                  "WHERE peer_id = $1",
                  "siiiis", a->peer_id, a->used, a->free_, a->now, state,
                  reason);
  if (rc == 0)
    status_fill(a->core, a->st, (int)state, reason, passed);
  return rc;
}

int cpc__orch_node_heartbeat(cpc__orch_core *core, const char *peer_id,
                             uint64_t used_bytes, uint64_t free_bytes,
                             int64_t now, cpc__node_status *st) {
  heartbeat_args a = {core, peer_id, 0, 0, now, st};
  a.used = used_bytes > CPC__MAX_CAPACITY ? (int64_t)CPC__MAX_CAPACITY
                                          : (int64_t)used_bytes;
  a.free_ = free_bytes > CPC__MAX_CAPACITY ? (int64_t)CPC__MAX_CAPACITY
                                           : (int64_t)free_bytes;
  return cpc_sql_transact(core->db, heartbeat_txn, &a);
}

int cpc__orch_node_return_txn(cpc__orch_core *core, const char *peer_id,
                              int64_t now) {
  /* The blocks go to the repair queue so the scheduler looks at their
   * counts soon: a copy re-made meanwhile is now one too many. */
  int rc = cpc__q_run(core->db, NULL,
                      "INSERT INTO repair_queue (cid, queued_at) "
                      "SELECT cid, $2 FROM replicas WHERE node = $1 "
                      "AND state = 2 AND lost_offline = 1 "
                      "ON CONFLICT (cid) DO NOTHING",
                      "si", peer_id, now);
  if (rc == 0)
    rc = cpc__q_run(core->db, NULL,
                    "UPDATE replicas SET state = 1, lost_offline = 0, "
                    "updated_at = $2 WHERE node = $1 AND state = 2 "
                    "AND lost_offline = 1",
                    "si", peer_id, now);
  return rc;
}

int cpc__orch_node_retire_txn(cpc__orch_core *core, const char *peer_id,
                              int state, const char *reason, int64_t now) {
  cpc_sql *db = core->db;
  int rc;
  rc = cpc__q_run(db, NULL,
                  "UPDATE nodes SET state = $2, state_reason = $3 "
                  "WHERE peer_id = $1",
                  "sis", peer_id, (int64_t)state, reason);
  if (rc == 0)
    rc = cpc__q_run(db, NULL,
                    "INSERT INTO repair_queue (cid, queued_at) "
                    "SELECT cid, $2 FROM replicas WHERE node = $1 "
                    "AND state IN (0, 1) ON CONFLICT (cid) DO NOTHING",
                    "si", peer_id, now);
  if (rc == 0) /* stored copies of a node that only went silent may come
                  back with it (lost_offline) */
    rc = cpc__q_run(db, NULL,
                    "UPDATE replicas SET lost_offline = CASE WHEN state = 1 "
                    "AND $3 = 1 THEN 1 ELSE 0 END, state = 2, updated_at = $2 "
                    "WHERE node = $1 AND state IN (0, 1)",
                    "sii", peer_id, now,
                    (int64_t)(state == CPC__NODE_OFFLINE));
  /* Copies being deleted there cannot be reached now: an offline node
   * gets drop orders for them, carried out when it is back; a node that
   * is refused from now on (disqualified, left) gets none. */
  if (rc == 0 && state == CPC__NODE_OFFLINE)
    rc = cpc__orch_drops_add_deleting_txn(core, peer_id, now);
  if (rc == 0 && state != CPC__NODE_OFFLINE)
    rc = cpc__q_run(db, NULL, "DELETE FROM node_drops WHERE node = $1", "s",
                    peer_id);
  if (rc == 0)
    rc = cpc__q_run(db, NULL,
                    "DELETE FROM replicas WHERE node = $1 AND state = 3", "s",
                    peer_id);
  if (rc == 0)
    rc = cpc__q_run(db, NULL,
                    "UPDATE work SET state = 3, updated_at = $2 "
                    "WHERE node = $1 AND state IN (0, 1)",
                    "si", peer_id, now);
  if (rc == 0)
    rc = cpc__q_run(db, NULL,
                    "UPDATE audits SET state = 3 WHERE node = $1 AND state = 0",
                    "s", peer_id);
  return rc;
}
