/*
 * blake3_int.h: internals shared by the BLAKE3 files (cpc__ prefix).
 *
 * The hasher (blake3.c) and the tree-parallel update (blake3_parallel.c)
 * drive one back end through struct cpc__blake3_ops. Every back end offers
 * the same five operations; the SIMD ones run many compressions side by side
 * ("lanes"), one per chunk or parent node, and hand any remainder narrower
 * than their lane count to the next narrower back end.
 *
 * Layout conventions, shared by all back ends:
 *   - a chaining value (CV) is 8 little-endian words, 32 bytes;
 *   - hash_chunks reads n whole chunks laid out back to back (chunk i at
 *     input + i * 1024) and writes n CVs back to back (CV i at out + i * 32);
 *   - hash_parents reads n parent blocks back to back (the block of parent i,
 *     left CV then right CV, at cvs + i * 64) and writes n CVs back to back.
 *     out may equal cvs: every back end reads a parent's block before writing
 *     the CV that could overlap it, so a tree level can be reduced in place.
 */
#ifndef CPC_CRYPTO_BLAKE3_INT_H
#define CPC_CRYPTO_BLAKE3_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cpc/blake3.h"

/* Domain separation flags (BLAKE3 paper, table 3). */
enum {
  CPC__B3_CHUNK_START = 1u << 0,
  CPC__B3_CHUNK_END = 1u << 1,
  CPC__B3_PARENT = 1u << 2,
  CPC__B3_ROOT = 1u << 3,
  CPC__B3_KEYED_HASH = 1u << 4,
  CPC__B3_DERIVE_KEY_CONTEXT = 1u << 5,
  CPC__B3_DERIVE_KEY_MATERIAL = 1u << 6,
};

#define CPC__B3_BLOCKS_PER_CHUNK (CPC_BLAKE3_CHUNK_LEN / CPC_BLAKE3_BLOCK_LEN)

/*
 * Chunks hashed together before their subtree is reduced to one CV (a power
 * of two, and a multiple of every back end's lane count).
 */
#define CPC__B3_BATCH_CHUNKS 256

/* The initial value: the SHA-256 IV, also the key of the unkeyed modes. */
extern const uint32_t cpc__blake3_iv[8];
/*
 * Message word order of each of the 7 rounds: row r is the message
 * permutation [2,6,3,10,7,0,4,13,1,11,12,5,9,14,15,8] applied r times to the
 * identity. Static in every file, so unrolled rounds index it at compile time.
 */
