/*
 * record.c: DHT record keys and their validation: /pk/<PeerId> holds the
 * peer's public key; /cpc/<PeerId>[/<name>] holds a value signed by that
 * peer (format in include/cpc/kad.h).
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/multihash.h"
#include "cpc/varint.h"
#include "cpc/kad/v1/signed_value.pb-c.h"
#include "kad/kad_int.h"

#define PK_PREFIX "/pk/"
#define CPC_PREFIX "/cpc/"
#define SIGN_DOMAIN "cpc-kad-record:"

int cpc__kad_key_has_prefix(const uint8_t *key, size_t len,
                            const char *prefix) {
  size_t n = strlen(prefix);
  return len >= n && memcmp(key, prefix, n) == 0;
}

/* The PeerId right after prefix; *rest the offset after it. */
static int peer_after(const uint8_t *key, size_t len, size_t start,
                      cpc_peer_id *id, size_t *rest) {
  cpc_multihash mh;
  size_t used;
  int rc;

  if (start >= len)
    return CPC_EMALFORMED;
  rc = cpc_multihash_decode(key + start, len - start, &mh, &used);
  if (rc != 0)
    return CPC_EMALFORMED;
  rc = cpc_peer_id_from_bytes(key + start, used, id);
  if (rc != 0)
    return CPC_EMALFORMED;
  *rest = start + used;
  return 0;
}

int cpc__kad_key_peer(const uint8_t *key, size_t len, cpc_peer_id *id) {
  size_t rest;
  int rc;

  if (cpc__kad_key_has_prefix(key, len, PK_PREFIX)) {
    rc = peer_after(key, len, strlen(PK_PREFIX), id, &rest);
    return rc != 0 ? rc : rest == len ? 0 : CPC_EMALFORMED;
  }
  if (cpc__kad_key_has_prefix(key, len, CPC_PREFIX)) {
    rc = peer_after(key, len, strlen(CPC_PREFIX), id, &rest);
    if (rc != 0)
      return rc;
    /* Nothing more, or "/" and a non-empty name. */
    if (rest == len || (key[rest] == '/' && rest + 1 < len))
      return 0;
    return CPC_EMALFORMED;
  }
  return CPC_EMALFORMED;
}

int cpc_kad_pk_key(const cpc_peer_id *id, uint8_t *out, size_t cap,
                   size_t *len) {
  size_t n = strlen(PK_PREFIX);
  if (cap < n + id->len)
    return CPC_ETOOBIG;
  memcpy(out, PK_PREFIX, n);
  memcpy(out + n, id->bytes, id->len);
  *len = n + id->len;
  return 0;
}

int cpc_kad_cpc_key(const cpc_peer_id *owner, const char *name, uint8_t *out,
                    size_t cap, size_t *len) {
  size_t n = strlen(CPC_PREFIX), nl = name ? strlen(name) : 0;
  size_t total = n + owner->len + (nl ? 1 + nl : 0);

  if (total > cap || total > CPC_KAD_MAX_KEY)
    return CPC_ETOOBIG;
  memcpy(out, CPC_PREFIX, n);
  memcpy(out + n, owner->bytes, owner->len);
  if (nl) {
    out[n + owner->len] = '/';
    memcpy(out + n + owner->len + 1, name, nl);
  }
  *len = total;
  return 0;
}

/* The bytes a /cpc/ signature covers (malloc'd into *out). */
static int signed_bytes(const uint8_t *key, size_t key_len,
                        const uint8_t *payload, size_t payload_len,
                        uint64_t seq, uint8_t **out, size_t *out_len) {
  size_t dl = strlen(SIGN_DOMAIN), off = 0, w;
  size_t n =
      dl + CPC_VARINT_MAX_LEN + key_len + CPC_VARINT_MAX_LEN + payload_len + 8;
  uint8_t *b = malloc(n);

  if (!b)
    return CPC_ENOMEM;
  memcpy(b, SIGN_DOMAIN, dl);
  off = dl;
  (void)cpc_varint_encode(key_len, b + off, n - off, &w);
  off += w;
  memcpy(b + off, key, key_len);
  off += key_len;
  (void)cpc_varint_encode(payload_len, b + off, n - off, &w);
  off += w;
  if (payload_len)
    memcpy(b + off, payload, payload_len);
  off += payload_len;
  for (int i = 7; i >= 0; i--)
    b[off++] = (uint8_t)(seq >> (8 * i));
  *out = b;
  *out_len = off;
  return 0;
}

int cpc_kad_cpc_value_sign(const cpc_privkey *owner, const uint8_t *key,
                           size_t key_len, const uint8_t *payload,
                           size_t payload_len, uint64_t seq, uint8_t **value,
                           size_t *value_len) {
  Cpc__Kad__V1__SignedValue sv = CPC__KAD__V1__SIGNED_VALUE__INIT;
  uint8_t pkbuf[CPC_PUBKEY_PROTO_MAX], sig[CPC_SIG_MAX_LEN];
  uint8_t *tbs = NULL, *buf = NULL;
  size_t pklen, siglen, tbs_len, size;
  cpc_peer_id id;
  int rc;

  *value = NULL;
  *value_len = 0;
  if (!cpc__kad_key_has_prefix(key, key_len, CPC_PREFIX) ||
      cpc__kad_key_peer(key, key_len, &id) != 0 ||
      cpc_peer_id_check(&id, &owner->pub) != 0)
    return CPC_EINVAL;
  if (payload_len > CPC_KAD_MAX_VALUE)
    return CPC_ETOOBIG;
  rc = cpc_pubkey_encode(&owner->pub, pkbuf, sizeof pkbuf, &pklen);
  if (rc != 0)
    return rc;
  rc = signed_bytes(key, key_len, payload, payload_len, seq, &tbs, &tbs_len);
  if (rc != 0)
    return rc;
  rc = cpc_privkey_sign(owner, tbs, tbs_len, sig, sizeof sig, &siglen);
  if (rc != 0)
    goto out;
  sv.owner_key.data = pkbuf;
  sv.owner_key.len = pklen;
  sv.payload.data = (uint8_t *)payload;
  sv.payload.len = payload_len;
  sv.seq = seq;
  sv.signature.data = sig;
  sv.signature.len = siglen;
  size = cpc__kad__v1__signed_value__get_packed_size(&sv);
  if (size > CPC_KAD_MAX_VALUE) {
    rc = CPC_ETOOBIG;
    goto out;
  }
  buf = malloc(size ? size : 1);
  if (!buf) {
    rc = CPC_ENOMEM;
    goto out;
  }
  cpc__kad__v1__signed_value__pack(&sv, buf);
  *value = buf;
  *value_len = size;
out:
  free(tbs);
  return rc;
}

