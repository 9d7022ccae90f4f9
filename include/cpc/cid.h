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
/*
 * Enough for any CID we format, in any base, with prefix and NUL (base16 of
 * CPC_CID_MAX_BYTES needs 2 + 2 * 146 = 294).
 */
#define CPC_CID_MAX_TEXT 320

typedef struct cpc_cid {
  uint64_t version; /* 0 or 1 */
  uint64_t codec;   /* dag-pb for v0 */
  cpc_multihash mh;
} cpc_cid;

/*
 * Build a CIDv1 of codec over the bytes data (borrowed) with hash code
 * (e.g. blake3) into *cid. Errors as cpc_multihash_compute(), and
 * CPC_EINVAL for a codec >= 2^63.
 */
int cpc_cid_compute(uint64_t codec, uint64_t hash_code, const void *data,
                    size_t len, cpc_cid *cid);

/*
 * Binary form. decode: input starting 0x12 0x20 is a CIDv0 (a sha2-256
 * multihash, 34 bytes); anything else must be <0x01><codec><multihash>.
 * Any codec and multihash code are accepted. Errors: CPC_ETRUNC,
 * CPC_EMALFORMED (version other than 1, or a v0 that is not a 34-byte
 * sha2-256 multihash, or a bad varint/multihash), CPC_ETOOBIG; *used (may be
 * NULL) gets the bytes consumed, so other data may follow.
 * encode: CPC_ETOOBIG if cap is short, CPC_EINVAL for a cid that decode would
 * not accept (v0 must be dag-pb with a 32-byte sha2-256 digest).
 */
int cpc_cid_decode(const uint8_t *in, size_t len, cpc_cid *cid, size_t *used);
int cpc_cid_encode(const cpc_cid *cid, uint8_t *out, size_t cap,
                   size_t *written);

/*
 * Text form. parse accepts any multibase of cpc/multibase.h, or CIDv0 "Qm…"
 * (46 characters of bare base58btc), and rejects trailing bytes. Errors:
 * CPC_EMALFORMED (empty, bad characters, trailing bytes, a multibase text
 * whose bytes start 0x12 as the CID spec forbids, ...), CPC_EUNSUPPORTED
 * (unknown multibase prefix), CPC_ETRUNC, CPC_ETOOBIG (text over
 * CPC_MB_MAX_TEXT, digest over CPC_MH_MAX_DIGEST). text is NUL-terminated
 * and borrowed.
 * format writes base (v0 always as bare base58btc) NUL-terminated into out
 * (cap bytes; CPC_CID_MAX_TEXT is always enough). CPC_ETOOBIG if cap is
 * short, CPC_EINVAL as for encode, CPC_EUNSUPPORTED for an unknown base.
 * Text from format parses back to the same CID, and parse then format in the
 * same lower-case base gives the same text back.
 */
int cpc_cid_parse(const char *text, cpc_cid *cid);
int cpc_cid_format(const cpc_cid *cid, enum cpc_multibase base, char *out,
                   size_t cap);

/* "raw", "dag-pb", "libp2p-key", or NULL for other codecs. */
const char *cpc_cid_codec_name(uint64_t codec);

/*
 * The codec called name (NUL-terminated, one of the names above) into
 * *codec. CPC_EUNSUPPORTED for any other name.
 */
int cpc_cid_codec_from_name(const char *name, uint64_t *codec);

/* 1 if a and b are the same CID, else 0. */
int cpc_cid_equal(const cpc_cid *a, const cpc_cid *b);

/*
 * Check that data is what cid names: 0, CPC_EMISMATCH if not, or the
 * errors of cpc_multihash_verify() (CPC_EUNSUPPORTED for a hash code we
 * cannot compute); CPC_EINVAL when cid is NULL.
 */
int cpc_cid_verify(const cpc_cid *cid, const void *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* CPC_CID_H */
