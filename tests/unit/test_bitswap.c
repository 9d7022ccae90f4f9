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
  /* a 1 MiB message trickled in 1000-byte pieces (the buffer grows) */
  size_t big = 1024 * 1024;
  uint8_t *bigmsg = malloc(big + 4);
  assert_non_null(bigmsg);
  bigmsg[0] = 0x80;
  bigmsg[1] = 0x80;
  bigmsg[2] = 0x40; /* 2^20 */
  for (size_t i = 0; i < big; i++)
    bigmsg[3 + i] = (uint8_t)(i * 13);
  cpc_bitswap_reader_init(&r);
  size_t got_big = 0;
  for (size_t off = 0; off < big + 3;) {
    size_t chunk = big + 3 - off < 1000 ? big + 3 - off : 1000;
    assert_int_equal(
        cpc_bitswap_reader_feed(&r, bigmsg + off, chunk, &used, &msg, &len), 0);
    off += used;
    if (msg) {
      assert_int_equal(len, big);
      assert_memory_equal(msg, bigmsg + 3, big);
      got_big++;
    }
  }
  assert_int_equal(got_big, 1);
  cpc_bitswap_reader_free(&r);
  free(bigmsg);
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

/* ---- an in-memory block source ------------------------------------------ */

#define MS_MAX 512

struct mstore {
  size_t n;
  cpc_cid cids[MS_MAX];
  uint8_t *data[MS_MAX];
  size_t len[MS_MAX];
  uint8_t present[MS_MAX];
  size_t gets;
};

static int ms_find(const struct mstore *ms, const cpc_cid *cid) {
  for (size_t i = 0; i < ms->n; i++)
    if (ms->present[i] && cpc_cid_equal(&ms->cids[i], cid))
      return (int)i;
  return -1;
}

static int ms_has(void *ud, const cpc_cid *cid, size_t *size) {
  int i = ms_find(ud, cid);
  if (i < 0)
    return CPC_ENOENT;
  *size = ((struct mstore *)ud)->len[i];
  return 0;
}

static int ms_get(void *ud, const cpc_cid *cid, uint8_t **data, size_t *len) {
  struct mstore *ms = ud;
  int i = ms_find(ms, cid);
  if (i < 0)
    return CPC_ENOENT;
  *data = malloc(ms->len[i] ? ms->len[i] : 1);
  assert_non_null(*data);
  memcpy(*data, ms->data[i], ms->len[i]);
  *len = ms->len[i];
  ms->gets++;
  return 0;
}

/* Add a block of len pseudo-random bytes; returns its index. */
static size_t ms_add(struct mstore *ms, size_t len, uint64_t hash,
                     int present) {
  assert_true(ms->n < MS_MAX);
  size_t i = ms->n++;
  ms->data[i] = malloc(len ? len : 1);
  assert_non_null(ms->data[i]);
  for (size_t k = 0; k < len; k++)
    ms->data[i][k] = (uint8_t)rnd();
  ms->len[i] = len;
  ms->present[i] = (uint8_t)present;
  assert_int_equal(
      cpc_cid_compute(CPC_CODEC_RAW, hash, ms->data[i], len, &ms->cids[i]), 0);
  return i;
}

static void ms_free(struct mstore *ms) {
  for (size_t i = 0; i < ms->n; i++)
    free(ms->data[i]);
  ms->n = 0;
}

static cpc_peer_id fake_peer(uint8_t tag) {
  cpc_peer_id p;
  memset(&p, 0, sizeof p);
  p.len = 34;
  p.bytes[0] = 0x12;
  p.bytes[1] = 0x20;
  p.bytes[2] = tag;
  return p;
}

static cpc_bitswap_entry want(const cpc_cid *cid, int type, int sdh,
                              int32_t prio) {
  cpc_bitswap_entry e;
  memset(&e, 0, sizeof e);
  e.cid = *cid;
  e.want_type = (uint8_t)type;
  e.send_dont_have = (uint8_t)sdh;
  e.priority = prio;
  return e;
}

static cpc_bitswap_entry cancel_of(const cpc_cid *cid) {
  cpc_bitswap_entry e;
  memset(&e, 0, sizeof e);
  e.cid = *cid;
  e.cancel = 1;
  return e;
}

/* Send entries to the server as peer (through encode and decode). */
static int srv_send(cpc_bitswap_server *srv, const cpc_peer_id *peer,
                    enum cpc_bitswap_version v, cpc_bitswap_entry *e, size_t n,
                    int full) {
  cpc_bitswap_message m, d;
  uint8_t *out;
  size_t out_len, body_len;
  memset(&m, 0, sizeof m);
  m.entries = e;
  m.n_entries = n;
  m.full = full;
  assert_int_equal(cpc_bitswap_message_encode(&m, v, &out, &out_len), 0);
  const uint8_t *body = body_of(out, out_len, &body_len);
  assert_int_equal(cpc_bitswap_message_decode(body, body_len, &d), 0);
  int rc = cpc_bitswap_server_receive(srv, peer, v, &d);
  cpc_bitswap_message_free(&d);
  free(out);
  return rc;
}

/* Pull a message from the server and decode it into *d. */
static int srv_pull(cpc_bitswap_server *srv, const cpc_peer_id *peer,
                    cpc_bitswap_message *d, size_t *body_len_out) {
  uint8_t *out;
  size_t out_len, body_len;
  int rc = cpc_bitswap_server_pull(srv, peer, &out, &out_len);
  if (rc != 0)
    return rc;
  const uint8_t *body = body_of(out, out_len, &body_len);
  assert_true(body_len <= CPC_BITSWAP_MAX_MESSAGE);
  assert_int_equal(cpc_bitswap_message_decode(body, body_len, d), 0);
  if (body_len_out)
    *body_len_out = body_len;
  free(out);
  return 0;
}

static int ready_count;
static void count_ready(void *ud, const cpc_peer_id *peer) {
  (void)ud;
  (void)peer;
  ready_count++;
}

static cpc_bitswap_server *new_server(struct mstore *ms,
                                      cpc_bitswap_server_config *cfg) {
  cpc_bitswap_source src = {ms_has, ms_get, ms};
  cpc_bitswap_server *srv = NULL;
  assert_int_equal(cpc_bitswap_server_new(&srv, cfg, &src), 0);
  return srv;
}

static int find_block(const cpc_bitswap_message *m, const cpc_cid *cid) {
  for (size_t i = 0; i < m->n_blocks; i++)
    if (cpc_cid_equal(&m->blocks[i].cid, cid))
      return (int)i;
  return -1;
}

static int find_presence(const cpc_bitswap_message *m, const cpc_cid *cid) {
  for (size_t i = 0; i < m->n_presences; i++)
    if (cpc_cid_equal(&m->presences[i].cid, cid))
      return m->presences[i].dont_have ? 1 : 0;
  return -1;
}

/* ---- server ------------------------------------------------------------- */

