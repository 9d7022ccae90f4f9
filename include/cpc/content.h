/*
 * cpc/content.h: the content pipeline (DESIGN.md section 4).
 *
 * Encrypt: a byte stream of any length is cut into chunks (cpc/chunker.h),
 * each compressed where it pays (zstd), encrypted with ChaCha20-Poly1305
 * under the content key (nonce: domain "chunk", chunk index) and addressed
 * by CIDv1(raw, blake3) of the ciphertext. The chunk list goes into an
 * encrypted manifest (spilled into encrypted manifest pages when large);
 * the CID of the encrypted root manifest is the content_id. Memory use is
 * bounded (a few MiB) whatever the stream length.
 *
 * Decrypt: the reverse, pulling blocks by CID from a source, verifying each
 * block against its CID before decrypting it, checking every size against
 * the manifest, and streaming plaintext out.
 *
 * Blocks are at most CPC_BLOCK_MAX (2 MiB) bytes; chunks at most
 * CPC_CHUNK_MAX (1 MiB) of plaintext.
 */
#ifndef CPC_CONTENT_H
#define CPC_CONTENT_H

#include <stddef.h>
#include <stdint.h>

#include "cpc/aead.h"
#include "cpc/chunker.h"
#include "cpc/cid.h"
#include "cpc/manifest.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Receives each block the encryptor produces: cid and block are borrowed
 * for the call only. Blocks come in order: chunks, manifest pages as they
 * fill, the root manifest last. Return 0, or a CPC_E* code that stops the
 * encryptor (it is passed back to the caller).
 */
typedef int (*cpc_block_sink_fn)(void *ctx, const cpc_cid *cid,
                                 const uint8_t *block, size_t len);

/*
 * Copies the block named cid into buf (cap bytes, CPC_BLOCK_MAX at least)
 * and sets *len. Return 0, CPC_ENOENT if it is not there, CPC_ETOOBIG if it
 * is larger than cap, or another CPC_E* code to stop decryption. The block
 * need not be trusted: the pipeline verifies it.
 */
typedef int (*cpc_block_source_fn)(void *ctx, const cpc_cid *cid, uint8_t *buf,
                                   size_t cap, size_t *len);

/* Receives plaintext in order (borrowed for the call). 0 or a CPC_E* code. */
typedef int (*cpc_plaintext_sink_fn)(void *ctx, const uint8_t *data,
                                     size_t len);

typedef struct cpc_content_options {
  enum cpc_chunker_kind chunker; /* CPC_CHUNKER_FIXED (default) or _CDC */
  uint32_t chunk_size;           /* 0: CPC_CHUNK_DEFAULT; see chunker.h */
  int compress;                  /* 1 (default): zstd where it pays */
  /* Largest encoded manifest page, 256..CPC_MANIFEST_PAGE_MAX; 0: the max.
   * Small values are for tests of paged manifests. */
  uint32_t page_cap;
  /* 1 (default): hash block n on a worker thread while block n + 1 is
   * encrypted; 0: everything on the caller's thread. */
  unsigned threads;
} cpc_content_options;

/* Defaults as documented above. */
void cpc_content_options_init(cpc_content_options *o);

typedef struct cpc_content_encryptor cpc_content_encryptor;

/*
 * Start encrypting under key (copied; the caller should wipe its copy and
 * keep or wrap the key). o may be NULL for defaults. sink and ctx are
 * borrowed until cpc_content_encryptor_free(); sink runs on the thread that
 * calls update/final. Errors: CPC_EINVAL (bad options), CPC_ENOMEM,
 * CPC_EAGAIN (no worker thread).
 */
int cpc_content_encryptor_new(const cpc_content_options *o,
                              const uint8_t key[CPC_AEAD_KEY_LEN],
                              cpc_block_sink_fn sink, void *ctx,
                              cpc_content_encryptor **out);

/*
 * Feed len bytes (borrowed; may be NULL when len is 0). Blocks may be
 * written to the sink during the call. The first error is sticky: every
 * later update/final returns it. Errors: the sink's code, CPC_ENOMEM,
 * CPC_ECRYPTO, CPC_ETOOBIG (content too large for a two-level manifest),
 * CPC_ESTATE (after final).
 */
int cpc_content_encryptor_update(cpc_content_encryptor *e, const void *data,
                                 size_t len);

/*
 * Flush the last chunk and the manifest; *content_id gets the root
 * manifest's CID, *total (may be NULL) the plaintext length. Once only.
 * Same errors as update.
 */
int cpc_content_encryptor_final(cpc_content_encryptor *e, cpc_cid *content_id,
                                uint64_t *total);

/* Stop the worker, wipe the key and free e. e may be NULL. */
void cpc_content_encryptor_free(cpc_content_encryptor *e);

/*
 * Decrypt the content content_id with key (borrowed), reading blocks from
 * source and writing plaintext to out. *total (may be NULL) gets the bytes
 * written. On error, the plaintext written so far is incomplete and must
 * be discarded. Errors: CPC_EUNSUPPORTED (content_id not CIDv1 raw blake3,
 * or a newer manifest), the source's codes (CPC_ENOENT: missing block),
 * CPC_ETRUNC (a block shorter than the manifest says), CPC_EMISMATCH (a
 * block does not hash to its CID, or is longer than the manifest says),
 * CPC_EAUTH (wrong key, or a block that hashes right but fails to
 * authenticate), CPC_EMALFORMED (manifest or compressed data inconsistent),
 * CPC_ENOMEM, the out callback's codes.
 */
int cpc_content_decrypt(const cpc_cid *content_id,
                        const uint8_t key[CPC_AEAD_KEY_LEN],
                        cpc_block_source_fn source, void *source_ctx,
                        cpc_plaintext_sink_fn out, void *out_ctx,
                        uint64_t *total);

enum cpc_content_decrypt_flag {
  /*
   * Every block the source hands out is known to hash to its CID: it reads
   * a cpc_blockstore, which checks each block as it is stored (the Bitswap
   * decoder or the put hashed it). The pipeline then does not hash blocks
   * again. Sizes are still checked against the manifest and every block is
   * still authenticated, so a damaged block still fails (CPC_EAUTH).
   */
  CPC_CONTENT_SOURCE_VERIFIED = 1 << 0,
};

/*
 * As cpc_content_decrypt(), with flags a mask of cpc_content_decrypt_flag
 * (0: the same). Errors as cpc_content_decrypt(), and CPC_EINVAL (unknown
 * flag).
 */
int cpc_content_decrypt_flags(const cpc_cid *content_id,
                              const uint8_t key[CPC_AEAD_KEY_LEN],
                              cpc_block_source_fn source, void *source_ctx,
                              cpc_plaintext_sink_fn out, void *out_ctx,
                              uint64_t *total, unsigned flags);

#ifdef __cplusplus
}
#endif

#endif /* CPC_CONTENT_H */
