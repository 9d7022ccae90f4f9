/*
 * ed25519.c: Ed25519 keys and signatures on libsodium. libsodium's secret
 * key layout (seed || public, 64 bytes) is exactly libp2p's Data encoding.
 */
#include <sodium.h>

#include "cpc/error.h"
#include "crypto/crypto_int.h"

int cpc__ed25519_from_seed(const uint8_t seed[32], uint8_t sk[64]) {
  uint8_t pk[crypto_sign_PUBLICKEYBYTES];

  if (cpc__sodium_ready() != 0)
    return CPC_ECRYPTO;
  if (crypto_sign_seed_keypair(pk, sk, seed) != 0)
    return CPC_ECRYPTO;
  return 0;
}

int cpc__ed25519_generate(uint8_t sk[64]) {
  uint8_t seed[crypto_sign_SEEDBYTES];
  int rc;

  if (cpc__sodium_ready() != 0)
    return CPC_ECRYPTO;
  randombytes_buf(seed, sizeof seed);
  rc = cpc__ed25519_from_seed(seed, sk);
  sodium_memzero(seed, sizeof seed);
  return rc;
}

int cpc__ed25519_sign(const uint8_t sk[64], const void *msg, size_t len,
                      uint8_t sig[64]) {
  if (cpc__sodium_ready() != 0)
    return CPC_ECRYPTO;
  if (crypto_sign_detached(sig, NULL, msg, (unsigned long long)len, sk) != 0)
    return CPC_ECRYPTO;
  return 0;
}

int cpc__ed25519_verify(const uint8_t pub[32], const void *msg, size_t len,
                        const uint8_t *sig, size_t sig_len) {
  if (cpc__sodium_ready() != 0)
    return CPC_ECRYPTO;
  if (!sig || sig_len != crypto_sign_BYTES)
    return CPC_EBADSIG;
  return crypto_sign_verify_detached(sig, msg, (unsigned long long)len, pub) == 0
             ? 0
             : CPC_EBADSIG;
}