static void test_server_answers(void **state) {
  (void)state;
  struct mstore ms = {0};
  size_t a = ms_add(&ms, 4000, CPC_MH_BLAKE3, 1);  /* want-block: block */
  size_t b = ms_add(&ms, 100, CPC_MH_SHA2_256, 1); /* small want-have */
  size_t c = ms_add(&ms, 50, CPC_MH_BLAKE3, 0);    /* missing, sdh */
  size_t d = ms_add(&ms, 3000, CPC_MH_BLAKE3, 0);  /* missing, no sdh */
  size_t e = ms_add(&ms, 5000, CPC_MH_BLAKE3, 1);  /* big want-have: HAVE */
  size_t f = ms_add(&ms, 70, CPC_MH_BLAKE3, 1);    /* wanted, then cancelled */
  cpc_bitswap_server_config cfg;
  cpc_bitswap_server_config_default(&cfg);
  cfg.on_ready = count_ready;
  cpc_bitswap_server *srv = new_server(&ms, &cfg);
  cpc_peer_id peer = fake_peer(1);
  cpc_bitswap_entry es[6] = {
      want(&ms.cids[a], CPC_BITSWAP_WANT_BLOCK, 1, 5),
      want(&ms.cids[b], CPC_BITSWAP_WANT_HAVE, 1, 5),
      want(&ms.cids[c], CPC_BITSWAP_WANT_HAVE, 1, 5),
      want(&ms.cids[d], CPC_BITSWAP_WANT_BLOCK, 0, 5),
      want(&ms.cids[e], CPC_BITSWAP_WANT_HAVE, 0, 5),
      want(&ms.cids[f], CPC_BITSWAP_WANT_BLOCK, 1, 5),
  };
  ready_count = 0;
  assert_int_equal(srv_send(srv, &peer, CPC_BITSWAP_1_2_0, es, 6, 0), 0);
  assert_int_equal(ready_count, 1);
  cpc_bitswap_entry cf = cancel_of(&ms.cids[f]);
  assert_int_equal(srv_send(srv, &peer, CPC_BITSWAP_1_2_0, &cf, 1, 0), 0);
  assert_int_equal(ready_count, 1); /* still ready: no second call */

  cpc_peer_id rp;
  assert_int_equal(cpc_bitswap_server_next_ready(srv, &rp), 0);
  assert_memory_equal(&rp, &peer, sizeof rp);
  cpc_bitswap_ledger l;
  assert_int_equal(cpc_bitswap_server_ledger(srv, &peer, &l), 0);
  assert_int_equal(l.wants, 5);
  assert_int_equal(l.pending, 4);
  assert_int_equal(l.pending_bytes, 4000);

  cpc_bitswap_message m;
  assert_int_equal(srv_pull(srv, &peer, &m, NULL), 0);
  assert_int_equal(m.n_blocks, 2);
  int ia = find_block(&m, &ms.cids[a]), ib = find_block(&m, &ms.cids[b]);
  assert_true(ia >= 0 && ib >= 0);
  assert_memory_equal(m.blocks[ia].data, ms.data[a], 4000);
  assert_memory_equal(m.blocks[ib].data, ms.data[b], 100);
  assert_int_equal(m.n_presences, 2);
  assert_int_equal(find_presence(&m, &ms.cids[e]), 0); /* HAVE */
  assert_int_equal(find_presence(&m, &ms.cids[c]), 1); /* DONT_HAVE */
  assert_int_equal(find_presence(&m, &ms.cids[d]), -1);
  assert_int_equal(find_block(&m, &ms.cids[f]), -1);
  assert_int_equal(m.pending_bytes, 0);
  cpc_bitswap_message_free(&m);
  assert_int_equal(srv_pull(srv, &peer, &m, NULL), CPC_EAGAIN);
  assert_int_equal(cpc_bitswap_server_next_ready(srv, &rp), CPC_EAGAIN);

  assert_int_equal(cpc_bitswap_server_ledger(srv, &peer, &l), 0);
  assert_int_equal(l.wants, 2); /* c and d wait for the block */
  assert_int_equal(l.pending, 0);
  assert_int_equal(l.blocks_sent, 2);
  assert_int_equal(l.bytes_sent, 4100);
  assert_int_equal(l.haves_sent, 1);
  assert_int_equal(l.dont_haves_sent, 1);
  assert_int_equal(l.messages_received, 2);

  /* d arrives in the store: the waiting want gets it */
  ms.present[d] = 1;
  ready_count = 0;
  assert_int_equal(cpc_bitswap_server_block_added(srv, &ms.cids[d]), 0);
  assert_int_equal(ready_count, 1);
  assert_int_equal(srv_pull(srv, &peer, &m, NULL), 0);
  assert_int_equal(m.n_blocks, 1);
  assert_int_equal(find_block(&m, &ms.cids[d]), 0);
  cpc_bitswap_message_free(&m);

  /* cancel c: nothing is left */
  cpc_bitswap_entry cc = cancel_of(&ms.cids[c]);
  assert_int_equal(srv_send(srv, &peer, CPC_BITSWAP_1_2_0, &cc, 1, 0), 0);
  assert_int_equal(cpc_bitswap_server_ledger(srv, &peer, &l), 0);
  assert_int_equal(l.wants, 0);

  /* a block that vanished between has() and get(): DONT_HAVE */
  cpc_bitswap_entry wa = want(&ms.cids[a], CPC_BITSWAP_WANT_BLOCK, 1, 1);
  assert_int_equal(srv_send(srv, &peer, CPC_BITSWAP_1_2_0, &wa, 1, 0), 0);
  ms.present[a] = 0;
  assert_int_equal(srv_pull(srv, &peer, &m, NULL), 0);
  assert_int_equal(m.n_blocks, 0);
  assert_int_equal(find_presence(&m, &ms.cids[a]), 1);
  cpc_bitswap_message_free(&m);

  /* a want-have is upgraded to want-block, never downgraded */
  ms.present[e] = 1;
  cpc_bitswap_entry up[2] = {want(&ms.cids[e], CPC_BITSWAP_WANT_BLOCK, 0, 1),
                             want(&ms.cids[e], CPC_BITSWAP_WANT_HAVE, 0, 1)};
  assert_int_equal(srv_send(srv, &peer, CPC_BITSWAP_1_2_0, up, 2, 0), 0);
  assert_int_equal(srv_pull(srv, &peer, &m, NULL), 0);
  assert_int_equal(find_block(&m, &ms.cids[e]), 0);
  assert_int_equal(m.n_presences, 0);
  cpc_bitswap_message_free(&m);

  cpc_bitswap_server_peer_gone(srv, &peer);
  assert_int_equal(cpc_bitswap_server_ledger(srv, &peer, &l), CPC_ENOENT);
  cpc_bitswap_server_free(srv);
  ms_free(&ms);
}

/* Super-seeding: a block sent to one peer is held for another while the
 * hold lasts (HAVE told once), blocks nobody has go first, a cancel drops
 * a hold, and the table forgets peers that left, old blocks and the
 * oldest entries past max_seeded. */
