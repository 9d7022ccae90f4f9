/*
 * test_kad.c: the Kademlia DHT: message bytes (against @libp2p/kad-dht's
 * encoder) and caps, XOR distance and bucket placement, routing-table
 * eviction with liveness pings, record validation (/pk/, /cpc/ with forged
 * signatures and stale seq), ADD_PROVIDER from the wrong sender, expiry
 * and republishing, client mode, and lookups in a simulated in-memory
 * network of 200 nodes (hops per lookup, a quarter of the nodes gone).
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpc/error.h"
#include "cpc/kad.h"
#include "cpc/multihash.h"
#include "kad/kad_int.h"

#define HOUR (3600ull * 1000ull)
#define T0 1700000000000ull /* a made-up epoch time in ms */

/* ---- helpers ------------------------------------------------------------ */

static size_t unhex(const char *h, uint8_t *out, size_t cap) {
  size_t n = strlen(h) / 2;
  assert_true(n <= cap);
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
    out[i] = (uint8_t)v;
  }
  return n;
}

static void make_key(unsigned i, cpc_privkey *k) {
  uint8_t seed[32];
  memset(seed, 0x5a, sizeof seed);
  seed[0] = (uint8_t)i;
  seed[1] = (uint8_t)(i >> 8);
  assert_int_equal(cpc_privkey_from_raw(CPC_KEY_ED25519, seed, 32, k), 0);
}

static void make_id(unsigned i, cpc_peer_id *id) {
  cpc_privkey k;
  make_key(i, &k);
  assert_int_equal(cpc_peer_id_from_pubkey(&k.pub, id), 0);
  cpc_privkey_wipe(&k);
}

/* /ip4/10.0.X.Y/tcp/4001 with X.Y = i: the simulation reads i back. */
static void make_addr(unsigned i, cpc_multiaddr *ma) {
  uint8_t ip[4] = {10, 0, (uint8_t)(i >> 8), (uint8_t)i};
  assert_int_equal(cpc_multiaddr_from_ip(ma, ip, 4, CPC_MA_TCP, 4001), 0);
}

static void make_peer(unsigned i, cpc_kad_peer *p) {
  cpc_peer_id id;
  cpc_multiaddr ma;
  make_id(i, &id);
  make_addr(i, &ma);
  memset(p, 0, sizeof *p);
  assert_int_equal(cpc_kad_peer_set(p, &id, &ma, 1), 0);
}

static void content_mh(unsigned i, uint8_t out[34]) {
  char text[32];
  cpc_multihash mh;
  size_t w;
  snprintf(text, sizeof text, "content %u", i);
  assert_int_equal(
      cpc_multihash_compute(CPC_MH_SHA2_256, text, strlen(text), &mh), 0);
  assert_int_equal(cpc_multihash_encode(&mh, out, 34, &w), 0);
  assert_int_equal(w, 34);
}

/* ---- a transport that records what is sent ------------------------------ */

typedef struct sent_msg {
  uint64_t req_id;
  cpc_peer_id to;
  cpc_kad_message m;
  int expect;
} sent_msg;

typedef struct recorder {
  sent_msg s[64];
  size_t n;
  size_t cancels;
} recorder;

static int rec_send(void *ctx, uint64_t req_id, const cpc_kad_peer *to,
                    const uint8_t *framed, size_t len, int expect) {
  recorder *r = ctx;
  const uint8_t *msg;
  size_t mlen, used;
  assert_true(r->n < 64);
  assert_int_equal(cpc_kad_frame_parse(framed, len, 0, &msg, &mlen, &used), 0);
  assert_int_equal(used, len);
  r->s[r->n].req_id = req_id;
  r->s[r->n].to = to->id;
  r->s[r->n].expect = expect;
  assert_int_equal(cpc_kad_message_decode(msg, mlen, &r->s[r->n].m), 0);
  r->n++;
  return 0;
}

static void rec_cancel(void *ctx, uint64_t req_id) {
  recorder *r = ctx;
  (void)req_id;
  r->cancels++;
}

static void rec_reset(recorder *r) {
  for (size_t i = 0; i < r->n; i++)
    cpc_kad_message_clear(&r->s[i].m);
  r->n = 0;
  r->cancels = 0;
}

static cpc_kad *new_node(unsigned i, recorder *r, const cpc_kad_config *cfg) {
  cpc_kad_transport t = {rec_send, rec_cancel, r};
  cpc_peer_id id;
  cpc_multiaddr ma;
  cpc_kad *d;
  make_id(i, &id);
  assert_int_equal(cpc_kad_new(&id, cfg, &t, T0, &d), 0);
  make_addr(i, &ma);
  assert_int_equal(cpc_kad_set_self_addrs(d, &ma, 1), 0);
  return d;
}

/* ---- messages ----------------------------------------------------------- */

/* Bytes written by @libp2p/kad-dht 16's Message.encode (node, once):
 * GET_PROVIDERS, key = sha2-256 multihash of 0xab * 32, one closer peer
 * and one provider (identity PeerId of the Ed25519 key 0x07 * 32) with
 * /ip4/127.0.0.1/tcp/4001 (twice for the provider). */
static const char *JS_GET_PROVIDERS =
    "080312221220ababababababababababababababababababababababababababababab"
    "ababab42320a2600240801122007070707070707070707070707070707070707070707"
    "070707070707070707071208047f000001060fa14a3c0a260024080112200707070707"
    "0707070707070707070707070707070707070707070707070707071208047f00000106"
    "0fa11208047f000001060fa1";
/* PUT_VALUE (type 0, not written), key "/pk", record {key "/pk", value
 * "A"}. */
static const char *JS_PUT_VALUE = "12032f706b1a080a032f706b120141";

static void test_message_js_vectors(void **state) {
  uint8_t in[512], *out;
  size_t n = unhex(JS_GET_PROVIDERS, in, sizeof in), out_len;
  const uint8_t *msg;
  size_t mlen, used;
  cpc_kad_message m;
  cpc_multiaddr ma;
  char text[128];
  (void)state;

  assert_int_equal(cpc_kad_message_decode(in, n, &m), 0);
  assert_int_equal(m.type, CPC_KAD_GET_PROVIDERS);
  assert_int_equal(m.key_len, 34);
  assert_int_equal(m.key[0], 0x12);
  assert_int_equal(m.n_closer, 1);
  assert_int_equal(m.n_providers, 1);
  assert_int_equal(m.closer[0].id.len, 38);
  assert_int_equal(m.closer[0].n_addrs, 1);
  assert_int_equal(m.providers[0].n_addrs, 1); /* the duplicate merged */
  assert_int_equal(cpc_kad_peer_addr(&m.closer[0], 0, &ma), 0);
  assert_int_equal(cpc_multiaddr_format(&ma, text, sizeof text, NULL), 0);
  assert_string_equal(text, "/ip4/127.0.0.1/tcp/4001");
  assert_int_equal(m.has_record, 0);
  /* Re-encode: the same bytes except the provider's duplicate address. */
  assert_int_equal(cpc_kad_message_encode(&m, &out, &out_len), 0);
  assert_int_equal(cpc_kad_frame_parse(out, out_len, 0, &msg, &mlen, &used), 0);
  assert_int_equal(used, out_len);
  assert_int_equal(mlen, n - 10);
  assert_memory_equal(msg, in, 91); /* up to the provider list */
  assert_int_equal(msg[91], 0x32);  /* its length, one address less */
  assert_memory_equal(msg + 92, in + 92, 50);
  free(out);
  cpc_kad_message_clear(&m);

  n = unhex(JS_PUT_VALUE, in, sizeof in);
  assert_int_equal(cpc_kad_message_decode(in, n, &m), 0);
  assert_int_equal(m.type, CPC_KAD_PUT_VALUE);
  assert_int_equal(m.has_record, 1);
  assert_int_equal(m.rec_key_len, 3);
  assert_memory_equal(m.rec_key, "/pk", 3);
  assert_int_equal(m.rec_value_len, 1);
  assert_int_equal(m.rec_value[0], 'A');
  assert_null(m.rec_time);
  assert_int_equal(cpc_kad_message_encode(&m, &out, &out_len), 0);
  assert_int_equal(out[0], n); /* the length prefix */
  assert_memory_equal(out + 1, in, n);
  free(out);
  cpc_kad_message_clear(&m);
}

