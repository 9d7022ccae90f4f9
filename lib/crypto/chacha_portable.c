/*
 * chacha_portable.c: ChaCha20 block function (RFC 8439 section 2.3) in
 * portable C, one 64-byte block at a time.
 */
#include <string.h>

#include <sodium.h>

#include "crypto/chachapoly_int.h"

#define ROTL32(v, n) ((uint32_t)((v) << (n)) | ((v) >> (32 - (n))))
#define QR(a, b, c, d)                                                         \
  do {                                                                         \
    a += b;                                                                    \
    d ^= a;                                                                    \
    d = ROTL32(d, 16);                                                         \
    c += d;                                                                    \
    b ^= c;                                                                    \
    b = ROTL32(b, 12);                                                         \
    a += b;                                                                    \
    d ^= a;                                                                    \
    d = ROTL32(d, 8);                                                          \
    c += d;                                                                    \
    b ^= c;                                                                    \
    b = ROTL32(b, 7);                                                          \
  } while (0)

void cpc__chacha_block(const uint32_t state[16], uint8_t out[64]) {
  uint32_t x[16];
  memcpy(x, state, sizeof x);
  for (int i = 0; i < 10; i++) {
    QR(x[0], x[4], x[8], x[12]);
    QR(x[1], x[5], x[9], x[13]);
    QR(x[2], x[6], x[10], x[14]);
    QR(x[3], x[7], x[11], x[15]);
    QR(x[0], x[5], x[10], x[15]);
    QR(x[1], x[6], x[11], x[12]);
    QR(x[2], x[7], x[8], x[13]);
    QR(x[3], x[4], x[9], x[14]);
  }
  for (int i = 0; i < 16; i++)
    cpc__store32le(out + 4 * i, x[i] + state[i]);
  sodium_memzero(x, sizeof x);
}

void cpc__chacha_xor_portable(const uint32_t state[16], const uint8_t *in,
                              uint8_t *out, size_t len) {
  uint32_t st[16];
  uint8_t ks[64];
  memcpy(st, state, sizeof st);
  while (len > 0) {
    cpc__chacha_block(st, ks);
    size_t n = len < 64 ? len : 64;
    for (size_t i = 0; i < n; i++)
      out[i] = in[i] ^ ks[i];
    st[12]++;
    in += n;
    out += n;
    len -= n;
  }
  sodium_memzero(ks, sizeof ks);
  sodium_memzero(st, sizeof st);
}
