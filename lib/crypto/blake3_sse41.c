/*
 * blake3_sse41.c: BLAKE3 with SSE4.1 (compiled with -msse4.1; called only
 * when blake3_dispatch.c found SSE4.1).
 *
 * Single compressions keep the state as four row vectors and turn the
 * diagonal step into a column step by rotating rows 1-3. Bulk work runs
 * four chunks or parents side by side (blake3_lanes_int.h).
 */
#include <immintrin.h>

#include "crypto/blake3_int.h"

static inline __m128i rot16_128(__m128i x) {
  return _mm_shuffle_epi8(
      x, _mm_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13));
}

static inline __m128i rot8_128(__m128i x) {
  return _mm_shuffle_epi8(
      x, _mm_setr_epi8(1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12));
}

static inline __m128i rot12_128(__m128i x) {
  return _mm_or_si128(_mm_srli_epi32(x, 12), _mm_slli_epi32(x, 20));
}

static inline __m128i rot7_128(__m128i x) {
  return _mm_or_si128(_mm_srli_epi32(x, 7), _mm_slli_epi32(x, 25));
}

/* G on the four columns of rows a, b, c, d at once. */
static inline void g_rows(__m128i *a, __m128i *b, __m128i *c, __m128i *d,
                          __m128i x, __m128i y) {
  *a = _mm_add_epi32(_mm_add_epi32(*a, *b), x);
  *d = rot16_128(_mm_xor_si128(*d, *a));
  *c = _mm_add_epi32(*c, *d);
  *b = rot12_128(_mm_xor_si128(*b, *c));
  *a = _mm_add_epi32(_mm_add_epi32(*a, *b), y);
  *d = rot8_128(_mm_xor_si128(*d, *a));
  *c = _mm_add_epi32(*c, *d);
  *b = rot7_128(_mm_xor_si128(*b, *c));
}

/* The 7 rounds on rows r[0..3]. */
static void rows_compress(__m128i r[4], const uint32_t cv[8],
                          const uint8_t block[64], uint8_t block_len,
                          uint64_t counter, uint8_t flags) {
  uint32_t m[16];
  memcpy(m, block, sizeof m); /* x86 is little-endian */
  r[0] = _mm_loadu_si128((const __m128i *)(const void *)&cv[0]);
  r[1] = _mm_loadu_si128((const __m128i *)(const void *)&cv[4]);
  r[2] = _mm_loadu_si128((const __m128i *)(const void *)&cpc__blake3_iv[0]);
  r[3] = _mm_setr_epi32((int)(uint32_t)counter, (int)(uint32_t)(counter >> 32),
                        (int)block_len, (int)flags);
  for (int i = 0; i < 7; i++) {
    const uint8_t *s = cpc__blake3_schedule[i];
    g_rows(&r[0], &r[1], &r[2], &r[3],
           _mm_setr_epi32((int)m[s[0]], (int)m[s[2]], (int)m[s[4]],
                          (int)m[s[6]]),
           _mm_setr_epi32((int)m[s[1]], (int)m[s[3]], (int)m[s[5]],
                          (int)m[s[7]]));
    /* Lane i of the rows now holds diagonal i. */
    r[1] = _mm_shuffle_epi32(r[1], _MM_SHUFFLE(0, 3, 2, 1));
    r[2] = _mm_shuffle_epi32(r[2], _MM_SHUFFLE(1, 0, 3, 2));
    r[3] = _mm_shuffle_epi32(r[3], _MM_SHUFFLE(2, 1, 0, 3));
    g_rows(&r[0], &r[1], &r[2], &r[3],
           _mm_setr_epi32((int)m[s[8]], (int)m[s[10]], (int)m[s[12]],
                          (int)m[s[14]]),
           _mm_setr_epi32((int)m[s[9]], (int)m[s[11]], (int)m[s[13]],
                          (int)m[s[15]]));
    r[1] = _mm_shuffle_epi32(r[1], _MM_SHUFFLE(2, 1, 0, 3));
    r[2] = _mm_shuffle_epi32(r[2], _MM_SHUFFLE(1, 0, 3, 2));
    r[3] = _mm_shuffle_epi32(r[3], _MM_SHUFFLE(0, 3, 2, 1));
  }
}

void cpc__blake3_sse41_compress_in_place(uint32_t cv[8],
                                         const uint8_t block[64],
                                         uint8_t block_len, uint64_t counter,
                                         uint8_t flags) {
  __m128i r[4];
  rows_compress(r, cv, block, block_len, counter, flags);
  _mm_storeu_si128((__m128i *)(void *)&cv[0], _mm_xor_si128(r[0], r[2]));
  _mm_storeu_si128((__m128i *)(void *)&cv[4], _mm_xor_si128(r[1], r[3]));
}

