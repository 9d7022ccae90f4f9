/*
 * test_chachapoly.c: ChaCha20-Poly1305 IETF against RFC 8439 (sections
 * 2.4.2, 2.5.2, 2.8.2 and appendix A vectors) and, on every ChaCha20 back
 * end this CPU has, byte for byte against libsodium on random keys, nonces,
 * associated data and lengths (0..70000, with the block and slice edges),
 * including in-place use and tamper detection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "cpc/chachapoly.h"
#include "cpc/error.h"
#include "test_support.h"

static const enum cpc_chacha_backend all_backends[] = {
    CPC_CHACHA_PORTABLE, CPC_CHACHA_AVX2, CPC_CHACHA_AVX512};
#define NBACKENDS (sizeof all_backends / sizeof all_backends[0])

static const char sunscreen[] =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one "
    "tip for the future, sunscreen would be it.";

/* Run fn once per supported back end; returns how many ran. */
static int use_backend(size_t i) {
  if (!cpc_chacha_backend_supported(all_backends[i])) {
    print_message("skip back end %s: not supported by this CPU\n",
                  cpc_chacha_backend_name(all_backends[i]));
    return 0;
  }
  assert_int_equal(cpc_chacha_set_backend(all_backends[i]), 0);
  assert_int_equal(cpc_chacha_backend(), all_backends[i]);
  return 1;
}

/* Runs first: the first choice follows CPC_CHACHA_BACKEND when it names a
 * supported back end. */
static void test_env_override(void **state) {
  (void)state;
  const char *env = getenv("CPC_CHACHA_BACKEND");
  enum cpc_chacha_backend b = cpc_chacha_backend();
  assert_int_not_equal(b, CPC_CHACHA_AUTO);
  for (size_t i = 0; env != NULL && i < NBACKENDS; i++)
    if (strcmp(env, cpc_chacha_backend_name(all_backends[i])) == 0 &&
        cpc_chacha_backend_supported(all_backends[i]))
      assert_int_equal(b, all_backends[i]);
}

static void test_chacha20_rfc(void **state) {
  (void)state;
  uint8_t key[32], nonce[12], want[128], out[1100], zero[1100] = {0};
  for (int i = 0; i < 32; i++)
    key[i] = (uint8_t)i;
  test_unhex("000000000000004a00000000", nonce, sizeof nonce);
  size_t n = test_unhex(
      "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b"
      "f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8"
      "07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736"
      "5af90bbf74a35be6b40b8eedf2785e42874d",
      want, sizeof want);
  assert_int_equal(n, strlen(sunscreen));
  /* A.1 test vector 1: all-zero key and nonce, counter 0 */
  uint8_t a1[64], zkey[32] = {0}, znonce[12] = {0};
  test_unhex("76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
             "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586",
             a1, sizeof a1);
  for (size_t b = 0; b < NBACKENDS; b++) {
    if (!use_backend(b))
      continue;
    assert_int_equal(
        cpc_chacha20_xor(key, nonce, 1, (const uint8_t *)sunscreen, n, out), 0);
    assert_memory_equal(out, want, n);
    /* in place, back to the plaintext */
    assert_int_equal(cpc_chacha20_xor(key, nonce, 1, out, n, out), 0);
    assert_memory_equal(out, sunscreen, n);
    assert_int_equal(cpc_chacha20_xor(zkey, znonce, 0, zero, 64, out), 0);
    assert_memory_equal(out, a1, 64);
    /* a long keystream agrees with libsodium's at every length */
    uint8_t ref[1100];
    crypto_stream_chacha20_ietf_xor_ic(ref, zero, sizeof ref, nonce, 7, key);
    for (size_t len = 0; len <= sizeof ref; len += len < 80 ? 1 : 61) {
      memset(out, 0xAA, sizeof out);
      assert_int_equal(cpc_chacha20_xor(key, nonce, 7, zero, len, out), 0);
      assert_memory_equal(out, ref, len);
      assert_int_equal(out[len], 0xAA);
    }
    /* the counter must not wrap */
    assert_int_equal(cpc_chacha20_xor(key, nonce, 0xFFFFFFFFu, zero, 64, out),
                     0);
    assert_int_equal(cpc_chacha20_xor(key, nonce, 0xFFFFFFFFu, zero, 65, out),
                     CPC_EINVAL);
  }
  assert_int_equal(cpc_chacha_set_backend(CPC_CHACHA_AUTO), 0);
}

