/*
 * audit.c: proof-of-storage audits (docs/adr/0003-scheduler.md).
 *
 * The orchestrator never sees block bytes, so the PDS that registers
 * content hands in pre-generated challenges ("audit tokens": a byte range,
 * a 32-byte nonce and the expected BLAKE3 keyed hash). Each token is used
 * once. The scheduler gives every vetting or active node one challenge per
 * audit interval, on a block it should hold (picked at random by a probe
 * into its cids, not a scan); the node answers with AnswerAudit. Wrong or
 * late answers fail: the replica is lost (and
 * repaired elsewhere) and the node's score drops. The score is an
 * exponentially weighted mean of results, score' = l * score + (1 - l) *
 * passed; under the threshold the node is disqualified. A vetting node
 * that has passed vetting_audits audits becomes active.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "cpc/error.h"
#include "orchestrator/orchestrator_int.h"

int cpc__orch_audit_token_add(cpc_sql *db, const char *content_id,
                              const char *cid, uint64_t offset,
                              uint64_t length,
                              const uint8_t nonce[CPC__AUDIT_NONCE_LEN],
                              const uint8_t expected[CPC__AUDIT_PROOF_LEN],
                              int64_t *token_id) {
  int64_t id = cpc__orch_random_id();
  int rc;
  if (length == 0 || length > CPC__MAX_CAPACITY || offset > CPC__MAX_CAPACITY)
    return CPC_EINVAL;
  rc = cpc__q_run(db, NULL,
                  "INSERT INTO audit_tokens (token_id, content_id, cid, "
                  "offset_, length, nonce, expected) "
                  "VALUES ($1, $2, $3, $4, $5, $6, $7)",
                  "issiibb", id, content_id, cid, (int64_t)offset,
                  (int64_t)length, nonce, (size_t)CPC__AUDIT_NONCE_LEN,
                  expected, (size_t)CPC__AUDIT_PROOF_LEN);
  if (rc == 0 && token_id)
    *token_id = id;
  return rc;
}

/* ---- results ------------------------------------------------------------ */

typedef struct result_args {
  cpc__orch_core *core;
  const char *node;
  int64_t audit_id, now;
  int passed;
  cpc__node_status *st; /* may be NULL */
  int recorded;         /* out: the audit was still open */
} result_args;

