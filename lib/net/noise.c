/*
 * net/noise.c: Noise_XX_25519_ChaChaPoly_SHA256 (Noise Protocol Framework,
 * revision 34): CipherState, SymmetricState and the XX HandshakeState.
 *
 *   HASH   SHA-256;  HKDF from HMAC-SHA256 (spec section 4.3)
 *   DH     X25519; an all-zero shared secret is rejected
 *   CIPHER ChaCha20-Poly1305 (IETF), nonce = 4 zero bytes || LE64(n)
 *
 *   XX:  -> e
 *        <- e, ee, s, es
 *        -> s, se
 */
#include "net/noise_int.h"

#include <string.h>

#include <sodium.h>

#include "cpc/chachapoly.h"
#include "cpc/error.h"

/* ---- CipherState ---------------------------------------------------- */

static void
noise_nonce(uint64_t n,
            uint8_t out[crypto_aead_chacha20poly1305_IETF_NPUBBYTES]) {
  memset(out, 0, 4);
  for (int i = 0; i < 8; i++)
    out[4 + i] = (uint8_t)(n >> (8 * i));
}

void cpc__noise_cipher_init(struct cpc__noise_cipher *cs,
                            const uint8_t k[CPC__NOISE_KEYLEN]) {
  memcpy(cs->k, k, CPC__NOISE_KEYLEN);
  cs->n = 0;
  cs->has_key = 1;
}

int cpc__noise_cipher_encrypt(struct cpc__noise_cipher *cs, const uint8_t *ad,
                              size_t ad_len, const uint8_t *plain,
                              size_t plain_len, uint8_t *out, size_t *out_len) {
  uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];

  if (!cs->has_key) {
    if (plain_len > CPC__NOISE_MAX_MSG)
      return CPC_ETOOBIG;
    if (out != plain && plain_len > 0)
      memmove(out, plain, plain_len);
    *out_len = plain_len;
    return 0;
  }
  if (plain_len > CPC__NOISE_MAX_MSG - CPC__NOISE_TAGLEN)
    return CPC_ETOOBIG;
  if (cs->n == UINT64_MAX)
    return CPC_ESTATE;
  noise_nonce(cs->n, nonce);
  /* The tag follows the ciphertext; in place is fine. */
  if (cpc_chachapoly_encrypt(cs->k, nonce, ad, ad_len, plain, plain_len,
                             out) != 0)
    return CPC_ECRYPTO;
  cs->n++;
  *out_len = plain_len + CPC__NOISE_TAGLEN;
  return 0;
}

int cpc__noise_cipher_decrypt(struct cpc__noise_cipher *cs, const uint8_t *ad,
                              size_t ad_len, uint8_t *in, size_t in_len,
                              uint8_t *out, size_t *out_len) {
  uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
  size_t clen;

  if (!cs->has_key) {
    if (out != in && in_len > 0)
      memmove(out, in, in_len);
    *out_len = in_len;
    return 0;
  }
  if (in_len < CPC__NOISE_TAGLEN)
    return CPC_ETRUNC;
  if (cs->n == UINT64_MAX)
    return CPC_ESTATE;
  clen = in_len - CPC__NOISE_TAGLEN;
  noise_nonce(cs->n, nonce);
  /* The tag is verified before any plaintext is written. */
  if (cpc_chachapoly_decrypt(cs->k, nonce, ad, ad_len, in, in_len, out) != 0)
    return CPC_EAUTH;
  cs->n++;
  *out_len = clen;
  return 0;
}

void cpc__noise_cipher_wipe(struct cpc__noise_cipher *cs) {
  sodium_memzero(cs, sizeof *cs);
}

/* ---- SymmetricState ------------------------------------------------- */

static void noise_mix_hash(struct cpc__noise_symmetric *ss, const uint8_t *data,
                           size_t len) {
  crypto_hash_sha256_state st;

  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, ss->h, sizeof ss->h);
  if (len > 0)
    crypto_hash_sha256_update(&st, data, len);
  crypto_hash_sha256_final(&st, ss->h);
}

