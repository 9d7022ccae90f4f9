/*
 * poly1305_ifma.c: Poly1305 (RFC 8439 2.5) eight blocks at a time with
 * AVX-512 IFMA (52-bit multiply-add).
 *
 * Numbers modulo p = 2^130 - 5 are held in three limbs of 44, 44 and 42
 * bits, one number per 64-bit lane. Lane j accumulates blocks j, j+8,
 * j+16, ...: each step is H = (H + M) * r^8; the last step multiplies lane
 * j by r^(8-j) instead, and the lanes are summed. A product of two limbs is
 * at most 95 bits; vpmadd52luq/huq give its low 52 bits and the bits above,
 * the latter belonging 8 bits up in the next limb. Bits at 2^132 fold back
 * as times 20, bits at 2^130 as times 5.
 * Compiled with -mavx512f -mavx512ifma; only called after the CPU check.
 */
#include <immintrin.h>

#include "crypto/chachapoly_int.h"

typedef unsigned __int128 u128;

#define M44 ((uint64_t)0xFFFFFFFFFFF)
#define M42 ((uint64_t)0x3FFFFFFFFFF)

/* Scalar a * b in the same limbs, partly reduced (limb 1 may exceed 2^44
 * a little; all stay far below 2^52). */
static void mul44(const uint64_t a[3], const uint64_t b[3], uint64_t c[3]) {
  u128 d0 =
      (u128)a[0] * b[0] + (u128)a[1] * (20 * b[2]) + (u128)a[2] * (20 * b[1]);
  u128 d1 = (u128)a[0] * b[1] + (u128)a[1] * b[0] + (u128)a[2] * (20 * b[2]);
  u128 d2 = (u128)a[0] * b[2] + (u128)a[1] * b[1] + (u128)a[2] * b[0];
  d1 += (uint64_t)(d0 >> 44);
  d2 += (uint64_t)(d1 >> 44);
  uint64_t c0 = (uint64_t)d0 & M44, c1 = (uint64_t)d1 & M44;
  uint64_t c2 = (uint64_t)d2 & M42;
  c0 += (uint64_t)(d2 >> 42) * 5;
  c1 += c0 >> 44;
  c0 &= M44;
  c[0] = c0;
  c[1] = c1;
  c[2] = c2;
}

struct vnum {
  __m512i l0, l1, l2;
};

/* a * (r0, r1, r2) with s1 = 20 r1, s2 = 20 r2, partly reduced. */
static inline struct vnum vmul(struct vnum a, __m512i r0, __m512i r1,
                               __m512i r2, __m512i s1, __m512i s2) {
  const __m512i z = _mm512_setzero_si512();
  __m512i d0l = _mm512_madd52lo_epu64(z, a.l0, r0);
  __m512i d0h = _mm512_madd52hi_epu64(z, a.l0, r0);
  __m512i d1l = _mm512_madd52lo_epu64(z, a.l0, r1);
  __m512i d1h = _mm512_madd52hi_epu64(z, a.l0, r1);
  __m512i d2l = _mm512_madd52lo_epu64(z, a.l0, r2);
  __m512i d2h = _mm512_madd52hi_epu64(z, a.l0, r2);
  d0l = _mm512_madd52lo_epu64(d0l, a.l1, s2);
  d0h = _mm512_madd52hi_epu64(d0h, a.l1, s2);
  d1l = _mm512_madd52lo_epu64(d1l, a.l1, r0);
  d1h = _mm512_madd52hi_epu64(d1h, a.l1, r0);
  d2l = _mm512_madd52lo_epu64(d2l, a.l1, r1);
  d2h = _mm512_madd52hi_epu64(d2h, a.l1, r1);
  d0l = _mm512_madd52lo_epu64(d0l, a.l2, s1);
  d0h = _mm512_madd52hi_epu64(d0h, a.l2, s1);
  d1l = _mm512_madd52lo_epu64(d1l, a.l2, s2);
  d1h = _mm512_madd52hi_epu64(d1h, a.l2, s2);
  d2l = _mm512_madd52lo_epu64(d2l, a.l2, r0);
  d2h = _mm512_madd52hi_epu64(d2h, a.l2, r0);
  /* high halves move 8 bits up into the next limb; 2^140 = 2^8 * 20 */
  __m512i x = _mm512_slli_epi64(d2h, 8);
  __m512i t0 = _mm512_add_epi64(
      d0l, _mm512_add_epi64(_mm512_slli_epi64(x, 4), _mm512_slli_epi64(x, 2)));
  __m512i t1 = _mm512_add_epi64(d1l, _mm512_slli_epi64(d0h, 8));
  __m512i t2 = _mm512_add_epi64(d2l, _mm512_slli_epi64(d1h, 8));
  const __m512i m44 = _mm512_set1_epi64((long long)M44);
  const __m512i m42 = _mm512_set1_epi64((long long)M42);
  t1 = _mm512_add_epi64(t1, _mm512_srli_epi64(t0, 44));
  t0 = _mm512_and_si512(t0, m44);
  t2 = _mm512_add_epi64(t2, _mm512_srli_epi64(t1, 44));
  t1 = _mm512_and_si512(t1, m44);
  __m512i c = _mm512_srli_epi64(t2, 42);
  t2 = _mm512_and_si512(t2, m42);
  t0 = _mm512_add_epi64(t0, _mm512_add_epi64(c, _mm512_slli_epi64(c, 2)));
  t1 = _mm512_add_epi64(t1, _mm512_srli_epi64(t0, 44));
  t0 = _mm512_and_si512(t0, m44);
  struct vnum out = {t0, t1, t2};
  return out;
}