static void test_server_superseed(void **state) {
  (void)state;
  struct mstore ms = {0};
  size_t a = ms_add(&ms, 4000, CPC_MH_BLAKE3, 1);
  size_t b = ms_add(&ms, 4000, CPC_MH_BLAKE3, 1);
  size_t c = ms_add(&ms, 4000, CPC_MH_BLAKE3, 1);
  cpc_bitswap_server_config cfg;
  cpc_bitswap_server_config_default(&cfg);
  cfg.superseed = 1;
  cfg.seed_hold_ms = 1000;
  cfg.seed_window_ms = 5000;
  cfg.on_ready = count_ready;
  cpc_bitswap_server *srv = new_server(&ms, &cfg);
  cpc_peer_id p1 = fake_peer(31), p2 = fake_peer(32), p3 = fake_peer(33),
              p4 = fake_peer(34);
  cpc_bitswap_message m;
  cpc_bitswap_ledger l;
  cpc_bitswap_server_stats st;
  cpc_bitswap_server_tick(srv, 10000);

  /* p1 gets a and b */
  cpc_bitswap_entry e1[2] = {want(&ms.cids[a], CPC_BITSWAP_WANT_BLOCK, 1, 9),
                             want(&ms.cids[b], CPC_BITSWAP_WANT_BLOCK, 1, 9)};
  assert_int_equal(srv_send(srv, &p1, CPC_BITSWAP_1_2_0, e1, 2, 0), 0);
  assert_int_equal(srv_pull(srv, &p1, &m, NULL), 0);
  assert_int_equal(m.n_blocks, 2);
  cpc_bitswap_message_free(&m);

  /* p2 wants a first (higher priority), then c: c comes, a is held */
  cpc_bitswap_entry e2[2] = {want(&ms.cids[a], CPC_BITSWAP_WANT_BLOCK, 1, 9),
                             want(&ms.cids[c], CPC_BITSWAP_WANT_BLOCK, 1, 1)};
  assert_int_equal(srv_send(srv, &p2, CPC_BITSWAP_1_2_0, e2, 2, 0), 0);
  assert_int_equal(srv_pull(srv, &p2, &m, NULL), 0);
  assert_int_equal(m.n_blocks, 1);
  assert_int_equal(find_block(&m, &ms.cids[c]), 0);
  assert_int_equal(find_presence(&m, &ms.cids[a]), 0); /* HAVE: held */
  cpc_bitswap_message_free(&m);
  assert_int_equal(srv_pull(srv, &p2, &m, NULL), CPC_EAGAIN);
  assert_int_equal(cpc_bitswap_server_ledger(srv, &p2, &l), 0);
  assert_int_equal(l.holds, 1);
  assert_int_equal(l.held, 1);
  assert_int_equal(l.wants, 1);
  /* a repeated want does not end the hold nor tell HAVE again */
  assert_int_equal(srv_send(srv, &p2, CPC_BITSWAP_1_2_0, e2, 1, 0), 0);
  assert_int_equal(srv_pull(srv, &p2, &m, NULL), CPC_EAGAIN);
  /* the hold runs out: a goes to p2 after all */
  ready_count = 0;
  cpc_bitswap_server_tick(srv, 10900);
  assert_int_equal(ready_count, 0);
  cpc_bitswap_server_tick(srv, 11000);
  assert_int_equal(ready_count, 1);
  assert_int_equal(srv_pull(srv, &p2, &m, NULL), 0);
  assert_int_equal(find_block(&m, &ms.cids[a]), 0);
  cpc_bitswap_message_free(&m);
  cpc_bitswap_server_stats_get(srv, &st);
  assert_int_equal(st.holds, 1);
  assert_int_equal(st.hold_released, 1);
  assert_int_equal(st.seeded, 3);

  /* p3 (1.1.0: no presences) wants b: held silently; it cancels */
  cpc_bitswap_entry e3 = want(&ms.cids[b], CPC_BITSWAP_WANT_BLOCK, 0, 1);
  assert_int_equal(srv_send(srv, &p3, CPC_BITSWAP_1_1_0, &e3, 1, 0), 0);
  assert_int_equal(srv_pull(srv, &p3, &m, NULL), CPC_EAGAIN);
  cpc_bitswap_entry c3 = cancel_of(&ms.cids[b]);
  assert_int_equal(srv_send(srv, &p3, CPC_BITSWAP_1_1_0, &c3, 1, 0), 0);
  assert_int_equal(cpc_bitswap_server_ledger(srv, &p3, &l), 0);
  assert_int_equal(l.wants, 0);
  assert_int_equal(l.held, 0);
  cpc_bitswap_server_stats_get(srv, &st);
  assert_int_equal(st.hold_cancelled, 1);

  /* want-have is answered at once even for a seeded block */
  cpc_bitswap_entry h3 = want(&ms.cids[b], CPC_BITSWAP_WANT_HAVE, 1, 1);
  assert_int_equal(srv_send(srv, &p2, CPC_BITSWAP_1_2_0, &h3, 1, 0), 0);
  assert_int_equal(srv_pull(srv, &p2, &m, NULL), 0);
  assert_int_equal(find_presence(&m, &ms.cids[b]), 0);
  cpc_bitswap_message_free(&m);

  /* p1 (the only one with b) leaves: b is no longer held for p4 */
  cpc_bitswap_server_peer_gone(srv, &p1);
  cpc_bitswap_entry e4 = want(&ms.cids[b], CPC_BITSWAP_WANT_BLOCK, 1, 1);
  assert_int_equal(srv_send(srv, &p4, CPC_BITSWAP_1_2_0, &e4, 1, 0), 0);
  assert_int_equal(srv_pull(srv, &p4, &m, NULL), 0);
  assert_int_equal(find_block(&m, &ms.cids[b]), 0);
  cpc_bitswap_message_free(&m);
  /* a block we fetched ourselves lately is never held: we are not its
   * seed (b went to p4 just now) */
  assert_int_equal(cpc_bitswap_server_block_fetched(srv, &ms.cids[b]), 0);
  cpc_bitswap_entry e4b = want(&ms.cids[b], CPC_BITSWAP_WANT_BLOCK, 1, 1);
  assert_int_equal(srv_send(srv, &p2, CPC_BITSWAP_1_2_0, &e4b, 1, 0), 0);
  assert_int_equal(srv_pull(srv, &p2, &m, NULL), 0);
  assert_int_equal(find_block(&m, &ms.cids[b]), 0);
  cpc_bitswap_message_free(&m);
  /* past the window (c went to p2 at 10000): c is not held for p4 */
  cpc_bitswap_server_tick(srv, 15001);
  cpc_bitswap_server_stats_get(srv, &st);
  assert_int_equal(st.seeded, 2); /* a (11000) and b (15000) */
  cpc_bitswap_entry e5 = want(&ms.cids[c], CPC_BITSWAP_WANT_BLOCK, 1, 1);
  assert_int_equal(srv_send(srv, &p4, CPC_BITSWAP_1_2_0, &e5, 1, 0), 0);
  assert_int_equal(srv_pull(srv, &p4, &m, NULL), 0);
  assert_int_equal(find_block(&m, &ms.cids[c]), 0);
  cpc_bitswap_message_free(&m);
  cpc_bitswap_server_free(srv);

  /* max_seeded 2: after a, b, c went to p1, a is forgotten */
  cfg.max_seeded = 2;
  srv = new_server(&ms, &cfg);
  cpc_bitswap_server_tick(srv, 1000);
  cpc_bitswap_entry e6[3] = {want(&ms.cids[a], CPC_BITSWAP_WANT_BLOCK, 1, 3),
                             want(&ms.cids[b], CPC_BITSWAP_WANT_BLOCK, 1, 2),
                             want(&ms.cids[c], CPC_BITSWAP_WANT_BLOCK, 1, 1)};
  assert_int_equal(srv_send(srv, &p1, CPC_BITSWAP_1_2_0, e6, 3, 0), 0);
  assert_int_equal(srv_pull(srv, &p1, &m, NULL), 0);
  assert_int_equal(m.n_blocks, 3);
  cpc_bitswap_message_free(&m);
  cpc_bitswap_server_stats_get(srv, &st);
  assert_int_equal(st.seeded, 2);
  assert_int_equal(srv_send(srv, &p2, CPC_BITSWAP_1_2_0, e6, 3, 0), 0);
  assert_int_equal(srv_pull(srv, &p2, &m, NULL), 0);
  assert_int_equal(m.n_blocks, 1);
  assert_int_equal(find_block(&m, &ms.cids[a]), 0);
  assert_int_equal(m.n_presences, 2);
  cpc_bitswap_message_free(&m);
  cpc_bitswap_server_free(srv);
  ms_free(&ms);
}