static void noise_hmac(const uint8_t key[CPC__NOISE_HASHLEN], const uint8_t *a,
                       size_t a_len, const uint8_t *b, size_t b_len,
                       uint8_t out[CPC__NOISE_HASHLEN]) {
  crypto_auth_hmacsha256_state st;

  crypto_auth_hmacsha256_init(&st, key, CPC__NOISE_HASHLEN);
  if (a_len > 0)
    crypto_auth_hmacsha256_update(&st, a, a_len);
  if (b_len > 0)
    crypto_auth_hmacsha256_update(&st, b, b_len);
  crypto_auth_hmacsha256_final(&st, out);
  sodium_memzero(&st, sizeof st);
}

/* HKDF(ck, ikm) with two outputs, as Noise section 4.3 defines it. */
static void noise_hkdf2(const uint8_t ck[CPC__NOISE_HASHLEN],
                        const uint8_t *ikm, size_t ikm_len,
                        uint8_t out1[CPC__NOISE_HASHLEN],
                        uint8_t out2[CPC__NOISE_HASHLEN]) {
  uint8_t temp[CPC__NOISE_HASHLEN];
  const uint8_t one = 0x01, two = 0x02;

  noise_hmac(ck, ikm, ikm_len, NULL, 0, temp);
  noise_hmac(temp, &one, 1, NULL, 0, out1);
  noise_hmac(temp, out1, CPC__NOISE_HASHLEN, &two, 1, out2);
  sodium_memzero(temp, sizeof temp);
}

/* MixKey(ikm): ck, temp_k = HKDF(ck, ikm); InitializeKey(temp_k). */
static void noise_mix_key(struct cpc__noise_symmetric *ss, const uint8_t *ikm,
                          size_t ikm_len) {
  uint8_t ck[CPC__NOISE_HASHLEN], k[CPC__NOISE_HASHLEN];

  noise_hkdf2(ss->ck, ikm, ikm_len, ck, k);
  memcpy(ss->ck, ck, sizeof ck);
  cpc__noise_cipher_init(&ss->cs, k);
  sodium_memzero(ck, sizeof ck);
  sodium_memzero(k, sizeof k);
}

/* EncryptAndHash: out gets len (+16 once keyed) bytes, then MixHash(out). */
static int noise_encrypt_and_hash(struct cpc__noise_symmetric *ss,
                                  const uint8_t *plain, size_t len,
                                  uint8_t *out, size_t *out_len) {
  int rc = cpc__noise_cipher_encrypt(&ss->cs, ss->h, sizeof ss->h, plain, len,
                                     out, out_len);
  if (rc == 0)
    noise_mix_hash(ss, out, *out_len);
  return rc;
}

/*
 * DecryptAndHash: in is hashed as ciphertext before decryption, so the
 * hash input is copied first when decrypting in place.
 */
static int noise_decrypt_and_hash(struct cpc__noise_symmetric *ss, uint8_t *in,
                                  size_t len, uint8_t *out, size_t *out_len) {
  uint8_t h[CPC__NOISE_HASHLEN];
  crypto_hash_sha256_state st;
  int rc;

  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, ss->h, sizeof ss->h);
  if (len > 0)
    crypto_hash_sha256_update(&st, in, len);
  crypto_hash_sha256_final(&st, h);
  rc = cpc__noise_cipher_decrypt(&ss->cs, ss->h, sizeof ss->h, in, len, out,
                                 out_len);
  if (rc == 0)
    memcpy(ss->h, h, sizeof h);
  return rc;
}

/* ---- HandshakeState (XX) -------------------------------------------- */

/* DH(sk, pk) then MixKey; CPC_ECRYPTO on the all-zero output. */
static int noise_mix_dh(struct cpc__noise_handshake *hs, const uint8_t *sk,
                        const uint8_t *pk) {
  uint8_t shared[CPC__NOISE_DHLEN];

  /* libsodium returns -1 when the result is all zero (low-order point). */
  if (crypto_scalarmult(shared, sk, pk) != 0) {
    sodium_memzero(shared, sizeof shared);
    return CPC_ECRYPTO;
  }
  noise_mix_key(&hs->ss, shared, sizeof shared);
  sodium_memzero(shared, sizeof shared);
  return 0;
}

