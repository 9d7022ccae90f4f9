/*
 * blake3_avx2.c: BLAKE3 with AVX2, eight chunks or parents side by side
 * (compiled with -mavx2; called only when blake3_dispatch.c found AVX2 and
 * OS support for its registers). Fewer than eight go to the SSE4.1 code;
 * single compressions use four row vectors (blake3_rows_int.h).
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

static inline __m256i rot16_256(__m256i x) {
  return _mm256_shuffle_epi8(x, _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11,
                                                 8, 9, 14, 15, 12, 13, 2, 3, 0,
                                                 1, 6, 7, 4, 5, 10, 11, 8, 9,
                                                 14, 15, 12, 13));
}

static inline __m256i rot8_256(__m256i x) {
  return _mm256_shuffle_epi8(x, _mm256_setr_epi8(1, 2, 3, 0, 5, 6, 7, 4, 9, 10,
                                                 11, 8, 13, 14, 15, 12, 1, 2, 3,
                                                 0, 5, 6, 7, 4, 9, 10, 11, 8,
                                                 13, 14, 15, 12));
}

static inline __m256i rot12_256(__m256i x) {
  return _mm256_or_si256(_mm256_srli_epi32(x, 12), _mm256_slli_epi32(x, 20));
}

static inline __m256i rot7_256(__m256i x) {
  return _mm256_or_si256(_mm256_srli_epi32(x, 7), _mm256_slli_epi32(x, 25));
}

#define B3_LANES 8
#define B3V __m256i
#define B3_ADD _mm256_add_epi32
#define B3_XOR _mm256_xor_si256
#define B3_SET1 _mm256_set1_epi32
#define B3_ZERO _mm256_setzero_si256
#define B3_LOADU(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define B3_STOREU(p, x) _mm256_storeu_si256((__m256i *)(void *)(p), (x))
#define B3_ROT16 rot16_256
#define B3_ROT12 rot12_256
#define B3_ROT8 rot8_256
#define B3_ROT7 rot7_256

/*
 * Eight blocks at p + i * stride: each half block (8 words) of the eight
 * is an 8x8 transpose: 32-bit and 64-bit interleaves within 128-bit
 * halves, then the halves are exchanged.
 */
static inline __attribute__((always_inline)) void
load_msg(const uint8_t *p, size_t stride, int nlanes, __m256i m[16]) {
  for (int half = 0; half < 2; half++) {
    __m256i r[8], a[8], b[8];
    for (int i = 0; i < 8; i++)
      r[i] =
          i < nlanes ? B3_LOADU(p + (size_t)i * stride + 32 * half) : B3_ZERO();
    for (int i = 0; i < 4; i++) {
      a[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
      a[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    /* b[4k + j], 128-bit half h: word 4h + j of rows 4k .. 4k + 3 */
    for (int k = 0; k < 2; k++) {
      b[4 * k + 0] = _mm256_unpacklo_epi64(a[4 * k], a[4 * k + 2]);
      b[4 * k + 1] = _mm256_unpackhi_epi64(a[4 * k], a[4 * k + 2]);
      b[4 * k + 2] = _mm256_unpacklo_epi64(a[4 * k + 1], a[4 * k + 3]);
      b[4 * k + 3] = _mm256_unpackhi_epi64(a[4 * k + 1], a[4 * k + 3]);
    }
    for (int j = 0; j < 4; j++) {
      m[8 * half + j] = _mm256_permute2x128_si256(b[j], b[4 + j], 0x20);
      m[8 * half + 4 + j] = _mm256_permute2x128_si256(b[j], b[4 + j], 0x31);
    }
  }
}

#include "crypto/blake3_lanes_int.h"

void cpc__blake3_avx2_hash_chunks(const uint8_t *input, size_t n,
                                  const uint32_t key[8], uint64_t counter,
                                  uint8_t flags, uint8_t *out) {
  lanes_hash_chunks(input, n, key, counter, flags, out,
                    cpc__blake3_sse41_hash_chunks);
}

void cpc__blake3_avx2_hash_parents(const uint8_t *cvs, size_t n,
                                   const uint32_t key[8], uint8_t flags,
                                   uint8_t *out) {
  lanes_hash_parents(cvs, n, key, flags, out, cpc__blake3_sse41_hash_parents);
}

const struct cpc__blake3_ops cpc__blake3_avx2_ops = {
    .id = CPC_BLAKE3_AVX2,
    .compress_in_place = rows_compress_in_place,
    .xof = rows_xof,
    .hash_chunks = cpc__blake3_avx2_hash_chunks,
    .hash_parents = cpc__blake3_avx2_hash_parents,
};
