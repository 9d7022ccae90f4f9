/*
 * multihash.c: <code varint><digest length varint><digest>, computed with
 * libsodium's SHA-256 and CPC's own BLAKE3, or the identity "hash" (the data
 * itself, for small values such as public keys).
 */
#include <string.h>

#include <sodium/crypto_hash_sha256.h>

#include "cpc/blake3.h"
#include "cpc/error.h"
#include "cpc/multihash.h"
#include "cpc/varint.h"

const char *cpc_multihash_name(uint64_t code) {
  switch (code) {
  case CPC_MH_IDENTITY: return "identity";
  case CPC_MH_SHA2_256: return "sha2-256";
  case CPC_MH_BLAKE3: return "blake3";
  default: return NULL;
  }
}

int cpc_multihash_code_from_name(const char *name, uint64_t *code) {
  static const uint64_t codes[] = {CPC_MH_IDENTITY, CPC_MH_SHA2_256,
                                   CPC_MH_BLAKE3};
  if (name == NULL || code == NULL)
    return CPC_EINVAL;
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
    if (strcmp(cpc_multihash_name(codes[i]), name) == 0) {
      *code = codes[i];
      return 0;
    }
  return CPC_EUNSUPPORTED;
}

/* 1 if digest_len is acceptable for code (known codes have fixed lengths). */
static int digest_len_ok(uint64_t code, uint64_t digest_len) {
  if (code == CPC_MH_SHA2_256 || code == CPC_MH_BLAKE3)
    return digest_len == CPC_MH_HASH_LEN;
  return 1;
}

int cpc_multihash_hasher_init(cpc_multihash_hasher *h, uint64_t code) {
  if (h == NULL)
    return CPC_EINVAL;
  memset(h, 0, sizeof *h);
  h->code = code;
  switch (code) {
  case CPC_MH_IDENTITY:
    return 0;
  case CPC_MH_SHA2_256:
    crypto_hash_sha256_init(&h->u.sha256);
    return 0;
  case CPC_MH_BLAKE3:
    cpc_blake3_hasher_init(&h->u.blake3);
    return 0;
  default:
    return CPC_EUNSUPPORTED;
  }
}

void cpc_multihash_hasher_update(cpc_multihash_hasher *h, const void *data,
                                 size_t len) {
  if (len == 0)
    return;
  switch (h->code) {
  case CPC_MH_IDENTITY:
    /* Keep what fits; final reports CPC_ETOOBIG if anything did not. */
    if (h->total < CPC_MH_MAX_DIGEST) {
      size_t room = CPC_MH_MAX_DIGEST - (size_t)h->total;
      memcpy(h->u.identity + h->total, data, len < room ? len : room);
    }
    break;
  case CPC_MH_SHA2_256:
    crypto_hash_sha256_update(&h->u.sha256, data, len);
    break;
  case CPC_MH_BLAKE3:
    cpc_blake3_hasher_update(&h->u.blake3, data, len);
    break;
  default:
    return;
  }
  h->total += len;
}

int cpc_multihash_hasher_final(cpc_multihash_hasher *h, cpc_multihash *mh) {
  if (h == NULL || mh == NULL)
    return CPC_EINVAL;
  memset(mh, 0, sizeof *mh);
  mh->code = h->code;
  switch (h->code) {
  case CPC_MH_IDENTITY:
    if (h->total > CPC_MH_MAX_DIGEST)
      return CPC_ETOOBIG;
    mh->digest_len = (size_t)h->total;
    memcpy(mh->digest, h->u.identity, mh->digest_len);
    return 0;
  case CPC_MH_SHA2_256:
    crypto_hash_sha256_final(&h->u.sha256, mh->digest);
    mh->digest_len = CPC_MH_HASH_LEN;
    return 0;
  case CPC_MH_BLAKE3:
    cpc_blake3_hasher_finalize(&h->u.blake3, mh->digest, CPC_MH_HASH_LEN);
    mh->digest_len = CPC_MH_HASH_LEN;
    return 0;
  default:
    return CPC_EUNSUPPORTED;
  }
}

int cpc_multihash_compute(uint64_t code, const void *data, size_t len,
                          cpc_multihash *mh) {
  cpc_multihash_hasher h;
  int rc;

  if (mh == NULL || (data == NULL && len > 0))
    return CPC_EINVAL;
  if (code == CPC_MH_IDENTITY && len > CPC_MH_MAX_DIGEST)
    return CPC_ETOOBIG;
  rc = cpc_multihash_hasher_init(&h, code);
  if (rc != 0)
    return rc;
  cpc_multihash_hasher_update(&h, data, len);
  return cpc_multihash_hasher_final(&h, mh);
}

int cpc_multihash_decode(const uint8_t *in, size_t len, cpc_multihash *mh,
                         size_t *used) {
  uint64_t code, digest_len;
  size_t n1, n2;
  int rc;

  if ((in == NULL && len > 0) || mh == NULL)
    return CPC_EINVAL;
  rc = cpc_varint_decode(in, len, &code, &n1);
  if (rc != 0)
    return rc;
  rc = cpc_varint_decode(in + n1, len - n1, &digest_len, &n2);
  if (rc != 0)
    return rc;
  if (!digest_len_ok(code, digest_len))
    return CPC_EMALFORMED;
  if (digest_len > CPC_MH_MAX_DIGEST)
    return CPC_ETOOBIG;
  if (digest_len > len - n1 - n2)
    return CPC_ETRUNC;
  memset(mh, 0, sizeof *mh);
  mh->code = code;
  mh->digest_len = (size_t)digest_len;
  memcpy(mh->digest, in + n1 + n2, mh->digest_len);
  if (used)
    *used = n1 + n2 + mh->digest_len;
  return 0;
}

int cpc_multihash_encode(const cpc_multihash *mh, uint8_t *out, size_t cap,
                         size_t *written) {
  size_t n1, n2;
  int rc;

  if (mh == NULL || (out == NULL && cap > 0))
    return CPC_EINVAL;
  if (mh->code >= (UINT64_C(1) << 63) || mh->digest_len > CPC_MH_MAX_DIGEST ||
      !digest_len_ok(mh->code, mh->digest_len))
    return CPC_EINVAL;
  if (cap < cpc_varint_len(mh->code) + cpc_varint_len(mh->digest_len) +
                mh->digest_len)
    return CPC_ETOOBIG;
  rc = cpc_varint_encode(mh->code, out, cap, &n1);
  if (rc == 0)
    rc = cpc_varint_encode(mh->digest_len, out + n1, cap - n1, &n2);
  if (rc != 0)
    return rc;
  memcpy(out + n1 + n2, mh->digest, mh->digest_len);
  if (written)
    *written = n1 + n2 + mh->digest_len;
  return 0;
}

int cpc_multihash_verify(const cpc_multihash *mh, const void *data, size_t len) {
  cpc_multihash actual;
  int rc;

  if (mh == NULL || (data == NULL && len > 0))
    return CPC_EINVAL;
  if (cpc_multihash_name(mh->code) == NULL)
    return CPC_EUNSUPPORTED;
  if (mh->code == CPC_MH_IDENTITY) {
    if (len != mh->digest_len || (len > 0 && memcmp(data, mh->digest, len) != 0))
      return CPC_EMISMATCH;
    return 0;
  }
  rc = cpc_multihash_compute(mh->code, data, len, &actual);
  if (rc != 0)
    return rc;
  if (actual.digest_len != mh->digest_len ||
      memcmp(actual.digest, mh->digest, actual.digest_len) != 0)
    return CPC_EMISMATCH;
  return 0;
}
