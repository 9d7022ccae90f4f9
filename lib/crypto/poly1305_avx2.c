/*
 * poly1305_avx2.c: Poly1305 (RFC 8439 2.5) four blocks at a time with AVX2.
 *
 * Numbers modulo p = 2^130 - 5 are held in five 26-bit limbs, one number
 * per 64-bit lane, multiplied with 32 x 32 -> 64-bit vpmuludq. Lane j
 * accumulates blocks j, j+4, j+8, ...: each step is H = (H + M) * r^4; the
 * last step multiplies lane j by r^(4-j) instead, and the lanes are summed.
 * Limb products at 2^130 and above fold back times 5.
 * Compiled with -mavx2; only called after the CPU check.
 */
#include <immintrin.h>

#include "crypto/chachapoly_int.h"

typedef unsigned __int128 u128;

#define M26 ((uint64_t)0x3FFFFFF)

/* Scalar a * b in 26-bit limbs, partly reduced. */
static void mul26(const uint64_t a[5], const uint64_t b[5], uint64_t c[5]) {
  uint64_t s1 = 5 * b[1], s2 = 5 * b[2], s3 = 5 * b[3], s4 = 5 * b[4];
  uint64_t d[5];
  d[0] = a[0] * b[0] + a[1] * s4 + a[2] * s3 + a[3] * s2 + a[4] * s1;
  d[1] = a[0] * b[1] + a[1] * b[0] + a[2] * s4 + a[3] * s3 + a[4] * s2;
  d[2] = a[0] * b[2] + a[1] * b[1] + a[2] * b[0] + a[3] * s4 + a[4] * s3;
  d[3] = a[0] * b[3] + a[1] * b[2] + a[2] * b[1] + a[3] * b[0] + a[4] * s4;
  d[4] = a[0] * b[4] + a[1] * b[3] + a[2] * b[2] + a[3] * b[1] + a[4] * b[0];
  for (int i = 0; i < 4; i++) {
    d[i + 1] += d[i] >> 26;
    d[i] &= M26;
  }
  d[0] += (d[4] >> 26) * 5;
  d[4] &= M26;
  d[1] += d[0] >> 26;
  d[0] &= M26;
  for (int i = 0; i < 5; i++)
    c[i] = d[i];
}

#define MUL(x, y) _mm256_mul_epu32(x, y)
#define ADD(x, y) _mm256_add_epi64(x, y)

/* a * r (limbs r[0..4], s[i] = 5 r[i]), partly reduced, limbs < 2^27. */
static inline void vmul(__m256i a[5], const __m256i r[5], const __m256i s[5]) {
  __m256i d0 = ADD(ADD(ADD(MUL(a[0], r[0]), MUL(a[1], s[4])),
                       ADD(MUL(a[2], s[3]), MUL(a[3], s[2]))),
                   MUL(a[4], s[1]));
  __m256i d1 = ADD(ADD(ADD(MUL(a[0], r[1]), MUL(a[1], r[0])),
                       ADD(MUL(a[2], s[4]), MUL(a[3], s[3]))),
                   MUL(a[4], s[2]));
  __m256i d2 = ADD(ADD(ADD(MUL(a[0], r[2]), MUL(a[1], r[1])),
                       ADD(MUL(a[2], r[0]), MUL(a[3], s[4]))),
                   MUL(a[4], s[3]));
  __m256i d3 = ADD(ADD(ADD(MUL(a[0], r[3]), MUL(a[1], r[2])),
                       ADD(MUL(a[2], r[1]), MUL(a[3], r[0]))),
                   MUL(a[4], s[4]));
  __m256i d4 = ADD(ADD(ADD(MUL(a[0], r[4]), MUL(a[1], r[3])),
                       ADD(MUL(a[2], r[2]), MUL(a[3], r[1]))),
                   MUL(a[4], r[0]));
  const __m256i m26 = _mm256_set1_epi64x((long long)M26);
  d1 = ADD(d1, _mm256_srli_epi64(d0, 26));
  d0 = _mm256_and_si256(d0, m26);
  d2 = ADD(d2, _mm256_srli_epi64(d1, 26));
  d1 = _mm256_and_si256(d1, m26);
  d3 = ADD(d3, _mm256_srli_epi64(d2, 26));
  d2 = _mm256_and_si256(d2, m26);
  d4 = ADD(d4, _mm256_srli_epi64(d3, 26));
  d3 = _mm256_and_si256(d3, m26);
  __m256i c = _mm256_srli_epi64(d4, 26);
  d4 = _mm256_and_si256(d4, m26);
  d0 = ADD(d0, ADD(c, _mm256_slli_epi64(c, 2)));
  d1 = ADD(d1, _mm256_srli_epi64(d0, 26));
  d0 = _mm256_and_si256(d0, m26);
  a[0] = d0;
  a[1] = d1;
  a[2] = d2;
  a[3] = d3;
  a[4] = d4;
}

