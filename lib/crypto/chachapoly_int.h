/*
 * chachapoly_int.h: internals shared by the ChaCha20-Poly1305 files.
 */
#ifndef CPC_CRYPTO_CHACHAPOLY_INT_H
#define CPC_CRYPTO_CHACHAPOLY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "cpc/chachapoly.h"

/*
 * XOR in[0..len) with the ChaCha20 keystream of state (16 words: constants,
 * key, counter in word 12, nonce) into out (out == in allowed). The caller
 * guarantees the counter does not wrap. The state is not changed.
 */
typedef void cpc__chacha_xor_fn(const uint32_t state[16], const uint8_t *in,
                                uint8_t *out, size_t len);

cpc__chacha_xor_fn cpc__chacha_xor_portable;
cpc__chacha_xor_fn cpc__chacha_xor_avx2;
cpc__chacha_xor_fn cpc__chacha_xor_avx512;

/* The back end chosen once per process (or by cpc_chacha_set_backend). */
cpc__chacha_xor_fn *cpc__chacha_xor(void);

/* The 64-byte keystream block of state (portable, for the one-time key). */
void cpc__chacha_block(const uint32_t state[16], uint8_t out[64]);

/* Poly1305 state: h in radix 2^64 (h2 holds the bits above 128). */
struct cpc__poly1305 {
  uint64_t r0, r1, s1; /* clamped r; s1 = r1 * 5 / 4 */
  uint64_t h0, h1, h2;
  uint64_t pad0, pad1; /* s, added at the end */
  /* r^1..r^8 in 44-bit limbs for the IFMA code; pw_ready 0 until made */
  uint64_t pw[8][3];
  int pw_ready;
};

void cpc__poly1305_init(struct cpc__poly1305 *st, const uint8_t key[32]);
/* Absorb nblocks full 16-byte blocks, each with the 2^128 bit set. */
void cpc__poly1305_blocks(struct cpc__poly1305 *st, const uint8_t *m,
                          size_t nblocks);
/* Absorb data zero-padded to a multiple of 16 (RFC 8439 2.8). */
void cpc__poly1305_padded(struct cpc__poly1305 *st, const uint8_t *m,
                          size_t len);
/* Absorb one final partial block (1..15 bytes, with the 0x01 byte). */
void cpc__poly1305_last(struct cpc__poly1305 *st, const uint8_t *m, size_t len);
/* nblocks (a multiple of 8, at least 8) full blocks with AVX-512 IFMA. */
void cpc__poly1305_blocks_ifma(struct cpc__poly1305 *st, const uint8_t *m,
                               size_t nblocks);
/* nblocks (a multiple of 4, at least 4) full blocks with AVX2. */
void cpc__poly1305_blocks_avx2(struct cpc__poly1305 *st, const uint8_t *m,
                               size_t nblocks);
/* 1 when Poly1305 should use AVX2: an AVX2 or AVX-512 back end is in use
 * (and IFMA is not). */
int cpc__poly1305_use_avx2(void);
/* 1 when Poly1305 should use IFMA: the AVX-512 back end is in use and the
 * CPU has AVX-512 IFMA. */
int cpc__poly1305_use_ifma(void);
/* Write the tag and wipe the state. */
void cpc__poly1305_final(struct cpc__poly1305 *st, uint8_t tag[16]);

static inline uint32_t cpc__load32le(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static inline uint64_t cpc__load64le(const uint8_t *p) {
  return (uint64_t)cpc__load32le(p) | (uint64_t)cpc__load32le(p + 4) << 32;
}

static inline void cpc__store32le(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static inline void cpc__store64le(uint8_t *p, uint64_t v) {
  cpc__store32le(p, (uint32_t)v);
  cpc__store32le(p + 4, (uint32_t)(v >> 32));
}

#endif
