/*
 * test_node_work.c: a cpc_node in-process without an orchestrator, fed
 * Work messages directly (as its work stream would): a replicate order
 * pulls the block over Bitswap from an origin host in the same loop, stores
 * it (the orchestrator is away, so the result waits in the journal); a
 * restart resumes the journal; an order past the committed capacity is
 * refused with "capacity exceeded"; a delete removes the block; a source
 * that does not have the block fails the order; /metrics counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "cpc/error.h"
#include "cpc/orchestrator/v1/node.pb-c.h"
#include "node/node_int.h"

typedef struct origin {
  cpc_net *net;
  cpc_exchange *ex;
  cpc_blockstore *bs;
  char addr[CPC_NODE_MAX_ADDR];
} origin;

static uv_loop_t loop;
static char dir[64];
static char lines[64][256];
static size_t n_lines;

static void log_line(void *ud, const char *line) {
  (void)ud;
  if (n_lines < 64)
    snprintf(lines[n_lines++], sizeof lines[0], "%s", line);
}

static int logged(const char *needle) {
  size_t i;
  for (i = 0; i < n_lines; i++)
    if (strstr(lines[i], needle))
      return 1;
  return 0;
}

static void origin_conn_closed(cpc_net *net, cpc_net_conn *c, int r, void *ud) {
  origin *o = ud;
  (void)net;
  (void)r;
  cpc_exchange_conn_closed(o->ex, c);
}

static void origin_start(origin *o, const char *store) {
  static const cpc_net_events ev = {.on_conn_close = origin_conn_closed};
  cpc_net_builder *b;
  cpc_multiaddr ma, out[4];
  size_t n = 0;
  assert_int_equal(cpc_blockstore_open(store, 0, &o->bs), 0);
  assert_int_equal(cpc_net_builder_new(&loop, &b), 0);
  cpc_net_builder_with_tcp(b);
  cpc_net_builder_events(b, &ev, o);
  assert_int_equal(cpc_multiaddr_parse(&ma, "/ip4/127.0.0.1/tcp/0", 20), 0);
  assert_int_equal(cpc_net_builder_listen(b, &ma), 0);
  assert_int_equal(cpc_net_builder_build(b, &o->net), 0);
  cpc_net_builder_free(b);
  assert_int_equal(cpc_exchange_new(&loop, o->net, o->bs, NULL, &o->ex), 0);
  assert_int_equal(cpc_net_listen_addrs(o->net, out, 4, &n), 0);
  assert_int_equal(cpc_multiaddr_format(&out[0], o->addr, sizeof o->addr, NULL),
                   0);
}

static void origin_stop(origin *o) {
  cpc_exchange_close(o->ex, NULL, NULL);
  cpc_net_close(o->net, NULL, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  uv_run(&loop, UV_RUN_NOWAIT);
  cpc_blockstore_close(o->bs);
}

static cpc_node *node_start(uint64_t capacity) {
  cpc_node_config c;
  cpc_node *n = NULL;
  char err[256];
  cpc_node_config_default(&c);
  c.capacity = capacity;
  snprintf(c.listen[0], sizeof c.listen[0], "/ip4/127.0.0.1/tcp/0");
  c.fetch_timeout_ms = 5000;
  assert_int_equal(cpc_node_new(&n, &loop, dir, &c, log_line, NULL, err,
                                sizeof err),
                   0);
  assert_int_equal(cpc_node_start(n, err, sizeof err), 0);
  return n;
}

static void closed(void *ud) { *(int *)ud = 1; }

static void node_stop(cpc_node *n) {
  int done = 0;
  cpc_node_close(n, closed, &done);
  while (!done)
    uv_run(&loop, UV_RUN_ONCE);
}

/* A serialized Work. kind 0 replicate (from addr), 1 delete. */
static size_t work_msg(uint8_t *buf, uint64_t id, int kind, const char *cid,
                       const char *addr, uint64_t size) {
  Cpc__Orchestrator__V1__Work w = CPC__ORCHESTRATOR__V1__WORK__INIT;
  Cpc__Orchestrator__V1__Replicate r = CPC__ORCHESTRATOR__V1__REPLICATE__INIT;
  Cpc__Orchestrator__V1__Delete d = CPC__ORCHESTRATOR__V1__DELETE__INIT;
  Cpc__Orchestrator__V1__Source s = CPC__ORCHESTRATOR__V1__SOURCE__INIT;
  Cpc__Orchestrator__V1__Source *sp = &s;
  char *addrs[1] = {(char *)addr};
  w.work_id = id;
  if (kind == 0) {
    s.addrs = addrs;
    s.n_addrs = 1;
    r.cid = (char *)cid;
    r.sources = &sp;
    r.n_sources = 1;
    r.size = size;
    w.kind_case = CPC__ORCHESTRATOR__V1__WORK__KIND_REPLICATE;
    w.replicate = &r;
  } else {
    d.cid = (char *)cid;
    w.kind_case = CPC__ORCHESTRATOR__V1__WORK__KIND_DELETE;
    w.delete_ = &d;
  }
  return cpc__orchestrator__v1__work__pack(&w, buf);
}

static cpc__work *find_work(cpc_node *n, uint64_t id) {
  cpc__work *w;
  for (w = n->works; w; w = w->next)
    if (w->work_id == id)
      return w;
  return NULL;
}

