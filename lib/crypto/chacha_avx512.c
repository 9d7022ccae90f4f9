/*
 * chacha_avx512.c: ChaCha20 (RFC 8439) sixteen blocks at a time with
 * AVX-512F.
 *
 * Vector i holds word i of the state of sixteen consecutive blocks (counters
 * c..c+15). After the rounds the 16 x 16 words are transposed back to
 * sixteen 64-byte blocks and XORed straight into the output. Compiled with
 * -mavx512f -mavx512vl; only called after the CPU check in
 * chachapoly_dispatch.c.
 */
#include <immintrin.h>
#include <string.h>

#include <sodium.h>

#include "crypto/chachapoly_int.h"

#define QR(a, b, c, d)                                                         \
  do {                                                                         \
    a = _mm512_add_epi32(a, b);                                                \
    d = _mm512_xor_si512(d, a);                                                \
    d = _mm512_rol_epi32(d, 16);                                               \
    c = _mm512_add_epi32(c, d);                                                \
    b = _mm512_xor_si512(b, c);                                                \
    b = _mm512_rol_epi32(b, 12);                                               \
    a = _mm512_add_epi32(a, b);                                                \
    d = _mm512_xor_si512(d, a);                                                \
    d = _mm512_rol_epi32(d, 8);                                                \
    c = _mm512_add_epi32(c, d);                                                \
    b = _mm512_xor_si512(b, c);                                                \
    b = _mm512_rol_epi32(b, 7);                                                \
  } while (0)

/*
 * Sixteen keystream blocks for counters state[12] + 0..15: blk[j] is the
 * 64-byte keystream of block j.
 */
static inline void sixteen_blocks(const uint32_t state[16], __m512i blk[16]) {
  __m512i x[16], s[16];
  for (int i = 0; i < 16; i++)
    s[i] = _mm512_set1_epi32((int)state[i]);
  s[12] = _mm512_add_epi32(s[12], _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8,
                                                   7, 6, 5, 4, 3, 2, 1, 0));
  for (int i = 0; i < 16; i++)
    x[i] = s[i];
  for (int r = 0; r < 10; r++) {
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
    x[i] = _mm512_add_epi32(x[i], s[i]);
  /* 128-bit lane L of v[g][c]: words 4g..4g+3 of block 4L+c */
  __m512i v[4][4];
  for (int g = 0; g < 4; g++) {
    __m512i t0 = _mm512_unpacklo_epi32(x[4 * g], x[4 * g + 1]);
    __m512i t1 = _mm512_unpackhi_epi32(x[4 * g], x[4 * g + 1]);
    __m512i t2 = _mm512_unpacklo_epi32(x[4 * g + 2], x[4 * g + 3]);
    __m512i t3 = _mm512_unpackhi_epi32(x[4 * g + 2], x[4 * g + 3]);
    v[g][0] = _mm512_unpacklo_epi64(t0, t2);
    v[g][1] = _mm512_unpackhi_epi64(t0, t2);
    v[g][2] = _mm512_unpacklo_epi64(t1, t3);
    v[g][3] = _mm512_unpackhi_epi64(t1, t3);
  }
  /* block 4L+c = lane L of v[0][c], v[1][c], v[2][c], v[3][c] */
  for (int c = 0; c < 4; c++) {
    __m512i p0 = _mm512_shuffle_i32x4(v[0][c], v[1][c], 0x44);
    __m512i p1 = _mm512_shuffle_i32x4(v[2][c], v[3][c], 0x44);
    __m512i p2 = _mm512_shuffle_i32x4(v[0][c], v[1][c], 0xEE);
    __m512i p3 = _mm512_shuffle_i32x4(v[2][c], v[3][c], 0xEE);
    blk[c] = _mm512_shuffle_i32x4(p0, p1, 0x88);
    blk[4 + c] = _mm512_shuffle_i32x4(p0, p1, 0xDD);
    blk[8 + c] = _mm512_shuffle_i32x4(p2, p3, 0x88);
    blk[12 + c] = _mm512_shuffle_i32x4(p2, p3, 0xDD);
  }
}

void cpc__chacha_xor_avx512(const uint32_t state[16], const uint8_t *in,
                            uint8_t *out, size_t len) {
  uint32_t st[16];
  __m512i blk[16];
  memcpy(st, state, sizeof st);
  for (; len >= 1024; len -= 1024, in += 1024, out += 1024) {
    sixteen_blocks(st, blk);
    for (int j = 0; j < 16; j++) {
      __m512i a = _mm512_loadu_si512((const void *)(in + 64 * j));
      _mm512_storeu_si512((void *)(out + 64 * j), _mm512_xor_si512(a, blk[j]));
    }
    st[12] += 16;
  }
  if (len > 0) {
    sixteen_blocks(st, blk);
    size_t j = 0;
    for (; len >= 64; j++, len -= 64, in += 64, out += 64) {
      __m512i a = _mm512_loadu_si512((const void *)in);
      _mm512_storeu_si512((void *)out, _mm512_xor_si512(a, blk[j]));
    }
    if (len > 0) {
      uint8_t ks[64];
      _mm512_storeu_si512((void *)ks, blk[j]);
      for (size_t i = 0; i < len; i++)
        out[i] = in[i] ^ ks[i];
      sodium_memzero(ks, sizeof ks);
    }
  }
  sodium_memzero(blk, sizeof blk);
  sodium_memzero(st, sizeof st);
}
