/*
 * identity_proto.c: UserIdentityPublic / UserIdentityPrivate protobufs
 * (proto/cpc/models/v1/identity.proto) to and from cpc_user_identity.
 * Unknown fields are refused: an identity means exactly what it says.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cpc/error.h"
#include "cpc/identity.h"
#include "cpc/models/v1/identity.pb-c.h"
#include "crypto/crypto_int.h"
#include "models/models_int.h"

/* The following list as protobuf-c items pointing into g (borrowed). */
static int following_items(const cpc_social_graph *g,
                           ProtobufCBinaryData **items) {
  *items = NULL;
  if (g->len == 0)
    return 0;
  *items = calloc(g->len, sizeof **items);
  if (!*items)
    return CPC_ENOMEM;
  for (size_t i = 0; i < g->len; i++) {
    (*items)[i].len = g->ids[i].len;
    (*items)[i].data = (uint8_t *)g->ids[i].bytes;
  }
  return 0;
}

static int decode_following(size_t n, const ProtobufCBinaryData *items,
                            cpc_social_graph *g) {
  cpc_peer_id *ids;
  int rc;

  if (n > CPC_SOCIAL_GRAPH_MAX)
    return CPC_ETOOBIG;
  if (n == 0)
    return cpc__social_graph_adopt(g, NULL, 0);
  ids = calloc(n, sizeof *ids);
  if (!ids)
    return CPC_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    rc = cpc_peer_id_from_bytes(items[i].data, items[i].len, &ids[i]);
    if (rc != 0) {
      free(ids);
      return rc == CPC_ETOOBIG ? CPC_EMALFORMED : rc;
    }
  }
  return cpc__social_graph_adopt(g, ids, n);
}

static int copy_sig(cpc_user_identity *id, const ProtobufCBinaryData *sig) {
  if (sig->len == 0 || sig->len > sizeof id->binding_sig)
    return CPC_EMALFORMED;
  memcpy(id->binding_sig, sig->data, sig->len);
  id->binding_sig_len = sig->len;
  return 0;
}

/*
 * The fields both messages share, pointing into id (borrowed): binding
 * signature and following list (*following is allocated; free() it, also
 * on error). CPC_EINVAL without a binding signature, CPC_ENOMEM.
 */
static int shared_to_pb(const cpc_user_identity *id, ProtobufCBinaryData *sig,
                        size_t *n_following, ProtobufCBinaryData **following) {
  *following = NULL;
  if (id->binding_sig_len == 0 || id->binding_sig_len > sizeof id->binding_sig)
    return CPC_EINVAL;
  sig->data = (uint8_t *)id->binding_sig;
  sig->len = id->binding_sig_len;
  *n_following = id->social_graph.len;
  return following_items(&id->social_graph, following);
}

/* The shared fields into id: binding signature and following list. */
static int shared_from_pb(cpc_user_identity *id, const ProtobufCBinaryData *sig,
                          size_t n_following,
                          const ProtobufCBinaryData *following) {
  int rc = copy_sig(id, sig);
  if (rc == 0)
    rc = decode_following(n_following, following, &id->social_graph);
  return rc;
}

/* Pack m into a malloc'd *out of *len bytes. 0 or CPC_ENOMEM. */
static int pack(const ProtobufCMessage *m, uint8_t **out, size_t *len) {
  size_t size = protobuf_c_message_get_packed_size(m);
  *out = malloc(size ? size : 1);
  if (!*out)
    return CPC_ENOMEM;
  *len = protobuf_c_message_pack(m, *out);
  return 0;
}

/*
 * Unpack in[0..len) as a message of type d, refusing more than
 * CPC_IDENTITY_PROTO_MAX bytes (CPC_ETOOBIG), an empty input, an
 * undecodable one and unknown fields (CPC_EMALFORMED). *m is freed by the
 * caller with protobuf_c_message_free_unpacked(*m, alloc).
 */
static int unpack(const ProtobufCMessageDescriptor *d,
                  ProtobufCAllocator *alloc, const uint8_t *in, size_t len,
                  ProtobufCMessage **m) {
  *m = NULL;
  if (len > CPC_IDENTITY_PROTO_MAX)
    return CPC_ETOOBIG;
  if (!in || len == 0)
    return CPC_EMALFORMED;
  *m = protobuf_c_message_unpack(d, alloc, len, in);
  if (!*m)
    return CPC_EMALFORMED;
  if ((*m)->n_unknown_fields > 0) {
    protobuf_c_message_free_unpacked(*m, alloc);
    *m = NULL;
    return CPC_EMALFORMED;
  }
  return 0;
}

/* Move tmp into id (freeing id's old contents); tmp is left empty. */
static void replace(cpc_user_identity *id, cpc_user_identity *tmp) {
  cpc_user_identity_free(id);
  *id = *tmp;
  sodium_memzero(tmp, sizeof *tmp);
}

