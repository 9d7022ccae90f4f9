/*
 * content_json.c: ContentMetadata <-> JSON (jansson); the format is at the
 * top of cpc/content_metadata.h. Parsing checks the shape with
 * json_unpack_ex(JSON_STRICT) (unknown or missing fields), then each field's
 * type and value, naming the field in every message.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/content_metadata.h"
#include "cpc/error.h"
#include "models/content_int.h"
#include "models/models_int.h"

#define B64 sodium_base64_VARIANT_ORIGINAL
/* Integers JavaScript reads exactly: 2^53 - 1. */
#define JSON_SAFE_MAX ((json_int_t)9007199254740991LL)

/* --- encode -------------------------------------------------------------- */

/* Append v (a new reference, may be NULL) to arr; 0 or CPC_ENOMEM. */
static int append(json_t *arr, json_t *v) {
  return v && json_array_append_new(arr, v) == 0 ? 0 : CPC_ENOMEM;
}

static json_t *keys_array(const cpc_content_metadata *md) {
  json_t *arr = json_array();
  char reader[CPC_PEER_ID_MAX_TEXT];
  for (size_t i = 0; arr && i < md->n_wrapped_keys; i++) {
    const cpc_wrapped_key *k = &md->wrapped_keys[i];
    if (cpc_peer_id_format(&k->reader, reader, sizeof reader) != 0 ||
        append(arr, json_pack("{s:s, s:o}", "reader", reader, "sealed_key",
                              cpc__json_base64(k->sealed,
                                               CPC_SEALED_KEY_LEN))) != 0) {
      json_decref(arr);
      return NULL;
    }
  }
  return arr;
}

int cpc_content_metadata_to_json(const cpc_content_metadata *md, int pretty,
                                 char **out) {
  char cid[CPC_CID_MAX_TEXT], owner[CPC_PEER_ID_MAX_TEXT];
  json_t *root = NULL, *tags = NULL, *keys = NULL;
  int rc = CPC_ENOMEM;
  *out = NULL;
  if (cpc_content_metadata_check(md, NULL, 0) != 0 ||
      cpc_cid_format(&md->content_id, CPC_MB_BASE32, cid, sizeof cid) != 0 ||
      cpc_peer_id_format(&md->owner, owner, sizeof owner) != 0 ||
      md->size > (uint64_t)JSON_SAFE_MAX)
    return CPC_EINVAL;
  tags = json_array();
  for (size_t i = 0; tags && i < md->n_tags; i++)
    if (append(tags, json_string(md->tags[i])) != 0)
      goto out;
  keys = keys_array(md);
  if (!tags || !keys)
    goto out;
  root = json_pack(
      "{s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:O, s:O}", "content_id", cid,
      "owner", owner, "size", (json_int_t)md->size, "created_at",
      (json_int_t)md->created_at, "replicas", (json_int_t)md->replicas,
      "access_control", cpc_access_control_name(md->access), "name", md->name,
      "tags", tags, "wrapped_keys", keys);
  if (!root)
    goto out;
  if (md->has_content_key &&
      json_object_set_new(
          root, "content_key",
          cpc__json_base64(md->content_key, CPC_AEAD_KEY_LEN)) != 0)
    goto out;
  *out = json_dumps(root, pretty ? JSON_INDENT(2) : JSON_COMPACT);
  rc = *out ? 0 : CPC_ENOMEM;
out:
  json_decref(root);
  json_decref(tags);
  json_decref(keys);
  return rc;
}

/* --- decode -------------------------------------------------------------- */

/* The string of field name, checked: a string without NULs of <= max bytes. */
static int field_string(const json_t *v, const char *name, size_t max,
                        const char **s, char *err, size_t cap) {
  if (!json_is_string(v))
    return cpc__fail(err, cap, CPC_EMALFORMED,
                     "field \"%s\": expected a string, got %s", name,
                     cpc__json_type_name(v));
  *s = json_string_value(v);
  if (strlen(*s) != json_string_length(v))
    return cpc__fail(err, cap, CPC_EMALFORMED,
                     "field \"%s\": contains a NUL byte", name);
  if (json_string_length(v) > max)
    return cpc__fail(err, cap, CPC_ETOOBIG,
                     "field \"%s\": longer than %zu bytes", name, max);
  return 0;
}

