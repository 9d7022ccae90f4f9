/*
 * poly1305.c: Poly1305 (RFC 8439 section 2.5), scalar 64-bit.
 *
 * The accumulator h is kept in radix 2^64 as h0 + h1 2^64 + h2 2^128 with
 * h2 small, r = r0 + r1 2^64 clamped. Because the clamp clears the low two
 * bits of r1, r1 * 2^128 = (r1 / 4) * 2^130 = (r1 / 4) * 5 (mod p), so the
 * product's high part folds back with s1 = r1 + r1 / 4 without a division.
 * After each block h is only partly reduced (h < 2^131); the full reduction
 * modulo p = 2^130 - 5 happens once, in the final step.
 */
#include <string.h>

#include <sodium.h>

#include "cpc/error.h"
#include "crypto/chachapoly_int.h"

typedef unsigned __int128 u128;

void cpc__poly1305_init(struct cpc__poly1305 *st, const uint8_t key[32]) {
  st->r0 = cpc__load64le(key) & 0x0FFFFFFC0FFFFFFFull;
  st->r1 = cpc__load64le(key + 8) & 0x0FFFFFFC0FFFFFFCull;
  st->s1 = st->r1 + (st->r1 >> 2);
  st->h0 = st->h1 = st->h2 = 0;
  st->pad0 = cpc__load64le(key + 16);
  st->pad1 = cpc__load64le(key + 24);
  st->pw_ready = 0;
}

/* Absorb nblocks blocks; hibit is the 2^128 bit of each block (1 or 0). */
static void blocks(struct cpc__poly1305 *st, const uint8_t *m, size_t nblocks,
                   uint64_t hibit) {
  const uint64_t r0 = st->r0, r1 = st->r1, s1 = st->s1;
  uint64_t h0 = st->h0, h1 = st->h1, h2 = st->h2;
  while (nblocks--) {
    u128 t = (u128)h0 + cpc__load64le(m);
    h0 = (uint64_t)t;
    t = (u128)h1 + cpc__load64le(m + 8) + (uint64_t)(t >> 64);
    h1 = (uint64_t)t;
    h2 += (uint64_t)(t >> 64) + hibit;
    /* h * r with 2^128 terms folded: h2 < 8 and s1 < 2^62, so no overflow */
    u128 d0 = (u128)h0 * r0 + (u128)h1 * s1;
    u128 d1 = (u128)h0 * r1 + (u128)h1 * r0 + (u128)(h2 * s1);
    uint64_t d2 = h2 * r0;
    d1 += (uint64_t)(d0 >> 64);
    d2 += (uint64_t)(d1 >> 64);
    h0 = (uint64_t)d0;
    h1 = (uint64_t)d1;
    /* fold the bits at 2^130 and above: c * 2^130 = c * 5 (mod p) */
    uint64_t c = (d2 >> 2) + (d2 & ~(uint64_t)3); /* (d2 >> 2) * 5 */
    h2 = d2 & 3;
    t = (u128)h0 + c;
    h0 = (uint64_t)t;
    t = (u128)h1 + (uint64_t)(t >> 64);
    h1 = (uint64_t)t;
    h2 += (uint64_t)(t >> 64);
    m += 16;
  }
  st->h0 = h0;
  st->h1 = h1;
  st->h2 = h2;
}

/* Full blocks: eight at a time with IFMA when it pays, the rest scalar. */
static void full_blocks(struct cpc__poly1305 *st, const uint8_t *m,
                        size_t nblocks) {
  if (nblocks >= 16 && cpc__poly1305_use_ifma()) {
    size_t n = nblocks & ~(size_t)7;
    cpc__poly1305_blocks_ifma(st, m, n);
    m += 16 * n;
    nblocks -= n;
  } else if (nblocks >= 16 && cpc__poly1305_use_avx2()) {
    size_t n = nblocks & ~(size_t)3;
    cpc__poly1305_blocks_avx2(st, m, n);
    m += 16 * n;
    nblocks -= n;
  }
  blocks(st, m, nblocks, 1);
}

void cpc__poly1305_blocks(struct cpc__poly1305 *st, const uint8_t *m,
                          size_t nblocks) {
  full_blocks(st, m, nblocks);
}

void cpc__poly1305_padded(struct cpc__poly1305 *st, const uint8_t *m,
                          size_t len) {
  full_blocks(st, m, len / 16);
  size_t rem = len % 16;
  if (rem) {
    uint8_t block[16] = {0};
    memcpy(block, m + len - rem, rem);
    blocks(st, block, 1, 1);
  }
}

void cpc__poly1305_last(struct cpc__poly1305 *st, const uint8_t *m,
                        size_t len) {
  uint8_t block[16] = {0};
  memcpy(block, m, len);
  block[len] = 1;
  blocks(st, block, 1, 0);
}

void cpc__poly1305_final(struct cpc__poly1305 *st, uint8_t tag[16]) {
  uint64_t h0 = st->h0, h1 = st->h1, h2 = st->h2;
  /* one more fold so that h < 2^130 + small, then h mod p */
  uint64_t c = (h2 >> 2) * 5;
  h2 &= 3;
  u128 t = (u128)h0 + c;
  h0 = (uint64_t)t;
  t = (u128)h1 + (uint64_t)(t >> 64);
  h1 = (uint64_t)t;
  h2 += (uint64_t)(t >> 64);
  /* g = h + 5 - 2^130; take g when it is not negative (constant time) */
  t = (u128)h0 + 5;
  uint64_t g0 = (uint64_t)t;
  t = (u128)h1 + (uint64_t)(t >> 64);
  uint64_t g1 = (uint64_t)t;
  uint64_t g2 = h2 + (uint64_t)(t >> 64);
  uint64_t mask = 0 - (g2 >> 2); /* all ones when h + 5 >= 2^130 */
  h0 = (h0 & ~mask) | (g0 & mask);
  h1 = (h1 & ~mask) | (g1 & mask);
  t = (u128)h0 + st->pad0;
  cpc__store64le(tag, (uint64_t)t);
  t = (u128)h1 + st->pad1 + (uint64_t)(t >> 64);
  cpc__store64le(tag + 8, (uint64_t)t);
  sodium_memzero(st, sizeof *st);
}

int cpc_poly1305(const uint8_t key[32], const uint8_t *msg, size_t len,
                 uint8_t tag[16]) {
  if (key == NULL || tag == NULL || (msg == NULL && len > 0))
    return CPC_EINVAL;
  struct cpc__poly1305 st;
  cpc__poly1305_init(&st, key);
  full_blocks(&st, msg, len / 16);
  if (len % 16)
    cpc__poly1305_last(&st, msg + len - len % 16, len % 16);
  cpc__poly1305_final(&st, tag);
  return 0;
}
