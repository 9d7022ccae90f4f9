/*
 * cid.c: content identifiers. Binary CIDv1 is <0x01><codec varint>
 * <multihash>; a CIDv0 is a bare sha2-256 multihash, written as 46
 * characters of base58btc ("Qm..."). Decoding follows the CID spec's
 * algorithm, including its rule that a multibase text may not hold a v0.
 */
#include <string.h>

#include "cpc/cid.h"
#include "cpc/error.h"
#include "cpc/varint.h"

#define CIDV0_LEN 34
#define CIDV0_TEXT_LEN 46
/* The first two bytes of every CIDv0: sha2-256, 32-byte digest. */
#define CIDV0_BYTE0 CPC_MH_SHA2_256
#define CIDV0_BYTE1 CPC_MH_HASH_LEN

int cpc_cid_compute(uint64_t codec, uint64_t hash_code, const void *data,
                    size_t len, cpc_cid *cid) {
  int rc;

  if (cid == NULL || codec >= (UINT64_C(1) << 63))
    return CPC_EINVAL;
  memset(cid, 0, sizeof *cid);
  rc = cpc_multihash_compute(hash_code, data, len, &cid->mh);
  if (rc != 0)
    return rc;
  cid->version = 1;
  cid->codec = codec;
  return 0;
}

/* 1 if cid is a CIDv0 that can be written down. */
static int v0_valid(const cpc_cid *cid) {
  return cid->codec == CPC_CODEC_DAG_PB && cid->mh.code == CPC_MH_SHA2_256 &&
         cid->mh.digest_len == CPC_MH_HASH_LEN;
}

int cpc_cid_decode(const uint8_t *in, size_t len, cpc_cid *cid, size_t *used) {
  uint64_t version, codec;
  size_t n1, n2, n3;
  int rc;

  if ((in == NULL && len > 0) || cid == NULL)
    return CPC_EINVAL;
  if (len == 0)
    return CPC_ETRUNC;
  if (in[0] == CIDV0_BYTE0) {
    if (len < 2)
      return CPC_ETRUNC;
    if (in[1] != CIDV0_BYTE1)
      return CPC_EMALFORMED;
    if (len < CIDV0_LEN)
      return CPC_ETRUNC;
    memset(cid, 0, sizeof *cid);
    rc = cpc_multihash_decode(in, CIDV0_LEN, &cid->mh, NULL);
    if (rc != 0)
      return rc;
    cid->version = 0;
    cid->codec = CPC_CODEC_DAG_PB;
    if (used)
      *used = CIDV0_LEN;
    return 0;
  }
  rc = cpc_varint_decode(in, len, &version, &n1);
  if (rc != 0)
    return rc;
  if (version != 1)
    return CPC_EMALFORMED;
  rc = cpc_varint_decode(in + n1, len - n1, &codec, &n2);
  if (rc != 0)
    return rc;
  memset(cid, 0, sizeof *cid);
  rc = cpc_multihash_decode(in + n1 + n2, len - n1 - n2, &cid->mh, &n3);
  if (rc != 0)
    return rc;
  cid->version = 1;
  cid->codec = codec;
  if (used)
    *used = n1 + n2 + n3;
  return 0;
}

int cpc_cid_encode(const cpc_cid *cid, uint8_t *out, size_t cap,
                   size_t *written) {
  size_t n1 = 0, n2 = 0, n3 = 0;
  int rc;

  if (cid == NULL || (out == NULL && cap > 0))
    return CPC_EINVAL;
  if (cid->version == 0) {
    if (!v0_valid(cid))
      return CPC_EINVAL;
    return cpc_multihash_encode(&cid->mh, out, cap, written);
  }
  if (cid->version != 1 || cid->codec >= (UINT64_C(1) << 63))
    return CPC_EINVAL;
  rc = cpc_varint_encode(1, out, cap, &n1);
  if (rc == 0)
    rc = cpc_varint_encode(cid->codec, out + n1, cap - n1, &n2);
  if (rc == 0)
    rc = cpc_multihash_encode(&cid->mh, out + n1 + n2, cap - n1 - n2, &n3);
  if (rc != 0)
    return rc;
  if (written)
    *written = n1 + n2 + n3;
  return 0;
}

