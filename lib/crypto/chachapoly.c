/*
 * chachapoly.c: the ChaCha20-Poly1305 AEAD construction (RFC 8439 2.8).
 *
 * The Poly1305 key is the first 32 bytes of keystream block 0; the message
 * is encrypted from block 1. The tag covers ad, zero padding to 16, the
 * ciphertext, zero padding to 16, then both lengths as 64-bit little endian.
 * Encryption runs in slices so that Poly1305 reads ciphertext still in
 * cache; decryption authenticates everything before writing anything.
 */
#include <string.h>

#include <sodium.h>

#include "cpc/chachapoly.h"
#include "cpc/error.h"
#include "crypto/chachapoly_int.h"

#define SLICE 4096 /* a multiple of 64 and 16 */

static void setup(const uint8_t key[32], const uint8_t nonce[12],
                  uint32_t state[16]) {
  state[0] = 0x61707865;
  state[1] = 0x3320646e;
  state[2] = 0x79622d32;
  state[3] = 0x6b206574;
  for (int i = 0; i < 8; i++)
    state[4 + i] = cpc__load32le(key + 4 * i);
  state[12] = 0;
  for (int i = 0; i < 3; i++)
    state[13 + i] = cpc__load32le(nonce + 4 * i);
}

/* Poly1305 keyed from block 0, with ad absorbed; state[12] left at 1. */
static void mac_start(uint32_t state[16], struct cpc__poly1305 *mac,
                      const uint8_t *ad, size_t adlen) {
  uint8_t block0[64];
  cpc__chacha_block(state, block0);
  cpc__poly1305_init(mac, block0);
  sodium_memzero(block0, sizeof block0);
  state[12] = 1;
  cpc__poly1305_padded(mac, ad, adlen);
}

static void mac_finish(struct cpc__poly1305 *mac, size_t adlen, size_t len,
                       uint8_t tag[16]) {
  uint8_t lens[16];
  cpc__store64le(lens, (uint64_t)adlen);
  cpc__store64le(lens + 8, (uint64_t)len);
  cpc__poly1305_blocks(mac, lens, 1);
  cpc__poly1305_final(mac, tag);
}

static int args_ok(const uint8_t *key, const uint8_t *nonce, const uint8_t *ad,
                   size_t adlen, const uint8_t *in, size_t len,
                   const uint8_t *out) {
  if (key == NULL || nonce == NULL || (ad == NULL && adlen > 0) ||
      (in == NULL && len > 0) || out == NULL)
    return 0;
  return (uint64_t)len <= CPC_CHACHAPOLY_MAX_LEN;
}

int cpc_chachapoly_encrypt(const uint8_t key[CPC_CHACHAPOLY_KEY_LEN],
                           const uint8_t nonce[CPC_CHACHAPOLY_NONCE_LEN],
                           const uint8_t *ad, size_t adlen, const uint8_t *in,
                           size_t len, uint8_t *out) {
  if (!args_ok(key, nonce, ad, adlen, in, len, out))
    return CPC_EINVAL;
  cpc__chacha_xor_fn *xor_fn = cpc__chacha_xor();
  uint32_t state[16];
  struct cpc__poly1305 mac;
  setup(key, nonce, state);
  mac_start(state, &mac, ad, adlen);
  for (size_t done = 0; done < len;) {
    size_t n = len - done < SLICE ? len - done : SLICE;
    xor_fn(state, in + done, out + done, n);
    state[12] += (uint32_t)(n / 64);
    cpc__poly1305_padded(&mac, out + done, n);
    done += n;
  }
  mac_finish(&mac, adlen, len, out + len);
  sodium_memzero(state, sizeof state);
  return 0;
}

int cpc_chachapoly_decrypt(const uint8_t key[CPC_CHACHAPOLY_KEY_LEN],
                           const uint8_t nonce[CPC_CHACHAPOLY_NONCE_LEN],
                           const uint8_t *ad, size_t adlen, const uint8_t *in,
                           size_t len, uint8_t *out) {
  if (in == NULL && len > 0)
    return CPC_EINVAL;
  if (len < CPC_CHACHAPOLY_TAG_LEN)
    return CPC_EAUTH;
  size_t mlen = len - CPC_CHACHAPOLY_TAG_LEN;
  if (!args_ok(key, nonce, ad, adlen, in, mlen, out))
    return CPC_EINVAL;
  uint32_t state[16];
  struct cpc__poly1305 mac;
  uint8_t tag[16];
  setup(key, nonce, state);
  mac_start(state, &mac, ad, adlen);
  cpc__poly1305_padded(&mac, in, mlen);
  mac_finish(&mac, adlen, mlen, tag);
  int rc = 0;
  if (crypto_verify_16(tag, in + mlen) != 0) {
    rc = CPC_EAUTH;
    goto out;
  }
  if (mlen > 0)
    cpc__chacha_xor()(state, in, out, mlen);
out:
  sodium_memzero(state, sizeof state);
  sodium_memzero(tag, sizeof tag);
  return rc;
}

int cpc_chacha20_xor(const uint8_t key[CPC_CHACHAPOLY_KEY_LEN],
                     const uint8_t nonce[CPC_CHACHAPOLY_NONCE_LEN],
                     uint32_t counter, const uint8_t *in, size_t len,
                     uint8_t *out) {
  if (key == NULL || nonce == NULL || ((in == NULL || out == NULL) && len > 0))
    return CPC_EINVAL;
  if ((uint64_t)counter + ((uint64_t)len + 63) / 64 > ((uint64_t)1 << 32))
    return CPC_EINVAL;
  uint32_t state[16];
  setup(key, nonce, state);
  state[12] = counter;
  if (len > 0)
    cpc__chacha_xor()(state, in, out, len);
  sodium_memzero(state, sizeof state);
  return 0;
}
