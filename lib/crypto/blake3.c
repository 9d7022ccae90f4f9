/*
 * blake3.c: the BLAKE3 hasher: chunk state, the chaining-value stack with
 * lazy merging, the root output (XOF) and the public API of cpc/blake3.h.
 *
 * Input is split into 1024-byte chunks, each hashed into a chaining value
 * (CV); CVs are combined pairwise by parent nodes into a binary tree whose
 * left subtrees are always complete, power-of-two sized. The hasher keeps
 * one CV per complete subtree (at most one per size: the set bits of the
 * chunk count) and merges lazily, because the last node must be compressed
 * with the ROOT flag and is only known to be last at finalize.
 *
 * Bulk input is fed to the back end in whole batches of chunks (hash_chunks
 * runs many chunks side by side, hash_parents reduces each tree level
 * side by side), so the SIMD back ends see long runs, not single chunks.
 */
#include <sodium.h>

#include "crypto/blake3_int.h"

/* The last node to be compressed: a chunk's last block or a parent. */
struct b3_output {
  uint32_t cv[8];
  uint8_t block[64];
  uint64_t counter;
  uint8_t block_len;
  uint8_t flags;
};

static void chunk_init(cpc_blake3_chunk_state *cs, const uint32_t key[8],
                       uint8_t mode_flags, uint64_t counter) {
  memcpy(cs->cv, key, sizeof cs->cv);
  cs->chunk_counter = counter;
  memset(cs->buf, 0, sizeof cs->buf);
  cs->buf_len = 0;
  cs->blocks_compressed = 0;
  cs->flags = mode_flags;
}

static size_t chunk_len(const cpc_blake3_chunk_state *cs) {
  return (size_t)cs->blocks_compressed * CPC_BLAKE3_BLOCK_LEN + cs->buf_len;
}

static uint8_t chunk_start_flag(const cpc_blake3_chunk_state *cs) {
  return cs->blocks_compressed == 0 ? CPC__B3_CHUNK_START : 0;
}

/*
 * Absorb len bytes into the chunk; the caller keeps the chunk at most
 * CHUNK_LEN bytes long. A full block is compressed only once more input
 * follows, so the chunk's last block is always still in buf at the end.
 */
static void chunk_update(const struct cpc__blake3_ops *ops,
                         cpc_blake3_chunk_state *cs, const uint8_t *in,
                         size_t len) {
  while (len > 0) {
    if (cs->buf_len == CPC_BLAKE3_BLOCK_LEN) {
      ops->compress_in_place(cs->cv, cs->buf, CPC_BLAKE3_BLOCK_LEN,
                             cs->chunk_counter,
                             cs->flags | chunk_start_flag(cs));
      cs->blocks_compressed++;
      cs->buf_len = 0;
      memset(cs->buf, 0, sizeof cs->buf);
    }
    if (cs->buf_len == 0) {
      while (len > CPC_BLAKE3_BLOCK_LEN) {
        ops->compress_in_place(cs->cv, in, CPC_BLAKE3_BLOCK_LEN,
                               cs->chunk_counter,
                               cs->flags | chunk_start_flag(cs));
        cs->blocks_compressed++;
        in += CPC_BLAKE3_BLOCK_LEN;
        len -= CPC_BLAKE3_BLOCK_LEN;
      }
    }
    size_t take = CPC_BLAKE3_BLOCK_LEN - cs->buf_len;
    if (take > len)
      take = len;
    memcpy(cs->buf + cs->buf_len, in, take);
    cs->buf_len = (uint8_t)(cs->buf_len + take);
    in += take;
    len -= take;
  }
}

static void chunk_output(const cpc_blake3_chunk_state *cs,
                         struct b3_output *o) {
  memcpy(o->cv, cs->cv, sizeof o->cv);
  memcpy(o->block, cs->buf, sizeof o->block); /* zero padded past buf_len */
  o->counter = cs->chunk_counter;
  o->block_len = cs->buf_len;
  o->flags = (uint8_t)(cs->flags | chunk_start_flag(cs) | CPC__B3_CHUNK_END);
}

