/* manifest.c: manifest and manifest page protobuf encodings (cpc/manifest.h).
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/aead.h"
#include "cpc/error.h"
#include "cpc/manifest.h"
#include "cpc/content/v1/manifest.pb-c.h"

typedef Cpc__Content__V1__ChunkRef PbChunkRef;
typedef Cpc__Content__V1__PageRef PbPageRef;
typedef Cpc__Content__V1__Manifest PbManifest;
typedef Cpc__Content__V1__ManifestPage PbPage;

static const uint8_t cid_prefix[4] = {0x01, 0x55, 0x1e, 0x20};

static int cid_ok(const uint8_t *cid, size_t len) {
  return len == CPC_BLOCK_CID_LEN && memcmp(cid, cid_prefix, 4) == 0;
}

/* Size of a length-delimited field holding n bytes (one-byte tag). */
static size_t field_size(size_t n) {
  size_t v = 1;
  for (size_t x = n; x >= 0x80; x >>= 7)
    v++;
  return 1 + v + n;
}

static void chunk_to_pb(const cpc_chunk_ref *r, PbChunkRef *pb) {
  cpc__content__v1__chunk_ref__init(pb);
  pb->cid.data = (uint8_t *)r->cid;
  pb->cid.len = CPC_BLOCK_CID_LEN;
  pb->plaintext_size = r->plaintext_size;
  pb->stored_size = r->stored_size;
  pb->compressed = r->compressed != 0;
}

static void page_to_pb(const cpc_page_ref *r, PbPageRef *pb) {
  cpc__content__v1__page_ref__init(pb);
  pb->cid.data = (uint8_t *)r->cid;
  pb->cid.len = CPC_BLOCK_CID_LEN;
  pb->stored_size = r->stored_size;
  pb->chunk_count = r->chunk_count;
  pb->plaintext_size = r->plaintext_size;
}

size_t cpc_chunk_ref_encoded_size(const cpc_chunk_ref *r) {
  PbChunkRef pb;
  chunk_to_pb(r, &pb);
  return field_size(cpc__content__v1__chunk_ref__get_packed_size(&pb));
}

size_t cpc_page_ref_encoded_size(const cpc_page_ref *r) {
  PbPageRef pb;
  page_to_pb(r, &pb);
  return field_size(cpc__content__v1__page_ref__get_packed_size(&pb));
}

int cpc_chunk_ref_check(const cpc_manifest *m, const cpc_chunk_ref *r) {
  if (!cid_ok(r->cid, CPC_BLOCK_CID_LEN))
    return CPC_EMALFORMED;
  if (r->plaintext_size == 0 || r->plaintext_size > m->chunker.max_size)
    return CPC_EMALFORMED;
  if (!r->compressed)
    return r->stored_size == r->plaintext_size + CPC_AEAD_TAG_LEN
               ? 0
               : CPC_EMALFORMED;
  if (m->compression != CPC_COMPRESSION_ZSTD ||
      r->stored_size <= CPC_AEAD_TAG_LEN ||
      r->stored_size > r->plaintext_size + CPC_AEAD_TAG_LEN)
    return CPC_EMALFORMED;
  return 0;
}

static int chunk_from_pb(const cpc_manifest *m, const PbChunkRef *pb,
                         cpc_chunk_ref *r) {
  if (!cid_ok(pb->cid.data, pb->cid.len))
    return CPC_EMALFORMED;
  memcpy(r->cid, pb->cid.data, CPC_BLOCK_CID_LEN);
  r->plaintext_size = pb->plaintext_size;
  r->stored_size = pb->stored_size;
  r->compressed = pb->compressed ? 1 : 0;
  return cpc_chunk_ref_check(m, r);
}

/*
 * The protobuf-c form of refs[0..n) (n > 0; borrowed): *items and the
 * pointer array *ptrs a message holds. The caller frees both, also on
 * error. 0 or CPC_ENOMEM.
 */