struct poly_vector {
  const char *key, *msg, *tag;
};

static void test_poly1305_rfc(void **state) {
  (void)state;
  static const struct poly_vector v[] = {
      /* 2.5.2 */
      {"85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b",
       "43727970746f6772617068696320466f72756d2052657365617263682047726f7570",
       "a8061dc1305136c6c22b8baf0c0127a9"},
      /* A.3 #1: all zero */
      {"0000000000000000000000000000000000000000000000000000000000000000",
       "00000000000000000000000000000000000000000000000000000000000000000000"
       "000000000000000000000000000000000000000000000000000000000000",
       "00000000000000000000000000000000"},
      /* A.3 #5..#9: reduction edge cases */
      {"0200000000000000000000000000000000000000000000000000000000000000",
       "ffffffffffffffffffffffffffffffff", "03000000000000000000000000000000"},
      {"02000000000000000000000000000000ffffffffffffffffffffffffffffffff",
       "02000000000000000000000000000000", "03000000000000000000000000000000"},
      {"0100000000000000000000000000000000000000000000000000000000000000",
       "ffffffffffffffffffffffffffffffff"
       "f0ffffffffffffffffffffffffffffff"
       "11000000000000000000000000000000",
       "05000000000000000000000000000000"},
      {"0100000000000000000000000000000000000000000000000000000000000000",
       "ffffffffffffffffffffffffffffffff"
       "fbfefefefefefefefefefefefefefefe"
       "01010101010101010101010101010101",
       "00000000000000000000000000000000"},
      {"0200000000000000000000000000000000000000000000000000000000000000",
       "fdffffffffffffffffffffffffffffff", "faffffffffffffffffffffffffffffff"},
  };
  for (size_t b = 0; b < NBACKENDS; b++) {
    if (!use_backend(b))
      continue;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
      uint8_t key[32], msg[128], want[16], tag[16], ref[16];
      test_unhex(v[i].key, key, sizeof key);
      size_t n = test_unhex(v[i].msg, msg, sizeof msg);
      test_unhex(v[i].tag, want, sizeof want);
      assert_int_equal(cpc_poly1305(key, msg, n, tag), 0);
      assert_memory_equal(tag, want, 16);
      crypto_onetimeauth_poly1305(ref, msg, n, key);
      assert_memory_equal(ref, want, 16);
    }
    /* random keys (including the largest clamped r) and all-ones data */
    uint64_t seed = 0x1305;
    static uint8_t msg[4096];
    for (int i = 0; i < 400; i++) {
      uint8_t key[32], tag[16], ref[16];
      for (size_t j = 0; j < sizeof key; j++)
        key[j] = (uint8_t)test_splitmix64(&seed);
      if (i % 4 == 0)
        memset(key, 0xFF, sizeof key);
      size_t n = (size_t)(test_splitmix64(&seed) % sizeof msg);
      for (size_t j = 0; j < n; j++)
        msg[j] = i % 3 == 0 ? 0xFF : (uint8_t)test_splitmix64(&seed);
      assert_int_equal(cpc_poly1305(key, msg, n, tag), 0);
      crypto_onetimeauth_poly1305(ref, msg, n, key);
      assert_memory_equal(tag, ref, 16);
    }
  }
  assert_int_equal(cpc_chacha_set_backend(CPC_CHACHA_AUTO), 0);
}