static void test_server_priority_and_split(void **state) {
  (void)state;
  struct mstore ms = {0};
  cpc_bitswap_server_config cfg;
  cpc_bitswap_server_config_default(&cfg);
  cfg.message_target = 256 * 1024;
  cpc_bitswap_server *srv = new_server(&ms, &cfg);
  cpc_peer_id peer = fake_peer(2);
  cpc_bitswap_entry es[10];
  int32_t prio[10];
  for (int i = 0; i < 10; i++) {
    size_t k = ms_add(&ms, 300 * 1024, CPC_MH_BLAKE3, 1);
    prio[i] = (int32_t)(rnd() % 1000);
    es[i] = want(&ms.cids[k], CPC_BITSWAP_WANT_BLOCK, 1, prio[i]);
  }
  assert_int_equal(srv_send(srv, &peer, CPC_BITSWAP_1_2_0, es, 10, 0), 0);
  int32_t last = INT32_MAX;
  int64_t pending = -1;
  for (int i = 0; i < 10; i++) {
    cpc_bitswap_message m;
    assert_int_equal(srv_pull(srv, &peer, &m, NULL), 0);
    assert_int_equal(m.n_blocks, 1); /* over the target: one per message */
    int j = 0;
    while (!cpc_cid_equal(&es[j].cid, &m.blocks[0].cid))
      j++;
    assert_true(prio[j] <= last);
    last = prio[j];
    if (pending >= 0)
      assert_true(m.pending_bytes < pending);
    pending = m.pending_bytes;
    cpc_bitswap_message_free(&m);
  }
  assert_int_equal(pending, 0);
  cpc_bitswap_server_free(srv);
  ms_free(&ms);

  /* 1.5 MiB blocks with a target over 4 MiB: two per message, never over */
  cfg.message_target = 64 * 1024 * 1024;
  srv = new_server(&ms, &cfg);
  for (int i = 0; i < 6; i++) {
    size_t k = ms_add(&ms, 1536 * 1024, CPC_MH_BLAKE3, 1);
    es[i] = want(&ms.cids[k], CPC_BITSWAP_WANT_BLOCK, 0, 1);
  }
  assert_int_equal(srv_send(srv, &peer, CPC_BITSWAP_1_2_0, es, 6, 0), 0);
  for (int i = 0; i < 3; i++) {
    cpc_bitswap_message m;
    size_t body_len = 0;
    assert_int_equal(srv_pull(srv, &peer, &m, &body_len), 0);
    assert_int_equal(m.n_blocks, 2);
    assert_true(body_len <= CPC_BITSWAP_MAX_MESSAGE);
    cpc_bitswap_message_free(&m);
  }
  cpc_bitswap_message m;
  assert_int_equal(srv_pull(srv, &peer, &m, NULL), CPC_EAGAIN);
  cpc_bitswap_server_free(srv);
  ms_free(&ms);
}

static void test_server_full_wantlist_and_limits(void **state) {
  (void)state;
  struct mstore ms = {0};
  cpc_bitswap_server_config cfg;
  cpc_bitswap_server_config_default(&cfg);
  cfg.max_wants_per_peer = 3;
  cfg.max_peers = 1;
  cpc_bitswap_server *srv = new_server(&ms, &cfg);
  cpc_peer_id peer = fake_peer(3), other = fake_peer(4);
  size_t k[5];
  for (int i = 0; i < 5; i++)
    k[i] = ms_add(&ms, 10, CPC_MH_BLAKE3, 0);
  cpc_bitswap_entry es[4] = {
      want(&ms.cids[k[0]], 0, 0, 1), want(&ms.cids[k[1]], 0, 0, 1),
      want(&ms.cids[k[2]], 0, 0, 1), want(&ms.cids[k[3]], 0, 0, 1)};
  assert_int_equal(srv_send(srv, &peer, CPC_BITSWAP_1_2_0, es, 4, 0), 0);
  cpc_bitswap_ledger l;
  assert_int_equal(cpc_bitswap_server_ledger(srv, &peer, &l), 0);
  assert_int_equal(l.wants, 3);
  assert_int_equal(l.wants_ignored, 1);
  /* a full wantlist {k1, k4} replaces {k0, k1, k2} */
  cpc_bitswap_entry full[2] = {want(&ms.cids[k[1]], 0, 0, 1),
                               want(&ms.cids[k[4]], 0, 0, 1)};
  assert_int_equal(srv_send(srv, &peer, CPC_BITSWAP_1_2_0, full, 2, 1), 0);
  assert_int_equal(cpc_bitswap_server_ledger(srv, &peer, &l), 0);
  assert_int_equal(l.wants, 2);
  ms.present[k[0]] = ms.present[k[1]] = ms.present[k[4]] = 1;
  assert_int_equal(cpc_bitswap_server_block_added(srv, &ms.cids[k[0]]), 0);
  assert_int_equal(cpc_bitswap_server_block_added(srv, &ms.cids[k[1]]), 0);
  cpc_bitswap_message m;
  assert_int_equal(srv_pull(srv, &peer, &m, NULL), 0);
  assert_int_equal(m.n_blocks, 1); /* k1 only: k0 was dropped */
  assert_int_equal(find_block(&m, &ms.cids[k[1]]), 0);
  cpc_bitswap_message_free(&m);
  /* ledgers are capped */
  assert_int_equal(srv_send(srv, &other, CPC_BITSWAP_1_2_0, es, 1, 0),
                   CPC_ENOSPC);
  cpc_bitswap_server_free(srv);
  ms_free(&ms);
}

/* 1.1.0 and 1.0.0 peers: no presences, blocks in payload / blocks. */
static void test_server_old_versions(void **state) {
  (void)state;
  struct mstore ms = {0};
  cpc_bitswap_server *srv = new_server(&ms, NULL);
  size_t have = ms_add(&ms, 2000, CPC_MH_SHA2_256, 1);
  size_t miss = ms_add(&ms, 2000, CPC_MH_SHA2_256, 0);
  cpc_cid v0 = ms.cids[have];
  v0.version = 0;
  v0.codec = CPC_CODEC_DAG_PB;
  ms.cids[have] = v0; /* stored under its CIDv0 */
  for (int pass = 0; pass < 2; pass++) {
    enum cpc_bitswap_version v =
        pass == 0 ? CPC_BITSWAP_1_1_0 : CPC_BITSWAP_1_0_0;
    cpc_peer_id peer = fake_peer((uint8_t)(10 + pass));
    /* what an old peer sends: want-blocks without types */
    cpc_bitswap_entry es[2] = {want(&v0, 0, 0, 1),
                               want(&ms.cids[miss], 0, 0, 1)};
    assert_int_equal(srv_send(srv, &peer, v, es, 2, 0), 0);
    uint8_t *out;
    size_t out_len, body_len;
    assert_int_equal(cpc_bitswap_server_pull(srv, &peer, &out, &out_len), 0);
    const uint8_t *body = body_of(out, out_len, &body_len);
    /* field 3 (payload) for 1.1.0, field 2 (blocks) for 1.0.0; nothing
     * else: no presences (field 4) and no pendingBytes (field 5) */
    assert_int_equal(body[0], pass == 0 ? 0x1a : 0x12);
    cpc_bitswap_message m;
    assert_int_equal(cpc_bitswap_message_decode(body, body_len, &m), 0);
    assert_int_equal(m.n_blocks, 1);
    assert_int_equal(m.n_presences, 0);
    assert_int_equal(m.pending_bytes, 0);
    assert_true(cpc_cid_equal(&m.blocks[0].cid, &v0));
    cpc_bitswap_message_free(&m);
    free(out);
    assert_int_equal(cpc_bitswap_server_pull(srv, &peer, &out, &out_len),
                     CPC_EAGAIN);
  }
  cpc_bitswap_server_free(srv);
  ms_free(&ms);
}

