/*
 * cpc/aead.h: ChaCha20-Poly1305 (IETF, 96-bit nonce) authenticated
 * encryption under 32-byte content keys, and key wrapping to an X25519
 * public key with libsodium's sealed boxes.
 *
 * Nonces are never random: a nonce is (domain, index), 4 bytes big-endian
 * domain then 8 bytes big-endian index. Each content key encrypts exactly
 * one piece of data per (domain, index) pair, so no nonce repeats under a
 * key as long as callers keep to that rule (the content pipeline does:
 * chunks, root manifest and manifest pages each have their own domain and
 * use the chunk or page number as index).
 */
#ifndef CPC_AEAD_H
#define CPC_AEAD_H

#include <stddef.h>
#include <stdint.h>

#include "cpc/keys.h" /* CPC_X25519_KEY_LEN */

#ifdef __cplusplus
extern "C" {
#endif

#define CPC_AEAD_KEY_LEN 32
#define CPC_AEAD_NONCE_LEN 12
#define CPC_AEAD_TAG_LEN 16

/* Nonce domains. Values are part of the stored format: never renumber. */
enum cpc_aead_domain {
  CPC_AEAD_DOMAIN_CHUNK = 1,         /* content chunks, index = chunk number */
  CPC_AEAD_DOMAIN_MANIFEST = 2,      /* root manifest, index = 0 */
  CPC_AEAD_DOMAIN_MANIFEST_PAGE = 3, /* manifest pages, index = page number */
};

/* Fill key with a fresh random content key. Never fails. */
void cpc_aead_keygen(uint8_t key[CPC_AEAD_KEY_LEN]);

/* Write the nonce for (domain, index) into nonce. Never fails. */
void cpc_aead_nonce(uint32_t domain, uint64_t index,
                    uint8_t nonce[CPC_AEAD_NONCE_LEN]);

/*
 * Encrypt pt[0..pt_len) into out as ciphertext || 16-byte tag, so
 * out_cap must be at least pt_len + CPC_AEAD_TAG_LEN. aad (may be NULL when
 * aad_len is 0) is authenticated but not encrypted. All inputs are
 * borrowed; out must not overlap pt. *out_len gets pt_len + 16.
 * Errors: CPC_ETOOBIG (out_cap short), CPC_ECRYPTO (libsodium failed).
 */
int cpc_aead_encrypt(const uint8_t key[CPC_AEAD_KEY_LEN],
                     const uint8_t nonce[CPC_AEAD_NONCE_LEN],
                     const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                     size_t pt_len, uint8_t *out, size_t out_cap,
                     size_t *out_len);

/*
 * Check and decrypt ct[0..ct_len) (ciphertext || tag) into out (out_cap
 * at least ct_len - 16); *out_len gets ct_len - 16. On any error out may
 * hold garbage and must not be used (it is wiped on CPC_EAUTH).
 * Errors: CPC_ETRUNC (ct shorter than a tag), CPC_ETOOBIG (out_cap short),
 * CPC_EAUTH (tampered ciphertext or aad, wrong key or nonce), CPC_ECRYPTO
 * (libsodium failed to start).
 */
int cpc_aead_decrypt(const uint8_t key[CPC_AEAD_KEY_LEN],
                     const uint8_t nonce[CPC_AEAD_NONCE_LEN],
                     const uint8_t *aad, size_t aad_len, const uint8_t *ct,
                     size_t ct_len, uint8_t *out, size_t out_cap,
                     size_t *out_len);

/* --- key wrapping (crypto_box_seal) ------------------------------------ */

/* A sealed content key: 32-byte ephemeral public key, key, 16-byte tag. */
#define CPC_SEALED_KEY_LEN                                                     \
  (CPC_X25519_KEY_LEN + CPC_AEAD_KEY_LEN + CPC_AEAD_TAG_LEN)

/*
 * Seal key for the holder of the X25519 public key recipient_pk, into
 * sealed (CPC_SEALED_KEY_LEN bytes). Anonymous: the sender is not
 * identified. Errors: CPC_ECRYPTO (e.g. a low-order public key).
 */
int cpc_key_seal(const uint8_t recipient_pk[CPC_X25519_KEY_LEN],
                 const uint8_t key[CPC_AEAD_KEY_LEN],
                 uint8_t sealed[CPC_SEALED_KEY_LEN]);

/*
 * Open a sealed key with the recipient's X25519 secret key (its public key
 * is derived from it). sealed_len must be CPC_SEALED_KEY_LEN.
 * Errors: CPC_ETRUNC (shorter), CPC_EMALFORMED (longer), CPC_EAUTH (not
 * sealed for this key, or tampered), CPC_ECRYPTO. key is wiped on error.
 */
int cpc_key_unseal(const uint8_t recipient_sk[CPC_X25519_KEY_LEN],
                   const uint8_t *sealed, size_t sealed_len,
                   uint8_t key[CPC_AEAD_KEY_LEN]);

#ifdef __cplusplus
}
#endif

#endif /* CPC_AEAD_H */
