/*
 * net/noise_int.h: the Noise Protocol Framework core (revision 34) for the
 * one protocol libp2p uses, Noise_XX_25519_ChaChaPoly_SHA256.
 *
 * CipherState, SymmetricState and HandshakeState as the spec names them,
 * restricted to the XX pattern. No I/O and no allocation: every state is a
 * plain struct the caller owns (embed it or put it on the stack) and must
 * wipe with the matching *_wipe() function when done, since it holds keys.
 *
 * The libp2p layer (noise_libp2p.c) adds framing and the identity payload on
 * top; tests use this header directly against the cacophony vectors.
 */
#ifndef CPC_NET_NOISE_INT_H
#define CPC_NET_NOISE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "cpc/noise.h"
#include "libp2p/noise.pb-c.h"

#define CPC__NOISE_DHLEN 32
#define CPC__NOISE_HASHLEN 32
#define CPC__NOISE_KEYLEN 32
#define CPC__NOISE_TAGLEN 16
/* A Noise message (handshake or transport) is at most 65535 bytes. */
#define CPC__NOISE_MAX_MSG 65535u
#define CPC__NOISE_PROTOCOL_NAME "Noise_XX_25519_ChaChaPoly_SHA256"

/* CipherState: key k (when has_key) and the 64-bit nonce counter n. */
struct cpc__noise_cipher {
  uint8_t k[CPC__NOISE_KEYLEN];
  uint64_t n;
  int has_key;
};

/* SymmetricState: the CipherState plus chaining key ck and hash h. */
struct cpc__noise_symmetric {
  struct cpc__noise_cipher cs;
  uint8_t ck[CPC__NOISE_HASHLEN];
  uint8_t h[CPC__NOISE_HASHLEN];
};

/* HandshakeState for XX. msg_index counts messages written or read (0..3). */
struct cpc__noise_handshake {
  struct cpc__noise_symmetric ss;
  uint8_t s_sk[CPC__NOISE_DHLEN], s_pk[CPC__NOISE_DHLEN];
  uint8_t e_sk[CPC__NOISE_DHLEN], e_pk[CPC__NOISE_DHLEN];
  uint8_t rs[CPC__NOISE_DHLEN], re[CPC__NOISE_DHLEN];
  int initiator;
  int has_e;
  unsigned msg_index;
};

/* ---- CipherState ---------------------------------------------------- */

/* InitializeKey(k): sets the key and resets the nonce to 0. */
void cpc__noise_cipher_init(struct cpc__noise_cipher *cs,
                            const uint8_t k[CPC__NOISE_KEYLEN]);

/*
 * EncryptWithAd: out gets plain_len + 16 bytes (ciphertext || tag); out may
 * equal plain (in place). Without a key, copies plain to out (no tag) and
 * *out_len = plain_len. The nonce advances on success.
 * CPC_ESTATE when the nonce is exhausted (2^64 - 1 is reserved);
 * CPC_ETOOBIG when the result would exceed 65535 bytes.
 */
int cpc__noise_cipher_encrypt(struct cpc__noise_cipher *cs, const uint8_t *ad,
                              size_t ad_len, const uint8_t *plain,
                              size_t plain_len, uint8_t *out, size_t *out_len);

/*
 * DecryptWithAd: in holds ciphertext || tag (in_len >= 16 with a key); out
 * gets in_len - 16 bytes and may equal in (in place). Without a key, copies.
 * CPC_EAUTH when the tag does not verify (the nonce then does not advance
 * and out holds no plaintext); CPC_ETRUNC when in_len < 16; CPC_ESTATE when
 * the nonce is exhausted.
 */
int cpc__noise_cipher_decrypt(struct cpc__noise_cipher *cs, const uint8_t *ad,
                              size_t ad_len, uint8_t *in, size_t in_len,
                              uint8_t *out, size_t *out_len);

void cpc__noise_cipher_wipe(struct cpc__noise_cipher *cs);

/* ---- HandshakeState (XX) -------------------------------------------- */

/*
 * Initialize(XX, initiator, prologue, s, e): s_sk is the 32-byte X25519
 * static private key (required). e_sk is the ephemeral private key to use,
 * or NULL to draw a fresh one when the first message needing it is written
 * (fixed ephemerals exist for test vectors only). prologue may be NULL when
 * prologue_len is 0. Always succeeds for valid arguments: CPC_EINVAL else.
 */
int cpc__noise_hs_init(struct cpc__noise_handshake *hs, int initiator,
                       const uint8_t *prologue, size_t prologue_len,
                       const uint8_t s_sk[CPC__NOISE_DHLEN],
                       const uint8_t *e_sk);

/*
 * WriteMessage: writes the next handshake message of this side (payload
 * encrypted when a key exists) into out (cap bytes), *out_len its length.
 * CPC_ESTATE when it is not this side's turn; CPC_ETOOBIG when out is too
 * small or the message would exceed 65535 bytes; CPC_ECRYPTO when a DH gives
 * the all-zero output. Any error leaves hs unusable (wipe it).
 */
