/*
 * cpc/chachapoly.h: ChaCha20-Poly1305 IETF AEAD (RFC 8439).
 *
 * Own implementation written from RFC 8439: a portable C ChaCha20 plus AVX2
 * (8 blocks at a time) and AVX-512 (16 blocks at a time) back ends chosen
 * once per process at run time; Poly1305 is 64-bit scalar with the portable
 * back end, AVX2 (4 blocks at a time) with the SIMD ones, AVX-512 IFMA
 * (8 blocks at a time) with AVX-512 on CPUs that have it. The output is
 * byte for byte that of libsodium's crypto_aead_chacha20poly1305_ietf_encrypt
 * (combined layout: ciphertext || 16-byte tag).
 *
 * The environment variable CPC_CHACHA_BACKEND (portable, avx2, avx512)
 * overrides the automatic choice when the CPU supports the named back end.
 */
#ifndef CPC_CHACHAPOLY_H
#define CPC_CHACHAPOLY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CPC_CHACHAPOLY_KEY_LEN 32
#define CPC_CHACHAPOLY_NONCE_LEN 12
#define CPC_CHACHAPOLY_TAG_LEN 16
/* Longest message: the 32-bit block counter starts at 1 (RFC 8439 2.8). */
#define CPC_CHACHAPOLY_MAX_LEN ((uint64_t)64 * 0xFFFFFFFFu)

/* ChaCha20 back ends. CPC_CHACHA_AUTO picks the best the CPU supports. */
enum cpc_chacha_backend {
  CPC_CHACHA_AUTO = 0,
  CPC_CHACHA_PORTABLE = 1,
  CPC_CHACHA_AVX2 = 2,
  CPC_CHACHA_AVX512 = 3,
};

/*
 * Encrypt in[0..len) with key and nonce, authenticating it and ad[0..adlen)
 * too. Writes len + CPC_CHACHAPOLY_TAG_LEN bytes to out: the ciphertext then
 * the tag. out == in is allowed (in place); any other overlap is not. ad and
 * in may be NULL when their length is 0. Everything is borrowed.
 * Returns 0, or CPC_EINVAL for a NULL pointer with a non-zero length or
 * len > CPC_CHACHAPOLY_MAX_LEN.
 */
int cpc_chachapoly_encrypt(const uint8_t key[CPC_CHACHAPOLY_KEY_LEN],
                           const uint8_t nonce[CPC_CHACHAPOLY_NONCE_LEN],
                           const uint8_t *ad, size_t adlen, const uint8_t *in,
                           size_t len, uint8_t *out);

/*
 * Check and decrypt in[0..len) = ciphertext || tag (len >= 16) produced by
 * cpc_chachapoly_encrypt with the same key, nonce and ad. The tag is checked
 * in constant time over the whole input before anything is written: on
 * failure out is untouched. On success writes len - 16 bytes to out
 * (out == in allowed; any other overlap is not).
 * Returns 0, CPC_EAUTH when the tag does not match or len < 16, or
 * CPC_EINVAL for a NULL pointer with a non-zero length or an over-long input.
 */
int cpc_chachapoly_decrypt(const uint8_t key[CPC_CHACHAPOLY_KEY_LEN],
                           const uint8_t nonce[CPC_CHACHAPOLY_NONCE_LEN],
                           const uint8_t *ad, size_t adlen, const uint8_t *in,
                           size_t len, uint8_t *out);

/*
 * Raw ChaCha20 (RFC 8439 2.4): out = in XOR keystream starting at block
 * counter. Used by the tests for the RFC keystream vectors. Returns 0, or
 * CPC_EINVAL when the counter would wrap past 2^32 blocks.
 */
int cpc_chacha20_xor(const uint8_t key[CPC_CHACHAPOLY_KEY_LEN],
                     const uint8_t nonce[CPC_CHACHAPOLY_NONCE_LEN],
                     uint32_t counter, const uint8_t *in, size_t len,
                     uint8_t *out);

/*
 * One-shot Poly1305 (RFC 8439 2.5) of msg[0..len) under the 32-byte
 * one-time key (never reuse it). msg may be NULL when len is 0.
 * Returns 0, or CPC_EINVAL for a NULL pointer.
 */
int cpc_poly1305(const uint8_t key[32], const uint8_t *msg, size_t len,
                 uint8_t tag[16]);

/* 1 if this CPU (and OS) can run the back end; AUTO and PORTABLE always. */
int cpc_chacha_backend_supported(enum cpc_chacha_backend backend);

/*
 * Use this back end from now on, for the whole process (AUTO: the best one).
 * Returns 0, or CPC_EUNSUPPORTED when the CPU cannot run it.
 */
int cpc_chacha_set_backend(enum cpc_chacha_backend backend);

/* The back end in use (never AUTO), and a back end's name. */
enum cpc_chacha_backend cpc_chacha_backend(void);
const char *cpc_chacha_backend_name(enum cpc_chacha_backend backend);

#ifdef __cplusplus
}
#endif

#endif
