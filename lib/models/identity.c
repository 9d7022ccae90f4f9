/*
 * identity.c: user identities: creation, the X25519 binding signature,
 * verification (DESIGN.md section 4, cpc/identity.h).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cpc/error.h"
#include "cpc/identity.h"
#include "models/models_int.h"

void cpc_user_identity_init(cpc_user_identity *id) {
  memset(id, 0, sizeof *id);
}

void cpc_user_identity_free(cpc_user_identity *id) {
  if (!id)
    return;
  cpc_privkey_wipe(&id->signing_key);
  cpc_x25519_wipe(&id->encryption_key);
  cpc_social_graph_free(&id->social_graph);
  sodium_memzero(id, sizeof *id);
}

void cpc_user_identity_binding_message(
    const uint8_t x25519_pub[CPC_X25519_KEY_LEN],
    uint8_t out[CPC_IDENTITY_BINDING_MSG_LEN]) {
  memcpy(out, CPC_IDENTITY_BINDING_CONTEXT, CPC_IDENTITY_BINDING_CONTEXT_LEN);
  memcpy(out + CPC_IDENTITY_BINDING_CONTEXT_LEN, x25519_pub,
         CPC_X25519_KEY_LEN);
}

int cpc__user_identity_derive_public(cpc_user_identity *id) {
  int rc;

  if (!id->has_secrets || id->signing_key.type != CPC_KEY_SECP256K1)
    return CPC_EINVAL;
  id->signing_public = id->signing_key.pub;
  memcpy(id->encryption_public, id->encryption_key.pub, CPC_X25519_KEY_LEN);
  rc = cpc_peer_id_from_pubkey(&id->signing_public, &id->peer_id);
  return rc;
}

int cpc_user_identity_generate(cpc_user_identity *id) {
  uint8_t msg[CPC_IDENTITY_BINDING_MSG_LEN];
  int rc;

  cpc_user_identity_free(id);
  id->has_secrets = 1;
  rc = cpc_privkey_generate(CPC_KEY_SECP256K1, &id->signing_key);
  if (rc == 0)
    rc = cpc_x25519_generate(&id->encryption_key);
  if (rc == 0)
    rc = cpc__user_identity_derive_public(id);
  if (rc != 0)
    goto out;
  cpc_user_identity_binding_message(id->encryption_public, msg);
  rc = cpc_privkey_sign(&id->signing_key, msg, sizeof msg, id->binding_sig,
                        sizeof id->binding_sig, &id->binding_sig_len);
out:
  if (rc != 0)
    cpc_user_identity_free(id);
  return rc;
}

int cpc_user_identity_verify(const cpc_user_identity *id) {
  uint8_t msg[CPC_IDENTITY_BINDING_MSG_LEN];
  cpc_pubkey inlined;
  cpc_x25519_keypair check;
  int rc;

  if (id->signing_public.type != CPC_KEY_SECP256K1)
    return CPC_EUNSUPPORTED;
  if (cpc_peer_id_check(&id->peer_id, &id->signing_public) != 0)
    return CPC_EMISMATCH;
  /* The key that signs is the one the PeerId names. */
  if (cpc_peer_id_pubkey(&id->peer_id, &inlined) != 0 ||
      !cpc_pubkey_equal(&inlined, &id->signing_public))
    return CPC_EMISMATCH;
  if (id->binding_sig_len == 0 || id->binding_sig_len > sizeof id->binding_sig)
    return CPC_EBADSIG;
  cpc_user_identity_binding_message(id->encryption_public, msg);
  rc = cpc_pubkey_verify(&inlined, msg, sizeof msg, id->binding_sig,
                         id->binding_sig_len);
  if (rc != 0)
    return rc;
  if (!id->has_secrets)
    return 0;
  if (!cpc_pubkey_equal(&id->signing_key.pub, &id->signing_public))
    return CPC_EMISMATCH;
  rc = cpc_x25519_from_secret(id->encryption_key.secret, &check);
  if (rc == 0 && sodium_memcmp(check.pub, id->encryption_public,
                               CPC_X25519_KEY_LEN) != 0)
    rc = CPC_EMISMATCH;
  cpc_x25519_wipe(&check);
  return rc;
}

int cpc_user_identity_copy_public(cpc_user_identity *dst,
                                  const cpc_user_identity *src) {
  cpc_peer_id *ids = NULL;
  size_t n = src->social_graph.len;

  if (dst == src)
    return CPC_EINVAL;
  if (n > 0) {
    ids = malloc(n * sizeof *ids);
    if (!ids)
      return CPC_ENOMEM;
    memcpy(ids, src->social_graph.ids, n * sizeof *ids);
  }
  cpc_user_identity_free(dst);
  dst->peer_id = src->peer_id;
  dst->signing_public = src->signing_public;
  memcpy(dst->encryption_public, src->encryption_public, CPC_X25519_KEY_LEN);
  memcpy(dst->binding_sig, src->binding_sig, sizeof dst->binding_sig);
  dst->binding_sig_len = src->binding_sig_len;
  dst->social_graph.ids = ids;
  dst->social_graph.len = dst->social_graph.cap = n;
  return 0;
}