static void test_aead_rfc(void **state) {
  (void)state;
  uint8_t key[32], nonce[12], ad[12], want[130], out[130], back[130];
  for (int i = 0; i < 32; i++)
    key[i] = (uint8_t)(0x80 + i);
  test_unhex("070000004041424344454647", nonce, sizeof nonce);
  test_unhex("50515253c0c1c2c3c4c5c6c7", ad, sizeof ad);
  size_t n = test_unhex(
      "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
      "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
      "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
      "3ff4def08e4b7a9de576d26586cec64b6116"
      "1ae10b594f09e26a7e902ecbd0600691",
      want, sizeof want);
  size_t mlen = strlen(sunscreen);
  assert_int_equal(n, mlen + 16);
  for (size_t b = 0; b < NBACKENDS; b++) {
    if (!use_backend(b))
      continue;
    assert_int_equal(cpc_chachapoly_encrypt(key, nonce, ad, sizeof ad,
                                            (const uint8_t *)sunscreen, mlen,
                                            out),
                     0);
    assert_memory_equal(out, want, n);
    assert_int_equal(
        cpc_chachapoly_decrypt(key, nonce, ad, sizeof ad, out, n, back), 0);
    assert_memory_equal(back, sunscreen, mlen);
    /* wrong ad, short input */
    assert_int_equal(
        cpc_chachapoly_decrypt(key, nonce, ad, sizeof ad - 1, out, n, back),
        CPC_EAUTH);
    assert_int_equal(cpc_chachapoly_decrypt(key, nonce, NULL, 0, out, 15, back),
                     CPC_EAUTH);
  }
  assert_int_equal(cpc_chacha_set_backend(CPC_CHACHA_AUTO), 0);
  /* argument checks */
  assert_int_equal(cpc_chachapoly_encrypt(key, nonce, NULL, 1, out, 0, out),
                   CPC_EINVAL);
  assert_int_equal(cpc_chachapoly_encrypt(key, nonce, NULL, 0, NULL, 1, out),
                   CPC_EINVAL);
  assert_int_equal(cpc_chachapoly_decrypt(key, nonce, NULL, 0, NULL, 16, out),
                   CPC_EINVAL);
  /* empty message, empty ad: just a tag */
  uint8_t ref[16];
  assert_int_equal(cpc_chachapoly_encrypt(key, nonce, NULL, 0, NULL, 0, out),
                   0);
  crypto_aead_chacha20poly1305_ietf_encrypt(ref, NULL, NULL, 0, NULL, 0, NULL,
                                            nonce, key);
  assert_memory_equal(out, ref, 16);
  assert_int_equal(cpc_chachapoly_decrypt(key, nonce, NULL, 0, out, 16, back),
                   0);
}

#define MAX_LEN 70000
#define ITERATIONS 2000

static void random_bytes(uint64_t *seed, uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)(test_splitmix64(seed) >> 24);
}

