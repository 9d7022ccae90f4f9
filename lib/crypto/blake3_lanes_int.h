/*
 * blake3_lanes_int.h: the lane-parallel BLAKE3 compression, written once
 * for every SIMD width. Each vector holds one state word of B3_LANES
 * independent compressions (one per chunk or parent node), so the rounds
 * need no shuffles; only the message words are transposed on loading.
 *
 * Included by blake3_sse41.c, blake3_avx2.c and blake3_avx512.c (each
 * compiled for its instruction set), which first define:
 *   B3_LANES                     lanes per vector
 *   B3V                          the vector type
 *   B3_ADD, B3_XOR               32-bit lane add and xor
 *   B3_SET1, B3_LOADU, B3_STOREU broadcast, unaligned load and store
 *   B3_ROT16, B3_ROT12, B3_ROT8, B3_ROT7  32-bit lane rotations right
 *   B3_ZERO()                    an all-zero vector
 *   load_msg(p, stride, nlanes, m)  m[w] = word w of the 64-byte blocks
 *                                at p, p + stride, ..., one per lane; lanes
 *                                from nlanes on are zero and not read
 * and get b3_rounds(), hash_full() (B3_LANES inputs) and hash_partial()
 * (fewer, the unused lanes computed on zeros and discarded).
 */
#ifndef B3_LANES
#error "define the vector operations before including blake3_lanes_int.h"
#endif

#define B3_INLINE static inline __attribute__((always_inline))

#ifndef B3_PREFETCH_BLOCKS
#define B3_PREFETCH_BLOCKS 8
#endif

/* One round: G on the four columns, then on the four diagonals. */
B3_INLINE void b3_round(B3V v[16], const B3V m[16], int r) {
  const uint8_t *s = cpc__blake3_schedule[r];
  /* columns (0,4,8,12) (1,5,9,13) (2,6,10,14) (3,7,11,15) */
  for (int i = 0; i < 4; i++)
    v[i] = B3_ADD(B3_ADD(v[i], v[i + 4]), m[s[2 * i]]);
  for (int i = 0; i < 4; i++)
    v[i + 12] = B3_ROT16(B3_XOR(v[i + 12], v[i]));
  for (int i = 0; i < 4; i++)
    v[i + 8] = B3_ADD(v[i + 8], v[i + 12]);
  for (int i = 0; i < 4; i++)
    v[i + 4] = B3_ROT12(B3_XOR(v[i + 4], v[i + 8]));
  for (int i = 0; i < 4; i++)
    v[i] = B3_ADD(B3_ADD(v[i], v[i + 4]), m[s[2 * i + 1]]);
  for (int i = 0; i < 4; i++)
    v[i + 12] = B3_ROT8(B3_XOR(v[i + 12], v[i]));
  for (int i = 0; i < 4; i++)
    v[i + 8] = B3_ADD(v[i + 8], v[i + 12]);
  for (int i = 0; i < 4; i++)
    v[i + 4] = B3_ROT7(B3_XOR(v[i + 4], v[i + 8]));
    /* diagonals (0,5,10,15) (1,6,11,12) (2,7,8,13) (3,4,9,14):
     * a = i, b = 4 + (i+1)%4, c = 8 + (i+2)%4, d = 12 + (i+3)%4 */
#define B3_B(i) (4 + (((i) + 1) & 3))
#define B3_C(i) (8 + (((i) + 2) & 3))
#define B3_D(i) (12 + (((i) + 3) & 3))
  for (int i = 0; i < 4; i++)
    v[i] = B3_ADD(B3_ADD(v[i], v[B3_B(i)]), m[s[8 + 2 * i]]);
  for (int i = 0; i < 4; i++)
    v[B3_D(i)] = B3_ROT16(B3_XOR(v[B3_D(i)], v[i]));
  for (int i = 0; i < 4; i++)
    v[B3_C(i)] = B3_ADD(v[B3_C(i)], v[B3_D(i)]);
  for (int i = 0; i < 4; i++)
    v[B3_B(i)] = B3_ROT12(B3_XOR(v[B3_B(i)], v[B3_C(i)]));
  for (int i = 0; i < 4; i++)
    v[i] = B3_ADD(B3_ADD(v[i], v[B3_B(i)]), m[s[8 + 2 * i + 1]]);
  for (int i = 0; i < 4; i++)
    v[B3_D(i)] = B3_ROT8(B3_XOR(v[B3_D(i)], v[i]));
  for (int i = 0; i < 4; i++)
    v[B3_C(i)] = B3_ADD(v[B3_C(i)], v[B3_D(i)]);
  for (int i = 0; i < 4; i++)
    v[B3_B(i)] = B3_ROT7(B3_XOR(v[B3_B(i)], v[B3_C(i)]));
#undef B3_B
#undef B3_C
#undef B3_D
}

