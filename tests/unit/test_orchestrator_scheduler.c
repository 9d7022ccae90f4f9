/*
 * test_orchestrator_scheduler.c: the orchestrator's scheduler and node
 * operations (lib/orchestrator) against a real database: SQLite in a
 * temporary file, or, when CPC_TEST_PG_URL is set, PostgreSQL (each test
 * in a schema of its own; tests/cli/orchestrator_postgres.sh). Time is
 * injected: ticks are driven by hand, nothing sleeps. Fake nodes sign
 * real commitments with Ed25519 keys and hold real blocks, so audits are
 * answered (or failed) for real.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "cpc/blake3.h"
#include "cpc/cid.h"
#include "cpc/error.h"
#include "cpc/multihash.h"
#include "cpc/orchestrator/v1/node.pb-c.h"
#include "orchestrator/orchestrator_int.h"

#define T0 INT64_C(1700000000000)
#define BLOCK_LEN 4096
#define MAX_BLOCKS 16
#define MAX_FNODES 8

static const char *pg_url;
static char tmpdir[256];
static int fixture_seq;

typedef struct block {
  char cid[CPC__MAX_CID_TEXT + 1];
  uint8_t data[BLOCK_LEN];
} block;

typedef struct fnode {
  cpc_privkey key;
  char id[CPC_PEER_ID_MAX_TEXT];
  char region[16];
  int honest;     /* answers audits correctly */
  int serving;    /* does its work */
} fnode;

typedef struct fx {
  char url[1024];
  char schema[64];
  cpc_sql *db;
  cpc_orchestrator_sched_config sched;
  cpc__orch_core core;
  block blocks[MAX_BLOCKS];
  size_t n_blocks;
  fnode nodes[MAX_FNODES];
  size_t n_nodes;
} fx;

/* ---- database per test ---------------------------------------------------- */

static void open_db(fx *f) {
  char *err = NULL;
  char sql[256];
  assert_int_equal(cpc_sql_open(f->url, &f->db, &err), 0);
  if (pg_url) {
    snprintf(sql, sizeof sql, "CREATE SCHEMA IF NOT EXISTS %s; SET search_path TO %s",
             f->schema, f->schema);
    assert_int_equal(cpc_sql_exec(f->db, sql), 0);
  }
  assert_int_equal(cpc_sql_migrate(f->db, cpc__orchestrator_migrations,
                                   cpc__orchestrator_migrations_count, NULL),
                   0);
}

static void default_sched(cpc_orchestrator_sched_config *s) {
  cpc_orchestrator_config c;
  cpc_orchestrator_config_default(&c);
  *s = c.sched;
  s->heartbeat_timeout_ms = 60000;
  s->work_timeout_ms = 10000;
  s->work_max_attempts = 2;
  s->audit_interval_ms = 100000;
  s->audit_timeout_ms = 5000;
  s->vetting_audits = 0;
  s->vetting_replicas = 2;
  s->score_lambda = 0.5;
  s->disqualify_below = 0.3;
  s->batch = 64;
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  fixture_seq++;
  if (pg_url) {
    uint32_t r = randombytes_random();
    snprintf(f->url, sizeof f->url, "%s", pg_url);
    snprintf(f->schema, sizeof f->schema, "t_%u_%d_%08x", (unsigned)getpid(),
             fixture_seq, r);
  } else {
    snprintf(f->url, sizeof f->url, "sqlite:%s/orch%d.db", tmpdir, fixture_seq);
  }
  open_db(f);
  default_sched(&f->sched);
  cpc__orch_core_init(&f->core, f->db, &f->sched, NULL);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  size_t i;
  char sql[128];
  if (pg_url && f->db) {
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", f->schema);
    (void)cpc_sql_exec(f->db, sql);
  }
  cpc_sql_close(f->db);
  for (i = 0; i < f->n_nodes; i++)
    cpc_privkey_wipe(&f->nodes[i].key);
  free(f);
  return 0;
}

/* Re-open the database as a new orchestrator instance would. */
static void reopen(fx *f) {
  cpc_sql_close(f->db);
  open_db(f);
  cpc__orch_core_init(&f->core, f->db, &f->sched, NULL);
}

static int64_t q_int(fx *f, const char *sql, const char *arg) {
  int64_t v = -1;
  int rc = arg ? cpc__q_int(f->db, &v, sql, "s", arg)
               : cpc__q_int(f->db, &v, sql, "");
  assert_int_equal(rc, 0);
  return v;
}

/* ---- content ---------------------------------------------------------------- */

static void add_owner(fx *f) {
  uint8_t k[33] = {2};
  assert_int_equal(cpc__q_run(f->db, NULL,
                              "INSERT INTO users (peer_id, signing_public_key, "
                              "encryption_key, binding_signature, created_at) "
                              "VALUES ('owner', $1, $1, $1, 0)",
                              "b", k, sizeof k),
                   0);
}

static block *new_block(fx *f) {
  block *b = &f->blocks[f->n_blocks++];
  cpc_cid cid;
  randombytes_buf(b->data, sizeof b->data);
  assert_int_equal(cpc_cid_compute(CPC_CODEC_RAW, CPC_MH_BLAKE3, b->data,
                                   sizeof b->data, &cid),
                   0);
  assert_int_equal(cpc_cid_format(&cid, CPC_MB_BASE32, b->cid, sizeof b->cid), 0);
  return b;
}

static void make_token(const block *b, uint64_t off, uint64_t len,
                       uint8_t nonce[32], uint8_t expected[32]) {
  cpc_blake3_hasher h;
  cpc_blake3_hasher_init_keyed(&h, nonce);
  cpc_blake3_hasher_update(&h, b->data + off, len);
  cpc_blake3_hasher_finalize(&h, expected, 32);
}

/* A content of n new blocks, replicas wanted, tokens audit tokens per
 * block. Returns the index of its first block. */
static size_t add_content(fx *f, const char *content_id, int replicas, size_t n,
                          int tokens) {
  size_t first = f->n_blocks, i;
  int t;
  if (first == 0)
    add_owner(f);
  assert_int_equal(
      cpc__q_run(f->db, NULL,
                 "INSERT INTO content (content_id, owner, size, created_at, "
                 "registered_at, access_control, replicas_desired, clear_key, "
                 "origin) VALUES ($1, 'owner', $2, 0, 0, 0, $3, $4, $5)",
                 "siibs", content_id, (int64_t)(n * BLOCK_LEN), (int64_t)replicas,
                 "k", (size_t)1, "[\"/ip4/127.0.0.1/tcp/4002/p2p/origin\"]"),
      0);
  for (i = 0; i < n; i++) {
    block *b = new_block(f);
    assert_int_equal(cpc__q_run(f->db, NULL,
                                "INSERT INTO chunks (content_id, idx, cid, size) "
                                "VALUES ($1, $2, $3, $4)",
                                "sisi", content_id, (int64_t)i, b->cid,
                                (int64_t)BLOCK_LEN),
                     0);
    for (t = 0; t < tokens; t++) {
      uint8_t nonce[32], expected[32];
      uint64_t off = randombytes_uniform(BLOCK_LEN - 64);
      uint64_t len = 1 + randombytes_uniform(64);
      randombytes_buf(nonce, sizeof nonce);
      make_token(b, off, len, nonce, expected);
      assert_int_equal(cpc__orch_audit_token_add(f->db, content_id, b->cid, off,
                                                 len, nonce, expected, NULL),
                       0);
    }
  }
  return first;
}

static const block *find_block(fx *f, const char *cid) {
  size_t i;
  for (i = 0; i < f->n_blocks; i++)
    if (strcmp(f->blocks[i].cid, cid) == 0)
      return &f->blocks[i];
  return NULL;
}

/* ---- fake nodes -------------------------------------------------------------- */

