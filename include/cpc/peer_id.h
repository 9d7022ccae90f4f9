/*
 * cpc/peer_id.h: libp2p PeerIds (libp2p/specs peer-ids).
 *
 * A PeerId is the multihash of the public key's libp2p PublicKey protobuf:
 * the identity multihash (code 0x00) when the encoding is at most 42 bytes,
 * as for Ed25519 and secp256k1 keys, so the key can be read back out of the
 * id; sha2-256 otherwise (RSA keys). Text form: bare base58btc of the
 * multihash ("12D3KooW…" Ed25519, "16Uiu2…" secp256k1, "Qm…" sha2-256);
 * the CIDv1 form (codec libp2p-key 0x72, any multibase, "bafz…" in base32)
 * is parsed too and can be written.
 *
 * cpc_peer_id is a value struct holding the multihash bytes; it owns nothing.
 */
#ifndef CPC_PEER_ID_H
#define CPC_PEER_ID_H

#include <stddef.h>
#include <stdint.h>

#include "cpc/keys.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Encodings up to this many bytes are inlined with the identity multihash. */
#define CPC_PEER_ID_INLINE_MAX 42
/* Longest PeerId multihash: 0x00, length byte, 42 bytes. */
#define CPC_PEER_ID_MAX_BYTES (2 + CPC_PEER_ID_INLINE_MAX)
/* Enough for either text form of any PeerId, NUL included. */
#define CPC_PEER_ID_MAX_TEXT 128

typedef struct cpc_peer_id {
  size_t len; /* 1..CPC_PEER_ID_MAX_BYTES */
  uint8_t bytes[CPC_PEER_ID_MAX_BYTES];
} cpc_peer_id;

/* The PeerId of pk. Errors: CPC_EUNSUPPORTED, CPC_EINVAL (bad key). */
int cpc_peer_id_from_pubkey(const cpc_pubkey *pk, cpc_peer_id *id);

/*
 * A PeerId from its binary multihash in[0..len) (borrowed), checked as
 * cpc_peer_id_parse() does. Errors: CPC_EMALFORMED (not one whole
 * multihash, an identity multihash over 42 bytes or whose key does not
 * decode, or not the canonical encoding of its key), CPC_EUNSUPPORTED
 * (hash other than identity / sha2-256, or an inlined key of a type we do
 * not implement), CPC_ETOOBIG.
 */
int cpc_peer_id_from_bytes(const uint8_t *in, size_t len, cpc_peer_id *id);

/*
 * Parse text (NUL-terminated, borrowed): bare base58btc starting with '1'
 * or "Qm", or a multibase CIDv1 with codec libp2p-key. Same errors as
 * cpc_peer_id_from_bytes(), plus CPC_EMALFORMED for bad text, a CID of
 * another codec or version, and CPC_ETOOBIG for text over
 * CPC_PEER_ID_MAX_TEXT characters.
 */
int cpc_peer_id_parse(const char *text, cpc_peer_id *id);

/*
 * Write the canonical text form (bare base58btc) NUL-terminated into out
 * (cap bytes; CPC_PEER_ID_MAX_TEXT is enough). CPC_ETOOBIG if cap is short.
 */
int cpc_peer_id_format(const cpc_peer_id *id, char *out, size_t cap);

/* Write the CIDv1 libp2p-key text form, base32 ("bafz…"). CPC_ETOOBIG. */
int cpc_peer_id_format_cid(const cpc_peer_id *id, char *out, size_t cap);

/*
 * The public key inlined in an identity PeerId. CPC_EUNSUPPORTED when the
 * id is a sha2-256 hash (the key must then come from elsewhere, e.g. the
 * identify protocol), CPC_EMALFORMED when it does not decode.
 */
int cpc_peer_id_pubkey(const cpc_peer_id *id, cpc_pubkey *pk);

/* 0 if id is the PeerId of pk, else CPC_EMISMATCH. */
int cpc_peer_id_check(const cpc_peer_id *id, const cpc_pubkey *pk);

/* 1 if a and b are the same PeerId, else 0. */
int cpc_peer_id_equal(const cpc_peer_id *a, const cpc_peer_id *b);

/* Total order (memcmp-like: <0, 0, >0) for sorting and searching. */
int cpc_peer_id_compare(const cpc_peer_id *a, const cpc_peer_id *b);

#ifdef __cplusplus
}
#endif

#endif /* CPC_PEER_ID_H */