static void test_message_known_bytes(void **state) {
  static const uint8_t expect[] = {0x09, 0x08, 0x04, 0x12, 0x05,
                                   'h',  'e',  'l',  'l',  'o'};
  cpc_kad_message m;
  uint8_t *out;
  size_t len;
  (void)state;

  memset(&m, 0, sizeof m);
  m.type = CPC_KAD_FIND_NODE;
  m.key = (uint8_t *)"hello";
  m.key_len = 5;
  assert_int_equal(cpc_kad_message_encode(&m, &out, &len), 0);
  assert_int_equal(len, sizeof expect);
  assert_memory_equal(out, expect, len);
  free(out);

  /* Record with timeReceived: 1a len {0a 01 'k' 12 01 'v' 2a 03 "t=1"}. */
  memset(&m, 0, sizeof m);
  m.type = CPC_KAD_GET_VALUE;
  m.has_record = 1;
  m.rec_key = (uint8_t *)"k";
  m.rec_key_len = 1;
  m.rec_value = (uint8_t *)"v";
  m.rec_value_len = 1;
  m.rec_time = "t=1";
  {
    static const uint8_t e2[] = {0x0f, 0x08, 0x01, 0x1a, 0x0b, 0x0a, 0x01, 'k',
                                 0x12, 0x01, 'v',  0x2a, 0x03, 't',  '=',  '1'};
    assert_int_equal(cpc_kad_message_encode(&m, &out, &len), 0);
    assert_int_equal(len, 16);
    assert_memory_equal(out, e2, 16);
    free(out);
  }
}

static void test_message_caps(void **state) {
  uint8_t *big, buf[64];
  const uint8_t *msg;
  size_t mlen, used, n;
  cpc_kad_message m;
  (void)state;

  /* Over the message cap. */
  big = calloc(1, CPC_KAD_MAX_MESSAGE + 1);
  assert_non_null(big);
  assert_int_equal(cpc_kad_message_decode(big, CPC_KAD_MAX_MESSAGE + 1, &m),
                   CPC_ETOOBIG);
  /* A key over CPC_KAD_MAX_KEY: 12 <varint 1025> ... */
  big[0] = 0x12;
  big[1] = 0x81;
  big[2] = 0x08;
  assert_int_equal(cpc_kad_message_decode(big, 3 + 1025, &m), CPC_ETOOBIG);
  /* A record value over CPC_KAD_MAX_VALUE: 1a <65541> 12 <65537> .. */
  memset(big, 0, 16);
  n = 0;
  big[n++] = 0x1a;
  big[n++] = 0x85;
  big[n++] = 0x80;
  big[n++] = 0x04;
  big[n++] = 0x12;
  big[n++] = 0x81;
  big[n++] = 0x80;
  big[n++] = 0x04;
  assert_int_equal(cpc_kad_message_decode(big, n + 65537, &m), CPC_ETOOBIG);
  /* One byte short: not a message. */
  assert_int_equal(cpc_kad_message_decode(big, n + 65536, &m), CPC_EMALFORMED);
  free(big);

  /* Unknown type, garbage. */
  buf[0] = 0x08;
  buf[1] = 0x09;
  assert_int_equal(cpc_kad_message_decode(buf, 2, &m), CPC_EUNSUPPORTED);
  buf[0] = 0xff;
  assert_int_equal(cpc_kad_message_decode(buf, 2, &m), CPC_EMALFORMED);
  /* An empty message is PUT_VALUE with nothing in it. */
  assert_int_equal(cpc_kad_message_decode(NULL, 0, &m), 0);
  assert_int_equal(m.type, CPC_KAD_PUT_VALUE);
  cpc_kad_message_clear(&m);
  /* A peer whose id is not a PeerId is skipped. */
  n = 0;
  buf[n++] = 0x08;
  buf[n++] = 0x04;
  buf[n++] = 0x42;
  buf[n++] = 0x04;
  buf[n++] = 0x0a;
  buf[n++] = 0x02;
  buf[n++] = 0x99;
  buf[n++] = 0x01;
  assert_int_equal(cpc_kad_message_decode(buf, n, &m), 0);
  assert_int_equal(m.n_closer, 0);
  cpc_kad_message_clear(&m);

  /* Framing. */
  buf[0] = 0x03;
  buf[1] = 1;
  buf[2] = 2;
  assert_int_equal(cpc_kad_frame_parse(buf, 3, 0, &msg, &mlen, &used),
                   CPC_ETRUNC);
  buf[3] = 3;
  buf[4] = 0xee;
  assert_int_equal(cpc_kad_frame_parse(buf, 5, 0, &msg, &mlen, &used), 0);
  assert_int_equal(mlen, 3);
  assert_int_equal(used, 4);
  assert_ptr_equal(msg, buf + 1);
  assert_int_equal(cpc_kad_frame_parse(buf, 5, 2, &msg, &mlen, &used),
                   CPC_ETOOBIG);
  buf[0] = 0x80; /* an unfinished varint */
  assert_int_equal(cpc_kad_frame_parse(buf, 1, 0, &msg, &mlen, &used),
                   CPC_ETRUNC);
  buf[0] = 0x80;
  buf[1] = 0x80;
  buf[2] = 0x80;
  buf[3] = 0x01; /* 2^21 > 1 MiB */
  assert_int_equal(cpc_kad_frame_parse(buf, 4, 0, &msg, &mlen, &used),
                   CPC_ETOOBIG);
  buf[0] = 0x80;
  buf[1] = 0x00; /* not minimal */
  assert_int_equal(cpc_kad_frame_parse(buf, 2, 0, &msg, &mlen, &used),
                   CPC_EMALFORMED);
}

static void test_message_addr_cap(void **state) {
  cpc_kad_peer p = {0}, many;
  cpc_multiaddr addrs[12];
  cpc_kad_message m, back;
  uint8_t *out;
  size_t len;
  const uint8_t *msg;
  size_t mlen, used;
  cpc_peer_id id;
  (void)state;

  make_id(1, &id);
  for (unsigned i = 0; i < 12; i++)
    make_addr(i, &addrs[i]);
  assert_int_equal(cpc_kad_peer_set(&p, &id, addrs, 12), 0);
  assert_int_equal(p.n_addrs, CPC_KAD_MAX_ADDRS);
  memset(&many, 0, sizeof many);
  assert_int_equal(cpc_kad_peer_copy(&many, &p), 0);
  memset(&m, 0, sizeof m);
  m.type = CPC_KAD_FIND_NODE;
  m.closer = &many;
  m.n_closer = 1;
  assert_int_equal(cpc_kad_message_encode(&m, &out, &len), 0);
  assert_int_equal(cpc_kad_frame_parse(out, len, 0, &msg, &mlen, &used), 0);
  assert_int_equal(cpc_kad_message_decode(msg, mlen, &back), 0);
  assert_int_equal(back.n_closer, 1);
  assert_true(cpc_peer_id_equal(&back.closer[0].id, &id));
  assert_int_equal(back.closer[0].n_addrs, CPC_KAD_MAX_ADDRS);
  for (size_t i = 0; i < CPC_KAD_MAX_ADDRS; i++) {
    cpc_multiaddr a;
    assert_int_equal(cpc_kad_peer_addr(&back.closer[0], i, &a), 0);
    assert_true(cpc_multiaddr_equal(&a, &addrs[i]));
  }
  cpc_kad_message_clear(&back);
  free(out);
  cpc_kad_peer_clear(&p);
  cpc_kad_peer_clear(&many);
}

/* ---- keyspace and the routing table -------------------------------------- */

static void test_distance(void **state) {
  uint8_t a[32] = {0}, b[32] = {0}, t[32] = {0}, x[32];
  (void)state;

  assert_int_equal(cpc_kad_common_prefix_len(a, b), 256);
  b[0] = 0x80;
  assert_int_equal(cpc_kad_common_prefix_len(a, b), 0);
  b[0] = 0x01;
  assert_int_equal(cpc_kad_common_prefix_len(a, b), 7);
  b[0] = 0;
  b[31] = 0x01;
  assert_int_equal(cpc_kad_common_prefix_len(a, b), 255);
  b[31] = 0;
  b[3] = 0x20;
  assert_int_equal(cpc_kad_common_prefix_len(a, b), 26);
  cpc_kad_distance(a, b, x);
  assert_int_equal(x[3], 0x20);
  /* a is closer to t = 0 than b; symmetric; equal is 0. */
  assert_true(cpc_kad_compare_distance(t, a, b) < 0);
  assert_true(cpc_kad_compare_distance(t, b, a) > 0);
  assert_int_equal(cpc_kad_compare_distance(t, b, b), 0);
  /* XOR, not numeric: with t = 0x40.., 0x40.. (d=0) < 0x00.. (d=0x40) <
   * 0xc0.. (d=0x80). */
  t[0] = 0x40;
  a[0] = 0x00;
  b[0] = 0xc0;
  memset(b + 1, 0, 31);
  assert_true(cpc_kad_compare_distance(t, a, b) < 0);
  /* SHA-256 of "" is the position of the empty key. */
  cpc_kad_key_hash((const uint8_t *)"", 0, x);
  assert_int_equal(x[0], 0xe3);
  assert_int_equal(x[31], 0x55);
}

