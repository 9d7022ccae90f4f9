/*
 * fuzz_identity.c: the user identity decoders a peer or the orchestrator
 * may feed us: public protobuf, private protobuf (key files) and JSON.
 * What decodes must encode and decode again to the same identity.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const cpc_user_identity *a, const cpc_user_identity *b) {
  if (!cpc_peer_id_equal(&a->peer_id, &b->peer_id) ||
      !cpc_pubkey_equal(&a->signing_public, &b->signing_public) ||
      memcmp(a->encryption_public, b->encryption_public, 32) != 0 ||
      a->binding_sig_len != b->binding_sig_len ||
      memcmp(a->binding_sig, b->binding_sig, a->binding_sig_len) != 0 ||
      a->social_graph.len != b->social_graph.len)
    abort();
  for (size_t i = 0; i < a->social_graph.len; i++)
    if (!cpc_peer_id_equal(&a->social_graph.ids[i], &b->social_graph.ids[i]))
      abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cpc_user_identity id, back;
  uint8_t *out = NULL;
  size_t len = 0;
  char *json = NULL;

  cpc_user_identity_init(&id);
  cpc_user_identity_init(&back);
  if (cpc_user_identity_decode_public(data, size, &id) == 0) {
    if (cpc_user_identity_encode_public(&id, &out, &len) != 0 ||
        cpc_user_identity_decode_public(out, len, &back) != 0)
      abort();
    same(&id, &back);
    free(out);
    out = NULL;
    if (cpc_user_identity_to_json(&id, 0, &json) != 0 ||
        cpc_user_identity_from_json(json, strlen(json), &back, NULL, 0) != 0)
      abort();
    same(&id, &back);
    free(json);
    json = NULL;
  }
  if (cpc_user_identity_decode_private(data, size, &id) == 0) {
    if (cpc_user_identity_verify(&id) != 0 ||
        cpc_user_identity_encode_private(&id, &out, &len) != 0 ||
        cpc_user_identity_decode_private(out, len, &back) != 0)
      abort();
    same(&id, &back);
    cpc_secret_free(out, len);
  }
  if (cpc_user_identity_from_json((const char *)data, size, &id, NULL, 0) ==
      0) {
    if (cpc_user_identity_to_json(&id, 1, &json) != 0 ||
        cpc_user_identity_from_json(json, strlen(json), &back, NULL, 0) != 0)
      abort();
    same(&id, &back);
    free(json);
  }
  cpc_user_identity_free(&id);
  cpc_user_identity_free(&back);
  return 0;
}