/* Close open audit a->audit_id with a->passed and update the node. */
static int record_txn(cpc_sql *db, result_args *a) {
  const cpc_orchestrator_sched_config *p = &a->core->sched;
  cpc_sql_stmt *q = NULL;
  char cid[CPC__MAX_CID_TEXT + 1];
  char reason[CPC__MAX_REASON];
  int64_t n = 0, state, passed, failed;
  double score = 1.0;
  int rc;

  a->recorded = 0;
  rc = cpc__q_prepare(db, &q, "SELECT cid FROM audits WHERE audit_id = $1",
                      "i", a->audit_id);
  if (rc != 0)
    return rc;
  rc = cpc_sql_step(q);
  if (rc == CPC_SQL_ROW)
    cpc__q_text(q, 0, cid, sizeof cid);
  cpc_sql_finalize(q);
  if (rc != CPC_SQL_ROW)
    return rc == CPC_SQL_DONE ? CPC_ENOENT : rc;
  rc = cpc__q_run(db, &n,
                  "UPDATE audits SET state = $2 WHERE audit_id = $1 "
                  "AND state = 0",
                  "ii", a->audit_id,
                  (int64_t)(a->passed ? CPC__AUDIT_PASSED : CPC__AUDIT_FAILED));
  if (rc != 0 || n == 0)
    return rc;
  a->recorded = 1;
  rc = cpc__q_run(db, NULL,
                  "UPDATE work SET state = $2, updated_at = $3 "
                  "WHERE work_id = $1 AND state IN (0, 1)",
                  "iii", a->audit_id,
                  (int64_t)(a->passed ? CPC__WORK_DONE : CPC__WORK_FAILED),
                  a->now);
  if (rc != 0)
    return rc;
  rc = cpc__q_prepare(db, &q,
                      "SELECT state, audits_passed, audits_failed, "
                      "audit_score FROM nodes WHERE peer_id = $1",
                      "s", a->node);
  if (rc != 0)
    return rc;
  rc = cpc_sql_step(q);
  if (rc != CPC_SQL_ROW) {
    cpc_sql_finalize(q);
    return rc == CPC_SQL_DONE ? CPC_ENOENT : rc;
  }
  state = cpc__q_col_int(q, 0, 0);
  passed = cpc__q_col_int(q, 1, 0);
  failed = cpc__q_col_int(q, 2, 0);
  (void)cpc_sql_column_double(q, 3, &score);
  cpc_sql_finalize(q);

  score = p->score_lambda * score + (1.0 - p->score_lambda) * (a->passed ? 1 : 0);
  if (a->passed)
    passed++;
  else
    failed++;
  rc = cpc__q_run(db, NULL,
                  "UPDATE nodes SET audits_passed = $2, audits_failed = $3, "
                  "audit_score = $4 WHERE peer_id = $1",
                  "siid", a->node, passed, failed, score);
  if (rc == 0 && !a->passed)
    rc = cpc__orch_replica_lose_txn(a->core, cid, a->node, a->now);
  if (rc != 0)
    return rc;
  reason[0] = '\0';
  if ((state == CPC__NODE_VETTING || state == CPC__NODE_ACTIVE) &&
      score < p->disqualify_below) {
    state = CPC__NODE_DISQUALIFIED;
    snprintf(reason, sizeof reason, "audit score %.3f under %.3f", score,
             p->disqualify_below);
    rc = cpc__orch_node_retire_txn(a->core, a->node, (int)state, reason,
                                   a->now);
  } else if (state == CPC__NODE_VETTING &&
             passed >= (int64_t)p->vetting_audits) {
    state = CPC__NODE_ACTIVE;
    rc = cpc__q_run(db, NULL,
                    "UPDATE nodes SET state = 1, state_reason = '' "
                    "WHERE peer_id = $1 AND state = 0",
                    "s", a->node);
  }
  if (rc == 0 && a->st) {
    a->st->state = (int)state;
    if (state == CPC__NODE_VETTING)
      snprintf(a->st->reason, sizeof a->st->reason,
               "vetting: %lld of %u audits passed", (long long)passed,
               p->vetting_audits);
    else
      snprintf(a->st->reason, sizeof a->st->reason, "%s", reason);
  }
  return rc;
}

static void count_result(cpc__orch_core *core, int passed) {
  if (core->metrics)
    cpc_metrics_counter_inc(passed ? core->metrics->audits_passed
                                   : core->metrics->audits_failed);
}

typedef struct answer_args {
  result_args r;
  const uint8_t *proof;
  size_t proof_len;
} answer_args;

static int answer_txn(cpc_sql *db, void *arg) {
  answer_args *a = arg;
  cpc_sql_stmt *q = NULL;
  const void *expected = NULL;
  size_t expected_len = 0;
  int64_t deadline, state;
  int rc;

  a->r.recorded = 0;
  rc = cpc__q_prepare(db, &q,
                      "SELECT expected, deadline, state FROM audits "
                      "WHERE audit_id = $1 AND node = $2",
                      "is", a->r.audit_id, a->r.node);
  if (rc != 0)
    return rc;
  rc = cpc_sql_step(q);
  if (rc != CPC_SQL_ROW) {
    cpc_sql_finalize(q);
    return rc == CPC_SQL_DONE ? CPC_ENOENT : rc;
  }
  deadline = cpc__q_col_int(q, 1, 0);
  state = cpc__q_col_int(q, 2, -1);
  rc = cpc_sql_column_blob(q, 0, &expected, &expected_len);
  a->r.passed = rc == 0 && state == CPC__AUDIT_OPEN && a->r.now <= deadline &&
                expected_len == CPC__AUDIT_PROOF_LEN &&
                a->proof_len == CPC__AUDIT_PROOF_LEN &&
                sodium_memcmp(expected, a->proof, CPC__AUDIT_PROOF_LEN) == 0;
  cpc_sql_finalize(q);
  if (state != CPC__AUDIT_OPEN)
    return CPC_ENOENT;
  rc = record_txn(db, &a->r);
  if (rc == 0 && !a->r.recorded)
    rc = CPC_ENOENT;
  return rc;
}

