/*
 * test_exchange.c: the Bitswap service (cpc/exchange.h) between C hosts on
 * one uv loop over loopback: a 50-block fetch, DONT_HAVE, a provider that
 * leaves mid-fetch, a forged block from a hand-written Bitswap peer, an
 * oversized message, and super-seeding: a seeder and four fetchers that
 * find each other on the DHT, and a fetcher alone with a seeder that
 * holds blocks for a peer that is not fetching any more.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <uv.h>

#include "cpc/dht.h"
#include "cpc/error.h"
#include "cpc/exchange.h"
#include "cpc/varint.h"

static uv_loop_t loop;
static uv_timer_t tick;

static void tick_cb(uv_timer_t *t) {
  (void)t;
}

static int run_until(const int *flag, uint64_t ms) {
  uint64_t end = uv_now(&loop) + ms;
  while (!*flag && uv_now(&loop) < end)
    uv_run(&loop, UV_RUN_ONCE);
  return *flag;
}

static void run_ms(uint64_t ms) {
  int never = 0;
  run_until(&never, ms);
}

/* --- nodes: host + store + exchange ----------------------------------------
 */

struct node {
  cpc_net *net;
  cpc_exchange *ex;
  cpc_blockstore *bs;
  char dir[64];
  int conn_closes;
  cpc_net_handler_fn raw_handler; /* instead of an exchange */
  void *raw_ud;
};

static void ev_close(cpc_net *net, cpc_net_conn *c, int reason, void *ud) {
  struct node *n = ud;
  (void)net;
  (void)reason;
  n->conn_closes++;
  cpc_exchange_conn_closed(n->ex, c);
}

static const cpc_net_events events = {.on_conn_close = ev_close};

static void short_timeouts(cpc_exchange_config *cfg) {
  cpc_exchange_config_default(cfg);
  cfg->client.have_timeout_ms = 500;
  cfg->client.block_timeout_ms = 1000;
  cfg->tick_ms = 20;
}

/* A listening node; with_exchange 0: a bare host (tests add raw handlers);
 * dht: run the DHT (server mode), joining through boot (may be NULL). */
static void node_start_dht(struct node *n, int with_exchange,
                           const cpc_exchange_config *cfg, int dht,
                           const cpc_multiaddr *boot) {
  cpc_net_builder *b;
  cpc_multiaddr ma;
  const char *listen = "/ip4/127.0.0.1/tcp/0";
  memset(n, 0, sizeof *n);
  assert_int_equal(cpc_net_builder_new(&loop, &b), 0);
  assert_int_equal(cpc_net_builder_with_tcp(b), 0);
  assert_int_equal(cpc_multiaddr_parse(&ma, listen, strlen(listen)), 0);
  assert_int_equal(cpc_net_builder_listen(b, &ma), 0);
  if (dht)
    assert_int_equal(cpc_net_builder_with_kademlia(b, CPC_NET_KAD_SERVER,
                                                   boot, boot ? 1 : 0),
                     0);
  cpc_net_builder_events(b, &events, n);
  assert_int_equal(cpc_net_builder_build(b, &n->net), 0);
  cpc_net_builder_free(b);
  if (!with_exchange)
    return;
  snprintf(n->dir, sizeof n->dir, "/tmp/cpc-test-exchange-XXXXXX");
  assert_non_null(mkdtemp(n->dir));
  assert_int_equal(cpc_blockstore_open(n->dir, CPC_BLOCKSTORE_NOSYNC, &n->bs),
                   0);
  assert_int_equal(cpc_exchange_new(&loop, n->net, n->bs, cfg, &n->ex), 0);
}

