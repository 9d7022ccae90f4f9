/*
 * test_multihash.c: multihash compute/encode/decode/verify with published
 * digests, incremental hashing, and malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpc/error.h"
#include "cpc/multihash.h"
#include "test_support.h"

static uint64_t rng_state = 0x853c49e6748fea9bu;

static uint64_t rng_next(void) { return test_splitmix64(&rng_state); }

/* Decode from a heap copy of exactly len bytes, so ASan sees over-reads. */
static int decode_exact(const uint8_t *in, size_t len, cpc_multihash *mh,
                        size_t *used) {
  uint8_t *copy = test_copy(in, len);
  int rc = cpc_multihash_decode(copy, len, mh, used);
  free(copy);
  return rc;
}

/*
 * Published digests: SHA-256 of "" and "abc" (FIPS 180-2), BLAKE3 of ""
 * (the BLAKE3 test vectors), and the multihash spec's sha2-256 example.
 */
static const struct {
  uint64_t code;
  const char *input;
  const char *multihash_hex;
} vectors[] = {
    {CPC_MH_SHA2_256, "",
     "1220e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {CPC_MH_SHA2_256, "abc",
     "1220ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {CPC_MH_SHA2_256, "Merkle\xe2\x80\x93" "Damg\xc3\xa5rd",
     "122041dd7b6443542e75701aa98a0c235951a28a0d851b11564d20022ab11d2589a8"},
    {CPC_MH_BLAKE3, "",
     "1e20af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
    {CPC_MH_IDENTITY, "", "0000"},
    {CPC_MH_IDENTITY, "abc", "0003616263"},
};

static void test_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
    uint8_t want[CPC_MH_MAX_LEN], out[CPC_MH_MAX_LEN];
    size_t want_len = test_unhex(vectors[i].multihash_hex, want, sizeof want);
    size_t n = 0, used = 0;
    cpc_multihash mh, back;
    const char *in = vectors[i].input;
    assert_int_equal(cpc_multihash_compute(vectors[i].code, in, strlen(in), &mh), 0);
    assert_true(mh.code == vectors[i].code);
    assert_int_equal(cpc_multihash_encode(&mh, out, sizeof out, &n), 0);
    assert_int_equal(n, want_len);
    assert_memory_equal(out, want, want_len);
    assert_int_equal(decode_exact(want, want_len, &back, &used), 0);
    assert_int_equal(used, want_len);
    assert_true(back.code == mh.code);
    assert_int_equal(back.digest_len, mh.digest_len);
    assert_memory_equal(back.digest, mh.digest, mh.digest_len);
    assert_int_equal(cpc_multihash_verify(&back, in, strlen(in)), 0);
  }
}

static void test_names(void **state) {
  (void)state;
  assert_string_equal(cpc_multihash_name(CPC_MH_IDENTITY), "identity");
  assert_string_equal(cpc_multihash_name(CPC_MH_SHA2_256), "sha2-256");
  assert_string_equal(cpc_multihash_name(CPC_MH_BLAKE3), "blake3");
  assert_null(cpc_multihash_name(0x13));
  static const uint64_t codes[] = {CPC_MH_IDENTITY, CPC_MH_SHA2_256,
                                   CPC_MH_BLAKE3};
  for (size_t i = 0; i < 3; i++) {
    uint64_t code = 99;
    assert_int_equal(cpc_multihash_code_from_name(cpc_multihash_name(codes[i]),
                                                  &code), 0);
    assert_true(code == codes[i]);
  }
  uint64_t code;
  assert_int_equal(cpc_multihash_code_from_name("sha2-512", &code),
                   CPC_EUNSUPPORTED);
  assert_int_equal(cpc_multihash_code_from_name("blake3 ", &code),
                   CPC_EUNSUPPORTED);
}