B3_INLINE void b3_rounds(B3V v[16], const B3V m[16]) {
  b3_round(v, m, 0);
  b3_round(v, m, 1);
  b3_round(v, m, 2);
  b3_round(v, m, 3);
  b3_round(v, m, 4);
  b3_round(v, m, 5);
  b3_round(v, m, 6);
}

/* Counter words of the lanes: counter + lane (inc = 1) or counter (inc = 0). */
B3_INLINE void b3_counters(uint64_t counter, int inc, B3V *lo, B3V *hi) {
  uint32_t l[B3_LANES], h[B3_LANES];
  for (int i = 0; i < B3_LANES; i++) {
    uint64_t c = counter + (inc ? (uint64_t)i : 0);
    l[i] = (uint32_t)c;
    h[i] = (uint32_t)(c >> 32);
  }
  *lo = B3_LOADU(l);
  *hi = B3_LOADU(h);
}

/*
 * nlanes inputs at in + lane * stride, each nblocks full blocks; lane i
 * starts from key with counter (counter + i if inc), the first block gets
 * flags_start and the last flags_end on top of flags. Lane i's CV goes to
 * out + 32 * i. All input is read before out is written. With prefetch,
 * the next B3_LANES inputs (if any) are pulled into the cache meanwhile.
 */
B3_INLINE void hash_lanes(const uint8_t *in, size_t stride, size_t nblocks,
                          const uint32_t key[8], uint64_t counter, int inc,
                          uint8_t flags, uint8_t flags_start, uint8_t flags_end,
                          int prefetch, int nlanes, uint8_t *out) {
  B3V h[8], ctr_lo, ctr_hi;
  for (int i = 0; i < 8; i++)
    h[i] = B3_SET1((int)key[i]);
  b3_counters(counter, inc, &ctr_lo, &ctr_hi);
  for (size_t b = 0; b < nblocks; b++) {
    uint32_t f = flags;
    if (b == 0)
      f |= flags_start;
    if (b + 1 == nblocks)
      f |= flags_end;
    B3V m[16], v[16];
    load_msg(in + b * CPC_BLAKE3_BLOCK_LEN, stride, nlanes, m);
    if (prefetch) {
      /* B3_PREFETCH_BLOCKS ahead in each lane's stream, running on into
       * the next group of inputs near the end of these. */
      size_t t = b + B3_PREFETCH_BLOCKS;
      const uint8_t *next =
          t < nblocks
              ? in + t * CPC_BLAKE3_BLOCK_LEN
              : in + B3_LANES * stride + (t - nblocks) * CPC_BLAKE3_BLOCK_LEN;
      for (int i = 0; i < B3_LANES; i++)
        _mm_prefetch((const char *)(next + (size_t)i * stride), _MM_HINT_T0);
    }
    for (int i = 0; i < 8; i++)
      v[i] = h[i];
    for (int i = 0; i < 4; i++)
      v[8 + i] = B3_SET1((int)cpc__blake3_iv[i]);
    v[12] = ctr_lo;
    v[13] = ctr_hi;
    v[14] = B3_SET1(CPC_BLAKE3_BLOCK_LEN);
    v[15] = B3_SET1((int)f);
    b3_rounds(v, m);
    for (int i = 0; i < 8; i++)
      h[i] = B3_XOR(v[i], v[i + 8]);
  }
  uint32_t words[8][B3_LANES];
  for (int i = 0; i < 8; i++)
    B3_STOREU(words[i], h[i]);
  for (int lane = 0; lane < nlanes; lane++)
    for (int i = 0; i < 8; i++)
      cpc__store32le(out + 32 * lane + 4 * i, words[i][lane]);
}