static void test_bucket_placement(void **state) {
  recorder r = {0};
  cpc_kad *d = new_node(0, &r, NULL);
  cpc_kad_peer p, out[CPC_KAD_K];
  size_t n;
  (void)state;

  for (unsigned i = 1; i <= 60; i++) {
    uint8_t key[32];
    cpc__kad_entry *e;
    int b, rc;
    make_peer(i, &p);
    cpc_kad_key_hash(p.id.bytes, p.id.len, key);
    b = cpc__kad_rt_bucket_of(&d->rt, key);
    assert_int_equal(b, (int)cpc_kad_common_prefix_len(d->self_key, key));
    rc = cpc_kad_add_peer(d, &p, T0);
    assert_true(rc == 0 || rc == CPC_EAGAIN);
    e = cpc__kad_rt_find(&d->rt, key);
    if (rc == 0) {
      assert_non_null(e);
      assert_true(e >= d->rt.b[b].e && e < d->rt.b[b].e + d->rt.b[b].n);
    } else {
      assert_null(e);
      assert_int_equal(d->rt.b[b].n, CPC_KAD_K);
    }
    cpc_kad_peer_clear(&p);
  }
  /* Our own id is refused. */
  make_peer(0, &p);
  assert_int_equal(cpc_kad_add_peer(d, &p, T0), CPC_EINVAL);
  cpc_kad_peer_clear(&p);
  /* closest_peers is sorted by distance. */
  assert_int_equal(
      cpc_kad_closest_peers(d, (const uint8_t *)"x", 1, out, CPC_KAD_K, &n), 0);
  assert_int_equal(n, CPC_KAD_K);
  {
    uint8_t t[32], ka[32], kb[32];
    cpc_kad_key_hash((const uint8_t *)"x", 1, t);
    for (size_t i = 0; i + 1 < n; i++) {
      cpc_kad_key_hash(out[i].id.bytes, out[i].id.len, ka);
      cpc_kad_key_hash(out[i + 1].id.bytes, out[i + 1].id.len, kb);
      assert_true(cpc_kad_compare_distance(t, ka, kb) < 0);
    }
  }
  for (size_t i = 0; i < n; i++)
    cpc_kad_peer_clear(&out[i]);
  cpc_kad_free(d);
  rec_reset(&r);
}

/* Peers (ids from `from` on) that land in bucket b of d, into ids[]. */
static size_t peers_in_bucket(cpc_kad *d, int b, unsigned from, unsigned *ids,
                              size_t want) {
  size_t n = 0;
  for (unsigned i = from; n < want && i < from + 20000; i++) {
    cpc_peer_id id;
    uint8_t key[32];
    make_id(i, &id);
    cpc_kad_key_hash(id.bytes, id.len, key);
    if (cpc__kad_rt_bucket_of(&d->rt, key) == b)
      ids[n++] = i;
  }
  return n;
}

static int in_table(cpc_kad *d, unsigned i) {
  cpc_peer_id id;
  uint8_t key[32];
  make_id(i, &id);
  cpc_kad_key_hash(id.bytes, id.len, key);
  return cpc__kad_rt_find(&d->rt, key) != NULL;
}

static void test_eviction(void **state) {
  recorder r = {0};
  cpc_kad *d = new_node(0, &r, NULL);
  unsigned ids[CPC_KAD_K + 3];
  cpc_kad_peer p;
  uint64_t now = T0;
  uint8_t pong[] = {0x08, 0x05};
  (void)state;

  assert_int_equal(peers_in_bucket(d, 1, 1, ids, CPC_KAD_K + 3), CPC_KAD_K + 3);
  for (size_t i = 0; i < CPC_KAD_K; i++) {
    make_peer(ids[i], &p);
    assert_int_equal(cpc_kad_add_peer(d, &p, now + i), 0);
    cpc_kad_peer_clear(&p);
  }
  assert_int_equal(cpc_kad_table_size(d), CPC_KAD_K);
  /* Full, everyone seen recently: the newcomer waits, no ping. */
  make_peer(ids[CPC_KAD_K], &p);
  assert_int_equal(cpc_kad_add_peer(d, &p, now + 100), CPC_EAGAIN);
  cpc_kad_peer_clear(&p);
  assert_int_equal(r.n, 0);
  assert_false(in_table(d, ids[CPC_KAD_K]));

  /* A minute later: the least-recently-seen (ids[0]) is pinged. */
  now += 61000;
  make_peer(ids[CPC_KAD_K + 1], &p);
  assert_int_equal(cpc_kad_add_peer(d, &p, now), CPC_EAGAIN);
  cpc_kad_peer_clear(&p);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.s[0].m.type, CPC_KAD_PING);
  {
    cpc_peer_id id0;
    make_id(ids[0], &id0);
    assert_true(cpc_peer_id_equal(&r.s[0].to, &id0));
  }
  /* It answers: it stays, the newcomers do not get in. */
  assert_int_equal(cpc_kad_on_response(d, r.s[0].req_id, pong, 2, now + 5), 0);
  assert_true(in_table(d, ids[0]));
  assert_false(in_table(d, ids[CPC_KAD_K + 1]));
  rec_reset(&r);

  /* Next time the oldest is ids[1]; it does not answer: it goes and the
   * newest replacement (ids[K+2]) takes its place. */
  now += 61000;
  make_peer(ids[CPC_KAD_K + 2], &p);
  assert_int_equal(cpc_kad_add_peer(d, &p, now), CPC_EAGAIN);
  cpc_kad_peer_clear(&p);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.s[0].m.type, CPC_KAD_PING);
  /* The timeout comes through tick. */
  assert_int_equal(cpc_kad_tick(d, now + 9999), 0);
  assert_true(in_table(d, ids[1]));
  assert_true(cpc_kad_next_wakeup(d) <= now + 10000);
  assert_int_equal(cpc_kad_tick(d, now + 10000), 0);
  assert_int_equal(r.cancels, 1);
  assert_false(in_table(d, ids[1]));
  assert_true(in_table(d, ids[CPC_KAD_K + 2]));
  assert_false(in_table(d, ids[CPC_KAD_K + 1]));
  assert_int_equal(cpc_kad_table_size(d), CPC_KAD_K);
  /* A late answer is ignored. */
  assert_int_equal(cpc_kad_on_response(d, r.s[0].req_id, pong, 2, now),
                   CPC_ENOENT);
  /* remove_peer promotes the next replacement (ids[K+1]). */
  {
    cpc_peer_id id0;
    make_id(ids[0], &id0);
    assert_int_equal(cpc_kad_remove_peer(d, &id0), 0);
    assert_int_equal(cpc_kad_remove_peer(d, &id0), CPC_ENOENT);
  }
  assert_true(in_table(d, ids[CPC_KAD_K + 1]));
  rec_reset(&r);
  cpc_kad_free(d);
}

/* ---- records ------------------------------------------------------------ */

