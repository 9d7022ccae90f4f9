/*
 * test_keys.c: Ed25519 / secp256k1 signing, libp2p key protobufs, X25519.
 * Known vectors: the test keys of libp2p/specs peer-ids/peer-ids.md.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <secp256k1.h>
#include <sodium.h>

#include "cpc/error.h"
#include "cpc/keys.h"
#include "test_support.h"

/* libp2p/specs peer-ids, "Test vectors" (hex of the protobuf encodings). */
static const char *SPEC_ED25519_PRIV =
    "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d"
    "1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
static const char *SPEC_ED25519_PUB =
    "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
static const char *SPEC_SECP_PRIV =
    "0802122053DADF1D5A164D6B4ACDB15E24AA4C5B1D3461BDBD42ABEDB0A4404D56CED8FB";
static const char *SPEC_SECP_PUB =
    "08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca"
    "99";
static const char *SPEC_ECDSA_PUB =
    "0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004de3d300fa3"
    "6ae0e8f5d530899d83abab44abf3161f162a4bc901d8e6ecda020e8b6d5f8da30525e71d"
    "6851510c098e5c47c646a597fb4dcec034e9f77c409e62";

static void sign_verify_type(enum cpc_key_type type) {
  cpc_privkey k, other;
  uint8_t sig[CPC_SIG_MAX_LEN], msg[100];
  size_t sig_len = 0;

  assert_int_equal(cpc_privkey_generate(type, &k), 0);
  assert_int_equal(cpc_privkey_generate(type, &other), 0);
  assert_int_equal(k.type, type);
  assert_false(cpc_pubkey_equal(&k.pub, &other.pub));
  randombytes_buf(msg, sizeof msg);

  assert_int_equal(
      cpc_privkey_sign(&k, msg, sizeof msg, sig, sizeof sig, &sig_len), 0);
  assert_int_equal(cpc_pubkey_verify(&k.pub, msg, sizeof msg, sig, sig_len), 0);
  /* Tampered message, tampered signature, wrong key, truncated signature. */
  msg[7] ^= 1;
  assert_int_equal(cpc_pubkey_verify(&k.pub, msg, sizeof msg, sig, sig_len),
                   CPC_EBADSIG);
  msg[7] ^= 1;
  sig[sig_len - 1] ^= 0x40;
  assert_int_equal(cpc_pubkey_verify(&k.pub, msg, sizeof msg, sig, sig_len),
                   CPC_EBADSIG);
  sig[sig_len - 1] ^= 0x40;
  assert_int_equal(cpc_pubkey_verify(&other.pub, msg, sizeof msg, sig, sig_len),
                   CPC_EBADSIG);
  assert_int_equal(cpc_pubkey_verify(&k.pub, msg, sizeof msg, sig, sig_len - 1),
                   CPC_EBADSIG);
  assert_int_equal(cpc_pubkey_verify(&k.pub, msg, sizeof msg, NULL, 0),
                   CPC_EBADSIG);
  /* Empty message. */
  assert_int_equal(cpc_privkey_sign(&k, NULL, 0, sig, sizeof sig, &sig_len), 0);
  assert_int_equal(cpc_pubkey_verify(&k.pub, NULL, 0, sig, sig_len), 0);
  assert_int_equal(cpc_pubkey_verify(&k.pub, msg, 1, sig, sig_len),
                   CPC_EBADSIG);
  /* Short output buffer. */
  assert_int_equal(cpc_privkey_sign(&k, msg, 1, sig, 8, &sig_len), CPC_ETOOBIG);

  cpc_privkey_wipe(&k);
  cpc_privkey_wipe(&other);
  for (size_t i = 0; i < sizeof k; i++)
    assert_int_equal(((uint8_t *)&k)[i], 0);
}

static void test_sign_verify_ed25519(void **state) {
  (void)state;
  sign_verify_type(CPC_KEY_ED25519);
}

static void test_sign_verify_secp256k1(void **state) {
  (void)state;
  for (int i = 0; i < 4; i++)
    sign_verify_type(CPC_KEY_SECP256K1);
}

