/*
 * test_bitswap.c: Bitswap messages (hand-written bytes, protobuf-c
 * cross-check, 1.0.0 / 1.1.0 / 1.2.0 encodings, caps, framing), CID
 * prefixes, the server engine's answers, client sessions, and a simulated
 * swarm of one client and three servers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpc/bitswap.h"
#include "cpc/error.h"
#include "ipfs/bitswap.pb-c.h"

/* ---- helpers ------------------------------------------------------------ */

static size_t unhex(const char *hex, uint8_t *out, size_t cap) {
  size_t n = 0;
  for (const char *p = hex; *p;) {
    if (*p == ' ') {
      p++;
      continue;
    }
    unsigned v;
    assert_int_equal(sscanf(p, "%2x", &v), 1);
    assert_true(n < cap);
    out[n++] = (uint8_t)v;
    p += 2;
  }
  return n;
}

#define SHA_EMPTY                                                              \
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_ABC                                                                \
  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

/* CIDv1 raw sha2-256 of hex digest. */
static cpc_cid raw_sha_cid(const char *digest_hex) {
  cpc_cid c;
  memset(&c, 0, sizeof c);
  c.version = 1;
  c.codec = CPC_CODEC_RAW;
  c.mh.code = CPC_MH_SHA2_256;
  c.mh.digest_len = unhex(digest_hex, c.mh.digest, sizeof c.mh.digest);
  return c;
}

/* Body of a framed message: check the varint length and skip it. */
static const uint8_t *body_of(const uint8_t *framed, size_t len,
                              size_t *body_len) {
  uint64_t v = 0;
  size_t shift = 0, i = 0;
  do {
    assert_true(i < len);
    v |= (uint64_t)(framed[i] & 0x7f) << shift;
    shift += 7;
  } while (framed[i++] & 0x80);
  assert_int_equal(v, len - i);
  *body_len = len - i;
  return framed + i;
}

