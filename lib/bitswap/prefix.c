/* prefix.c: CID prefixes (Bitswap 1.1.0 payload) and the CIDs of blocks. */
#include <string.h>

#include "bitswap/bitswap_int.h"
#include "cpc/error.h"
#include "cpc/varint.h"

#define VARINT_LIMIT (UINT64_C(1) << 63)

void cpc_bitswap_prefix_of(const cpc_cid *cid, cpc_bitswap_prefix *p) {
  p->version = cid->version;
  p->codec = cid->codec;
  p->mh_code = cid->mh.code;
  p->mh_len = cid->mh.digest_len;
}

int cpc_bitswap_prefix_encode(const cpc_bitswap_prefix *p, uint8_t *out,
                              size_t cap, size_t *written) {
  const uint64_t v[4] = {p->version, p->codec, p->mh_code, p->mh_len};
  size_t need = 0, off = 0;
  for (int i = 0; i < 4; i++) {
    if (v[i] >= VARINT_LIMIT)
      return CPC_ETOOBIG;
    need += cpc_varint_len(v[i]);
  }
  if (need > cap)
    return CPC_ETOOBIG;
  for (int i = 0; i < 4; i++) {
    size_t n = 0;
    (void)cpc_varint_encode(v[i], out + off, cap - off, &n);
    off += n;
  }
  if (written)
    *written = off;
  return 0;
}

static int prefix_check(const cpc_bitswap_prefix *p) {
  if (p->version == 0)
    return p->codec == CPC_CODEC_DAG_PB && p->mh_code == CPC_MH_SHA2_256 &&
                   p->mh_len == CPC_MH_HASH_LEN
               ? 0
               : CPC_EMALFORMED;
  if (p->version != 1 || p->codec >= VARINT_LIMIT ||
      p->mh_code >= VARINT_LIMIT || p->mh_len >= VARINT_LIMIT)
    return CPC_EMALFORMED;
  return 0;
}

int cpc_bitswap_prefix_decode(const uint8_t *in, size_t len,
                              cpc_bitswap_prefix *p) {
  uint64_t v[4];
  size_t off = 0;
  for (int i = 0; i < 4; i++) {
    size_t n = 0;
    int rc = cpc_varint_decode(in + off, len - off, &v[i], &n);
    if (rc != 0)
      return rc;
    off += n;
  }
  if (off != len)
    return CPC_EMALFORMED;
  cpc_bitswap_prefix q = {v[0], v[1], v[2], v[3]};
  int rc = prefix_check(&q);
  if (rc != 0)
    return rc;
  *p = q;
  return 0;
}

int cpc_bitswap_prefix_cid(const cpc_bitswap_prefix *p, const void *data,
                           size_t len, cpc_cid *cid) {
  if (len > CPC_BITSWAP_MAX_BLOCK)
    return CPC_ETOOBIG;
  int rc = prefix_check(p);
  if (rc != 0)
    return rc;
  switch (p->mh_code) {
  case CPC_MH_SHA2_256:
  case CPC_MH_BLAKE3:
    if (p->mh_len != CPC_MH_HASH_LEN)
      return CPC_EUNSUPPORTED; /* truncated digests: not computed here */
    break;
  case CPC_MH_IDENTITY:
    if (len > CPC_MH_MAX_DIGEST)
      return CPC_EUNSUPPORTED;
    if (p->mh_len != len)
      return CPC_EMISMATCH;
    break;
  default: return CPC_EUNSUPPORTED;
  }
  cpc_cid c;
  memset(&c, 0, sizeof c);
  c.version = p->version;
  c.codec = p->codec;
  rc = cpc_multihash_compute(p->mh_code, data, len, &c.mh);
  if (rc != 0)
    return rc;
  *cid = c;
  return 0;
}
