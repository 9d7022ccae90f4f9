/*
 * blake3_rows_int.h: one BLAKE3 compression in 128-bit vectors, written
 * once for the SIMD back ends. The 4x4 state is kept as four row vectors;
 * G runs on the four columns at once, and the diagonal step becomes a
 * column step after rotating rows 1, 2 and 3 left by 1, 2 and 3 lanes.
 *
 * The includer defines R_ROT16, R_ROT12, R_ROT8, R_ROT7 (32-bit lane
 * rotations right of an __m128i) and gets rows_compress_in_place() and
 * rows_xof() with the signatures of struct cpc__blake3_ops.
 */
#ifndef R_ROT16
#error "define the row rotations before including blake3_rows_int.h"
#endif

static inline __attribute__((always_inline)) void
g_rows(__m128i *a, __m128i *b, __m128i *c, __m128i *d, __m128i x, __m128i y) {
  *a = _mm_add_epi32(_mm_add_epi32(*a, *b), x);
  *d = R_ROT16(_mm_xor_si128(*d, *a));
  *c = _mm_add_epi32(*c, *d);
  *b = R_ROT12(_mm_xor_si128(*b, *c));
  *a = _mm_add_epi32(_mm_add_epi32(*a, *b), y);
  *d = R_ROT8(_mm_xor_si128(*d, *a));
  *c = _mm_add_epi32(*c, *d);
  *b = R_ROT7(_mm_xor_si128(*b, *c));
}

/* Four message words by schedule position (constants once unrolled). */
#define R_MSG(s, i, j, k, l)                                                   \
  _mm_setr_epi32((int)m[s[i]], (int)m[s[j]], (int)m[s[k]], (int)m[s[l]])

/* The 7 rounds; rows end in *r0..*r3 (state words 0-3, 4-7, 8-11, 12-15). */
static inline __attribute__((always_inline)) void
rows_rounds(__m128i *r0, __m128i *r1, __m128i *r2, __m128i *r3,
            const uint32_t cv[8], const uint8_t block[64], uint8_t block_len,
            uint64_t counter, uint8_t flags) {
  uint32_t m[16];
  memcpy(m, block, sizeof m); /* x86 is little-endian */
  __m128i a = _mm_loadu_si128((const __m128i *)(const void *)&cv[0]);
  __m128i b = _mm_loadu_si128((const __m128i *)(const void *)&cv[4]);
  __m128i c =
      _mm_loadu_si128((const __m128i *)(const void *)&cpc__blake3_iv[0]);
  __m128i d =
      _mm_setr_epi32((int)(uint32_t)counter, (int)(uint32_t)(counter >> 32),
                     (int)block_len, (int)flags);
#pragma GCC unroll 7
  for (int i = 0; i < 7; i++) {
    const uint8_t *s = cpc__blake3_schedule[i];
    g_rows(&a, &b, &c, &d, R_MSG(s, 0, 2, 4, 6), R_MSG(s, 1, 3, 5, 7));
    /* Lane i of the rows now holds diagonal i. */
    b = _mm_shuffle_epi32(b, _MM_SHUFFLE(0, 3, 2, 1));
    c = _mm_shuffle_epi32(c, _MM_SHUFFLE(1, 0, 3, 2));
    d = _mm_shuffle_epi32(d, _MM_SHUFFLE(2, 1, 0, 3));
    g_rows(&a, &b, &c, &d, R_MSG(s, 8, 10, 12, 14), R_MSG(s, 9, 11, 13, 15));
    b = _mm_shuffle_epi32(b, _MM_SHUFFLE(2, 1, 0, 3));
    c = _mm_shuffle_epi32(c, _MM_SHUFFLE(1, 0, 3, 2));
    d = _mm_shuffle_epi32(d, _MM_SHUFFLE(0, 3, 2, 1));
  }
  *r0 = a;
  *r1 = b;
  *r2 = c;
  *r3 = d;
}

#undef R_MSG

static inline void rows_compress_in_place(uint32_t cv[8],
                                          const uint8_t block[64],
                                          uint8_t block_len, uint64_t counter,
                                          uint8_t flags) {
  __m128i a, b, c, d;
  rows_rounds(&a, &b, &c, &d, cv, block, block_len, counter, flags);
  _mm_storeu_si128((__m128i *)(void *)&cv[0], _mm_xor_si128(a, c));
  _mm_storeu_si128((__m128i *)(void *)&cv[4], _mm_xor_si128(b, d));
}

static inline void rows_xof(const uint32_t cv[8], const uint8_t block[64],
                            uint8_t block_len, uint64_t counter, uint8_t flags,
                            uint8_t *out, size_t nblocks) {
  __m128i cv0 = _mm_loadu_si128((const __m128i *)(const void *)&cv[0]);
  __m128i cv1 = _mm_loadu_si128((const __m128i *)(const void *)&cv[4]);
  for (size_t i = 0; i < nblocks; i++, out += 64) {
    __m128i a, b, c, d;
    rows_rounds(&a, &b, &c, &d, cv, block, block_len, counter + i, flags);
    _mm_storeu_si128((__m128i *)(void *)(out + 0), _mm_xor_si128(a, c));
    _mm_storeu_si128((__m128i *)(void *)(out + 16), _mm_xor_si128(b, d));
    _mm_storeu_si128((__m128i *)(void *)(out + 32), _mm_xor_si128(c, cv0));
    _mm_storeu_si128((__m128i *)(void *)(out + 48), _mm_xor_si128(d, cv1));
  }
}

/* n whole chunks one at a time (remainders of the lane-parallel code). */
static inline void rows_hash_chunks(const uint8_t *input, size_t n,
                                    const uint32_t key[8], uint64_t counter,
                                    uint8_t flags, uint8_t *out) {
  for (; n > 0; n--, counter++, out += 32) {
    uint32_t cv[8];
    memcpy(cv, key, sizeof cv);
    for (int b = 0; b < CPC__B3_BLOCKS_PER_CHUNK; b++, input += 64) {
      uint8_t f = flags;
      if (b == 0)
        f |= CPC__B3_CHUNK_START;
      if (b == CPC__B3_BLOCKS_PER_CHUNK - 1)
        f |= CPC__B3_CHUNK_END;
      rows_compress_in_place(cv, input, 64, counter, f);
    }
    cpc__store_cv(out, cv);
  }
}

/* n parents one at a time; out may overlap cvs (see blake3_int.h). */
static inline void rows_hash_parents(const uint8_t *cvs, size_t n,
                                     const uint32_t key[8], uint8_t flags,
                                     uint8_t *out) {
  for (; n > 0; n--, cvs += 64, out += 32) {
    uint32_t cv[8];
    uint8_t block[64];
    memcpy(block, cvs, 64);
    memcpy(cv, key, sizeof cv);
    rows_compress_in_place(cv, block, 64, 0, flags | CPC__B3_PARENT);
    cpc__store_cv(out, cv);
  }
}