static int field_uint(const json_t *v, const char *name, json_int_t max,
                      json_int_t *out, char *err, size_t cap) {
  if (!json_is_integer(v))
    return cpc__fail(err, cap, CPC_EMALFORMED,
                     "field \"%s\": expected an integer, got %s", name,
                     cpc__json_type_name(v));
  *out = json_integer_value(v);
  if (*out < 0 || *out > max)
    return cpc__fail(err, cap, CPC_EMALFORMED,
                     "field \"%s\": %lld is outside 0..%lld", name,
                     (long long)*out, (long long)max);
  return 0;
}

static int field_b64(const json_t *v, const char *name, uint8_t *out,
                     size_t want, char *err, size_t cap) {
  const char *s = NULL;
  size_t got = 0;
  int rc = field_string(v, name, 4 * want, &s, err, cap);
  if (rc != 0)
    return rc;
  if (sodium_base642bin(out, want, s, strlen(s), NULL, &got, NULL, B64) != 0 ||
      got != want)
    return cpc__fail(err, cap, CPC_EMALFORMED,
                     "field \"%s\": expected standard base64 of %zu bytes",
                     name, want);
  return 0;
}

static int field_peer(const json_t *v, const char *name, cpc_peer_id *id,
                      char *err, size_t cap) {
  const char *s = NULL;
  int rc = field_string(v, name, CPC_PEER_ID_MAX_TEXT, &s, err, cap);
  if (rc == 0 && (rc = cpc_peer_id_parse(s, id)) != 0)
    rc = cpc__fail(err, cap, CPC_EMALFORMED,
                   "field \"%s\": not a valid PeerId (%s)", name,
                   cpc_strerror(rc));
  return rc;
}

static int parse_tags(const json_t *arr, cpc_content_metadata *md, char *err,
                      size_t cap) {
  char name[32];
  const char *s = NULL;
  int rc;
  if (!arr)
    return 0;
  if (!json_is_array(arr))
    return cpc__fail(err, cap, CPC_EMALFORMED,
                     "field \"tags\": expected an array, got %s",
                     cpc__json_type_name(arr));
  if (json_array_size(arr) > CPC_CONTENT_TAGS_MAX)
    return cpc__fail(err, cap, CPC_ETOOBIG, "field \"tags\": more than %d tags",
                     CPC_CONTENT_TAGS_MAX);
  for (size_t i = 0; i < json_array_size(arr); i++) {
    snprintf(name, sizeof name, "tags[%zu]", i);
    rc = field_string(json_array_get(arr, i), name, CPC_CONTENT_TAG_MAX, &s,
                      err, cap);
    if (rc != 0)
      return rc;
    rc = cpc_content_metadata_add_tag(md, s);
    if (rc != 0)
      return cpc__fail(err, cap, CPC_EMALFORMED, "field \"%s\": %s", name,
                       rc == CPC_EEXIST ? "repeats an earlier tag"
                                        : "empty, or not UTF-8 text");
  }
  return 0;
}

static int parse_keys(const json_t *arr, cpc_content_metadata *md, char *err,
                      size_t cap) {
  json_error_t jerr;
  char name[64];
  int rc;
  if (!arr)
    return 0;
  if (!json_is_array(arr))
    return cpc__fail(err, cap, CPC_EMALFORMED,
                     "field \"wrapped_keys\": expected an array, got %s",
                     cpc__json_type_name(arr));
  if (json_array_size(arr) > CPC_CONTENT_READERS_MAX)
    return cpc__fail(err, cap, CPC_ETOOBIG,
                     "field \"wrapped_keys\": more than %d keys",
                     CPC_CONTENT_READERS_MAX);
  for (size_t i = 0; i < json_array_size(arr); i++) {
    json_t *reader = NULL, *sealed = NULL;
    cpc_peer_id id;
    uint8_t key[CPC_SEALED_KEY_LEN];
    if (json_unpack_ex(json_array_get(arr, i), &jerr, JSON_STRICT,
                       "{s:o, s:o !}", "reader", &reader, "sealed_key",
                       &sealed) != 0)
      return cpc__fail(err, cap, CPC_EMALFORMED,
                       "field \"wrapped_keys[%zu]\": %s", i, jerr.text);
    snprintf(name, sizeof name, "wrapped_keys[%zu].reader", i);
    rc = field_peer(reader, name, &id, err, cap);
    snprintf(name, sizeof name, "wrapped_keys[%zu].sealed_key", i);
    if (rc == 0)
      rc = field_b64(sealed, name, key, sizeof key, err, cap);
    if (rc == 0)
      rc = cpc__content_metadata_append_key(md, &id, key);
    if (rc != 0)
      return rc;
  }
  return 0;
}