static void parent_output(const uint8_t left[32], const uint8_t right[32],
                          const uint32_t key[8], uint8_t mode_flags,
                          struct b3_output *o) {
  memcpy(o->cv, key, sizeof o->cv);
  memcpy(o->block, left, 32);
  memcpy(o->block + 32, right, 32);
  o->counter = 0;
  o->block_len = CPC_BLAKE3_BLOCK_LEN;
  o->flags = (uint8_t)(mode_flags | CPC__B3_PARENT);
}

static void output_cv(const struct cpc__blake3_ops *ops,
                      const struct b3_output *o, uint8_t out[32]) {
  uint32_t cv[8];
  memcpy(cv, o->cv, sizeof cv);
  ops->compress_in_place(cv, o->block, o->block_len, o->counter, o->flags);
  cpc__store_cv(out, cv);
}

/* Root output bytes [seek, seek + len): output block i uses counter i. */
static void output_root(const struct cpc__blake3_ops *ops,
                        const struct b3_output *o, uint64_t seek, uint8_t *out,
                        size_t len) {
  uint8_t flags = (uint8_t)(o->flags | CPC__B3_ROOT);
  uint64_t block = seek / CPC_BLAKE3_BLOCK_LEN;
  size_t skip = (size_t)(seek % CPC_BLAKE3_BLOCK_LEN);
  uint8_t tmp[CPC_BLAKE3_BLOCK_LEN];

  if (skip != 0 && len > 0) {
    ops->xof(o->cv, o->block, o->block_len, block, flags, tmp, 1);
    size_t take = CPC_BLAKE3_BLOCK_LEN - skip;
    if (take > len)
      take = len;
    memcpy(out, tmp + skip, take);
    out += take;
    len -= take;
    block++;
  }
  if (len >= CPC_BLAKE3_BLOCK_LEN) {
    size_t nblocks = len / CPC_BLAKE3_BLOCK_LEN;
    ops->xof(o->cv, o->block, o->block_len, block, flags, out, nblocks);
    out += nblocks * CPC_BLAKE3_BLOCK_LEN;
    len -= nblocks * CPC_BLAKE3_BLOCK_LEN;
    block += nblocks;
  }
  if (len > 0) {
    ops->xof(o->cv, o->block, o->block_len, block, flags, tmp, 1);
    memcpy(out, tmp, len);
  }
}

/* Merge the top of the stack until it holds one CV per set bit of count. */
static void merge_stack(cpc_blake3_hasher *h, const struct cpc__blake3_ops *ops,
                        uint64_t count) {
  size_t want = (size_t)__builtin_popcountll(count);
  while (h->cv_stack_len > want) {
    uint8_t *left = h->cv_stack + (size_t)(h->cv_stack_len - 2) * 32;
    ops->hash_parents(left, 1, h->key, h->chunk.flags, left);
    h->cv_stack_len--;
  }
}

void cpc__blake3_push_cv(cpc_blake3_hasher *h, const uint8_t cv[32],
                         uint64_t counter) {
  merge_stack(h, cpc__blake3_ops(), counter);
  memcpy(h->cv_stack + (size_t)h->cv_stack_len * 32, cv, 32);
  h->cv_stack_len++;
}

void cpc__blake3_subtree_cv(const struct cpc__blake3_ops *ops,
                            const uint32_t key[8], uint8_t flags,
                            const uint8_t *input, size_t nchunks,
                            uint64_t counter, uint8_t out[32]) {
  uint8_t cvs[CPC__B3_BATCH_CHUNKS * 32];

  if (nchunks <= CPC__B3_BATCH_CHUNKS) {
    ops->hash_chunks(input, nchunks, key, counter, flags, cvs);
    for (size_t n = nchunks; n > 1; n /= 2)
      ops->hash_parents(cvs, n / 2, key, flags, cvs);
    memcpy(out, cvs, 32);
    return;
  }
  /* A perfect tree of batches: merge after batch i while i + 1 is even. */
  uint8_t stack[64 * 32];
  size_t depth = 0;
  size_t nbatches = nchunks / CPC__B3_BATCH_CHUNKS;
  for (size_t i = 0; i < nbatches; i++) {
    cpc__blake3_subtree_cv(
        ops, key, flags,
        input + i * CPC__B3_BATCH_CHUNKS * (size_t)CPC_BLAKE3_CHUNK_LEN,
        CPC__B3_BATCH_CHUNKS, counter + i * CPC__B3_BATCH_CHUNKS,
        stack + depth * 32);
    depth++;
    for (size_t done = i + 1; (done & 1) == 0; done >>= 1) {
      ops->hash_parents(stack + (depth - 2) * 32, 1, key, flags,
                        stack + (depth - 2) * 32);
      depth--;
    }
  }
  memcpy(out, stack, 32);
}

