/*
 * test_cid.c: CIDv1 and CIDv0 in binary and text form: well-known CIDs,
 * random round trips in every base, malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpc/cid.h"
#include "cpc/error.h"
#include "test_support.h"

static uint64_t rng_state = 0xda3e39cb94b95bdbu;

static uint64_t rng_next(void) { return test_splitmix64(&rng_state); }

/* Parse from a heap copy sized exactly to the string, so ASan sees over-reads. */
static int parse_exact(const char *text, cpc_cid *cid) {
  size_t len = strlen(text);
  char *copy = test_copy(text, len + 1);
  int rc = cpc_cid_parse(copy, cid);
  free(copy);
  return rc;
}

static int decode_exact(const uint8_t *in, size_t len, cpc_cid *cid,
                        size_t *used) {
  uint8_t *copy = test_copy(in, len);
  int rc = cpc_cid_decode(copy, len, cid, used);
  free(copy);
  return rc;
}

static void expect_format(const cpc_cid *cid, enum cpc_multibase base,
                          const char *want) {
  char text[CPC_CID_MAX_TEXT];
  assert_int_equal(cpc_cid_format(cid, base, text, sizeof text), 0);
  assert_string_equal(text, want);
}

static const char sha256_empty[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/* The CID used as the example throughout the IPFS docs and CID spec. */
static void test_well_known_v1(void **state) {
  (void)state;
  const char *text = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
  uint8_t digest[32], bin[CPC_CID_MAX_BYTES];
  cpc_cid cid;
  size_t n;
  test_unhex("c7d01489080858c500065836c658f847a6ca67c4864619212be4f8200e4bbace",
        digest, sizeof digest);
  assert_int_equal(parse_exact(text, &cid), 0);
  assert_true(cid.version == 1);
  assert_true(cid.codec == CPC_CODEC_RAW);
  assert_true(cid.mh.code == CPC_MH_SHA2_256);
  assert_int_equal(cid.mh.digest_len, 32);
  assert_memory_equal(cid.mh.digest, digest, 32);
  expect_format(&cid, CPC_MB_BASE32, text);
  assert_int_equal(cpc_cid_encode(&cid, bin, sizeof bin, &n), 0);
  assert_int_equal(n, 36);
  assert_memory_equal(bin, "\x01\x55\x12\x20", 4);
  /* The same CID in the other bases (from js multiformats) parses equal. */
  static const char *const others[] = {
      "zb2rhk6GMPQF3hfzwXTaNYFLKomMeC6UXdUt6jZKPpeVirLtV",
      "f01551220c7d01489080858c500065836c658f847a6ca67c4864619212be4f8200e4bbace",
      "BAFKREIGH2AKISCAILDCQABSYG3DFR6CHU3FGPREGIYMSCK7E7AQA4S52ZY",
      "F01551220C7D01489080858C500065836C658F847A6CA67C4864619212BE4F8200E4BBACE",
  };
  for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
    cpc_cid other;
    assert_int_equal(parse_exact(others[i], &other), 0);
    assert_true(cpc_cid_equal(&cid, &other));
  }
  expect_format(&cid, CPC_MB_BASE58BTC, others[0]);
  expect_format(&cid, CPC_MB_BASE16, others[1]);
}