static int chunks_to_pb(const cpc_chunk_ref *refs, size_t n, PbChunkRef **items,
                        PbChunkRef ***ptrs) {
  *items = calloc(n, sizeof **items);
  *ptrs = calloc(n, sizeof **ptrs);
  if (!*items || !*ptrs)
    return CPC_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    chunk_to_pb(&refs[i], &(*items)[i]);
    (*ptrs)[i] = &(*items)[i];
  }
  return 0;
}

/*
 * Decode and check pb[0..n) (n > 0) against m into a new array *out (the
 * caller frees it, also on error); *n_out counts the refs decoded so far.
 */
static int chunks_from_pb(const cpc_manifest *m, PbChunkRef *const *pb,
                          size_t n, cpc_chunk_ref **out, size_t *n_out) {
  *out = calloc(n, sizeof **out);
  if (!*out)
    return CPC_ENOMEM;
  for (size_t i = 0; i < n; i++, (*n_out)++) {
    int rc = chunk_from_pb(m, pb[i], &(*out)[i]);
    if (rc != 0)
      return rc;
  }
  return 0;
}

/* Pack pb into out (cap bytes), refusing more than CPC_MANIFEST_PAGE_MAX. */
static int pack_capped(const ProtobufCMessage *pb, uint8_t *out, size_t cap,
                       size_t *len) {
  size_t need = protobuf_c_message_get_packed_size(pb);
  if (need > cap || need > CPC_MANIFEST_PAGE_MAX)
    return CPC_ETOOBIG;
  *len = protobuf_c_message_pack(pb, out);
  return 0;
}

/* --- root manifest ----------------------------------------------------- */

static int params_to_pb(const cpc_manifest *m,
                        Cpc__Content__V1__ChunkerParams *cp) {
  if (cpc_chunker_params_check(&m->chunker) != 0)
    return CPC_EINVAL;
  cpc__content__v1__chunker_params__init(cp);
  cp->kind = m->chunker.kind == CPC_CHUNKER_FIXED
                 ? CPC__CONTENT__V1__CHUNKER_KIND__CHUNKER_KIND_FIXED
                 : CPC__CONTENT__V1__CHUNKER_KIND__CHUNKER_KIND_CDC;
  cp->min_size = m->chunker.min_size;
  cp->avg_size = m->chunker.avg_size;
  cp->max_size = m->chunker.max_size;
  return 0;
}

int cpc_manifest_encode(const cpc_manifest *m, uint8_t *out, size_t cap,
                        size_t *len) {
  PbManifest pb = CPC__CONTENT__V1__MANIFEST__INIT;
  Cpc__Content__V1__ChunkerParams cp;
  PbChunkRef *cr = NULL, **crp = NULL;
  PbPageRef *pr = NULL, **prp = NULL;
  int rc = params_to_pb(m, &cp);
  if (rc != 0)
    goto out;
  if (m->n_chunks != 0 && m->n_pages != 0) {
    rc = CPC_EINVAL;
    goto out;
  }
  pb.version = CPC_MANIFEST_VERSION;
  pb.chunker = &cp;
  pb.cipher = CPC__CONTENT__V1__CIPHER__CIPHER_CHACHA20_POLY1305_IETF;
  pb.compression = m->compression == CPC_COMPRESSION_ZSTD
                       ? CPC__CONTENT__V1__COMPRESSION__COMPRESSION_ZSTD
                       : CPC__CONTENT__V1__COMPRESSION__COMPRESSION_NONE;
  pb.total_size = m->total_size;
  pb.chunk_count = m->chunk_count;
  if (m->n_chunks > CPC_MANIFEST_PAGE_MAX ||
      m->n_pages > CPC_MANIFEST_PAGE_MAX) {
    rc = CPC_ETOOBIG;
    goto out;
  }
  if (m->n_chunks) {
    rc = chunks_to_pb(m->chunks, m->n_chunks, &cr, &crp);
    if (rc != 0)
      goto out;
    pb.n_chunks = m->n_chunks;
    pb.chunks = crp;
  }
  if (m->n_pages) {
    pr = calloc(m->n_pages, sizeof *pr);
    prp = calloc(m->n_pages, sizeof *prp);
    if (!pr || !prp) {
      rc = CPC_ENOMEM;
      goto out;
    }
    for (size_t i = 0; i < m->n_pages; i++) {
      page_to_pb(&m->pages[i], &pr[i]);
      prp[i] = &pr[i];
    }
    pb.n_pages = m->n_pages;
    pb.pages = prp;
  }
  rc = pack_capped(&pb.base, out, cap, len);
out:
  free(cr);
  free(crp);
  free(pr);
  free(prp);
  return rc;
}