int cpc_cid_parse(const char *text, cpc_cid *cid) {
  uint8_t bytes[CPC_CID_MAX_BYTES];
  size_t text_len, n, used;
  int rc;

  if (text == NULL || cid == NULL)
    return CPC_EINVAL;
  text_len = strnlen(text, CPC_MB_MAX_TEXT + 1);
  if (text_len > CPC_MB_MAX_TEXT)
    return CPC_ETOOBIG;
  if (text_len == 0)
    return CPC_EMALFORMED;
  if (text_len == CIDV0_TEXT_LEN && text[0] == 'Q' && text[1] == 'm') {
    rc = cpc_base58btc_decode(text, text_len, bytes, sizeof bytes, &n);
    if (rc != 0)
      return rc;
    /* "Qm" plus 44 digits always gives 34 bytes starting 0x12 0x20. */
    if (n != CIDV0_LEN || bytes[0] != CIDV0_BYTE0)
      return CPC_EMALFORMED;
  } else {
    rc = cpc_multibase_decode(text, text_len, bytes, sizeof bytes, NULL, &n);
    if (rc != 0)
      return rc;
    /* A CIDv0 may not be multibase-encoded (and there is no CIDv18). */
    if (n > 0 && bytes[0] == CIDV0_BYTE0)
      return CPC_EMALFORMED;
  }
  rc = cpc_cid_decode(bytes, n, cid, &used);
  if (rc != 0)
    return rc;
  if (used != n)
    return CPC_EMALFORMED;
  return 0;
}

int cpc_cid_format(const cpc_cid *cid, enum cpc_multibase base, char *out,
                   size_t cap) {
  uint8_t bytes[CPC_CID_MAX_BYTES];
  size_t n;
  int rc;

  if (cid == NULL || out == NULL)
    return CPC_EINVAL;
  rc = cpc_cid_encode(cid, bytes, sizeof bytes, &n);
  if (rc != 0)
    return rc;
  if (cid->version == 0)
    return cpc_base58btc_encode(bytes, n, out, cap, NULL);
  return cpc_multibase_encode(base, bytes, n, out, cap, NULL);
}

static const struct {
  uint64_t codec;
  const char *name;
} codec_names[] = {
    {CPC_CODEC_RAW, "raw"},
    {CPC_CODEC_DAG_PB, "dag-pb"},
    {CPC_CODEC_LIBP2P_KEY, "libp2p-key"},
};

const char *cpc_cid_codec_name(uint64_t codec) {
  for (size_t i = 0; i < sizeof codec_names / sizeof codec_names[0]; i++)
    if (codec_names[i].codec == codec)
      return codec_names[i].name;
  return NULL;
}

int cpc_cid_codec_from_name(const char *name, uint64_t *codec) {
  if (name == NULL || codec == NULL)
    return CPC_EINVAL;
  for (size_t i = 0; i < sizeof codec_names / sizeof codec_names[0]; i++)
    if (strcmp(codec_names[i].name, name) == 0) {
      *codec = codec_names[i].codec;
      return 0;
    }
  return CPC_EUNSUPPORTED;
}

int cpc_cid_equal(const cpc_cid *a, const cpc_cid *b) {
  if (a->mh.digest_len > CPC_MH_MAX_DIGEST)
    return 0;
  return a->version == b->version && a->codec == b->codec &&
         a->mh.code == b->mh.code && a->mh.digest_len == b->mh.digest_len &&
         memcmp(a->mh.digest, b->mh.digest, a->mh.digest_len) == 0;
}

int cpc_cid_verify(const cpc_cid *cid, const void *data, size_t len) {
  if (cid == NULL)
    return CPC_EINVAL;
  return cpc_multihash_verify(&cid->mh, data, len);
}
