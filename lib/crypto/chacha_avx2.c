/*
 * chacha_avx2.c: ChaCha20 (RFC 8439) eight blocks at a time with AVX2.
 *
 * Vector i holds word i of the state of eight consecutive blocks (counters
 * c..c+7). After the rounds the 16 x 8 words are transposed back to eight
 * 64-byte blocks. Compiled with -mavx2; only called after the CPU check in
 * chachapoly_dispatch.c.
 */
#include <immintrin.h>
#include <string.h>

#include <sodium.h>

#include "crypto/chachapoly_int.h"

#define ROT16(v)                                                               \
  _mm256_shuffle_epi8(v, _mm256_set_epi8(13, 12, 15, 14, 9, 8, 11, 10, 5, 4,   \
                                         7, 6, 1, 0, 3, 2, 13, 12, 15, 14, 9,  \
                                         8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2))
#define ROT8(v)                                                                \
  _mm256_shuffle_epi8(v, _mm256_set_epi8(14, 13, 12, 15, 10, 9, 8, 11, 6, 5,   \
                                         4, 7, 2, 1, 0, 3, 14, 13, 12, 15, 10, \
                                         9, 8, 11, 6, 5, 4, 7, 2, 1, 0, 3))
#define ROTL(v, n)                                                             \
  _mm256_or_si256(_mm256_slli_epi32(v, n), _mm256_srli_epi32(v, 32 - (n)))

#define QR(a, b, c, d)                                                         \
  do {                                                                         \
    a = _mm256_add_epi32(a, b);                                                \
    d = _mm256_xor_si256(d, a);                                                \
    d = ROT16(d);                                                              \
    c = _mm256_add_epi32(c, d);                                                \
    b = _mm256_xor_si256(b, c);                                                \
    b = ROTL(b, 12);                                                           \
    a = _mm256_add_epi32(a, b);                                                \
    d = _mm256_xor_si256(d, a);                                                \
    d = ROT8(d);                                                               \
    c = _mm256_add_epi32(c, d);                                                \
    b = _mm256_xor_si256(b, c);                                                \
    b = ROTL(b, 7);                                                            \
  } while (0)

/* Eight keystream blocks for counters state[12] + 0..7 into ks. */
static void eight_blocks(const uint32_t state[16], uint8_t ks[512]) {
  __m256i x[16], s[16];
  for (int i = 0; i < 16; i++)
    s[i] = _mm256_set1_epi32((int)state[i]);
  s[12] = _mm256_add_epi32(s[12], _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0));
  memcpy(x, s, sizeof x);
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
    x[i] = _mm256_add_epi32(x[i], s[i]);
  /* words 8h..8h+7 of each block: half h (32 bytes) of the block */
  for (int h = 0; h < 2; h++) {
    __m256i *w = x + 8 * h;
    __m256i v[2][4];
    for (int g = 0; g < 2; g++) {
      __m256i t0 = _mm256_unpacklo_epi32(w[4 * g], w[4 * g + 1]);
      __m256i t1 = _mm256_unpackhi_epi32(w[4 * g], w[4 * g + 1]);
      __m256i t2 = _mm256_unpacklo_epi32(w[4 * g + 2], w[4 * g + 3]);
      __m256i t3 = _mm256_unpackhi_epi32(w[4 * g + 2], w[4 * g + 3]);
      /* 128-bit lane L of v[g][c]: words 4g..4g+3 (of this half) of block 4L+c
       */
      v[g][0] = _mm256_unpacklo_epi64(t0, t2);
      v[g][1] = _mm256_unpackhi_epi64(t0, t2);
      v[g][2] = _mm256_unpacklo_epi64(t1, t3);
      v[g][3] = _mm256_unpackhi_epi64(t1, t3);
    }
    for (int c = 0; c < 4; c++) {
      __m256i lo = _mm256_permute2x128_si256(v[0][c], v[1][c], 0x20);
      __m256i hi = _mm256_permute2x128_si256(v[0][c], v[1][c], 0x31);
      _mm256_storeu_si256((__m256i *)(void *)(ks + 64 * c + 32 * h), lo);
      _mm256_storeu_si256((__m256i *)(void *)(ks + 64 * (4 + c) + 32 * h), hi);
    }
  }
}

void cpc__chacha_xor_avx2(const uint32_t state[16], const uint8_t *in,
                          uint8_t *out, size_t len) {
  uint32_t st[16];
  uint8_t ks[512];
  memcpy(st, state, sizeof st);
  while (len > 0) {
    eight_blocks(st, ks);
    size_t n = len < 512 ? len : 512;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
      __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(in + i));
      __m256i k = _mm256_loadu_si256((const __m256i *)(const void *)(ks + i));
      _mm256_storeu_si256((__m256i *)(void *)(out + i), _mm256_xor_si256(a, k));
    }
    for (; i < n; i++)
      out[i] = in[i] ^ ks[i];
    st[12] += 8;
    in += n;
    out += n;
    len -= n;
  }
  sodium_memzero(ks, sizeof ks);
  sodium_memzero(st, sizeof st);
}
