/* keywrap.c: content keys sealed to X25519 keys (crypto_box_seal). */
#include <sodium.h>

#include "cpc/aead.h"
#include "cpc/error.h"
#include "crypto/crypto_int.h"

_Static_assert(CPC_SEALED_KEY_LEN == crypto_box_SEALBYTES + CPC_AEAD_KEY_LEN,
               "sealed key length");

static int public_key_of(const uint8_t sk[CPC_X25519_KEY_LEN],
                         uint8_t pk[CPC_X25519_KEY_LEN]) {
  if (cpc__sodium_ready() != 0 || crypto_scalarmult_base(pk, sk) != 0)
    return CPC_ECRYPTO;
  return 0;
}

int cpc_key_seal(const uint8_t recipient_pk[CPC_X25519_KEY_LEN],
                 const uint8_t key[CPC_AEAD_KEY_LEN],
                 uint8_t sealed[CPC_SEALED_KEY_LEN]) {
  if (cpc__sodium_ready() != 0)
    return CPC_ECRYPTO;
  if (crypto_box_seal(sealed, key, CPC_AEAD_KEY_LEN, recipient_pk) != 0)
    return CPC_ECRYPTO;
  return 0;
}

int cpc_key_unseal(const uint8_t recipient_sk[CPC_X25519_KEY_LEN],
                   const uint8_t *sealed, size_t sealed_len,
                   uint8_t key[CPC_AEAD_KEY_LEN]) {
  uint8_t pk[CPC_X25519_KEY_LEN];
  int rc = 0;
  if (sealed_len < CPC_SEALED_KEY_LEN) {
    rc = CPC_ETRUNC;
    goto out;
  }
  if (sealed_len > CPC_SEALED_KEY_LEN) {
    rc = CPC_EMALFORMED;
    goto out;
  }
  rc = public_key_of(recipient_sk, pk);
  if (rc != 0)
    goto out;
  if (crypto_box_seal_open(key, sealed, sealed_len, pk, recipient_sk) != 0)
    rc = CPC_EAUTH;
out:
  if (rc != 0)
    sodium_memzero(key, CPC_AEAD_KEY_LEN);
  return rc;
}