int cpc__noise_hs_write(struct cpc__noise_handshake *hs, const uint8_t *payload,
                        size_t payload_len, uint8_t *out, size_t cap,
                        size_t *out_len);

/*
 * ReadMessage: consumes one whole handshake message msg[0..len) (len <=
 * 65535). The payload is decrypted in place: on success *payload points
 * into msg and *payload_len is its length (msg's other bytes are then
 * undefined). CPC_ESTATE when it is not this side's turn; CPC_ETOOBIG for
 * len over 65535; CPC_ETRUNC when msg is shorter than the pattern needs;
 * CPC_EAUTH when a decryption fails; CPC_ECRYPTO for an all-zero DH. Any
 * error leaves hs unusable.
 */
int cpc__noise_hs_read(struct cpc__noise_handshake *hs, uint8_t *msg,
                       size_t len, uint8_t **payload, size_t *payload_len);

/* 1 once all three XX messages have been written or read. */
int cpc__noise_hs_done(const struct cpc__noise_handshake *hs);

/*
 * Split: after the handshake, fills the two transport CipherStates from this
 * side's point of view (send, recv) and copies the handshake hash h into
 * hash (may be NULL). CPC_ESTATE before the handshake is done. The caller
 * then wipes hs.
 */
int cpc__noise_hs_split(struct cpc__noise_handshake *hs,
                        struct cpc__noise_cipher *send,
                        struct cpc__noise_cipher *recv,
                        uint8_t hash[CPC__NOISE_HASHLEN]);

void cpc__noise_hs_wipe(struct cpc__noise_handshake *hs);

/* ---- libp2p handshake payload (noise_libp2p.c) ---------------------- */

/* The prefix of the data the identity key signs, before the static key. */
#define CPC__NOISE_SIG_PREFIX "noise-libp2p-static-key:"

/* Heap storage behind a cpc_noise_remote's lists. */
struct cpc__noise_remote_store {
  Libp2p__Noise__NoiseHandshakePayload *msg; /* protobuf-c, default alloc */
  cpc_noise_bytes *certhashes;               /* malloc'd array */
};

/*
 * Build our NoiseHandshakePayload: identity key, its signature over the
 * prefix || static_pub, and (when n_muxers > 0) extensions listing
 * muxers (borrowed). *out is malloc'd (caller frees), *out_len its length.
 * Errors: CPC_EUNSUPPORTED, CPC_ECRYPTO (signing), CPC_ENOMEM.
 */
int cpc__noise_payload_build(const cpc_privkey *identity,
                             const uint8_t static_pub[CPC__NOISE_DHLEN],
                             const char *const *muxers, size_t n_muxers,
                             uint8_t **out, size_t *out_len);

/*
 * Decode the remote's payload p[0..len) (borrowed; at most 65535 bytes),
 * check its signature over the prefix || remote_static and fill remote
 * (peer_id, identity, static_key, extension lists pointing into *store).
 * On success the caller owns *store (free with cpc__noise_remote_store_free);
 * on failure nothing is kept and *detail (static) says what failed.
 * Errors: CPC_EPROTO (not a payload protobuf, identity key or signature
 * missing, key does not decode), CPC_EUNSUPPORTED (key type),
 * CPC_EBADSIG, CPC_ETOOBIG (extensions over the caps), CPC_ENOMEM.
 */
int cpc__noise_payload_verify(const uint8_t *p, size_t len,
                              const uint8_t remote_static[CPC__NOISE_DHLEN],
                              cpc_noise_remote *remote,
                              struct cpc__noise_remote_store *store,
                              const char **detail);

void cpc__noise_remote_store_free(struct cpc__noise_remote_store *store);

/* ---- the session (noise_session.c) ---------------------------------- */

enum cpc__noise_phase {
  CPC__NOISE_NEW,         /* created, start() not called yet */
  CPC__NOISE_HANDSHAKE,   /* messages in flight */
  CPC__NOISE_ESTABLISHED, /* transport keys in use */
  CPC__NOISE_FAILED,      /* sticky: error and detail say why */
};

struct cpc_noise_session {
  cpc_noise_callbacks cb;
  void *user;
  enum cpc__noise_phase phase;
  int error;
  const char *detail;
  int has_expected;
  cpc_peer_id expected;

  struct cpc__noise_handshake hs; /* wiped once split */
  struct cpc__noise_cipher tx, rx;
  uint8_t *payload; /* our handshake payload until it is sent */
  size_t payload_len;

  /* Deframer: the length prefix, then the frame body. frame is allocated
   * only while a frame is split across recv() calls. */
  uint8_t hdr[2];
  size_t hdr_have;
  size_t frame_len;
  uint8_t *frame;
  size_t frame_have;

  cpc_noise_remote remote;
  struct cpc__noise_remote_store store;
};

#endif /* CPC_NET_NOISE_INT_H */