static int params_from_pb(const Cpc__Content__V1__ChunkerParams *cp,
                          cpc_chunker_params *p) {
  if (!cp)
    return CPC_EMALFORMED;
  if (cp->kind == CPC__CONTENT__V1__CHUNKER_KIND__CHUNKER_KIND_FIXED)
    p->kind = CPC_CHUNKER_FIXED;
  else if (cp->kind == CPC__CONTENT__V1__CHUNKER_KIND__CHUNKER_KIND_CDC)
    p->kind = CPC_CHUNKER_CDC;
  else
    return CPC_EUNSUPPORTED;
  p->min_size = cp->min_size;
  p->avg_size = cp->avg_size;
  p->max_size = cp->max_size;
  return cpc_chunker_params_check(p) == 0 ? 0 : CPC_EMALFORMED;
}

/* Fill m's header fields from pb and check the ones that stand alone. */
static int header_from_pb(const PbManifest *pb, cpc_manifest *m) {
  int rc;
  if (pb->version != CPC_MANIFEST_VERSION)
    return CPC_EUNSUPPORTED;
  if (pb->cipher != CPC__CONTENT__V1__CIPHER__CIPHER_CHACHA20_POLY1305_IETF)
    return CPC_EUNSUPPORTED;
  if (pb->compression == CPC__CONTENT__V1__COMPRESSION__COMPRESSION_NONE)
    m->compression = CPC_COMPRESSION_NONE;
  else if (pb->compression == CPC__CONTENT__V1__COMPRESSION__COMPRESSION_ZSTD)
    m->compression = CPC_COMPRESSION_ZSTD;
  else
    return CPC_EUNSUPPORTED;
  rc = params_from_pb(pb->chunker, &m->chunker);
  if (rc != 0)
    return rc;
  m->total_size = pb->total_size;
  m->chunk_count = pb->chunk_count;
  if (pb->n_chunks != 0 && pb->n_pages != 0)
    return CPC_EMALFORMED;
  if (m->chunk_count == 0 ? m->total_size != 0 || pb->n_pages != 0
                          : pb->n_chunks == 0 && pb->n_pages == 0)
    return CPC_EMALFORMED;
  if (pb->n_chunks != 0 && pb->n_chunks != m->chunk_count)
    return CPC_EMALFORMED;
  return 0;
}

static int page_ref_from_pb(const PbPageRef *pb, cpc_page_ref *r) {
  if (!cid_ok(pb->cid.data, pb->cid.len) || pb->chunk_count == 0 ||
      pb->stored_size <= CPC_AEAD_TAG_LEN || pb->stored_size > CPC_BLOCK_MAX ||
      pb->plaintext_size == 0)
    return CPC_EMALFORMED;
  memcpy(r->cid, pb->cid.data, CPC_BLOCK_CID_LEN);
  r->stored_size = pb->stored_size;
  r->chunk_count = pb->chunk_count;
  r->plaintext_size = pb->plaintext_size;
  return 0;
}