static void test_cpc_records(void **state) {
  cpc_privkey owner, other;
  cpc_peer_id oid;
  uint8_t key[256], *v1, *v2, *forged, *payload;
  size_t key_len, l1, l2, lf, plen;
  uint64_t seq;
  (void)state;

  make_key(7, &owner);
  make_key(8, &other);
  assert_int_equal(cpc_peer_id_from_pubkey(&owner.pub, &oid), 0);
  assert_int_equal(cpc_kad_cpc_key(&oid, "profile", key, sizeof key, &key_len),
                   0);
  assert_memory_equal(key, "/cpc/", 5);
  assert_int_equal(key[5 + oid.len], '/');
  assert_int_equal(cpc_kad_cpc_value_sign(&owner, key, key_len,
                                          (const uint8_t *)"hello", 5, 1, &v1,
                                          &l1),
                   0);
  assert_int_equal(cpc_kad_validate_record(key, key_len, v1, l1), 0);
  assert_int_equal(
      cpc_kad_cpc_value_open(key, key_len, v1, l1, &payload, &plen, &seq), 0);
  assert_int_equal(plen, 5);
  assert_memory_equal(payload, "hello", 5);
  assert_int_equal(seq, 1);
  free(payload);
  /* Someone else cannot sign for owner's key. */
  assert_int_equal(cpc_kad_cpc_value_sign(&other, key, key_len,
                                          (const uint8_t *)"x", 1, 9, &forged,
                                          &lf),
                   CPC_EINVAL);
  /* A tampered payload: flip a byte of "hello" inside the value. */
  {
    uint8_t *t = malloc(l1);
    void *at;
    memcpy(t, v1, l1);
    at = memmem(t, l1, "hello", 5);
    assert_non_null(at);
    ((uint8_t *)at)[0] = 'j';
    assert_int_equal(cpc_kad_validate_record(key, key_len, t, l1), CPC_EBADSIG);
    free(t);
  }
  /* Owner's valid value moved under another key: the signature covers
   * the key. */
  {
    uint8_t key2[256];
    size_t k2;
    assert_int_equal(cpc_kad_cpc_key(&oid, "other", key2, sizeof key2, &k2), 0);
    assert_int_equal(cpc_kad_validate_record(key2, k2, v1, l1), CPC_EBADSIG);
  }
  /* A value signed by `other` under owner's key: owner_key mismatch. */
  {
    cpc_peer_id xid;
    uint8_t xkey[256], *xv;
    size_t xk, xl;
    assert_int_equal(cpc_peer_id_from_pubkey(&other.pub, &xid), 0);
    assert_int_equal(cpc_kad_cpc_key(&xid, "profile", xkey, sizeof xkey, &xk),
                     0);
    assert_int_equal(cpc_kad_cpc_value_sign(&other, xkey, xk,
                                            (const uint8_t *)"x", 1, 9, &xv,
                                            &xl),
                     0);
    assert_int_equal(cpc_kad_validate_record(key, key_len, xv, xl),
                     CPC_EMISMATCH);
    free(xv);
  }
  /* Selection by seq. */
  assert_int_equal(cpc_kad_cpc_value_sign(&owner, key, key_len,
                                          (const uint8_t *)"hello2", 6, 2, &v2,
                                          &l2),
                   0);
  assert_true(cpc_kad_select_record(key, key_len, v1, l1, v2, l2) > 0);
  assert_true(cpc_kad_select_record(key, key_len, v2, l2, v1, l1) < 0);
  /* Bad keys. */
  assert_int_equal(cpc_kad_validate_record((const uint8_t *)"/cpc/", 5, v1, l1),
                   CPC_EMALFORMED);
  assert_int_equal(
      cpc_kad_validate_record((const uint8_t *)"/ipns/x", 7, v1, l1),
      CPC_EUNSUPPORTED);
  key[key_len] = '/'; /* trailing "/" with an empty name */
  assert_int_equal(cpc_kad_validate_record(key, 5 + oid.len + 1, v1, l1),
                   CPC_EMALFORMED);
  free(v1);
  free(v2);
  cpc_privkey_wipe(&owner);
  cpc_privkey_wipe(&other);
}

/* Encode msg and hand it to d as an inbound request from `from`. */
static int deliver(cpc_kad *d, const cpc_peer_id *from,
                   const cpc_kad_message *msg, uint64_t now,
                   cpc_kad_message *resp) {
  uint8_t *buf, *out;
  size_t len, out_len, mlen, used;
  const uint8_t *m;
  int rc;

  assert_int_equal(cpc_kad_message_encode(msg, &buf, &len), 0);
  assert_int_equal(cpc_kad_frame_parse(buf, len, 0, &m, &mlen, &used), 0);
  rc = cpc_kad_handle_request(d, from, m, mlen, now, &out, &out_len);
  free(buf);
  if (resp)
    memset(resp, 0, sizeof *resp);
  if (rc == 0 && out) {
    assert_int_equal(cpc_kad_frame_parse(out, out_len, 0, &m, &mlen, &used), 0);
    if (resp)
      assert_int_equal(cpc_kad_message_decode(m, mlen, resp), 0);
  }
  free(out);
  return rc;
}

static void test_put_get_server(void **state) {
  recorder r = {0};
  cpc_kad *d = new_node(0, &r, NULL);
  cpc_privkey owner, other;
  cpc_peer_id oid, from;
  uint8_t key[256], pk[64], *v1, *v2, *v3;
  size_t key_len, pk_len, l1, l2, l3, vl;
  const uint8_t *v;
  cpc_kad_message m, resp;
  (void)state;

  make_key(7, &owner);
  make_key(8, &other);
  make_id(9, &from);
  assert_int_equal(cpc_peer_id_from_pubkey(&owner.pub, &oid), 0);
  assert_int_equal(cpc_kad_cpc_key(&oid, NULL, key, sizeof key, &key_len), 0);
  assert_int_equal(cpc_kad_cpc_value_sign(&owner, key, key_len,
                                          (const uint8_t *)"a", 1, 5, &v1, &l1),
                   0);
  assert_int_equal(cpc_kad_cpc_value_sign(&owner, key, key_len,
                                          (const uint8_t *)"b", 1, 4, &v2, &l2),
                   0);
  assert_int_equal(cpc_kad_cpc_value_sign(&owner, key, key_len,
                                          (const uint8_t *)"c", 1, 5, &v3, &l3),
                   0);
  memset(&m, 0, sizeof m);
  m.type = CPC_KAD_PUT_VALUE;
  m.key = key;
  m.key_len = key_len;
  m.has_record = 1;
  m.rec_key = key;
  m.rec_key_len = key_len;
  m.rec_value = v1;
  m.rec_value_len = l1;
  assert_int_equal(deliver(d, &from, &m, T0, &resp), 0);
  assert_int_equal(resp.type, CPC_KAD_PUT_VALUE); /* the echo */
  assert_int_equal(resp.rec_value_len, l1);
  cpc_kad_message_clear(&resp);
  assert_int_equal(cpc_kad_get_local_value(d, key, key_len, T0, &v, &vl), 0);
  assert_int_equal(vl, l1);
  /* Stale seq, and the same seq with another payload: refused. */
  m.rec_value = v2;
  m.rec_value_len = l2;
  assert_int_equal(deliver(d, &from, &m, T0, NULL), CPC_EEXIST);
  m.rec_value = v3;
  m.rec_value_len = l3;
  assert_int_equal(deliver(d, &from, &m, T0, NULL), CPC_EEXIST);
  /* The same record again refreshes it. */
  m.rec_value = v1;
  m.rec_value_len = l1;
  assert_int_equal(deliver(d, &from, &m, T0 + HOUR, NULL), 0);
  /* Forged: signed by `other` for owner's key. */
  {
    uint8_t *t = malloc(l1);
    memcpy(t, v1, l1);
    t[l1 - 1] ^= 1; /* the signature's last byte */
    m.rec_value = t;
    assert_int_equal(deliver(d, &from, &m, T0, NULL), CPC_EBADSIG);
    free(t);
  }
  /* Record key differs from the message key. */
  m.rec_value = v1;
  m.key = (uint8_t *)"/cpc/x";
  m.key_len = 6;
  assert_int_equal(deliver(d, &from, &m, T0, NULL), CPC_EINVAL);

  /* GET_VALUE answers with the record and timeReceived. */
  memset(&m, 0, sizeof m);
  m.type = CPC_KAD_GET_VALUE;
  m.key = key;
  m.key_len = key_len;
  assert_int_equal(deliver(d, &from, &m, T0 + HOUR, &resp), 0);
  assert_int_equal(resp.has_record, 1);
  assert_int_equal(resp.rec_value_len, l1);
  assert_memory_equal(resp.rec_value, v1, l1);
  assert_non_null(resp.rec_time);
  assert_string_equal(resp.rec_time, "2023-11-14T23:13:20.000000000Z");
  cpc_kad_message_clear(&resp);
  /* 48 h after the last PUT it is gone. */
  assert_int_equal(
      cpc_kad_get_local_value(d, key, key_len, T0 + HOUR + 48 * HOUR, &v, &vl),
      CPC_ENOENT);

  /* /pk/: the right key is stored, another is refused. */
  assert_int_equal(cpc_kad_pk_key(&oid, key, sizeof key, &key_len), 0);
  assert_int_equal(cpc_pubkey_encode(&owner.pub, pk, sizeof pk, &pk_len), 0);
  memset(&m, 0, sizeof m);
  m.type = CPC_KAD_PUT_VALUE;
  m.key = m.rec_key = key;
  m.key_len = m.rec_key_len = key_len;
  m.has_record = 1;
  m.rec_value = pk;
  m.rec_value_len = pk_len;
  assert_int_equal(deliver(d, &from, &m, T0, NULL), 0);
  assert_int_equal(cpc_pubkey_encode(&other.pub, pk, sizeof pk, &pk_len), 0);
  assert_int_equal(deliver(d, &from, &m, T0, NULL), CPC_EMISMATCH);
  m.rec_value_len = 3;
  assert_int_equal(deliver(d, &from, &m, T0, NULL), CPC_EMALFORMED);
  /* GET_VALUE of a /pk/ key of an inline PeerId needs no store. */
  {
    cpc_peer_id xid;
    cpc_pubkey got;
    uint8_t xkey[64];
    size_t xk;
    assert_int_equal(cpc_peer_id_from_pubkey(&other.pub, &xid), 0);
    assert_int_equal(cpc_kad_pk_key(&xid, xkey, sizeof xkey, &xk), 0);
    memset(&m, 0, sizeof m);
    m.type = CPC_KAD_GET_VALUE;
    m.key = xkey;
    m.key_len = xk;
    assert_int_equal(deliver(d, &from, &m, T0, &resp), 0);
    assert_int_equal(resp.has_record, 1);
    assert_int_equal(cpc_kad_validate_record(resp.rec_key, resp.rec_key_len,
                                             resp.rec_value,
                                             resp.rec_value_len),
                     0);
    assert_int_equal(
        cpc_pubkey_decode(resp.rec_value, resp.rec_value_len, &got), 0);
    assert_true(cpc_pubkey_equal(&got, &other.pub));
    cpc_kad_message_clear(&resp);
  }
  free(v1);
  free(v2);
  free(v3);
  cpc_privkey_wipe(&owner);
  cpc_privkey_wipe(&other);
  cpc_kad_free(d);
}

