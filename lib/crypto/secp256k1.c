/*
 * secp256k1.c: secp256k1 keys and ECDSA as libp2p uses them, on
 * libsecp256k1. Signatures are over SHA-256 of the message, DER-encoded,
 * with RFC 6979 nonces and low S; verification normalises S first.
 *
 * One context for the process, made on first use (pthread_once) and
 * randomised with 32 bytes from libsodium against side channels. Every
 * function that uses it afterwards takes it const, which libsecp256k1
 * documents as safe to share between threads.
 */
#include <pthread.h>
#include <string.h>

#include <secp256k1.h>
#include <sodium.h>

#include "cpc/error.h"
#include "crypto/crypto_int.h"

static secp256k1_context *g_ctx;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* Illegal arguments make the API call return 0 instead of aborting. */
static void on_illegal(const char *msg, void *data) {
  (void)msg;
  (void)data;
}

static void ctx_init(void) {
  uint8_t seed[32];
  secp256k1_context *ctx;

  if (cpc__sodium_ready() != 0)
    return;
  ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  if (!ctx)
    return;
  secp256k1_context_set_illegal_callback(ctx, on_illegal, NULL);
  randombytes_buf(seed, sizeof seed);
  if (!secp256k1_context_randomize(ctx, seed)) {
    secp256k1_context_destroy(ctx);
    ctx = NULL;
  }
  sodium_memzero(seed, sizeof seed);
  g_ctx = ctx;
}

static const secp256k1_context *ctx_get(void) {
  if (pthread_once(&g_once, ctx_init) != 0)
    return NULL;
  return g_ctx;
}

int cpc__secp256k1_public(const uint8_t seckey[32], uint8_t pub[33]) {
  const secp256k1_context *ctx = ctx_get();
  secp256k1_pubkey pk;
  size_t len = 33;

  if (!ctx)
    return CPC_ECRYPTO;
  if (!secp256k1_ec_seckey_verify(ctx, seckey) ||
      !secp256k1_ec_pubkey_create(ctx, &pk, seckey))
    return CPC_EMALFORMED;
  if (!secp256k1_ec_pubkey_serialize(ctx, pub, &len, &pk,
                                     SECP256K1_EC_COMPRESSED) ||
      len != 33)
    return CPC_ECRYPTO;
  return 0;
}

int cpc__secp256k1_generate(uint8_t seckey[32]) {
  const secp256k1_context *ctx = ctx_get();

  if (!ctx)
    return CPC_ECRYPTO;
  /* A random 256-bit string is out of range with probability ~2^-128. */
  for (int tries = 0; tries < 64; tries++) {
    randombytes_buf(seckey, 32);
    if (secp256k1_ec_seckey_verify(ctx, seckey))
      return 0;
  }
  sodium_memzero(seckey, 32);
  return CPC_ECRYPTO;
}

int cpc__secp256k1_check_public(const uint8_t *pub, size_t len) {
  const secp256k1_context *ctx = ctx_get();
  secp256k1_pubkey pk;

  if (!ctx)
    return CPC_ECRYPTO;
  if (len != 33 || (pub[0] != 0x02 && pub[0] != 0x03))
    return CPC_EMALFORMED;
  return secp256k1_ec_pubkey_parse(ctx, &pk, pub, len) ? 0 : CPC_EMALFORMED;
}

int cpc__secp256k1_sign(const uint8_t seckey[32], const void *msg, size_t len,
                        uint8_t *sig, size_t cap, size_t *sig_len) {
  const secp256k1_context *ctx = ctx_get();
  secp256k1_ecdsa_signature s;
  uint8_t digest[crypto_hash_sha256_BYTES];
  uint8_t der[72];
  size_t der_len = sizeof der;
  int rc;

  if (!ctx)
    return CPC_ECRYPTO;
  crypto_hash_sha256(digest, msg, (unsigned long long)len);
  if (!secp256k1_ecdsa_sign(ctx, &s, digest, seckey, NULL, NULL)) {
    rc = CPC_ECRYPTO;
    goto out;
  }
  if (!secp256k1_ecdsa_signature_serialize_der(ctx, der, &der_len, &s)) {
    rc = CPC_ECRYPTO;
    goto out;
  }
  if (der_len > cap) {
    rc = CPC_ETOOBIG;
    goto out;
  }
  memcpy(sig, der, der_len);
  *sig_len = der_len;
  rc = 0;
out:
  sodium_memzero(&s, sizeof s);
  return rc;
}

int cpc__secp256k1_verify(const uint8_t pub[33], const void *msg, size_t len,
                          const uint8_t *sig, size_t sig_len) {
  const secp256k1_context *ctx = ctx_get();
  secp256k1_ecdsa_signature s;
  secp256k1_pubkey pk;
  uint8_t digest[crypto_hash_sha256_BYTES];

  if (!ctx)
    return CPC_ECRYPTO;
  if (!sig || sig_len == 0 || sig_len > 72)
    return CPC_EBADSIG;
  if (!secp256k1_ec_pubkey_parse(ctx, &pk, pub, 33))
    return CPC_EBADSIG;
  if (!secp256k1_ecdsa_signature_parse_der(ctx, &s, sig, sig_len))
    return CPC_EBADSIG;
  /* libp2p peers may send high-S signatures; accept them as they do. */
  secp256k1_ecdsa_signature_normalize(ctx, &s, &s);
  crypto_hash_sha256(digest, msg, (unsigned long long)len);
  return secp256k1_ecdsa_verify(ctx, &s, digest, &pk) ? 0 : CPC_EBADSIG;
}