/* a += the four blocks at m (with the 2^128 bit). */
static inline void add_blocks(__m256i a[5], const uint8_t *m) {
  const __m256i m26 = _mm256_set1_epi64x((long long)M26);
  __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)m);
  __m256i y = _mm256_loadu_si256((const __m256i *)(const void *)(m + 32));
  /* unpack gives blocks in lane order 0, 2, 1, 3; the permute fixes it */
  __m256i lo = _mm256_permute4x64_epi64(_mm256_unpacklo_epi64(x, y), 0xD8);
  __m256i hi = _mm256_permute4x64_epi64(_mm256_unpackhi_epi64(x, y), 0xD8);
  a[0] = ADD(a[0], _mm256_and_si256(lo, m26));
  a[1] = ADD(a[1], _mm256_and_si256(_mm256_srli_epi64(lo, 26), m26));
  a[2] = ADD(a[2], _mm256_and_si256(_mm256_or_si256(_mm256_srli_epi64(lo, 52),
                                                    _mm256_slli_epi64(hi, 12)),
                                    m26));
  a[3] = ADD(a[3], _mm256_and_si256(_mm256_srli_epi64(hi, 14), m26));
  a[4] = ADD(a[4], _mm256_or_si256(_mm256_srli_epi64(hi, 40),
                                   _mm256_set1_epi64x(1 << 24)));
}

static void limbs_of(uint64_t lo, uint64_t hi, uint64_t top, uint64_t l[5]) {
  l[0] = lo & M26;
  l[1] = (lo >> 26) & M26;
  l[2] = (lo >> 52 | hi << 12) & M26;
  l[3] = (hi >> 14) & M26;
  l[4] = hi >> 40 | top << 24;
}

void cpc__poly1305_blocks_avx2(struct cpc__poly1305 *st, const uint8_t *m,
                               size_t nblocks) {
  uint64_t pw[4][5]; /* pw[k - 1] = r^k */
  limbs_of(st->r0, st->r1, 0, pw[0]);
  for (int k = 1; k < 4; k++)
    mul26(pw[k - 1], pw[0], pw[k]);
  __m256i r[5], s[5], p[5], q[5], h[5];
  uint64_t hl[5];
  limbs_of(st->h0, st->h1, st->h2, hl);
  for (int i = 0; i < 5; i++) {
    r[i] = _mm256_set1_epi64x((long long)pw[3][i]);
    s[i] = _mm256_set1_epi64x((long long)(5 * pw[3][i]));
    /* lane j of the last step: r^(4-j) */
    p[i] = _mm256_set_epi64x((long long)pw[0][i], (long long)pw[1][i],
                             (long long)pw[2][i], (long long)pw[3][i]);
    q[i] = ADD(p[i], _mm256_slli_epi64(p[i], 2));
    h[i] = _mm256_set_epi64x(0, 0, 0, (long long)hl[i]);
  }
  size_t groups = nblocks / 4;
  for (size_t g = 0; g + 1 < groups; g++, m += 64) {
    add_blocks(h, m);
    vmul(h, r, s);
  }
  add_blocks(h, m);
  vmul(h, p, q);

  uint64_t l[5];
  for (int i = 0; i < 5; i++) {
    __m128i t = _mm_add_epi64(_mm256_castsi256_si128(h[i]),
                              _mm256_extracti128_si256(h[i], 1));
    l[i] = (uint64_t)_mm_cvtsi128_si64(t) + (uint64_t)_mm_extract_epi64(t, 1);
  }
  for (int i = 0; i < 4; i++) {
    l[i + 1] += l[i] >> 26;
    l[i] &= M26;
  }
  l[0] += (l[4] >> 26) * 5;
  l[4] &= M26;
  u128 t = (u128)l[0] + ((u128)l[1] << 26) + ((u128)l[2] << 52);
  st->h0 = (uint64_t)t;
  t >>= 64;
  t += ((u128)l[3] << 14) + ((u128)l[4] << 40);
  st->h1 = (uint64_t)t;
  st->h2 = (uint64_t)(t >> 64);
}