int cpc__orch_audit_answer(cpc__orch_core *core, const char *node,
                           int64_t audit_id, const uint8_t *proof,
                           size_t proof_len, int64_t now, int *passed,
                           cpc__node_status *st) {
  answer_args a;
  int rc;
  memset(&a, 0, sizeof a);
  a.r.core = core;
  a.r.node = node;
  a.r.audit_id = audit_id;
  a.r.now = now;
  a.r.st = st;
  a.proof = proof;
  a.proof_len = proof_len;
  rc = cpc_sql_transact(core->db, answer_txn, &a);
  if (rc == 0) {
    *passed = a.r.passed;
    count_result(core, a.r.passed);
  }
  return rc;
}

static int expire_one_txn(cpc_sql *db, void *arg) {
  return record_txn(db, arg);
}

int cpc__orch_audits_expire(cpc__orch_core *core, int64_t now, size_t *n) {
  cpc_sql_stmt *q = NULL;
  size_t cap = core->sched.batch, count = 0, i;
  int64_t *ids = NULL;
  char(*nodes)[CPC_PEER_ID_MAX_TEXT] = NULL;
  int rc;

  if (n)
    *n = 0;
  ids = calloc(cap, sizeof *ids);
  nodes = calloc(cap, sizeof *nodes);
  if (!ids || !nodes) {
    rc = CPC_ENOMEM;
    goto out;
  }
  rc = cpc__q_prepare(core->db, &q,
                      "SELECT audit_id, node FROM audits WHERE state = 0 "
                      "AND deadline < $1 ORDER BY deadline LIMIT $2",
                      "ii", now, (int64_t)cap);
  if (rc != 0)
    goto out;
  while (count < cap && (rc = cpc_sql_step(q)) == CPC_SQL_ROW) {
    ids[count] = cpc__q_col_int(q, 0, 0);
    cpc__q_text(q, 1, nodes[count], sizeof nodes[count]);
    count++;
  }
  cpc_sql_finalize(q);
  if (rc < 0)
    goto out;
  rc = 0;
  for (i = 0; i < count && rc == 0; i++) {
    result_args r = {core, nodes[i], ids[i], now, 0, NULL, 0};
    rc = cpc_sql_transact(core->db, expire_one_txn, &r);
    if (rc == 0 && r.recorded) {
      count_result(core, 0);
      if (n)
        (*n)++;
    }
  }
out:
  free(ids);
  free(nodes);
  return rc;
}

/* ---- picking a replica to audit ----------------------------------------- */

/* Characters of the base32 multibase alphabet, in byte order. */
static const char B32[] = "234567abcdefghijklmnopqrstuvwxyz";
#define PROBE_DIGITS 12 /* base32 digits drawn (60 bits) */

static int b32_digit(char c) {
  const char *p = c ? strchr(B32, c) : NULL;
  return p ? (int)(p - B32) : -1;
}

/* The PROBE_DIGITS characters of s from p as a base32 number (missing
 * characters count as 0); -1 when one is not base32. */
static int64_t b32_value(const char *s, size_t p) {
  int64_t v = 0;
  size_t k, len = strlen(s);
  for (k = 0; k < PROBE_DIGITS; k++) {
    int d = p + k < len ? b32_digit(s[p + k]) : 0;
    if (d < 0)
      return -1;
    v = v * 32 + d;
  }
  return v;
}