static void test_add_provider_rules(void **state) {
  recorder r = {0};
  cpc_kad_config cfg;
  cpc_kad *d;
  cpc_kad_peer sender, third, got[4];
  cpc_kad_message m, resp;
  uint8_t mh[34];
  size_t n;
  (void)state;

  cpc_kad_config_default(&cfg);
  cfg.max_providers_per_key = 2;
  d = new_node(0, &r, &cfg);
  make_peer(1, &sender);
  make_peer(2, &third);
  content_mh(1, mh);
  memset(&m, 0, sizeof m);
  m.type = CPC_KAD_ADD_PROVIDER;
  m.key = mh;
  m.key_len = sizeof mh;
  /* Someone else's record, sent by `sender`: refused, nothing stored. */
  m.providers = &third;
  m.n_providers = 1;
  assert_int_equal(deliver(d, &sender.id, &m, T0, NULL), CPC_EPERM);
  assert_int_equal(
      cpc_kad_get_local_providers(d, mh, sizeof mh, T0, got, 4, &n),
      CPC_ENOENT);
  /* A key that is not a multihash. */
  m.providers = &sender;
  m.key_len = 33;
  assert_int_equal(deliver(d, &sender.id, &m, T0, NULL), CPC_EINVAL);
  m.key_len = sizeof mh;
  /* Its own record: stored, no answer. */
  assert_int_equal(deliver(d, &sender.id, &m, T0, &resp), 0);
  assert_int_equal(resp.type, 0);
  assert_int_equal(
      cpc_kad_get_local_providers(d, mh, sizeof mh, T0, got, 4, &n), 0);
  assert_int_equal(n, 1);
  assert_true(cpc_peer_id_equal(&got[0].id, &sender.id));
  assert_int_equal(got[0].n_addrs, 1);
  cpc_kad_peer_clear(&got[0]);
  /* GET_PROVIDERS returns it (and never the requester as a closer peer). */
  assert_int_equal(cpc_kad_add_peer(d, &third, T0), 0);
  memset(&m, 0, sizeof m);
  m.type = CPC_KAD_GET_PROVIDERS;
  m.key = mh;
  m.key_len = sizeof mh;
  assert_int_equal(deliver(d, &third.id, &m, T0 + 1, &resp), 0);
  assert_int_equal(resp.n_providers, 1);
  assert_true(cpc_peer_id_equal(&resp.providers[0].id, &sender.id));
  assert_int_equal(resp.n_closer, 0);
  cpc_kad_message_clear(&resp);
  /* Per-key cap: a third provider does not fit. */
  {
    cpc_kad_peer p3, p4;
    make_peer(3, &p3);
    make_peer(4, &p4);
    memset(&m, 0, sizeof m);
    m.type = CPC_KAD_ADD_PROVIDER;
    m.key = mh;
    m.key_len = sizeof mh;
    m.providers = &p3;
    m.n_providers = 1;
    assert_int_equal(deliver(d, &p3.id, &m, T0, NULL), 0);
    m.providers = &p4;
    assert_int_equal(deliver(d, &p4.id, &m, T0, NULL), CPC_ENOSPC);
    /* After 48 h the records expire; the sweep frees the room. */
    assert_int_equal(cpc_kad_get_local_providers(d, mh, sizeof mh,
                                                 T0 + 48 * HOUR, got, 4, &n),
                     CPC_ENOENT);
    assert_int_equal(cpc_kad_tick(d, T0 + 48 * HOUR), 0);
    assert_int_equal(d->n_provider_records, 0);
    assert_int_equal(deliver(d, &p4.id, &m, T0 + 48 * HOUR, NULL), 0);
    cpc_kad_peer_clear(&p3);
    cpc_kad_peer_clear(&p4);
  }
  /* FIND_NODE for our own id includes ourselves. */
  memset(&m, 0, sizeof m);
  m.type = CPC_KAD_FIND_NODE;
  m.key = d->self.bytes;
  m.key_len = d->self.len;
  assert_int_equal(deliver(d, &sender.id, &m, T0, &resp), 0);
  assert_true(resp.n_closer >= 1);
  assert_true(cpc_peer_id_equal(&resp.closer[0].id, &d->self));
  cpc_kad_message_clear(&resp);
  /* PING pongs; FIND_NODE without a key is refused. */
  m.type = CPC_KAD_PING;
  m.key_len = 0;
  assert_int_equal(deliver(d, &sender.id, &m, T0, &resp), 0);
  assert_int_equal(resp.type, CPC_KAD_PING);
  m.type = CPC_KAD_FIND_NODE;
  assert_int_equal(deliver(d, &sender.id, &m, T0, NULL), CPC_EINVAL);
  cpc_kad_peer_clear(&sender);
  cpc_kad_peer_clear(&third);
  cpc_kad_free(d);
  rec_reset(&r);

  /* Client mode answers nothing. */
  cfg.client_mode = 1;
  d = new_node(0, &r, &cfg);
  m.type = CPC_KAD_PING;
  {
    cpc_peer_id f;
    make_id(1, &f);
    assert_int_equal(deliver(d, &f, &m, T0, NULL), CPC_ESTATE);
  }
  cpc_kad_free(d);
}

/* ---- the simulated network ---------------------------------------------- */

#define SIM_MAX 256

typedef struct sim sim;

typedef struct snode {
  sim *s;
  unsigned idx;
  cpc_kad *d;
  cpc_kad_peer info;
  int dead;   /* gone: connection refused, or (odd idx) silence */
  int client; /* client mode */
} snode;

typedef struct ev {
  int kind; /* 0 request, 1 response, 2 failure */
  unsigned from, to;
  uint64_t req_id;
  uint8_t *bytes;
  size_t len;
  int expect;
} ev;

struct sim {
  snode n[SIM_MAX];
  unsigned count;
  ev *q;
  size_t head, tail, cap;
  uint64_t now;
  size_t silent; /* requests swallowed by dead nodes since the last tick */
  size_t requests;
};

static void push(sim *s, ev e) {
  if (s->tail == s->cap) {
    if (s->head > 0) {
      memmove(s->q, s->q + s->head, (s->tail - s->head) * sizeof *s->q);
      s->tail -= s->head;
      s->head = 0;
    }
    if (s->tail == s->cap) {
      s->cap = s->cap ? s->cap * 2 : 1024;
      s->q = realloc(s->q, s->cap * sizeof *s->q);
      assert_non_null(s->q);
    }
  }
  s->q[s->tail++] = e;
}

static int sim_send(void *ctx, uint64_t req_id, const cpc_kad_peer *to,
                    const uint8_t *framed, size_t len, int expect) {
  snode *from = ctx;
  ev e = {0, from->idx, 0, req_id, NULL, len, expect};
  /* /ip4/10.0.X.Y/tcp/4001: 04 0a 00 X Y 06 0f a1 */
  assert_true(to->n_addrs >= 1);
  e.to = (unsigned)to->addr_bytes[3] << 8 | to->addr_bytes[4];
  assert_true(e.to < from->s->count);
  e.bytes = malloc(len);
  assert_non_null(e.bytes);
  memcpy(e.bytes, framed, len);
  push(from->s, e);
  return 0;
}

/* Bucket refresh interval and k of new simulated nodes (0: defaults). */
static uint64_t sim_refresh_ms;
static size_t sim_k;

