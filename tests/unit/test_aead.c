/* test_aead.c: ChaCha20-Poly1305 chunk AEAD and sealed content keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "cpc/aead.h"
#include "cpc/error.h"
#include "test_support.h"

/* RFC 8439 section 2.8.2: checks we drive libsodium's IETF construction. */
static void test_rfc8439_vector(void **state) {
  (void)state;
  static const char pt[] =
      "Ladies and Gentlemen of the class of '99: If I could offer you only one "
      "tip for the future, sunscreen would be it.";
  uint8_t key[32], nonce[12], aad[12], tag[16], ct[sizeof pt + 16], back[sizeof pt];
  size_t len = 0, blen = 0;
  for (int i = 0; i < 32; i++)
    key[i] = (uint8_t)(0x80 + i);
  assert_int_equal(test_unhex("070000004041424344454647", nonce, 12), 12);
  assert_int_equal(test_unhex("50515253c0c1c2c3c4c5c6c7", aad, 12), 12);
  assert_int_equal(test_unhex("1ae10b594f09e26a7e902ecbd0600691", tag, 16), 16);
  assert_int_equal(cpc_aead_encrypt(key, nonce, aad, 12, (const uint8_t *)pt,
                                    sizeof pt - 1, ct, sizeof ct, &len),
                   0);
  assert_int_equal(len, sizeof pt - 1 + 16);
  uint8_t ct0[4];
  assert_int_equal(test_unhex("d31a8d34", ct0, 4), 4);
  assert_memory_equal(ct, ct0, 4);
  assert_memory_equal(ct + sizeof pt - 1, tag, 16);
  assert_int_equal(cpc_aead_decrypt(key, nonce, aad, 12, ct, len, back,
                                    sizeof back, &blen),
                   0);
  assert_int_equal(blen, sizeof pt - 1);
  assert_memory_equal(back, pt, blen);
}

static void test_nonce_layout(void **state) {
  (void)state;
  uint8_t n[12], want[12] = {0, 0, 0, 3, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
  cpc_aead_nonce(CPC_AEAD_DOMAIN_MANIFEST_PAGE, 0x0102030405060708ull, n);
  assert_memory_equal(n, want, 12);
  /* Chunk 0 and the root manifest (index 0) differ by domain. */
  uint8_t a[12], b[12];
  cpc_aead_nonce(CPC_AEAD_DOMAIN_CHUNK, 0, a);
  cpc_aead_nonce(CPC_AEAD_DOMAIN_MANIFEST, 0, b);
  assert_memory_not_equal(a, b, 12);
}

static void test_detects_tampering(void **state) {
  (void)state;
  uint8_t key[32], key2[32], nonce[12], other[12], pt[1000], ct[1016], out[1000];
  const uint8_t aad[3] = {1, 2, 3}, aad2[3] = {1, 2, 4};
  size_t len = 0, olen = 0;
  cpc_aead_keygen(key);
  cpc_aead_keygen(key2);
  assert_memory_not_equal(key, key2, 32);
  randombytes_buf(pt, sizeof pt);
  cpc_aead_nonce(CPC_AEAD_DOMAIN_CHUNK, 7, nonce);
  cpc_aead_nonce(CPC_AEAD_DOMAIN_CHUNK, 8, other);
  assert_int_equal(cpc_aead_encrypt(key, nonce, aad, 3, pt, sizeof pt, ct,
                                    sizeof ct, &len),
                   0);
  assert_int_equal(cpc_aead_decrypt(key, nonce, aad, 3, ct, len, out, sizeof out,
                                    &olen),
                   0);
  assert_memory_equal(out, pt, sizeof pt);
  size_t flips[] = {0, 500, 999, 1000, 1015};
  for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
    ct[flips[i]] ^= 0x40;
    assert_int_equal(cpc_aead_decrypt(key, nonce, aad, 3, ct, len, out,
                                      sizeof out, &olen),
                     CPC_EAUTH);
    ct[flips[i]] ^= 0x40;
  }
  assert_int_equal(
      cpc_aead_decrypt(key2, nonce, aad, 3, ct, len, out, sizeof out, &olen),
      CPC_EAUTH);
  assert_int_equal(
      cpc_aead_decrypt(key, other, aad, 3, ct, len, out, sizeof out, &olen),
      CPC_EAUTH);
  assert_int_equal(
      cpc_aead_decrypt(key, nonce, aad2, 3, ct, len, out, sizeof out, &olen),
      CPC_EAUTH);
  assert_int_equal(
      cpc_aead_decrypt(key, nonce, aad, 3, ct, len - 1, out, sizeof out, &olen),
      CPC_EAUTH);
  assert_int_equal(
      cpc_aead_decrypt(key, nonce, aad, 3, ct, 15, out, sizeof out, &olen),
      CPC_ETRUNC);
  assert_int_equal(
      cpc_aead_decrypt(key, nonce, aad, 3, ct, len, out, 999, &olen),
      CPC_ETOOBIG);
  assert_int_equal(
      cpc_aead_encrypt(key, nonce, aad, 3, pt, sizeof pt, ct, 1015, &len),
      CPC_ETOOBIG);
}