static void node_start(struct node *n, int with_exchange,
                       const cpc_exchange_config *cfg) {
  node_start_dht(n, with_exchange, cfg, 0, NULL);
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void on_closed(void *ud) {
  (*(int *)ud)++;
}

static void node_stop(struct node *n) {
  int done = 0, ex_done = 0;
  if (!n->net)
    return;
  if (n->ex) {
    cpc_exchange_close(n->ex, on_closed, &ex_done);
    n->ex = NULL;
  } else {
    ex_done = 1;
  }
  cpc_net_close(n->net, on_closed, &done);
  assert_true(run_until(&done, 5000));
  assert_true(run_until(&ex_done, 5000));
  n->net = NULL;
  if (n->bs) {
    cpc_blockstore_close(n->bs);
    n->bs = NULL;
    nftw(n->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
  }
}

static cpc_multiaddr node_addr(const struct node *n) {
  cpc_multiaddr out[4];
  size_t k = 0;
  assert_int_equal(cpc_net_listen_addrs(n->net, out, 4, &k), 0);
  assert_true(k >= 1);
  return out[0];
}

/* Put count random blocks of size bytes (blake3 raw) into each of the
 * nodes; their CIDs into cids, their bytes into data[i] (malloc'd). */
static void put_blocks(struct node **nodes, size_t n_nodes, size_t count,
                       size_t size, cpc_cid *cids, uint8_t **data) {
  for (size_t i = 0; i < count; i++) {
    data[i] = malloc(size);
    assert_non_null(data[i]);
    randombytes_buf(data[i], size);
    for (size_t k = 0; k < n_nodes; k++)
      assert_int_equal(cpc_blockstore_add(nodes[k]->bs, CPC_CODEC_RAW,
                                          CPC_MH_BLAKE3, data[i], size,
                                          &cids[i]),
                       0);
  }
}

/* --- a fetch that records what it got ------------------------------------- */

struct got {
  int done, rc;
  size_t blocks, bad;
  const cpc_cid *cids;
  uint8_t **data;
  size_t n, size;
  int (*on_nth)(struct got *g); /* called after each block */
  void *ctx;
};

static void got_block(void *ud, const cpc_cid *cid, const uint8_t *d,
                      size_t len) {
  struct got *g = ud;
  size_t i;
  for (i = 0; i < g->n; i++)
    if (cpc_cid_equal(&g->cids[i], cid))
      break;
  if (i == g->n || !g->data || len != g->size ||
      memcmp(g->data[i], d, len) != 0)
    g->bad++;
  g->blocks++;
  if (g->on_nth)
    g->on_nth(g);
}

static void got_done(void *ud, int rc) {
  struct got *g = ud;
  g->done = 1;
  g->rc = rc;
}

static const cpc_exchange_fetch_callbacks got_cb = {got_block, got_done};

/* --- tests ------------------------------------------------------------------
 */

static void test_fetch_50(void **state) {
  struct node a, b;
  struct node *pa = &a;
  enum { N = 50, SIZE = 100000 };
  cpc_cid cids[N];
  uint8_t *data[N];
  cpc_exchange_fetch *f;
  cpc_multiaddr ma;
  struct got g = {0};
  cpc_exchange_stats st;
  cpc_exchange_fetch_stats fs;
  cpc_exchange_config cfg;
  (void)state;
  node_start(&a, 1, NULL);
  put_blocks(&pa, 1, N, SIZE, cids, data);
  /* B fetches at once after it starts, with a fast clock: a tick during
   * the fetch must not find every want timed out */
  cpc_exchange_config_default(&cfg);
  cfg.tick_ms = 2;
  node_start(&b, 1, &cfg);
  ma = node_addr(&a);
  g.cids = cids;
  g.data = data;
  g.n = N;
  g.size = SIZE;
  assert_int_equal(
      cpc_exchange_fetch_start(b.ex, cids, N, &ma, 1, NULL, 0, &got_cb, &g, &f),
      0);
  assert_true(run_until(&g.done, 10000));
  assert_int_equal(g.rc, 0);
  assert_int_equal(g.blocks, N);
  assert_int_equal(g.bad, 0);
  cpc_exchange_fetch_stats_get(f, &fs);
  assert_int_equal(fs.received, N);
  assert_int_equal(fs.from_store, 0);
  assert_int_equal(fs.connected, 1);
  assert_int_equal(fs.timeouts, 0);
  cpc_exchange_fetch_free(f);
  for (size_t i = 0; i < N; i++) { /* stored in B, bytes intact */
    uint8_t buf[SIZE];
    size_t len = 0;
    assert_int_equal(cpc_blockstore_get(b.bs, &cids[i], buf, sizeof buf, &len),
                     0);
    assert_int_equal(len, SIZE);
    assert_memory_equal(buf, data[i], SIZE);
  }
  cpc_exchange_stats_get(b.ex, &st);
  assert_int_equal(st.blocks_received, N);
  assert_int_equal(st.blocks_unwanted, 0);

  /* again: every block comes from B's store, no network */
  memset(&g, 0, sizeof g);
  g.cids = cids;
  g.data = data;
  g.n = N;
  g.size = SIZE;
  assert_int_equal(cpc_exchange_fetch_start(b.ex, cids, N, NULL, 0, NULL, 0,
                                            &got_cb, &g, &f),
                   0);
  assert_true(run_until(&g.done, 2000));
  assert_int_equal(g.rc, 0);
  assert_int_equal(g.blocks, N);
  cpc_exchange_fetch_stats_get(f, &fs);
  assert_int_equal(fs.from_store, N);
  cpc_exchange_fetch_free(f);
  node_stop(&b);
  node_stop(&a);
  for (size_t i = 0; i < N; i++)
    free(data[i]);
}

static void test_dont_have_and_unreachable(void **state) {
  struct node a, b;
  struct node *pa = &a;
  cpc_cid have, missing;
  uint8_t *data[1];
  uint8_t junk[32];
  cpc_exchange_fetch *f;
  cpc_multiaddr ma, dead;
  struct got g = {0};
  cpc_exchange_fetch_stats fs;
  uint64_t t0;
  (void)state;
  node_start(&a, 1, NULL);
  node_start(&b, 1, NULL);
  put_blocks(&pa, 1, 1, 1000, &have, data);
  randombytes_buf(junk, sizeof junk);
  assert_int_equal(cpc_cid_compute(CPC_CODEC_RAW, CPC_MH_BLAKE3, junk,
                                   sizeof junk, &missing),
                   0);
  ma = node_addr(&a);
  /* DONT_HAVE ends the fetch at once (well before the 5 s timeout) */
  t0 = uv_now(&loop);
  assert_int_equal(cpc_exchange_fetch_start(b.ex, &missing, 1, &ma, 1, NULL, 0,
                                            &got_cb, &g, &f),
                   0);
  assert_true(run_until(&g.done, 4000));
  assert_int_equal(g.rc, CPC_ENOENT);
  assert_true(uv_now(&loop) - t0 < 2000);
  assert_int_equal(g.blocks, 0);
  cpc_exchange_fetch_free(f);
  /* the connected peer by PeerId: the block it has */
  {
    cpc_peer_id id;
    cpc_net_peer_id(a.net, &id);
    memset(&g, 0, sizeof g);
    g.cids = &have;
    g.data = data;
    g.n = 1;
    g.size = 1000;
    assert_int_equal(cpc_exchange_fetch_start(b.ex, &have, 1, NULL, 0, &id, 1,
                                              &got_cb, &g, &f),
                     0);
    assert_true(run_until(&g.done, 4000));
    assert_int_equal(g.rc, 0);
    assert_int_equal(g.bad, 0);
    cpc_exchange_fetch_free(f);
  }
  /* an address nobody listens on: CPC_EIO, and why */
  node_stop(&a);
  dead = ma;
  memset(&g, 0, sizeof g);
  assert_int_equal(cpc_exchange_fetch_start(b.ex, &missing, 1, &dead, 1, NULL,
                                            0, &got_cb, &g, &f),
                   0);
  assert_true(run_until(&g.done, 5000));
  assert_int_equal(g.rc, CPC_EIO);
  cpc_exchange_fetch_stats_get(f, &fs);
  assert_int_equal(fs.failed, 1);
  assert_true(fs.provider_error < 0);
  cpc_exchange_fetch_free(f);
  node_stop(&b);
  free(data[0]);
}

/* Close provider A's host from B's on_block once some blocks arrived. */
struct leave {
  struct node *a;
  size_t after;
  int left, closed, ex_closed;
};

static int leave_on_nth(struct got *g) {
  struct leave *l = g->ctx;
  if (l->left || g->blocks < l->after)
    return 0;
  l->left = 1;
  cpc_exchange_close(l->a->ex, on_closed, &l->ex_closed);
  l->a->ex = NULL;
  cpc_net_close(l->a->net, on_closed, &l->closed);
  return 0;
}

static void test_provider_leaves(void **state) {
  struct node a, b, c;
  struct node *both[2] = {&a, &c};
  enum { N = 120, SIZE = 100000 };
  cpc_cid *cids = calloc(N, sizeof *cids);
  uint8_t *data[N];
  cpc_multiaddr ma[2];
  cpc_exchange_fetch *f;
  struct got g = {0};
  struct leave l = {0};
  (void)state;
  assert_non_null(cids);
  /* default timeouts: the leaving peer's wants move at once, not on a
   * timeout (short ones would also trip on a slow sanitizer build) */
  node_start(&a, 1, NULL);
  node_start(&c, 1, NULL);
  node_start(&b, 1, NULL);
  put_blocks(both, 2, N, SIZE, cids, data);
  ma[0] = node_addr(&a);
  ma[1] = node_addr(&c);
  g.cids = cids;
  g.data = data;
  g.n = N;
  g.size = SIZE;
  g.on_nth = leave_on_nth;
  g.ctx = &l;
  l.a = &a;
  l.after = 10;
  assert_int_equal(
      cpc_exchange_fetch_start(b.ex, cids, N, ma, 2, NULL, 0, &got_cb, &g, &f),
      0);
  assert_true(run_until(&g.done, 15000));
  assert_true(l.left);
  assert_int_equal(g.rc, 0);
  assert_int_equal(g.blocks, N);
  assert_int_equal(g.bad, 0);
  assert_true(run_until(&l.closed, 5000));
  assert_true(run_until(&l.ex_closed, 5000));
  a.net = NULL; /* closed above; its store still needs closing */
  cpc_blockstore_close(a.bs);
  a.bs = NULL;
  nftw(a.dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
  cpc_exchange_fetch_free(f);
  node_stop(&b);
  node_stop(&c);
  for (size_t i = 0; i < N; i++)
    free(data[i]);
  free(cids);
}

/* --- a hand-written Bitswap peer -------------------------------------------
 */

struct forger {
  struct node *n;
  cpc_cid want;
  const uint8_t *good;
  size_t good_len;
  int wants_seen, sent;
  cpc_net_stream *out;
};

static void forger_open(cpc_net_stream *s, void *ud) {
  struct forger *fg = ud;
  uint8_t bad[1000];
  uint8_t *enc = NULL;
  size_t len = 0;
  cpc_bitswap_block blk;
  cpc_bitswap_message m;
  /* first a block under the wanted CID's prefix whose bytes are not it */
  memcpy(bad, fg->good, sizeof bad);
  bad[0] ^= 1;
  memset(&m, 0, sizeof m);
  blk.cid = fg->want;
  blk.data = bad;
  blk.len = sizeof bad;
  m.blocks = &blk;
  m.n_blocks = 1;
  assert_int_equal(
      cpc_bitswap_message_encode(&m, CPC_BITSWAP_1_2_0, &enc, &len), 0);
  assert_int_equal(cpc_net_stream_write(s, enc, len), 0);
  free(enc);
  /* then the genuine block */
  blk.data = fg->good;
  blk.len = fg->good_len;
  assert_int_equal(
      cpc_bitswap_message_encode(&m, CPC_BITSWAP_1_2_0, &enc, &len), 0);
  assert_int_equal(cpc_net_stream_write(s, enc, len), 0);
  free(enc);
  fg->sent = 1;
  cpc_net_stream_close_write(s);
}

static void forger_close(cpc_net_stream *s, int status, void *ud) {
  struct forger *fg = ud;
  (void)s;
  (void)status;
  fg->out = NULL;
}

static const cpc_net_stream_callbacks forger_out_cbs = {
    .on_open = forger_open, .on_close = forger_close};

static void forger_data(cpc_net_stream *s, const uint8_t *d, size_t n,
                        void *ud) {
  struct forger *fg = ud;
  (void)d;
  (void)n;
  if (fg->wants_seen++ == 0) /* answer on a stream of our own */
    assert_int_equal(cpc_net_stream_open(cpc_net_stream_conn(s),
                                         CPC_BITSWAP_PROTOCOL_120,
                                         &forger_out_cbs, fg, &fg->out),
                     0);
}

static const cpc_net_stream_callbacks forger_in_cbs = {.on_data = forger_data};

static void forger_handler(cpc_net_stream *s, const char *protocol, void *ud) {
  (void)protocol;
  cpc_net_stream_set_callbacks(s, &forger_in_cbs, ud);
}

static void test_forged_block(void **state) {
  struct node f_node, b;
  struct forger fg = {0};
  uint8_t good[1000];
  cpc_multiaddr ma;
  cpc_exchange_fetch *f;
  struct got g = {0};
  cpc_exchange_stats st;
  cpc_blockstore_stats bst;
  uint8_t back[1000];
  size_t len = 0;
  uint8_t *gd[1] = {good};
  (void)state;
  node_start(&f_node, 0, NULL);
  node_start(&b, 1, NULL);
  randombytes_buf(good, sizeof good);
  assert_int_equal(cpc_cid_compute(CPC_CODEC_RAW, CPC_MH_BLAKE3, good,
                                   sizeof good, &fg.want),
                   0);
  fg.good = good;
  fg.good_len = sizeof good;
  fg.n = &f_node;
  assert_int_equal(
      cpc_net_handle(f_node.net, CPC_BITSWAP_PROTOCOL_120, forger_handler, &fg),
      0);
  ma = node_addr(&f_node);
  g.cids = &fg.want;
  g.data = gd;
  g.n = 1;
  g.size = sizeof good;
  assert_int_equal(cpc_exchange_fetch_start(b.ex, &fg.want, 1, &ma, 1, NULL, 0,
                                            &got_cb, &g, &f),
                   0);
  assert_true(run_until(&g.done, 5000));
  assert_true(fg.sent);
  assert_int_equal(g.rc, 0);
  assert_int_equal(g.blocks, 1);
  assert_int_equal(g.bad, 0); /* on_block saw the genuine bytes only */
  cpc_exchange_stats_get(b.ex, &st);
  assert_int_equal(st.blocks_unwanted, 1);
  assert_int_equal(cpc_blockstore_stats_get(b.bs, &bst), 0);
  assert_int_equal(bst.count, 1); /* the forged one was never stored */
  assert_int_equal(cpc_blockstore_get(b.bs, &fg.want, back, sizeof back, &len),
                   0);
  assert_memory_equal(back, good, sizeof good);
  cpc_exchange_fetch_free(f);
  node_stop(&b);
  node_stop(&f_node);
}

/* --- a peer that never answers ----------------------------------------------
 */

static void silent_handler(cpc_net_stream *s, const char *protocol, void *ud) {
  (void)protocol;
  (void)ud;
  cpc_net_stream_set_callbacks(s, NULL, NULL); /* reads and ignores */
}

static void test_silent_peer_times_out(void **state) {
  struct node quiet, b;
  cpc_exchange_config cfg;
  cpc_multiaddr ma;
  cpc_exchange_fetch *f;
  struct got g = {0};
  uint8_t junk[32];
  cpc_cid cid;
  uint64_t t0;
  (void)state;
  node_start(&quiet, 0, NULL);
  assert_int_equal(
      cpc_net_handle(quiet.net, CPC_BITSWAP_PROTOCOL_120, silent_handler, NULL),
      0);
  randombytes_buf(junk, sizeof junk);
  assert_int_equal(
      cpc_cid_compute(CPC_CODEC_RAW, CPC_MH_BLAKE3, junk, sizeof junk, &cid),
      0);
  ma = node_addr(&quiet);
  short_timeouts(&cfg);
  cfg.tick_ms = 150; /* the first tick comes after the session started */
  node_start(&b, 1, &cfg);
  t0 = uv_now(&loop);
  assert_int_equal(
      cpc_exchange_fetch_start(b.ex, &cid, 1, &ma, 1, NULL, 0, &got_cb, &g, &f),
      0);
  assert_true(run_until(&g.done, 5000));
  assert_int_equal(g.rc, CPC_ETIMEDOUT);
  /* after the want-have timeout (500 ms), not at the first tick */
  assert_true(uv_now(&loop) - t0 >= 450);
  cpc_exchange_fetch_free(f);
  node_stop(&b);
  node_stop(&quiet);
}

/* --- oversized message -----------------------------------------------------
 */

struct big {
  int opened, closed, status;
};

static void big_open(cpc_net_stream *s, void *ud) {
  struct big *bg = ud;
  uint8_t hdr[10];
  size_t n = 0;
  static uint8_t body[4096];
  bg->opened = 1;
  assert_int_equal(
      cpc_varint_encode(CPC_BITSWAP_MAX_MESSAGE + 1, hdr, sizeof hdr, &n), 0);
  assert_int_equal(cpc_net_stream_write(s, hdr, n), 0);
  assert_int_equal(cpc_net_stream_write(s, body, sizeof body), 0);
}

static void big_close(cpc_net_stream *s, int status, void *ud) {
  struct big *bg = ud;
  (void)s;
  bg->closed = 1;
  bg->status = status;
}

static const cpc_net_stream_callbacks big_cbs = {.on_open = big_open,
                                                 .on_close = big_close};

struct dial {
  int done, status;
  cpc_net_conn *conn;
};

static void dial_cb(cpc_net *net, int status, cpc_net_conn *c, void *ud) {
  struct dial *d = ud;
  (void)net;
  d->done = 1;
  d->status = status;
  d->conn = c;
}

static void test_oversized(void **state) {
  struct node sender, b;
  struct dial d = {0};
  struct big bg = {0};
  cpc_net_stream *s;
  cpc_multiaddr ma;
  cpc_exchange_stats st;
  (void)state;
  node_start(&sender, 0, NULL);
  node_start(&b, 1, NULL);
  ma = node_addr(&b);
  assert_int_equal(cpc_net_dial(sender.net, &ma, dial_cb, &d), 0);
  assert_true(run_until(&d.done, 5000));
  assert_int_equal(d.status, 0);
  assert_int_equal(
      cpc_net_stream_open(d.conn, CPC_BITSWAP_PROTOCOL_120, &big_cbs, &bg, &s),
      0);
  assert_true(run_until(&sender.conn_closes, 5000)); /* disconnected */
  assert_true(bg.opened);
  assert_true(run_until(&bg.closed, 2000));
  assert_int_not_equal(bg.status, 0);
  cpc_exchange_stats_get(b.ex, &st);
  assert_int_equal(st.oversized, 1);
  run_ms(50);
  node_stop(&b);
  node_stop(&sender);
}

/* --- super-seeding ----------------------------------------------------------
 */

static void joined_cb(cpc_dht *d, int rc, void *ud) {
  (void)d;
  (void)rc;
  (*(int *)ud)++;
}

/* Every block of cids in n's store, with the bytes of data. */
static void check_store(struct node *n, const cpc_cid *cids, uint8_t **data,
                        size_t count, size_t size) {
  uint8_t *buf = malloc(size);
  assert_non_null(buf);
  for (size_t i = 0; i < count; i++) {
    size_t len = 0;
    assert_int_equal(cpc_blockstore_get(n->bs, &cids[i], buf, size, &len), 0);
    assert_int_equal(len, size);
    assert_memory_equal(buf, data[i], size);
  }
  free(buf);
}

/*
 * One seeder and NF fetchers of one content, all on the DHT; every
 * fetcher is given the seeder only. superseed on: they find each other
 * (DHT providers of the first CID, and the wants they send each other)
 * and the seeder's egress stays well under NF times the content; off:
 * plain Bitswap, every fetcher takes everything from the seeder. Returns
 * the seeder's Bitswap egress.
 */
static uint64_t swarm_fetch(int superseed, const cpc_cid *cids, uint8_t **data,
                            size_t count, size_t size) {
  enum { NF = 4 };
  struct node seed, fx[NF];
  cpc_exchange_config cfg;
  cpc_exchange_fetch *f[NF];
  struct got g[NF];
  cpc_multiaddr ma;
  cpc_exchange_stats st;
  int joined = 0;
  uint64_t egress;
  cpc_exchange_config_default(&cfg);
  cfg.superseed = superseed;
  cfg.swarm_lookup_ms = 300;
  cfg.tick_ms = 20;
  cfg.server.seed_hold_ms = 2000;
  node_start_dht(&seed, 1, &cfg, 1, NULL);
  for (size_t i = 0; i < count; i++)
    assert_int_equal(cpc_blockstore_put(seed.bs, &cids[i], data[i], size), 0);
  ma = node_addr(&seed);
  for (int k = 0; k < NF; k++) {
    node_start_dht(&fx[k], 1, &cfg, 1, &ma);
    assert_int_equal(
        cpc_dht_on_joined(cpc_net_dht(fx[k].net), joined_cb, &joined), 0);
  }
  {
    uint64_t end = uv_now(&loop) + 10000;
    while (joined < NF && uv_now(&loop) < end)
      uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(joined, NF);
  }
  for (int k = 0; k < NF; k++) {
    memset(&g[k], 0, sizeof g[k]);
    g[k].cids = cids;
    g[k].data = data;
    g[k].n = count;
    g[k].size = size;
    assert_int_equal(cpc_exchange_fetch_start(fx[k].ex, cids, count, &ma, 1,
                                              NULL, 0, &got_cb, &g[k], &f[k]),
                     0);
    /* the swarm named by the last CID (as a content id would be) */
    assert_int_equal(cpc_exchange_fetch_swarm_key(f[k], &cids[count - 1]), 0);
  }
  {
    uint64_t end = uv_now(&loop) + 60000;
    int done = 0;
    while (done < NF && uv_now(&loop) < end) {
      uv_run(&loop, UV_RUN_ONCE);
      done = 0;
      for (int k = 0; k < NF; k++)
        done += g[k].done;
    }
  }
  for (int k = 0; k < NF; k++) {
    cpc_exchange_fetch_stats fs;
    assert_true(g[k].done);
    assert_int_equal(g[k].rc, 0);
    assert_int_equal(g[k].blocks, count);
    assert_int_equal(g[k].bad, 0);
    assert_int_equal(cpc_exchange_fetch_swarm_key(f[k], &cids[0]),
                     CPC_ESTATE);
    cpc_exchange_fetch_stats_get(f[k], &fs);
    if (getenv("CPC_TEST_VERBOSE")) {
      cpc_exchange_stats_get(fx[k].ex, &st);
      print_message("fetcher %d: swarm %zu out %llu holds %llu\n", k,
                    fs.swarm, (unsigned long long)st.bytes_out,
                    (unsigned long long)st.holds);
    }
    if (superseed)
      assert_true(fs.swarm > 0); /* it found other fetchers */
    else
      assert_int_equal(fs.swarm, 0);
    cpc_exchange_fetch_free(f[k]);
    check_store(&fx[k], cids, data, count, size);
  }
  cpc_exchange_stats_get(seed.ex, &st);
  egress = st.bytes_out;
  if (getenv("CPC_TEST_VERBOSE"))
    print_message("seeder: holds %llu released %llu out %llu\n",
                  (unsigned long long)st.holds,
                  (unsigned long long)st.hold_released,
                  (unsigned long long)st.bytes_out);
  if (superseed)
    assert_true(st.holds > 0);
  else
    assert_int_equal(st.holds, 0);
  for (int k = 0; k < NF; k++)
    node_stop(&fx[k]);
  node_stop(&seed);
  return egress;
}

static void test_superseed_swarm(void **state) {
  enum { N = 64, SIZE = 64 * 1024 };
  cpc_cid cids[N];
  uint8_t *data[N];
  uint64_t on, off;
  (void)state;
  for (size_t i = 0; i < N; i++) {
    data[i] = malloc(SIZE);
    assert_non_null(data[i]);
    randombytes_buf(data[i], SIZE);
    assert_int_equal(cpc_cid_compute(CPC_CODEC_RAW, CPC_MH_BLAKE3, data[i],
                                     SIZE, &cids[i]),
                     0);
  }
  on = swarm_fetch(1, cids, data, N, SIZE);
  off = swarm_fetch(0, cids, data, N, SIZE);
  print_message("superseed: seeder egress %.2f x the content (plain %.2f)\n",
                (double)on / (N * SIZE), (double)off / (N * SIZE));
  assert_true(off >= 4ull * N * SIZE);  /* plain: each fetcher, everything */
  assert_true(on < 2ull * N * SIZE);    /* well under 4 x */
  for (size_t i = 0; i < N; i++)
    free(data[i]);
}

/* A fetcher alone with a seeder that sent every block to another peer,
 * which stays connected but is not fetching: the holds run out and the
 * fetch completes. */
static void test_superseed_alone(void **state) {
  struct node seed, a, b;
  struct node *ps = &seed;
  enum { N = 40, SIZE = 50000 };
  cpc_cid cids[N];
  uint8_t *data[N];
  cpc_exchange_config cfg;
  cpc_exchange_fetch *f;
  cpc_multiaddr ma;
  cpc_exchange_stats st;
  struct got g = {0};
  uint64_t t0;
  (void)state;
  cpc_exchange_config_default(&cfg);
  cfg.tick_ms = 20;
  cfg.server.seed_hold_ms = 300;
  node_start(&seed, 1, &cfg);
  node_start(&a, 1, &cfg);
  node_start(&b, 1, &cfg);
  put_blocks(&ps, 1, N, SIZE, cids, data);
  ma = node_addr(&seed);
  g.cids = cids;
  g.data = data;
  g.n = N;
  g.size = SIZE;
  assert_int_equal(
      cpc_exchange_fetch_start(a.ex, cids, N, &ma, 1, NULL, 0, &got_cb, &g, &f),
      0);
  assert_true(run_until(&g.done, 10000));
  assert_int_equal(g.rc, 0);
  cpc_exchange_fetch_free(f);
  cpc_exchange_stats_get(seed.ex, &st);
  assert_int_equal(st.holds, 0); /* one fetcher: nothing held */
  memset(&g, 0, sizeof g);
  g.cids = cids;
  g.data = data;
  g.n = N;
  g.size = SIZE;
  t0 = uv_now(&loop);
  assert_int_equal(
      cpc_exchange_fetch_start(b.ex, cids, N, &ma, 1, NULL, 0, &got_cb, &g, &f),
      0);
  assert_true(run_until(&g.done, 10000));
  assert_int_equal(g.rc, 0);
  assert_int_equal(g.blocks, N);
  assert_int_equal(g.bad, 0);
  cpc_exchange_stats_get(seed.ex, &st);
  if (getenv("CPC_TEST_VERBOSE"))
    print_message("alone: %llu ms, holds %llu released %llu\n",
                  (unsigned long long)(uv_now(&loop) - t0),
                  (unsigned long long)st.holds,
                  (unsigned long long)st.hold_released);
  /* held (300 ms, on a clock of 20 ms ticks), then sent */
  assert_true(uv_now(&loop) - t0 >= 250);
  cpc_exchange_fetch_free(f);
  check_store(&b, cids, data, N, SIZE);
  cpc_exchange_stats_get(seed.ex, &st);
  assert_int_equal(st.holds, N); /* every block went to a before */
  assert_int_equal(st.hold_released, st.holds);
  node_stop(&b);
  node_stop(&a);
  node_stop(&seed);
  for (size_t i = 0; i < N; i++)
    free(data[i]);
}

static int setup(void **state) {
  (void)state;
  assert_true(sodium_init() >= 0);
  signal(SIGPIPE, SIG_IGN);
  uv_loop_init(&loop);
  uv_timer_init(&loop, &tick);
  uv_timer_start(&tick, tick_cb, 10, 10);
  return 0;
}

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

static int teardown(void **state) {
  uint64_t end;
  (void)state;
  uv_close((uv_handle_t *)&tick, NULL);
  /* a failed test may leave hosts open: give them 2 s, then close all */
  uv_update_time(&loop);
  end = uv_now(&loop) + 2000;
  while (uv_run(&loop, UV_RUN_NOWAIT) && uv_now(&loop) < end)
    uv_sleep(1);
  uv_walk(&loop, close_any, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fetch_50),
      cmocka_unit_test(test_dont_have_and_unreachable),
      cmocka_unit_test(test_provider_leaves),
      cmocka_unit_test(test_forged_block),
      cmocka_unit_test(test_oversized),
      cmocka_unit_test(test_silent_peer_times_out),
      cmocka_unit_test(test_superseed_swarm),
      cmocka_unit_test(test_superseed_alone),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