static void sim_init(sim *s, unsigned count, unsigned clients) {
  cpc_kad_config cfg;
  memset(s, 0, sizeof *s);
  s->count = count;
  s->now = T0;
  for (unsigned i = 0; i < count; i++) {
    snode *n = &s->n[i];
    cpc_kad_transport t = {sim_send, NULL, n};
    cpc_multiaddr ma;
    n->s = s;
    n->idx = i;
    n->client = i >= count - clients;
    cpc_kad_config_default(&cfg);
    cfg.client_mode = n->client;
    cfg.rng_seed = i + 1;
    if (sim_refresh_ms)
      cfg.refresh_ms = sim_refresh_ms;
    if (sim_k)
      cfg.k = sim_k;
    make_peer(i, &n->info);
    assert_int_equal(cpc_kad_new(&n->info.id, &cfg, &t, s->now, &n->d), 0);
    make_addr(i, &ma);
    assert_int_equal(cpc_kad_set_self_addrs(n->d, &ma, 1), 0);
  }
}

static void sim_free(sim *s) {
  for (size_t i = s->head; i < s->tail; i++)
    free(s->q[i].bytes);
  free(s->q);
  for (unsigned i = 0; i < s->count; i++) {
    cpc_kad_free(s->n[i].d);
    cpc_kad_peer_clear(&s->n[i].info);
  }
}

static void process(sim *s, ev *e) {
  snode *to = &s->n[e->to], *from = &s->n[e->from];
  const uint8_t *msg;
  size_t mlen, used;
  uint8_t *resp = NULL;
  size_t rlen = 0;
  int rc;

  if (e->kind == 0) {
    s->requests++;
    if (to->dead) {
      if (e->to % 2 == 1)
        s->silent++; /* never answers: the requester's tick times it out */
      else if (e->expect)
        push(s, (ev){2, e->to, e->from, e->req_id, NULL, 0, 0});
      return;
    }
    assert_int_equal(
        cpc_kad_frame_parse(e->bytes, e->len, 0, &msg, &mlen, &used), 0);
    rc = cpc_kad_handle_request(to->d, &from->info.id, msg, mlen, s->now, &resp,
                                &rlen);
    if (!from->client) /* identify says it is a DHT server */
      (void)cpc_kad_add_peer(to->d, &from->info, s->now);
    if (e->expect) {
      if (rc == 0 && resp)
        push(s, (ev){1, e->to, e->from, e->req_id, resp, rlen, 0});
      else {
        free(resp);
        push(s, (ev){2, e->to, e->from, e->req_id, NULL, 0, 0});
      }
    } else {
      free(resp);
    }
    return;
  }
  /* An answer back to the requester (e->to). */
  if (to->dead)
    return;
  if (e->kind == 1) {
    assert_int_equal(
        cpc_kad_frame_parse(e->bytes, e->len, 0, &msg, &mlen, &used), 0);
    (void)cpc_kad_on_response(to->d, e->req_id, msg, mlen, s->now);
  } else {
    (void)cpc_kad_on_failure(to->d, e->req_id, CPC_ECLOSED, s->now);
  }
}

static void sim_tick_all(sim *s) {
  for (unsigned i = 0; i < s->count; i++)
    if (!s->n[i].dead)
      assert_int_equal(cpc_kad_tick(s->n[i].d, s->now), 0);
}

/* Deliver everything; when only silent requests remain, let time pass
 * until they time out. */
static void sim_run(sim *s) {
  for (;;) {
    while (s->head < s->tail) {
      ev e = s->q[s->head++];
      process(s, &e);
      free(e.bytes);
    }
    if (s->silent == 0)
      break;
    s->silent = 0;
    s->now += 10001;
    sim_tick_all(s);
  }
}

typedef struct outcome {
  int done, rc;
  cpc_kad_lookup_stats st;
  size_t n_providers, n_closest, stored;
  int found;
  uint8_t value[512];
  size_t value_len;
} outcome;

static void on_done(void *arg, const cpc_kad_result *res) {
  outcome *o = arg;
  o->done++;
  o->rc = res->rc;
  o->st = res->stats;
  o->n_providers = res->n_providers;
  o->n_closest = res->n_closest;
  o->stored = res->stored;
  o->found = res->found != NULL;
  if (res->value && res->value_len <= sizeof o->value) {
    memcpy(o->value, res->value, res->value_len);
    o->value_len = res->value_len;
  }
}

/* Every node joins through nodes 0..2, then buckets are refreshed. */
static void sim_bootstrap(sim *s) {
  cpc_kad_peer seeds[3];
  for (unsigned i = 0; i < 3; i++)
    seeds[i] = s->n[i].info; /* borrowed views */
  for (unsigned i = 0; i < s->count; i++) {
    outcome o = {0};
    assert_int_equal(
        cpc_kad_bootstrap(s->n[i].d, seeds, 3, s->now, on_done, &o, NULL), 0);
    sim_run(s);
    assert_int_equal(o.done, 1);
  }
  /* Bootstrap marked every bucket due: one refresh round. */
  s->now += 1000;
  sim_tick_all(s);
  sim_run(s);
}

/* Records published in the 200-node swarm, each looked up from every
 * other node: all 200 normally, fewer under the sanitizers (slower). */
#if defined(__SANITIZE_ADDRESS__)
#define SIM_RECORDS 30
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIM_RECORDS 30
#endif
#endif
#ifndef SIM_RECORDS
#define SIM_RECORDS 200
#endif

static unsigned env_uint(const char *name, unsigned def) {
  const char *v = getenv(name);
  return v && *v ? (unsigned)strtoul(v, NULL, 10) : def;
}

/* With k = 4 tables are sparse and records sit on 4 peers only: lookups
 * must walk several hops. */
static void test_sim_small_k(void **state) {
  static sim s;
  unsigned N = 200, R = 10;
  double sum = 0;
  unsigned max = 0, lookups = 0;
  outcome *o = calloc(N, sizeof *o);
  (void)state;

  assert_non_null(o);
  sim_k = 4;
  sim_init(&s, N, 0);
  sim_k = 0;
  sim_bootstrap(&s);
  for (unsigned r = 0; r < R; r++) {
    outcome po = {0};
    unsigned pub = (r * 31 + 11) % N;
    uint8_t mh[34];
    content_mh(1000 + r, mh);
    assert_int_equal(
        cpc_kad_provide(s.n[pub].d, mh, 34, s.now, on_done, &po, NULL), 0);
    sim_run(&s);
    assert_int_equal(po.rc, 0);
    assert_int_equal(po.stored, 4);
    memset(o, 0, N * sizeof *o);
    for (unsigned j = 0; j < N; j++)
      if (j != pub)
        assert_int_equal(cpc_kad_find_providers(s.n[j].d, mh, 34, 1, s.now,
                                                on_done, &o[j], NULL),
                         0);
    sim_run(&s);
    for (unsigned j = 0; j < N; j++) {
      if (j == pub)
        continue;
      assert_int_equal(o[j].done, 1);
      assert_int_equal(o[j].rc, 0);
      sum += o[j].st.hops;
      if (o[j].st.hops > max)
        max = o[j].st.hops;
      lookups++;
    }
  }
  print_message("kad sim k=4: %u nodes, %u lookups: hops mean %.2f max %u\n", N,
                lookups, sum / lookups, max);
  assert_true(sum / lookups > 1.0); /* it did route */
  assert_true(sum / lookups <= 9.6);
  free(o);
  sim_free(&s);
}