static int sign_commitment(const fnode *n, uint64_t capacity, int64_t ts,
                           const cpc_privkey *signer, uint8_t **out,
                           size_t *out_len) {
  Cpc__Orchestrator__V1__ResourceCommitment rc =
      CPC__ORCHESTRATOR__V1__RESOURCE_COMMITMENT__INIT;
  Cpc__Orchestrator__V1__SignedCommitment sc =
      CPC__ORCHESTRATOR__V1__SIGNED_COMMITMENT__INIT;
  uint8_t pk[CPC_PUBKEY_PROTO_MAX], sig[CPC_SIG_MAX_LEN];
  size_t pk_len, sig_len, body_len, ctx = strlen(CPC__COMMITMENT_CONTEXT);
  char *addrs[1] = {"/ip4/127.0.0.1/tcp/4001"};
  uint8_t *body, *msg;
  assert_int_equal(cpc_pubkey_encode(&n->key.pub, pk, sizeof pk, &pk_len), 0);
  rc.public_key.data = pk;
  rc.public_key.len = pk_len;
  rc.capacity_bytes = capacity;
  rc.bandwidth_bps = 1000000;
  rc.region = (char *)n->region;
  rc.addrs = addrs;
  rc.n_addrs = 1;
  rc.timestamp_ms = (uint64_t)ts;
  body_len = cpc__orchestrator__v1__resource_commitment__get_packed_size(&rc);
  body = malloc(ctx + body_len);
  memcpy(body, CPC__COMMITMENT_CONTEXT, ctx);
  cpc__orchestrator__v1__resource_commitment__pack(&rc, body + ctx);
  assert_int_equal(cpc_privkey_sign(signer, body, ctx + body_len, sig,
                                    sizeof sig, &sig_len),
                   0);
  sc.commitment.data = body + ctx;
  sc.commitment.len = body_len;
  sc.signature.data = sig;
  sc.signature.len = sig_len;
  *out_len = cpc__orchestrator__v1__signed_commitment__get_packed_size(&sc);
  msg = malloc(*out_len);
  cpc__orchestrator__v1__signed_commitment__pack(&sc, msg);
  free(body);
  *out = msg;
  return 0;
}

static int register_at(fx *f, fnode *n, int64_t now, int64_t ts,
                       cpc__node_status *st) {
  cpc__commitment c;
  uint8_t *msg;
  size_t len;
  char why[200];
  int rc;
  sign_commitment(n, 1u << 30, ts, &n->key, &msg, &len);
  rc = cpc__commitment_verify(msg, len, now, f->sched.clock_skew_ms, &c, why,
                              sizeof why);
  if (rc == 0) {
    assert_string_equal(c.peer_id, n->id);
    rc = cpc__orch_node_register(&f->core, &c, msg, len, now, st);
  }
  cpc__commitment_clear(&c);
  free(msg);
  return rc;
}

static fnode *add_node(fx *f, const char *region, int64_t now) {
  fnode *n = &f->nodes[f->n_nodes++];
  cpc_peer_id id;
  cpc__node_status st;
  memset(n, 0, sizeof *n);
  assert_int_equal(cpc_privkey_generate(CPC_KEY_ED25519, &n->key), 0);
  assert_int_equal(cpc_peer_id_from_pubkey(&n->key.pub, &id), 0);
  assert_int_equal(cpc_peer_id_format(&id, n->id, sizeof n->id), 0);
  snprintf(n->region, sizeof n->region, "%s", region);
  n->honest = n->serving = 1;
  assert_int_equal(register_at(f, n, now, now, &st), 0);
  return n;
}

static void heartbeat_all(fx *f, int64_t now, const fnode *except) {
  size_t i;
  cpc__node_status st;
  for (i = 0; i < f->n_nodes; i++)
    if (&f->nodes[i] != except)
      (void)cpc__orch_node_heartbeat(&f->core, f->nodes[i].id, 0, 1u << 30, now,
                                     &st);
}

typedef struct served {
  size_t replicated, deleted, audits_passed, audits_failed;
} served;

/* Do the node's queued work as a node would over its WorkStream. */
static void serve(fx *f, fnode *n, int64_t now, served *out) {
  cpc__work_item items[32];
  size_t k, i;
  json_error_t je;
  memset(items, 0, sizeof items);
  assert_int_equal(cpc__orch_work_claim(&f->core, n->id, now, items, 32, &k), 0);
  for (i = 0; i < k; i++) {
    cpc__work_item *w = &items[i];
    if (!n->serving)
      continue;
    if (w->kind == CPC__WORK_REPLICATE) {
      assert_non_null(find_block(f, w->cid));
      assert_int_equal(
          cpc__orch_work_confirm(&f->core, n->id, w->work_id, w->cid, 1, now), 0);
      if (out)
        out->replicated++;
    } else if (w->kind == CPC__WORK_DELETE) {
      assert_int_equal(
          cpc__orch_work_confirm(&f->core, n->id, w->work_id, w->cid, 1, now), 0);
      if (out)
        out->deleted++;
    } else {
      json_t *d = json_loads(w->detail, 0, &je);
      const block *b = find_block(f, w->cid);
      uint8_t nonce[32], proof[32] = {0};
      size_t nlen = 0;
      cpc__node_status st;
      int passed = -1;
      const char *hex = json_string_value(json_object_get(d, "nonce"));
      assert_non_null(b);
      assert_non_null(hex);
      assert_int_equal(sodium_hex2bin(nonce, 32, hex, strlen(hex), NULL, &nlen,
                                      NULL),
                       0);
      if (n->honest)
        make_token(b, (uint64_t)json_integer_value(json_object_get(d, "offset")),
                   (uint64_t)json_integer_value(json_object_get(d, "length")),
                   nonce, proof);
      json_decref(d);
      assert_int_equal(cpc__orch_audit_answer(&f->core, n->id, w->work_id, proof,
                                              sizeof proof, now, &passed, &st),
                       0);
      assert_int_equal(passed, n->honest);
      if (out)
        (*(passed ? &out->audits_passed : &out->audits_failed))++;
    }
  }
  for (i = 0; i < k; i++)
    cpc__work_item_clear(&items[i]);
}

static void serve_all(fx *f, int64_t now, served *out) {
  size_t i;
  for (i = 0; i < f->n_nodes; i++)
    serve(f, &f->nodes[i], now, out);
}

static int64_t live_replicas(fx *f, const char *cid) {
  return q_int(f,
               "SELECT count(*) FROM replicas r JOIN nodes n ON n.peer_id = r.node "
               "WHERE r.cid = $1 AND r.state IN (0, 1) AND n.state = 1",
               cid);
}

static int64_t node_state(fx *f, const fnode *n) {
  return q_int(f, "SELECT state FROM nodes WHERE peer_id = $1", n->id);
}

/* Every block of the content has its replicas on distinct nodes in
 * distinct regions (while regions last). */
