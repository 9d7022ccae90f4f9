/*
 * test_noise.c: Noise_XX_25519_ChaChaPoly_SHA256 against the cacophony
 * vectors, and the libp2p Noise session (identity payload, framing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "cpc/error.h"
#include "net/noise_int.h"

/* ---- helpers -------------------------------------------------------- */

static size_t unhex(const char *hex, uint8_t *out, size_t cap) {
  size_t n = strlen(hex) / 2;
  assert_true(strlen(hex) % 2 == 0);
  assert_true(n <= cap);
  assert_int_equal(sodium_hex2bin(out, cap, hex, strlen(hex), NULL, NULL, NULL),
                   0);
  return n;
}

static json_t *load_vectors(void) {
  const char *dir = getenv("CPC_TESTDATA");
  char path[1024];
  json_error_t err;
  json_t *root;

  assert_non_null(dir);
  snprintf(path, sizeof path,
           "%s/noise/cacophony_xx_25519_chachapoly_sha256.json", dir);
  root = json_load_file(path, 0, &err);
  if (!root)
    fail_msg("cannot load %s: %s", path, err.text);
  return root;
}

static const char *jstr(json_t *obj, const char *key) {
  const char *s = json_string_value(json_object_get(obj, key));
  assert_non_null(s);
  return s;
}

/* ---- Noise core: cacophony vectors ---------------------------------- */

static void run_vector(json_t *v) {
  struct cpc__noise_handshake ini, res;
  struct cpc__noise_cipher ini_tx, ini_rx, res_tx, res_rx;
  uint8_t prologue[256], is[32], ie[32], rs[32], re[32], hh[32];
  uint8_t h_ini[32], h_res[32];
  uint8_t payload[1024], expect[1024], msg[1024], *pp;
  size_t plen, prologue_len, elen, mlen, olen;
  json_t *msgs = json_object_get(v, "messages");
  size_t i;

  assert_string_equal(jstr(v, "protocol_name"),
                      "Noise_XX_25519_ChaChaPoly_SHA256");
  prologue_len = unhex(jstr(v, "init_prologue"), prologue, sizeof prologue);
  unhex(jstr(v, "init_static"), is, sizeof is);
  unhex(jstr(v, "init_ephemeral"), ie, sizeof ie);
  unhex(jstr(v, "resp_static"), rs, sizeof rs);
  unhex(jstr(v, "resp_ephemeral"), re, sizeof re);
  unhex(jstr(v, "handshake_hash"), hh, sizeof hh);

  assert_int_equal(cpc__noise_hs_init(&ini, 1, prologue, prologue_len, is, ie),
                   0);
  assert_int_equal(cpc__noise_hs_init(&res, 0, prologue, prologue_len, rs, re),
                   0);
  assert_true(json_array_size(msgs) > 3);
  for (i = 0; i < json_array_size(msgs); i++) {
    json_t *m = json_array_get(msgs, i);
    int from_ini = (i % 2) == 0;
    plen = unhex(jstr(m, "payload"), payload, sizeof payload);
    elen = unhex(jstr(m, "ciphertext"), expect, sizeof expect);
    if (i < 3) {
      struct cpc__noise_handshake *w = from_ini ? &ini : &res;
      struct cpc__noise_handshake *r = from_ini ? &res : &ini;
      assert_int_equal(
          cpc__noise_hs_write(w, payload, plen, msg, sizeof msg, &mlen), 0);
      assert_int_equal(mlen, elen);
      assert_memory_equal(msg, expect, elen);
      assert_int_equal(cpc__noise_hs_read(r, msg, mlen, &pp, &olen), 0);
      assert_int_equal(olen, plen);
      assert_memory_equal(pp, payload, plen);
      if (i == 2) {
        assert_int_equal(cpc__noise_hs_split(&ini, &ini_tx, &ini_rx, h_ini), 0);
        assert_int_equal(cpc__noise_hs_split(&res, &res_tx, &res_rx, h_res), 0);
        assert_memory_equal(h_ini, hh, 32);
        assert_memory_equal(h_res, hh, 32);
      }
    } else {
      struct cpc__noise_cipher *tx = from_ini ? &ini_tx : &res_tx;
      struct cpc__noise_cipher *rx = from_ini ? &res_rx : &ini_rx;
      assert_int_equal(
          cpc__noise_cipher_encrypt(tx, NULL, 0, payload, plen, msg, &mlen), 0);
      assert_int_equal(mlen, elen);
      assert_memory_equal(msg, expect, elen);
      /* decrypt in place */
      assert_int_equal(
          cpc__noise_cipher_decrypt(rx, NULL, 0, msg, mlen, msg, &olen), 0);
      assert_int_equal(olen, plen);
      assert_memory_equal(msg, payload, plen);
    }
  }
  /* Counters advanced once per transport message in each direction:
   * messages 3, 5, ... come from the responder, 4, 6, ... from the
   * initiator. */
  {
    uint64_t from_res = 0, from_ini = 0;
    for (i = 3; i < json_array_size(msgs); i++)
      (i % 2 == 0) ? from_ini++ : from_res++;
    assert_true(from_ini > 0 && from_res > 0);
    assert_int_equal(ini_tx.n, from_ini);
    assert_int_equal(res_rx.n, from_ini);
    assert_int_equal(res_tx.n, from_res);
    assert_int_equal(ini_rx.n, from_res);
  }
  cpc__noise_hs_wipe(&ini);
  cpc__noise_hs_wipe(&res);
}