/* A CIDv0 (the empty dag-pb directory's sha2-256 is that of ""). */
static void test_v0(void **state) {
  (void)state;
  const char *text = "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n";
  uint8_t digest[32], bin[CPC_CID_MAX_BYTES];
  cpc_cid cid;
  size_t n, used;
  test_unhex(sha256_empty, digest, sizeof digest);
  assert_int_equal(parse_exact(text, &cid), 0);
  assert_true(cid.version == 0);
  assert_true(cid.codec == CPC_CODEC_DAG_PB);
  assert_true(cid.mh.code == CPC_MH_SHA2_256);
  assert_memory_equal(cid.mh.digest, digest, 32);
  /* v0 always formats as bare base58btc, whatever base is asked. */
  expect_format(&cid, CPC_MB_BASE32, text);
  expect_format(&cid, CPC_MB_BASE16, text);
  assert_int_equal(cpc_cid_encode(&cid, bin, sizeof bin, &n), 0);
  assert_int_equal(n, 34);
  assert_memory_equal(bin, "\x12\x20", 2);
  assert_memory_equal(bin + 2, digest, 32);
  assert_int_equal(decode_exact(bin, n, &cid, &used), 0);
  assert_true(cid.version == 0);
  assert_int_equal(used, 34);
  /* Its v1 form, as js multiformats toV1() gives it. */
  cid.version = 1;
  expect_format(&cid, CPC_MB_BASE32,
                "bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
  assert_int_equal(cpc_cid_verify(&cid, "", 0), 0);
}

static void test_compute(void **state) {
  (void)state;
  static const struct {
    uint64_t codec, hash;
    const char *input, *text;
  } v[] = {
      {CPC_CODEC_RAW, CPC_MH_SHA2_256, "",
       "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"},
      {CPC_CODEC_RAW, CPC_MH_SHA2_256, "hello world",
       "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"},
      {CPC_CODEC_RAW, CPC_MH_BLAKE3, "",
       "bafkr4ifpcne3t5pzugtkaqcn5i3nzskjtpfslsnnyejlpte2spfoihzsmi"},
      {CPC_CODEC_RAW, CPC_MH_BLAKE3, "hello world",
       "bafkr4igxjga67jykbseaxdmmdgc5a5o3zp3htom2l6mrjznk7fvyggu6eq"},
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    cpc_cid cid, parsed;
    size_t len = strlen(v[i].input);
    assert_int_equal(cpc_cid_compute(v[i].codec, v[i].hash, v[i].input, len, &cid), 0);
    expect_format(&cid, CPC_MB_BASE32, v[i].text);
    assert_int_equal(parse_exact(v[i].text, &parsed), 0);
    assert_true(cpc_cid_equal(&cid, &parsed));
    assert_int_equal(cpc_cid_verify(&parsed, v[i].input, len), 0);
    assert_int_equal(cpc_cid_verify(&parsed, "x", 1), CPC_EMISMATCH);
  }
  cpc_cid cid;
  assert_int_equal(cpc_cid_compute(CPC_CODEC_RAW, 0x13, "", 0, &cid),
                   CPC_EUNSUPPORTED);
  assert_int_equal(cpc_cid_compute(UINT64_C(1) << 63, CPC_MH_BLAKE3, "", 0, &cid),
                   CPC_EINVAL);
}

static void random_cid(cpc_cid *cid) {
  static const uint64_t codecs[] = {CPC_CODEC_RAW, CPC_CODEC_DAG_PB,
                                    CPC_CODEC_LIBP2P_KEY, 0x71, 0x0129};
  memset(cid, 0, sizeof *cid);
  cid->version = 1;
  cid->codec = codecs[rng_next() % 5];
  if (rng_next() % 8 == 0)
    cid->codec = rng_next() >> (1 + rng_next() % 63);
  switch (rng_next() % 4) {
  case 0: cid->mh.code = CPC_MH_SHA2_256; cid->mh.digest_len = 32; break;
  case 1: cid->mh.code = CPC_MH_BLAKE3; cid->mh.digest_len = 32; break;
  case 2:
    cid->mh.code = CPC_MH_IDENTITY;
    cid->mh.digest_len = rng_next() % (CPC_MH_MAX_DIGEST + 1);
    break;
  default: cid->mh.code = 0x13; cid->mh.digest_len = 64; break;
  }
  for (size_t i = 0; i < cid->mh.digest_len; i++)
    cid->mh.digest[i] = (uint8_t)rng_next();
  /* Now and then a v0. */
  if (rng_next() % 10 == 0) {
    cid->version = 0;
    cid->codec = CPC_CODEC_DAG_PB;
    cid->mh.code = CPC_MH_SHA2_256;
    cid->mh.digest_len = 32;
  }
}

static void test_round_trip_random(void **state) {
  (void)state;
  static const enum cpc_multibase bases[] = {CPC_MB_BASE16, CPC_MB_BASE32,
                                             CPC_MB_BASE58BTC};
  for (int iter = 0; iter < 3000; iter++) {
    cpc_cid cid, back;
    uint8_t bin[CPC_CID_MAX_BYTES + 1];
    char text[CPC_CID_MAX_TEXT], again[CPC_CID_MAX_TEXT];
    size_t n, used;
    random_cid(&cid);
    assert_int_equal(cpc_cid_encode(&cid, bin, CPC_CID_MAX_BYTES, &n), 0);
    assert_int_equal(decode_exact(bin, n, &back, &used), 0);
    assert_int_equal(used, n);
    assert_true(cpc_cid_equal(&cid, &back));
    /* Every cut of the binary form is refused. */
    size_t cut = (size_t)(rng_next() % n);
    assert_int_not_equal(decode_exact(bin, cut, &back, &used), 0);
    enum cpc_multibase base = bases[iter % 3];
    assert_int_equal(cpc_cid_format(&cid, base, text, sizeof text), 0);
    assert_int_equal(parse_exact(text, &back), 0);
    assert_true(cpc_cid_equal(&cid, &back));
    assert_int_equal(cpc_cid_format(&back, base, again, sizeof again), 0);
    assert_string_equal(again, text);
    /* One byte short of the text is refused. */
    assert_int_equal(cpc_cid_format(&cid, base, again, strlen(text)),
                     CPC_ETOOBIG);
  }
}

/* The largest CID we accept fits CPC_CID_MAX_TEXT even in base16. */
static void test_largest(void **state) {
  (void)state;
  cpc_cid cid;
  char text[CPC_CID_MAX_TEXT];
  memset(&cid, 0, sizeof cid);
  cid.version = 1;
  cid.codec = (UINT64_C(1) << 63) - 1;
  cid.mh.code = (UINT64_C(1) << 63) - 1;
  cid.mh.digest_len = CPC_MH_MAX_DIGEST;
  memset(cid.mh.digest, 0xff, CPC_MH_MAX_DIGEST);
  assert_int_equal(cpc_cid_format(&cid, CPC_MB_BASE16, text, sizeof text), 0);
  /* version, codec and code of 9 bytes each, length of 2. */
  assert_int_equal(strlen(text), 1 + 2 * (1 + 9 + 9 + 2 + CPC_MH_MAX_DIGEST));
  assert_int_equal(cpc_cid_format(&cid, CPC_MB_BASE58BTC, text, sizeof text), 0);
  assert_int_equal(cpc_cid_format(&cid, CPC_MB_BASE32, text, sizeof text), 0);
}

/* Encode bytes as base32 multibase text for the malformed-input cases. */
static void b32(const uint8_t *bin, size_t n, char *text, size_t cap) {
  assert_int_equal(cpc_multibase_encode(CPC_MB_BASE32, bin, n, text, cap, NULL), 0);
}

static void test_malformed_binary(void **state) {
  (void)state;
  uint8_t bin[64];
  char text[CPC_CID_MAX_TEXT];
  cpc_cid cid;
  size_t n, used;
  n = test_unhex("01551220c7d01489080858c500065836c658f847a6ca67c4864619212be4f8200e4bbace",
            bin, sizeof bin);
  /* Versions 0 (as a varint), 2, 3 and 18-with-wrong-length are refused. */
  static const uint8_t versions[] = {0x00, 0x02, 0x03};
  for (size_t i = 0; i < sizeof versions; i++) {
    bin[0] = versions[i];
    assert_int_equal(decode_exact(bin, n, &cid, &used), CPC_EMALFORMED);
    b32(bin, n, text, sizeof text);
    assert_int_equal(parse_exact(text, &cid), CPC_EMALFORMED);
  }
  bin[0] = 0x01;
  /* A v0 must be sha2-256 with 32 bytes. */
  static const uint8_t bad_v0[] = {0x12, 0x1f, 0x00};
  assert_int_equal(decode_exact(bad_v0, sizeof bad_v0, &cid, &used),
                   CPC_EMALFORMED);
  assert_int_equal(decode_exact(bad_v0, 1, &cid, &used), CPC_ETRUNC);
  /* Wrong digest length for a known hash. */
  bin[3] = 0x1f;
  assert_int_equal(decode_exact(bin, n - 1, &cid, &used), CPC_EMALFORMED);
  bin[3] = 0x20;
  /* Empty and truncated input. */
  assert_int_equal(decode_exact(bin, 0, &cid, &used), CPC_ETRUNC);
  for (size_t cut = 1; cut < n; cut++)
    assert_int_equal(decode_exact(bin, cut, &cid, &used), CPC_ETRUNC);
  /* Binary decode leaves trailing data to the caller; text parse refuses it. */
  bin[n] = 0x00;
  assert_int_equal(decode_exact(bin, n + 1, &cid, &used), 0);
  assert_int_equal(used, n);
  b32(bin, n + 1, text, sizeof text);
  assert_int_equal(parse_exact(text, &cid), CPC_EMALFORMED);
  /* Non-minimal codec varint. */
  static const uint8_t nonmin[] = {0x01, 0xd5, 0x00, 0x00, 0x00};
  assert_int_equal(decode_exact(nonmin, sizeof nonmin, &cid, &used),
                   CPC_EMALFORMED);
  /* Encoding a v0 that cannot exist. */
  cpc_cid v0;
  assert_int_equal(cpc_cid_compute(CPC_CODEC_RAW, CPC_MH_SHA2_256, "", 0, &v0), 0);
  v0.version = 0;
  assert_int_equal(cpc_cid_encode(&v0, bin, sizeof bin, &n), CPC_EINVAL);
  v0.codec = CPC_CODEC_DAG_PB;
  v0.mh.code = CPC_MH_BLAKE3;
  assert_int_equal(cpc_cid_encode(&v0, bin, sizeof bin, &n), CPC_EINVAL);
  v0.version = 2;
  assert_int_equal(cpc_cid_encode(&v0, bin, sizeof bin, &n), CPC_EINVAL);
  assert_int_equal(cpc_cid_format(&v0, CPC_MB_BASE32, text, sizeof text),
                   CPC_EINVAL);
}

static void test_malformed_text(void **state) {
  (void)state;
  cpc_cid cid;
  static const struct {
    const char *text;
    int rc;
  } cases[] = {
      {"", CPC_EMALFORMED},
      {"b", CPC_ETRUNC},
      {"z", CPC_ETRUNC},
      /* Unknown multibase prefixes, and Qm strings of the wrong length. */
      {"mAVUSIMfQFIkICFjFAAZYNsZY+Eemymf", CPC_EUNSUPPORTED},
      {"QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1", CPC_EUNSUPPORTED},
      {"QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1nn", CPC_EUNSUPPORTED},
      {" bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
       CPC_EUNSUPPORTED},
      /* Characters outside the alphabet. */
      {"QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1l", CPC_EMALFORMED},
      {"bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52z1",
       CPC_EMALFORMED},
      {"bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy ",
       CPC_EMALFORMED},
      {"bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy=",
       CPC_EMALFORMED},
      /* Non-zero trailing bits in the last base32 character. */
      {"bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zz",
       CPC_EMALFORMED},
      /* Truncated. */
      {"bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52", CPC_ETRUNC},
      /* A v0 inside multibase is forbidden by the CID spec. */
      {"zQmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n", CPC_EMALFORMED},
      {"f1220e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       CPC_EMALFORMED},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int rc = parse_exact(cases[i].text, &cid);
    if (rc != cases[i].rc)
      fail_msg("'%s': got %d, want %d", cases[i].text, rc, cases[i].rc);
  }
  /* Over CPC_MB_MAX_TEXT, with no NUL within reach of the cap. */
  char *big = malloc(CPC_MB_MAX_TEXT + 2);
  assert_non_null(big);
  big[0] = 'b';
  memset(big + 1, 'a', CPC_MB_MAX_TEXT);
  big[CPC_MB_MAX_TEXT + 1] = '\0';
  assert_int_equal(cpc_cid_parse(big, &cid), CPC_ETOOBIG);
  /* Long enough to decode but over the largest CID. */
  big[1 + 264] = '\0'; /* 165 bytes */
  assert_int_equal(cpc_cid_parse(big, &cid), CPC_ETOOBIG);
  free(big);
}

static void test_codec_names(void **state) {
  (void)state;
  static const char *const names[] = {"raw", "dag-pb", "libp2p-key"};
  static const uint64_t codes[] = {CPC_CODEC_RAW, CPC_CODEC_DAG_PB,
                                   CPC_CODEC_LIBP2P_KEY};
  for (size_t i = 0; i < 3; i++) {
    uint64_t codec = 0;
    assert_string_equal(cpc_cid_codec_name(codes[i]), names[i]);
    assert_int_equal(cpc_cid_codec_from_name(names[i], &codec), 0);
    assert_true(codec == codes[i]);
  }
  uint64_t codec;
  assert_null(cpc_cid_codec_name(0x71));
  assert_int_equal(cpc_cid_codec_from_name("dag-cbor", &codec), CPC_EUNSUPPORTED);
  assert_int_equal(cpc_cid_codec_from_name("RAW", &codec), CPC_EUNSUPPORTED);
  assert_int_equal(cpc_cid_codec_from_name("", &codec), CPC_EUNSUPPORTED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_well_known_v1),
      cmocka_unit_test(test_v0),
      cmocka_unit_test(test_compute),
      cmocka_unit_test(test_round_trip_random),
      cmocka_unit_test(test_largest),
      cmocka_unit_test(test_malformed_binary),
      cmocka_unit_test(test_malformed_text),
      cmocka_unit_test(test_codec_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