/* Feeding the input in random pieces gives the one-shot result. */
static void test_incremental(void **state) {
  (void)state;
  static const uint64_t codes[] = {CPC_MH_SHA2_256, CPC_MH_BLAKE3,
                                   CPC_MH_IDENTITY};
  size_t cap = 20000;
  uint8_t *data = malloc(cap);
  assert_non_null(data);
  for (size_t i = 0; i < cap; i++)
    data[i] = (uint8_t)rng_next();
  for (int iter = 0; iter < 60; iter++) {
    uint64_t code = codes[iter % 3];
    size_t len = (size_t)(rng_next() % (code == CPC_MH_IDENTITY ? 129 : cap));
    cpc_multihash one, inc;
    cpc_multihash_hasher h;
    assert_int_equal(cpc_multihash_compute(code, data, len, &one), 0);
    assert_int_equal(cpc_multihash_hasher_init(&h, code), 0);
    for (size_t off = 0; off < len;) {
      size_t piece = (size_t)(rng_next() % 3000);
      if (piece > len - off)
        piece = len - off;
      cpc_multihash_hasher_update(&h, data + off, piece);
      off += piece;
    }
    assert_int_equal(cpc_multihash_hasher_final(&h, &inc), 0);
    assert_true(inc.code == code);
    assert_int_equal(inc.digest_len, one.digest_len);
    assert_memory_equal(inc.digest, one.digest, one.digest_len);
  }
  /* Identity over the cap fails at the end, however it arrives. */
  cpc_multihash_hasher h;
  cpc_multihash mh;
  assert_int_equal(cpc_multihash_hasher_init(&h, CPC_MH_IDENTITY), 0);
  cpc_multihash_hasher_update(&h, data, 100);
  cpc_multihash_hasher_update(&h, data, 29);
  assert_int_equal(cpc_multihash_hasher_final(&h, &mh), CPC_ETOOBIG);
  assert_int_equal(cpc_multihash_hasher_init(&h, 0x13), CPC_EUNSUPPORTED);
  free(data);
}

static void test_compute_limits(void **state) {
  (void)state;
  uint8_t data[CPC_MH_MAX_DIGEST + 1] = {0};
  cpc_multihash mh;
  assert_int_equal(cpc_multihash_compute(CPC_MH_IDENTITY, data,
                                         CPC_MH_MAX_DIGEST, &mh), 0);
  assert_int_equal(mh.digest_len, CPC_MH_MAX_DIGEST);
  assert_int_equal(cpc_multihash_compute(CPC_MH_IDENTITY, data,
                                         CPC_MH_MAX_DIGEST + 1, &mh),
                   CPC_ETOOBIG);
  assert_int_equal(cpc_multihash_compute(0x13, data, 1, &mh), CPC_EUNSUPPORTED);
  assert_int_equal(cpc_multihash_compute(CPC_MH_SHA2_256, NULL, 0, &mh), 0);
}

static void test_decode_malformed(void **state) {
  (void)state;
  uint8_t buf[CPC_MH_MAX_LEN + 16];
  size_t len = test_unhex(vectors[3].multihash_hex, buf, sizeof buf);
  cpc_multihash mh;
  size_t used;
  /* Every cut of a valid multihash is truncated. */
  for (size_t cut = 0; cut < len; cut++)
    assert_int_equal(decode_exact(buf, cut, &mh, &used), CPC_ETRUNC);
  /* Trailing data is left for the caller. */
  buf[len] = 0xaa;
  assert_int_equal(decode_exact(buf, len + 1, &mh, &used), 0);
  assert_int_equal(used, len);
  /* Wrong digest lengths for the known hashes. */
  memset(buf, 0x11, sizeof buf);
  static const uint8_t codes[] = {CPC_MH_SHA2_256, CPC_MH_BLAKE3};
  static const uint8_t lens[] = {0, 1, 20, 31, 33, 64, 127};
  for (size_t c = 0; c < 2; c++)
    for (size_t l = 0; l < sizeof lens; l++) {
      buf[0] = codes[c];
      buf[1] = lens[l];
      assert_int_equal(decode_exact(buf, 2 + lens[l], &mh, &used),
                       CPC_EMALFORMED);
    }
  /* Non-minimal varints in the code or the length. */
  static const uint8_t nonmin_code[] = {0x92, 0x00, 0x20};
  static const uint8_t nonmin_len[] = {0x12, 0xa0, 0x00};
  assert_int_equal(decode_exact(nonmin_code, 3, &mh, &used), CPC_EMALFORMED);
  assert_int_equal(decode_exact(nonmin_len, 3, &mh, &used), CPC_EMALFORMED);
  /* A length beyond the cap is refused before reading the digest. */
  static const uint8_t huge[] = {0x00, 0x81, 0x01}; /* identity, 129 bytes */
  assert_int_equal(decode_exact(huge, 3, &mh, &used), CPC_ETOOBIG);
  static const uint8_t giant[] = {0x13, 0xff, 0xff, 0xff, 0xff, 0x0f};
  assert_int_equal(decode_exact(giant, sizeof giant, &mh, &used), CPC_ETOOBIG);
  /* Unknown codes decode (sha2-512 here) and cannot be verified. */
  buf[0] = 0x13;
  buf[1] = 64;
  assert_int_equal(decode_exact(buf, 66, &mh, &used), 0);
  assert_int_equal(used, 66);
  assert_int_equal(mh.digest_len, 64);
  assert_int_equal(cpc_multihash_verify(&mh, "x", 1), CPC_EUNSUPPORTED);
}

