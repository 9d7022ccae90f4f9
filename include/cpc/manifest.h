/*
 * cpc/manifest.h: the (plaintext) manifest of a piece of content and its
 * protobuf encoding (proto/cpc/content/v1/manifest.proto).
 *
 * The root manifest lists the chunks inline, or, for large content, the
 * manifest pages that list them. Encryption of manifests and chunks lives in
 * cpc/content.h; this module only encodes, decodes and checks structure.
 */
#ifndef CPC_MANIFEST_H
#define CPC_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "cpc/chunker.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CPC_MANIFEST_VERSION 1
/* Largest block (chunk or manifest) the content format produces or accepts. */
#define CPC_BLOCK_MAX (2u << 20)
/* Largest encoded manifest or manifest page (plaintext). */
#define CPC_MANIFEST_PAGE_MAX (1u << 20)
/* Binary CIDv1 raw blake3: 0x01 0x55 0x1e 0x20 + 32-byte digest. */
#define CPC_BLOCK_CID_LEN 36

enum cpc_compression {
  CPC_COMPRESSION_NONE = 0,
  CPC_COMPRESSION_ZSTD = 1,
};

typedef struct cpc_chunk_ref {
  uint8_t cid[CPC_BLOCK_CID_LEN];
  uint32_t plaintext_size; /* 1..CPC_CHUNK_MAX */
  uint32_t stored_size;    /* block bytes, <= CPC_BLOCK_MAX */
  uint8_t compressed;      /* 0 or 1 */
} cpc_chunk_ref;

typedef struct cpc_page_ref {
  uint8_t cid[CPC_BLOCK_CID_LEN];
  uint32_t stored_size;
  uint64_t chunk_count;
  uint64_t plaintext_size;
} cpc_page_ref;

/* A root manifest. Decoded manifests own chunks and pages (heap). */
typedef struct cpc_manifest {
  cpc_chunker_params chunker;
  enum cpc_compression compression;
  uint64_t total_size;
  uint64_t chunk_count;
  cpc_chunk_ref *chunks; /* inline list, or NULL */
  size_t n_chunks;
  cpc_page_ref *pages; /* page list, or NULL */
  size_t n_pages;
} cpc_manifest;

typedef struct cpc_manifest_page {
  uint64_t page_index;
  uint64_t first_chunk;
  cpc_chunk_ref *chunks;
  size_t n_chunks;
} cpc_manifest_page;

/* Bytes a chunk ref adds to an encoded manifest page. */
size_t cpc_chunk_ref_encoded_size(const cpc_chunk_ref *r);
/* Bytes a page ref adds to an encoded root manifest. */
size_t cpc_page_ref_encoded_size(const cpc_page_ref *r);
/* Upper bound of an encoded page's or manifest's bytes outside its lists. */
#define CPC_MANIFEST_HEADER_MAX 96

/*
 * Encode m (borrowed) into out (cap bytes); *len gets the size. Errors:
 * CPC_ETOOBIG (cap short, or the encoding exceeds CPC_MANIFEST_PAGE_MAX),
 * CPC_ENOMEM, CPC_EINVAL (m breaks the rules cpc_manifest_decode checks).
 */
int cpc_manifest_encode(const cpc_manifest *m, uint8_t *out, size_t cap,
                        size_t *len);

/*
 * Decode and check a manifest from in[0..len) (borrowed) into *m, which the
 * caller releases with cpc_manifest_clear() (also after an error).
 * Checks: version, known chunker/cipher/compression, chunker parameters,
 * chunks or pages (not both), counts and sizes adding up, every chunk ref
 * (see cpc_chunk_ref_check), page refs (non-empty, block size in range).
 * Errors: CPC_ETOOBIG (len over CPC_MANIFEST_PAGE_MAX), CPC_EMALFORMED,
 * CPC_EUNSUPPORTED (another version, cipher or compression), CPC_ENOMEM.
 */
int cpc_manifest_decode(const uint8_t *in, size_t len, cpc_manifest *m);

/* Free what a decoded manifest owns and zero it. m may be NULL. */
void cpc_manifest_clear(cpc_manifest *m);

/* Page variants: same contracts. decode checks each chunk ref against m's
 * parameters (borrowed) but not the page's place; the caller compares
 * page_index, first_chunk and totals with the page ref. */
int cpc_manifest_page_encode(const cpc_manifest_page *p, uint8_t *out,
                             size_t cap, size_t *len);
int cpc_manifest_page_decode(const uint8_t *in, size_t len,
                             const cpc_manifest *m, cpc_manifest_page *p);
void cpc_manifest_page_clear(cpc_manifest_page *p);

/*
 * Check one chunk ref against the manifest's parameters: CID is CIDv1 raw
 * blake3, plaintext size 1..max_size, stored size = plaintext + 16 when not
 * compressed, 17..plaintext + 16 when compressed (which needs zstd).
 * Returns 0 or CPC_EMALFORMED.
 */
int cpc_chunk_ref_check(const cpc_manifest *m, const cpc_chunk_ref *r);

#ifdef __cplusplus
}
#endif

#endif /* CPC_MANIFEST_H */