/* ---- client ------------------------------------------------------------- */

#define CL_MAX 256

struct cl_state {
  size_t blocks;
  size_t got[CL_MAX]; /* on_block count per index of cids */
  const cpc_cid *cids;
  size_t n;
  const struct mstore *ms; /* to check the bytes */
  int done, rc;
  int ready;
};

static void cl_on_block(void *ud, cpc_bitswap_session *sess, void *sud,
                        const cpc_cid *cid, const uint8_t *data, size_t len) {
  struct cl_state *st = ud;
  (void)sess;
  (void)sud;
  for (size_t i = 0; i < st->n; i++)
    if (cpc_cid_equal(&st->cids[i], cid)) {
      st->got[i]++;
      if (st->ms) {
        int k = ms_find(st->ms, cid);
        if (k < 0) { /* stores mark blocks absent; look at all */
          for (size_t j = 0; j < st->ms->n; j++)
            if (cpc_cid_equal(&st->ms->cids[j], cid))
              k = (int)j;
        }
        assert_true(k >= 0);
        assert_int_equal(len, st->ms->len[k]);
        assert_memory_equal(data, st->ms->data[k], len);
      }
    }
  st->blocks++;
}

static void cl_on_done(void *ud, cpc_bitswap_session *sess, void *sud, int rc) {
  struct cl_state *st = ud;
  (void)sess;
  (void)sud;
  st->done++;
  st->rc = rc;
}

static void cl_on_ready(void *ud, const cpc_peer_id *peer) {
  struct cl_state *st = ud;
  (void)peer;
  st->ready++;
}

static const cpc_bitswap_client_callbacks cl_cb = {cl_on_block, cl_on_done,
                                                   cl_on_ready};

/* Pull the client's message for peer and decode it (CPC_EAGAIN if none). */
static int cl_pull(cpc_bitswap_client *c, const cpc_peer_id *peer,
                   cpc_bitswap_message *d) {
  uint8_t *out;
  size_t out_len, body_len;
  int rc = cpc_bitswap_client_pull(c, peer, &out, &out_len);
  if (rc != 0)
    return rc;
  const uint8_t *body = body_of(out, out_len, &body_len);
  assert_int_equal(cpc_bitswap_message_decode(body, body_len, d), 0);
  free(out);
  return 0;
}

/* Deliver a message (blocks / presences) to the client, through the codec. */
static void cl_deliver(cpc_bitswap_client *c, const cpc_peer_id *peer,
                       cpc_bitswap_message *m) {
  uint8_t *out;
  size_t out_len, body_len;
  cpc_bitswap_message d;
  assert_int_equal(
      cpc_bitswap_message_encode(m, CPC_BITSWAP_1_2_0, &out, &out_len), 0);
  const uint8_t *body = body_of(out, out_len, &body_len);
  assert_int_equal(cpc_bitswap_message_decode(body, body_len, &d), 0);
  assert_int_equal(cpc_bitswap_client_receive(c, peer, &d), 0);
  cpc_bitswap_message_free(&d);
  free(out);
}

static int find_entry(const cpc_bitswap_message *m, const cpc_cid *cid) {
  for (size_t i = 0; i < m->n_entries; i++)
    if (cpc_cid_equal(&m->entries[i].cid, cid))
      return (int)i;
  return -1;
}

static void test_client_session(void **state) {
  (void)state;
  struct mstore ms = {0};
  for (int i = 0; i < 3; i++)
    ms_add(&ms, 500 + (size_t)i, CPC_MH_BLAKE3, 1);
  struct cl_state st;
  memset(&st, 0, sizeof st);
  st.cids = ms.cids;
  st.n = 3;
  st.ms = &ms;
  cpc_bitswap_client *c = NULL;
  assert_int_equal(cpc_bitswap_client_new(&c, NULL, &cl_cb, &st), 0);
  cpc_peer_id p1 = fake_peer(21), p2 = fake_peer(22);
  assert_int_equal(cpc_bitswap_client_peer_add(c, &p1, CPC_BITSWAP_1_2_0), 0);
  assert_int_equal(cpc_bitswap_client_peer_add(c, &p2, CPC_BITSWAP_1_2_0), 0);
  cpc_bitswap_session *s = NULL;
  assert_int_equal(cpc_bitswap_session_new(c, ms.cids, 3, NULL, 0, NULL, &s),
                   0);
  assert_int_equal(st.ready, 2);
  /* both peers get want-have with sendDontHave for the three */
  cpc_bitswap_message m;
  for (int k = 0; k < 2; k++) {
    assert_int_equal(cl_pull(c, k ? &p2 : &p1, &m), 0);
    assert_int_equal(m.n_entries, 3);
    for (int i = 0; i < 3; i++) {
      int j = find_entry(&m, &ms.cids[i]);
      assert_true(j >= 0);
      assert_int_equal(m.entries[j].want_type, CPC_BITSWAP_WANT_HAVE);
      assert_int_equal(m.entries[j].send_dont_have, 1);
      assert_int_equal(m.entries[j].cancel, 0);
    }
    cpc_bitswap_message_free(&m);
    assert_int_equal(cl_pull(c, k ? &p2 : &p1, &m), CPC_EAGAIN);
  }
  /* p1 has all three: want-block goes to p1 */
  cpc_bitswap_presence pr[3];
  for (int i = 0; i < 3; i++) {
    pr[i].cid = ms.cids[i];
    pr[i].dont_have = 0;
  }
  cpc_bitswap_message in;
  memset(&in, 0, sizeof in);
  in.presences = pr;
  in.n_presences = 3;
  cl_deliver(c, &p1, &in);
  assert_int_equal(cl_pull(c, &p1, &m), 0);
  assert_int_equal(m.n_entries, 3);
  for (size_t i = 0; i < 3; i++)
    assert_int_equal(m.entries[i].want_type, CPC_BITSWAP_WANT_BLOCK);
  cpc_bitswap_message_free(&m);
  assert_int_equal(cl_pull(c, &p2, &m), CPC_EAGAIN);

  /* p1 sends blocks 0 and 1, and a forged block 2 (bytes not matching) */
  uint8_t forged[502];
  memcpy(forged, ms.data[2], 502);
  forged[7] ^= 0x40;
  cpc_bitswap_block bl[3] = {{ms.cids[0], ms.data[0], ms.len[0]},
                             {ms.cids[1], ms.data[1], ms.len[1]},
                             {ms.cids[2], forged, 502}};
  memset(&in, 0, sizeof in);
  in.blocks = bl;
  in.n_blocks = 3;
  cl_deliver(c, &p1, &in);
  assert_int_equal(st.got[0], 1);
  assert_int_equal(st.got[1], 1);
  assert_int_equal(st.got[2], 0);
  cpc_bitswap_client_stats cs;
  cpc_bitswap_client_stats_get(c, &cs);
  assert_int_equal(cs.blocks_received, 2);
  assert_int_equal(cs.blocks_unwanted, 1);
  /* p2 was asked want-have for 0 and 1: cancelled; p1 sent them: nothing */
  assert_int_equal(cl_pull(c, &p2, &m), 0);
  assert_int_equal(m.n_entries, 2);
  for (size_t i = 0; i < 2; i++)
    assert_int_equal(m.entries[i].cancel, 1);
  cpc_bitswap_message_free(&m);
  assert_int_equal(cl_pull(c, &p1, &m), CPC_EAGAIN);

  /* the same blocks again: duplicates, not handed out */
  in.n_blocks = 2;
  cl_deliver(c, &p1, &in);
  assert_int_equal(st.got[0], 1);
  cpc_bitswap_client_stats_get(c, &cs);
  assert_int_equal(cs.blocks_unwanted, 3);

  /* block 2: p1 and p2 say DONT_HAVE: the session fails with ENOENT */
  pr[0].cid = ms.cids[2];
  pr[0].dont_have = 1;
  memset(&in, 0, sizeof in);
  in.presences = pr;
  in.n_presences = 1;
  cl_deliver(c, &p1, &in);
  assert_int_equal(st.done, 0);
  cl_deliver(c, &p2, &in);
  assert_int_equal(st.done, 1);
  assert_int_equal(st.rc, CPC_ENOENT);
  cpc_bitswap_session_stats ss;
  cpc_bitswap_session_stats_get(s, &ss);
  assert_int_equal(ss.received, 2);
  assert_int_equal(ss.failed, 1);
  assert_int_equal(cpc_bitswap_session_peer_blocks(s, &p1), 2);
  assert_int_equal(cpc_bitswap_session_peer_blocks(s, &p2), 0);
  /* cancels for 2 go to both peers (their wants wait at the server) */
  for (int k = 0; k < 2; k++) {
    assert_int_equal(cl_pull(c, k ? &p2 : &p1, &m), 0);
    assert_int_equal(m.n_entries, 1);
    assert_int_equal(m.entries[0].cancel, 1);
    cpc_bitswap_message_free(&m);
  }
  cpc_bitswap_session_free(s);
  cpc_bitswap_client_free(c);
  ms_free(&ms);
}

