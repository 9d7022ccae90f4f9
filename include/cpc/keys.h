/*
 * cpc/keys.h: signing keys as libp2p uses them (Ed25519, secp256k1), their
 * libp2p protobuf encodings, and X25519 encryption keys.
 *
 * Keys are plain value structs the caller owns (stack or embedded): nothing
 * here allocates, so nothing needs freeing, but every struct that holds a
 * secret must be wiped with its *_wipe() function when done.
 *
 * Signatures follow libp2p/specs peer-ids:
 *  - Ed25519: RFC 8032 over the message, 64 bytes.
 *  - secp256k1: ECDSA over SHA-256(message), DER-encoded (at most 72 bytes),
 *    deterministic nonces (RFC 6979), low S. Verification normalises S
 *    first, so high-S signatures from other implementations verify too,
 *    as rust-libp2p and go-libp2p accept them.
 *
 * libp2p encodings (proto/libp2p/crypto.proto), "Data" field:
 *  - Ed25519 public 32 bytes; private 64 bytes seed || public (the legacy
 *    96-byte form seed || public || public is accepted on decode; a bare
 *    32-byte seed only by cpc_privkey_from_raw()).
 *  - secp256k1 public 33 bytes (compressed point); private 32 bytes.
 * RSA and ECDSA keys are recognised and refused with CPC_EUNSUPPORTED.
 */
#ifndef CPC_KEYS_H
#define CPC_KEYS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Values of libp2p's KeyType enum. */
enum cpc_key_type {
  CPC_KEY_RSA = 0,
  CPC_KEY_ED25519 = 1,
  CPC_KEY_SECP256K1 = 2,
  CPC_KEY_ECDSA = 3,
};

#define CPC_ED25519_PUBLIC_LEN 32
#define CPC_ED25519_PRIVATE_LEN 64 /* seed || public */
#define CPC_ED25519_SIG_LEN 64
#define CPC_SECP256K1_PUBLIC_LEN 33
#define CPC_SECP256K1_PRIVATE_LEN 32
#define CPC_SECP256K1_SIG_MAX 72 /* DER */

#define CPC_PUBKEY_MAX_LEN 33
#define CPC_PRIVKEY_MAX_LEN 64
#define CPC_SIG_MAX_LEN 72

/* Longest libp2p PublicKey / PrivateKey protobuf we produce. */
#define CPC_PUBKEY_PROTO_MAX 40  /* 4 bytes of framing + 33 */
#define CPC_PRIVKEY_PROTO_MAX 70 /* 4 bytes of framing + 64 */
/* Longest protobuf we agree to parse (room for RSA keys, to refuse them). */
#define CPC_KEY_PROTO_PARSE_MAX 8192

/* A public key. Owns nothing. */
typedef struct cpc_pubkey {
  enum cpc_key_type type; /* CPC_KEY_ED25519 or CPC_KEY_SECP256K1 */
  size_t len;             /* 32 or 33 */
  uint8_t data[CPC_PUBKEY_MAX_LEN];
} cpc_pubkey;

/* A private key with its public key. Secret: wipe with cpc_privkey_wipe(). */
typedef struct cpc_privkey {
  enum cpc_key_type type;
  size_t len; /* 64 (Ed25519 seed || public) or 32 (secp256k1 scalar) */
  uint8_t data[CPC_PRIVKEY_MAX_LEN];
  cpc_pubkey pub;
} cpc_privkey;

/*
 * Generate a fresh key of type (CPC_KEY_ED25519 or CPC_KEY_SECP256K1) from
 * libsodium's CSPRNG. Errors: CPC_EUNSUPPORTED (other types), CPC_ECRYPTO.
 */
int cpc_privkey_generate(enum cpc_key_type type, cpc_privkey *out);

/*
 * Build a private key from its libp2p Data bytes (borrowed): Ed25519 64
 * bytes (or 96 legacy, or a bare 32-byte seed), secp256k1 32 bytes. The
 * public half of an Ed25519 key must match the seed. Errors: CPC_EMALFORMED
 * (length, public half mismatch, secp256k1 scalar zero or >= n),
 * CPC_EUNSUPPORTED (type), CPC_ECRYPTO. out is wiped on failure.
 */
int cpc_privkey_from_raw(enum cpc_key_type type, const uint8_t *data,
                         size_t len, cpc_privkey *out);

/* Overwrite k with zeros (sodium_memzero). k may be NULL. */
void cpc_privkey_wipe(cpc_privkey *k);

/*
 * Sign msg[0..len) (msg may be NULL when len is 0) as libp2p does for the
 * key's type. sig receives the signature (cap bytes; CPC_SIG_MAX_LEN is
 * always enough), *sig_len its length. Errors: CPC_ETOOBIG (cap short),
 * CPC_EUNSUPPORTED, CPC_ECRYPTO.
 */
int cpc_privkey_sign(const cpc_privkey *k, const void *msg, size_t len,
                     uint8_t *sig, size_t cap, size_t *sig_len);

