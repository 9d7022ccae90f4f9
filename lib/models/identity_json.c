/*
 * identity_json.c: the JSON public form of a user identity (jansson); the
 * format is described at the top of cpc/identity.h.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "cpc/error.h"
#include "cpc/identity.h"
#include "models/models_int.h"

#define B64 sodium_base64_VARIANT_ORIGINAL

/* The string's text, or NULL if v is no string or holds a NUL byte. */
static const char *c_string(const json_t *v) {
  const char *s = json_string_value(v);
  if (!s || strlen(s) != json_string_length(v))
    return NULL;
  return s;
}

static json_t *following_array(const cpc_social_graph *g) {
  json_t *arr = json_array();
  char text[CPC_PEER_ID_MAX_TEXT];

  if (!arr)
    return NULL;
  for (size_t i = 0; i < g->len; i++) {
    if (cpc_peer_id_format(&g->ids[i], text, sizeof text) != 0 ||
        json_array_append_new(arr, json_string(text)) != 0) {
      json_decref(arr);
      return NULL;
    }
  }
  return arr;
}

int cpc_user_identity_to_json(const cpc_user_identity *id, int pretty,
                              char **out) {
  uint8_t key[CPC_PUBKEY_PROTO_MAX];
  size_t key_len = 0;
  char peer[CPC_PEER_ID_MAX_TEXT];
  json_t *root;
  int rc;

  *out = NULL;
  if (id->binding_sig_len == 0 ||
      id->binding_sig_len > sizeof id->binding_sig ||
      cpc_peer_id_format(&id->peer_id, peer, sizeof peer) != 0 ||
      cpc_pubkey_encode(&id->signing_public, key, sizeof key, &key_len) != 0)
    return CPC_EINVAL;
  /* "o" hands each new reference over to root (jansson >= 2.11 also drops
   * them when packing fails, e.g. on a NULL from an allocation). */
  root = json_pack("{s:s, s:o, s:o, s:o, s:o}", "peer_id", peer,
                   "signing_public_key", cpc__json_base64(key, key_len),
                   "encryption_public_key",
                   cpc__json_base64(id->encryption_public, CPC_X25519_KEY_LEN),
                   "binding_signature",
                   cpc__json_base64(id->binding_sig, id->binding_sig_len),
                   "following", following_array(&id->social_graph));
  if (!root)
    return CPC_ENOMEM;
  *out = json_dumps(root, pretty ? JSON_INDENT(2) : JSON_COMPACT);
  rc = *out ? 0 : CPC_ENOMEM;
  json_decref(root);
  return rc;
}

/* Decode the base64 string field name into out (exactly want bytes unless
 * want is 0, then up to cap); *got its length. */
static int field_b64(const json_t *v, const char *name, uint8_t *out,
                     size_t cap, size_t want, size_t *got, char *err,
                     size_t err_cap) {
  const char *s;

  if (!json_is_string(v))
    return cpc__fail(err, err_cap, CPC_EMALFORMED,
                     "field \"%s\": expected a base64 string, got %s", name,
                     cpc__json_type_name(v));
  s = json_string_value(v);
  if (sodium_base642bin(out, cap, s, json_string_length(v), NULL, got, NULL,
                        B64) != 0)
    return cpc__fail(
        err, err_cap, CPC_EMALFORMED,
        "field \"%s\": not standard base64 (with padding) of at most "
        "%zu bytes",
        name, cap);
  if (want && *got != want)
    return cpc__fail(err, err_cap, CPC_EMALFORMED,
                     "field \"%s\": expected %zu bytes, got %zu", name, want,
                     *got);
  return 0;
}

static int parse_following(const json_t *arr, cpc_social_graph *g, char *err,
                           size_t err_cap) {
  size_t n;
  cpc_peer_id *ids;
  int rc;

  if (!arr)
    return cpc__social_graph_adopt(g, NULL, 0);
  if (!json_is_array(arr))
    return cpc__fail(err, err_cap, CPC_EMALFORMED,
                     "field \"following\": expected an array, got %s",
                     cpc__json_type_name(arr));
  n = json_array_size(arr);
  if (n > CPC_SOCIAL_GRAPH_MAX)
    return cpc__fail(err, err_cap, CPC_ETOOBIG,
                     "field \"following\": %zu entries, at most %d allowed", n,
                     CPC_SOCIAL_GRAPH_MAX);
  if (n == 0)
    return cpc__social_graph_adopt(g, NULL, 0);
  ids = calloc(n, sizeof *ids);
  if (!ids)
    return CPC_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const json_t *v = json_array_get(arr, i);
    if (!c_string(v)) {
      free(ids);
      return cpc__fail(
          err, err_cap, CPC_EMALFORMED,
          "field \"following\"[%zu]: expected a PeerId string, got %s", i,
          cpc__json_type_name(v));
    }
    rc = cpc_peer_id_parse(json_string_value(v), &ids[i]);
    if (rc != 0) {
      free(ids);
      return cpc__fail(err, err_cap, rc == CPC_ETOOBIG ? CPC_EMALFORMED : rc,
                       "field \"following\"[%zu]: not a valid PeerId (%s)", i,
                       cpc_strerror(rc));
    }
  }
  rc = cpc__social_graph_adopt(g, ids, n);
  if (rc == CPC_EMALFORMED)
    return cpc__fail(err, err_cap, rc, "field \"following\": a PeerId repeats");
  return rc;
}

