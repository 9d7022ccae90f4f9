/*
 * node_proof.c: what a node proves with (docs/node-rpc.md): the answer to
 * an audit challenge (BLAKE3 keyed with the 32-byte nonce over a byte
 * range of the block) and the Ed25519 signature of a NodeService call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cpc/blake3.h"
#include "cpc/error.h"
#include "cpc/keys.h"
#include "cpc/node.h"

#define RPC_PREFIX "CPC-NODE-RPC-V1\n"

int cpc_node_audit_proof(const uint8_t *data, size_t len, uint64_t offset,
                         uint64_t length, const uint8_t nonce[32],
                         uint8_t proof[32]) {
  cpc_blake3_hasher h;
  if ((!data && len) || !nonce || !proof || length == 0)
    return CPC_EINVAL;
  if (offset > len || length > len - offset)
    return CPC_ETOOBIG;
  cpc_blake3_hasher_init_keyed(&h, nonce);
  cpc_blake3_hasher_update(&h, data + offset, (size_t)length);
  cpc_blake3_hasher_finalize(&h, proof, 32);
  return 0;
}

int cpc_node_rpc_sign(const cpc_privkey *key, const char *path,
                      const char *timestamp, const uint8_t *body, size_t len,
                      char sig_hex[129]) {
  uint8_t hash[32], sig[CPC_SIG_MAX_LEN];
  char hex[65];
  char *msg;
  size_t plen, tlen, mlen, slen = 0;
  int rc;
  if (!key || !path || !timestamp || (!body && len) || !sig_hex)
    return CPC_EINVAL;
  if (key->type != CPC_KEY_ED25519)
    return CPC_EUNSUPPORTED;
  cpc_blake3(body, len, hash);
  sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
  plen = strlen(path);
  tlen = strlen(timestamp);
  mlen = strlen(RPC_PREFIX) + plen + 1 + tlen + 1 + 64;
  msg = malloc(mlen + 1);
  if (!msg)
    return CPC_ENOMEM;
  snprintf(msg, mlen + 1, "%s%s\n%s\n%s", RPC_PREFIX, path, timestamp, hex);
  rc = cpc_privkey_sign(key, msg, mlen, sig, sizeof sig, &slen);
  free(msg);
  if (rc != 0)
    return rc;
  sodium_bin2hex(sig_hex, 129, sig, slen);
  return 0;
}
