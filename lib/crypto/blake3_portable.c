/*
 * blake3_portable.c: the BLAKE3 compression function in plain C, one block
 * at a time. It is the reference point for the SIMD back ends and handles
 * whatever they leave over.
 */
#include "crypto/blake3_int.h"

const uint32_t cpc__blake3_iv[8] = {0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u,
                                    0xA54FF53Au, 0x510E527Fu, 0x9B05688Cu,
                                    0x1F83D9ABu, 0x5BE0CD19u};

static inline uint32_t rotr32(uint32_t w, unsigned c) {
  return (w >> c) | (w << (32 - c));
}

/* The quarter-round G mixing columns/diagonals a, b, c, d with words x, y. */
static inline void mix(uint32_t v[16], int a, int b, int c, int d, uint32_t x,
                       uint32_t y) {
  v[a] = v[a] + v[b] + x;
  v[d] = rotr32(v[d] ^ v[a], 16);
  v[c] = v[c] + v[d];
  v[b] = rotr32(v[b] ^ v[c], 12);
  v[a] = v[a] + v[b] + y;
  v[d] = rotr32(v[d] ^ v[a], 8);
  v[c] = v[c] + v[d];
  v[b] = rotr32(v[b] ^ v[c], 7);
}

/* Run the 7 rounds; v ends as the full 16-word state before the final xor. */
static void permute_state(uint32_t v[16], const uint32_t cv[8],
                          const uint8_t block[64], uint8_t block_len,
                          uint64_t counter, uint8_t flags) {
  uint32_t m[16];
  for (int i = 0; i < 16; i++)
    m[i] = cpc__load32le(block + 4 * i);
  for (int i = 0; i < 8; i++)
    v[i] = cv[i];
  for (int i = 0; i < 4; i++)
    v[8 + i] = cpc__blake3_iv[i];
  v[12] = (uint32_t)counter;
  v[13] = (uint32_t)(counter >> 32);
  v[14] = block_len;
  v[15] = flags;
  for (int r = 0; r < 7; r++) {
    const uint8_t *s = cpc__blake3_schedule[r];
    mix(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
    mix(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
    mix(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
    mix(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
    mix(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
    mix(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
    mix(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
    mix(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
  }
}

void cpc__blake3_portable_compress_in_place(uint32_t cv[8],
                                            const uint8_t block[64],
                                            uint8_t block_len, uint64_t counter,
                                            uint8_t flags) {
  uint32_t v[16];
  permute_state(v, cv, block, block_len, counter, flags);
  for (int i = 0; i < 8; i++)
    cv[i] = v[i] ^ v[i + 8];
}

void cpc__blake3_portable_xof(const uint32_t cv[8], const uint8_t block[64],
                              uint8_t block_len, uint64_t counter,
                              uint8_t flags, uint8_t *out, size_t nblocks) {
  for (size_t b = 0; b < nblocks; b++, out += 64) {
    uint32_t v[16];
    permute_state(v, cv, block, block_len, counter + b, flags);
    for (int i = 0; i < 8; i++) {
      cpc__store32le(out + 4 * i, v[i] ^ v[i + 8]);
      cpc__store32le(out + 32 + 4 * i, v[i + 8] ^ cv[i]);
    }
  }
}

void cpc__blake3_portable_hash_chunks(const uint8_t *input, size_t n,
                                      const uint32_t key[8], uint64_t counter,
                                      uint8_t flags, uint8_t *out) {
  for (size_t c = 0; c < n; c++) {
    uint32_t cv[8];
    memcpy(cv, key, sizeof cv);
    for (int b = 0; b < CPC__B3_BLOCKS_PER_CHUNK; b++) {
      uint8_t f = flags;
      if (b == 0)
        f |= CPC__B3_CHUNK_START;
      if (b == CPC__B3_BLOCKS_PER_CHUNK - 1)
        f |= CPC__B3_CHUNK_END;
      cpc__blake3_portable_compress_in_place(
          cv, input + (size_t)c * CPC_BLAKE3_CHUNK_LEN + (size_t)b * 64, 64,
          counter + c, f);
    }
    cpc__store_cv(out + c * 32, cv);
  }
}

void cpc__blake3_portable_hash_parents(const uint8_t *cvs, size_t n,
                                       const uint32_t key[8], uint8_t flags,
                                       uint8_t *out) {
  for (size_t i = 0; i < n; i++) {
    uint8_t block[64];
    uint32_t cv[8];
    memcpy(block, cvs + i * 64, 64); /* out may overlap the block */
    memcpy(cv, key, sizeof cv);
    cpc__blake3_portable_compress_in_place(cv, block, 64, 0,
                                           flags | CPC__B3_PARENT);
    cpc__store_cv(out + i * 32, cv);
  }
}

const struct cpc__blake3_ops cpc__blake3_portable_ops = {
    .id = CPC_BLAKE3_PORTABLE,
    .compress_in_place = cpc__blake3_portable_compress_in_place,
    .xof = cpc__blake3_portable_xof,
    .hash_chunks = cpc__blake3_portable_hash_chunks,
    .hash_parents = cpc__blake3_portable_hash_parents,
};