static void test_random_vs_libsodium(void **state) {
  (void)state;
  static const size_t special[] = {
      0,   1,    15,   16,   17,    63,    64,    65,    511,   512,
      513, 1023, 1024, 1025, 16383, 16384, 16385, 65519, 65535, MAX_LEN};
  const size_t nspecial = sizeof special / sizeof special[0];
  uint8_t *msg = malloc(MAX_LEN);
  uint8_t *ref = malloc(MAX_LEN + 16);
  uint8_t *out = malloc(MAX_LEN + 16);
  uint8_t *dec = malloc(MAX_LEN + 16);
  assert_non_null(msg);
  assert_non_null(ref);
  assert_non_null(out);
  assert_non_null(dec);
  for (size_t b = 0; b < NBACKENDS; b++) {
    if (!use_backend(b))
      continue;
    uint64_t seed = 0xC4AC4A20 + b;
    for (int it = 0; it < ITERATIONS; it++) {
      uint8_t key[32], nonce[12], ad[80];
      random_bytes(&seed, key, sizeof key);
      random_bytes(&seed, nonce, sizeof nonce);
      size_t adlen = (size_t)(test_splitmix64(&seed) % (sizeof ad + 1));
      random_bytes(&seed, ad, adlen);
      /* every special length, then a quarter anywhere up to MAX_LEN and
       * the rest short, to keep the run quick */
      size_t len;
      uint64_t r = test_splitmix64(&seed);
      if ((size_t)it < nspecial)
        len = special[it];
      else if (r % 4 == 0)
        len = (size_t)((r >> 8) % (MAX_LEN + 1));
      else
        len = (size_t)((r >> 8) % 2100);
      random_bytes(&seed, msg, len);
      unsigned long long clen = 0;
      crypto_aead_chacha20poly1305_ietf_encrypt(ref, &clen, msg, len, ad, adlen,
                                                NULL, nonce, key);
      assert_int_equal(clen, len + 16);
      memset(out, 0x5A, len + 16);
      assert_int_equal(cpc_chachapoly_encrypt(key, nonce, adlen ? ad : NULL,
                                              adlen, msg, len, out),
                       0);
      assert_memory_equal(out, ref, len + 16);
      /* decrypt libsodium's output */
      assert_int_equal(
          cpc_chachapoly_decrypt(key, nonce, ad, adlen, ref, len + 16, dec), 0);
      assert_memory_equal(dec, msg, len);
      /* in place both ways */
      memcpy(dec, msg, len);
      assert_int_equal(
          cpc_chachapoly_encrypt(key, nonce, ad, adlen, dec, len, dec), 0);
      assert_memory_equal(dec, ref, len + 16);
      assert_int_equal(
          cpc_chachapoly_decrypt(key, nonce, ad, adlen, dec, len + 16, dec), 0);
      assert_memory_equal(dec, msg, len);
      /* one flipped bit in ciphertext, tag or ad is refused, out untouched */
      size_t pos = (size_t)(test_splitmix64(&seed) % (len + 16 + adlen));
      uint8_t bit = (uint8_t)(1u << (test_splitmix64(&seed) % 8));
      uint8_t *target = pos < len + 16 ? ref + pos : ad + (pos - len - 16);
      *target ^= bit;
      memset(dec, 0x77, len + 16);
      assert_int_equal(
          cpc_chachapoly_decrypt(key, nonce, ad, adlen, ref, len + 16, dec),
          CPC_EAUTH);
      for (size_t i = 0; i < len; i++)
        assert_int_equal(dec[i], 0x77);
      *target ^= bit;
      /* a different nonce is refused too */
      nonce[test_splitmix64(&seed) % 12] ^= 1;
      assert_int_equal(
          cpc_chachapoly_decrypt(key, nonce, ad, adlen, ref, len + 16, dec),
          CPC_EAUTH);
    }
  }
  assert_int_equal(cpc_chacha_set_backend(CPC_CHACHA_AUTO), 0);
  free(msg);
  free(ref);
  free(out);
  free(dec);
}

static void test_backend_api(void **state) {
  (void)state;
  assert_true(cpc_chacha_backend_supported(CPC_CHACHA_PORTABLE));
  assert_int_equal(cpc_chacha_set_backend((enum cpc_chacha_backend)9),
                   CPC_EUNSUPPORTED);
  assert_string_equal(cpc_chacha_backend_name(CPC_CHACHA_AVX512), "avx512");
  assert_int_equal(cpc_chacha_set_backend(CPC_CHACHA_AUTO), 0);
  assert_int_not_equal(cpc_chacha_backend(), CPC_CHACHA_AUTO);
}

int main(void) {
  if (sodium_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_env_override),
      cmocka_unit_test(test_chacha20_rfc),
      cmocka_unit_test(test_poly1305_rfc),
      cmocka_unit_test(test_aead_rfc),
      cmocka_unit_test(test_random_vs_libsodium),
      cmocka_unit_test(test_backend_api),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