static void test_empty_plaintext(void **state) {
  (void)state;
  uint8_t key[32], nonce[12], ct[16], out[1];
  size_t len = 0, olen = 1;
  cpc_aead_keygen(key);
  cpc_aead_nonce(CPC_AEAD_DOMAIN_CHUNK, 0, nonce);
  assert_int_equal(cpc_aead_encrypt(key, nonce, NULL, 0, NULL, 0, ct, 16, &len), 0);
  assert_int_equal(len, 16);
  assert_int_equal(cpc_aead_decrypt(key, nonce, NULL, 0, ct, 16, out, 0, &olen), 0);
  assert_int_equal(olen, 0);
}

static void test_seal(void **state) {
  (void)state;
  uint8_t sk[32], pk[32], sk2[32], key[32], back[32], sealed[CPC_SEALED_KEY_LEN],
      longer[CPC_SEALED_KEY_LEN + 1];
  randombytes_buf(sk, 32);
  randombytes_buf(sk2, 32);
  assert_int_equal(crypto_scalarmult_base(pk, sk), 0);
  cpc_aead_keygen(key);
  assert_int_equal(cpc_key_seal(pk, key, sealed), 0);
  assert_int_equal(cpc_key_unseal(sk, sealed, sizeof sealed, back), 0);
  assert_memory_equal(back, key, 32);
  /* Sealing is randomised: two seals differ, both open. */
  uint8_t sealed2[CPC_SEALED_KEY_LEN];
  assert_int_equal(cpc_key_seal(pk, key, sealed2), 0);
  assert_memory_not_equal(sealed, sealed2, sizeof sealed);
  assert_int_equal(cpc_key_unseal(sk2, sealed, sizeof sealed, back), CPC_EAUTH);
  uint8_t zero[32] = {0};
  assert_memory_equal(back, zero, 32); /* wiped on error */
  sealed[40] ^= 1;
  assert_int_equal(cpc_key_unseal(sk, sealed, sizeof sealed, back), CPC_EAUTH);
  sealed[40] ^= 1;
  assert_int_equal(cpc_key_unseal(sk, sealed, sizeof sealed - 1, back), CPC_ETRUNC);
  memcpy(longer, sealed, sizeof sealed);
  longer[sizeof sealed] = 0;
  assert_int_equal(cpc_key_unseal(sk, longer, sizeof longer, back),
                   CPC_EMALFORMED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc8439_vector),
      cmocka_unit_test(test_nonce_layout),
      cmocka_unit_test(test_detects_tampering),
      cmocka_unit_test(test_empty_plaintext),
      cmocka_unit_test(test_seal),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
