/*
 * node_sign.c: what proves a node's identity to the orchestrator
 * (docs/node-rpc.md): the signature of every call and the signed resource
 * commitment of RegisterNode.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cpc/blake3.h"
#include "cpc/error.h"
#include "cpc/orchestrator/v1/node.pb-c.h"
#include "node/node_int.h"

#define COMMIT_PREFIX "CPC-NODE-COMMITMENT-V1\n"

int cpc__node_call_auth(cpc_node *n, const char *path, const uint8_t *body,
                        size_t len, cpc__call_auth *a) {
  int rc;
  snprintf(a->ts, sizeof a->ts, "%" PRIu64, cpc__node_now_ms());
  rc = cpc_node_rpc_sign(&n->key, path, a->ts, body, len, a->sig);
  if (rc != 0)
    return rc;
  a->md[0].name = "x-cpc-node-id";
  a->md[0].value = n->id_text;
  a->md[1].name = "x-cpc-timestamp";
  a->md[1].value = a->ts;
  a->md[2].name = "x-cpc-signature";
  a->md[2].value = a->sig;
  return 0;
}

int cpc__node_commitment(cpc_node *n, uint8_t **out, size_t *out_len) {
  Cpc__Orchestrator__V1__ResourceCommitment c =
      CPC__ORCHESTRATOR__V1__RESOURCE_COMMITMENT__INIT;
  Cpc__Orchestrator__V1__SignedCommitment s =
      CPC__ORCHESTRATOR__V1__SIGNED_COMMITMENT__INIT;
  uint8_t pub[CPC_PUBKEY_PROTO_MAX], sig[CPC_SIG_MAX_LEN];
  char addr_text[16][CPC_NODE_MAX_ADDR], *addrs[16];
  uint8_t *body = NULL, *signed_msg = NULL, *res = NULL;
  size_t pub_len = 0, n_addrs = 0, i, blen, slen = 0, plen;
  int rc;

  rc = cpc_pubkey_encode(&n->key.pub, pub, sizeof pub, &pub_len);
  if (rc != 0)
    return rc;
  if (n->net) {
    rc = cpc_node_listen_addrs(n, addr_text, 16, &n_addrs);
    if (rc != 0)
      return rc;
    if (n_addrs > 16)
      n_addrs = 16;
  }
  for (i = 0; i < n_addrs; i++)
    addrs[i] = addr_text[i];
  c.public_key.data = pub;
  c.public_key.len = pub_len;
  c.capacity_bytes = n->cfg.capacity;
  c.bandwidth_bps = n->cfg.bandwidth;
  c.region = n->cfg.region;
  c.addrs = addrs;
  c.n_addrs = n_addrs;
  c.timestamp_ms = cpc__node_now_ms();
  blen = cpc__orchestrator__v1__resource_commitment__get_packed_size(&c);
  plen = strlen(COMMIT_PREFIX);
  body = malloc(blen + 1);
  signed_msg = malloc(plen + blen + 1);
  if (!body || !signed_msg) {
    rc = CPC_ENOMEM;
    goto out;
  }
  cpc__orchestrator__v1__resource_commitment__pack(&c, body);
  memcpy(signed_msg, COMMIT_PREFIX, plen);
  memcpy(signed_msg + plen, body, blen);
  rc = cpc_privkey_sign(&n->key, signed_msg, plen + blen, sig, sizeof sig,
                        &slen);
  if (rc != 0)
    goto out;
  s.commitment.data = body;
  s.commitment.len = blen;
  s.signature.data = sig;
  s.signature.len = slen;
  *out_len = cpc__orchestrator__v1__signed_commitment__get_packed_size(&s);
  res = malloc(*out_len + 1);
  if (!res) {
    rc = CPC_ENOMEM;
    goto out;
  }
  cpc__orchestrator__v1__signed_commitment__pack(&s, res);
  *out = res;
out:
  free(body);
  free(signed_msg);
  return rc;
}
