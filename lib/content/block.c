/* block.c: block CIDs, AAD and sealing of manifest blocks. */
#include <string.h>

#include "content/content_int.h"
#include "cpc/blake3.h"
#include "cpc/error.h"

static const uint8_t cid_prefix[4] = {0x01, CPC_CODEC_RAW, CPC_MH_BLAKE3, 32};

void cpc__block_aad(uint32_t domain, int compressed, uint8_t aad[CPC__AAD_LEN]) {
  aad[0] = 'C';
  aad[1] = 'P';
  aad[2] = 'C';
  aad[3] = CPC_MANIFEST_VERSION;
  aad[4] = (uint8_t)domain;
  aad[5] = compressed ? 1 : 0;
}

void cpc__block_cid_bytes(const uint8_t digest[32],
                          uint8_t cid[CPC_BLOCK_CID_LEN]) {
  memcpy(cid, cid_prefix, sizeof cid_prefix);
  memcpy(cid + sizeof cid_prefix, digest, 32);
}

void cpc__block_cid_from_bytes(const uint8_t bytes[CPC_BLOCK_CID_LEN],
                               cpc_cid *cid) {
  memset(cid, 0, sizeof *cid);
  cid->version = 1;
  cid->codec = CPC_CODEC_RAW;
  cid->mh.code = CPC_MH_BLAKE3;
  cid->mh.digest_len = 32;
  memcpy(cid->mh.digest, bytes + sizeof cid_prefix, 32);
}

int cpc__block_cid_ok(const cpc_cid *cid) {
  return cid->version == 1 && cid->codec == CPC_CODEC_RAW &&
         cid->mh.code == CPC_MH_BLAKE3 && cid->mh.digest_len == 32;
}

int cpc__block_seal(const uint8_t key[CPC_AEAD_KEY_LEN], uint32_t domain,
                    uint64_t index, const uint8_t *payload, size_t len,
                    uint8_t *out, size_t cap, size_t *out_len,
                    uint8_t cid_bytes[CPC_BLOCK_CID_LEN]) {
  uint8_t nonce[CPC_AEAD_NONCE_LEN], aad[CPC__AAD_LEN], digest[32];
  cpc_aead_nonce(domain, index, nonce);
  cpc__block_aad(domain, 0, aad);
  int rc = cpc_aead_encrypt(key, nonce, aad, sizeof aad, payload, len, out, cap,
                            out_len);
  if (rc != 0)
    return rc;
  cpc_blake3(out, *out_len, digest);
  cpc__block_cid_bytes(digest, cid_bytes);
  return 0;
}