static const uint8_t cpc__blake3_schedule[7][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
    {3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1},
    {10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
    {12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4},
    {9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
    {11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13},
};

struct cpc__blake3_ops {
  enum cpc_blake3_backend id;
  /* cv = first 8 words of compress(cv, block, counter, block_len, flags). */
  void (*compress_in_place)(uint32_t cv[8], const uint8_t block[64],
                            uint8_t block_len, uint64_t counter, uint8_t flags);
  /*
   * The 64-byte extended output of nblocks consecutive compressions of the
   * same (cv, block) with counters counter, counter + 1, ...: the root
   * output blocks of the XOF. out holds nblocks * 64 bytes.
   */
  void (*xof)(const uint32_t cv[8], const uint8_t block[64], uint8_t block_len,
              uint64_t counter, uint8_t flags, uint8_t *out, size_t nblocks);
  /* n whole chunks, chunk counters counter .. counter + n - 1, flags = mode. */
  void (*hash_chunks)(const uint8_t *input, size_t n, const uint32_t key[8],
                      uint64_t counter, uint8_t flags, uint8_t *out);
  /* n parent nodes (not root), flags = mode; see the layout note above. */
  void (*hash_parents)(const uint8_t *cvs, size_t n, const uint32_t key[8],
                       uint8_t flags, uint8_t *out);
};

/* The back end in use (resolved and cached on first call). */
const struct cpc__blake3_ops *cpc__blake3_ops(void);

extern const struct cpc__blake3_ops cpc__blake3_portable_ops;
extern const struct cpc__blake3_ops cpc__blake3_sse41_ops;
extern const struct cpc__blake3_ops cpc__blake3_avx2_ops;
extern const struct cpc__blake3_ops cpc__blake3_avx512_ops;

/* Portable primitives, also used by the SIMD back ends for remainders. */
void cpc__blake3_portable_compress_in_place(uint32_t cv[8],
                                            const uint8_t block[64],
                                            uint8_t block_len, uint64_t counter,
                                            uint8_t flags);
void cpc__blake3_portable_xof(const uint32_t cv[8], const uint8_t block[64],
                              uint8_t block_len, uint64_t counter,
                              uint8_t flags, uint8_t *out, size_t nblocks);
void cpc__blake3_portable_hash_chunks(const uint8_t *input, size_t n,
                                      const uint32_t key[8], uint64_t counter,
                                      uint8_t flags, uint8_t *out);
void cpc__blake3_portable_hash_parents(const uint8_t *cvs, size_t n,
                                       const uint32_t key[8], uint8_t flags,
                                       uint8_t *out);

/* SSE4.1: 4 lanes (remainders one at a time). */
void cpc__blake3_sse41_hash_chunks(const uint8_t *input, size_t n,
                                   const uint32_t key[8], uint64_t counter,
                                   uint8_t flags, uint8_t *out);
void cpc__blake3_sse41_hash_parents(const uint8_t *cvs, size_t n,
                                    const uint32_t key[8], uint8_t flags,
                                    uint8_t *out);

/* AVX2: 8 lanes (remainders go to SSE4.1). */
void cpc__blake3_avx2_hash_chunks(const uint8_t *input, size_t n,
                                  const uint32_t key[8], uint64_t counter,
                                  uint8_t flags, uint8_t *out);
void cpc__blake3_avx2_hash_parents(const uint8_t *cvs, size_t n,
                                   const uint32_t key[8], uint8_t flags,
                                   uint8_t *out);

/*
 * The CV of a complete subtree: nchunks whole chunks (a power of two, >= 1)
 * starting at chunk number counter, which must be a multiple of nchunks.
 * flags is the mode (0, KEYED_HASH or DERIVE_KEY_MATERIAL). Used by the
 * serial update for each batch and by the parallel update for each share.
 */
void cpc__blake3_subtree_cv(const struct cpc__blake3_ops *ops,
                            const uint32_t key[8], uint8_t flags,
                            const uint8_t *input, size_t nchunks,
                            uint64_t counter, uint8_t out[32]);

/*
 * Push the CV of a complete subtree that starts at chunk number counter
 * onto h's stack, merging first the subtrees that the new one proves are
 * not the last (lazy merging: the top of the stack may stay unmerged until
 * more input arrives, so it can still become the root).
 */
void cpc__blake3_push_cv(cpc_blake3_hasher *h, const uint8_t cv[32],
                         uint64_t counter);

/*
 * Bytes absorbed so far by h. Between calls the chunk state is empty only
 * before the first byte; otherwise it holds 1..CHUNK_LEN bytes.
 */
uint64_t cpc__blake3_position(const cpc_blake3_hasher *h);

/*
 * Append one complete subtree of nchunks chunks (a power of two) with CV cv
 * at h's current position, which must be a multiple of nchunks chunks. The
 * chunk state, if not empty, must be full: it is closed first. The caller
 * then feeds at least one more byte through cpc_blake3_hasher_update(),
 * which leaves the stack merged.
 */
void cpc__blake3_append_subtree(cpc_blake3_hasher *h, const uint8_t cv[32],
                                uint64_t nchunks);

/* Little-endian word loads and stores. */
static inline uint32_t cpc__load32le(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static inline void cpc__store32le(uint8_t *p, uint32_t w) {
  p[0] = (uint8_t)w;
  p[1] = (uint8_t)(w >> 8);
  p[2] = (uint8_t)(w >> 16);
  p[3] = (uint8_t)(w >> 24);
}

static inline void cpc__store_cv(uint8_t out[32], const uint32_t cv[8]) {
  for (int i = 0; i < 8; i++)
    cpc__store32le(out + 4 * i, cv[i]);
}

static inline void cpc__load_cv(uint32_t cv[8], const uint8_t in[32]) {
  for (int i = 0; i < 8; i++)
    cv[i] = cpc__load32le(in + 4 * i);
}

#endif /* CPC_CRYPTO_BLAKE3_INT_H */
