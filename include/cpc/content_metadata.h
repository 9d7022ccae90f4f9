/*
 * cpc/content_metadata.h: ContentMetadata and AccessControl (DESIGN.md
 * section 4, seed structures) with protobuf (proto/cpc/models/v1/
 * content.proto) and JSON encodings.
 *
 * JSON form:
 *   { "content_id": "bafkr4i…",        CIDv1 raw blake3, base32
 *     "owner": "16Uiu2…",              PeerId text
 *     "size": 123,                     plaintext bytes, <= 2^53 - 1
 *     "created_at": 1700000000,        Unix time, seconds
 *     "replicas": 3,                   optional, 1..64, default 3
 *     "access_control": "public" | "followers_only" | "private",
 *     "name": "…",                     optional, UTF-8, <= 255 bytes
 *     "tags": ["…"],                   optional, <= 32 tags of 1..64 bytes
 *     "wrapped_keys": [ {"reader": "16Uiu2…", "sealed_key": "<base64>"} ],
 *                                      optional, <= 4096, readers distinct
 *     "content_key": "<base64>" }      32 bytes; required for public,
 *                                      refused otherwise
 * Binary fields are standard base64 with padding. Unknown fields, missing
 * required fields and fields of the wrong type are refused with a message
 * naming the field.
 *
 * The same rules hold for every encoding (cpc_content_metadata_check), so
 * a record that decodes is one that could have been encoded.
 */
#ifndef CPC_CONTENT_METADATA_H
#define CPC_CONTENT_METADATA_H

#include <stddef.h>
#include <stdint.h>

#include "cpc/aead.h"
#include "cpc/cid.h"
#include "cpc/peer_id.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CPC_CONTENT_NAME_MAX 255
#define CPC_CONTENT_TAG_MAX 64
#define CPC_CONTENT_TAGS_MAX 32
#define CPC_CONTENT_READERS_MAX 4096
#define CPC_CONTENT_REPLICAS_DEFAULT 3
#define CPC_CONTENT_REPLICAS_MAX 64
/* Largest encoded record either decoder accepts. */
#define CPC_CONTENT_METADATA_MAX (1u << 20)

/* Values are stored in protobuf: never renumber. */
enum cpc_access_control {
  CPC_ACCESS_PUBLIC = 1,
  CPC_ACCESS_FOLLOWERS_ONLY = 2,
  CPC_ACCESS_PRIVATE = 3,
};

/* "public", "followers_only", "private", or NULL for other values. */
const char *cpc_access_control_name(enum cpc_access_control ac);
/* The value named name. CPC_EINVAL for an unknown name. */
int cpc_access_control_parse(const char *name, enum cpc_access_control *ac);

typedef struct cpc_wrapped_key {
  cpc_peer_id reader;
  uint8_t sealed[CPC_SEALED_KEY_LEN];
} cpc_wrapped_key;

/*
 * The caller owns the struct; wrapped_keys is heap memory it owns through
 * cpc_content_metadata_clear(). Fields may be set directly; the encoders
 * check them.
 */
typedef struct cpc_content_metadata {
  cpc_cid content_id;
  cpc_peer_id owner;
  uint64_t size;
  int64_t created_at;
  uint32_t replicas;
  enum cpc_access_control access;
  char name[CPC_CONTENT_NAME_MAX + 1];
  char tags[CPC_CONTENT_TAGS_MAX][CPC_CONTENT_TAG_MAX + 1];
  size_t n_tags;
  cpc_wrapped_key *wrapped_keys;
  size_t n_wrapped_keys;
  uint8_t content_key[CPC_AEAD_KEY_LEN]; /* Public only */
  int has_content_key;
} cpc_content_metadata;

/* Empty record: replicas 3, access Private, no keys. Never fails. */
void cpc_content_metadata_init(cpc_content_metadata *md);

/* Free wrapped keys, wipe the content key, re-init. md may be NULL. */
void cpc_content_metadata_clear(cpc_content_metadata *md);

/*
 * Add a key sealed for reader (both copied). Errors: CPC_EEXIST (reader
 * already has one), CPC_ETOOBIG (CPC_CONTENT_READERS_MAX), CPC_ENOMEM.
 */
int cpc_content_metadata_add_wrapped_key(cpc_content_metadata *md,
                                         const cpc_peer_id *reader,
                                         const uint8_t sealed[CPC_SEALED_KEY_LEN]);

/* The key sealed for reader, or NULL (borrowed from md). */
const cpc_wrapped_key *
cpc_content_metadata_find_wrapped_key(const cpc_content_metadata *md,
                                      const cpc_peer_id *reader);

/*
 * Add a tag (NUL-terminated, copied). Errors: CPC_EINVAL (empty, not UTF-8,
 * control characters), CPC_ETOOBIG (over CPC_CONTENT_TAG_MAX bytes, or
 * CPC_CONTENT_TAGS_MAX tags), CPC_EEXIST (already there).
 */
int cpc_content_metadata_add_tag(cpc_content_metadata *md, const char *tag);

/*
 * Check every rule: content_id CIDv1 raw blake3; owner set; replicas
 * 1..CPC_CONTENT_REPLICAS_MAX; access a known value; name UTF-8 without
 * control characters; tags as for add_tag; readers distinct; a content key
 * exactly when access is Public. If err (err_cap bytes) is not NULL it gets
 * a message naming the field. Returns 0 or CPC_EINVAL.
 */
int cpc_content_metadata_check(const cpc_content_metadata *md, char *err,
                               size_t err_cap);

/*
 * Protobuf. encode: *out is malloc'd (free()), *len its size; errors
 * CPC_EINVAL (check fails), CPC_ENOMEM. decode: in[0..len) borrowed, md
 * filled (clear it afterwards, also on error); errors CPC_ETOOBIG (len
 * over CPC_CONTENT_METADATA_MAX or a list over its cap), CPC_EMALFORMED
 * (bad protobuf, bad CID or PeerId, a key of the wrong size, a rule of
 * cpc_content_metadata_check broken), CPC_ENOMEM.
 */
int cpc_content_metadata_encode(const cpc_content_metadata *md, uint8_t **out,
                                size_t *len);
int cpc_content_metadata_decode(const uint8_t *in, size_t len,
                                cpc_content_metadata *md);

/*
 * JSON (format above). to_json: *out malloc'd NUL-terminated (free()),
 * pretty indents; CPC_EINVAL (check fails), CPC_ENOMEM. from_json: text
 * [0..len) borrowed; md filled (clear it afterwards, also on error); err
 * (may be NULL) gets a message naming the field at fault. Errors:
 * CPC_EMALFORMED (bad JSON, unknown/missing/ill-typed field, bad value),
 * CPC_ETOOBIG (over CPC_CONTENT_METADATA_MAX, a string or list over its
 * cap), CPC_ENOMEM.
 */
int cpc_content_metadata_to_json(const cpc_content_metadata *md, int pretty,
                                 char **out);
int cpc_content_metadata_from_json(const char *text, size_t len,
                                   cpc_content_metadata *md, char *err,
                                   size_t err_cap);

#ifdef __cplusplus
}
#endif

#endif /* CPC_CONTENT_METADATA_H */