int cpc_user_identity_encode_public(const cpc_user_identity *id, uint8_t **out,
                                    size_t *len) {
  Cpc__Models__V1__UserIdentityPublic m =
      CPC__MODELS__V1__USER_IDENTITY_PUBLIC__INIT;
  uint8_t key[CPC_PUBKEY_PROTO_MAX];
  size_t key_len = 0;
  int rc;

  *out = NULL;
  *len = 0;
  if (id->peer_id.len == 0 ||
      cpc_pubkey_encode(&id->signing_public, key, sizeof key, &key_len) != 0)
    return CPC_EINVAL;
  m.peer_id.data = (uint8_t *)id->peer_id.bytes;
  m.peer_id.len = id->peer_id.len;
  m.signing_public_key.data = key;
  m.signing_public_key.len = key_len;
  m.encryption_public_key.data = (uint8_t *)id->encryption_public;
  m.encryption_public_key.len = CPC_X25519_KEY_LEN;
  rc = shared_to_pb(id, &m.binding_signature, &m.n_following, &m.following);
  if (rc == 0)
    rc = pack(&m.base, out, len);
  free(m.following);
  return rc;
}

int cpc_user_identity_decode_public(const uint8_t *in, size_t len,
                                    cpc_user_identity *id) {
  const Cpc__Models__V1__UserIdentityPublic *m;
  ProtobufCMessage *base;
  cpc_user_identity tmp;
  int rc;

  rc = unpack(&cpc__models__v1__user_identity_public__descriptor, NULL, in, len,
              &base);
  if (rc != 0)
    return rc;
  m = (const Cpc__Models__V1__UserIdentityPublic *)base;
  cpc_user_identity_init(&tmp);
  rc = cpc_peer_id_from_bytes(m->peer_id.data, m->peer_id.len, &tmp.peer_id);
  if (rc != 0)
    goto out;
  rc = cpc_pubkey_decode(m->signing_public_key.data, m->signing_public_key.len,
                         &tmp.signing_public);
  if (rc != 0)
    goto out;
  if (tmp.signing_public.type != CPC_KEY_SECP256K1) {
    rc = CPC_EUNSUPPORTED;
    goto out;
  }
  if (cpc_peer_id_check(&tmp.peer_id, &tmp.signing_public) != 0) {
    rc = CPC_EMISMATCH;
    goto out;
  }
  if (m->encryption_public_key.len != CPC_X25519_KEY_LEN) {
    rc = CPC_EMALFORMED;
    goto out;
  }
  memcpy(tmp.encryption_public, m->encryption_public_key.data,
         CPC_X25519_KEY_LEN);
  rc =
      shared_from_pb(&tmp, &m->binding_signature, m->n_following, m->following);
  if (rc != 0)
    goto out;
  replace(id, &tmp);
out:
  cpc_user_identity_free(&tmp);
  protobuf_c_message_free_unpacked(base, NULL);
  return rc;
}

int cpc_user_identity_encode_private(const cpc_user_identity *id, uint8_t **out,
                                     size_t *len) {
  Cpc__Models__V1__UserIdentityPrivate m =
      CPC__MODELS__V1__USER_IDENTITY_PRIVATE__INIT;
  uint8_t key[CPC_PRIVKEY_PROTO_MAX];
  size_t key_len = 0;
  int rc;

  *out = NULL;
  *len = 0;
  if (!id->has_secrets)
    return CPC_EINVAL;
  rc = cpc_privkey_encode(&id->signing_key, key, sizeof key, &key_len);
  if (rc != 0) {
    rc = CPC_EINVAL;
    goto out;
  }
  m.signing_private_key.data = key;
  m.signing_private_key.len = key_len;
  m.encryption_private_key.data = (uint8_t *)id->encryption_key.secret;
  m.encryption_private_key.len = CPC_X25519_KEY_LEN;
  rc = shared_to_pb(id, &m.binding_signature, &m.n_following, &m.following);
  if (rc == 0)
    rc = pack(&m.base, out, len);
out:
  free(m.following);
  sodium_memzero(key, sizeof key);
  return rc;
}

int cpc_user_identity_decode_private(const uint8_t *in, size_t len,
                                     cpc_user_identity *id) {
  const Cpc__Models__V1__UserIdentityPrivate *m;
  ProtobufCMessage *base;
  cpc_user_identity tmp;
  int rc;

  /* The wiping allocator clears protobuf-c's copies of the secrets. */
  rc = unpack(&cpc__models__v1__user_identity_private__descriptor,
              &cpc__secret_allocator, in, len, &base);
  if (rc != 0)
    return rc;
  m = (const Cpc__Models__V1__UserIdentityPrivate *)base;
  cpc_user_identity_init(&tmp);
  tmp.has_secrets = 1;
  rc = cpc_privkey_decode(m->signing_private_key.data,
                          m->signing_private_key.len, &tmp.signing_key);
  if (rc != 0)
    goto out;
  if (tmp.signing_key.type != CPC_KEY_SECP256K1) {
    rc = CPC_EUNSUPPORTED;
    goto out;
  }
  if (m->encryption_private_key.len != CPC_X25519_KEY_LEN) {
    rc = CPC_EMALFORMED;
    goto out;
  }
  rc = cpc_x25519_from_secret(m->encryption_private_key.data,
                              &tmp.encryption_key);
  if (rc != 0)
    goto out;
  rc =
      shared_from_pb(&tmp, &m->binding_signature, m->n_following, m->following);
  if (rc != 0)
    goto out;
  rc = cpc__user_identity_derive_public(&tmp);
  if (rc != 0)
    goto out;
  rc = cpc_user_identity_verify(&tmp);
  if (rc != 0)
    goto out;
  replace(id, &tmp);
out:
  cpc_user_identity_free(&tmp);
  protobuf_c_message_free_unpacked(base, &cpc__secret_allocator);
  return rc;
}
