/*
 * test_multibase.c: base16, base32 and base58btc with and without the
 * multibase prefix: spec vectors, random round trips, malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpc/error.h"
#include "cpc/multibase.h"
#include "test_support.h"

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static uint64_t rng_next(void) { return test_splitmix64(&rng_state); }

/* Decode from a heap copy of exactly len characters (no NUL) for ASan. */
static int mb_decode(const char *text, size_t len, uint8_t *out, size_t cap,
                     enum cpc_multibase *base, size_t *n) {
  char *copy = test_copy(text, len);
  int rc = cpc_multibase_decode(copy, len, out, cap, base, n);
  free(copy);
  return rc;
}

static int b58_decode(const char *text, size_t len, uint8_t *out, size_t cap,
                      size_t *n) {
  char *copy = test_copy(text, len);
  int rc = cpc_base58btc_decode(copy, len, out, cap, n);
  free(copy);
  return rc;
}

/* Decode text (NUL-terminated) and expect exactly the bytes want. */
static void expect_decodes(const char *text, const void *want, size_t want_len,
                           enum cpc_multibase want_base) {
  uint8_t out[512];
  size_t n = 0;
  enum cpc_multibase base = 0;
  assert_int_equal(mb_decode(text, strlen(text), out, sizeof out, &base, &n), 0);
  assert_int_equal(n, want_len);
  assert_memory_equal(out, want, want_len);
  assert_int_equal(base, want_base);
}

static void expect_encodes(enum cpc_multibase base, const void *in, size_t len,
                           const char *want) {
  char out[512];
  size_t n = 0;
  assert_int_equal(cpc_multibase_encode(base, in, len, out, sizeof out, &n), 0);
  assert_string_equal(out, want);
  assert_int_equal(n, strlen(want));
  assert_true(cpc_multibase_encoded_cap(base, len) >= n + 1);
}

static int mb_decode_rc(const char *text) {
  uint8_t out[512];
  size_t n;
  return mb_decode(text, strlen(text), out, sizeof out, NULL, &n);
}

/* The multibase spec's test vectors (tests/test[2-6].csv) for the bases we implement. */
static void test_spec_vectors(void **state) {
  (void)state;
  static const struct {
    const char *in;
    size_t len;
    const char *b16, *b16u, *b32, *b32u, *b58;
  } v[] = {
      {"yes mani !", 10, "f796573206d616e692021", "F796573206D616E692021",
       "bpfsxgidnmfxgsibb", "BPFSXGIDNMFXGSIBB", "z7paNL19xttacUY"},
      {"\0yes mani !", 11, "f00796573206d616e692021",
       "F00796573206D616E692021", "bab4wk4zanvqw42jaee",
       "BAB4WK4ZANVQW42JAEE", "z17paNL19xttacUY"},
      {"\0\0yes mani !", 12, "f0000796573206d616e692021",
       "F0000796573206D616E692021", "baaahszltebwwc3tjeaqq",
       "BAAAHSZLTEBWWC3TJEAQQ", "z117paNL19xttacUY"},
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    expect_encodes(CPC_MB_BASE16, v[i].in, v[i].len, v[i].b16);
    expect_encodes(CPC_MB_BASE32, v[i].in, v[i].len, v[i].b32);
    expect_encodes(CPC_MB_BASE58BTC, v[i].in, v[i].len, v[i].b58);
    expect_decodes(v[i].b16, v[i].in, v[i].len, CPC_MB_BASE16);
    expect_decodes(v[i].b16u, v[i].in, v[i].len, CPC_MB_BASE16);
    expect_decodes(v[i].b32, v[i].in, v[i].len, CPC_MB_BASE32);
    expect_decodes(v[i].b32u, v[i].in, v[i].len, CPC_MB_BASE32);
    expect_decodes(v[i].b58, v[i].in, v[i].len, CPC_MB_BASE58BTC);
  }
  /* test6.csv: case-insensitive bases decode differently cased text. */
  expect_decodes("f68656c6c6f20776F726C64", "hello world", 11, CPC_MB_BASE16);
  expect_decodes("F68656c6c6f20776F726C64", "hello world", 11, CPC_MB_BASE16);
  expect_decodes("bnbswy3dpeB3W64TMMQ", "hello world", 11, CPC_MB_BASE32);
  expect_decodes("Bnbswy3dpeB3W64TMMQ", "hello world", 11, CPC_MB_BASE32);
}