static void test_encode_limits(void **state) {
  (void)state;
  cpc_multihash mh;
  uint8_t out[CPC_MH_MAX_LEN];
  size_t n;
  assert_int_equal(cpc_multihash_compute(CPC_MH_BLAKE3, "a", 1, &mh), 0);
  assert_int_equal(cpc_multihash_encode(&mh, out, 33, &n), CPC_ETOOBIG);
  assert_int_equal(cpc_multihash_encode(&mh, out, 34, &n), 0);
  mh.digest_len = 31;
  assert_int_equal(cpc_multihash_encode(&mh, out, sizeof out, &n), CPC_EINVAL);
  mh.code = 0x13;
  mh.digest_len = CPC_MH_MAX_DIGEST + 1;
  assert_int_equal(cpc_multihash_encode(&mh, out, sizeof out, &n), CPC_EINVAL);
  mh.digest_len = 1;
  mh.code = UINT64_C(1) << 63;
  assert_int_equal(cpc_multihash_encode(&mh, out, sizeof out, &n), CPC_EINVAL);
}

/* Random multihashes of every kind survive encode then decode. */
static void test_round_trip_random(void **state) {
  (void)state;
  for (int iter = 0; iter < 5000; iter++) {
    cpc_multihash mh, back;
    memset(&mh, 0, sizeof mh);
    switch (iter % 4) {
    case 0: mh.code = CPC_MH_SHA2_256; mh.digest_len = 32; break;
    case 1: mh.code = CPC_MH_BLAKE3; mh.digest_len = 32; break;
    case 2: mh.code = CPC_MH_IDENTITY; mh.digest_len = rng_next() % 129; break;
    default:
      mh.code = rng_next() >> (1 + rng_next() % 63);
      if (mh.code == CPC_MH_SHA2_256 || mh.code == CPC_MH_BLAKE3)
        mh.code = 0x13;
      mh.digest_len = rng_next() % 129;
    }
    for (size_t i = 0; i < mh.digest_len; i++)
      mh.digest[i] = (uint8_t)rng_next();
    uint8_t out[CPC_MH_MAX_LEN];
    size_t n, used;
    assert_int_equal(cpc_multihash_encode(&mh, out, sizeof out, &n), 0);
    assert_int_equal(decode_exact(out, n, &back, &used), 0);
    assert_int_equal(used, n);
    assert_true(back.code == mh.code);
    assert_int_equal(back.digest_len, mh.digest_len);
    assert_memory_equal(back.digest, mh.digest, mh.digest_len);
  }
}

static void test_verify(void **state) {
  (void)state;
  static const uint64_t codes[] = {CPC_MH_SHA2_256, CPC_MH_BLAKE3,
                                   CPC_MH_IDENTITY};
  uint8_t data[100];
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (uint8_t)rng_next();
  for (size_t c = 0; c < 3; c++) {
    cpc_multihash mh;
    assert_int_equal(cpc_multihash_compute(codes[c], data, sizeof data, &mh), 0);
    assert_int_equal(cpc_multihash_verify(&mh, data, sizeof data), 0);
    assert_int_equal(cpc_multihash_verify(&mh, data, sizeof data - 1),
                     CPC_EMISMATCH);
    data[7] ^= 1;
    assert_int_equal(cpc_multihash_verify(&mh, data, sizeof data),
                     CPC_EMISMATCH);
    data[7] ^= 1;
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors),
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_incremental),
      cmocka_unit_test(test_compute_limits),
      cmocka_unit_test(test_decode_malformed),
      cmocka_unit_test(test_encode_limits),
      cmocka_unit_test(test_round_trip_random),
      cmocka_unit_test(test_verify),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
