/* content_int.h: internals shared by the content pipeline's files. */
#ifndef CPC_CONTENT_INT_H
#define CPC_CONTENT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

#include "cpc/aead.h"
#include "cpc/cid.h"
#include "cpc/content.h"
#include "cpc/manifest.h"

/* --- compress.c ---------------------------------------------------------- */

/* Worst-case zstd output for len bytes (the scratch size compress needs). */
size_t cpc__compress_bound(size_t len);

/*
 * The cheap probe: 1 if compressing data[0..len) may pay (len > 0 and
 * either short or one of three 4 KiB samples compresses by 1/16 in zstd's
 * fast mode), 0 if the chunk is to be stored as is without trying.
 * scratch_cap should be cpc__compress_probe_scratch_len(). A zstd failure
 * counts as "does not pay".
 */
int cpc__compress_probe(ZSTD_CCtx *cctx, const uint8_t *data, size_t len,
                        uint8_t *scratch, size_t scratch_cap);
/* Scratch bytes the probe needs. */
size_t cpc__compress_probe_scratch_len(void);

/*
 * Compress src (after a probe said it may pay) and keep the result if it
 * saves >= 1/8: *out_len gets the compressed size in dst, or 0 if the chunk
 * is to be stored as is. dst_cap should be cpc__compress_bound(len).
 * Returns 0 or CPC_ENOMEM.
 */
int cpc__compress_chunk(ZSTD_CCtx *cctx, const uint8_t *src, size_t len,
                        uint8_t *dst, size_t dst_cap, size_t *out_len);

/*
 * Decompress one zstd frame whose declared content size must be expect,
 * into dst (expect bytes; never writes more). CPC_EMALFORMED if the frame
 * is bad or its size is not expect; CPC_ENOMEM.
 */
int cpc__decompress_chunk(ZSTD_DCtx *dctx, const uint8_t *src, size_t len,
                          uint8_t *dst, size_t expect);

/* --- block.c ------------------------------------------------------------- */

#define CPC__AAD_LEN 6

/* AAD of a block: "CPC", format version, nonce domain, compressed flag. */
void cpc__block_aad(uint32_t domain, int compressed, uint8_t aad[CPC__AAD_LEN]);

/* The binary CIDv1 raw blake3 for a BLAKE3 digest. */
void cpc__block_cid_bytes(const uint8_t digest[32],
                          uint8_t cid[CPC_BLOCK_CID_LEN]);

/* The same as a cpc_cid (bytes must be a valid CPC_BLOCK_CID_LEN CID). */
void cpc__block_cid_from_bytes(const uint8_t bytes[CPC_BLOCK_CID_LEN],
                               cpc_cid *cid);

/* 1 if cid is CIDv1 raw blake3 with a 32-byte digest. */
int cpc__block_cid_ok(const cpc_cid *cid);

/*
 * Encrypt payload as block (domain, index) into out (cap >= len + 16),
 * hash it and give its CID in cid_bytes. Used for manifest blocks; chunks
 * go through the pipelined path in encrypt.c.
 */
int cpc__block_seal(const uint8_t key[CPC_AEAD_KEY_LEN], uint32_t domain,
                    uint64_t index, const uint8_t *payload, size_t len,
                    uint8_t *out, size_t cap, size_t *out_len,
                    uint8_t cid_bytes[CPC_BLOCK_CID_LEN]);

/* --- hash_worker.c ------------------------------------------------------- */

/*
 * A job for the worker: BLAKE3 of data[0..len) into digest, or, when
 * probe_cctx is set, the compression probe of data[0..len) into pays
 * (probe_cctx and scratch are then used by the worker until it is done).
 */
typedef struct cpc__hash_job {
  const uint8_t *data;
  size_t len;
  uint8_t digest[32];
  ZSTD_CCtx *probe_cctx;
  uint8_t *scratch;
  size_t scratch_cap;
  int pays;
  atomic_int state; /* 0 idle, 1 queued, 2 done (results then readable) */
} cpc__hash_job;

#define CPC__HASH_QUEUE 8

/*
 * One thread hashing jobs in submission order. Handing a job over and
 * picking up its digest take no system call in the common case: each side
 * spins briefly (a chunk takes tens of microseconds) before sleeping on a
 * condition variable, and a side signals only when the other one sleeps.
 */
typedef struct cpc__hash_worker {
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake; /* jobs queued or stop */
  pthread_cond_t done; /* a job finished */
  cpc__hash_job *queue[CPC__HASH_QUEUE];
  atomic_size_t submitted, completed; /* counts; queue slot = count % size */
  atomic_int worker_sleeps, caller_sleeps, stop;
  int started;
} cpc__hash_worker;

/* Start the thread. CPC_EAGAIN if it cannot be created. */
int cpc__hash_worker_start(cpc__hash_worker *w);
/* Queue job (borrowed until it is done). At most CPC__HASH_QUEUE pending,
 * else CPC_EAGAIN. Only one thread may submit and wait. */
int cpc__hash_worker_submit(cpc__hash_worker *w, cpc__hash_job *job);
/* Block until job (submitted earlier) is done. */
void cpc__hash_worker_wait(cpc__hash_worker *w, cpc__hash_job *job);
/* Finish queued jobs, join the thread. Safe on a worker never started. */
void cpc__hash_worker_stop(cpc__hash_worker *w);

/* --- manifest_writer.c --------------------------------------------------- */

/*
 * Collects chunk refs as chunks are emitted. When the refs would overflow a
 * page of page_cap bytes, they are encoded, encrypted and written as a
 * manifest page, and only a page ref is kept: memory stays bounded by one
 * page whatever the content length.
 */
typedef struct cpc__manifest_writer {
  const uint8_t *key; /* borrowed from the encryptor */
  cpc_block_sink_fn sink;
  void *ctx;
  size_t page_cap;
  cpc_chunk_ref *refs; /* the current page */
  size_t n_refs, refs_cap, page_bytes;
  uint64_t page_first, page_plaintext;
  cpc_page_ref *pages;
  size_t n_pages, pages_cap, root_bytes;
  uint64_t chunk_count, total;
  uint8_t *plain, *block; /* page_cap and page_cap + 16 bytes */
} cpc__manifest_writer;

/*
 * Set up w for pages of page_cap bytes; key (CPC_AEAD_KEY_LEN bytes), sink
 * and ctx are borrowed until cpc__manifest_writer_free(). CPC_ENOMEM (w is
 * then already freed).
 */
int cpc__manifest_writer_init(cpc__manifest_writer *w, size_t page_cap,
                              const uint8_t *key, cpc_block_sink_fn sink,
                              void *ctx);
/* Record the next chunk (in order); may write a page. */
int cpc__manifest_writer_add(cpc__manifest_writer *w, const cpc_chunk_ref *r);
/* Write the last page (if paged) and the root manifest; its CID to root. */
int cpc__manifest_writer_finish(cpc__manifest_writer *w,
                                const cpc_chunker_params *params,
                                enum cpc_compression compression,
                                cpc_cid *root);
/* Free what w holds and zero it; safe after a failed init. */
void cpc__manifest_writer_free(cpc__manifest_writer *w);

#endif /* CPC_CONTENT_INT_H */