/* RFC 4648 section 10, lower case without padding. */
static void test_rfc4648_vectors(void **state) {
  (void)state;
  static const char *const b32[] = {"b",      "bmy",      "bmzxq",
                                    "bmzxw6", "bmzxw6yq", "bmzxw6ytb",
                                    "bmzxw6ytboi"};
  static const char *const b16[] = {"f",        "f66",        "f666f",
                                    "f666f6f",  "f666f6f62",  "f666f6f6261",
                                    "f666f6f626172"};
  for (size_t len = 0; len <= 6; len++) {
    expect_encodes(CPC_MB_BASE32, "foobar", len, b32[len]);
    expect_decodes(b32[len], "foobar", len, CPC_MB_BASE32);
    expect_encodes(CPC_MB_BASE16, "foobar", len, b16[len]);
    expect_decodes(b16[len], "foobar", len, CPC_MB_BASE16);
  }
}

/* draft-msporny-base58 vectors, bare. */
static void test_base58_vectors(void **state) {
  (void)state;
  static const uint8_t zeros_in[] = {0x00, 0x00, 0x28, 0x7f, 0xb4, 0xcd};
  static const struct {
    const void *in;
    size_t len;
    const char *text;
  } v[] = {
      {"Hello World!", 12, "2NEpo7TZRRrLZSi2U"},
      {"The quick brown fox jumps over the lazy dog.", 44,
       "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z"},
      {zeros_in, sizeof zeros_in, "11233QC4"},
      {"\0\0\0", 3, "111"},
      {"", 0, ""},
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    char text[128];
    uint8_t out[64];
    size_t n = 0;
    assert_int_equal(cpc_base58btc_encode(v[i].in, v[i].len, text, sizeof text, &n), 0);
    assert_string_equal(text, v[i].text);
    assert_int_equal(n, strlen(v[i].text));
    assert_int_equal(b58_decode(v[i].text, n, out, sizeof out, &n), 0);
    assert_int_equal(n, v[i].len);
    assert_memory_equal(out, v[i].in, v[i].len);
  }
}

static void test_round_trip_random(void **state) {
  (void)state;
  static const enum cpc_multibase bases[] = {CPC_MB_BASE16, CPC_MB_BASE32,
                                             CPC_MB_BASE58BTC};
  uint8_t in[600], out[600];
  char text[1400];
  for (int iter = 0; iter < 3000; iter++) {
    size_t len = (size_t)(rng_next() % (iter < 2000 ? 40 : sizeof in));
    for (size_t i = 0; i < len; i++)
      in[i] = (uint8_t)rng_next();
    /* Leading zeros are the classic base58 trap. */
    if (iter % 5 == 0)
      for (size_t i = 0; i < len && i < (size_t)(iter % 7); i++)
        in[i] = 0;
    enum cpc_multibase base = bases[iter % 3];
    size_t tn = 0, n = 0;
    enum cpc_multibase got = 0;
    size_t cap = cpc_multibase_encoded_cap(base, len);
    assert_true(cap <= sizeof text);
    /* encoded_cap is enough. */
    assert_int_equal(cpc_multibase_encode(base, in, len, text, cap, &tn), 0);
    assert_int_equal(strlen(text), tn);
    assert_int_equal(text[0], (char)base);
    /* One byte less than the text needs is refused. */
    assert_int_equal(cpc_multibase_encode(base, in, len, text, tn, NULL),
                     CPC_ETOOBIG);
    assert_int_equal(cpc_multibase_encode(base, in, len, text, tn + 1, NULL), 0);
    assert_int_equal(mb_decode(text, tn, out, len, &got, &n), 0);
    assert_int_equal(n, len);
    assert_int_equal(got, base);
    assert_memory_equal(out, in, len);
    if (len > 0)
      assert_int_equal(mb_decode(text, tn, out, len - 1, NULL, &n), CPC_ETOOBIG);
  }
}

/*
 * All one- and two-character base32 bodies: one character never decodes; two
 * decode to one byte exactly when the two unused bits are zero, and then
 * encode back to the same text.
 */
static void test_base32_exhaustive_short(void **state) {
  (void)state;
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  for (int a = 0; a < 32; a++) {
    char t1[3] = {'b', alphabet[a], 0};
    assert_int_equal(mb_decode_rc(t1), CPC_EMALFORMED);
    for (int b = 0; b < 32; b++) {
      char t2[4] = {'b', alphabet[a], alphabet[b], 0};
      int rc = mb_decode_rc(t2);
      if (b & 3) {
        assert_int_equal(rc, CPC_EMALFORMED);
      } else {
        uint8_t byte;
        size_t n;
        char again[8];
        assert_int_equal(rc, 0);
        assert_int_equal(mb_decode(t2, 3, &byte, 1, NULL, &n), 0);
        assert_int_equal(cpc_multibase_encode(CPC_MB_BASE32, &byte, 1, again,
                                              sizeof again, NULL), 0);
        assert_string_equal(again, t2);
      }
    }
  }
}

