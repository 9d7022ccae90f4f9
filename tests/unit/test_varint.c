/* test_varint.c: unsigned varints, spec examples, round trips, bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpc/error.h"
#include "cpc/varint.h"
#include "test_support.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng_next(void) { return test_splitmix64(&rng_state); }

/*
 * Decode from a heap copy of exactly len bytes, so AddressSanitizer catches
 * any read past the end.
 */
static int decode_exact(const uint8_t *in, size_t len, uint64_t *v,
                        size_t *used) {
  uint8_t *copy = test_copy(in, len);
  int rc = cpc_varint_decode(copy, len, v, used);
  free(copy);
  return rc;
}

struct vector {
  uint64_t value;
  size_t len;
  uint8_t bytes[9];
};

/* The examples of the multiformats unsigned-varint spec, plus the extremes. */
static const struct vector vectors[] = {
    {0, 1, {0x00}},
    {1, 1, {0x01}},
    {127, 1, {0x7f}},
    {128, 2, {0x80, 0x01}},
    {255, 2, {0xff, 0x01}},
    {300, 2, {0xac, 0x02}},
    {16384, 3, {0x80, 0x80, 0x01}},
    {UINT64_C(0x7fffffffffffffff), 9,
     {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
};

static void test_spec_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
    const struct vector *t = &vectors[i];
    uint8_t out[CPC_VARINT_MAX_LEN];
    size_t n = 0, used = 0;
    uint64_t v = 0;
    assert_int_equal(cpc_varint_len(t->value), t->len);
    assert_int_equal(cpc_varint_encode(t->value, out, sizeof out, &n), 0);
    assert_int_equal(n, t->len);
    assert_memory_equal(out, t->bytes, t->len);
    assert_int_equal(decode_exact(t->bytes, t->len, &v, &used), 0);
    assert_true(v == t->value);
    assert_int_equal(used, t->len);
  }
}

static void test_round_trip_random(void **state) {
  (void)state;
  for (int i = 0; i < 100000; i++) {
    /* Random bit length so every encoded length is well covered. */
    unsigned bits = 1 + (unsigned)(rng_next() % 63); /* 1..63 */
    uint64_t value = rng_next() >> (64 - bits);
    uint8_t buf[CPC_VARINT_MAX_LEN + 3];
    size_t n = 0, used = 0;
    uint64_t back = 0;
    assert_int_equal(cpc_varint_encode(value, buf, CPC_VARINT_MAX_LEN, &n), 0);
    assert_int_equal(n, cpc_varint_len(value));
    /* Trailing bytes are left alone and not counted. */
    memset(buf + n, 0xff, 3);
    assert_int_equal(decode_exact(buf, n + 3, &back, &used), 0);
    assert_true(back == value);
    assert_int_equal(used, n);
  }
}

/*
 * Every one- and two-byte input: decoding succeeds exactly when the input
 * is a minimal encoding, and then encoding gives the same bytes back.
 */
static void test_exhaustive_short(void **state) {
  (void)state;
  for (unsigned a = 0; a < 256; a++) {
    uint8_t in[2] = {(uint8_t)a, 0};
    uint64_t v;
    size_t used;
    int rc = decode_exact(in, 1, &v, &used);
    assert_int_equal(rc, (a & 0x80) ? CPC_ETRUNC : 0);
    for (unsigned b = 0; b < 256; b++) {
      in[1] = (uint8_t)b;
      rc = decode_exact(in, 2, &v, &used);
      if (!(a & 0x80)) {
        assert_int_equal(rc, 0);
        assert_int_equal(used, 1);
      } else if (b & 0x80) {
        assert_int_equal(rc, CPC_ETRUNC);
      } else if (b == 0) {
        assert_int_equal(rc, CPC_EMALFORMED);
      } else {
        uint8_t out[CPC_VARINT_MAX_LEN];
        size_t n;
        assert_int_equal(rc, 0);
        assert_int_equal(used, 2);
        assert_int_equal(cpc_varint_encode(v, out, sizeof out, &n), 0);
        assert_int_equal(n, 2);
        assert_memory_equal(out, in, 2);
      }
    }
  }
}

static void test_truncated(void **state) {
  (void)state;
  static const uint8_t cont[9] = {0x80, 0x80, 0x80, 0x80, 0x80,
                                  0x80, 0x80, 0x80, 0x80};
  uint64_t v;
  size_t used;
  assert_int_equal(decode_exact(cont, 0, &v, &used), CPC_ETRUNC);
  for (size_t len = 1; len < 9; len++)
    assert_int_equal(decode_exact(cont, len, &v, &used), CPC_ETRUNC);
  static const uint8_t big[2] = {0xac, 0x02};
  assert_int_equal(decode_exact(big, 1, &v, &used), CPC_ETRUNC);
}

static void test_non_minimal(void **state) {
  (void)state;
  static const uint8_t cases[][9] = {
      {0x80, 0x00},
      {0x81, 0x00},
      {0xff, 0x80, 0x00},
      {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00},
  };
  static const size_t lens[] = {2, 2, 3, 9};
  for (size_t i = 0; i < 4; i++) {
    uint64_t v;
    size_t used;
    assert_int_equal(decode_exact(cases[i], lens[i], &v, &used),
                     CPC_EMALFORMED);
  }
}

static void test_too_long(void **state) {
  (void)state;
  /* Ten bytes (2^63 and above need them) are refused, not truncated. */
  static const uint8_t ten[10] = {0x80, 0x80, 0x80, 0x80, 0x80,
                                  0x80, 0x80, 0x80, 0x80, 0x01};
  static const uint8_t nine_cont[9] = {0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff};
  uint64_t v;
  size_t used;
  assert_int_equal(decode_exact(ten, 10, &v, &used), CPC_EMALFORMED);
  assert_int_equal(decode_exact(nine_cont, 9, &v, &used), CPC_EMALFORMED);
}

static void test_encode_limits(void **state) {
  (void)state;
  uint8_t out[CPC_VARINT_MAX_LEN];
  size_t n = 99;
  assert_int_equal(cpc_varint_encode(UINT64_C(1) << 63, out, sizeof out, &n),
                   CPC_ETOOBIG);
  assert_int_equal(cpc_varint_encode(UINT64_MAX, out, sizeof out, &n),
                   CPC_ETOOBIG);
  assert_int_equal(cpc_varint_encode(300, out, 1, &n), CPC_ETOOBIG);
  assert_int_equal(cpc_varint_encode(0, out, 0, &n), CPC_ETOOBIG);
  assert_int_equal(n, 99); /* untouched on failure */
  assert_int_equal(cpc_varint_encode(300, out, 2, NULL), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_spec_vectors),
      cmocka_unit_test(test_round_trip_random),
      cmocka_unit_test(test_exhaustive_short),
      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_non_minimal),
      cmocka_unit_test(test_too_long),
      cmocka_unit_test(test_encode_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
