/*
 * cpc/chunker.h: where to cut a byte stream into chunks.
 *
 * Two kinds: fixed size, and content-defined chunking (FastCDC-style gear
 * hash with normalised chunking), whose cut points depend on the bytes
 * around them, so an insertion early in a file moves only the nearby cuts.
 *
 * The cutter is a pure function over a window that starts at a chunk
 * boundary; it keeps no state between calls. Chunk boundaries are part of
 * the stored format (they decide which chunks two versions of a file share):
 * the gear table and masks below must never change for CPC_CHUNKER_CDC.
 */
#ifndef CPC_CHUNKER_H
#define CPC_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Hard cap on any chunk's plaintext, whatever the parameters. */
#define CPC_CHUNK_MAX (1u << 20)
/* Smallest chunk size parameters may ask for (CDC minimum, fixed size). */
#define CPC_CHUNK_MIN_PARAM 1024u
#define CPC_CHUNK_DEFAULT (256u << 10)

/* Values are stored in manifests: never renumber. */
enum cpc_chunker_kind {
  CPC_CHUNKER_FIXED = 1,
  CPC_CHUNKER_CDC = 2,
};

typedef struct cpc_chunker_params {
  enum cpc_chunker_kind kind;
  uint32_t min_size; /* CDC: no cut before this; fixed: = avg_size */
  uint32_t avg_size; /* CDC: target (a power of two); fixed: the size */
  uint32_t max_size; /* CDC: forced cut here; fixed: = avg_size */
} cpc_chunker_params;

/*
 * Fill p for kind with chunk size size (0 = CPC_CHUNK_DEFAULT). Fixed:
 * every chunk but the last is size bytes. CDC: avg = size, min = size / 4,
 * max = min(4 * size, CPC_CHUNK_MAX). Errors: CPC_EINVAL (unknown kind,
 * size below CPC_CHUNK_MIN_PARAM or above CPC_CHUNK_MAX, or, for CDC, not a
 * power of two).
 */
int cpc_chunker_params_init(cpc_chunker_params *p, enum cpc_chunker_kind kind,
                            uint32_t size);

/*
 * Check parameters read from elsewhere (a manifest): same rules as
 * cpc_chunker_params_init, plus min <= avg <= max <= CPC_CHUNK_MAX.
 * Returns 0 or CPC_EINVAL.
 */
int cpc_chunker_params_check(const cpc_chunker_params *p);

/*
 * Find the end of the chunk that starts at data[0]. data[0..len) is the
 * bytes available; eof says no more will follow. On return *cut is the
 * chunk length (1..max_size), or 0 when more data is needed to decide
 * (only if !eof and len < max_size). With eof and len == 0, *cut is 0.
 * Borrowed data; never reads past len. Returns 0 or CPC_EINVAL.
 */
int cpc_chunker_next(const cpc_chunker_params *p, const uint8_t *data,
                     size_t len, int eof, size_t *cut);

#ifdef __cplusplus
}
#endif

#endif /* CPC_CHUNKER_H */
