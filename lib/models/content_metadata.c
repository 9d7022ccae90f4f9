/* content_metadata.c: ContentMetadata rules and helpers
 * (cpc/content_metadata.h). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/content_metadata.h"
#include "cpc/error.h"
#include "models/content_int.h"
#include "models/models_int.h"

static const char *const ac_names[] = {NULL, "public", "followers_only",
                                       "private"};

const char *cpc_access_control_name(enum cpc_access_control ac) {
  return ac >= CPC_ACCESS_PUBLIC && ac <= CPC_ACCESS_PRIVATE ? ac_names[ac]
                                                             : NULL;
}

int cpc_access_control_parse(const char *name, enum cpc_access_control *ac) {
  for (int i = CPC_ACCESS_PUBLIC; i <= CPC_ACCESS_PRIVATE; i++)
    if (strcmp(name, ac_names[i]) == 0) {
      *ac = (enum cpc_access_control)i;
      return 0;
    }
  return CPC_EINVAL;
}

void cpc_content_metadata_init(cpc_content_metadata *md) {
  memset(md, 0, sizeof *md);
  md->replicas = CPC_CONTENT_REPLICAS_DEFAULT;
  md->access = CPC_ACCESS_PRIVATE;
}

void cpc_content_metadata_clear(cpc_content_metadata *md) {
  if (!md)
    return;
  free(md->wrapped_keys);
  sodium_memzero(md->content_key, sizeof md->content_key);
  cpc_content_metadata_init(md);
}

int cpc__content_metadata_append_key(cpc_content_metadata *md,
                                     const cpc_peer_id *reader,
                                     const uint8_t sealed[CPC_SEALED_KEY_LEN]) {
  if (md->n_wrapped_keys >= CPC_CONTENT_READERS_MAX)
    return CPC_ETOOBIG;
  /* Grow by doubling: the array only ever holds the record's keys. */
  size_t n = md->n_wrapped_keys;
  if ((n & (n - 1)) == 0) {
    size_t cap = n ? 2 * n : 1;
    cpc_wrapped_key *k = realloc(md->wrapped_keys, cap * sizeof *k);
    if (!k)
      return CPC_ENOMEM;
    md->wrapped_keys = k;
  }
  md->wrapped_keys[n].reader = *reader;
  memcpy(md->wrapped_keys[n].sealed, sealed, CPC_SEALED_KEY_LEN);
  md->n_wrapped_keys++;
  return 0;
}

const cpc_wrapped_key *
cpc_content_metadata_find_wrapped_key(const cpc_content_metadata *md,
                                      const cpc_peer_id *reader) {
  for (size_t i = 0; i < md->n_wrapped_keys; i++)
    if (cpc_peer_id_equal(&md->wrapped_keys[i].reader, reader))
      return &md->wrapped_keys[i];
  return NULL;
}

int cpc_content_metadata_add_wrapped_key(
    cpc_content_metadata *md, const cpc_peer_id *reader,
    const uint8_t sealed[CPC_SEALED_KEY_LEN]) {
  if (cpc_content_metadata_find_wrapped_key(md, reader))
    return CPC_EEXIST;
  return cpc__content_metadata_append_key(md, reader, sealed);
}

int cpc__text_ok(const char *s, size_t max) {
  const unsigned char *p = (const unsigned char *)s;
  size_t len = strlen(s);
  if (len > max)
    return 0;
  for (size_t i = 0; i < len;) {
    unsigned c = p[i], need, min;
    uint32_t cp;
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f)
        return 0;
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1, min = 0x80, cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2, min = 0x800, cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3, min = 0x10000, cp = c & 0x07;
    } else {
      return 0;
    }
    if (len - i <= need)
      return 0;
    for (unsigned k = 1; k <= need; k++) {
      if ((p[i + k] & 0xc0) != 0x80)
        return 0;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
        (cp >= 0x80 && cp < 0xa0))
      return 0;
    i += need + 1;
  }
  return 1;
}

int cpc_content_metadata_add_tag(cpc_content_metadata *md, const char *tag) {
  if (strlen(tag) > CPC_CONTENT_TAG_MAX)
    return CPC_ETOOBIG;
  if (tag[0] == '\0' || !cpc__text_ok(tag, CPC_CONTENT_TAG_MAX))
    return CPC_EINVAL;
  for (size_t i = 0; i < md->n_tags; i++)
    if (strcmp(md->tags[i], tag) == 0)
      return CPC_EEXIST;
  if (md->n_tags >= CPC_CONTENT_TAGS_MAX)
    return CPC_ETOOBIG;
  strcpy(md->tags[md->n_tags++], tag);
  return 0;
}

