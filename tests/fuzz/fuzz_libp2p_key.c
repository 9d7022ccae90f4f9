/*
 * fuzz_libp2p_key.c: libp2p PublicKey / PrivateKey protobuf decoders. What
 * decodes must encode and decode again to the same key; a private key's
 * public half must be the one derived from it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t buf[CPC_PRIVKEY_PROTO_MAX];
  size_t n = 0;
  cpc_pubkey pk, pk2;
  cpc_privkey k, k2;

  if (cpc_pubkey_decode(data, size, &pk) == 0) {
    if (cpc_pubkey_encode(&pk, buf, sizeof buf, &n) != 0 ||
        cpc_pubkey_decode(buf, n, &pk2) != 0 || !cpc_pubkey_equal(&pk, &pk2))
      abort();
  }
  if (cpc_privkey_decode(data, size, &k) == 0) {
    if (cpc_privkey_encode(&k, buf, sizeof buf, &n) != 0 ||
        cpc_privkey_decode(buf, n, &k2) != 0 || k.len != k2.len ||
        memcmp(k.data, k2.data, k.len) != 0 ||
        !cpc_pubkey_equal(&k.pub, &k2.pub))
      abort();
    cpc_privkey_wipe(&k);
    cpc_privkey_wipe(&k2);
  }
  return 0;
}