void cpc__orch_audit_probe(const char *lo, const char *hi, char *out,
                           size_t cap) {
  size_t p = 0, k;
  int64_t a, b, v;
  uint64_t r;

  if (cap == 0)
    return;
  while (lo[p] && lo[p] == hi[p])
    p++;
  a = b32_value(lo, p);
  b = b32_value(hi, p);
  if (strcmp(lo, hi) >= 0 || p + PROBE_DIGITS + 1 > cap || a < 0 || b < a) {
    /* one key, no room, or not base32: start at the first */
    snprintf(out, cap, "%s", lo);
    return;
  }
  /* uniform in [a, b]: 64 random bits scaled (b - a < 2^60) */
  randombytes_buf(&r, sizeof r);
  v = a + (int64_t)(((unsigned __int128)r * (uint64_t)(b - a + 1)) >> 64);
  memcpy(out, lo, p);
  for (k = PROBE_DIGITS; k-- > 0; v /= 32)
    out[p + k] = B32[v % 32];
  out[p + PROBE_DIGITS] = '\0';
}

/* One end of node's stored cids (first when desc is 0, else last);
 * *found 0 when it stores none. */
static int cid_end(cpc_sql *db, const char *node, int desc, char *out,
                   size_t cap, int *found) {
  cpc_sql_stmt *q = NULL;
  int rc = cpc__q_prepare(db, &q,
                          desc ? "SELECT cid FROM replicas WHERE node = $1 "
                                 "AND state = 1 ORDER BY cid DESC LIMIT 1"
                               : "SELECT cid FROM replicas WHERE node = $1 "
                                 "AND state = 1 ORDER BY cid LIMIT 1",
                          "s", node);
  if (rc != 0)
    return rc;
  rc = cpc_sql_step(q);
  *found = rc == CPC_SQL_ROW;
  if (*found)
    cpc__q_text(q, 0, out, cap);
  cpc_sql_finalize(q);
  return rc < 0 ? rc : 0;
}

#define PICK_WINDOW 16 /* stored replicas looked at per pick */

/* Append to w (n rows so far, *seen counted) the node's stored replicas
 * from cid >= from (and < below, unless NULL), up to PICK_WINDOW rows in
 * all; rows whose block has an unused token are kept. */
static int window_rows(cpc_sql *db, const char *node, const char *from,
                       const char *below, char (*w)[CPC__MAX_CID_TEXT + 1],
                       size_t *n, size_t *seen) {
  cpc_sql_stmt *q = NULL;
  int rc;
  const char *sql =
      below ? "SELECT r.cid, CASE WHEN EXISTS (SELECT 1 FROM audit_tokens t "
              "WHERE t.cid = r.cid AND t.used = 0) THEN 1 ELSE 0 END "
              "FROM (SELECT cid FROM replicas WHERE node = $1 AND state = 1 "
              "AND cid >= $2 AND cid < $3 ORDER BY cid LIMIT $4) r "
              "ORDER BY r.cid"
            : "SELECT r.cid, CASE WHEN EXISTS (SELECT 1 FROM audit_tokens t "
              "WHERE t.cid = r.cid AND t.used = 0) THEN 1 ELSE 0 END "
              "FROM (SELECT cid FROM replicas WHERE node = $1 AND state = 1 "
              "AND cid >= $2 ORDER BY cid LIMIT $3) r ORDER BY r.cid";
  if (below)
    rc = cpc__q_prepare(db, &q, sql, "sssi", node, from, below,
                        (int64_t)(PICK_WINDOW - *seen));
  else
    rc = cpc__q_prepare(db, &q, sql, "ssi", node, from,
                        (int64_t)(PICK_WINDOW - *seen));
  if (rc != 0)
    return rc;
  while (*seen < PICK_WINDOW && (rc = cpc_sql_step(q)) == CPC_SQL_ROW) {
    (*seen)++;
    if (cpc__q_col_int(q, 1, 0))
      cpc__q_text(q, 0, w[(*n)++], sizeof w[0]);
  }
  cpc_sql_finalize(q);
  return rc < 0 ? rc : 0;
}