/*
 * Build a public key from its libp2p Data bytes (borrowed). secp256k1 keys
 * must be 33-byte compressed points on the curve. Errors: CPC_EMALFORMED,
 * CPC_EUNSUPPORTED.
 */
int cpc_pubkey_from_raw(enum cpc_key_type type, const uint8_t *data, size_t len,
                        cpc_pubkey *out);

/*
 * Verify sig[0..sig_len) over msg[0..len) with pk. Returns 0 if it verifies,
 * CPC_EBADSIG if it does not (wrong key, tampered message, malformed or
 * wrongly sized signature), CPC_EUNSUPPORTED for a key type we lack.
 */
int cpc_pubkey_verify(const cpc_pubkey *pk, const void *msg, size_t len,
                      const uint8_t *sig, size_t sig_len);

/* 1 if a and b are the same key, else 0. */
int cpc_pubkey_equal(const cpc_pubkey *a, const cpc_pubkey *b);

/* "ed25519", "secp256k1", "rsa", "ecdsa" or "unknown". */
const char *cpc_key_type_name(enum cpc_key_type type);

/* Parse "ed25519" / "secp256k1" (case-sensitive). CPC_EUNSUPPORTED else. */
int cpc_key_type_parse(const char *name, enum cpc_key_type *type);

/* Wipe p[0..len) and free(p). p may be NULL. */
void cpc_secret_free(void *p, size_t len);

/* --- libp2p protobuf encodings (lib/crypto/libp2p_key.c) --------------- */

/*
 * Encode pk as a libp2p PublicKey protobuf into out (cap bytes;
 * CPC_PUBKEY_PROTO_MAX is enough). *written gets the length. The encoding is
 * the deterministic one PeerIds are computed over. Errors: CPC_ETOOBIG (cap
 * short), CPC_EUNSUPPORTED (a type we do not implement), CPC_EINVAL (an
 * empty or oversized key).
 */
int cpc_pubkey_encode(const cpc_pubkey *pk, uint8_t *out, size_t cap,
                      size_t *written);

/*
 * Decode a libp2p PublicKey protobuf from in[0..len) (borrowed). Errors:
 * CPC_ETOOBIG (len over CPC_KEY_PROTO_PARSE_MAX), CPC_EMALFORMED (empty,
 * not a PublicKey message, wrong Data length, point not on the curve; also
 * when protobuf-c runs out of memory, which it does not report apart),
 * CPC_EUNSUPPORTED (RSA, ECDSA or unknown key types).
 */
int cpc_pubkey_decode(const uint8_t *in, size_t len, cpc_pubkey *out);

/*
 * Encode k as a libp2p PrivateKey protobuf (the bytes js-libp2p's
 * privateKeyToProtobuf gives) into out (cap bytes; CPC_PRIVKEY_PROTO_MAX is
 * enough). The output is secret: the caller wipes it. Same errors as
 * cpc_pubkey_encode().
 */
int cpc_privkey_encode(const cpc_privkey *k, uint8_t *out, size_t cap,
                       size_t *written);

/*
 * Decode a libp2p PrivateKey protobuf. Same errors as cpc_pubkey_decode()
 * plus those of cpc_privkey_from_raw(). Intermediate copies are wiped; out
 * is wiped on failure.
 */
int cpc_privkey_decode(const uint8_t *in, size_t len, cpc_privkey *out);

/* --- X25519 encryption keys (lib/crypto/x25519.c) ----------------------- */

#define CPC_X25519_KEY_LEN 32

/*
 * An X25519 key pair, the same keys libsodium's crypto_box and
 * crypto_box_seal use (pub = crypto_scalarmult_base(secret)).
 * Secret: wipe with cpc_x25519_wipe().
 */
typedef struct cpc_x25519_keypair {
  uint8_t pub[CPC_X25519_KEY_LEN];
  uint8_t secret[CPC_X25519_KEY_LEN];
} cpc_x25519_keypair;

/* Generate a fresh key pair. CPC_ECRYPTO if libsodium fails to start. */
int cpc_x25519_generate(cpc_x25519_keypair *kp);

/* Rebuild a key pair from its 32-byte secret (borrowed). CPC_ECRYPTO. */
int cpc_x25519_from_secret(const uint8_t secret[CPC_X25519_KEY_LEN],
                           cpc_x25519_keypair *kp);

/*
 * Diffie-Hellman: shared = X25519(kp->secret, peer_pub). The raw shared
 * point; hash it before use as a key. The caller wipes shared. CPC_ECRYPTO
 * if peer_pub is a low-order point (the result would be all zeros).
 */
int cpc_x25519_dh(const cpc_x25519_keypair *kp,
                  const uint8_t peer_pub[CPC_X25519_KEY_LEN],
                  uint8_t shared[CPC_X25519_KEY_LEN]);

/* Overwrite kp with zeros. kp may be NULL. */
void cpc_x25519_wipe(cpc_x25519_keypair *kp);

#ifdef __cplusplus
}
#endif

#endif /* CPC_KEYS_H */