/* B3_LANES inputs (see hash_lanes). */
static void hash_full(const uint8_t *in, size_t stride, size_t nblocks,
                      const uint32_t key[8], uint64_t counter, int inc,
                      uint8_t flags, uint8_t flags_start, uint8_t flags_end,
                      int prefetch, uint8_t *out) {
  hash_lanes(in, stride, nblocks, key, counter, inc, flags, flags_start,
             flags_end, prefetch, B3_LANES, out);
}

/* 1 .. B3_LANES - 1 inputs (see hash_lanes), no prefetch. */
static void hash_partial(const uint8_t *in, size_t stride, size_t nblocks,
                         const uint32_t key[8], uint64_t counter, int inc,
                         uint8_t flags, uint8_t flags_start, uint8_t flags_end,
                         int nlanes, uint8_t *out) {
  hash_lanes(in, stride, nblocks, key, counter, inc, flags, flags_start,
             flags_end, 0, nlanes, out);
}

/* n chunks: whole groups, then the rest in one partial group if it is more
 * than half a group, else by the narrower back end. */
static inline void
lanes_hash_chunks(const uint8_t *input, size_t n, const uint32_t key[8],
                  uint64_t counter, uint8_t flags, uint8_t *out,
                  void (*narrower)(const uint8_t *, size_t, const uint32_t *,
                                   uint64_t, uint8_t, uint8_t *)) {
  while (n >= B3_LANES) {
    hash_full(input, CPC_BLAKE3_CHUNK_LEN, CPC__B3_BLOCKS_PER_CHUNK, key,
              counter, 1, flags, CPC__B3_CHUNK_START, CPC__B3_CHUNK_END,
              n >= 2 * B3_LANES, out);
    input += B3_LANES * CPC_BLAKE3_CHUNK_LEN;
    counter += B3_LANES;
    out += B3_LANES * 32;
    n -= B3_LANES;
  }
  if (n > B3_LANES / 2 || (n > 0 && narrower == NULL))
    hash_partial(input, CPC_BLAKE3_CHUNK_LEN, CPC__B3_BLOCKS_PER_CHUNK, key,
                 counter, 1, flags, CPC__B3_CHUNK_START, CPC__B3_CHUNK_END,
                 (int)n, out);
  else if (n > 0)
    narrower(input, n, key, counter, flags, out);
}

/* n parents, likewise. */
static inline void
lanes_hash_parents(const uint8_t *cvs, size_t n, const uint32_t key[8],
                   uint8_t flags, uint8_t *out,
                   void (*narrower)(const uint8_t *, size_t, const uint32_t *,
                                    uint8_t, uint8_t *)) {
  while (n >= B3_LANES) {
    hash_full(cvs, 64, 1, key, 0, 0, flags | CPC__B3_PARENT, 0, 0, 0, out);
    cvs += B3_LANES * 64;
    out += B3_LANES * 32;
    n -= B3_LANES;
  }
  if (n > B3_LANES / 2 || (n > 0 && narrower == NULL))
    hash_partial(cvs, 64, 1, key, 0, 0, flags | CPC__B3_PARENT, 0, 0, (int)n,
                 out);
  else if (n > 0)
    narrower(cvs, n, key, flags, out);
}
