/*
 * cpc/cid.h: content identifiers, CIDv1 <0x01><codec varint><multihash>,
 * with text form multibase (base32 'b' by default). CIDv0 (a bare sha2-256
 * multihash, base58btc "Qm...") is parsed too, since IPFS peers send it.
 */
#ifndef CPC_CID_H
#define CPC_CID_H

#include <stddef.h>
#include <stdint.h>

#include "cpc/multibase.h"
#include "cpc/multihash.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CPC_CODEC_RAW 0x55
#define CPC_CODEC_DAG_PB 0x70
#define CPC_CODEC_LIBP2P_KEY 0x72

#define CPC_CID_MAX_BYTES (1 + 9 + CPC_MH_MAX_LEN)
/* Enough for any CID we format, in any base, with prefix and NUL. */
#define CPC_CID_MAX_TEXT 256

typedef struct cpc_cid {
  uint64_t version; /* 0 or 1 */
  uint64_t codec;   /* dag-pb for v0 */
  cpc_multihash mh;
} cpc_cid;

/* Build a CIDv1 of codec over the bytes data with hash code (e.g. blake3). */
int cpc_cid_compute(uint64_t codec, uint64_t hash_code, const void *data,
                    size_t len, cpc_cid *cid);

/*
 * Binary form. decode: CPC_ETRUNC, CPC_EMALFORMED (version other than 1,
 * or a v0 that is not a 34-byte sha2-256 multihash), CPC_ETOOBIG; *used gets
 * the bytes consumed. encode: CPC_ETOOBIG if cap is short.
 */
int cpc_cid_decode(const uint8_t *in, size_t len, cpc_cid *cid, size_t *used);
int cpc_cid_encode(const cpc_cid *cid, uint8_t *out, size_t cap,
                   size_t *written);

/*
 * Text form. parse accepts any multibase of cpc/multibase.h, or CIDv0 "Qm…"
 * base58btc, and rejects trailing bytes. format writes base (v0 always as
 * bare base58btc) NUL-terminated into out (cap bytes).
 */
int cpc_cid_parse(const char *text, cpc_cid *cid);
int cpc_cid_format(const cpc_cid *cid, enum cpc_multibase base, char *out,
                   size_t cap);

/* 1 if a and b are the same CID, else 0. */
int cpc_cid_equal(const cpc_cid *a, const cpc_cid *b);

/* Check that data is what cid names (CPC_EMISMATCH if not). */
int cpc_cid_verify(const cpc_cid *cid, const void *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* CPC_CID_H */