static void test_sim_swarm(void **state) {
  static sim s;
  unsigned N = 200, R = env_uint("CPC_KAD_SIM_RECORDS", SIM_RECORDS);
  unsigned publisher[256];
  uint8_t mh[256][34];
  double sum = 0, queried = 0;
  unsigned max = 0, lookups = 0;
  outcome *o;
  (void)state;

  if (R > 200)
    R = 200;
  sim_init(&s, N, 0);
  sim_bootstrap(&s);
  for (unsigned i = 0; i < N; i++)
    assert_true(cpc_kad_table_size(s.n[i].d) >= CPC_KAD_K);

  /* R nodes spread over the swarm each provide one multihash. */
  for (unsigned r = 0; r < R; r++) {
    outcome po = {0};
    publisher[r] = (r * 97 + 5) % N;
    content_mh(r, mh[r]);
    assert_int_equal(cpc_kad_provide(s.n[publisher[r]].d, mh[r], 34, s.now,
                                     on_done, &po, NULL),
                     0);
    sim_run(&s);
    assert_int_equal(po.done, 1);
    assert_int_equal(po.rc, 0);
    assert_int_equal(po.stored, CPC_KAD_K);
  }
  /* Every other node finds every record. */
  o = calloc(N, sizeof *o);
  assert_non_null(o);
  for (unsigned r = 0; r < R; r++) {
    memset(o, 0, N * sizeof *o);
    for (unsigned j = 0; j < N; j++) {
      if (j == publisher[r])
        continue;
      assert_int_equal(cpc_kad_find_providers(s.n[j].d, mh[r], 34, 1, s.now,
                                              on_done, &o[j], NULL),
                       0);
    }
    sim_run(&s);
    for (unsigned j = 0; j < N; j++) {
      if (j == publisher[r])
        continue;
      assert_int_equal(o[j].done, 1);
      assert_int_equal(o[j].rc, 0);
      assert_true(o[j].n_providers >= 1);
      sum += o[j].st.hops;
      queried += (double)o[j].st.queried;
      if (o[j].st.hops > max)
        max = o[j].st.hops;
      lookups++;
    }
  }
  print_message("kad sim: %u nodes, %u records, %u lookups: hops mean %.2f "
                "max %u, peers queried per lookup %.2f\n",
                N, R, lookups, sum / lookups, max, queried / lookups);
  assert_true(sum / lookups <= 9.6); /* log2(200) + 2 */

  /* A quarter of the nodes leave (half refuse, half go silent). */
  for (unsigned i = 0; i < N; i++)
    if (i % 4 == 3)
      s.n[i].dead = 1;
  sum = 0;
  max = 0;
  lookups = 0;
  for (unsigned r = 0; r < R; r++) {
    memset(o, 0, N * sizeof *o);
    for (unsigned j = 0; j < N; j++) {
      if (s.n[j].dead || j == publisher[r])
        continue;
      assert_int_equal(cpc_kad_find_providers(s.n[j].d, mh[r], 34, 1, s.now,
                                              on_done, &o[j], NULL),
                       0);
    }
    sim_run(&s);
    for (unsigned j = 0; j < N; j++) {
      if (s.n[j].dead || j == publisher[r])
        continue;
      assert_int_equal(o[j].done, 1);
      assert_int_equal(o[j].rc, 0);
      sum += o[j].st.hops;
      if (o[j].st.hops > max)
        max = o[j].st.hops;
      lookups++;
    }
  }
  print_message("kad sim after churn: %u lookups: hops mean %.2f max %u\n",
                lookups, sum / lookups, max);
  assert_true(sum / lookups <= 9.6);
  /* FIND_NODE of a live peer from another. */
  {
    outcome fo = {0};
    assert_int_equal(cpc_kad_find_peer(s.n[1].d, &s.n[150].info.id, s.now,
                                       on_done, &fo, NULL),
                     0);
    sim_run(&s);
    assert_int_equal(fo.done, 1);
    assert_int_equal(fo.rc, 0);
    assert_true(fo.found);
  }
  free(o);
  sim_free(&s);
}

/* Values over the network: /cpc/ put, newer seq wins, stale copies get
 * corrected; /pk/ through a lookup; client nodes ask but never answer. */
static void test_sim_values(void **state) {
  static sim s;
  cpc_privkey owner;
  uint8_t key[256], *v1, *v2;
  size_t key_len, l1, l2;
  outcome o = {0};
  unsigned N = 60, clients = 5;
  (void)state;

  sim_init(&s, N, clients);
  sim_bootstrap(&s);
  /* Client nodes stay out of every routing table. */
  for (unsigned i = 0; i < N; i++)
    for (unsigned c = N - clients; c < N; c++) {
      uint8_t ck[32];
      cpc_kad_key_hash(s.n[c].info.id.bytes, s.n[c].info.id.len, ck);
      assert_null(cpc__kad_rt_find(&s.n[i].d->rt, ck));
    }

  make_key(4, &owner); /* node 4's key */
  assert_int_equal(
      cpc_kad_cpc_key(&s.n[4].info.id, "profile", key, sizeof key, &key_len),
      0);
  assert_int_equal(cpc_kad_cpc_value_sign(&owner, key, key_len,
                                          (const uint8_t *)"v1", 2, 1, &v1,
                                          &l1),
                   0);
  assert_int_equal(cpc_kad_cpc_value_sign(&owner, key, key_len,
                                          (const uint8_t *)"v2", 2, 2, &v2,
                                          &l2),
                   0);
  assert_int_equal(cpc_kad_put_value(s.n[4].d, key, key_len, v1, l1, s.now,
                                     on_done, &o, NULL),
                   0);
  sim_run(&s);
  assert_int_equal(o.done, 1);
  assert_int_equal(o.rc, 0);
  assert_int_equal(o.stored, CPC_KAD_K);
  /* A forged value is refused before anything is sent. */
  {
    uint8_t *t = malloc(l1);
    memcpy(t, v1, l1);
    t[l1 - 1] ^= 0x55;
    assert_int_equal(cpc_kad_put_value(s.n[9].d, key, key_len, t, l1, s.now,
                                       on_done, &o, NULL),
                     CPC_EBADSIG);
    free(t);
  }
  /* A client node reads it. */
  memset(&o, 0, sizeof o);
  assert_int_equal(cpc_kad_get_value(s.n[N - 1].d, key, key_len, 0, s.now,
                                     on_done, &o, NULL),
                   0);
  sim_run(&s);
  assert_int_equal(o.rc, 0);
  assert_int_equal(o.value_len, l1);
  assert_memory_equal(o.value, v1, l1);

  /* Seq 2 reaches only one of the holders (directly); a full GET finds it
   * and corrects the others. */
  {
    size_t holders = 0, updated = 0;
    unsigned x = SIM_MAX;
    cpc_kad_message m;
    const uint8_t *v;
    size_t vl;
    for (unsigned i = 0; i < N - clients && x == SIM_MAX; i++)
      if (i != 4 &&
          cpc_kad_get_local_value(s.n[i].d, key, key_len, s.now, &v, &vl) == 0)
        x = i;
    assert_true(x < SIM_MAX);
    memset(&m, 0, sizeof m);
    m.type = CPC_KAD_PUT_VALUE;
    m.key = m.rec_key = key;
    m.key_len = m.rec_key_len = key_len;
    m.has_record = 1;
    m.rec_value = v2;
    m.rec_value_len = l2;
    assert_int_equal(deliver(s.n[x].d, &s.n[4].info.id, &m, s.now, NULL), 0);
    /* Stale seq 1 to x now: refused. */
    m.rec_value = v1;
    m.rec_value_len = l1;
    assert_int_equal(deliver(s.n[x].d, &s.n[4].info.id, &m, s.now, NULL),
                     CPC_EEXIST);
    memset(&o, 0, sizeof o);
    assert_int_equal(
        cpc_kad_get_value(s.n[20].d, key, key_len, 0, s.now, on_done, &o, NULL),
        0);
    sim_run(&s);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.value_len, l2);
    assert_memory_equal(o.value, v2, l2);
    for (unsigned i = 0; i < N - clients; i++) {
      if (cpc_kad_get_local_value(s.n[i].d, key, key_len, s.now, &v, &vl) != 0)
        continue;
      holders++;
      if (vl == l2 && memcmp(v, v2, l2) == 0)
        updated++;
    }
    /* Node 20's lookup asked the closest holders; those with seq 1 got
     * seq 2 back (node 4 itself is no holder it asks for: it may lag). */
    assert_true(updated >= holders - 2);
  }

  /* /pk/ through the network: an inline key resolves locally (0 hops). */
  {
    uint8_t pk_key[64];
    size_t pk_len;
    cpc_pubkey got;
    assert_int_equal(
        cpc_kad_pk_key(&s.n[7].info.id, pk_key, sizeof pk_key, &pk_len), 0);
    memset(&o, 0, sizeof o);
    assert_int_equal(cpc_kad_get_value(s.n[3].d, pk_key, pk_len, 1, s.now,
                                       on_done, &o, NULL),
                     0);
    sim_run(&s);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.st.hops, 0);
    assert_int_equal(o.st.queried, 0);
    assert_int_equal(cpc_pubkey_decode(o.value, o.value_len, &got), 0);
    assert_int_equal(cpc_peer_id_check(&s.n[7].info.id, &got), 0);
    /* Without a quorum the lookup runs on: peers answer it the same way. */
    memset(&o, 0, sizeof o);
    assert_int_equal(cpc_kad_get_value(s.n[3].d, pk_key, pk_len, 0, s.now,
                                       on_done, &o, NULL),
                     0);
    sim_run(&s);
    assert_int_equal(o.rc, 0);
    assert_true(o.st.succeeded >= CPC_KAD_K);
    assert_int_equal(cpc_pubkey_decode(o.value, o.value_len, &got), 0);
    assert_int_equal(cpc_peer_id_check(&s.n[7].info.id, &got), 0);
  }
  free(v1);
  free(v2);
  cpc_privkey_wipe(&owner);
  sim_free(&s);
}

