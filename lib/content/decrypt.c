/*
 * decrypt.c: content_id + key -> plaintext (cpc/content.h).
 *
 * Every block is fetched into a bounded buffer, its size compared with what
 * the manifest says, hashed and compared with its CID, and only then
 * decrypted. Chunk plaintext is streamed out in order.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "content/content_int.h"
#include "cpc/blake3.h"
#include "cpc/error.h"

struct reader {
  const uint8_t *key;
  cpc_block_source_fn source;
  void *source_ctx;
  cpc_plaintext_sink_fn out;
  void *out_ctx;
  const cpc_manifest *m;
  uint8_t *block; /* CPC_BLOCK_MAX */
  uint8_t *plain; /* CPC_BLOCK_MAX: decrypted payload */
  uint8_t *chunk; /* CPC_CHUNK_MAX: decompressed chunk */
  ZSTD_DCtx *dctx;
  uint64_t next_chunk, written;
  int verified; /* CPC_CONTENT_SOURCE_VERIFIED: blocks are not hashed */
};

/*
 * Fetch the block cid_bytes into r->block. want is its size from the
 * manifest, or 0 when unknown (the root). *len gets the size.
 */
static int fetch(struct reader *r, const uint8_t cid_bytes[CPC_BLOCK_CID_LEN],
                 size_t want, size_t *len) {
  uint8_t digest[32];
  cpc_cid cid;
  int rc;
  cpc__block_cid_from_bytes(cid_bytes, &cid);
  rc = r->source(r->source_ctx, &cid, r->block, CPC_BLOCK_MAX, len);
  if (rc == CPC_ETOOBIG)
    return CPC_EMISMATCH; /* larger than any block: not what cid names */
  if (rc != 0)
    return rc;
  if (*len > CPC_BLOCK_MAX)
    return CPC_EINVAL; /* the source broke its contract */
  if (want != 0 && *len < want)
    return CPC_ETRUNC;
  if (want != 0 && *len > want)
    return CPC_EMISMATCH;
  if (r->verified)
    return 0;
  cpc_blake3(r->block, *len, digest);
  if (memcmp(digest, cid_bytes + 4, 32) != 0)
    return CPC_EMISMATCH;
  return 0;
}

/* Decrypt r->block[0..len) as (domain, index) into r->plain. */
static int open_block(struct reader *r, uint32_t domain, uint64_t index,
                      int compressed, size_t len, size_t *plain_len) {
  uint8_t nonce[CPC_AEAD_NONCE_LEN], aad[CPC__AAD_LEN];
  cpc_aead_nonce(domain, index, nonce);
  cpc__block_aad(domain, compressed, aad);
  return cpc_aead_decrypt(r->key, nonce, aad, sizeof aad, r->block, len,
                          r->plain, CPC_BLOCK_MAX, plain_len);
}

static int read_chunk(struct reader *r, const cpc_chunk_ref *ref) {
  size_t len = 0, plain_len = 0;
  int rc = fetch(r, ref->cid, ref->stored_size, &len);
  if (rc == 0)
    rc = open_block(r, CPC_AEAD_DOMAIN_CHUNK, r->next_chunk, ref->compressed,
                    len, &plain_len);
  if (rc != 0)
    return rc;
  const uint8_t *data = r->plain;
  if (ref->compressed) {
    rc = cpc__decompress_chunk(r->dctx, r->plain, plain_len, r->chunk,
                               ref->plaintext_size);
    if (rc != 0)
      return rc;
    data = r->chunk;
  } else if (plain_len != ref->plaintext_size) {
    return CPC_EMALFORMED;
  }
  /* Fixed chunking: every chunk but the last has the full size. */
  if (r->m->chunker.kind == CPC_CHUNKER_FIXED &&
      r->next_chunk + 1 < r->m->chunk_count &&
      ref->plaintext_size != r->m->chunker.avg_size)
    return CPC_EMALFORMED;
  r->next_chunk++;
  r->written += ref->plaintext_size;
  return r->out(r->out_ctx, data, ref->plaintext_size);
}