/* H += the eight blocks at m (with the 2^128 bit). */
static inline struct vnum add_blocks(struct vnum h, const uint8_t *m) {
  const __m512i lo_idx = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i hi_idx = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
  const __m512i m44 = _mm512_set1_epi64((long long)M44);
  __m512i a = _mm512_loadu_si512((const void *)m);
  __m512i b = _mm512_loadu_si512((const void *)(m + 64));
  __m512i lo = _mm512_permutex2var_epi64(a, lo_idx, b);
  __m512i hi = _mm512_permutex2var_epi64(a, hi_idx, b);
  __m512i m0 = _mm512_and_si512(lo, m44);
  __m512i m1 = _mm512_and_si512(
      _mm512_or_si512(_mm512_srli_epi64(lo, 44), _mm512_slli_epi64(hi, 20)),
      m44);
  __m512i m2 = _mm512_or_si512(_mm512_srli_epi64(hi, 24),
                               _mm512_set1_epi64((long long)1 << 40));
  h.l0 = _mm512_add_epi64(h.l0, m0);
  h.l1 = _mm512_add_epi64(h.l1, m1);
  h.l2 = _mm512_add_epi64(h.l2, m2);
  return h;
}

void cpc__poly1305_blocks_ifma(struct cpc__poly1305 *st, const uint8_t *m,
                               size_t nblocks) {
  /* powers r^1..r^8, once per key */
  uint64_t(*pw)[3] = st->pw; /* pw[k - 1] = r^k */
  if (!st->pw_ready) {
    pw[0][0] = st->r0 & M44;
    pw[0][1] = (st->r0 >> 44 | st->r1 << 20) & M44;
    pw[0][2] = st->r1 >> 24;
    for (int k = 2; k <= 8; k++)
      mul44(pw[k - 2], pw[0], pw[k - 1]);
    st->pw_ready = 1;
  }
  const __m512i r0 = _mm512_set1_epi64((long long)pw[7][0]);
  const __m512i r1 = _mm512_set1_epi64((long long)pw[7][1]);
  const __m512i r2 = _mm512_set1_epi64((long long)pw[7][2]);
  const __m512i s1 = _mm512_set1_epi64((long long)(20 * pw[7][1]));
  const __m512i s2 = _mm512_set1_epi64((long long)(20 * pw[7][2]));
  /* lane j of the last step: r^(8-j) */
  __m512i p0 = _mm512_set_epi64((long long)pw[0][0], (long long)pw[1][0],
                                (long long)pw[2][0], (long long)pw[3][0],
                                (long long)pw[4][0], (long long)pw[5][0],
                                (long long)pw[6][0], (long long)pw[7][0]);
  __m512i p1 = _mm512_set_epi64((long long)pw[0][1], (long long)pw[1][1],
                                (long long)pw[2][1], (long long)pw[3][1],
                                (long long)pw[4][1], (long long)pw[5][1],
                                (long long)pw[6][1], (long long)pw[7][1]);
  __m512i p2 = _mm512_set_epi64((long long)pw[0][2], (long long)pw[1][2],
                                (long long)pw[2][2], (long long)pw[3][2],
                                (long long)pw[4][2], (long long)pw[5][2],
                                (long long)pw[6][2], (long long)pw[7][2]);
  __m512i q1 = _mm512_add_epi64(_mm512_slli_epi64(p1, 4),
                                _mm512_slli_epi64(p1, 2)); /* 20 p1 */
  __m512i q2 =
      _mm512_add_epi64(_mm512_slli_epi64(p2, 4), _mm512_slli_epi64(p2, 2));

  /* the running h enters lane 0 */
  struct vnum h;
  h.l0 = _mm512_maskz_set1_epi64(1, (long long)(st->h0 & M44));
  h.l1 = _mm512_maskz_set1_epi64(
      1, (long long)((st->h0 >> 44 | st->h1 << 20) & M44));
  h.l2 = _mm512_maskz_set1_epi64(1, (long long)(st->h1 >> 24 | st->h2 << 40));
  size_t groups = nblocks / 8;
  for (size_t g = 0; g + 1 < groups; g++, m += 128)
    h = vmul(add_blocks(h, m), r0, r1, r2, s1, s2);
  h = vmul(add_blocks(h, m), p0, p1, p2, q1, q2);

  uint64_t l0 = (uint64_t)_mm512_reduce_add_epi64(h.l0);
  uint64_t l1 = (uint64_t)_mm512_reduce_add_epi64(h.l1);
  uint64_t l2 = (uint64_t)_mm512_reduce_add_epi64(h.l2);
  u128 x = (u128)l0 + ((u128)l1 << 44);
  u128 y = ((u128)l2 << 24) + (uint64_t)(x >> 64);
  uint64_t h0 = (uint64_t)x, h1 = (uint64_t)y, h2 = (uint64_t)(y >> 64);
  /* keep h2 small for the scalar code: fold 2^130 and above */
  uint64_t c = (h2 >> 2) * 5;
  h2 &= 3;
  u128 t = (u128)h0 + c;
  h0 = (uint64_t)t;
  t = (u128)h1 + (uint64_t)(t >> 64);
  st->h0 = h0;
  st->h1 = (uint64_t)t;
  st->h2 = h2 + (uint64_t)(t >> 64);
}
