/*
 * crypto_int.h: internals shared by the files of lib/crypto (and, for the
 * secret allocator, lib/models, which unpacks protobufs holding secrets).
 */
#ifndef CPC_CRYPTO_INT_H
#define CPC_CRYPTO_INT_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* sodium_init() once; 0 or CPC_ECRYPTO. Thread-safe. */
int cpc__sodium_ready(void);

/*
 * A protobuf-c allocator that wipes every block before freeing it, for
 * unpacking messages that carry secrets (protobuf-c copies bytes fields).
 */
extern ProtobufCAllocator cpc__secret_allocator;

/* --- secp256k1.c --------------------------------------------------------- */

/* Derive the compressed public key of seckey. CPC_EMALFORMED if invalid. */
int cpc__secp256k1_public(const uint8_t seckey[32], uint8_t pub[33]);

/* A fresh valid secret key (rejection-sampled from the CSPRNG). */
int cpc__secp256k1_generate(uint8_t seckey[32]);

/* 0 if pub is a compressed point on the curve, else CPC_EMALFORMED. */
int cpc__secp256k1_check_public(const uint8_t *pub, size_t len);

/* DER ECDSA signature over SHA-256(msg). */
int cpc__secp256k1_sign(const uint8_t seckey[32], const void *msg, size_t len,
                        uint8_t *sig, size_t cap, size_t *sig_len);

/* 0 or CPC_EBADSIG; S is normalised to low before verifying. */
int cpc__secp256k1_verify(const uint8_t pub[33], const void *msg, size_t len,
                          const uint8_t *sig, size_t sig_len);

/* --- ed25519.c ----------------------------------------------------------- */

/* sk = seed || public (64 bytes) from a 32-byte seed. */
int cpc__ed25519_from_seed(const uint8_t seed[32], uint8_t sk[64]);
int cpc__ed25519_generate(uint8_t sk[64]);
int cpc__ed25519_sign(const uint8_t sk[64], const void *msg, size_t len,
                      uint8_t sig[64]);
int cpc__ed25519_verify(const uint8_t pub[32], const void *msg, size_t len,
                        const uint8_t *sig, size_t sig_len);

/* SIMD instruction sets this process may use (CPU and OS agree), cached
 * after the first call; cpu_features.c. */
#define CPC__CPU_SSE41 (1 << 0)
#define CPC__CPU_AVX2 (1 << 1)
#define CPC__CPU_AVX512 (1 << 2)     /* AVX-512F and AVX-512VL */
#define CPC__CPU_AVX512IFMA (1 << 3) /* only set with CPC__CPU_AVX512 */
int cpc__cpu_features(void);

#endif /* CPC_CRYPTO_INT_H */