/* Run the loop until work id reaches the CONFIRM state (or 10 s). */
static cpc__work *run_until_confirm(cpc_node *n, uint64_t id) {
  uint64_t t0 = uv_now(&loop);
  cpc__work *w;
  while ((w = find_work(n, id)) && w->state != CPC__WS_CONFIRM &&
         uv_now(&loop) - t0 < 10000)
    uv_run(&loop, UV_RUN_ONCE);
  assert_non_null(w);
  assert_int_equal(w->state, CPC__WS_CONFIRM);
  return w;
}

static int journal_has(uint64_t id) {
  char p[256];
  struct stat st;
  snprintf(p, sizeof p, "%s/journal/%llu.work", dir, (unsigned long long)id);
  return stat(p, &st) == 0;
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/cpc-test-nodework-XXXXXX");
  assert_non_null(mkdtemp(dir));
  n_lines = 0;
  return uv_loop_init(&loop);
}

static int teardown(void **state) {
  char cmd[256];
  int i;
  (void)state;
  for (i = 0; i < 100 && uv_run(&loop, UV_RUN_NOWAIT); i++)
    ;
  (void)uv_loop_close(&loop); /* busy after a failed test: let it be */
  snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s-origin'", dir, dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void test_replicate_restart_delete(void **state) {
  char store[96], err[256], text[CPC_CID_MAX_TEXT];
  uint8_t block[100000], msg[4096], *got = NULL;
  cpc_node_config c;
  cpc_cid cid;
  cpc_node *n;
  cpc__work *w;
  origin o;
  size_t len, glen = 0;
  (void)state;
  cpc_node_config_default(&c);
  c.capacity = 1000000;
  assert_int_equal(cpc_node_init(dir, &c, NULL, err, sizeof err), 0);
  snprintf(store, sizeof store, "%s-origin", dir);
  memset(&o, 0, sizeof o);
  origin_start(&o, store);
  randombytes_buf(block, sizeof block);
  assert_int_equal(cpc_blockstore_add(o.bs, CPC_CODEC_RAW, CPC_MH_BLAKE3, block,
                                      sizeof block, &cid),
                   0);
  assert_int_equal(cpc_cid_format(&cid, CPC_MB_BASE32, text, sizeof text), 0);

  n = node_start(1000000);
  len = work_msg(msg, 7, 0, text, o.addr, sizeof block);
  cpc__work_on_message(n, msg, len);
  assert_true(journal_has(7));
  /* the same order sent again is not a second order */
  cpc__work_on_message(n, msg, len);
  assert_int_equal(n->n_works, 1);
  w = run_until_confirm(n, 7);
  assert_int_equal(w->ok, 1);
  assert_int_equal(cpc_blockstore_get_alloc(n->bs, &cid, &got, &glen), 0);
  assert_int_equal(glen, sizeof block);
  assert_memory_equal(got, block, sizeof block);
  free(got);
  /* no orchestrator took it: it stays in the journal across a restart */
  assert_true(journal_has(7));
  node_stop(n);
  n = node_start(1000000);
  assert_true(logged("resuming replicate"));
  w = run_until_confirm(n, 7);
  assert_int_equal(w->ok, 1);

  /* past the committed capacity: refused before fetching */
  len = work_msg(msg, 8, 0, text, o.addr, 2000000);
  {
    /* another CID, so the store does not already hold it */
    uint8_t other[64];
    cpc_cid oc;
    char ot[CPC_CID_MAX_TEXT];
    randombytes_buf(other, sizeof other);
    assert_int_equal(cpc_cid_compute(CPC_CODEC_RAW, CPC_MH_BLAKE3, other,
                                     sizeof other, &oc),
                     0);
    assert_int_equal(cpc_cid_format(&oc, CPC_MB_BASE32, ot, sizeof ot), 0);
    len = work_msg(msg, 8, 0, ot, o.addr, 2000000);
    cpc__work_on_message(n, msg, len);
    w = run_until_confirm(n, 8);
    assert_int_equal(w->ok, 0);
    assert_non_null(strstr(w->error, "capacity exceeded"));
    /* declared small, but the origin does not have it: fails */
    len = work_msg(msg, 9, 0, ot, o.addr, 64);
    cpc__work_on_message(n, msg, len);
    w = run_until_confirm(n, 9);
    assert_int_equal(w->ok, 0);
  }

  /* declared 10 bytes, really 100000: the store's quota refuses it */
  {
    uint8_t big[100000];
    cpc_cid bc;
    char bt[CPC_CID_MAX_TEXT];
    randombytes_buf(big, sizeof big);
    assert_int_equal(cpc_blockstore_add(o.bs, CPC_CODEC_RAW, CPC_MH_BLAKE3,
                                        big, sizeof big, &bc),
                     0);
    assert_int_equal(cpc_cid_format(&bc, CPC_MB_BASE32, bt, sizeof bt), 0);
    node_stop(n);
    n = node_start(150000);
    len = work_msg(msg, 11, 0, bt, o.addr, 10);
    cpc__work_on_message(n, msg, len);
    w = run_until_confirm(n, 11);
    assert_int_equal(w->ok, 0);
    assert_non_null(strstr(w->error, "capacity exceeded"));
    assert_true(logged("capacity exceeded"));
  }

  /* delete */
  len = work_msg(msg, 10, 1, text, NULL, 0);
  cpc__work_on_message(n, msg, len);
  w = run_until_confirm(n, 10);
  assert_int_equal(w->ok, 1);
  {
    int found = 1;
    assert_int_equal(cpc_blockstore_has(n->bs, &cid, &found), 0);
    assert_int_equal(found, 0);
  }
  node_stop(n);
  origin_stop(&o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_replicate_restart_delete, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