uint64_t cpc__blake3_position(const cpc_blake3_hasher *h) {
  return h->chunk.chunk_counter * CPC_BLAKE3_CHUNK_LEN + chunk_len(&h->chunk);
}

void cpc__blake3_append_subtree(cpc_blake3_hasher *h, const uint8_t cv[32],
                                uint64_t nchunks) {
  const struct cpc__blake3_ops *ops = cpc__blake3_ops();
  cpc_blake3_chunk_state *cs = &h->chunk;
  uint64_t count = cs->chunk_counter;

  if (chunk_len(cs) > 0) {
    struct b3_output o;
    uint8_t chunk_cv[32];
    chunk_output(cs, &o);
    output_cv(ops, &o, chunk_cv);
    cpc__blake3_push_cv(h, chunk_cv, count);
    count++;
  }
  cpc__blake3_push_cv(h, cv, count);
  chunk_init(cs, h->key, cs->flags, count + nchunks);
}

/*
 * Hash n whole chunks (n <= BATCH) starting at chunk number count, which
 * need not be aligned, all side by side; then cut [count, count + n) into
 * aligned power-of-two subtrees (largest first from the left), reduce each
 * with side-by-side parent hashing, and push them in order.
 */
static void push_chunk_run(cpc_blake3_hasher *h,
                           const struct cpc__blake3_ops *ops, const uint8_t *in,
                           size_t n, uint64_t count) {
  uint8_t cvs[CPC__B3_BATCH_CHUNKS * 32];
  uint8_t mode = h->chunk.flags;
  size_t done = 0;

  ops->hash_chunks(in, n, h->key, count, mode, cvs);
  while (done < n) {
    uint64_t pos = count + done;
    size_t size = 1;
    while ((pos & (2 * size - 1)) == 0 && done + 2 * size <= n)
      size *= 2;
    uint8_t *sub = cvs + done * 32;
    for (size_t m = size; m > 1; m /= 2)
      ops->hash_parents(sub, m / 2, h->key, mode, sub);
    cpc__blake3_push_cv(h, sub, pos);
    done += size;
  }
}

static void hasher_init_flags(cpc_blake3_hasher *h, const uint32_t key[8],
                              uint8_t mode_flags) {
  memcpy(h->key, key, sizeof h->key);
  chunk_init(&h->chunk, key, mode_flags, 0);
  h->cv_stack_len = 0;
}

void cpc_blake3_hasher_init(cpc_blake3_hasher *h) {
  hasher_init_flags(h, cpc__blake3_iv, 0);
}

void cpc_blake3_hasher_init_keyed(cpc_blake3_hasher *h,
                                  const uint8_t key[CPC_BLAKE3_KEY_LEN]) {
  uint32_t words[8];
  cpc__load_cv(words, key);
  hasher_init_flags(h, words, CPC__B3_KEYED_HASH);
  sodium_memzero(words, sizeof words);
}

void cpc_blake3_hasher_init_derive_key(cpc_blake3_hasher *h,
                                       const char *context) {
  cpc_blake3_hasher ctx;
  uint8_t context_key[CPC_BLAKE3_KEY_LEN];
  uint32_t words[8];

  hasher_init_flags(&ctx, cpc__blake3_iv, CPC__B3_DERIVE_KEY_CONTEXT);
  cpc_blake3_hasher_update(&ctx, context, strlen(context));
  cpc_blake3_hasher_finalize(&ctx, context_key, sizeof context_key);
  cpc__load_cv(words, context_key);
  hasher_init_flags(h, words, CPC__B3_DERIVE_KEY_MATERIAL);
}

void cpc_blake3_hasher_reset(cpc_blake3_hasher *h) {
  chunk_init(&h->chunk, h->key, h->chunk.flags, 0);
  h->cv_stack_len = 0;
}