/* A deterministic PRNG. */
static uint64_t rng_state = 0x1234567890abcdefu;
static uint64_t rnd(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

/* ---- messages ----------------------------------------------------------- */

/* The sample message: one want-have (priority 1, sendDontHave) for the
 * empty block, the block "abc" (raw), DONT_HAVE for the empty block,
 * pendingBytes 300. */
static uint8_t abc[3] = {'a', 'b', 'c'};
static cpc_bitswap_entry sample_entry;
static cpc_bitswap_block sample_block;
static cpc_bitswap_presence sample_presence;

static cpc_bitswap_message sample(void) {
  cpc_bitswap_message m;
  memset(&m, 0, sizeof m);
  memset(&sample_entry, 0, sizeof sample_entry);
  sample_entry.cid = raw_sha_cid(SHA_EMPTY);
  sample_entry.priority = 1;
  sample_entry.want_type = CPC_BITSWAP_WANT_HAVE;
  sample_entry.send_dont_have = 1;
  sample_block.cid = raw_sha_cid(SHA_ABC);
  sample_block.data = abc;
  sample_block.len = 3;
  sample_presence.cid = raw_sha_cid(SHA_EMPTY);
  sample_presence.dont_have = 1;
  m.entries = &sample_entry;
  m.n_entries = 1;
  m.blocks = &sample_block;
  m.n_blocks = 1;
  m.presences = &sample_presence;
  m.n_presences = 1;
  m.pending_bytes = 300;
  return m;
}

/* Written by hand from the proto field numbers (see proto/ipfs). */
static const char *sample_hex_120 =
    "0a2e" /* wantlist, 46 bytes */
    "0a2c" /*  entry, 44 bytes */
    "0a24015512"
    "20" SHA_EMPTY /*   block: CID */
    "1001"         /*   priority 1 */
    "2001"         /*   wantType Have */
    "2801"         /*   sendDontHave */
    "1a0b"         /* payload, 11 bytes */
    "0a0401551220" /*  prefix v1 raw sha2-256 32 */
    "1203616263"   /*  data "abc" */
    "2228"         /* blockPresence, 40 bytes */
    "0a24015512"
    "20" SHA_EMPTY /*  cid */
    "1001"         /*  type DontHave */
    "28ac02";      /* pendingBytes 300 */

static const char *sample_hex_110 = "0a2a"
                                    "0a28"
                                    "0a24015512"
                                    "20" SHA_EMPTY "1001"
                                    "1a0b"
                                    "0a0401551220"
                                    "1203616263";

static const char *sample_hex_100 = "0a2a"
                                    "0a28"
                                    "0a24015512"
                                    "20" SHA_EMPTY "1001"
                                    "1203616263"; /* blocks: "abc" */

static void check_encoding(enum cpc_bitswap_version v, const char *hex) {
  uint8_t want[512], *out = NULL;
  size_t n = unhex(hex, want, sizeof want), out_len = 0, body_len = 0;
  cpc_bitswap_message m = sample();
  assert_int_equal(cpc_bitswap_message_encode(&m, v, &out, &out_len), 0);
  const uint8_t *body = body_of(out, out_len, &body_len);
  assert_int_equal(body_len, n);
  assert_memory_equal(body, want, n);
  free(out);
}

static void test_message_known_bytes(void **state) {
  (void)state;
  check_encoding(CPC_BITSWAP_1_2_0, sample_hex_120);
  check_encoding(CPC_BITSWAP_1_1_0, sample_hex_110);
  check_encoding(CPC_BITSWAP_1_0_0, sample_hex_100);
}

/* The same message built with the protobuf-c structs directly. */
static void test_message_protobuf_c(void **state) {
  (void)state;
  uint8_t cid_empty[36], prefix[4] = {0x01, 0x55, 0x12, 0x20};
  unhex("01551220" SHA_EMPTY, cid_empty, sizeof cid_empty);
  Ipfs__Bitswap__Message__Wantlist__Entry e =
      IPFS__BITSWAP__MESSAGE__WANTLIST__ENTRY__INIT;
  e.block.data = cid_empty;
  e.block.len = 36;
  e.priority = 1;
  e.wanttype = IPFS__BITSWAP__MESSAGE__WANTLIST__WANT_TYPE__Have;
  e.senddonthave = 1;
  Ipfs__Bitswap__Message__Wantlist__Entry *ep = &e;
  Ipfs__Bitswap__Message__Wantlist wl = IPFS__BITSWAP__MESSAGE__WANTLIST__INIT;
  wl.n_entries = 1;
  wl.entries = &ep;
  Ipfs__Bitswap__Message__Block b = IPFS__BITSWAP__MESSAGE__BLOCK__INIT;
  b.prefix.data = prefix;
  b.prefix.len = 4;
  b.data.data = abc;
  b.data.len = 3;
  Ipfs__Bitswap__Message__Block *bp = &b;
  Ipfs__Bitswap__Message__BlockPresence p =
      IPFS__BITSWAP__MESSAGE__BLOCK_PRESENCE__INIT;
  p.cid.data = cid_empty;
  p.cid.len = 36;
  p.type = IPFS__BITSWAP__MESSAGE__BLOCK_PRESENCE_TYPE__DontHave;
  Ipfs__Bitswap__Message__BlockPresence *pp = &p;
  Ipfs__Bitswap__Message msg = IPFS__BITSWAP__MESSAGE__INIT;
  msg.wantlist = &wl;
  msg.n_payload = 1;
  msg.payload = &bp;
  msg.n_blockpresences = 1;
  msg.blockpresences = &pp;
  msg.pendingbytes = 300;
  uint8_t packed[512], want[512];
  size_t n = ipfs__bitswap__message__pack(&msg, packed);
  assert_int_equal(n, unhex(sample_hex_120, want, sizeof want));
  assert_memory_equal(packed, want, n);
}

static void test_message_decode(void **state) {
  (void)state;
  uint8_t in[512];
  size_t n = unhex(sample_hex_120, in, sizeof in);
  cpc_bitswap_message m;
  assert_int_equal(cpc_bitswap_message_decode(in, n, &m), 0);
  assert_int_equal(m.n_entries, 1);
  cpc_cid empty = raw_sha_cid(SHA_EMPTY), abc_cid = raw_sha_cid(SHA_ABC);
  assert_true(cpc_cid_equal(&m.entries[0].cid, &empty));
  assert_int_equal(m.entries[0].priority, 1);
  assert_int_equal(m.entries[0].want_type, CPC_BITSWAP_WANT_HAVE);
  assert_int_equal(m.entries[0].send_dont_have, 1);
  assert_int_equal(m.entries[0].cancel, 0);
  assert_int_equal(m.n_blocks, 1);
  assert_true(cpc_cid_equal(&m.blocks[0].cid, &abc_cid));
  assert_int_equal(m.blocks[0].len, 3);
  assert_memory_equal(m.blocks[0].data, "abc", 3);
  assert_int_equal(m.n_presences, 1);
  assert_int_equal(m.presences[0].dont_have, 1);
  assert_int_equal(m.pending_bytes, 300);
  assert_int_equal(m.n_dropped, 0);
  cpc_bitswap_message_free(&m);

  /* 1.0.0: the block is read as a CIDv0 (dag-pb, sha2-256) */
  n = unhex(sample_hex_100, in, sizeof in);
  assert_int_equal(cpc_bitswap_message_decode(in, n, &m), 0);
  assert_int_equal(m.n_blocks, 1);
  assert_int_equal(m.blocks[0].cid.version, 0);
  assert_int_equal(m.blocks[0].cid.codec, CPC_CODEC_DAG_PB);
  assert_memory_equal(m.blocks[0].cid.mh.digest, abc_cid.mh.digest, 32);
  cpc_bitswap_message_free(&m);

  /* the empty message */
  assert_int_equal(cpc_bitswap_message_decode(NULL, 0, &m), 0);
  assert_int_equal(m.n_entries + m.n_blocks + m.n_presences, 0);
  cpc_bitswap_message_free(&m);
}

/* Random messages survive encode then decode for each version. */
static void test_message_round_trip(void **state) {
  (void)state;
  static uint8_t data[8][300];
  for (int iter = 0; iter < 50; iter++) {
    cpc_bitswap_entry e[6];
    cpc_bitswap_block b[4];
    cpc_bitswap_presence p[5];
    cpc_bitswap_message m;
    memset(&m, 0, sizeof m);
    memset(e, 0, sizeof e);
    memset(p, 0, sizeof p);
    m.n_entries = rnd() % 7;
    m.n_blocks = rnd() % 5;
    m.n_presences = rnd() % 6;
    m.full = (int)(rnd() & 1);
    m.pending_bytes = (int32_t)(rnd() % 100000);
    m.entries = e;
    m.blocks = b;
    m.presences = p;
    uint64_t hashes[2] = {CPC_MH_SHA2_256, CPC_MH_BLAKE3};
    for (size_t i = 0; i < m.n_entries; i++) {
      uint8_t seed[8];
      for (int k = 0; k < 8; k++)
        seed[k] = (uint8_t)rnd();
      assert_int_equal(
          cpc_cid_compute(rnd() & 1 ? CPC_CODEC_RAW : CPC_CODEC_DAG_PB,
                          hashes[rnd() & 1], seed, 8, &e[i].cid),
          0);
      e[i].priority = (int32_t)(rnd() % 2000) - 1000; /* negatives too */
      e[i].cancel = rnd() & 1;
      e[i].want_type = rnd() & 1;
      e[i].send_dont_have = rnd() & 1;
    }
    for (size_t i = 0; i < m.n_blocks; i++) {
      size_t len = rnd() % 300;
      for (size_t k = 0; k < len; k++)
        data[i][k] = (uint8_t)rnd();
      assert_int_equal(
          cpc_cid_compute(rnd() & 1 ? CPC_CODEC_RAW : CPC_CODEC_DAG_PB,
                          hashes[rnd() & 1], data[i], len, &b[i].cid),
          0);
      b[i].data = data[i];
      b[i].len = len;
    }
    for (size_t i = 0; i < m.n_presences; i++) {
      assert_int_equal(cpc_cid_compute(CPC_CODEC_RAW, CPC_MH_BLAKE3, &i,
                                       sizeof i, &p[i].cid),
                       0);
      p[i].dont_have = rnd() & 1;
    }
    enum cpc_bitswap_version vs[3] = {CPC_BITSWAP_1_0_0, CPC_BITSWAP_1_1_0,
                                      CPC_BITSWAP_1_2_0};
    for (int vi = 0; vi < 3; vi++) {
      enum cpc_bitswap_version v = vs[vi];
      uint8_t *out = NULL;
      size_t out_len = 0, body_len = 0;
      assert_int_equal(cpc_bitswap_message_encode(&m, v, &out, &out_len), 0);
      const uint8_t *body = body_of(out, out_len, &body_len);
      cpc_bitswap_message d;
      assert_int_equal(cpc_bitswap_message_decode(body, body_len, &d), 0);
      assert_int_equal(d.n_dropped, 0);
      assert_int_equal(d.full, m.full);
      assert_int_equal(d.n_entries, m.n_entries);
      for (size_t i = 0; i < m.n_entries; i++) {
        assert_true(cpc_cid_equal(&d.entries[i].cid, &e[i].cid));
        assert_int_equal(d.entries[i].priority, e[i].priority);
        assert_int_equal(d.entries[i].cancel, e[i].cancel);
        int typed = v == CPC_BITSWAP_1_2_0;
        assert_int_equal(d.entries[i].want_type, typed ? e[i].want_type : 0);
        assert_int_equal(d.entries[i].send_dont_have,
                         typed ? e[i].send_dont_have : 0);
      }
      assert_int_equal(d.n_blocks, m.n_blocks);
      for (size_t i = 0; i < m.n_blocks; i++) {
        assert_int_equal(d.blocks[i].len, b[i].len);
        if (b[i].len)
          assert_memory_equal(d.blocks[i].data, b[i].data, b[i].len);
        if (v != CPC_BITSWAP_1_0_0)
          assert_true(cpc_cid_equal(&d.blocks[i].cid, &b[i].cid));
        else
          assert_int_equal(d.blocks[i].cid.version, 0);
      }
      if (v == CPC_BITSWAP_1_2_0) {
        assert_int_equal(d.n_presences, m.n_presences);
        for (size_t i = 0; i < m.n_presences; i++) {
          assert_true(cpc_cid_equal(&d.presences[i].cid, &p[i].cid));
          assert_int_equal(d.presences[i].dont_have, p[i].dont_have);
        }
        assert_int_equal(d.pending_bytes, m.pending_bytes);
      } else {
        assert_int_equal(d.n_presences, 0);
        assert_int_equal(d.pending_bytes, 0);
      }
      cpc_bitswap_message_free(&d);
      free(out);
    }
  }
}

static void test_message_caps(void **state) {
  (void)state;
  cpc_bitswap_message m, d;
  uint8_t *out = NULL;
  size_t out_len = 0;
  size_t big = CPC_BITSWAP_MAX_BLOCK + 1;
  uint8_t *data = calloc(1, CPC_BITSWAP_MAX_MESSAGE + 1);
  assert_non_null(data);

  /* decode refuses more than 4 MiB before looking at it */
  assert_int_equal(
      cpc_bitswap_message_decode(data, CPC_BITSWAP_MAX_MESSAGE + 1, &d),
      CPC_ETOOBIG);

  /* encode: a block of 2 MiB + 1 is refused, 2 MiB is fine */
  cpc_bitswap_block b;
  memset(&m, 0, sizeof m);
  b.data = data;
  b.len = big;
  assert_int_equal(
      cpc_cid_compute(CPC_CODEC_RAW, CPC_MH_BLAKE3, data, 10, &b.cid), 0);
  m.blocks = &b;
  m.n_blocks = 1;
  assert_int_equal(
      cpc_bitswap_message_encode(&m, CPC_BITSWAP_1_2_0, &out, &out_len),
      CPC_ETOOBIG);
  b.len = CPC_BITSWAP_MAX_BLOCK;
  assert_int_equal(
      cpc_bitswap_message_encode(&m, CPC_BITSWAP_1_2_0, &out, &out_len), 0);
  free(out);

  /* three 2 MiB blocks make more than 4 MiB */
  cpc_bitswap_block three[3] = {b, b, b};
  m.blocks = three;
  m.n_blocks = 3;
  assert_int_equal(
      cpc_bitswap_message_encode(&m, CPC_BITSWAP_1_2_0, &out, &out_len),
      CPC_ETOOBIG);

  /* a received block of 2 MiB + 1 (hand-built message) is dropped */
  size_t n = 0;
  uint8_t *msg = malloc(big + 64);
  assert_non_null(msg);
  msg[n++] = 0x1a;                /* payload */
  size_t inner = 6 + 1 + 4 + big; /* 2^21 + 1 takes a 4-byte varint */
  for (size_t v = inner;; v >>= 7) {
    msg[n++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
    if (v < 0x80)
      break;
  }
  memcpy(msg + n, "\x0a\x04\x01\x55\x12\x20", 6);
  n += 6;
  msg[n++] = 0x12;
  for (size_t v = big;; v >>= 7) {
    msg[n++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
    if (v < 0x80)
      break;
  }
  memset(msg + n, 0, big);
  n += big;
  assert_int_equal(cpc_bitswap_message_decode(msg, n, &d), 0);
  assert_int_equal(d.n_blocks, 0);
  assert_int_equal(d.n_dropped, 1);
  cpc_bitswap_message_free(&d);
  free(msg);

  /* too many entries: refused before allocating them */
  size_t count = CPC_BITSWAP_MAX_ENTRIES + 1;
  msg = malloc(8 + count * 2);
  assert_non_null(msg);
  n = 0;
  msg[n++] = 0x0a;
  size_t wl = count * 2;
  for (size_t v = wl;; v >>= 7) {
    msg[n++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
    if (v < 0x80)
      break;
  }
  for (size_t i = 0; i < count; i++) {
    msg[n++] = 0x0a; /* empty entry */
    msg[n++] = 0x00;
  }
  assert_int_equal(cpc_bitswap_message_decode(msg, n, &d), CPC_ETOOBIG);
  free(msg);

  /* a 4 MiB message of tiny unknown fields: refused by the field cap */
  memset(data, 0, CPC_BITSWAP_MAX_MESSAGE);
  for (size_t i = 0; i + 1 < CPC_BITSWAP_MAX_MESSAGE; i += 2)
    data[i] = 0x78; /* field 15, varint; value 0 follows */
  assert_int_equal(
      cpc_bitswap_message_decode(data, CPC_BITSWAP_MAX_MESSAGE, &d),
      CPC_ETOOBIG);
  free(data);
}

static void test_message_malformed(void **state) {
  (void)state;
  static const char *bad[] = {
      "0a",                       /* length missing */
      "0a05",                     /* wantlist longer than the input */
      "0b",                       /* group start */
      "00",                       /* field 0 */
      "0affffffffffffffffffff01", /* varint over 64 bits */
      "0a020a",                   /* entry truncated */
      "2a0100", /* pendingBytes (varint field) as bytes: protobuf-c */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint8_t in[64];
    size_t n = unhex(bad[i], in, sizeof in);
    cpc_bitswap_message m;
    int rc = cpc_bitswap_message_decode(in, n, &m);
    if (rc == 0)
      fail_msg("accepted %s", bad[i]);
    assert_int_equal(rc, CPC_EMALFORMED);
  }
  /* bad CIDs in entries and presences, bad prefixes: dropped, counted */
  static const char *dropped = "0a06"
                               "0a04"
                               "0a020102" /* entry with a 2-byte "CID" */
                               "1a08"
                               "0a04"
                               "02551220"
                               "1200" /* prefix version 2 */
                               "1a08"
                               "0a04"
                               "01559901"
                               "1200" /* unknown hash 0x99 */
                               "1a08"
                               "0a04"
                               "01551214"
                               "1200" /* sha2-256 truncated to 20 */
                               "2204"
                               "0a020102"; /* presence with a bad CID */
  uint8_t in[128];
  size_t n = unhex(dropped, in, sizeof in);
  cpc_bitswap_message m;
  assert_int_equal(cpc_bitswap_message_decode(in, n, &m), 0);
  assert_int_equal(m.n_entries + m.n_blocks + m.n_presences, 0);
  assert_int_equal(m.n_dropped, 5);
  cpc_bitswap_message_free(&m);
}

/* ---- prefixes ----------------------------------------------------------- */

static void test_prefix(void **state) {
  (void)state;
  static const struct {
    uint64_t codec, hash;
    int v0;
    const char *hex;
  } cases[] = {
      {CPC_CODEC_RAW, CPC_MH_BLAKE3, 0, "01551e20"},
      {CPC_CODEC_RAW, CPC_MH_SHA2_256, 0, "01551220"},
      {CPC_CODEC_DAG_PB, CPC_MH_SHA2_256, 0, "01701220"},
      {CPC_CODEC_DAG_PB, CPC_MH_SHA2_256, 1, "00701220"},
  };
  uint8_t data[1000];
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (uint8_t)(i * 7);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cpc_cid cid, back;
    assert_int_equal(
        cpc_cid_compute(cases[i].codec, cases[i].hash, data, sizeof data, &cid),
        0);
    if (cases[i].v0)
      cid.version = 0;
    cpc_bitswap_prefix p, q;
    uint8_t enc[CPC_BITSWAP_PREFIX_MAX], want[8];
    size_t n = 0;
    cpc_bitswap_prefix_of(&cid, &p);
    assert_int_equal(cpc_bitswap_prefix_encode(&p, enc, sizeof enc, &n), 0);
    assert_int_equal(n, unhex(cases[i].hex, want, sizeof want));
    assert_memory_equal(enc, want, n);
    assert_int_equal(cpc_bitswap_prefix_decode(enc, n, &q), 0);
    assert_memory_equal(&p, &q, sizeof p);
    /* the block's CID rebuilt from prefix and bytes */
    assert_int_equal(cpc_bitswap_prefix_cid(&q, data, sizeof data, &back), 0);
    assert_true(cpc_cid_equal(&back, &cid));
    /* other bytes give another CID */
    data[0] ^= 1;
    assert_int_equal(cpc_bitswap_prefix_cid(&q, data, sizeof data, &back), 0);
    assert_false(cpc_cid_equal(&back, &cid));
    data[0] ^= 1;
    assert_int_equal(cpc_bitswap_prefix_encode(&p, enc, n - 1, NULL),
                     CPC_ETOOBIG);
    assert_int_equal(cpc_bitswap_prefix_decode(enc, n - 1, &q), CPC_ETRUNC);
  }
  uint8_t in[16];
  cpc_bitswap_prefix p;
  /* a v0 prefix must be dag-pb sha2-256 32; trailing bytes refused */
  assert_int_equal(cpc_bitswap_prefix_decode(in, unhex("00551220", in, 16), &p),
                   CPC_EMALFORMED);
  assert_int_equal(
      cpc_bitswap_prefix_decode(in, unhex("0155122000", in, 16), &p),
      CPC_EMALFORMED);
  /* identity: the length must be the data's */
  cpc_cid cid;
  p.version = 1;
  p.codec = CPC_CODEC_RAW;
  p.mh_code = CPC_MH_IDENTITY;
  p.mh_len = 3;
  assert_int_equal(cpc_bitswap_prefix_cid(&p, "abc", 3, &cid), 0);
  assert_int_equal(cid.mh.digest_len, 3);
  assert_int_equal(cpc_bitswap_prefix_cid(&p, "abcd", 4, &cid), CPC_EMISMATCH);
  p.mh_code = CPC_MH_BLAKE3;
  p.mh_len = 32;
  assert_int_equal(
      cpc_bitswap_prefix_cid(&p, data, CPC_BITSWAP_MAX_BLOCK + 1, &cid),
      CPC_ETOOBIG);
}

/* ---- framing ------------------------------------------------------------ */

static void test_reader(void **state) {
  (void)state;
  cpc_bitswap_reader r;
  const uint8_t *msg;
  size_t used, len;
  /* three messages (sizes 3, 0, 200) fed one byte at a time, then whole */
  uint8_t stream[300];
  size_t n = 0;
  stream[n++] = 3;
  memcpy(stream + n, "xyz", 3);
  n += 3;
  stream[n++] = 0;
  stream[n++] = 0xc8;
  stream[n++] = 0x01;
  for (int i = 0; i < 200; i++)
    stream[n++] = (uint8_t)i;
  for (int pass = 0; pass < 2; pass++) {
    size_t step = pass == 0 ? 1 : n, off = 0, got = 0;
    size_t sizes[3] = {3, 0, 200};
    cpc_bitswap_reader_init(&r);
    while (off < n) {
      size_t chunk = n - off < step ? n - off : step;
      size_t c_off = 0;
      while (c_off < chunk) {
        assert_int_equal(cpc_bitswap_reader_feed(&r, stream + off + c_off,
                                                 chunk - c_off, &used, &msg,
                                                 &len),
                         0);
        c_off += used;
        if (msg) {
          assert_true(got < 3);
          assert_int_equal(len, sizes[got]);
          if (got == 0)
            assert_memory_equal(msg, "xyz", 3);
          if (got == 2)
            assert_int_equal(msg[199], 199);
          got++;
        } else {
          assert_int_equal(c_off, chunk);
        }
      }
      off += chunk;
    }
    assert_int_equal(got, 3);
    cpc_bitswap_reader_free(&r);
  }
  /* a length prefix of 4 MiB + 1 is refused (sticky); 4 MiB is fine */
  uint8_t hdr[8];
  size_t h = 0;
  for (uint64_t v = CPC_BITSWAP_MAX_MESSAGE + 1;; v >>= 7) {
    hdr[h++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
    if (v < 0x80)
      break;
  }
  cpc_bitswap_reader_init(&r);
  assert_int_equal(cpc_bitswap_reader_feed(&r, hdr, h, &used, &msg, &len),
                   CPC_ETOOBIG);
  assert_int_equal(cpc_bitswap_reader_feed(&r, hdr, 1, &used, &msg, &len),
                   CPC_ETOOBIG);
  cpc_bitswap_reader_free(&r);
  hdr[0]--; /* 4 MiB exactly: the low byte is 0x81 -> 0x80 */
  cpc_bitswap_reader_init(&r);
  assert_int_equal(cpc_bitswap_reader_feed(&r, hdr, h, &used, &msg, &len), 0);
  assert_null(msg);
  assert_int_equal(used, h);
  cpc_bitswap_reader_free(&r);
  /* a non-minimal or over-long varint */
  uint8_t bad[10];
  memset(bad, 0xff, sizeof bad);
  cpc_bitswap_reader_init(&r);
  assert_int_equal(cpc_bitswap_reader_feed(&r, bad, 10, &used, &msg, &len),
                   CPC_EMALFORMED);
  cpc_bitswap_reader_free(&r);
}

static void test_protocol_ids(void **state) {
  (void)state;
  enum cpc_bitswap_version v;
  const char *ids[] = {"/ipfs/bitswap/1.2.0", "/ipfs/bitswap/1.1.0",
                       "/ipfs/bitswap/1.0.0", "/ipfs/bitswap"};
  enum cpc_bitswap_version want[] = {CPC_BITSWAP_1_2_0, CPC_BITSWAP_1_1_0,
                                     CPC_BITSWAP_1_0_0, CPC_BITSWAP_1_0_0};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(cpc_bitswap_version_from_id(ids[i], strlen(ids[i]), &v),
                     0);
    assert_int_equal(v, want[i]);
  }
  assert_int_equal(cpc_bitswap_version_from_id("/ipfs/bitswap/1.3.0", 19, &v),
                   CPC_EUNSUPPORTED);
  assert_string_equal(cpc_bitswap_protocol_id(CPC_BITSWAP_1_2_0),
                      "/ipfs/bitswap/1.2.0");
  assert_null(cpc_bitswap_protocol_id((enum cpc_bitswap_version)7));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_message_known_bytes),
      cmocka_unit_test(test_message_protobuf_c),
      cmocka_unit_test(test_message_decode),
      cmocka_unit_test(test_message_round_trip),
      cmocka_unit_test(test_message_caps),
      cmocka_unit_test(test_message_malformed),
      cmocka_unit_test(test_prefix),
      cmocka_unit_test(test_reader),
      cmocka_unit_test(test_protocol_ids),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
