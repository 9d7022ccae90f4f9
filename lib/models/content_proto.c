/* content_proto.c: ContentMetadata <-> protobuf (proto/cpc/models/v1/content.proto). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/content_metadata.h"
#include "cpc/error.h"
#include "cpc/models/v1/content.pb-c.h"
#include "models/content_int.h"

typedef Cpc__Models__V1__ContentMetadata PbMeta;
typedef Cpc__Models__V1__WrappedKey PbKey;

struct texts { /* PeerId texts the protobuf structs point into */
  char owner[CPC_PEER_ID_MAX_TEXT];
  char (*readers)[CPC_PEER_ID_MAX_TEXT];
};

int cpc_content_metadata_encode(const cpc_content_metadata *md, uint8_t **out,
                                size_t *len) {
  PbMeta pb = CPC__MODELS__V1__CONTENT_METADATA__INIT;
  PbKey *keys = NULL, **keyp = NULL;
  char *tagp[CPC_CONTENT_TAGS_MAX];
  struct texts t = {.readers = NULL};
  uint8_t cid[CPC_CID_MAX_BYTES];
  size_t cid_len = 0, n = md->n_wrapped_keys;
  int rc;
  *out = NULL;
  if (cpc_content_metadata_check(md, NULL, 0) != 0 ||
      cpc_cid_encode(&md->content_id, cid, sizeof cid, &cid_len) != 0 ||
      cpc_peer_id_format(&md->owner, t.owner, sizeof t.owner) != 0)
    return CPC_EINVAL;
  if (n) {
    keys = calloc(n, sizeof *keys);
    keyp = calloc(n, sizeof *keyp);
    t.readers = calloc(n, sizeof *t.readers);
    if (!keys || !keyp || !t.readers) {
      rc = CPC_ENOMEM;
      goto out;
    }
  }
  for (size_t i = 0; i < n; i++) {
    const cpc_wrapped_key *k = &md->wrapped_keys[i];
    if (cpc_peer_id_format(&k->reader, t.readers[i], CPC_PEER_ID_MAX_TEXT) != 0) {
      rc = CPC_EINVAL;
      goto out;
    }
    cpc__models__v1__wrapped_key__init(&keys[i]);
    keys[i].reader = t.readers[i];
    keys[i].sealed_key.data = (uint8_t *)k->sealed;
    keys[i].sealed_key.len = CPC_SEALED_KEY_LEN;
    keyp[i] = &keys[i];
  }
  for (size_t i = 0; i < md->n_tags; i++)
    tagp[i] = (char *)md->tags[i];
  pb.content_id.data = cid;
  pb.content_id.len = cid_len;
  pb.owner = t.owner;
  pb.size = md->size;
  pb.created_at = md->created_at;
  pb.replicas = md->replicas;
  pb.access_control = (Cpc__Models__V1__AccessControl)md->access;
  pb.name = (char *)md->name;
  pb.n_tags = md->n_tags;
  pb.tags = tagp;
  pb.n_wrapped_keys = n;
  pb.wrapped_keys = keyp;
  if (md->has_content_key) {
    pb.content_key.data = (uint8_t *)md->content_key;
    pb.content_key.len = CPC_AEAD_KEY_LEN;
  }
  *len = cpc__models__v1__content_metadata__get_packed_size(&pb);
  *out = malloc(*len ? *len : 1);
  if (!*out) {
    rc = CPC_ENOMEM;
    goto out;
  }
  cpc__models__v1__content_metadata__pack(&pb, *out);
  rc = 0;
out:
  free(keys);
  free(keyp);
  free(t.readers);
  return rc;
}

static int copy_text(const char *s, char *dst, size_t max) {
  if (!s || strlen(s) > max)
    return CPC_ETOOBIG;
  strcpy(dst, s);
  return 0;
}

static int from_pb(const PbMeta *pb, cpc_content_metadata *md) {
  size_t used = 0;
  int rc;
  if (pb->n_tags > CPC_CONTENT_TAGS_MAX ||
      pb->n_wrapped_keys > CPC_CONTENT_READERS_MAX)
    return CPC_ETOOBIG;
  if (cpc_cid_decode(pb->content_id.data, pb->content_id.len, &md->content_id,
                     &used) != 0 ||
      used != pb->content_id.len)
    return CPC_EMALFORMED;
  if (!pb->owner || cpc_peer_id_parse(pb->owner, &md->owner) != 0)
    return CPC_EMALFORMED;
  md->size = pb->size;
  md->created_at = pb->created_at;
  md->replicas = pb->replicas;
  md->access = (enum cpc_access_control)pb->access_control;
  rc = copy_text(pb->name, md->name, CPC_CONTENT_NAME_MAX);
  if (rc != 0)
    return rc;
  for (size_t i = 0; i < pb->n_tags; i++) {
    rc = copy_text(pb->tags[i], md->tags[i], CPC_CONTENT_TAG_MAX);
    if (rc != 0)
      return rc;
    md->n_tags++;
  }
  for (size_t i = 0; i < pb->n_wrapped_keys; i++) {
    const PbKey *k = pb->wrapped_keys[i];
    cpc_peer_id reader;
    if (!k->reader || cpc_peer_id_parse(k->reader, &reader) != 0 ||
        k->sealed_key.len != CPC_SEALED_KEY_LEN)
      return CPC_EMALFORMED;
    rc = cpc__content_metadata_append_key(md, &reader, k->sealed_key.data);
    if (rc != 0)
      return rc;
  }
  if (pb->content_key.len != 0) {
    if (pb->content_key.len != CPC_AEAD_KEY_LEN)
      return CPC_EMALFORMED;
    memcpy(md->content_key, pb->content_key.data, CPC_AEAD_KEY_LEN);
    md->has_content_key = 1;
  }
  return cpc_content_metadata_check(md, NULL, 0) == 0 ? 0 : CPC_EMALFORMED;
}

int cpc_content_metadata_decode(const uint8_t *in, size_t len,
                                cpc_content_metadata *md) {
  PbMeta *pb;
  int rc;
  cpc_content_metadata_init(md);
  if (len > CPC_CONTENT_METADATA_MAX)
    return CPC_ETOOBIG;
  pb = cpc__models__v1__content_metadata__unpack(NULL, len, in);
  if (!pb)
    return CPC_EMALFORMED;
  rc = from_pb(pb, md);
  if (pb->content_key.data)
    sodium_memzero(pb->content_key.data, pb->content_key.len);
  cpc__models__v1__content_metadata__free_unpacked(pb, NULL);
  return rc;
}