static void test_malformed(void **state) {
  (void)state;
  uint8_t out[64];
  size_t n;
  /* Empty text has no prefix; a lone prefix is zero bytes. */
  assert_int_equal(mb_decode("", 0, out, sizeof out, NULL, &n), CPC_EMALFORMED);
  assert_int_equal(mb_decode("b", 1, out, sizeof out, NULL, &n), 0);
  assert_int_equal(n, 0);
  assert_int_equal(mb_decode("z", 1, out, 0, NULL, &n), 0);
  assert_int_equal(n, 0);
  /* Unknown prefixes, including multibase ones we do not implement. */
  static const char *const unsupported[] = {"mAAAA", "uAAAA", "k2lc", "Qm12",
                                            "1abc", "cmzxw6===", "Zabc"};
  for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
    assert_int_equal(mb_decode_rc(unsupported[i]), CPC_EUNSUPPORTED);
  /* Characters outside the alphabet, padding, whitespace. */
  static const char *const bad[] = {
      "b1",       "b8",       "b0a",        "bmzxw6=",  "bmzxw6ytboi=",
      "bmz xq",   "bmzxq\n",  "f0g",        "f6 6",     "f666",
      "zO",       "zI",       "zl",         "z0",       "z+",
      "bmzx",     "bmzxw6y",  "bmzxw6ytboi2", "bmz",    "bmzxw6yt",
      "bmzxr",    "bmz3",     "baf",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(mb_decode_rc(bad[i]), CPC_EMALFORMED);
  /* A NUL inside the text is just a bad character. */
  assert_int_equal(mb_decode("bmz\0q", 5, out, sizeof out, NULL, &n),
                   CPC_EMALFORMED);
  assert_int_equal(mb_decode("z2N\0o", 5, out, sizeof out, NULL, &n),
                   CPC_EMALFORMED);
  assert_int_equal(b58_decode("2NE po", 6, out, sizeof out, &n), CPC_EMALFORMED);
  /* Unknown base on encode. */
  char text[16];
  assert_int_equal(cpc_multibase_encode((enum cpc_multibase)'m', out, 1, text,
                                        sizeof text, NULL),
                   CPC_EUNSUPPORTED);
  assert_int_equal(cpc_multibase_encode(CPC_MB_BASE32, out, 4, text, 1, NULL),
                   CPC_ETOOBIG);
}

static void test_caps(void **state) {
  (void)state;
  size_t big = CPC_MB_MAX_TEXT + 1;
  char *text = malloc(big);
  uint8_t *out = malloc(big);
  size_t n;
  assert_non_null(text);
  assert_non_null(out);
  /* The longest accepted base58 text of the largest digits still decodes. */
  text[0] = 'z';
  memset(text + 1, 'z', big - 1);
  assert_int_equal(mb_decode(text, CPC_MB_MAX_TEXT, out, big, NULL, &n), 0);
  assert_true(n < CPC_MB_MAX_TEXT);
  assert_int_equal(mb_decode(text, big, out, big, NULL, &n), CPC_ETOOBIG);
  assert_int_equal(b58_decode(text, CPC_MB_MAX_TEXT, out, big, &n), 0);
  assert_int_equal(b58_decode(text, big, out, big, &n), CPC_ETOOBIG);
  memset(text + 1, 'a', big - 1);
  assert_int_equal(mb_decode(text, big, out, big, NULL, &n), CPC_ETOOBIG);
  /* base58 encode input is capped too (it is quadratic). */
  char *enc = malloc(2 * big);
  assert_non_null(enc);
  memset(out, 0xff, big);
  assert_int_equal(cpc_base58btc_encode(out, CPC_MB_MAX_TEXT, enc, 2 * big, &n), 0);
  assert_int_equal(cpc_base58btc_encode(out, big, enc, 2 * big, &n), CPC_ETOOBIG);
  free(enc);
  free(text);
  free(out);
}

static void test_names(void **state) {
  (void)state;
  static const char *const names[] = {"base16", "base32", "base58btc"};
  static const enum cpc_multibase bases[] = {CPC_MB_BASE16, CPC_MB_BASE32,
                                             CPC_MB_BASE58BTC};
  for (size_t i = 0; i < 3; i++) {
    enum cpc_multibase base = 0;
    assert_string_equal(cpc_multibase_name(bases[i]), names[i]);
    assert_int_equal(cpc_multibase_from_name(names[i], &base), 0);
    assert_int_equal(base, bases[i]);
  }
  enum cpc_multibase base;
  assert_null(cpc_multibase_name((enum cpc_multibase)'m'));
  assert_int_equal(cpc_multibase_from_name("base64", &base), CPC_EUNSUPPORTED);
  assert_int_equal(cpc_multibase_from_name("base58", &base), CPC_EUNSUPPORTED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_spec_vectors),
      cmocka_unit_test(test_rfc4648_vectors),
      cmocka_unit_test(test_base58_vectors),
      cmocka_unit_test(test_round_trip_random),
      cmocka_unit_test(test_base32_exhaustive_short),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_caps),
      cmocka_unit_test(test_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
