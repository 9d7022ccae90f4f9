/*
 * cpc/multibase.h: multibase text encodings with their prefix character:
 * base16 lower ('f'), base32 lower without padding ('b'), base58btc ('z'),
 * plus the bare base58btc that libp2p PeerIds use.
 */
#ifndef CPC_MULTIBASE_H
#define CPC_MULTIBASE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum cpc_multibase {
  CPC_MB_BASE16 = 'f',
  CPC_MB_BASE32 = 'b',
  CPC_MB_BASE58BTC = 'z',
};

/* "base16", "base32", "base58btc", or NULL for other values. */
const char *cpc_multibase_name(enum cpc_multibase base);

/* The base called name (one of the above) into *base; CPC_EUNSUPPORTED if none. */
int cpc_multibase_from_name(const char *name, enum cpc_multibase *base);

/* Longest input either decode function accepts, in characters. */
#define CPC_MB_MAX_TEXT 4096

/*
 * Upper bound of the text length (prefix and NUL included) for n bytes.
 */
size_t cpc_multibase_encoded_cap(enum cpc_multibase base, size_t n);

/*
 * Encode in[0..len) (borrowed) as NUL-terminated text with the prefix
 * character into out (cap bytes; cpc_multibase_encoded_cap() is enough). *written (may be NULL) gets strlen(out). CPC_ETOOBIG if cap
 * is short, CPC_EUNSUPPORTED for an unknown base.
 */
int cpc_multibase_encode(enum cpc_multibase base, const uint8_t *in, size_t len,
                         char *out, size_t cap, size_t *written);

/*
 * Decode text[0..text_len) (prefix included) into out (cap bytes).
 * *base (may be NULL) gets the base used, *written the byte count.
 * Errors: CPC_EUNSUPPORTED (unknown prefix), CPC_EMALFORMED (a character
 * outside the alphabet, bad padding or trailing bits), CPC_ETOOBIG (out too
 * small or text over CPC_MB_MAX_TEXT). base16 and base32 also accept upper
 * case ('F', 'B' prefixes) as the multibase table lists them, and, like the
 * multibase spec's test vectors, either case in the body. Padding ('=') is
 * refused. text (borrowed) need not be NUL-terminated; out may be partly
 * written on failure. The empty text is CPC_EMALFORMED; a lone prefix
 * decodes to zero bytes.
 */
int cpc_multibase_decode(const char *text, size_t text_len, uint8_t *out,
                         size_t cap, enum cpc_multibase *base, size_t *written);

/*
 * Bare base58btc (no prefix), as in PeerIds. Same contract as above, but
 * the empty text is valid (zero bytes). encode takes at most
 * CPC_MB_MAX_TEXT bytes of input (CPC_ETOOBIG beyond), which keeps its
 * quadratic conversion bounded; cpc_multibase_encode in base58btc too.
 */
int cpc_base58btc_encode(const uint8_t *in, size_t len, char *out, size_t cap,
                         size_t *written);
int cpc_base58btc_decode(const char *text, size_t text_len, uint8_t *out,
                         size_t cap, size_t *written);

#ifdef __cplusplus
}
#endif

#endif /* CPC_MULTIBASE_H */