static void test_cacophony_vectors(void **state) {
  json_t *root = load_vectors();
  json_t *vs = json_object_get(root, "vectors");
  (void)state;
  assert_true(json_array_size(vs) >= 1);
  for (size_t i = 0; i < json_array_size(vs); i++)
    run_vector(json_array_get(vs, i));
  json_decref(root);
}

/* A wrong prologue makes message 2 fail to authenticate. */
static void test_prologue_mismatch(void **state) {
  struct cpc__noise_handshake ini, res;
  uint8_t is[32], rs[32], msg[256], *pp;
  size_t mlen, olen;
  (void)state;
  randombytes_buf(is, sizeof is);
  randombytes_buf(rs, sizeof rs);
  assert_int_equal(
      cpc__noise_hs_init(&ini, 1, (const uint8_t *)"a", 1, is, NULL), 0);
  assert_int_equal(
      cpc__noise_hs_init(&res, 0, (const uint8_t *)"b", 1, rs, NULL), 0);
  assert_int_equal(cpc__noise_hs_write(&ini, NULL, 0, msg, sizeof msg, &mlen),
                   0);
  assert_int_equal(cpc__noise_hs_read(&res, msg, mlen, &pp, &olen),
                   0);
  assert_int_equal(cpc__noise_hs_write(&res, NULL, 0, msg, sizeof msg, &mlen),
                   0);
  assert_int_equal(cpc__noise_hs_read(&ini, msg, mlen, &pp, &olen),
                   CPC_EAUTH);
  /* Out-of-turn calls are refused. */
  assert_int_equal(cpc__noise_hs_write(&res, NULL, 0, msg, sizeof msg, &mlen),
                   CPC_ESTATE);
  cpc__noise_hs_wipe(&ini);
  cpc__noise_hs_wipe(&res);
}

/* A low-order remote ephemeral (all-zero DH output) is rejected. */
static void test_zero_dh_rejected(void **state) {
  struct cpc__noise_handshake res;
  uint8_t rs[32], msg[32] = {0}, out[256], *pp;
  size_t mlen, olen;
  (void)state;
  randombytes_buf(rs, sizeof rs);
  assert_int_equal(cpc__noise_hs_init(&res, 0, NULL, 0, rs, NULL), 0);
  assert_int_equal(cpc__noise_hs_read(&res, msg, 32, &pp, &olen),
                   0);
  assert_int_equal(cpc__noise_hs_write(&res, NULL, 0, out, sizeof out, &mlen),
                   CPC_ECRYPTO);
  cpc__noise_hs_wipe(&res);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cacophony_vectors),
      cmocka_unit_test(test_prologue_mismatch),
      cmocka_unit_test(test_zero_dh_rejected),
  };
  if (sodium_init() < 0)
    return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