static void check_spread(fx *f, size_t first, size_t n, int64_t want,
                         int distinct_regions) {
  size_t i;
  for (i = first; i < first + n; i++) {
    const char *cid = f->blocks[i].cid;
    assert_int_equal(live_replicas(f, cid), want);
    /* the primary key forbids two rows of one node; check regions */
    if (distinct_regions)
      assert_int_equal(
          q_int(f,
                "SELECT count(DISTINCT n.region) FROM replicas r JOIN nodes n "
                "ON n.peer_id = r.node WHERE r.cid = $1 AND r.state IN (0, 1) "
                "AND n.state = 1",
                cid),
          want);
  }
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_placement_rules(void **state) {
  cpc__place_node c[] = {{"a", "r1", 100}, {"b", "r1", 200}, {"c", "r2", 50},
                         {"d", "r3", 10}};
  const char *taken[] = {"r2"};
  size_t chosen[4], n;
  (void)state;
  /* Failure domains first (r1 by most free space, r2), then space. */
  cpc__orch_place(c, 4, NULL, 0, 20, 2, chosen, &n);
  assert_int_equal(n, 2);
  assert_int_equal(chosen[0], 1);
  assert_int_equal(chosen[1], 2);
  /* r2 is taken by a holder, d is too small: b, then fill with a, c. */
  cpc__orch_place(c, 4, taken, 1, 20, 3, chosen, &n);
  assert_int_equal(n, 3);
  assert_int_equal(chosen[0], 1);
  assert_int_equal(chosen[1], 0);
  assert_int_equal(chosen[2], 2);
  /* Never a node twice, never more than there are. */
  cpc__orch_place(c, 4, NULL, 0, 1, 10, chosen, &n);
  assert_int_equal(n, 4);
  cpc__orch_place(c, 4, NULL, 0, 1000, 3, chosen, &n);
  assert_int_equal(n, 0);
}

static void test_replication_and_confirmation(void **state) {
  fx *f = *state;
  cpc__tick_report r;
  served s = {0};
  size_t first, i;
  add_node(f, "eu", T0);
  add_node(f, "eu", T0);
  add_node(f, "us", T0);
  add_node(f, "asia", T0);
  first = add_content(f, "content-a", 3, 5, 2);
  assert_int_equal(cpc__orch_tick(&f->core, T0 + 1, &r), 0);
  assert_int_equal(r.replicas_placed, 15);
  check_spread(f, first, 5, 3, 1);
  assert_int_equal(q_int(f, "SELECT count(*) FROM work WHERE kind = 0 AND state = 0", NULL), 15);
  /* Sources: nothing stored yet, so the content's origin. */
  assert_int_equal(q_int(f, "SELECT count(*) FROM work WHERE detail LIKE $1",
                         "%/p2p/origin%"),
                   15);
  /* A second tick changes nothing. */
  assert_int_equal(cpc__orch_tick(&f->core, T0 + 2, &r), 0);
  assert_int_equal(r.replicas_placed, 0);
  serve_all(f, T0 + 3, &s);
  assert_int_equal(s.replicated, 15);
  assert_int_equal(q_int(f, "SELECT count(*) FROM replicas WHERE state = 1", NULL), 15);
  assert_int_equal(q_int(f, "SELECT count(*) FROM work WHERE state = 2", NULL), 15);
  /* Confirming twice is harmless; a wrong cid or another node's work is not. */
  {
    cpc_sql_stmt *q;
    int64_t wid;
    char node[CPC_PEER_ID_MAX_TEXT], cid[CPC__MAX_CID_TEXT + 1];
    assert_int_equal(cpc__q_prepare(f->db, &q,
                                    "SELECT work_id, node, cid FROM work LIMIT 1", ""),
                     0);
    assert_int_equal(cpc_sql_step(q), CPC_SQL_ROW);
    wid = cpc__q_col_int(q, 0, 0);
    cpc__q_text(q, 1, node, sizeof node);
    cpc__q_text(q, 2, cid, sizeof cid);
    cpc_sql_finalize(q);
    assert_int_equal(cpc__orch_work_confirm(&f->core, node, wid, cid, 1, T0 + 4), 0);
    assert_int_equal(cpc__orch_work_confirm(&f->core, node, wid, f->blocks[first + 4].cid,
                                            1, T0 + 4) == CPC_EMISMATCH ||
                         strcmp(cid, f->blocks[first + 4].cid) == 0,
                     1);
    for (i = 0; i < f->n_nodes; i++)
      if (strcmp(f->nodes[i].id, node) != 0)
        break;
    assert_int_equal(cpc__orch_work_confirm(&f->core, f->nodes[i].id, wid, cid, 1, T0 + 4),
                     CPC_ENOENT);
  }
}

static void test_region_fallback_and_capacity(void **state) {
  fx *f = *state;
  cpc__tick_report r;
  size_t first;
  /* Two regions for three replicas: the third goes to a second node of
   * one region; the full node gets nothing. */
  add_node(f, "eu", T0);
  add_node(f, "eu", T0);
  add_node(f, "us", T0);
  fnode *full = add_node(f, "asia", T0);
  cpc__node_status st;
  assert_int_equal(cpc__orch_node_heartbeat(&f->core, full->id, 0, 100, T0, &st), 0);
  first = add_content(f, "content-b", 3, 2, 0);
  assert_int_equal(cpc__orch_tick(&f->core, T0 + 1, &r), 0);
  check_spread(f, first, 2, 3, 0);
  assert_int_equal(q_int(f, "SELECT count(*) FROM replicas WHERE node = $1", full->id), 0);
  assert_int_equal(q_int(f,
                         "SELECT count(DISTINCT n.region) FROM replicas r JOIN nodes n "
                         "ON n.peer_id = r.node WHERE r.cid = $1",
                         f->blocks[first].cid),
                   2);
}

static void test_healing_after_missed_heartbeats(void **state) {
  fx *f = *state;
  cpc__tick_report r;
  fnode *a, *b, *c, *d;
  size_t first, i;
  int64_t now = T0;
  a = add_node(f, "r1", now);
  b = add_node(f, "r2", now);
  c = add_node(f, "r3", now);
  first = add_content(f, "content-c", 3, 3, 0);
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  serve_all(f, ++now, NULL);
  check_spread(f, first, 3, 3, 1);
  d = add_node(f, "r4", now);
  /* c falls silent; the others keep beating. */
  now += f->sched.heartbeat_timeout_ms - 10;
  heartbeat_all(f, now, c);
  now += 20;
  assert_int_equal(cpc__orch_tick(&f->core, now, &r), 0);
  assert_int_equal(r.went_offline, 1);
  assert_int_equal(node_state(f, c), CPC__NODE_OFFLINE);
  assert_int_equal(q_int(f, "SELECT count(*) FROM replicas WHERE node = $1 AND state = 2",
                         c->id),
                   3);
  /* Healed onto d, from the survivors (stored copies on a and b). */
  assert_int_equal(r.replicas_placed, 3);
  for (i = first; i < first + 3; i++)
    assert_int_equal(live_replicas(f, f->blocks[i].cid), 3);
  {
    cpc_sql_stmt *q;
    int64_t n = -1;
    assert_int_equal(cpc__q_prepare(f->db, &q,
                                    "SELECT count(*) FROM work WHERE node = $1 AND kind = 0 "
                                    "AND detail LIKE $2 AND detail LIKE $3",
                                    "sss", d->id, "%" "\"peer_id\"" "%", "%/tcp/4001%"),
                     0);
    assert_int_equal(cpc_sql_step(q), CPC_SQL_ROW);
    n = cpc__q_col_int(q, 0, -1);
    cpc_sql_finalize(q);
    assert_int_equal(n, 3);
  }
  assert_int_equal(q_int(f, "SELECT count(*) FROM repair_queue", NULL), 0);
  /* c comes back: active again, and the copies it held count again. */
  heartbeat_all(f, ++now, NULL);
  assert_int_equal(node_state(f, c), CPC__NODE_ACTIVE);
  assert_int_equal(q_int(f, "SELECT count(*) FROM replicas WHERE node = $1 AND state = 1",
                         c->id),
                   3);
  assert_int_equal(q_int(f, "SELECT count(*) FROM repair_queue", NULL), 3);
  /* d's copies are only pending: nothing is trimmed on their account. */
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  assert_int_equal(r.replicas_trimmed, 0);
  assert_int_equal(r.replicas_placed, 0);
  /* Once d confirms, each block has 4 stored copies for 3 wanted: one
   * goes, with delete work for its node, and the map stays at 3. */
  serve_all(f, ++now, NULL);
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  assert_int_equal(r.replicas_trimmed, 3);
  assert_int_equal(r.replicas_placed, 0);
  assert_int_equal(q_int(f, "SELECT count(*) FROM replicas WHERE state = 3", NULL), 3);
  assert_int_equal(q_int(f, "SELECT count(*) FROM work WHERE kind = 1 AND state = 0", NULL), 3);
  for (i = first; i < first + 3; i++) {
    assert_int_equal(live_replicas(f, f->blocks[i].cid), 3);
    check_spread(f, i, 1, 3, 1);
  }
  {
    served s = {0};
    serve_all(f, ++now, &s);
    assert_int_equal(s.deleted, 3);
  }
  assert_int_equal(q_int(f, "SELECT count(*) FROM replicas WHERE state = 3", NULL), 0);
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  assert_int_equal(r.replicas_trimmed + r.replicas_placed, 0);
  (void)a;
  (void)b;
}

static void test_surplus_trimming(void **state) {
  fx *f = *state;
  cpc__tick_report r;
  fnode *n[4];
  size_t first, k;
  int64_t now = T0;
  served s = {0};
  n[0] = add_node(f, "r1", now);
  n[1] = add_node(f, "r1", now);
  n[2] = add_node(f, "r2", now);
  n[3] = add_node(f, "r3", now);
  first = add_content(f, "content-t", 4, 2, 0); /* no tokens: no audits */
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  serve_all(f, ++now, NULL);
  assert_int_equal(live_replicas(f, f->blocks[first].cid), 4);
  /* The owner wants 2 now: the doubled region loses a copy first, then
   * the node with the least free space. */
  assert_int_equal(cpc__q_run(f->db, NULL,
                              "UPDATE content SET replicas_desired = 2", "",
                              NULL),
                   0);
  {
    cpc__node_status st;
    assert_int_equal(cpc__orch_node_heartbeat(&f->core, n[2]->id, 0, 1000000,
                                              now, &st),
                     0);
  }
  /* An open audit protects its copy: block 0 on n[3] is under audit. */
  assert_int_equal(cpc__q_run(f->db, NULL,
                              "INSERT INTO audits (audit_id, node, cid, offset_, "
                              "length, nonce, expected, state, created_at, "
                              "deadline) VALUES (7, $1, $2, 0, 1, $3, $3, 0, 0, $4)",
                              "ssbi", n[3]->id, f->blocks[first].cid, "x",
                              (size_t)1, now + 100000),
                   0);
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  assert_int_equal(r.replicas_trimmed, 4);
  for (k = first; k < first + 2; k++) {
    const char *cid = f->blocks[k].cid;
    assert_int_equal(live_replicas(f, cid), 2);
    assert_int_equal(
        q_int(f,
              "SELECT count(DISTINCT n.region) FROM replicas r JOIN nodes n ON "
              "n.peer_id = r.node WHERE r.cid = $1 AND r.state = 1",
              cid),
        2);
    /* n[2] (least free space, by its heartbeat) loses its copy, and one
     * of the two r1 copies goes */
    assert_int_equal(q_int(f,
                           "SELECT count(*) FROM replicas r JOIN nodes n ON "
                           "n.peer_id = r.node WHERE r.cid = $1 AND r.state = 1 "
                           "AND n.region = 'r1'",
                           cid),
                     1);
  }
  {
    cpc_sql_stmt *q;
    assert_int_equal(cpc__q_prepare(f->db, &q,
                                    "SELECT state FROM replicas WHERE node = $1 "
                                    "AND cid = $2",
                                    "ss", n[3]->id, f->blocks[first].cid),
                     0);
    assert_int_equal(cpc_sql_step(q), CPC_SQL_ROW);
    assert_int_equal(cpc__q_col_int(q, 0, -1), CPC__REPLICA_STORED);
    cpc_sql_finalize(q);
  }
  serve_all(f, ++now, &s);
  assert_int_equal(s.deleted, 4);
  assert_int_equal(q_int(f, "SELECT count(*) FROM replicas", NULL), 4);
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  assert_int_equal(r.replicas_trimmed + r.replicas_placed, 0);
}

static void test_audits_score_and_disqualification(void **state) {
  fx *f = *state;
  cpc__tick_report r;
  served s;
  fnode *liar;
  size_t first, i;
  int64_t now = T0;
  add_node(f, "r1", now);
  add_node(f, "r2", now);
  liar = add_node(f, "r3", now);
  add_node(f, "r4", now);
  liar->honest = 0;
  first = add_content(f, "content-d", 3, 4, 6);
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  serve_all(f, ++now, NULL);
  /* Make sure the liar holds something: if placement skipped it, give it a
   * copy by hand as a regular holder. */
  if (q_int(f, "SELECT count(*) FROM replicas WHERE node = $1", liar->id) == 0)
    fail_msg("placement left node r3 empty with 4 blocks x 3 replicas over 4 nodes");
  /* Round 1: every node with stored data gets one audit. */
  now += f->sched.audit_interval_ms;
  heartbeat_all(f, now, NULL);
  assert_int_equal(cpc__orch_tick(&f->core, now, &r), 0);
  assert_int_equal(r.audits_issued, 4);
  memset(&s, 0, sizeof s);
  serve_all(f, now + 1, &s);
  assert_int_equal(s.audits_passed, 3);
  assert_int_equal(s.audits_failed, 1);
  assert_true(q_int(f, "SELECT audits_failed FROM nodes WHERE peer_id = $1", liar->id) == 1);
  assert_int_equal(node_state(f, liar), CPC__NODE_ACTIVE); /* score 0.5 */
  /* The failed block was re-placed on the node without it. */
  assert_int_equal(cpc__orch_tick(&f->core, now + 2, &r), 0);
  assert_int_equal(r.replicas_placed, 1);
  /* Round 2: the liar fails again and is disqualified (0.25 < 0.3). */
  now += f->sched.audit_interval_ms;
  heartbeat_all(f, now, NULL);
  assert_int_equal(cpc__orch_tick(&f->core, now, &r), 0);
  memset(&s, 0, sizeof s);
  serve(f, liar, now + 1, &s);
  assert_int_equal(s.audits_failed, 1);
  assert_int_equal(node_state(f, liar), CPC__NODE_DISQUALIFIED);
  assert_int_equal(q_int(f,
                         "SELECT count(*) FROM replicas WHERE node = $1 AND state IN (0, 1)",
                         liar->id),
                   0);
  /* Its replicas are scheduled again; every block back to 3 live copies. */
  serve_all(f, now + 2, NULL);
  assert_int_equal(cpc__orch_tick(&f->core, now + 3, &r), 0);
  serve_all(f, now + 4, NULL);
  assert_int_equal(cpc__orch_tick(&f->core, now + 5, &r), 0);
  for (i = first; i < first + 4; i++)
    assert_int_equal(live_replicas(f, f->blocks[i].cid), 3);
  /* A disqualified node stays so when it registers again. */
  {
    cpc__node_status st;
    assert_int_equal(register_at(f, liar, now + 6, now + 6, &st), 0);
    assert_int_equal(st.state, CPC__NODE_DISQUALIFIED);
  }
  /* Tokens are single-use. */
  assert_int_equal(q_int(f, "SELECT count(*) FROM audits", NULL),
                   q_int(f, "SELECT count(*) FROM audit_tokens WHERE used = 1", NULL));
}

static void test_late_audit_fails(void **state) {
  fx *f = *state;
  cpc__tick_report r;
  served s = {0};
  int64_t now = T0;
  fnode *a = add_node(f, "r1", now);
  add_content(f, "content-e", 1, 1, 3);
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  serve(f, a, ++now, NULL);
  now += f->sched.audit_interval_ms;
  heartbeat_all(f, now, NULL);
  assert_int_equal(cpc__orch_tick(&f->core, now, &r), 0);
  assert_int_equal(r.audits_issued, 1);
  {
    cpc__work_item w[4];
    size_t n;
    memset(w, 0, sizeof w);
    assert_int_equal(cpc__orch_work_claim(&f->core, a->id, now, w, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(w[0].kind, CPC__WORK_AUDIT);
    /* Past the audit deadline the tick fails it. */
    now += f->sched.audit_timeout_ms + 1;
    heartbeat_all(f, now, NULL);
    assert_int_equal(cpc__orch_tick(&f->core, now, &r), 0);
    assert_int_equal(r.audits_expired, 1);
    {
      uint8_t proof[32] = {0};
      int passed;
      cpc__node_status st;
      assert_int_equal(cpc__orch_audit_answer(&f->core, a->id, w[0].work_id, proof, 32,
                                              now, &passed, &st),
                       CPC_ENOENT);
    }
    cpc__work_item_clear(&w[0]);
  }
  assert_int_equal(q_int(f, "SELECT audits_failed FROM nodes WHERE peer_id = $1", a->id), 1);
  (void)s;
}

static void test_vetting(void **state) {
  fx *f = *state;
  cpc__tick_report r;
  served s;
  fnode *v;
  cpc__node_status st;
  size_t first, i;
  int64_t now = T0;
  add_node(f, "r1", now);
  add_node(f, "r2", now);
  add_node(f, "r3", now);
  first = add_content(f, "content-f", 3, 4, 4);
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  serve_all(f, ++now, NULL);
  /* From now on new nodes are vetted on 2 audits. */
  f->core.sched.vetting_audits = 2;
  v = add_node(f, "r4", now);
  assert_int_equal(node_state(f, v), CPC__NODE_VETTING);
  /* More content: regular copies go to active nodes only, and the vetting
   * node gets extra copies of audited blocks on top. */
  add_content(f, "content-g", 3, 2, 0);
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  assert_int_equal(r.replicas_placed, 6);
  assert_int_equal(r.vetting_placed, 2);
  assert_int_equal(q_int(f,
                         "SELECT count(*) FROM replicas r JOIN chunks c ON c.cid = r.cid "
                         "WHERE r.node = $1 AND c.content_id = 'content-g'",
                         v->id),
                   0);
  for (i = first; i < first + 4; i++)
    assert_int_equal(live_replicas(f, f->blocks[i].cid), 3);
  serve_all(f, ++now, NULL);
  /* A third tick gives it nothing more (it holds vetting_replicas). */
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  assert_int_equal(r.vetting_placed, 0);
  /* Two audit rounds: passes take it to active. */
  for (i = 0; i < 2; i++) {
    now += f->sched.audit_interval_ms;
    heartbeat_all(f, now, NULL);
    assert_int_equal(cpc__orch_tick(&f->core, now, &r), 0);
    memset(&s, 0, sizeof s);
    serve(f, v, now + 1, &s);
    assert_int_equal(s.audits_passed, 1);
    assert_int_equal(cpc__orch_node_lookup(&f->core, v->id, &v->key.pub, &st), 0);
    assert_int_equal(st.state, i == 0 ? CPC__NODE_VETTING : CPC__NODE_ACTIVE);
  }
  serve_all(f, now + 2, NULL);
}

static void test_corrupt_report_heals(void **state) {
  fx *f = *state;
  cpc__tick_report r;
  fnode *a;
  size_t first;
  int64_t now = T0;
  a = add_node(f, "r1", now);
  add_node(f, "r2", now);
  add_node(f, "r3", now);
  first = add_content(f, "content-h", 2, 1, 0);
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  serve_all(f, ++now, NULL);
  /* a holder of the block */
  for (size_t k = 0; k < f->n_nodes; k++)
    if (q_int(f, "SELECT count(*) FROM replicas WHERE node = $1",
              f->nodes[k].id) > 0)
      a = &f->nodes[k];
  assert_int_equal(cpc__orch_report_corrupt(&f->core, a->id, f->blocks[first].cid, now),
                   0);
  assert_int_equal(cpc__orch_report_corrupt(&f->core, a->id, f->blocks[first].cid, now),
                   CPC_ENOENT);
  assert_int_equal(live_replicas(f, f->blocks[first].cid), 1);
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  assert_int_equal(r.replicas_placed, 1);
  assert_int_equal(live_replicas(f, f->blocks[first].cid), 2);
  /* Never back onto the node that lost it. */
  assert_int_equal(q_int(f,
                         "SELECT state FROM replicas WHERE node = $1",
                         a->id),
                   CPC__REPLICA_LOST);
}

static void test_restart_resumes_pending_work(void **state) {
  fx *f = *state;
  cpc__tick_report r;
  cpc__work_item w[32];
  fnode *a, *b;
  size_t n, i;
  int64_t now = T0;
  a = add_node(f, "r1", now);
  b = add_node(f, "r2", now);
  add_content(f, "content-i", 2, 3, 0);
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  assert_int_equal(r.replicas_placed, 6);
  /* a's work is sent, b's only queued; then the orchestrator dies. */
  memset(w, 0, sizeof w);
  assert_int_equal(cpc__orch_work_claim(&f->core, a->id, now, w, 32, &n), 0);
  assert_int_equal(n, 3);
  for (i = 0; i < n; i++)
    cpc__work_item_clear(&w[i]);
  reopen(f);
  assert_int_equal(q_int(f, "SELECT count(*) FROM work WHERE state = 1", NULL), 3);
  assert_int_equal(q_int(f, "SELECT count(*) FROM work WHERE state = 0", NULL), 3);
  /* The new instance waits for the dead one's leases to run out. */
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  assert_int_equal(r.replicas_placed + r.work_retried, 0);
  /* b connects and gets its queued work; a's sent work times out and is
   * sent again. */
  serve(f, b, now, NULL);
  now += f->sched.work_timeout_ms + 1;
  heartbeat_all(f, now, NULL);
  assert_int_equal(cpc__orch_tick(&f->core, now, &r), 0);
  assert_int_equal(r.work_retried, 3);
  assert_int_equal(r.replicas_placed, 0);
  serve(f, a, now + 1, NULL);
  assert_int_equal(q_int(f, "SELECT count(*) FROM replicas WHERE state = 1", NULL), 6);
  assert_int_equal(q_int(f, "SELECT count(*) FROM work WHERE state = 2", NULL), 6);
}

static void test_work_given_up_is_reassigned(void **state) {
  fx *f = *state;
  cpc__tick_report r;
  fnode *a, *b, *c;
  size_t first;
  int64_t now = T0;
  a = add_node(f, "r1", now);
  b = add_node(f, "r2", now);
  first = add_content(f, "content-j", 2, 1, 0);
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  c = add_node(f, "r3", now);
  a->serving = 0; /* takes work, never confirms */
  serve_all(f, now, NULL);
  /* Two deadlines (work_max_attempts 2): retried, then given up. */
  now += f->sched.work_timeout_ms + 1;
  heartbeat_all(f, now, NULL);
  assert_int_equal(cpc__orch_tick(&f->core, now, &r), 0);
  assert_int_equal(r.work_retried, 1);
  serve(f, a, now, NULL);
  now += f->sched.work_timeout_ms + 1;
  heartbeat_all(f, now, NULL);
  assert_int_equal(cpc__orch_tick(&f->core, now, &r), 0);
  assert_int_equal(r.work_failed, 1);
  assert_int_equal(r.replicas_placed, 1);
  assert_int_equal(q_int(f, "SELECT count(*) FROM replicas WHERE node = $1 AND state = 0",
                         c->id),
                   1);
  serve(f, c, now, NULL);
  assert_int_equal(live_replicas(f, f->blocks[first].cid), 2);
  (void)b;
}

static void test_content_deletion(void **state) {
  fx *f = *state;
  cpc__tick_report r;
  served s = {0};
  int64_t now = T0;
  add_node(f, "r1", now);
  add_node(f, "r2", now);
  add_content(f, "content-k", 2, 3, 1);
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  serve_all(f, ++now, NULL);
  assert_int_equal(cpc__q_run(f->db, NULL,
                              "UPDATE content SET state = 1 WHERE content_id = 'content-k'",
                              ""),
                   0);
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  assert_int_equal(q_int(f, "SELECT count(*) FROM work WHERE kind = 1 AND state = 0", NULL),
                   6);
  assert_int_equal(q_int(f, "SELECT state FROM content WHERE content_id = $1", "content-k"),
                   CPC__CONTENT_DELETING);
  serve_all(f, ++now, &s);
  assert_int_equal(s.deleted, 6);
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  assert_int_equal(q_int(f, "SELECT count(*) FROM replicas", NULL), 0);
  assert_int_equal(q_int(f, "SELECT state FROM content WHERE content_id = $1", "content-k"),
                   CPC__CONTENT_DELETED);
}

/* Count of a node's orders, or of one (node, cid) order. */
static int64_t drops_of(fx *f, const fnode *n, const char *cid) {
  int64_t v = -1;
  if (cid)
    assert_int_equal(cpc__q_int(f->db, &v,
                                "SELECT count(*) FROM node_drops WHERE node = $1 "
                                "AND cid = $2",
                                "ss", n->id, cid),
                     0);
  else
    v = q_int(f, "SELECT count(*) FROM node_drops WHERE node = $1", n->id);
  return v;
}

static int64_t replica_state(fx *f, const fnode *n, const char *cid) {
  int64_t v = -1;
  int rc = cpc__q_int(f->db, &v,
                      "SELECT state FROM replicas WHERE node = $1 AND cid = $2",
                      "ss", n->id, cid);
  assert_true(rc == 0 || rc == CPC_ENOENT);
  return rc == 0 ? v : -1;
}

/* Deletions that happen while a node is offline reach it when it is back
 * (drop orders), and never touch a block that live content still uses. */
static void test_drops_reach_returning_node(void **state) {
  fx *f = *state;
  cpc__tick_report r;
  cpc__work_item items[8];
  cpc__node_status st;
  fnode *a, *b, *c;
  const char *x0, *x1, *y0, *z0;
  size_t k, i, looked, queued;
  int64_t now = T0;
  served s = {0};
  int seen_x0 = 0, seen_z0 = 0;

  a = add_node(f, "r1", now);
  b = add_node(f, "r2", now);
  c = add_node(f, "r3", now);
  x0 = f->blocks[add_content(f, "content-x", 3, 2, 0)].cid;
  x1 = f->blocks[f->n_blocks - 1].cid;
  y0 = f->blocks[add_content(f, "content-y", 3, 1, 0)].cid;
  z0 = f->blocks[add_content(f, "content-z", 3, 1, 0)].cid;
  /* content-y shares block x1 with content-x */
  assert_int_equal(cpc__q_run(f->db, NULL,
                              "INSERT INTO chunks (content_id, idx, cid, size) "
                              "VALUES ('content-y', 1, $1, $2)",
                              "si", x1, (int64_t)BLOCK_LEN),
                   0);
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  serve_all(f, ++now, NULL);
  assert_int_equal(q_int(f, "SELECT count(*) FROM replicas WHERE state = 1", NULL), 12);

  /* content-z is deleted; c takes its delete work but never confirms. */
  assert_int_equal(cpc__q_run(f->db, NULL,
                              "UPDATE content SET state = 1 WHERE content_id = 'content-z'",
                              ""),
                   0);
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  assert_int_equal(r.deletes_queued, 1);
  c->serving = 0;
  serve_all(f, ++now, &s);
  assert_int_equal(s.deleted, 2);
  c->serving = 1;

  /* c falls silent: its deleting row becomes a drop order. */
  now += f->sched.heartbeat_timeout_ms - 10;
  heartbeat_all(f, now, c);
  now += 20;
  assert_int_equal(cpc__orch_tick(&f->core, now, &r), 0);
  assert_int_equal(node_state(f, c), CPC__NODE_OFFLINE);
  assert_int_equal(drops_of(f, c, z0), 1);
  assert_int_equal(replica_state(f, c, z0), -1);

  /* content-x is deleted while c is away: a and b get delete work for
   * x0 only (x1 is content-y's too); c's lost copy of x0 becomes a drop
   * order, its copy of x1 stays in the map. */
  assert_int_equal(cpc__q_run(f->db, NULL,
                              "UPDATE content SET state = 1 WHERE content_id = 'content-x'",
                              ""),
                   0);
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  memset(&s, 0, sizeof s);
  serve(f, a, ++now, &s);
  serve(f, b, now, &s);
  assert_int_equal(s.deleted, 2);
  heartbeat_all(f, now, c);
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  assert_int_equal(q_int(f, "SELECT state FROM content WHERE content_id = $1", "content-x"),
                   CPC__CONTENT_DELETED);
  assert_int_equal(q_int(f, "SELECT state FROM content WHERE content_id = $1", "content-z"),
                   CPC__CONTENT_DELETED);
  assert_int_equal(drops_of(f, c, NULL), 2);
  assert_int_equal(drops_of(f, c, x0), 1);
  assert_int_equal(drops_of(f, c, x1), 0);
  assert_int_equal(drops_of(f, a, NULL) + drops_of(f, b, NULL), 0);
  assert_int_equal(replica_state(f, c, x1), CPC__REPLICA_LOST);

  /* c is back: x1 and y0 count again; its stream opens and the orders
   * become delete work for x0 and z0, nothing else. */
  assert_int_equal(cpc__orch_node_heartbeat(&f->core, c->id, 0, 1u << 30, ++now, &st), 0);
  assert_int_equal(st.state, CPC__NODE_ACTIVE);
  assert_int_equal(cpc__orch_drops_release(&f->core, c->id, now, 64, &looked, &queued), 0);
  assert_int_equal(looked, 2);
  assert_int_equal(queued, 2);
  assert_int_equal(drops_of(f, c, NULL), 0);
  assert_int_equal(replica_state(f, c, x0), CPC__REPLICA_DELETING);
  memset(items, 0, sizeof items);
  assert_int_equal(cpc__orch_work_claim(&f->core, c->id, ++now, items, 8, &k), 0);
  assert_int_equal(k, 2);
  for (i = 0; i < k; i++) {
    assert_int_equal(items[i].kind, CPC__WORK_DELETE);
    seen_x0 += strcmp(items[i].cid, x0) == 0;
    seen_z0 += strcmp(items[i].cid, z0) == 0;
    assert_int_equal(cpc__orch_work_confirm(&f->core, c->id, items[i].work_id,
                                            items[i].cid, 1, now),
                     0);
    cpc__work_item_clear(&items[i]);
  }
  assert_int_equal(seen_x0 + seen_z0 * 2, 3);
  assert_int_equal(replica_state(f, c, x0), -1);
  assert_int_equal(replica_state(f, c, z0), -1);
  assert_int_equal(replica_state(f, c, x1), CPC__REPLICA_STORED);
  assert_int_equal(replica_state(f, c, y0), CPC__REPLICA_STORED);
  assert_int_equal(live_replicas(f, x1), 3);
  assert_int_equal(live_replicas(f, y0), 3);

  /* Orders never touch what the map counts or live content uses: one
   * for a copy a stores is dropped, one for live x1 on a node without a
   * row waits, one for a gone block is carried out. */
  assert_int_equal(cpc__q_run(f->db, NULL,
                              "DELETE FROM replicas WHERE node = $1 AND cid = $2",
                              "ss", b->id, x1),
                   0);
  assert_int_equal(cpc__orch_drop_add_txn(&f->core, a->id, y0, now), 0);
  assert_int_equal(cpc__orch_drop_add_txn(&f->core, b->id, x1, now), 0);
  assert_int_equal(cpc__orch_drop_add_txn(&f->core, b->id, x1, now), 0);
  assert_int_equal(cpc__orch_drop_add_txn(&f->core, b->id, z0, now), 0);
  assert_int_equal(drops_of(f, b, NULL), 2);
  assert_int_equal(cpc__orch_drops_release(&f->core, a->id, now, 64, &looked, &queued), 0);
  assert_int_equal(looked, 1);
  assert_int_equal(queued, 0);
  assert_int_equal(replica_state(f, a, y0), CPC__REPLICA_STORED);
  assert_int_equal(cpc__orch_drops_release(&f->core, b->id, now, 64, &looked, &queued), 0);
  assert_int_equal(looked, 2);
  assert_int_equal(queued, 1);
  assert_int_equal(drops_of(f, b, x1), 1); /* waits, not due again soon */
  assert_int_equal(replica_state(f, b, x1), -1);
  assert_int_equal(replica_state(f, b, z0), CPC__REPLICA_DELETING);
  assert_int_equal(cpc__orch_drops_release(&f->core, b->id, now + 1000, 64, &looked,
                                           &queued),
                   0);
  assert_int_equal(looked, 0);
  /* Once x1's last content goes, the waiting order is carried out. */
  assert_int_equal(cpc__q_run(f->db, NULL,
                              "UPDATE content SET state = 2 WHERE content_id = 'content-y'",
                              ""),
                   0);
  assert_int_equal(cpc__orch_drops_release(&f->core, b->id, now + 7200000, 64,
                                           &looked, &queued),
                   0);
  assert_int_equal(queued, 1);
  assert_int_equal(replica_state(f, b, x1), CPC__REPLICA_DELETING);

  /* Bounded: past max_drops_per_node a node gets no more orders. */
  f->core.sched.max_drops_per_node = 2;
  assert_int_equal(cpc__orch_drop_add_txn(&f->core, a->id, "cid-1", now), 0);
  assert_int_equal(cpc__orch_drop_add_txn(&f->core, a->id, "cid-2", now), 0);
  assert_int_equal(cpc__orch_drop_add_txn(&f->core, a->id, "cid-3", now), 0);
  assert_int_equal(drops_of(f, a, NULL), 2);
  /* Batches: one look takes at most max orders. */
  assert_int_equal(cpc__orch_drops_release(&f->core, a->id, now, 1, &looked, &queued), 0);
  assert_int_equal(looked, 1);
  assert_int_equal(drops_of(f, a, NULL), 1);
}

/* A random CID (raw, blake3) in text. */
static void random_cid(char *out, size_t cap) {
  uint8_t data[32];
  cpc_cid cid;
  randombytes_buf(data, sizeof data);
  assert_int_equal(cpc_cid_compute(CPC_CODEC_RAW, CPC_MH_BLAKE3, data,
                                   sizeof data, &cid),
                   0);
  assert_int_equal(cpc_cid_format(&cid, CPC_MB_BASE32, out, cap), 0);
}

static void test_audit_probe(void **state) {
  char lo[CPC__MAX_CID_TEXT + 1], hi[CPC__MAX_CID_TEXT + 1], t[CPC__MAX_CID_TEXT + 1];
  char out[CPC__MAX_CID_TEXT + 16];
  size_t i;
  (void)state;
  random_cid(lo, sizeof lo);
  random_cid(hi, sizeof hi);
  if (strcmp(lo, hi) > 0) {
    snprintf(t, sizeof t, "%s", lo);
    snprintf(lo, sizeof lo, "%s", hi);
    snprintf(hi, sizeof hi, "%s", t);
  }
  for (i = 0; i < 2000; i++) { /* between them (or a prefix of lo) */
    cpc__orch_audit_probe(lo, hi, out, sizeof out);
    assert_true(strcmp(lo, out) <= 0 || strncmp(lo, out, strlen(out)) == 0);
    assert_true(strcmp(out, hi) <= 0);
  }
  /* one key, or keys that are not base32: the first */
  cpc__orch_audit_probe("bafkabc", "bafkabc", out, sizeof out);
  assert_string_equal(out, "bafkabc");
  cpc__orch_audit_probe("zQm1", "zQm9", out, sizeof out);
  assert_string_equal(out, "zQm1");
  cpc__orch_audit_probe("ba", "bz", out, 4);
  assert_string_equal(out, "ba");
  /* spread: 2000 probes between "baa..." and "bzz..." land in each
   * quarter of the range about equally */
  {
    size_t q[4] = {0}, k;
    for (i = 0; i < 2000; i++) {
      int d;
      cpc__orch_audit_probe("b222222222222", "bzzzzzzzzzzzz", out, sizeof out);
      assert_int_equal(strlen(out), 13);
      d = (int)(strchr("234567abcdefghijklmnopqrstuvwxyz", out[1]) -
                "234567abcdefghijklmnopqrstuvwxyz");
      q[d / 8]++;
    }
    for (k = 0; k < 4; k++)
      assert_true(q[k] > 400 && q[k] < 600);
  }
}

/* Audit picks cost a probe, not a scan, and still reach every stored
 * replica with a token (and never one without, or one not stored). */
static void test_audit_picks_spread(void **state) {
  fx *f = *state;
  enum { WITH = 40, WITHOUT = 8, PICKS = 800 };
  char cids[WITH + WITHOUT + 1][CPC__MAX_CID_TEXT + 1];
  size_t counts[WITH + WITHOUT + 1], i, k, n;
  uint8_t nonce[32] = {1}, expected[32] = {2};
  int64_t now = T0;
  fnode *a = add_node(f, "r1", now);

  add_content(f, "content-p", 3, 0, 0);
  memset(counts, 0, sizeof counts);
  for (i = 0; i < WITH + WITHOUT + 1; i++) {
    random_cid(cids[i], sizeof cids[i]);
    /* the last one is only pending */
    assert_int_equal(cpc__q_run(f->db, NULL,
                                "INSERT INTO replicas (cid, node, state, updated_at) "
                                "VALUES ($1, $2, $3, 0)",
                                "ssi", cids[i], a->id,
                                (int64_t)(i == WITH + WITHOUT ? 0 : 1)),
                     0);
    if (i < WITH || i == WITH + WITHOUT)
      assert_int_equal(cpc__orch_audit_token_add(f->db, "content-p", cids[i], 0,
                                                 16, nonce, expected, NULL),
                       0);
  }
  for (k = 0; k < PICKS; k++) {
    char got[CPC__MAX_CID_TEXT + 1];
    cpc_sql_stmt *q;
    assert_int_equal(cpc__orch_audits_issue(&f->core, now, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(cpc__q_prepare(f->db, &q, "SELECT cid FROM audits WHERE state = 0", ""),
                     0);
    assert_int_equal(cpc_sql_step(q), CPC_SQL_ROW);
    cpc__q_text(q, 0, got, sizeof got);
    cpc_sql_finalize(q);
    for (i = 0; i < WITH + WITHOUT + 1; i++)
      if (strcmp(got, cids[i]) == 0)
        counts[i]++;
    assert_int_equal(cpc__q_run(f->db, NULL, "UPDATE audits SET state = 3", ""), 0);
    assert_int_equal(cpc__q_run(f->db, NULL, "UPDATE audit_tokens SET used = 0", ""), 0);
    assert_int_equal(cpc__q_run(f->db, NULL, "UPDATE nodes SET last_audit_at = 0", ""), 0);
  }
  /* every pick was one of ours: mean PICKS / WITH = 20 per replica */
  for (i = 0, n = 0; i < WITH + WITHOUT + 1; i++)
    n += counts[i];
  assert_int_equal(n, PICKS);
  for (i = 0; i < WITH; i++) {
    if (counts[i] < 3 || counts[i] > 60)
      fprintf(stderr, "replica %zu picked %zu times of %d\n", i, counts[i], PICKS);
    assert_true(counts[i] >= 3);
    assert_true(counts[i] <= 60);
  }
  for (i = WITH; i < WITH + WITHOUT + 1; i++)
    assert_int_equal(counts[i], 0);
  /* a node with nothing stored that has a token is left for an interval */
  assert_int_equal(cpc__q_run(f->db, NULL, "UPDATE audit_tokens SET used = 1", ""), 0);
  assert_int_equal(cpc__orch_audits_issue(&f->core, now, &n), 0);
  assert_int_equal(n, 0);
  assert_int_equal(q_int(f, "SELECT last_audit_at FROM nodes WHERE peer_id = $1", a->id),
                   now);
}

static void test_leases_split_instances(void **state) {
  fx *f = *state;
  cpc__orch_core other;
  cpc__tick_report r;
  int64_t now = T0;
  add_node(f, "r1", now);
  add_content(f, "content-l", 1, 2, 0);
  /* Another instance holds replication: this one places nothing. */
  cpc__orch_core_init(&other, f->db, &f->sched, NULL);
  {
    int got = 0;
    assert_int_equal(cpc_sql_lease_acquire(f->db, "orchestrator/replication",
                                           other.instance, 60000, now, &got, NULL),
                     0);
    assert_int_equal(got, 1);
  }
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  assert_int_equal(r.replicas_placed, 0);
  assert_int_equal(cpc__orch_tick(&other, ++now, &r), 0);
  assert_int_equal(r.replicas_placed, 2);
  cpc__orch_release_leases(&other);
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
}

static void test_metrics_gauges(void **state) {
  fx *f = *state;
  cpc__orch_metrics m;
  cpc__tick_report r;
  char *text = NULL;
  int64_t now = T0;
  assert_int_equal(cpc__orch_metrics_init(&m), 0);
  f->core.metrics = &m;
  add_node(f, "r1", now);
  add_node(f, "r2", now);
  add_content(f, "content-m", 2, 1, 1);
  atomic_fetch_add(&m.bytes, 1000);
  assert_int_equal(cpc__orch_tick(&f->core, ++now, &r), 0);
  atomic_fetch_add(&m.bytes, 5000);
  now += 10000;
  assert_int_equal(cpc__orch_tick(&f->core, now, &r), 0);
  cpc__orch_metrics_grpc(&m, "Heartbeat", CPC_RPC_OK);
  assert_int_equal(cpc_metrics_render(m.reg, CPC_METRICS_OPENMETRICS, &text, NULL), 0);
  assert_non_null(strstr(text, "cpc_orchestrator_nodes{state=\"active\"} 2\n"));
  assert_non_null(strstr(text, "cpc_orchestrator_replicas{state=\"pending\"} 2\n"));
  assert_non_null(strstr(text, "cpc_orchestrator_content{state=\"active\"} 1\n"));
  assert_non_null(strstr(text, "cpc_orchestrator_work_queue{kind=\"replicate\",state=\"queued\"} 2\n"));
  /* 5000 bytes over 10 s */
  assert_non_null(strstr(text, "cpc_bandwidth_bytes{node_type=\"orchestrator\"} 500"));
  assert_non_null(strstr(text, "cpc_orchestrator_grpc_requests_total{method=\"Heartbeat\",code=\"OK\"} 1"));
  free(text);
  f->core.metrics = NULL;
  cpc__orch_metrics_free(&m);
}

static void test_node_auth(void **state) {
  fx *f = *state;
  fnode *a = add_node(f, "r1", T0), *b = add_node(f, "r2", T0);
  cpc__node_status st;
  cpc__commitment c;
  cpc_peer_id id;
  cpc_pubkey pk;
  uint8_t body[] = "hello", digest[32], sig[64], *msg;
  char sig_hex[129], digest_hex[65], text[512], why[200], ts[32];
  size_t sig_len, len;
  const char *path = "/cpc.orchestrator.v1.NodeService/Heartbeat";
  int64_t now = cpc__orch_now_ms();

  /* A call signed as the docs say verifies; anything else does not. */
  snprintf(ts, sizeof ts, "%lld", (long long)now);
  cpc_blake3(body, 5, digest);
  sodium_bin2hex(digest_hex, sizeof digest_hex, digest, 32);
  snprintf(text, sizeof text, "CPC-NODE-RPC-V1\n%s\n%s\n%s", path, ts, digest_hex);
  assert_int_equal(cpc_privkey_sign(&a->key, text, strlen(text), sig, sizeof sig,
                                    &sig_len),
                   0);
  sodium_bin2hex(sig_hex, sizeof sig_hex, sig, 64);
  assert_int_equal(cpc__rpc_auth_check(path, a->id, ts, sig_hex, body, 5, now,
                                       300000, &id, &pk, why, sizeof why),
                   0);
  assert_true(cpc_pubkey_equal(&pk, &a->key.pub));
  /* impostor: b's id with a's signature */
  assert_int_equal(cpc__rpc_auth_check(path, b->id, ts, sig_hex, body, 5, now,
                                       300000, &id, &pk, why, sizeof why),
                   CPC_EBADSIG);
  /* another body, another path, stale time, missing metadata */
  assert_int_equal(cpc__rpc_auth_check(path, a->id, ts, sig_hex, body, 4, now,
                                       300000, &id, &pk, why, sizeof why),
                   CPC_EBADSIG);
  assert_int_equal(cpc__rpc_auth_check("/x/y", a->id, ts, sig_hex, body, 5, now,
                                       300000, &id, &pk, why, sizeof why),
                   CPC_EBADSIG);
  assert_int_equal(cpc__rpc_auth_check(path, a->id, ts, sig_hex, body, 5,
                                       now + 300001, 300000, &id, &pk, why,
                                       sizeof why),
                   CPC_ETIMEDOUT);
  assert_int_equal(cpc__rpc_auth_check(path, a->id, NULL, sig_hex, body, 5, now,
                                       300000, &id, &pk, why, sizeof why),
                   CPC_EMALFORMED);
  assert_int_equal(cpc__rpc_auth_check(path, "owner", ts, sig_hex, body, 5, now,
                                       300000, &id, &pk, why, sizeof why),
                   CPC_EMALFORMED);

  /* Registration: a commitment signed by another key is refused; one
   * older than the registered one too; the lookup checks the key. */
  sign_commitment(a, 100, T0, &b->key, &msg, &len);
  assert_int_equal(cpc__commitment_verify(msg, len, T0, 300000, &c, why, sizeof why),
                   CPC_EBADSIG);
  free(msg);
  sign_commitment(a, 100, T0 - 400000, &a->key, &msg, &len);
  assert_int_equal(cpc__commitment_verify(msg, len, T0, 300000, &c, why, sizeof why),
                   CPC_ETIMEDOUT);
  free(msg);
  assert_int_equal(register_at(f, a, T0 + 10, T0 - 1, &st), CPC_ESTATE);
  assert_int_equal(register_at(f, a, T0 + 10, T0 + 10, &st), 0);
  assert_int_equal(cpc__orch_node_lookup(&f->core, a->id, &a->key.pub, &st), 0);
  assert_int_equal(cpc__orch_node_lookup(&f->core, a->id, &b->key.pub, &st), CPC_EPERM);
  assert_int_equal(cpc__orch_node_lookup(&f->core, "12D3KooWnotthere", NULL, &st),
                   CPC_ENOENT);
}

static void test_config_file(void **state) {
  cpc_orchestrator_config cfg;
  char path[300], err[256];
  FILE *fp;
  (void)state;
  snprintf(path, sizeof path, "%s/orch.json", tmpdir);
  cpc_orchestrator_config_default(&cfg);
  fp = fopen(path, "w");
  fputs("{\"grpc\": \"[::1]:0\", \"db\": \"sqlite:/tmp/x.db\", \"scheduler\": "
        "{\"tick_ms\": 250, \"score_lambda\": 0.9, \"vetting_audits\": 0}}",
        fp);
  fclose(fp);
  assert_int_equal(cpc_orchestrator_config_load(&cfg, path, err, sizeof err), 0);
  assert_int_equal(cfg.sched.tick_ms, 250);
  assert_int_equal(cfg.sched.vetting_audits, 0);
  assert_string_equal(cfg.grpc, "[::1]:0");
  fp = fopen(path, "w");
  fputs("{\"scheduler\": {\"audit_timeout_ms\": -5}}", fp);
  fclose(fp);
  assert_int_equal(cpc_orchestrator_config_load(&cfg, path, err, sizeof err),
                   CPC_EINVAL);
  assert_non_null(strstr(err, "scheduler.audit_timeout_ms"));
  assert_int_equal(cfg.sched.tick_ms, 250); /* unchanged on failure */
  fp = fopen(path, "w");
  fputs("{\"rest\": 7700}", fp);
  fclose(fp);
  assert_int_equal(cpc_orchestrator_config_load(&cfg, path, err, sizeof err),
                   CPC_EINVAL);
  assert_non_null(strstr(err, "rest"));
  fp = fopen(path, "w");
  fputs("{\"scheduler\": {\"tick\": 1}}", fp);
  fclose(fp);
  assert_int_equal(cpc_orchestrator_config_load(&cfg, path, err, sizeof err),
                   CPC_EINVAL);
  assert_non_null(strstr(err, "scheduler.tick: unknown key"));
  fp = fopen(path, "w");
  fputs("{\"scheduler\": ", fp);
  fclose(fp);
  assert_int_equal(cpc_orchestrator_config_load(&cfg, path, err, sizeof err),
                   CPC_EMALFORMED);
  unlink(path);
  {
    char addr[64];
    uint16_t port;
    assert_int_equal(cpc_orchestrator_parse_listen("127.0.0.1:7701", addr,
                                                   sizeof addr, &port),
                     0);
    assert_int_equal(port, 7701);
    assert_int_equal(cpc_orchestrator_parse_listen("[::1]:80", addr, sizeof addr,
                                                   &port),
                     0);
    assert_string_equal(addr, "::1");
    assert_int_equal(cpc_orchestrator_parse_listen("::1:80", addr, sizeof addr,
                                                   &port),
                     CPC_EINVAL);
    assert_int_equal(cpc_orchestrator_parse_listen("host:80", addr, sizeof addr,
                                                   &port),
                     CPC_EINVAL);
    assert_int_equal(cpc_orchestrator_parse_listen("1.2.3.4:65536", addr,
                                                   sizeof addr, &port),
                     CPC_EINVAL);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_placement_rules),
      cmocka_unit_test(test_config_file),
      cmocka_unit_test(test_audit_probe),
      cmocka_unit_test_setup_teardown(test_replication_and_confirmation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_region_fallback_and_capacity, setup, teardown),
      cmocka_unit_test_setup_teardown(test_healing_after_missed_heartbeats, setup, teardown),
      cmocka_unit_test_setup_teardown(test_surplus_trimming, setup, teardown),
      cmocka_unit_test_setup_teardown(test_audits_score_and_disqualification, setup, teardown),
      cmocka_unit_test_setup_teardown(test_late_audit_fails, setup, teardown),
      cmocka_unit_test_setup_teardown(test_vetting, setup, teardown),
      cmocka_unit_test_setup_teardown(test_corrupt_report_heals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_restart_resumes_pending_work, setup, teardown),
      cmocka_unit_test_setup_teardown(test_work_given_up_is_reassigned, setup, teardown),
      cmocka_unit_test_setup_teardown(test_content_deletion, setup, teardown),
      cmocka_unit_test_setup_teardown(test_drops_reach_returning_node, setup, teardown),
      cmocka_unit_test_setup_teardown(test_audit_picks_spread, setup, teardown),
      cmocka_unit_test_setup_teardown(test_leases_split_instances, setup, teardown),
      cmocka_unit_test_setup_teardown(test_metrics_gauges, setup, teardown),
      cmocka_unit_test_setup_teardown(test_node_auth, setup, teardown),
  };
  char cmd[300];
  int failed;
  if (sodium_init() < 0)
    return 1;
  pg_url = getenv("CPC_TEST_PG_URL");
  if (pg_url && !*pg_url)
    pg_url = NULL;
  snprintf(tmpdir, sizeof tmpdir, "%s/cpc-orch-test-XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  fprintf(stderr, "test_orchestrator_scheduler: %s\n",
          pg_url ? "PostgreSQL (CPC_TEST_PG_URL)" : "SQLite");
  failed = cmocka_run_group_tests(tests, NULL, NULL);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
  return failed;
}
