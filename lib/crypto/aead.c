/* aead.c: ChaCha20-Poly1305 IETF with (domain, index) nonces; see cpc/aead.h. */
#include <sodium.h>

#include "cpc/aead.h"
#include "cpc/chachapoly.h"
#include "cpc/error.h"
#include "crypto/crypto_int.h"

void cpc_aead_keygen(uint8_t key[CPC_AEAD_KEY_LEN]) {
  (void)cpc__sodium_ready();
  randombytes_buf(key, CPC_AEAD_KEY_LEN);
}

void cpc_aead_nonce(uint32_t domain, uint64_t index,
                    uint8_t nonce[CPC_AEAD_NONCE_LEN]) {
  for (int i = 0; i < 4; i++)
    nonce[i] = (uint8_t)(domain >> (24 - 8 * i));
  for (int i = 0; i < 8; i++)
    nonce[4 + i] = (uint8_t)(index >> (56 - 8 * i));
}

int cpc_aead_encrypt(const uint8_t key[CPC_AEAD_KEY_LEN],
                     const uint8_t nonce[CPC_AEAD_NONCE_LEN],
                     const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                     size_t pt_len, uint8_t *out, size_t out_cap,
                     size_t *out_len) {
  if (pt_len > SIZE_MAX - CPC_AEAD_TAG_LEN || out_cap < pt_len + CPC_AEAD_TAG_LEN)
    return CPC_ETOOBIG;
  if (cpc_chachapoly_encrypt(key, nonce, aad, aad_len, pt, pt_len, out) != 0)
    return CPC_ECRYPTO;
  *out_len = pt_len + CPC_AEAD_TAG_LEN;
  return 0;
}

int cpc_aead_decrypt(const uint8_t key[CPC_AEAD_KEY_LEN],
                     const uint8_t nonce[CPC_AEAD_NONCE_LEN],
                     const uint8_t *aad, size_t aad_len, const uint8_t *ct,
                     size_t ct_len, uint8_t *out, size_t out_cap,
                     size_t *out_len) {
  if (ct_len < CPC_AEAD_TAG_LEN)
    return CPC_ETRUNC;
  if (out_cap < ct_len - CPC_AEAD_TAG_LEN)
    return CPC_ETOOBIG;
  /* The tag is checked over the whole input before out is written. */
  if (cpc_chachapoly_decrypt(key, nonce, aad, aad_len, ct, ct_len, out) != 0)
    return CPC_EAUTH;
  *out_len = ct_len - CPC_AEAD_TAG_LEN;
  return 0;
}