static int read_page(struct reader *r, uint64_t index, const cpc_page_ref *ref) {
  cpc_manifest_page page;
  uint64_t bytes = 0;
  size_t len = 0, plain_len = 0;
  int rc = fetch(r, ref->cid, ref->stored_size, &len);
  if (rc == 0)
    rc = open_block(r, CPC_AEAD_DOMAIN_MANIFEST_PAGE, index, 0, len, &plain_len);
  if (rc != 0)
    return rc;
  rc = cpc_manifest_page_decode(r->plain, plain_len, r->m, &page);
  if (rc != 0)
    goto out;
  for (size_t i = 0; i < page.n_chunks; i++)
    bytes += page.chunks[i].plaintext_size;
  if (page.page_index != index || page.first_chunk != r->next_chunk ||
      page.n_chunks != ref->chunk_count || bytes != ref->plaintext_size) {
    rc = CPC_EMALFORMED;
    goto out;
  }
  for (size_t i = 0; i < page.n_chunks && rc == 0; i++)
    rc = read_chunk(r, &page.chunks[i]);
out:
  cpc_manifest_page_clear(&page);
  return rc;
}

int cpc_content_decrypt(const cpc_cid *content_id,
                        const uint8_t key[CPC_AEAD_KEY_LEN],
                        cpc_block_source_fn source, void *source_ctx,
                        cpc_plaintext_sink_fn out, void *out_ctx,
                        uint64_t *total) {
  return cpc_content_decrypt_flags(content_id, key, source, source_ctx, out,
                                   out_ctx, total, 0);
}

int cpc_content_decrypt_flags(const cpc_cid *content_id,
                              const uint8_t key[CPC_AEAD_KEY_LEN],
                              cpc_block_source_fn source, void *source_ctx,
                              cpc_plaintext_sink_fn out, void *out_ctx,
                              uint64_t *total, unsigned flags) {
  struct reader r = {.key = key,
                     .source = source,
                     .source_ctx = source_ctx,
                     .out = out,
                     .out_ctx = out_ctx,
                     .verified = (flags & CPC_CONTENT_SOURCE_VERIFIED) != 0};
  cpc_manifest m;
  uint8_t root[CPC_BLOCK_CID_LEN];
  size_t len = 0, plain_len = 0;
  int rc = 0;
  memset(&m, 0, sizeof m);
  if ((flags & ~(unsigned)CPC_CONTENT_SOURCE_VERIFIED) != 0)
    return CPC_EINVAL;
  if (!cpc__block_cid_ok(content_id))
    return CPC_EUNSUPPORTED;
  r.block = malloc(CPC_BLOCK_MAX);
  r.plain = malloc(CPC_BLOCK_MAX);
  r.chunk = malloc(CPC_CHUNK_MAX);
  r.dctx = ZSTD_createDCtx();
  if (!r.block || !r.plain || !r.chunk || !r.dctx) {
    rc = CPC_ENOMEM;
    goto out;
  }
  /* Frames we write never need a window above the largest chunk. */
  ZSTD_DCtx_setParameter(r.dctx, ZSTD_d_windowLogMax, 20);
  cpc__block_cid_bytes(content_id->mh.digest, root);
  rc = fetch(&r, root, 0, &len);
  if (rc == 0)
    rc = open_block(&r, CPC_AEAD_DOMAIN_MANIFEST, 0, 0, len, &plain_len);
  if (rc == 0)
    rc = cpc_manifest_decode(r.plain, plain_len, &m);
  if (rc != 0)
    goto out;
  r.m = &m;
  for (size_t i = 0; i < m.n_chunks && rc == 0; i++)
    rc = read_chunk(&r, &m.chunks[i]);
  for (size_t i = 0; i < m.n_pages && rc == 0; i++)
    rc = read_page(&r, i, &m.pages[i]);
  if (rc == 0 && (r.next_chunk != m.chunk_count || r.written != m.total_size))
    rc = CPC_EMALFORMED;
  if (rc == 0 && total)
    *total = r.written;
out:
  cpc_manifest_clear(&m);
  ZSTD_freeDCtx(r.dctx);
  if (r.plain)
    sodium_memzero(r.plain, CPC_BLOCK_MAX);
  if (r.chunk)
    sodium_memzero(r.chunk, CPC_CHUNK_MAX);
  free(r.block);
  free(r.plain);
  free(r.chunk);
  return rc;
}
