/*
 * cpc/blake3.h: BLAKE3 (hash, keyed hash, derive_key, extendable output).
 *
 * Own implementation of the BLAKE3 specification: a portable C back end plus
 * SSE4.1, AVX2 and AVX-512 back ends chosen once at run time. The hasher is a
 * plain struct the caller owns (stack or embedded); it holds no heap memory,
 * so there is nothing to free. Copying a hasher copies its state.
 */
#ifndef CPC_BLAKE3_H
#define CPC_BLAKE3_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CPC_BLAKE3_KEY_LEN 32
#define CPC_BLAKE3_OUT_LEN 32
#define CPC_BLAKE3_BLOCK_LEN 64
#define CPC_BLAKE3_CHUNK_LEN 1024
#define CPC_BLAKE3_MAX_DEPTH 54

/* SIMD back ends. CPC_BLAKE3_AUTO picks the best the CPU supports. */
enum cpc_blake3_backend {
  CPC_BLAKE3_AUTO = 0,
  CPC_BLAKE3_PORTABLE = 1,
  CPC_BLAKE3_SSE41 = 2,
  CPC_BLAKE3_AVX2 = 3,
  CPC_BLAKE3_AVX512 = 4,
};

typedef struct cpc_blake3_chunk_state {
  uint32_t cv[8];
  uint64_t chunk_counter;
  uint8_t buf[CPC_BLAKE3_BLOCK_LEN];
  uint8_t buf_len;
  uint8_t blocks_compressed;
  uint8_t flags;
} cpc_blake3_chunk_state;

/* Incremental hasher. Treat the fields as private. */
typedef struct cpc_blake3_hasher {
  uint32_t key[8];
  cpc_blake3_chunk_state chunk;
  uint8_t cv_stack_len;
  /* One extra entry so lazy merging never overflows. */
  uint8_t cv_stack[(CPC_BLAKE3_MAX_DEPTH + 1) * CPC_BLAKE3_OUT_LEN];
} cpc_blake3_hasher;

/* Initialise h for plain hashing. Never fails. */
void cpc_blake3_hasher_init(cpc_blake3_hasher *h);

/* Initialise h for keyed hashing with a 32-byte key (borrowed). */
void cpc_blake3_hasher_init_keyed(cpc_blake3_hasher *h,
                                  const uint8_t key[CPC_BLAKE3_KEY_LEN]);

/*
 * Initialise h for key derivation with a NUL-terminated context string
 * (borrowed); then feed the key material with cpc_blake3_hasher_update().
 */
void cpc_blake3_hasher_init_derive_key(cpc_blake3_hasher *h,
                                       const char *context);

/* Absorb len bytes of data (borrowed; may be NULL when len is 0). */
void cpc_blake3_hasher_update(cpc_blake3_hasher *h, const void *data,
                              size_t len);

/*
 * Write out_len bytes of output to out, starting at output offset 0.
 * Does not change h: more input may follow and finalize may be called again.
 */
void cpc_blake3_hasher_finalize(const cpc_blake3_hasher *h, uint8_t *out,
                                size_t out_len);

/* Extendable output: out_len bytes starting at byte offset seek. */
void cpc_blake3_hasher_finalize_seek(const cpc_blake3_hasher *h, uint64_t seek,
                                     uint8_t *out, size_t out_len);

/* Reset h to its state right after init (keeps the key and mode). */
void cpc_blake3_hasher_reset(cpc_blake3_hasher *h);

/* One-shot: out = BLAKE3(data[0..len)), 32 bytes. */
void cpc_blake3(const void *data, size_t len, uint8_t out[CPC_BLAKE3_OUT_LEN]);

/*
 * Tree-parallel update for large inputs, opt-in: same result as
 * cpc_blake3_hasher_update(), using up to threads threads (0 = one per
 * online CPU). Small inputs, or threads == 1, fall back to the serial path.
 * Returns 0, or CPC_ENOMEM if its small work table (32 bytes per share)
 * could not be allocated (h is then unchanged and the caller may retry
 * serially). CPC_EAGAIN is reserved: a worker thread that cannot be
 * started leaves its share to the others, so the call still succeeds.
 * data is borrowed for the duration of the call only.
 */
int cpc_blake3_hasher_update_parallel(cpc_blake3_hasher *h, const void *data,
                                      size_t len, unsigned threads);

/*
 * Absorb len bytes of the open file fd starting at byte offset, read with
 * pread() (the file position is neither used nor changed), using up to
 * threads threads (0 = one per online CPU; 1 = the calling thread only).
 * Same result as reading those bytes and calling cpc_blake3_hasher_update().
 * Each thread reads through its own small buffer that stays in the CPU
 * cache while it is hashed, which beats hashing a memory map of the file.
 * Returns 0; CPC_EIO if a read failed (errno says why; EIO if the file
 * ended before offset + len); CPC_ENOMEM. On error h is unchanged.
 */
int cpc_blake3_hasher_update_fd(cpc_blake3_hasher *h, int fd, uint64_t offset,
                                uint64_t len, unsigned threads);

/*
 * Force a back end for this process (tests and benchmarks). Returns 0, or
 * CPC_EUNSUPPORTED if the CPU lacks it (the selection is then unchanged).
 * Not thread-safe with concurrent hashing.
 */
int cpc_blake3_set_backend(enum cpc_blake3_backend backend);

/* The back end in use, resolved (never CPC_BLAKE3_AUTO). */
enum cpc_blake3_backend cpc_blake3_backend(void);

/* Whether this CPU and build support backend. */
int cpc_blake3_backend_supported(enum cpc_blake3_backend backend);

/* "portable", "sse4.1", "avx2", "avx512" or "auto". */
const char *cpc_blake3_backend_name(enum cpc_blake3_backend backend);

#ifdef __cplusplus
}
#endif

#endif /* CPC_BLAKE3_H */