int cpc_user_identity_from_json(const char *text, size_t len,
                                cpc_user_identity *id, char *err,
                                size_t err_cap) {
  json_error_t jerr;
  json_t *root, *peer = NULL, *skey = NULL, *ekey = NULL, *sig = NULL,
                *following = NULL;
  uint8_t key[CPC_PUBKEY_PROTO_MAX + 8];
  size_t n = 0;
  cpc_user_identity tmp;
  int rc;

  if (err && err_cap)
    err[0] = '\0';
  cpc_user_identity_init(&tmp);
  if (len > CPC_IDENTITY_JSON_MAX)
    return cpc__fail(err, err_cap, CPC_ETOOBIG, "identity JSON over %u bytes",
                     CPC_IDENTITY_JSON_MAX);
  if (!text)
    return CPC_EINVAL;
  root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return cpc__fail(err, err_cap, CPC_EMALFORMED, "bad JSON at line %d: %s",
                     jerr.line, jerr.text);
  /* Shape first: required fields present, no unknown fields ("!"). */
  if (json_unpack_ex(root, &jerr, JSON_STRICT, "{s:o, s:o, s:o, s:o, s?o !}",
                     "peer_id", &peer, "signing_public_key", &skey,
                     "encryption_public_key", &ekey, "binding_signature", &sig,
                     "following", &following) != 0) {
    rc =
        cpc__fail(err, err_cap, CPC_EMALFORMED, "identity JSON: %s", jerr.text);
    goto out;
  }
  if (!c_string(peer)) {
    rc = cpc__fail(err, err_cap, CPC_EMALFORMED,
                   "field \"peer_id\": expected a PeerId string, got %s",
                   cpc__json_type_name(peer));
    goto out;
  }
  rc = cpc_peer_id_parse(json_string_value(peer), &tmp.peer_id);
  if (rc != 0) {
    rc = cpc__fail(err, err_cap, rc == CPC_ETOOBIG ? CPC_EMALFORMED : rc,
                   "field \"peer_id\": not a valid PeerId (%s)",
                   cpc_strerror(rc));
    goto out;
  }
  rc = field_b64(skey, "signing_public_key", key, sizeof key, 0, &n, err,
                 err_cap);
  if (rc != 0)
    goto out;
  rc = cpc_pubkey_decode(key, n, &tmp.signing_public);
  if (rc == 0 && tmp.signing_public.type != CPC_KEY_SECP256K1)
    rc = CPC_EUNSUPPORTED;
  if (rc != 0) {
    rc =
        cpc__fail(err, err_cap, rc,
                  "field \"signing_public_key\": not a libp2p secp256k1 public "
                  "key (%s)",
                  cpc_strerror(rc));
    goto out;
  }
  if (cpc_peer_id_check(&tmp.peer_id, &tmp.signing_public) != 0) {
    rc = cpc__fail(err, err_cap, CPC_EMISMATCH,
                   "field \"peer_id\": not the PeerId of signing_public_key");
    goto out;
  }
  rc = field_b64(ekey, "encryption_public_key", tmp.encryption_public,
                 CPC_X25519_KEY_LEN, CPC_X25519_KEY_LEN, &n, err, err_cap);
  if (rc != 0)
    goto out;
  rc = field_b64(sig, "binding_signature", tmp.binding_sig,
                 sizeof tmp.binding_sig, 0, &tmp.binding_sig_len, err, err_cap);
  if (rc == 0 && tmp.binding_sig_len == 0)
    rc = cpc__fail(err, err_cap, CPC_EMALFORMED,
                   "field \"binding_signature\": empty");
  if (rc != 0)
    goto out;
  rc = parse_following(following, &tmp.social_graph, err, err_cap);
  if (rc != 0)
    goto out;
  cpc_user_identity_free(id);
  *id = tmp;
  cpc_user_identity_init(&tmp);
out:
  cpc_user_identity_free(&tmp);
  json_decref(root);
  return rc;
}