void cpc_blake3_hasher_update(cpc_blake3_hasher *h, const void *data,
                              size_t len) {
  const struct cpc__blake3_ops *ops = cpc__blake3_ops();
  const uint8_t *in = data;
  cpc_blake3_chunk_state *cs = &h->chunk;
  uint8_t mode = cs->flags;

  if (len == 0)
    return;

  /* 1. Complete a chunk already started; close it if more input follows. */
  if (chunk_len(cs) > 0) {
    size_t take = CPC_BLAKE3_CHUNK_LEN - chunk_len(cs);
    if (take > len)
      take = len;
    chunk_update(ops, cs, in, take);
    in += take;
    len -= take;
    if (len == 0)
      return;
    struct b3_output o;
    uint8_t cv[32];
    chunk_output(cs, &o);
    output_cv(ops, &o, cv);
    cpc__blake3_push_cv(h, cv, cs->chunk_counter);
    chunk_init(cs, h->key, mode, cs->chunk_counter + 1);
  }

  /*
   * 2. Whole chunks, keeping at least one byte back for the chunk state
   * (the last chunk may be the root). Aligned full batches go in as one
   * subtree; the rest as a run of single chunks hashed side by side.
   */
  while (len > CPC_BLAKE3_CHUNK_LEN) {
    uint64_t count = cs->chunk_counter;
    size_t batch_bytes = CPC__B3_BATCH_CHUNKS * (size_t)CPC_BLAKE3_CHUNK_LEN;
    if (count % CPC__B3_BATCH_CHUNKS == 0 && len > batch_bytes) {
      uint8_t cv[32];
      cpc__blake3_subtree_cv(ops, h->key, mode, in, CPC__B3_BATCH_CHUNKS, count,
                             cv);
      cpc__blake3_push_cv(h, cv, count);
      cs->chunk_counter = count + CPC__B3_BATCH_CHUNKS;
      in += batch_bytes;
      len -= batch_bytes;
      continue;
    }
    size_t n = CPC__B3_BATCH_CHUNKS - (size_t)(count % CPC__B3_BATCH_CHUNKS);
    size_t avail = (len - 1) / CPC_BLAKE3_CHUNK_LEN;
    if (n > avail)
      n = avail;
    push_chunk_run(h, ops, in, n, count);
    cs->chunk_counter = count + n;
    in += n * CPC_BLAKE3_CHUNK_LEN;
    len -= n * CPC_BLAKE3_CHUNK_LEN;
  }

  /* 3. The tail (1..CHUNK_LEN bytes) starts a new chunk; since it follows
   * everything on the stack, the stack can now be merged. */
  chunk_update(ops, cs, in, len);
  merge_stack(h, ops, cs->chunk_counter);
}

void cpc_blake3_hasher_finalize_seek(const cpc_blake3_hasher *h, uint64_t seek,
                                     uint8_t *out, size_t out_len) {
  const struct cpc__blake3_ops *ops = cpc__blake3_ops();
  struct b3_output o;

  if (out_len == 0)
    return;
  chunk_output(&h->chunk, &o);
  /* The stack is fully merged (update merges before returning): fold it
   * right to left onto the current chunk; the last parent is the root. */
  for (size_t i = h->cv_stack_len; i > 0; i--) {
    uint8_t right[32];
    output_cv(ops, &o, right);
    parent_output(h->cv_stack + (i - 1) * 32, right, h->key, h->chunk.flags,
                  &o);
  }
  output_root(ops, &o, seek, out, out_len);
}

void cpc_blake3_hasher_finalize(const cpc_blake3_hasher *h, uint8_t *out,
                                size_t out_len) {
  cpc_blake3_hasher_finalize_seek(h, 0, out, out_len);
}

void cpc_blake3(const void *data, size_t len, uint8_t out[CPC_BLAKE3_OUT_LEN]) {
  cpc_blake3_hasher h;
  cpc_blake3_hasher_init(&h);
  cpc_blake3_hasher_update(&h, data, len);
  cpc_blake3_hasher_finalize(&h, out, CPC_BLAKE3_OUT_LEN);
}
