/* manifest_writer.c: chunk list -> (paged) encrypted manifest blocks. */
#include <stdlib.h>
#include <string.h>

#include "content/content_int.h"
#include "cpc/error.h"

/* The smallest encoded chunk ref: 36-byte CID, sizes of 1 byte, no flag. */
#define MIN_REF_BYTES 44

int cpc__manifest_writer_init(cpc__manifest_writer *w, size_t page_cap,
                              const uint8_t *key, cpc_block_sink_fn sink,
                              void *ctx) {
  memset(w, 0, sizeof *w);
  w->key = key;
  w->sink = sink;
  w->ctx = ctx;
  w->page_cap = page_cap;
  w->refs_cap = page_cap / MIN_REF_BYTES + 1;
  w->root_bytes = CPC_MANIFEST_HEADER_MAX;
  w->page_bytes = CPC_MANIFEST_HEADER_MAX;
  w->refs = calloc(w->refs_cap, sizeof *w->refs);
  w->plain = malloc(page_cap);
  w->block = malloc(page_cap + CPC_AEAD_TAG_LEN);
  if (!w->refs || !w->plain || !w->block) {
    cpc__manifest_writer_free(w);
    return CPC_ENOMEM;
  }
  return 0;
}

void cpc__manifest_writer_free(cpc__manifest_writer *w) {
  free(w->refs);
  free(w->pages);
  free(w->plain);
  free(w->block);
  memset(w, 0, sizeof *w);
}

static int write_block(cpc__manifest_writer *w, uint32_t domain, uint64_t index,
                       size_t plain_len, uint8_t cid_bytes[CPC_BLOCK_CID_LEN],
                       size_t *stored) {
  cpc_cid cid;
  int rc = cpc__block_seal(w->key, domain, index, w->plain, plain_len, w->block,
                           w->page_cap + CPC_AEAD_TAG_LEN, stored, cid_bytes);
  if (rc != 0)
    return rc;
  cpc__block_cid_from_bytes(cid_bytes, &cid);
  return w->sink(w->ctx, &cid, w->block, *stored);
}

static int flush_page(cpc__manifest_writer *w) {
  cpc_manifest_page page = {.page_index = w->n_pages,
                            .first_chunk = w->page_first,
                            .chunks = w->refs,
                            .n_chunks = w->n_refs};
  cpc_page_ref ref;
  size_t len = 0, stored = 0;
  int rc;
  if (w->n_pages == w->pages_cap) {
    size_t cap = w->pages_cap ? 2 * w->pages_cap : 16;
    cpc_page_ref *p = realloc(w->pages, cap * sizeof *p);
    if (!p)
      return CPC_ENOMEM;
    w->pages = p;
    w->pages_cap = cap;
  }
  rc = cpc_manifest_page_encode(&page, w->plain, w->page_cap, &len);
  if (rc == 0)
    rc = write_block(w, CPC_AEAD_DOMAIN_MANIFEST_PAGE, w->n_pages, len, ref.cid,
                     &stored);
  if (rc != 0)
    return rc;
  ref.stored_size = (uint32_t)stored;
  ref.chunk_count = w->n_refs;
  ref.plaintext_size = w->page_plaintext;
  w->root_bytes += cpc_page_ref_encoded_size(&ref);
  if (w->root_bytes > w->page_cap)
    return CPC_ETOOBIG; /* content too large for a two-level manifest */
  w->pages[w->n_pages++] = ref;
  w->page_first += w->n_refs;
  w->page_plaintext = 0;
  w->n_refs = 0;
  w->page_bytes = CPC_MANIFEST_HEADER_MAX;
  return 0;
}

int cpc__manifest_writer_add(cpc__manifest_writer *w, const cpc_chunk_ref *r) {
  size_t need = cpc_chunk_ref_encoded_size(r);
  if (w->page_bytes + need > w->page_cap || w->n_refs == w->refs_cap) {
    int rc = flush_page(w);
    if (rc != 0)
      return rc;
  }
  w->refs[w->n_refs++] = *r;
  w->page_bytes += need;
  w->page_plaintext += r->plaintext_size;
  w->chunk_count++;
  w->total += r->plaintext_size;
  return 0;
}

int cpc__manifest_writer_finish(cpc__manifest_writer *w,
                                const cpc_chunker_params *params,
                                enum cpc_compression compression,
                                cpc_cid *root) {
  cpc_manifest m = {.chunker = *params,
                    .compression = compression,
                    .total_size = w->total,
                    .chunk_count = w->chunk_count};
  uint8_t cid_bytes[CPC_BLOCK_CID_LEN];
  size_t len = 0, stored = 0;
  int rc;
  if (w->n_pages > 0 && w->n_refs > 0) {
    rc = flush_page(w);
    if (rc != 0)
      return rc;
  }
  if (w->n_pages > 0) {
    m.pages = w->pages;
    m.n_pages = w->n_pages;
  } else {
    m.chunks = w->refs; /* fits: page_bytes <= page_cap */
    m.n_chunks = w->n_refs;
  }
  rc = cpc_manifest_encode(&m, w->plain, w->page_cap, &len);
  if (rc == 0)
    rc = write_block(w, CPC_AEAD_DOMAIN_MANIFEST, 0, len, cid_bytes, &stored);
  if (rc == 0)
    cpc__block_cid_from_bytes(cid_bytes, root);
  return rc;
}