/*
 * Choose a stored replica of node with an unused audit token, in O(log n)
 * whatever the node holds: a random probe between its first and last cid,
 * the PICK_WINDOW replicas from there on (wrapping round to the first),
 * and one of those with a token at random (which evens out the gaps
 * between cids). *found 0 when none of the window has a token.
 */
static int pick_cid(cpc_sql *db, const char *node, char *cid, size_t cap,
                    int *found) {
  char lo[CPC__MAX_CID_TEXT + 1], hi[CPC__MAX_CID_TEXT + 1];
  char probe[CPC__MAX_CID_TEXT + PROBE_DIGITS + 1];
  char w[PICK_WINDOW][CPC__MAX_CID_TEXT + 1];
  size_t n = 0, seen = 0;
  int rc, any;

  *found = 0;
  rc = cid_end(db, node, 0, lo, sizeof lo, &any);
  if (rc != 0 || !any)
    return rc;
  rc = cid_end(db, node, 1, hi, sizeof hi, &any);
  if (rc != 0 || !any)
    return rc;
  cpc__orch_audit_probe(lo, hi, probe, sizeof probe);
  rc = window_rows(db, node, probe, NULL, w, &n, &seen);
  if (rc == 0 && seen < PICK_WINDOW) /* ran off the end: wrap round */
    rc = window_rows(db, node, lo, probe, w, &n, &seen);
  if (rc != 0 || n == 0)
    return rc;
  snprintf(cid, cap, "%s", w[randombytes_uniform((uint32_t)n)]);
  *found = 1;
  return 0;
}

/* ---- issuing -------------------------------------------------------------- */

typedef struct issue_args {
  cpc__orch_core *core;
  const char *node;
  int64_t now;
  int issued;
} issue_args;