/* A HAVE answering our want-block: the peer holds the block back. The
 * want stops counting in its max_inflight, and moves (cancelled there) to
 * another peer once that one says HAVE, even after its DONT_HAVE. */
static void test_client_held(void **state) {
  (void)state;
  struct mstore ms = {0};
  ms_add(&ms, 5000, CPC_MH_BLAKE3, 1);
  ms_add(&ms, 5000, CPC_MH_BLAKE3, 1);
  struct cl_state st;
  memset(&st, 0, sizeof st);
  st.cids = ms.cids;
  st.n = 2;
  st.ms = &ms;
  cpc_bitswap_client_config cfg;
  cpc_bitswap_client_config_default(&cfg);
  cfg.max_inflight = 1;
  cpc_bitswap_client *c = NULL;
  assert_int_equal(cpc_bitswap_client_new(&c, &cfg, &cl_cb, &st), 0);
  cpc_peer_id seed = fake_peer(41), peer = fake_peer(42);
  assert_int_equal(cpc_bitswap_client_peer_add(c, &seed, CPC_BITSWAP_1_2_0), 0);
  assert_int_equal(cpc_bitswap_client_peer_add(c, &peer, CPC_BITSWAP_1_2_0), 0);
  cpc_bitswap_session *s = NULL;
  assert_int_equal(cpc_bitswap_session_new(c, ms.cids, 2, NULL, 0, NULL, &s),
                   0);
  cpc_bitswap_message m, in;
  for (int k = 0; k < 2; k++) { /* want-haves */
    assert_int_equal(cl_pull(c, k ? &peer : &seed, &m), 0);
    cpc_bitswap_message_free(&m);
  }
  cpc_bitswap_presence pr[2] = {{ms.cids[0], 0}, {ms.cids[1], 0}};
  memset(&in, 0, sizeof in);
  in.presences = pr;
  in.n_presences = 2;
  cl_deliver(c, &seed, &in); /* the seed has both */
  pr[0].dont_have = pr[1].dont_have = 1;
  cl_deliver(c, &peer, &in); /* the peer has neither */
  /* one want-block at the seed (max_inflight 1) */
  assert_int_equal(cl_pull(c, &seed, &m), 0);
  assert_int_equal(m.n_entries, 1);
  assert_int_equal(m.entries[0].want_type, CPC_BITSWAP_WANT_BLOCK);
  int held = cpc_cid_equal(&m.entries[0].cid, &ms.cids[0]) ? 0 : 1;
  cpc_bitswap_message_free(&m);
  /* the seed holds it: the other block is asked of the seed at once */
  cpc_bitswap_presence hp = {ms.cids[held], 0};
  in.presences = &hp;
  in.n_presences = 1;
  cl_deliver(c, &seed, &in);
  assert_int_equal(cl_pull(c, &seed, &m), 0);
  assert_int_equal(m.n_entries, 1);
  assert_true(cpc_cid_equal(&m.entries[0].cid, &ms.cids[1 - held]));
  assert_int_equal(m.entries[0].want_type, CPC_BITSWAP_WANT_BLOCK);
  cpc_bitswap_message_free(&m);
  assert_int_equal(cl_pull(c, &peer, &m), CPC_EAGAIN);
  /* the peer got the held block since: the want moves there */
  cl_deliver(c, &peer, &in);
  assert_int_equal(cl_pull(c, &peer, &m), 0);
  assert_int_equal(m.n_entries, 1);
  assert_true(cpc_cid_equal(&m.entries[0].cid, &ms.cids[held]));
  assert_int_equal(m.entries[0].want_type, CPC_BITSWAP_WANT_BLOCK);
  cpc_bitswap_message_free(&m);
  assert_int_equal(cl_pull(c, &seed, &m), 0); /* cancelled at the seed */
  assert_int_equal(m.n_entries, 1);
  assert_true(cpc_cid_equal(&m.entries[0].cid, &ms.cids[held]));
  assert_int_equal(m.entries[0].cancel, 1);
  cpc_bitswap_message_free(&m);
  /* both arrive */
  cpc_bitswap_block b1 = {ms.cids[held], ms.data[held], ms.len[held]};
  cpc_bitswap_block b2 = {ms.cids[1 - held], ms.data[1 - held],
                          ms.len[1 - held]};
  memset(&in, 0, sizeof in);
  in.blocks = &b1;
  in.n_blocks = 1;
  cl_deliver(c, &peer, &in);
  in.blocks = &b2;
  cl_deliver(c, &seed, &in);
  assert_int_equal(st.done, 1);
  assert_int_equal(st.rc, 0);
  assert_int_equal(cpc_bitswap_session_peer_blocks(s, &peer), 1);
  assert_int_equal(cpc_bitswap_session_peer_blocks(s, &seed), 1);
  cpc_bitswap_session_free(s);
  cpc_bitswap_client_free(c);
  ms_free(&ms);
}

/* Timeouts: a silent peer is dropped, the block is asked elsewhere, and a
 * session with only silent peers fails with ETIMEDOUT. */
