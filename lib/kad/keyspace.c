/*
 * keyspace.c: DHT positions (SHA-256 of a key's bytes) and XOR distance.
 */
#include <string.h>

#include <sodium.h>

#include "cpc/kad.h"

void cpc_kad_key_hash(const uint8_t *key, size_t len,
                      uint8_t out[CPC_KAD_KEY_LEN]) {
  crypto_hash_sha256(out, key, len);
}

void cpc_kad_distance(const uint8_t a[CPC_KAD_KEY_LEN],
                      const uint8_t b[CPC_KAD_KEY_LEN],
                      uint8_t out[CPC_KAD_KEY_LEN]) {
  for (size_t i = 0; i < CPC_KAD_KEY_LEN; i++)
    out[i] = (uint8_t)(a[i] ^ b[i]);
}

unsigned cpc_kad_common_prefix_len(const uint8_t a[CPC_KAD_KEY_LEN],
                                   const uint8_t b[CPC_KAD_KEY_LEN]) {
  for (unsigned i = 0; i < CPC_KAD_KEY_LEN; i++) {
    uint8_t x = (uint8_t)(a[i] ^ b[i]);
    if (x) {
      unsigned n = 0;
      while (!(x & 0x80)) {
        x = (uint8_t)(x << 1);
        n++;
      }
      return i * 8 + n;
    }
  }
  return CPC_KAD_KEY_LEN * 8;
}

int cpc_kad_compare_distance(const uint8_t target[CPC_KAD_KEY_LEN],
                             const uint8_t a[CPC_KAD_KEY_LEN],
                             const uint8_t b[CPC_KAD_KEY_LEN]) {
  for (size_t i = 0; i < CPC_KAD_KEY_LEN; i++) {
    uint8_t da = (uint8_t)(a[i] ^ target[i]), db = (uint8_t)(b[i] ^ target[i]);
    if (da != db)
      return da < db ? -1 : 1;
  }
  return 0;
}