int cpc__noise_hs_init(struct cpc__noise_handshake *hs, int initiator,
                       const uint8_t *prologue, size_t prologue_len,
                       const uint8_t s_sk[CPC__NOISE_DHLEN],
                       const uint8_t *e_sk) {
  static const char name[] = CPC__NOISE_PROTOCOL_NAME;

  if (!hs || !s_sk || (prologue_len > 0 && !prologue))
    return CPC_EINVAL;
  memset(hs, 0, sizeof *hs);
  /* The name is exactly HASHLEN bytes long, so h = name (no hashing). */
  _Static_assert(sizeof name - 1 == CPC__NOISE_HASHLEN, "protocol name");
  memcpy(hs->ss.h, name, CPC__NOISE_HASHLEN);
  memcpy(hs->ss.ck, hs->ss.h, CPC__NOISE_HASHLEN);
  noise_mix_hash(&hs->ss, prologue, prologue_len);
  hs->initiator = initiator ? 1 : 0;
  memcpy(hs->s_sk, s_sk, CPC__NOISE_DHLEN);
  crypto_scalarmult_base(hs->s_pk, hs->s_sk);
  if (e_sk) {
    memcpy(hs->e_sk, e_sk, CPC__NOISE_DHLEN);
    crypto_scalarmult_base(hs->e_pk, hs->e_sk);
    hs->has_e = 1;
  }
  return 0;
}

static void noise_make_ephemeral(struct cpc__noise_handshake *hs) {
  if (hs->has_e)
    return;
  randombytes_buf(hs->e_sk, sizeof hs->e_sk);
  crypto_scalarmult_base(hs->e_pk, hs->e_sk);
  hs->has_e = 1;
}

/* Whether message index i is written by the initiator (0 and 2 are). */
static int noise_my_turn(const struct cpc__noise_handshake *hs, int writing) {
  int initiator_sends = (hs->msg_index % 2) == 0;
  if (hs->msg_index >= 3)
    return 0;
  return writing ? initiator_sends == hs->initiator
                 : initiator_sends != hs->initiator;
}

/*
 * Bytes message i adds to its payload: the tokens, plus the payload's tag
 * once a key exists (message 0 carries e and a plaintext payload).
 */
static size_t noise_overhead(unsigned i) {
  switch (i) {
  case 0: return CPC__NOISE_DHLEN;
  case 1: return 2 * CPC__NOISE_DHLEN + 2 * CPC__NOISE_TAGLEN;
  default: return CPC__NOISE_DHLEN + 2 * CPC__NOISE_TAGLEN;
  }
}

int cpc__noise_hs_write(struct cpc__noise_handshake *hs, const uint8_t *payload,
                        size_t payload_len, uint8_t *out, size_t cap,
                        size_t *out_len) {
  size_t need, pos = 0, n;
  int rc;

  if (!noise_my_turn(hs, 1))
    return CPC_ESTATE;
  if (payload_len > 0 && !payload)
    return CPC_EINVAL;
  need = noise_overhead(hs->msg_index) + payload_len;
  if (need > CPC__NOISE_MAX_MSG || need > cap)
    return CPC_ETOOBIG;

  switch (hs->msg_index) {
  case 0: /* -> e */
    noise_make_ephemeral(hs);
    memcpy(out, hs->e_pk, CPC__NOISE_DHLEN);
    noise_mix_hash(&hs->ss, hs->e_pk, CPC__NOISE_DHLEN);
    pos = CPC__NOISE_DHLEN;
    break;
  case 1: /* <- e, ee, s, es */
    noise_make_ephemeral(hs);
    memcpy(out, hs->e_pk, CPC__NOISE_DHLEN);
    noise_mix_hash(&hs->ss, hs->e_pk, CPC__NOISE_DHLEN);
    pos = CPC__NOISE_DHLEN;
    if ((rc = noise_mix_dh(hs, hs->e_sk, hs->re)) != 0)
      return rc;
    if ((rc = noise_encrypt_and_hash(&hs->ss, hs->s_pk, CPC__NOISE_DHLEN,
                                     out + pos, &n)) != 0)
      return rc;
    pos += n;
    if ((rc = noise_mix_dh(hs, hs->s_sk, hs->re)) != 0)
      return rc;
    break;
  default: /* -> s, se */
    if ((rc = noise_encrypt_and_hash(&hs->ss, hs->s_pk, CPC__NOISE_DHLEN, out,
                                     &n)) != 0)
      return rc;
    pos = n;
    if ((rc = noise_mix_dh(hs, hs->s_sk, hs->re)) != 0)
      return rc;
    break;
  }
  if ((rc = noise_encrypt_and_hash(&hs->ss, payload, payload_len, out + pos,
                                   &n)) != 0)
    return rc;
  *out_len = pos + n;
  hs->msg_index++;
  return 0;
}