static void test_client_timeouts(void **state) {
  (void)state;
  struct mstore ms = {0};
  for (int i = 0; i < 4; i++)
    ms_add(&ms, 600, CPC_MH_SHA2_256, 1);
  struct cl_state st;
  memset(&st, 0, sizeof st);
  st.cids = ms.cids;
  st.n = 4;
  cpc_bitswap_client_config cfg;
  cpc_bitswap_client_config_default(&cfg);
  cfg.have_timeout_ms = 1000;
  cfg.block_timeout_ms = 2000;
  cfg.max_timeouts = 2;
  cpc_bitswap_client *c = NULL;
  assert_int_equal(cpc_bitswap_client_new(&c, &cfg, &cl_cb, &st), 0);
  cpc_peer_id p1 = fake_peer(31), p2 = fake_peer(32);
  assert_int_equal(cpc_bitswap_client_peer_add(c, &p1, CPC_BITSWAP_1_2_0), 0);
  assert_int_equal(cpc_bitswap_client_peer_add(c, &p2, CPC_BITSWAP_1_2_0), 0);
  cpc_bitswap_session *s = NULL;
  assert_int_equal(cpc_bitswap_session_new(c, ms.cids, 1, NULL, 0, NULL, &s),
                   0);
  cpc_bitswap_message m;
  assert_int_equal(cl_pull(c, &p1, &m), 0);
  cpc_bitswap_message_free(&m);
  assert_int_equal(cl_pull(c, &p2, &m), 0);
  cpc_bitswap_message_free(&m);
  /* both say HAVE; the block is asked of one of them, which stays silent */
  cpc_bitswap_presence pr = {ms.cids[0], 0};
  cpc_bitswap_message in;
  memset(&in, 0, sizeof in);
  in.presences = &pr;
  in.n_presences = 1;
  cl_deliver(c, &p1, &in);
  cl_deliver(c, &p2, &in);
  assert_int_equal(cl_pull(c, &p1, &m), 0); /* p1: fewest in flight, first */
  assert_int_equal(m.entries[0].want_type, CPC_BITSWAP_WANT_BLOCK);
  cpc_bitswap_message_free(&m);
  assert_int_equal(cl_pull(c, &p2, &m), CPC_EAGAIN);
  uint64_t when = 0;
  assert_int_equal(cpc_bitswap_client_next_deadline(c, &when), 0);
  assert_int_equal(when, 2000);
  cpc_bitswap_client_tick(c, 1999);
  assert_int_equal(cl_pull(c, &p2, &m), CPC_EAGAIN);
  cpc_bitswap_client_tick(c, 2000);
  /* p1 gets a cancel, p2 the want-block */
  assert_int_equal(cl_pull(c, &p1, &m), 0);
  assert_int_equal(m.entries[0].cancel, 1);
  cpc_bitswap_message_free(&m);
  assert_int_equal(cl_pull(c, &p2, &m), 0);
  assert_int_equal(m.entries[0].want_type, CPC_BITSWAP_WANT_BLOCK);
  cpc_bitswap_message_free(&m);
  cpc_bitswap_block bl = {ms.cids[0], ms.data[0], ms.len[0]};
  memset(&in, 0, sizeof in);
  in.blocks = &bl;
  in.n_blocks = 1;
  cl_deliver(c, &p2, &in);
  assert_int_equal(st.done, 1);
  assert_int_equal(st.rc, 0);
  cpc_bitswap_session_stats ss;
  cpc_bitswap_session_stats_get(s, &ss);
  assert_int_equal(ss.timeouts, 1);
  cpc_bitswap_session_free(s);

  /* silent peers only: want-have timeouts, then ETIMEDOUT */
  st.done = 0;
  assert_int_equal(
      cpc_bitswap_session_new(c, ms.cids + 1, 3, NULL, 0, NULL, &s), 0);
  cpc_bitswap_client_tick(c, 2999);
  assert_int_equal(st.done, 0);
  cpc_bitswap_client_tick(c, 3000);
  assert_int_equal(st.done, 1);
  assert_int_equal(st.rc, CPC_ETIMEDOUT);
  cpc_bitswap_session_free(s);

  /* a peer that leaves counts as timed out */
  st.done = 0;
  assert_int_equal(cpc_bitswap_session_new(c, ms.cids + 1, 1, &p1, 1, NULL, &s),
                   0);
  cpc_bitswap_client_peer_gone(c, &p1);
  assert_int_equal(st.done, 1);
  assert_int_equal(st.rc, CPC_ETIMEDOUT);
  cpc_bitswap_session_free(s);

  /* no peers at all: fails after have_timeout, unless one is added */
  st.done = 0;
  cpc_bitswap_client_peer_gone(c, &p2);
  assert_int_equal(
      cpc_bitswap_session_new(c, ms.cids + 1, 1, NULL, 0, NULL, &s), 0);
  assert_int_equal(cpc_bitswap_client_next_deadline(c, &when), 0);
  assert_int_equal(when, 4000);
  cpc_bitswap_client_tick(c, 4000);
  assert_int_equal(st.done, 1);
  assert_int_equal(st.rc, CPC_ETIMEDOUT);
  assert_int_equal(cpc_bitswap_session_add_peer(s, &p1), CPC_ENOENT);
  assert_int_equal(cpc_bitswap_client_peer_add(c, &p1, CPC_BITSWAP_1_2_0), 0);
  assert_int_equal(cpc_bitswap_session_add_peer(s, &p1), CPC_ESTATE);
  cpc_bitswap_session_free(s);
  cpc_bitswap_client_free(c);
  ms_free(&ms);
}

/* A 1.1.0 peer cannot answer want-have: it is asked want-block directly. */
static void test_client_old_peer(void **state) {
  (void)state;
  struct mstore ms = {0};
  ms_add(&ms, 100, CPC_MH_BLAKE3, 1);
  struct cl_state st;
  memset(&st, 0, sizeof st);
  st.cids = ms.cids;
  st.n = 1;
  cpc_bitswap_client *c = NULL;
  assert_int_equal(cpc_bitswap_client_new(&c, NULL, &cl_cb, &st), 0);
  cpc_peer_id p1 = fake_peer(41), p0 = fake_peer(40);
  assert_int_equal(cpc_bitswap_client_peer_add(c, &p1, CPC_BITSWAP_1_1_0), 0);
  assert_int_equal(cpc_bitswap_client_peer_add(c, &p0, CPC_BITSWAP_1_0_0), 0);
  cpc_bitswap_session *s = NULL;
  assert_int_equal(cpc_bitswap_session_new(c, ms.cids, 1, NULL, 0, NULL, &s),
                   0);
  uint8_t *out;
  size_t out_len, body_len;
  assert_int_equal(cpc_bitswap_client_pull(c, &p1, &out, &out_len), 0);
  const uint8_t *body = body_of(out, out_len, &body_len);
  cpc_bitswap_message m;
  assert_int_equal(cpc_bitswap_message_decode(body, body_len, &m), 0);
  assert_int_equal(m.n_entries, 1);
  assert_int_equal(m.entries[0].want_type, CPC_BITSWAP_WANT_BLOCK);
  assert_int_equal(m.entries[0].send_dont_have, 0);
  cpc_bitswap_message_free(&m);
  free(out);
  /* the 1.0.0 peer is not asked for a CIDv1 */
  assert_int_equal(cpc_bitswap_client_pull(c, &p0, &out, &out_len), CPC_EAGAIN);
  cpc_bitswap_session_free(s);
  cpc_bitswap_client_free(c);
  ms_free(&ms);
}

/* ---- a simulated swarm -------------------------------------------------- */

#define SWARM_BLOCKS 200

/* Deliver every framed message in out[0..len) through a reader. */
static void feed_stream(cpc_bitswap_reader *r, const uint8_t *out, size_t len,
                        void (*deliver)(void *, const cpc_bitswap_message *),
                        void *arg) {
  size_t off = 0;
  while (off < len) {
    const uint8_t *msg;
    size_t used, mlen;
    assert_int_equal(
        cpc_bitswap_reader_feed(r, out + off, len - off, &used, &msg, &mlen),
        0);
    off += used;
    if (msg) {
      cpc_bitswap_message m;
      assert_int_equal(cpc_bitswap_message_decode(msg, mlen, &m), 0);
      deliver(arg, &m);
      cpc_bitswap_message_free(&m);
    }
  }
}

