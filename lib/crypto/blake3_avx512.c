/*
 * blake3_avx512.c: BLAKE3 with AVX-512F/VL, sixteen chunks or parents side
 * by side, and sixteen root output blocks at once for long XOF output
 * (compiled with -mavx512f -mavx512vl; called only when blake3_dispatch.c
 * found both and OS support for the opmask and ZMM state). Fewer than
 * sixteen go to the AVX2 code; single compressions use four row vectors
 * (blake3_rows_int.h).
 */
#include <immintrin.h>

#include "crypto/blake3_int.h"

#define R_ROT16(x) _mm_ror_epi32((x), 16)
#define R_ROT12(x) _mm_ror_epi32((x), 12)
#define R_ROT8(x) _mm_ror_epi32((x), 8)
#define R_ROT7(x) _mm_ror_epi32((x), 7)
#include "crypto/blake3_rows_int.h"

#define B3_LANES 16
#define B3V __m512i
#define B3_ADD _mm512_add_epi32
#define B3_XOR _mm512_xor_si512
#define B3_SET1 _mm512_set1_epi32
#define B3_ZERO _mm512_setzero_si512
#define B3_LOADU(p) _mm512_loadu_si512((const void *)(p))
#define B3_STOREU(p, x) _mm512_storeu_si512((void *)(p), (x))
#define B3_ROT16(x) _mm512_ror_epi32((x), 16)
#define B3_ROT12(x) _mm512_ror_epi32((x), 12)
#define B3_ROT8(x) _mm512_ror_epi32((x), 8)
#define B3_ROT7(x) _mm512_ror_epi32((x), 7)

/*
 * 16x16 transpose of 32-bit words: r[i] is row i; afterwards m[w] holds
 * column w. Interleave 32-bit then 64-bit pairs within 128-bit lanes, then
 * transpose the 4x4 grid of 128-bit lanes with two rounds of shuffles.
 */
static inline __attribute__((always_inline)) void
transpose16(const __m512i r[16], __m512i m[16]) {
  __m512i a[16], b[16];
  for (int i = 0; i < 8; i++) {
    a[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    a[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  /* b[4k + j], 128-bit lane l: word 4l + j of rows 4k .. 4k + 3 */
  for (int k = 0; k < 4; k++) {
    b[4 * k + 0] = _mm512_unpacklo_epi64(a[4 * k], a[4 * k + 2]);
    b[4 * k + 1] = _mm512_unpackhi_epi64(a[4 * k], a[4 * k + 2]);
    b[4 * k + 2] = _mm512_unpacklo_epi64(a[4 * k + 1], a[4 * k + 3]);
    b[4 * k + 3] = _mm512_unpackhi_epi64(a[4 * k + 1], a[4 * k + 3]);
  }
  for (int j = 0; j < 4; j++) {
    /* lanes (0, 2) and (1, 3) of row groups 0|1 and 2|3 */
    __m512i c0 = _mm512_shuffle_i32x4(b[j], b[4 + j], _MM_SHUFFLE(2, 0, 2, 0));
    __m512i c1 = _mm512_shuffle_i32x4(b[j], b[4 + j], _MM_SHUFFLE(3, 1, 3, 1));
    __m512i c2 =
        _mm512_shuffle_i32x4(b[8 + j], b[12 + j], _MM_SHUFFLE(2, 0, 2, 0));
    __m512i c3 =
        _mm512_shuffle_i32x4(b[8 + j], b[12 + j], _MM_SHUFFLE(3, 1, 3, 1));
    m[j] = _mm512_shuffle_i32x4(c0, c2, _MM_SHUFFLE(2, 0, 2, 0));
    m[8 + j] = _mm512_shuffle_i32x4(c0, c2, _MM_SHUFFLE(3, 1, 3, 1));
    m[4 + j] = _mm512_shuffle_i32x4(c1, c3, _MM_SHUFFLE(2, 0, 2, 0));
    m[12 + j] = _mm512_shuffle_i32x4(c1, c3, _MM_SHUFFLE(3, 1, 3, 1));
  }
}

static inline __attribute__((always_inline)) void
load_msg(const uint8_t *p, size_t stride, int nlanes, __m512i m[16]) {
  __m512i r[16];
  for (int i = 0; i < 16; i++)
    r[i] = i < nlanes ? B3_LOADU(p + (size_t)i * stride) : B3_ZERO();
  transpose16(r, m);
}

#include "crypto/blake3_lanes_int.h"

static void avx512_hash_chunks(const uint8_t *input, size_t n,
                               const uint32_t key[8], uint64_t counter,
                               uint8_t flags, uint8_t *out) {
  lanes_hash_chunks(input, n, key, counter, flags, out,
                    cpc__blake3_avx2_hash_chunks);
}

static void avx512_hash_parents(const uint8_t *cvs, size_t n,
                                const uint32_t key[8], uint8_t flags,
                                uint8_t *out) {
  lanes_hash_parents(cvs, n, key, flags, out, cpc__blake3_avx2_hash_parents);
}

/* Sixteen root output blocks: one block, sixteen counters. */
static void avx512_xof(const uint32_t cv[8], const uint8_t block[64],
                       uint8_t block_len, uint64_t counter, uint8_t flags,
                       uint8_t *out, size_t nblocks) {
  while (nblocks >= B3_LANES) {
    __m512i m[16], v[16], w[16], rows[16];
    for (int i = 0; i < 16; i++)
      m[i] = B3_SET1((int)cpc__load32le(block + 4 * i));
    for (int i = 0; i < 8; i++)
      v[i] = B3_SET1((int)cv[i]);
    for (int i = 0; i < 4; i++)
      v[8 + i] = B3_SET1((int)cpc__blake3_iv[i]);
    b3_counters(counter, 1, &v[12], &v[13]);
    v[14] = B3_SET1((int)block_len);
    v[15] = B3_SET1((int)flags);
    b3_rounds(v, m);
    for (int i = 0; i < 8; i++) {
      w[i] = B3_XOR(v[i], v[i + 8]);
      w[i + 8] = B3_XOR(v[i + 8], B3_SET1((int)cv[i]));
    }
    /* w[word] holds that word of the 16 blocks: transpose to blocks. */
    transpose16(w, rows);
    for (int i = 0; i < 16; i++)
      B3_STOREU(out + 64 * i, rows[i]);
    out += 64 * B3_LANES;
    counter += B3_LANES;
    nblocks -= B3_LANES;
  }
  rows_xof(cv, block, block_len, counter, flags, out, nblocks);
}

const struct cpc__blake3_ops cpc__blake3_avx512_ops = {
    .id = CPC_BLAKE3_AVX512,
    .compress_in_place = rows_compress_in_place,
    .xof = avx512_xof,
    .hash_chunks = avx512_hash_chunks,
    .hash_parents = avx512_hash_parents,
};