/* secp256k1 signatures are DER and low-S; a high-S twin still verifies. */
static void test_secp256k1_der_and_high_s(void **state) {
  (void)state;
  /* The group order n, big-endian. */
  static const uint8_t n[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
                                0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b,
                                0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
  secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  cpc_privkey k;
  secp256k1_ecdsa_signature s;
  uint8_t sig[CPC_SIG_MAX_LEN], compact[64], high[80];
  size_t sig_len, high_len = sizeof high;
  const char *msg = "libp2p message";

  assert_int_equal(cpc_privkey_generate(CPC_KEY_SECP256K1, &k), 0);
  assert_int_equal(
      cpc_privkey_sign(&k, msg, strlen(msg), sig, sizeof sig, &sig_len), 0);
  assert_true(sig_len >= 8 && sig_len <= 72);
  assert_int_equal(sig[0], 0x30);
  assert_int_equal(sig[1], sig_len - 2);

  assert_true(secp256k1_ecdsa_signature_parse_der(ctx, &s, sig, sig_len));
  assert_true(secp256k1_ecdsa_signature_serialize_compact(ctx, compact, &s));
  /* Signed by us: already low S, so normalising changes nothing. */
  assert_int_equal(secp256k1_ecdsa_signature_normalize(ctx, NULL, &s), 0);
  /* s' = n - s */
  int borrow = 0;
  for (int i = 31; i >= 0; i--) {
    int d = n[i] - compact[32 + i] - borrow;
    borrow = d < 0;
    compact[32 + i] = (uint8_t)(d + (borrow ? 256 : 0));
  }
  assert_true(secp256k1_ecdsa_signature_parse_compact(ctx, &s, compact));
  assert_true(
      secp256k1_ecdsa_signature_serialize_der(ctx, high, &high_len, &s));
  assert_memory_not_equal(high, sig, high_len < sig_len ? high_len : sig_len);
  assert_int_equal(cpc_pubkey_verify(&k.pub, msg, strlen(msg), high, high_len),
                   0);
  /* Garbage after the DER structure is refused. */
  memcpy(sig + sig_len, "\x00", 1);
  assert_int_equal(
      cpc_pubkey_verify(&k.pub, msg, strlen(msg), sig, sig_len + 1),
      CPC_EBADSIG);
  cpc_privkey_wipe(&k);
  secp256k1_context_destroy(ctx);
}

static void check_spec_pair(const char *priv_hex, const char *pub_hex,
                            enum cpc_key_type type) {
  uint8_t priv[128], pub[64], enc[128];
  size_t priv_len = test_unhex(priv_hex, priv, sizeof priv);
  size_t pub_len = test_unhex(pub_hex, pub, sizeof pub);
  size_t n = 0;
  cpc_privkey k;
  cpc_pubkey pk;

  assert_int_equal(cpc_privkey_decode(priv, priv_len, &k), 0);
  assert_int_equal(k.type, type);
  /* The public key derived from the private one is the spec's. */
  assert_int_equal(cpc_pubkey_encode(&k.pub, enc, sizeof enc, &n), 0);
  assert_int_equal(n, pub_len);
  assert_memory_equal(enc, pub, n);
  /* Round trips give the same bytes. */
  assert_int_equal(cpc_privkey_encode(&k, enc, sizeof enc, &n), 0);
  assert_int_equal(n, priv_len);
  assert_memory_equal(enc, priv, n);
  assert_int_equal(cpc_pubkey_decode(pub, pub_len, &pk), 0);
  assert_true(cpc_pubkey_equal(&pk, &k.pub));
  /* Encoders refuse short buffers. */
  assert_int_equal(cpc_pubkey_encode(&pk, enc, pub_len - 1, &n), CPC_ETOOBIG);
  assert_int_equal(cpc_privkey_encode(&k, enc, priv_len - 1, &n), CPC_ETOOBIG);
  cpc_privkey_wipe(&k);
}

static void test_spec_vectors(void **state) {
  (void)state;
  check_spec_pair(SPEC_ED25519_PRIV, SPEC_ED25519_PUB, CPC_KEY_ED25519);
  check_spec_pair(SPEC_SECP_PRIV, SPEC_SECP_PUB, CPC_KEY_SECP256K1);
}

static void test_protobuf_round_trip_generated(void **state) {
  (void)state;
  enum cpc_key_type types[] = {CPC_KEY_ED25519, CPC_KEY_SECP256K1};
  for (size_t t = 0; t < 2; t++) {
    cpc_privkey k, k2;
    cpc_pubkey pk;
    uint8_t buf[CPC_PRIVKEY_PROTO_MAX];
    size_t n;
    assert_int_equal(cpc_privkey_generate(types[t], &k), 0);
    assert_int_equal(cpc_privkey_encode(&k, buf, sizeof buf, &n), 0);
    assert_int_equal(cpc_privkey_decode(buf, n, &k2), 0);
    assert_int_equal(k2.len, k.len);
    assert_memory_equal(k2.data, k.data, k.len);
    assert_true(cpc_pubkey_equal(&k2.pub, &k.pub));
    assert_int_equal(cpc_pubkey_encode(&k.pub, buf, CPC_PUBKEY_PROTO_MAX, &n),
                     0);
    assert_int_equal(n, types[t] == CPC_KEY_ED25519 ? 36 : 37);
    assert_int_equal(cpc_pubkey_decode(buf, n, &pk), 0);
    assert_true(cpc_pubkey_equal(&pk, &k.pub));
    cpc_privkey_wipe(&k);
    cpc_privkey_wipe(&k2);
  }
}

static void test_protobuf_malformed(void **state) {
  (void)state;
  uint8_t buf[CPC_KEY_PROTO_PARSE_MAX + 1], pub[64];
  size_t n;
  cpc_pubkey pk;
  cpc_privkey k;

  /* Key types we do not implement. */
  n = test_unhex(SPEC_ECDSA_PUB, buf, sizeof buf);
  assert_int_equal(cpc_pubkey_decode(buf, n, &pk), CPC_EUNSUPPORTED);
  const uint8_t rsa[] = {0x08, 0x00, 0x12, 0x03, 0x30, 0x01, 0x00};
  assert_int_equal(cpc_pubkey_decode(rsa, sizeof rsa, &pk), CPC_EUNSUPPORTED);
  assert_int_equal(cpc_privkey_decode(rsa, sizeof rsa, &k), CPC_EUNSUPPORTED);
  const uint8_t future[] = {0x08, 0x09, 0x12, 0x01, 0x00};
  assert_int_equal(cpc_pubkey_decode(future, sizeof future, &pk),
                   CPC_EUNSUPPORTED);

  /* Wrong Data lengths. */
  n = test_unhex(SPEC_ED25519_PUB, pub, sizeof pub);
  memcpy(buf, pub, n);
  buf[3] = 31; /* claims 31 bytes, message one byte shorter */
  assert_int_equal(cpc_pubkey_decode(buf, n - 1, &pk), CPC_EMALFORMED);
  n = test_unhex(SPEC_SECP_PUB, pub, sizeof pub);
  memcpy(buf, pub, n);
  buf[3] = 32;
  assert_int_equal(cpc_pubkey_decode(buf, n - 1, &pk), CPC_EMALFORMED);
  const uint8_t secp_priv_short[] = {0x08, 0x02, 0x12, 0x01, 0x01};
  assert_int_equal(
      cpc_privkey_decode(secp_priv_short, sizeof secp_priv_short, &k),
      CPC_EMALFORMED);
  const uint8_t no_data[] = {0x08, 0x01};
  assert_int_equal(cpc_pubkey_decode(no_data, sizeof no_data, &pk),
                   CPC_EMALFORMED);

  /* A 33-byte secp256k1 "key" that is not on the curve / bad prefix. */
  n = test_unhex(SPEC_SECP_PUB, buf, sizeof buf);
  buf[4] = 0x04;
  assert_int_equal(cpc_pubkey_decode(buf, n, &pk), CPC_EMALFORMED);
  n = test_unhex(SPEC_SECP_PUB, buf, sizeof buf);
  memset(buf + 5, 0xff, 32);
  assert_int_equal(cpc_pubkey_decode(buf, n, &pk), CPC_EMALFORMED);

  /* secp256k1 private scalar 0 and >= n. */
  uint8_t zero[36] = {0x08, 0x02, 0x12, 0x20};
  assert_int_equal(cpc_privkey_decode(zero, sizeof zero, &k), CPC_EMALFORMED);
  memset(zero + 4, 0xff, 32);
  assert_int_equal(cpc_privkey_decode(zero, sizeof zero, &k), CPC_EMALFORMED);

  /* Ed25519 private key of 32 bytes (seed only): not the libp2p encoding. */
  n = test_unhex(SPEC_ED25519_PRIV, buf, sizeof buf);
  buf[3] = 32;
  assert_int_equal(cpc_privkey_decode(buf, 36, &k), CPC_EMALFORMED);
  assert_int_equal(cpc_privkey_from_raw(CPC_KEY_ED25519, buf + 4, 32, &k), 0);
  n = test_unhex(SPEC_ED25519_PUB, pub, sizeof pub);
  assert_memory_equal(k.pub.data, pub + 4, 32);

  /* Ed25519 private key whose public half does not match its seed. */
  n = test_unhex(SPEC_ED25519_PRIV, buf, sizeof buf);
  buf[n - 1] ^= 1;
  assert_int_equal(cpc_privkey_decode(buf, n, &k), CPC_EMALFORMED);

  /* Truncations of a valid message never succeed, never overread. */
  n = test_unhex(SPEC_SECP_PUB, buf, sizeof buf);
  for (size_t i = 0; i < n; i++)
    assert_int_not_equal(cpc_pubkey_decode(buf, i, &pk), 0);
  n = test_unhex(SPEC_ED25519_PRIV, buf, sizeof buf);
  for (size_t i = 0; i < n; i++)
    assert_int_not_equal(cpc_privkey_decode(buf, i, &k), 0);

  /* Not a protobuf at all; over the cap. */
  const uint8_t junk[] = {0xff, 0xff, 0xff};
  assert_int_equal(cpc_pubkey_decode(junk, sizeof junk, &pk), CPC_EMALFORMED);
  memset(buf, 0, sizeof buf);
  assert_int_equal(cpc_pubkey_decode(buf, sizeof buf, &pk), CPC_ETOOBIG);
  assert_int_equal(cpc_privkey_decode(buf, sizeof buf, &k), CPC_ETOOBIG);
}

static void test_ed25519_legacy_96(void **state) {
  (void)state;
  uint8_t spec[80], legacy[100];
  size_t n = test_unhex(SPEC_ED25519_PRIV, spec, sizeof spec);
  cpc_privkey k;

  /* 08 01 12 60 || seed || pub || pub */
  legacy[0] = 0x08, legacy[1] = 0x01, legacy[2] = 0x12, legacy[3] = 96;
  memcpy(legacy + 4, spec + 4, 64);
  memcpy(legacy + 68, spec + 36, 32);
  assert_int_equal(n, 68);
  assert_int_equal(cpc_privkey_decode(legacy, 100, &k), 0);
  assert_memory_equal(k.data, spec + 4, 64);
  legacy[99] ^= 1;
  assert_int_equal(cpc_privkey_decode(legacy, 100, &k), CPC_EMALFORMED);
}

static void test_key_type_names(void **state) {
  (void)state;
  enum cpc_key_type t;
  assert_int_equal(cpc_key_type_parse("ed25519", &t), 0);
  assert_int_equal(t, CPC_KEY_ED25519);
  assert_int_equal(cpc_key_type_parse("secp256k1", &t), 0);
  assert_int_equal(t, CPC_KEY_SECP256K1);
  assert_int_equal(cpc_key_type_parse("rsa", &t), CPC_EUNSUPPORTED);
  assert_string_equal(cpc_key_type_name(CPC_KEY_SECP256K1), "secp256k1");
  cpc_privkey k;
  assert_int_equal(cpc_privkey_generate(CPC_KEY_RSA, &k), CPC_EUNSUPPORTED);
}

static void test_x25519(void **state) {
  (void)state;
  cpc_x25519_keypair a, b, a2;
  uint8_t s1[32], s2[32], low[32] = {0};

  assert_int_equal(cpc_x25519_generate(&a), 0);
  assert_int_equal(cpc_x25519_generate(&b), 0);
  assert_memory_not_equal(a.pub, b.pub, 32);
  assert_int_equal(cpc_x25519_from_secret(a.secret, &a2), 0);
  assert_memory_equal(a2.pub, a.pub, 32);
  assert_int_equal(cpc_x25519_dh(&a, b.pub, s1), 0);
  assert_int_equal(cpc_x25519_dh(&b, a.pub, s2), 0);
  assert_memory_equal(s1, s2, 32);
  assert_int_equal(cpc_x25519_dh(&a, low, s1), CPC_ECRYPTO);
  /* Keys work with crypto_box_seal, which the content module uses. */
  uint8_t c[crypto_box_SEALBYTES + 5], m[5];
  assert_int_equal(crypto_box_seal(c, (const uint8_t *)"hello", 5, a.pub), 0);
  assert_int_equal(crypto_box_seal_open(m, c, sizeof c, a.pub, a.secret), 0);
  assert_memory_equal(m, "hello", 5);
  cpc_x25519_wipe(&a);
  for (size_t i = 0; i < sizeof a; i++)
    assert_int_equal(((uint8_t *)&a)[i], 0);
  cpc_x25519_wipe(&b);
  cpc_x25519_wipe(&a2);
}

/* RFC 7748 section 6.1 Diffie-Hellman vector. */
static void test_x25519_rfc7748(void **state) {
  (void)state;
  uint8_t a_sk[32], a_pk[32], b_pk[32], shared[32], out[32];
  cpc_x25519_keypair a;
  test_unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
        a_sk, 32);
  test_unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
        a_pk, 32);
  test_unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
        b_pk, 32);
  test_unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
        shared, 32);
  assert_int_equal(cpc_x25519_from_secret(a_sk, &a), 0);
  assert_memory_equal(a.pub, a_pk, 32);
  assert_int_equal(cpc_x25519_dh(&a, b_pk, out), 0);
  assert_memory_equal(out, shared, 32);
  cpc_x25519_wipe(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sign_verify_ed25519),
      cmocka_unit_test(test_sign_verify_secp256k1),
      cmocka_unit_test(test_secp256k1_der_and_high_s),
      cmocka_unit_test(test_spec_vectors),
      cmocka_unit_test(test_protobuf_round_trip_generated),
      cmocka_unit_test(test_protobuf_malformed),
      cmocka_unit_test(test_ed25519_legacy_96),
      cmocka_unit_test(test_key_type_names),
      cmocka_unit_test(test_x25519),
      cmocka_unit_test(test_x25519_rfc7748),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