int cpc_manifest_decode(const uint8_t *in, size_t len, cpc_manifest *m) {
  PbManifest *pb = NULL;
  uint64_t chunks = 0, bytes = 0;
  int rc = 0;
  memset(m, 0, sizeof *m);
  if (len > CPC_MANIFEST_PAGE_MAX)
    return CPC_ETOOBIG;
  pb = cpc__content__v1__manifest__unpack(NULL, len, in);
  if (!pb)
    return CPC_EMALFORMED;
  rc = header_from_pb(pb, m);
  if (rc != 0)
    goto out;
  if (pb->n_chunks) {
    rc = chunks_from_pb(m, pb->chunks, pb->n_chunks, &m->chunks, &m->n_chunks);
    if (rc != 0)
      goto out;
    for (size_t i = 0; i < m->n_chunks; i++)
      bytes += m->chunks[i].plaintext_size; /* no overflow: <= 2^20 * 2^20 */
    chunks = m->n_chunks;
  }
  if (pb->n_pages) {
    m->pages = calloc(pb->n_pages, sizeof *m->pages);
    if (!m->pages) {
      rc = CPC_ENOMEM;
      goto out;
    }
    for (size_t i = 0; i < pb->n_pages; i++, m->n_pages++) {
      cpc_page_ref *r = &m->pages[i];
      rc = page_ref_from_pb(pb->pages[i], r);
      if (rc != 0)
        goto out;
      /* A page holds at most a page's worth of refs of >= 1 byte each. */
      if (r->chunk_count > CPC_MANIFEST_PAGE_MAX ||
          r->plaintext_size > r->chunk_count * (uint64_t)m->chunker.max_size) {
        rc = CPC_EMALFORMED;
        goto out;
      }
      chunks += r->chunk_count;
      bytes += r->plaintext_size;
    }
  }
  if (chunks != m->chunk_count || bytes != m->total_size)
    rc = CPC_EMALFORMED;
out:
  if (pb)
    cpc__content__v1__manifest__free_unpacked(pb, NULL);
  return rc;
}

void cpc_manifest_clear(cpc_manifest *m) {
  if (!m)
    return;
  free(m->chunks);
  free(m->pages);
  memset(m, 0, sizeof *m);
}

/* --- manifest pages ---------------------------------------------------- */

int cpc_manifest_page_encode(const cpc_manifest_page *p, uint8_t *out,
                             size_t cap, size_t *len) {
  PbPage pb = CPC__CONTENT__V1__MANIFEST_PAGE__INIT;
  PbChunkRef *cr = NULL, **crp = NULL;
  int rc = 0;
  if (p->n_chunks == 0 || p->n_chunks > CPC_MANIFEST_PAGE_MAX)
    return CPC_EINVAL;
  rc = chunks_to_pb(p->chunks, p->n_chunks, &cr, &crp);
  if (rc != 0)
    goto out;
  pb.version = CPC_MANIFEST_VERSION;
  pb.page_index = p->page_index;
  pb.first_chunk = p->first_chunk;
  pb.n_chunks = p->n_chunks;
  pb.chunks = crp;
  rc = pack_capped(&pb.base, out, cap, len);
out:
  free(cr);
  free(crp);
  return rc;
}

int cpc_manifest_page_decode(const uint8_t *in, size_t len,
                             const cpc_manifest *m, cpc_manifest_page *p) {
  PbPage *pb = NULL;
  int rc = 0;
  memset(p, 0, sizeof *p);
  if (len > CPC_MANIFEST_PAGE_MAX)
    return CPC_ETOOBIG;
  pb = cpc__content__v1__manifest_page__unpack(NULL, len, in);
  if (!pb)
    return CPC_EMALFORMED;
  if (pb->version != CPC_MANIFEST_VERSION) {
    rc = CPC_EUNSUPPORTED;
    goto out;
  }
  if (pb->n_chunks == 0) {
    rc = CPC_EMALFORMED;
    goto out;
  }
  p->page_index = pb->page_index;
  p->first_chunk = pb->first_chunk;
  rc = chunks_from_pb(m, pb->chunks, pb->n_chunks, &p->chunks, &p->n_chunks);
out:
  if (pb)
    cpc__content__v1__manifest_page__free_unpacked(pb, NULL);
  return rc;
}

void cpc_manifest_page_clear(cpc_manifest_page *p) {
  if (!p)
    return;
  free(p->chunks);
  memset(p, 0, sizeof *p);
}