struct swarm {
  cpc_bitswap_client *client;
  cpc_bitswap_server *srv[3];
  cpc_peer_id client_id, srv_id[3];
  int cur; /* server index being served */
};

static void to_server(void *arg, const cpc_bitswap_message *m) {
  struct swarm *sw = arg;
  assert_int_equal(cpc_bitswap_server_receive(sw->srv[sw->cur], &sw->client_id,
                                              CPC_BITSWAP_1_2_0, m),
                   0);
}

static void to_client(void *arg, const cpc_bitswap_message *m) {
  struct swarm *sw = arg;
  assert_int_equal(
      cpc_bitswap_client_receive(sw->client, &sw->srv_id[sw->cur], m), 0);
}

static void test_swarm(void **state) {
  (void)state;
  /* the blocks: 1.5 to 6 KiB (over the inline-have size), blake3 and
   * sha2-256 */
  struct mstore all = {0}, st_[3];
  memset(st_, 0, sizeof st_);
  for (int i = 0; i < SWARM_BLOCKS; i++)
    ms_add(&all, 1536 + rnd() % 4608, i % 4 ? CPC_MH_BLAKE3 : CPC_MH_SHA2_256,
           1);
  /* server 0 has everything, server 1 lacks every third block, server 2
   * has everything but drops half of its messages */
  for (int s = 0; s < 3; s++) {
    st_[s] = all;
    for (int i = 0; i < SWARM_BLOCKS; i++)
      st_[s].present[i] = !(s == 1 && i % 3 == 0);
  }
  struct swarm sw;
  memset(&sw, 0, sizeof sw);
  sw.client_id = fake_peer(100);
  struct cl_state st;
  memset(&st, 0, sizeof st);
  st.cids = all.cids;
  st.n = SWARM_BLOCKS;
  st.ms = &all;
  cpc_bitswap_client_config ccfg;
  cpc_bitswap_client_config_default(&ccfg);
  ccfg.have_timeout_ms = 1000;
  ccfg.block_timeout_ms = 2000;
  ccfg.max_inflight = 8;
  ccfg.max_active = 64;
  assert_int_equal(cpc_bitswap_client_new(&sw.client, &ccfg, &cl_cb, &st), 0);
  cpc_bitswap_reader rd_up[3], rd_down[3];
  for (int s = 0; s < 3; s++) {
    sw.srv_id[s] = fake_peer((uint8_t)(101 + s));
    sw.srv[s] = new_server(&st_[s], NULL);
    assert_int_equal(cpc_bitswap_client_peer_add(sw.client, &sw.srv_id[s],
                                                 CPC_BITSWAP_1_2_0),
                     0);
    cpc_bitswap_reader_init(&rd_up[s]);
    cpc_bitswap_reader_init(&rd_down[s]);
  }
  cpc_bitswap_session *sess = NULL;
  assert_int_equal(cpc_bitswap_session_new(sw.client, all.cids, SWARM_BLOCKS,
                                           NULL, 0, NULL, &sess),
                   0);
  uint64_t now = 0;
  size_t dropped = 0, rounds = 0;
  for (; rounds < 1000; rounds++) {
    uint8_t *out;
    size_t out_len;
    cpc_peer_id who;
    /* the client's wantlist updates, in the order next_ready gives */
    while (cpc_bitswap_client_next_ready(sw.client, &who) == 0) {
      int s = 0;
      while (memcmp(&who, &sw.srv_id[s], sizeof who) != 0)
        s++;
      assert_int_equal(cpc_bitswap_client_pull(sw.client, &who, &out, &out_len),
                       0);
      sw.cur = s;
      feed_stream(&rd_up[s], out, out_len, to_server, &sw);
      free(out);
    }
    /* each server sends what it has for the client: one message per round
     * (a stream that takes one message at a time) */
    for (int s = 0; s < 3; s++) {
      if (cpc_bitswap_server_pull(sw.srv[s], &sw.client_id, &out, &out_len) !=
          0)
        continue;
      if (s == 2 && rnd() % 2) {
        dropped++;
      } else {
        sw.cur = s;
        feed_stream(&rd_down[s], out, out_len, to_client, &sw);
      }
      free(out);
    }
    if (st.done)
      break;
    now += 100;
    cpc_bitswap_client_tick(sw.client, now);
  }
  assert_int_equal(st.done, 1);
  assert_int_equal(st.rc, 0);
  for (int i = 0; i < SWARM_BLOCKS; i++)
    assert_int_equal(st.got[i], 1); /* each block once, bytes checked */
  /* the last cancels reach the servers: nobody keeps a want of ours */
  for (int guard = 0; guard < 10; guard++) {
    uint8_t *out;
    size_t out_len;
    cpc_peer_id who;
    while (cpc_bitswap_client_next_ready(sw.client, &who) == 0) {
      int s = 0;
      while (memcmp(&who, &sw.srv_id[s], sizeof who) != 0)
        s++;
      assert_int_equal(cpc_bitswap_client_pull(sw.client, &who, &out, &out_len),
                       0);
      sw.cur = s;
      feed_stream(&rd_up[s], out, out_len, to_server, &sw);
      free(out);
    }
  }
  size_t shares[3], total = 0;
  for (int s = 0; s < 3; s++) {
    cpc_bitswap_ledger l;
    assert_int_equal(cpc_bitswap_server_ledger(sw.srv[s], &sw.client_id, &l),
                     0);
    assert_int_equal(l.wants, 0);
    shares[s] = cpc_bitswap_session_peer_blocks(sess, &sw.srv_id[s]);
    total += shares[s];
  }
  assert_int_equal(total, SWARM_BLOCKS);
  /* the two reliable servers share the load */
  assert_true(shares[0] >= SWARM_BLOCKS / 5);
  assert_true(shares[1] >= SWARM_BLOCKS / 5);
  assert_true(dropped > 0);
  cpc_bitswap_session_stats ss;
  cpc_bitswap_session_stats_get(sess, &ss);
  assert_true(ss.timeouts > 0);
  cpc_bitswap_client_stats cs;
  cpc_bitswap_client_stats_get(sw.client, &cs);
  assert_int_equal(cs.blocks_received, SWARM_BLOCKS);
  print_message("swarm: %zu rounds, shares %zu/%zu/%zu, %zu dropped, %zu "
                "timeouts, %llu late\n",
                rounds, shares[0], shares[1], shares[2], dropped, ss.timeouts,
                (unsigned long long)cs.blocks_unwanted);
  cpc_bitswap_session_free(sess);
  cpc_bitswap_client_free(sw.client);
  for (int s = 0; s < 3; s++) {
    cpc_bitswap_server_free(sw.srv[s]);
    cpc_bitswap_reader_free(&rd_up[s]);
    cpc_bitswap_reader_free(&rd_down[s]);
  }
  ms_free(&all);
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
      cmocka_unit_test(test_server_answers),
      cmocka_unit_test(test_server_superseed),
      cmocka_unit_test(test_server_priority_and_split),
      cmocka_unit_test(test_server_full_wantlist_and_limits),
      cmocka_unit_test(test_server_old_versions),
      cmocka_unit_test(test_client_session),
      cmocka_unit_test(test_client_held),
      cmocka_unit_test(test_client_timeouts),
      cmocka_unit_test(test_client_old_peer),
      cmocka_unit_test(test_swarm),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