int cpc_content_metadata_from_json(const char *text, size_t len,
                                   cpc_content_metadata *md, char *err,
                                   size_t err_cap) {
  json_error_t jerr;
  json_t *root, *cid = NULL, *owner = NULL, *size = NULL, *created = NULL,
                *replicas = NULL, *access = NULL, *name = NULL, *tags = NULL,
                *keys = NULL, *ckey = NULL;
  const char *s = NULL;
  json_int_t n = 0;
  int rc;
  cpc_content_metadata_init(md);
  if (err && err_cap)
    err[0] = '\0';
  if (len > CPC_CONTENT_METADATA_MAX)
    return cpc__fail(err, err_cap, CPC_ETOOBIG,
                     "content metadata JSON over %u bytes",
                     CPC_CONTENT_METADATA_MAX);
  root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return cpc__fail(err, err_cap, CPC_EMALFORMED, "bad JSON at line %d: %s",
                     jerr.line, jerr.text);
  if (json_unpack_ex(root, &jerr, JSON_STRICT,
                     "{s:o, s:o, s:o, s:o, s?o, s:o, s?o, s?o, s?o, s?o !}",
                     "content_id", &cid, "owner", &owner, "size", &size,
                     "created_at", &created, "replicas", &replicas,
                     "access_control", &access, "name", &name, "tags", &tags,
                     "wrapped_keys", &keys, "content_key", &ckey) != 0) {
    rc = cpc__fail(err, err_cap, CPC_EMALFORMED, "content metadata JSON: %s",
                   jerr.text);
    goto out;
  }
  rc = field_string(cid, "content_id", CPC_CID_MAX_TEXT, &s, err, err_cap);
  if (rc == 0 && cpc_cid_parse(s, &md->content_id) != 0)
    rc = cpc__fail(err, err_cap, CPC_EMALFORMED,
                   "field \"content_id\": not a CID");
  if (rc == 0)
    rc = field_peer(owner, "owner", &md->owner, err, err_cap);
  if (rc == 0)
    rc = field_uint(size, "size", JSON_SAFE_MAX, &n, err, err_cap);
  md->size = (uint64_t)n;
  if (rc == 0 && !json_is_integer(created))
    rc = cpc__fail(err, err_cap, CPC_EMALFORMED,
                   "field \"created_at\": expected an integer, got %s",
                   cpc__json_type_name(created));
  if (rc == 0)
    md->created_at = json_integer_value(created);
  if (rc == 0 && replicas) {
    rc = field_uint(replicas, "replicas", CPC_CONTENT_REPLICAS_MAX, &n, err,
                    err_cap);
    md->replicas = (uint32_t)n;
  }
  if (rc == 0)
    rc = field_string(access, "access_control", 32, &s, err, err_cap);
  if (rc == 0 && cpc_access_control_parse(s, &md->access) != 0)
    rc = cpc__fail(
        err, err_cap, CPC_EMALFORMED,
        "field \"access_control\": \"%s\" is not public, followers_only "
        "or private",
        s);
  if (rc == 0 && name &&
      (rc = field_string(name, "name", CPC_CONTENT_NAME_MAX, &s, err,
                         err_cap)) == 0)
    strcpy(md->name, s);
  if (rc == 0)
    rc = parse_tags(tags, md, err, err_cap);
  if (rc == 0)
    rc = parse_keys(keys, md, err, err_cap);
  if (rc == 0 && ckey) {
    rc = field_b64(ckey, "content_key", md->content_key, CPC_AEAD_KEY_LEN, err,
                   err_cap);
    md->has_content_key = rc == 0;
  }
  if (rc == 0 && cpc_content_metadata_check(md, err, err_cap) != 0)
    rc = CPC_EMALFORMED;
out:
  json_decref(root);
  return rc;
}