int cpc__noise_hs_read(struct cpc__noise_handshake *hs, uint8_t *msg,
                       size_t len, uint8_t **payload, size_t *payload_len) {
  size_t pos = 0, n, min;
  int rc;

  if (!noise_my_turn(hs, 0))
    return CPC_ESTATE;
  if (len > CPC__NOISE_MAX_MSG)
    return CPC_ETOOBIG;
  min = noise_overhead(hs->msg_index);
  if (len < min)
    return CPC_ETRUNC;

  switch (hs->msg_index) {
  case 0: /* -> e */
    memcpy(hs->re, msg, CPC__NOISE_DHLEN);
    noise_mix_hash(&hs->ss, hs->re, CPC__NOISE_DHLEN);
    pos = CPC__NOISE_DHLEN;
    break;
  case 1: /* <- e, ee, s, es */
    memcpy(hs->re, msg, CPC__NOISE_DHLEN);
    noise_mix_hash(&hs->ss, hs->re, CPC__NOISE_DHLEN);
    pos = CPC__NOISE_DHLEN;
    if ((rc = noise_mix_dh(hs, hs->e_sk, hs->re)) != 0)
      return rc;
    if ((rc = noise_decrypt_and_hash(&hs->ss, msg + pos,
                                     CPC__NOISE_DHLEN + CPC__NOISE_TAGLEN,
                                     hs->rs, &n)) != 0)
      return rc;
    pos += CPC__NOISE_DHLEN + CPC__NOISE_TAGLEN;
    if ((rc = noise_mix_dh(hs, hs->e_sk, hs->rs)) != 0)
      return rc;
    break;
  default: /* -> s, se */
    if ((rc = noise_decrypt_and_hash(&hs->ss, msg,
                                     CPC__NOISE_DHLEN + CPC__NOISE_TAGLEN,
                                     hs->rs, &n)) != 0)
      return rc;
    pos = CPC__NOISE_DHLEN + CPC__NOISE_TAGLEN;
    if ((rc = noise_mix_dh(hs, hs->e_sk, hs->rs)) != 0)
      return rc;
    break;
  }
  if ((rc = noise_decrypt_and_hash(&hs->ss, msg + pos, len - pos, msg + pos,
                                   payload_len)) != 0)
    return rc;
  *payload = msg + pos;
  hs->msg_index++;
  return 0;
}

int cpc__noise_hs_done(const struct cpc__noise_handshake *hs) {
  return hs->msg_index >= 3;
}

int cpc__noise_hs_split(struct cpc__noise_handshake *hs,
                        struct cpc__noise_cipher *send,
                        struct cpc__noise_cipher *recv,
                        uint8_t hash[CPC__NOISE_HASHLEN]) {
  uint8_t k1[CPC__NOISE_HASHLEN], k2[CPC__NOISE_HASHLEN];

  if (!cpc__noise_hs_done(hs))
    return CPC_ESTATE;
  noise_hkdf2(hs->ss.ck, NULL, 0, k1, k2);
  /* The initiator sends with the first key, the responder with the second. */
  cpc__noise_cipher_init(send, hs->initiator ? k1 : k2);
  cpc__noise_cipher_init(recv, hs->initiator ? k2 : k1);
  if (hash)
    memcpy(hash, hs->ss.h, CPC__NOISE_HASHLEN);
  sodium_memzero(k1, sizeof k1);
  sodium_memzero(k2, sizeof k2);
  return 0;
}

void cpc__noise_hs_wipe(struct cpc__noise_handshake *hs) {
  sodium_memzero(hs, sizeof *hs);
}