/* Republishing after 22 h, expiry after 48 h, on a small network. */
static void test_sim_republish_expiry(void **state) {
  static sim s;
  uint8_t mh[34];
  outcome o = {0};
  cpc_kad_peer got[4];
  size_t n, holders = 0;
  unsigned N = 30;
  (void)state;

  sim_refresh_ms = 24 * HOUR; /* hourly ticks: keep refreshes rare */
  sim_init(&s, N, 0);
  sim_refresh_ms = 0;
  sim_bootstrap(&s);
  content_mh(77, mh);
  assert_int_equal(cpc_kad_provide(s.n[5].d, mh, 34, s.now, on_done, &o, NULL),
                   0);
  sim_run(&s);
  assert_int_equal(o.rc, 0);
  for (unsigned i = 0; i < N; i++)
    if (cpc_kad_get_local_providers(s.n[i].d, mh, 34, s.now, got, 4, &n) == 0) {
      holders++;
      cpc_kad_peer_clear(&got[0]);
    }
  assert_true(holders >= CPC_KAD_K);
  /* 30 h later: republished at 22 h, so still there at 48 h + 1 after the
   * first announcement. */
  for (unsigned h = 1; h <= 49; h++) {
    s.now += HOUR;
    sim_tick_all(&s);
    sim_run(&s);
  }
  holders = 0;
  for (unsigned i = 0; i < N; i++)
    if (i != 5 &&
        cpc_kad_get_local_providers(s.n[i].d, mh, 34, s.now, got, 4, &n) == 0) {
      holders++;
      cpc_kad_peer_clear(&got[0]);
    }
  assert_true(holders >= CPC_KAD_K - 2);
  /* Stop providing: 48 h later it is gone everywhere. */
  assert_int_equal(cpc_kad_stop_providing(s.n[5].d, mh, 34), 0);
  assert_int_equal(cpc_kad_stop_providing(s.n[5].d, mh, 34), CPC_ENOENT);
  for (unsigned h = 1; h <= 49; h++) {
    s.now += HOUR;
    sim_tick_all(&s);
    sim_run(&s);
  }
  for (unsigned i = 0; i < N; i++) {
    assert_int_equal(
        cpc_kad_get_local_providers(s.n[i].d, mh, 34, s.now, got, 4, &n),
        CPC_ENOENT);
    assert_int_equal(s.n[i].d->n_provider_records, 0);
  }
  /* And a lookup finds no provider. */
  memset(&o, 0, sizeof o);
  assert_int_equal(
      cpc_kad_find_providers(s.n[9].d, mh, 34, 1, s.now, on_done, &o, NULL), 0);
  sim_run(&s);
  assert_int_equal(o.done, 1);
  assert_int_equal(o.rc, CPC_ENOENT);
  sim_free(&s);
}

static void test_lookup_errors(void **state) {
  recorder r = {0};
  cpc_kad *d = new_node(0, &r, NULL);
  outcome o = {0};
  uint8_t mh[34];
  cpc_kad_peer p;
  uint64_t id;
  (void)state;

  content_mh(1, mh);
  /* Empty table: nobody to ask. */
  assert_int_equal(cpc_kad_find_providers(d, mh, 34, 1, T0, on_done, &o, &id),
                   CPC_ENOENT);
  assert_int_equal(cpc_kad_find_providers(d, mh, 33, 1, T0, on_done, &o, &id),
                   CPC_EINVAL);
  /* One peer; it times out; the lookup ends without result. */
  make_peer(1, &p);
  assert_int_equal(cpc_kad_add_peer(d, &p, T0), 0);
  cpc_kad_peer_clear(&p);
  assert_int_equal(cpc_kad_find_providers(d, mh, 34, 1, T0, on_done, &o, &id),
                   0);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.s[0].m.type, CPC_KAD_GET_PROVIDERS);
  assert_int_equal(r.s[0].m.key_len, 34);
  assert_memory_equal(r.s[0].m.key, mh, 34); /* the multihash itself */
  assert_int_equal(cpc_kad_lookups_running(d), 1);
  assert_int_equal(cpc_kad_tick(d, T0 + 10000), 0);
  assert_int_equal(o.done, 1);
  assert_int_equal(o.rc, CPC_ENOENT);
  assert_int_equal(o.st.failed, 1);
  assert_int_equal(cpc_kad_lookups_running(d), 0);
  /* A malformed answer counts as a failure; cancel needs no callback. */
  rec_reset(&r);
  memset(&o, 0, sizeof o);
  assert_int_equal(cpc_kad_find_providers(d, mh, 34, 1, T0, on_done, &o, &id),
                   0);
  assert_int_equal(
      cpc_kad_on_response(d, r.s[0].req_id, (const uint8_t *)"\xff\xff", 2, T0),
      CPC_EMALFORMED);
  assert_int_equal(o.done, 1);
  rec_reset(&r);
  memset(&o, 0, sizeof o);
  make_peer(1, &p);
  assert_int_equal(cpc_kad_add_peer(d, &p, T0), 0);
  cpc_kad_peer_clear(&p);
  assert_int_equal(cpc_kad_get_closest(d, mh, 34, T0, on_done, &o, &id), 0);
  assert_int_equal(cpc_kad_cancel_lookup(d, id), 0);
  assert_int_equal(cpc_kad_cancel_lookup(d, id), CPC_ENOENT);
  assert_int_equal(r.cancels, 1);
  assert_int_equal(o.done, 0);
  /* Freed with a lookup running: no callback, no leak. */
  assert_int_equal(cpc_kad_get_closest(d, mh, 34, T0, on_done, &o, &id), 0);
  cpc_kad_free(d);
  assert_int_equal(o.done, 0);
  rec_reset(&r);
}

static void test_rejoin(void **state) {
  recorder r = {0};
  cpc_kad *d = new_node(0, &r, NULL);
  cpc_kad_peer seed;
  outcome o = {0};
  uint8_t empty_find_node[] = {0x08, 0x04};
  (void)state;

  make_peer(1, &seed);
  assert_int_equal(cpc_kad_bootstrap(d, &seed, 1, T0, on_done, &o, NULL), 0);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.s[0].m.type, CPC_KAD_FIND_NODE);
  assert_memory_equal(r.s[0].m.key, d->self.bytes, d->self.len);
  assert_int_equal(
      cpc_kad_on_response(d, r.s[0].req_id, empty_find_node, 2, T0 + 1), 0);
  assert_int_equal(o.done, 1);
  assert_int_equal(o.rc, 0);
  assert_int_equal(cpc_kad_table_size(d), 1); /* the seed answered */
  rec_reset(&r);
  /* The seed goes away; the next tick joins through it again, once. */
  assert_int_equal(cpc_kad_remove_peer(d, &seed.id), 0);
  assert_int_equal(cpc_kad_table_size(d), 0);
  assert_true(cpc_kad_next_wakeup(d) <= T0 + 2);
  assert_int_equal(cpc_kad_tick(d, T0 + 2), 0);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.s[0].m.type, CPC_KAD_FIND_NODE);
  assert_true(cpc_peer_id_equal(&r.s[0].to, &seed.id));
  assert_int_equal(cpc_kad_tick(d, T0 + 3), 0);
  assert_int_equal(r.n, 1);
  /* It fails; a minute later the next attempt. */
  assert_int_equal(cpc_kad_on_failure(d, r.s[0].req_id, CPC_ECLOSED, T0 + 4),
                   0);
  assert_int_equal(cpc_kad_tick(d, T0 + 5), 0);
  assert_int_equal(r.n, 1);
  assert_int_equal(cpc_kad_tick(d, T0 + 2 + 60000), 0);
  assert_int_equal(r.n, 2);
  cpc_kad_peer_clear(&seed);
  cpc_kad_free(d);
  rec_reset(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_message_js_vectors),
      cmocka_unit_test(test_message_known_bytes),
      cmocka_unit_test(test_message_caps),
      cmocka_unit_test(test_message_addr_cap),
      cmocka_unit_test(test_distance),
      cmocka_unit_test(test_bucket_placement),
      cmocka_unit_test(test_eviction),
      cmocka_unit_test(test_cpc_records),
      cmocka_unit_test(test_put_get_server),
      cmocka_unit_test(test_add_provider_rules),
      cmocka_unit_test(test_lookup_errors),
      cmocka_unit_test(test_rejoin),
      cmocka_unit_test(test_sim_republish_expiry),
      cmocka_unit_test(test_sim_values),
      cmocka_unit_test(test_sim_small_k),
      cmocka_unit_test(test_sim_swarm),
  };
  const char *filter = getenv("CPC_TEST_FILTER"); /* e.g. "test_sim_*" */
  if (filter && *filter)
    cmocka_set_test_filter(filter);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