int cpc_kad_cpc_value_open(const uint8_t *key, size_t key_len,
                           const uint8_t *value, size_t value_len,
                           uint8_t **payload, size_t *payload_len,
                           uint64_t *seq) {
  static const uint8_t empty[1];
  Cpc__Kad__V1__SignedValue *sv = NULL;
  uint8_t *tbs = NULL;
  size_t tbs_len;
  cpc_peer_id id;
  cpc_pubkey pk;
  int rc;

  if (payload) {
    *payload = NULL;
    *payload_len = 0;
  }
  if (key_len > CPC_KAD_MAX_KEY || value_len > CPC_KAD_MAX_VALUE)
    return CPC_ETOOBIG;
  if (!cpc__kad_key_has_prefix(key, key_len, CPC_PREFIX) ||
      cpc__kad_key_peer(key, key_len, &id) != 0)
    return CPC_EMALFORMED;
  sv = cpc__kad__v1__signed_value__unpack(NULL, value_len,
                                          value_len ? value : empty);
  if (!sv)
    return CPC_EMALFORMED;
  rc = cpc_pubkey_decode(sv->owner_key.data, sv->owner_key.len, &pk);
  if (rc != 0)
    goto out;
  if (cpc_peer_id_check(&id, &pk) != 0) {
    rc = CPC_EMISMATCH;
    goto out;
  }
  rc = signed_bytes(key, key_len, sv->payload.data, sv->payload.len, sv->seq,
                    &tbs, &tbs_len);
  if (rc != 0)
    goto out;
  rc = cpc_pubkey_verify(&pk, tbs, tbs_len, sv->signature.data,
                         sv->signature.len);
  if (rc != 0)
    goto out;
  if (seq)
    *seq = sv->seq;
  if (payload && sv->payload.len) {
    *payload = malloc(sv->payload.len);
    if (!*payload) {
      rc = CPC_ENOMEM;
      goto out;
    }
    memcpy(*payload, sv->payload.data, sv->payload.len);
    *payload_len = sv->payload.len;
  }
out:
  free(tbs);
  cpc__kad__v1__signed_value__free_unpacked(sv, NULL);
  return rc;
}

static int validate_pk(const uint8_t *key, size_t key_len, const uint8_t *value,
                       size_t value_len) {
  cpc_peer_id id;
  cpc_pubkey pk;
  int rc;

  if (cpc__kad_key_peer(key, key_len, &id) != 0)
    return CPC_EMALFORMED;
  rc = cpc_pubkey_decode(value, value_len, &pk);
  if (rc != 0)
    return rc;
  return cpc_peer_id_check(&id, &pk) == 0 ? 0 : CPC_EMISMATCH;
}

int cpc_kad_validate_record(const uint8_t *key, size_t key_len,
                            const uint8_t *value, size_t value_len) {
  if (key_len > CPC_KAD_MAX_KEY || value_len > CPC_KAD_MAX_VALUE)
    return CPC_ETOOBIG;
  if (cpc__kad_key_has_prefix(key, key_len, PK_PREFIX))
    return validate_pk(key, key_len, value, value_len);
  if (cpc__kad_key_has_prefix(key, key_len, CPC_PREFIX))
    return cpc_kad_cpc_value_open(key, key_len, value, value_len, NULL, NULL,
                                  NULL);
  return CPC_EUNSUPPORTED;
}

uint64_t cpc__kad_record_seq(const uint8_t *key, size_t key_len,
                             const uint8_t *value, size_t value_len) {
  static const uint8_t empty[1];
  Cpc__Kad__V1__SignedValue *sv;
  uint64_t seq;

  if (!cpc__kad_key_has_prefix(key, key_len, CPC_PREFIX))
    return 0;
  sv = cpc__kad__v1__signed_value__unpack(NULL, value_len,
                                          value_len ? value : empty);
  if (!sv)
    return 0;
  seq = sv->seq;
  cpc__kad__v1__signed_value__free_unpacked(sv, NULL);
  return seq;
}

int cpc_kad_select_record(const uint8_t *key, size_t key_len, const uint8_t *a,
                          size_t a_len, const uint8_t *b, size_t b_len) {
  uint64_t sa, sb;

  if (!cpc__kad_key_has_prefix(key, key_len, CPC_PREFIX))
    return 0;
  sa = cpc__kad_record_seq(key, key_len, a, a_len);
  sb = cpc__kad_record_seq(key, key_len, b, b_len);
  return sb > sa ? 1 : sb < sa ? -1 : 0;
}
