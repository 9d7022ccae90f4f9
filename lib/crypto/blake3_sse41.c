/*
 * blake3_sse41.c: BLAKE3 with SSE4.1 (compiled with -msse4.1; called only
 * when blake3_dispatch.c found SSE4.1).
 *
 * Single compressions use four row vectors (blake3_rows_int.h); bulk work
 * runs four chunks or parents side by side (blake3_lanes_int.h).
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

#define R_ROT16 rot16_128
#define R_ROT12 rot12_128
#define R_ROT8 rot8_128
#define R_ROT7 rot7_128
#include "crypto/blake3_rows_int.h"

/* ---- four lanes ---------------------------------------------------- */

#define B3_LANES 4
#define B3V __m128i
#define B3_ADD _mm_add_epi32
#define B3_XOR _mm_xor_si128
#define B3_SET1 _mm_set1_epi32
#define B3_ZERO _mm_setzero_si128
#define B3_LOADU(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define B3_STOREU(p, x) _mm_storeu_si128((__m128i *)(void *)(p), (x))
#define B3_ROT16 rot16_128
#define B3_ROT12 rot12_128
#define B3_ROT8 rot8_128
#define B3_ROT7 rot7_128

/* Four blocks at p + i * stride: 16-byte quarters, each a 4x4 transpose. */
static inline __attribute__((always_inline)) void
load_msg(const uint8_t *p, size_t stride, int nlanes, __m128i m[16]) {
  for (int q = 0; q < 4; q++) {
    __m128i r0 = B3_LOADU(p + 16 * q);
    __m128i r1 = nlanes > 1 ? B3_LOADU(p + stride + 16 * q) : B3_ZERO();
    __m128i r2 = nlanes > 2 ? B3_LOADU(p + 2 * stride + 16 * q) : B3_ZERO();
    __m128i r3 = nlanes > 3 ? B3_LOADU(p + 3 * stride + 16 * q) : B3_ZERO();
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
  lanes_hash_chunks(input, n, key, counter, flags, out, rows_hash_chunks);
}

void cpc__blake3_sse41_hash_parents(const uint8_t *cvs, size_t n,
                                    const uint32_t key[8], uint8_t flags,
                                    uint8_t *out) {
  lanes_hash_parents(cvs, n, key, flags, out, rows_hash_parents);
}

const struct cpc__blake3_ops cpc__blake3_sse41_ops = {
    .id = CPC_BLAKE3_SSE41,
    .compress_in_place = rows_compress_in_place,
    .xof = rows_xof,
    .hash_chunks = cpc__blake3_sse41_hash_chunks,
    .hash_parents = cpc__blake3_sse41_hash_parents,
};
