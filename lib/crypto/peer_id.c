/*
 * peer_id.c: libp2p PeerIds from public keys, and their text forms
 * (libp2p/specs peer-ids, "Peer Ids" and "String representation").
 */
#include <string.h>

#include "cpc/cid.h"
#include "cpc/error.h"
#include "cpc/multibase.h"
#include "cpc/multihash.h"
#include "cpc/peer_id.h"

int cpc_peer_id_from_pubkey(const cpc_pubkey *pk, cpc_peer_id *id) {
  uint8_t enc[CPC_PUBKEY_PROTO_MAX];
  size_t enc_len = 0, n = 0;
  cpc_multihash mh;
  int rc;

  memset(id, 0, sizeof *id);
  rc = cpc_pubkey_encode(pk, enc, sizeof enc, &enc_len);
  if (rc != 0)
    return rc;
  rc = cpc_multihash_compute(enc_len <= CPC_PEER_ID_INLINE_MAX
                                 ? CPC_MH_IDENTITY
                                 : CPC_MH_SHA2_256,
                             enc, enc_len, &mh);
  if (rc != 0)
    return rc;
  rc = cpc_multihash_encode(&mh, id->bytes, sizeof id->bytes, &n);
  if (rc != 0)
    return rc;
  id->len = n;
  return 0;
}

/* Check a decoded multihash is a PeerId we can stand behind. */
static int check_multihash(const cpc_multihash *mh) {
  cpc_pubkey pk;
  cpc_peer_id again;
  int rc;

  switch (mh->code) {
  case CPC_MH_SHA2_256:
    return 0; /* digest length already checked by the multihash decoder */
  case CPC_MH_IDENTITY:
    if (mh->digest_len == 0 || mh->digest_len > CPC_PEER_ID_INLINE_MAX)
      return CPC_EMALFORMED;
    rc = cpc_pubkey_decode(mh->digest, mh->digest_len, &pk);
    if (rc != 0)
      return rc;
    /* Only the canonical encoding names this key. */
    rc = cpc_peer_id_from_pubkey(&pk, &again);
    if (rc != 0)
      return rc;
    if (again.len != mh->digest_len + 2 ||
        memcmp(again.bytes + 2, mh->digest, mh->digest_len) != 0)
      return CPC_EMALFORMED;
    return 0;
  default:
    return CPC_EUNSUPPORTED;
  }
}

int cpc_peer_id_from_bytes(const uint8_t *in, size_t len, cpc_peer_id *id) {
  cpc_multihash mh;
  size_t used = 0;
  int rc;

  memset(id, 0, sizeof *id);
  if (!in || len == 0)
    return CPC_EMALFORMED;
  if (len > CPC_PEER_ID_MAX_BYTES)
    return CPC_ETOOBIG;
  rc = cpc_multihash_decode(in, len, &mh, &used);
  if (rc == CPC_ETRUNC)
    return CPC_EMALFORMED;
  if (rc != 0)
    return rc;
  if (used != len)
    return CPC_EMALFORMED;
  rc = check_multihash(&mh);
  if (rc != 0)
    return rc;
  memcpy(id->bytes, in, len);
  id->len = len;
  return 0;
}

int cpc_peer_id_parse(const char *text, cpc_peer_id *id) {
  uint8_t buf[CPC_PEER_ID_MAX_TEXT];
  size_t tlen, n = 0;
  cpc_cid cid;
  int rc;

  memset(id, 0, sizeof *id);
  if (!text)
    return CPC_EINVAL;
  tlen = strnlen(text, CPC_PEER_ID_MAX_TEXT + 1);
  if (tlen > CPC_PEER_ID_MAX_TEXT)
    return CPC_ETOOBIG;
  if (tlen == 0)
    return CPC_EMALFORMED;
  if (text[0] == '1' || (text[0] == 'Q' && text[1] == 'm')) {
    rc = cpc_base58btc_decode(text, tlen, buf, sizeof buf, &n);
    if (rc != 0)
      return rc == CPC_ETOOBIG ? CPC_ETOOBIG : CPC_EMALFORMED;
    return cpc_peer_id_from_bytes(buf, n, id);
  }
  rc = cpc_cid_parse(text, &cid);
  if (rc != 0)
    return rc == CPC_ETOOBIG ? rc : CPC_EMALFORMED;
  if (cid.version != 1 || cid.codec != CPC_CODEC_LIBP2P_KEY)
    return CPC_EMALFORMED;
  rc = cpc_multihash_encode(&cid.mh, buf, sizeof buf, &n);
  if (rc != 0)
    return rc;
  return cpc_peer_id_from_bytes(buf, n, id);
}

int cpc_peer_id_format(const cpc_peer_id *id, char *out, size_t cap) {
  size_t n = 0;
  if (id->len == 0 || id->len > CPC_PEER_ID_MAX_BYTES)
    return CPC_EINVAL;
  return cpc_base58btc_encode(id->bytes, id->len, out, cap, &n);
}

int cpc_peer_id_format_cid(const cpc_peer_id *id, char *out, size_t cap) {
  cpc_cid cid;
  size_t used = 0;
  int rc;

  if (id->len == 0 || id->len > CPC_PEER_ID_MAX_BYTES)
    return CPC_EINVAL;
  memset(&cid, 0, sizeof cid);
  rc = cpc_multihash_decode(id->bytes, id->len, &cid.mh, &used);
  if (rc != 0)
    return rc;
  cid.version = 1;
  cid.codec = CPC_CODEC_LIBP2P_KEY;
  return cpc_cid_format(&cid, CPC_MB_BASE32, out, cap);
}

int cpc_peer_id_pubkey(const cpc_peer_id *id, cpc_pubkey *pk) {
  cpc_multihash mh;
  size_t used = 0;
  int rc;

  memset(pk, 0, sizeof *pk);
  if (id->len == 0 || id->len > CPC_PEER_ID_MAX_BYTES)
    return CPC_EINVAL;
  rc = cpc_multihash_decode(id->bytes, id->len, &mh, &used);
  if (rc != 0)
    return CPC_EMALFORMED;
  if (mh.code != CPC_MH_IDENTITY)
    return CPC_EUNSUPPORTED;
  rc = cpc_pubkey_decode(mh.digest, mh.digest_len, pk);
  return rc == CPC_EUNSUPPORTED ? rc : (rc != 0 ? CPC_EMALFORMED : 0);
}

int cpc_peer_id_check(const cpc_peer_id *id, const cpc_pubkey *pk) {
  cpc_peer_id derived;
  if (cpc_peer_id_from_pubkey(pk, &derived) != 0)
    return CPC_EMISMATCH;
  return cpc_peer_id_equal(id, &derived) ? 0 : CPC_EMISMATCH;
}

int cpc_peer_id_equal(const cpc_peer_id *a, const cpc_peer_id *b) {
  return a->len == b->len && a->len <= CPC_PEER_ID_MAX_BYTES &&
         memcmp(a->bytes, b->bytes, a->len) == 0;
}

int cpc_peer_id_compare(const cpc_peer_id *a, const cpc_peer_id *b) {
  size_t n = a->len < b->len ? a->len : b->len;
  int c = memcmp(a->bytes, b->bytes, n);
  if (c != 0)
    return c;
  return a->len < b->len ? -1 : (a->len > b->len ? 1 : 0);
}