static int issue_txn(cpc_sql *db, void *arg) {
  issue_args *a = arg;
  cpc_sql_stmt *q = NULL;
  char cid[CPC__MAX_CID_TEXT + 1];
  char nonce_hex[2 * CPC__AUDIT_NONCE_LEN + 1];
  uint8_t nonce[CPC__AUDIT_NONCE_LEN], expected[CPC__AUDIT_PROOF_LEN];
  const void *blob;
  size_t blob_len;
  int64_t token, offset, length, n = 0, audit_id, state;
  char *detail = NULL;
  json_t *j = NULL;
  int rc, found = 0;

  a->issued = 0;
  rc = cpc__q_int(db, &state, "SELECT state FROM nodes WHERE peer_id = $1",
                  "s", a->node);
  if (rc != 0)
    return rc == CPC_ENOENT ? 0 : rc;
  rc = pick_cid(db, a->node, cid, sizeof cid, &found);
  if (rc == 0 && found)
    rc = cpc__q_prepare(db, &q,
                        "SELECT token_id, cid, offset_, length, nonce, "
                        "expected FROM audit_tokens WHERE cid = $1 "
                        "AND used = 0 LIMIT 1",
                        "s", cid);
  if (rc != 0)
    return rc;
  rc = found ? cpc_sql_step(q) : CPC_SQL_DONE;
  if (rc != CPC_SQL_ROW) {
    cpc_sql_finalize(q);
    if (rc < 0)
      return rc;
    /* Nothing to audit yet: look again next interval, not every tick. */
    return cpc__q_run(db, NULL,
                      "UPDATE nodes SET last_audit_at = $2 WHERE peer_id = $1",
                      "si", a->node, a->now);
  }
  token = cpc__q_col_int(q, 0, 0);
  cpc__q_text(q, 1, cid, sizeof cid);
  offset = cpc__q_col_int(q, 2, 0);
  length = cpc__q_col_int(q, 3, 0);
  rc = cpc_sql_column_blob(q, 4, &blob, &blob_len);
  if (rc == 0 && blob_len == sizeof nonce)
    memcpy(nonce, blob, sizeof nonce);
  else
    rc = CPC_EMALFORMED;
  if (rc == 0)
    rc = cpc_sql_column_blob(q, 5, &blob, &blob_len);
  if (rc == 0 && blob_len == sizeof expected)
    memcpy(expected, blob, sizeof expected);
  else
    rc = CPC_EMALFORMED;
  cpc_sql_finalize(q);
  if (rc == CPC_EMALFORMED) /* a bad token: retire it, audit next time */
    return cpc__q_run(db, NULL,
                      "UPDATE audit_tokens SET used = 1, used_at = $2 "
                      "WHERE token_id = $1",
                      "ii", token, a->now);
  if (rc != 0)
    return rc;
  rc = cpc__q_run(db, &n,
                  "UPDATE audit_tokens SET used = 1, used_at = $2 "
                  "WHERE token_id = $1 AND used = 0",
                  "ii", token, a->now);
  if (rc != 0 || n == 0)
    return rc;
  audit_id = cpc__orch_random_id();
  rc = cpc__q_run(db, NULL,
                  "INSERT INTO audits (audit_id, node, cid, offset_, length, "
                  "nonce, expected, vetting, state, created_at, deadline) "
                  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10)",
                  "issiibbiii", audit_id, a->node, cid, offset, length, nonce,
                  sizeof nonce, expected, sizeof expected,
                  (int64_t)(state == CPC__NODE_VETTING), a->now,
                  a->now + a->core->sched.work_timeout_ms +
                      a->core->sched.audit_timeout_ms);
  if (rc != 0)
    return rc;
  sodium_bin2hex(nonce_hex, sizeof nonce_hex, nonce, sizeof nonce);
  j = json_pack("{s:I, s:I, s:s}", "offset", (json_int_t)offset, "length",
                (json_int_t)length, "nonce", nonce_hex);
  detail = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (!detail)
    return CPC_ENOMEM;
  rc = cpc__orch_work_enqueue_txn(a->core, audit_id, a->node, CPC__WORK_AUDIT,
                                  cid, detail, a->now, NULL);
  free(detail);
  if (rc == 0)
    rc = cpc__q_run(db, NULL,
                    "UPDATE nodes SET last_audit_at = $2 WHERE peer_id = $1",
                    "si", a->node, a->now);
  if (rc == 0)
    a->issued = 1;
  return rc;
}

int cpc__orch_audits_issue(cpc__orch_core *core, int64_t now, size_t *n) {
  cpc_sql_stmt *q = NULL;
  size_t cap = core->sched.batch, count = 0, i;
  char(*nodes)[CPC_PEER_ID_MAX_TEXT] = NULL;
  int rc;

  if (n)
    *n = 0;
  nodes = calloc(cap, sizeof *nodes);
  if (!nodes)
    return CPC_ENOMEM;
  /* Vetting and active nodes due for an audit, without one open. */
  rc = cpc__q_prepare(core->db, &q,
                      "SELECT n.peer_id FROM nodes n "
                      "WHERE n.state IN (0, 1) AND n.last_audit_at <= $1 "
                      "AND NOT EXISTS (SELECT 1 FROM audits a "
                      "WHERE a.node = n.peer_id AND a.state = 0) "
                      "ORDER BY n.last_audit_at, n.peer_id LIMIT $2",
                      "ii", now - core->sched.audit_interval_ms, (int64_t)cap);
  if (rc != 0)
    goto out;
  while (count < cap && (rc = cpc_sql_step(q)) == CPC_SQL_ROW)
    cpc__q_text(q, 0, nodes[count++], sizeof nodes[0]);
  cpc_sql_finalize(q);
  if (rc < 0)
    goto out;
  rc = 0;
  for (i = 0; i < count && rc == 0; i++) {
    issue_args a = {core, nodes[i], now, 0};
    rc = cpc_sql_transact(core->db, issue_txn, &a);
    if (rc == 0 && a.issued && n)
      (*n)++;
  }
out:
  free(nodes);
  return rc;
}