static int reader_cmp(const void *a, const void *b) {
  const cpc_peer_id *x = *(const cpc_peer_id *const *)a,
                    *y = *(const cpc_peer_id *const *)b;
  if (x->len != y->len)
    return x->len < y->len ? -1 : 1;
  return memcmp(x->bytes, y->bytes, x->len);
}

/* Readers distinct: sort pointers, compare neighbours, O(n log n). */
static int readers_distinct(const cpc_content_metadata *md, int *ok) {
  const cpc_peer_id **v;
  *ok = 1;
  if (md->n_wrapped_keys < 2)
    return 0;
  v = malloc(md->n_wrapped_keys * sizeof *v);
  if (!v)
    return CPC_ENOMEM;
  for (size_t i = 0; i < md->n_wrapped_keys; i++)
    v[i] = &md->wrapped_keys[i].reader;
  qsort(v, md->n_wrapped_keys, sizeof *v, reader_cmp);
  for (size_t i = 1; i < md->n_wrapped_keys && *ok; i++)
    *ok = reader_cmp(&v[i - 1], &v[i]) != 0;
  free(v);
  return 0;
}

int cpc_content_metadata_check(const cpc_content_metadata *md, char *err,
                               size_t err_cap) {
  int distinct = 1;
  const cpc_cid *c = &md->content_id;
  if (c->version != 1 || c->codec != CPC_CODEC_RAW ||
      c->mh.code != CPC_MH_BLAKE3 || c->mh.digest_len != 32)
    return cpc__fail(err, err_cap, CPC_EINVAL,
                     "field \"content_id\": not a CIDv1 raw blake3");
  if (md->owner.len == 0 || md->owner.len > CPC_PEER_ID_MAX_BYTES)
    return cpc__fail(err, err_cap, CPC_EINVAL, "field \"owner\": missing");
  if (md->replicas < 1 || md->replicas > CPC_CONTENT_REPLICAS_MAX)
    return cpc__fail(err, err_cap, CPC_EINVAL,
                     "field \"replicas\": %u is outside 1..%d", md->replicas,
                     CPC_CONTENT_REPLICAS_MAX);
  if (!cpc_access_control_name(md->access))
    return cpc__fail(err, err_cap, CPC_EINVAL,
                     "field \"access_control\": unknown value %d",
                     (int)md->access);
  if (memchr(md->name, '\0', sizeof md->name) == NULL ||
      !cpc__text_ok(md->name, CPC_CONTENT_NAME_MAX))
    return cpc__fail(
        err, err_cap, CPC_EINVAL,
        "field \"name\": not UTF-8 text of at most %d bytes without "
        "control characters",
        CPC_CONTENT_NAME_MAX);
  if (md->n_tags > CPC_CONTENT_TAGS_MAX)
    return cpc__fail(err, err_cap, CPC_EINVAL, "field \"tags\": more than %d",
                     CPC_CONTENT_TAGS_MAX);
  for (size_t i = 0; i < md->n_tags; i++) {
    if (memchr(md->tags[i], '\0', sizeof md->tags[i]) == NULL ||
        md->tags[i][0] == '\0' ||
        !cpc__text_ok(md->tags[i], CPC_CONTENT_TAG_MAX))
      return cpc__fail(err, err_cap, CPC_EINVAL,
                       "field \"tags\"[%zu]: not 1..%d bytes of UTF-8 text", i,
                       CPC_CONTENT_TAG_MAX);
    for (size_t j = 0; j < i; j++)
      if (strcmp(md->tags[i], md->tags[j]) == 0)
        return cpc__fail(err, err_cap, CPC_EINVAL,
                         "field \"tags\"[%zu]: repeats \"%s\"", i, md->tags[i]);
  }
  if (md->n_wrapped_keys > CPC_CONTENT_READERS_MAX)
    return cpc__fail(err, err_cap, CPC_EINVAL,
                     "field \"wrapped_keys\": more than %d",
                     CPC_CONTENT_READERS_MAX);
  if (readers_distinct(md, &distinct) != 0 || !distinct)
    return cpc__fail(err, err_cap, CPC_EINVAL,
                     "field \"wrapped_keys\": a reader repeats");
  if (md->access == CPC_ACCESS_PUBLIC && !md->has_content_key)
    return cpc__fail(err, err_cap, CPC_EINVAL,
                     "field \"content_key\": public content needs it");
  if (md->access != CPC_ACCESS_PUBLIC && md->has_content_key)
    return cpc__fail(
        err, err_cap, CPC_EINVAL,
        "field \"content_key\": only public content may carry its key "
        "in the clear");
  return 0;
}