void cpc__blake3_sse41_xof(const uint32_t cv[8], const uint8_t block[64],
                      uint8_t block_len, uint64_t counter, uint8_t flags,
                      uint8_t *out, size_t nblocks) {
  __m128i cv0 = _mm_loadu_si128((const __m128i *)(const void *)&cv[0]);
  __m128i cv1 = _mm_loadu_si128((const __m128i *)(const void *)&cv[4]);
  for (size_t b = 0; b < nblocks; b++, out += 64) {
    __m128i r[4];
    rows_compress(r, cv, block, block_len, counter + b, flags);
    _mm_storeu_si128((__m128i *)(void *)(out + 0), _mm_xor_si128(r[0], r[2]));
    _mm_storeu_si128((__m128i *)(void *)(out + 16), _mm_xor_si128(r[1], r[3]));
    _mm_storeu_si128((__m128i *)(void *)(out + 32), _mm_xor_si128(r[2], cv0));
    _mm_storeu_si128((__m128i *)(void *)(out + 48), _mm_xor_si128(r[3], cv1));
  }
}

/* ---- four lanes ---------------------------------------------------- */

#define B3_LANES 4
#define B3V __m128i
#define B3_ADD _mm_add_epi32
#define B3_XOR _mm_xor_si128
#define B3_SET1 _mm_set1_epi32
#define B3_LOADU(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define B3_STOREU(p, x) _mm_storeu_si128((__m128i *)(void *)(p), (x))
#define B3_ROT16 rot16_128
#define B3_ROT12 rot12_128
#define B3_ROT8 rot8_128
#define B3_ROT7 rot7_128

/* Four blocks at p + i * stride: 16-byte quarters, each a 4x4 transpose. */
static inline __attribute__((always_inline)) void
load_msg(const uint8_t *p, size_t stride, __m128i m[16]) {
  for (int q = 0; q < 4; q++) {
    __m128i r0 = B3_LOADU(p + 16 * q);
    __m128i r1 = B3_LOADU(p + stride + 16 * q);
    __m128i r2 = B3_LOADU(p + 2 * stride + 16 * q);
    __m128i r3 = B3_LOADU(p + 3 * stride + 16 * q);
    __m128i a0 = _mm_unpacklo_epi32(r0, r1), a1 = _mm_unpackhi_epi32(r0, r1);
    __m128i a2 = _mm_unpacklo_epi32(r2, r3), a3 = _mm_unpackhi_epi32(r2, r3);
    m[4 * q + 0] = _mm_unpacklo_epi64(a0, a2);
    m[4 * q + 1] = _mm_unpackhi_epi64(a0, a2);
    m[4 * q + 2] = _mm_unpacklo_epi64(a1, a3);
    m[4 * q + 3] = _mm_unpackhi_epi64(a1, a3);
  }
}

#include "crypto/blake3_lanes_int.h"

void cpc__blake3_sse41_hash_chunks(const uint8_t *input, size_t n,
                                   const uint32_t key[8], uint64_t counter,
                                   uint8_t flags, uint8_t *out) {
  while (n >= B3_LANES) {
    hash_lanes(input, CPC_BLAKE3_CHUNK_LEN, CPC__B3_BLOCKS_PER_CHUNK, key,
               counter, 1, flags, CPC__B3_CHUNK_START, CPC__B3_CHUNK_END, out);
    input += B3_LANES * CPC_BLAKE3_CHUNK_LEN;
    counter += B3_LANES;
    out += B3_LANES * 32;
    n -= B3_LANES;
  }
  for (; n > 0; n--, counter++, out += 32) {
    uint32_t cv[8];
    memcpy(cv, key, sizeof cv);
    for (int b = 0; b < CPC__B3_BLOCKS_PER_CHUNK; b++, input += 64) {
      uint8_t f = flags;
      if (b == 0)
        f |= CPC__B3_CHUNK_START;
      if (b == CPC__B3_BLOCKS_PER_CHUNK - 1)
        f |= CPC__B3_CHUNK_END;
      cpc__blake3_sse41_compress_in_place(cv, input, 64, counter, f);
    }
    cpc__store_cv(out, cv);
  }
}

void cpc__blake3_sse41_hash_parents(const uint8_t *cvs, size_t n,
                                    const uint32_t key[8], uint8_t flags,
                                    uint8_t *out) {
  while (n >= B3_LANES) {
    hash_lanes(cvs, 64, 1, key, 0, 0, flags | CPC__B3_PARENT, 0, 0, out);
    cvs += B3_LANES * 64;
    out += B3_LANES * 32;
    n -= B3_LANES;
  }
  for (; n > 0; n--, cvs += 64, out += 32) {
    uint32_t cv[8];
    uint8_t block[64];
    memcpy(block, cvs, 64);
    memcpy(cv, key, sizeof cv);
    cpc__blake3_sse41_compress_in_place(cv, block, 64, 0,
                                        flags | CPC__B3_PARENT);
    cpc__store_cv(out, cv);
  }
}

const struct cpc__blake3_ops cpc__blake3_sse41_ops = {
    .id = CPC_BLAKE3_SSE41,
    .compress_in_place = cpc__blake3_sse41_compress_in_place,
    .xof = cpc__blake3_sse41_xof,
    .hash_chunks = cpc__blake3_sse41_hash_chunks,
    .hash_parents = cpc__blake3_sse41_hash_parents,
};
