/*
 * cpc/multihash.h: self-describing hashes <code varint><length varint><digest>.
 * Codes handled: identity (0x00), sha2-256 (0x12), blake3 (0x1e). For the
 * two real hashes only the full 32-byte digest is accepted.
 */
#ifndef CPC_MULTIHASH_H
#define CPC_MULTIHASH_H

#include <stddef.h>
#include <stdint.h>

#include <sodium/crypto_hash_sha256.h>

#include "cpc/blake3.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CPC_MH_IDENTITY 0x00
#define CPC_MH_SHA2_256 0x12
#define CPC_MH_BLAKE3 0x1e

/* Longest digest we accept (identity multihashes carry small public keys). */
#define CPC_MH_MAX_DIGEST 128
#define CPC_MH_MAX_LEN (2 * 9 + CPC_MH_MAX_DIGEST)
/* Digest length of sha2-256 and blake3 multihashes. */
#define CPC_MH_HASH_LEN 32

/* A decoded multihash; digest is a copy, so the struct owns nothing. */
typedef struct cpc_multihash {
  uint64_t code;
  size_t digest_len;
  uint8_t digest[CPC_MH_MAX_DIGEST];
} cpc_multihash;

/*
 * Incremental multihash, for input that arrives in pieces (files, streams).
 * A plain struct the caller owns; it holds no heap memory, so there is
 * nothing to free. Treat the fields as private.
 */
typedef struct cpc_multihash_hasher {
  uint64_t code;
  uint64_t total; /* bytes absorbed so far */
  union {
    cpc_blake3_hasher blake3;
    crypto_hash_sha256_state sha256;
    uint8_t identity[CPC_MH_MAX_DIGEST];
  } u;
} cpc_multihash_hasher;

/* Start hashing with code. CPC_EUNSUPPORTED for a code we cannot compute. */
int cpc_multihash_hasher_init(cpc_multihash_hasher *h, uint64_t code);

/* Absorb len bytes of data (borrowed; may be NULL when len is 0). */
void cpc_multihash_hasher_update(cpc_multihash_hasher *h, const void *data,
                                 size_t len);

/*
 * Write the multihash of everything absorbed into mh. h must be initialised
 * again before reuse. CPC_ETOOBIG for identity over CPC_MH_MAX_DIGEST bytes.
 */
int cpc_multihash_hasher_final(cpc_multihash_hasher *h, cpc_multihash *mh);

/*
 * Hash data[0..len) with code into mh. sha2-256 and blake3 give 32-byte
 * digests; identity copies data (CPC_ETOOBIG above CPC_MH_MAX_DIGEST).
 * CPC_EUNSUPPORTED for any other code.
 */
int cpc_multihash_compute(uint64_t code, const void *data, size_t len,
                          cpc_multihash *mh);

/*
 * Parse a binary multihash from in[0..len). *used (may be NULL) receives the bytes read
 * (so a multihash may be followed by other data). Errors: CPC_ETRUNC,
 * CPC_EMALFORMED (bad varint, digest length wrong for a known code),
 * CPC_ETOOBIG (digest over CPC_MH_MAX_DIGEST). Unknown codes are accepted.
 */
int cpc_multihash_decode(const uint8_t *in, size_t len, cpc_multihash *mh,
                         size_t *used);

/*
 * Encode mh into out (cap bytes); *written (may be NULL) its length.
 * CPC_ETOOBIG if cap is short, CPC_EINVAL if mh is not one decode would
 * accept (code >= 2^63, digest over the cap or of the wrong length).
 */
int cpc_multihash_encode(const cpc_multihash *mh, uint8_t *out, size_t cap,
                         size_t *written);

/*
 * Check that data hashes to mh. CPC_EMISMATCH if not, CPC_EUNSUPPORTED for a
 * code we cannot compute.
 */
int cpc_multihash_verify(const cpc_multihash *mh, const void *data, size_t len);

/* "identity", "sha2-256", "blake3" or NULL for other codes. */
const char *cpc_multihash_name(uint64_t code);

/* The code called name (one of the above) into *code; CPC_EUNSUPPORTED if none. */
int cpc_multihash_code_from_name(const char *name, uint64_t *code);

#ifdef __cplusplus
}
#endif

#endif /* CPC_MULTIHASH_H */
