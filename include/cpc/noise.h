/*
 * cpc/noise.h: the libp2p Noise secure channel (protocol id "/noise"),
 * libp2p/specs noise/README.md: Noise_XX_25519_ChaChaPoly_SHA256 with an
 * empty prologue, the identity payload (the libp2p PublicKey and a signature
 * over "noise-libp2p-static-key:" || the Noise static key) in messages 2
 * and 3, and every message framed with a 2-byte big-endian length.
 *
 * Sans-IO: no sockets, timers or threads. The caller moves bytes:
 *
 *   cpc_noise_session_new(&cfg, &callbacks, user, &s);
 *   cpc_noise_session_start(s);              initiator: send(message 1)
 *   on every read:  cpc_noise_session_recv(s, buf, n);
 *       -> send(...)            handshake bytes to write to the transport
 *       -> handshake_done(...)  once, with the remote PeerId
 *       -> plaintext(...)       one call per decrypted transport frame
 *   to write app data: cpc_noise_session_encrypt(s, plain, n, out, cap, &w)
 *       (out sized with cpc_noise_encrypted_size(n)), then write out[0..w).
 *   cpc_noise_session_free(s);
 *
 * Timeouts are the caller's job: the session never gives up on a slow or
 * silent peer by itself, so bound the handshake with a timer and free the
 * session when it fires. Any error returned by recv, start or encrypt is
 * fatal: the session stays failed (later calls return the same code) and
 * the caller must close the connection. CPC_EAUTH in particular means a
 * frame failed authentication (tampering or a wrong key).
 *
 * Callbacks run synchronously inside start/recv, never later. They may
 * call cpc_noise_session_encrypt() and the getters, but must not call
 * cpc_noise_session_free() or cpc_noise_session_recv() on the same
 * session; to stop, return a negative CPC_E* code, which recv then returns
 * (and which fails the session).
 */
#ifndef CPC_NOISE_H
#define CPC_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "cpc/keys.h"
#include "cpc/peer_id.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CPC_NOISE_PROTOCOL_ID "/noise"

/* Largest Noise message, handshake or transport (the 2-byte frame length). */
#define CPC_NOISE_MAX_MESSAGE 65535
#define CPC_NOISE_TAG_LEN 16
/* Largest plaintext one transport frame carries. */
#define CPC_NOISE_MAX_PLAINTEXT (CPC_NOISE_MAX_MESSAGE - CPC_NOISE_TAG_LEN)
/* Wire bytes added per transport frame: the length prefix and the tag. */
#define CPC_NOISE_FRAME_OVERHEAD (2 + CPC_NOISE_TAG_LEN)

/* Caps on the extensions we send and accept in a handshake payload. */
#define CPC_NOISE_MAX_MUXERS 16
#define CPC_NOISE_MAX_MUXER_LEN 256
#define CPC_NOISE_MAX_CERTHASHES 16
#define CPC_NOISE_MAX_CERTHASH_LEN 256

typedef struct cpc_noise_session cpc_noise_session;

/* A borrowed byte string. */
typedef struct cpc_noise_bytes {
  const uint8_t *data;
  size_t len;
} cpc_noise_bytes;

/*
 * What the remote proved during the handshake. Owned by the session and
 * valid until cpc_noise_session_free(); copy what must outlive it.
 * stream_muxers and webtransport_certhashes come from the remote's
 * NoiseExtensions (empty lists when it sent none); they are advisory.
 */
typedef struct cpc_noise_remote {
  cpc_peer_id peer_id;              /* derived from identity */
  cpc_pubkey identity;              /* the remote's libp2p identity key */
  uint8_t static_key[32];           /* the remote's Noise static X25519 key */
  const char *const *stream_muxers; /* NUL-terminated protocol ids */
  size_t n_stream_muxers;
  const cpc_noise_bytes *webtransport_certhashes;
  size_t n_webtransport_certhashes;
} cpc_noise_remote;

typedef struct cpc_noise_callbacks {
  /*
   * Bytes to write to the transport, in order (handshake messages, framed).
   * data is borrowed for the duration of the call: copy it. Required.
   */
  int (*send)(void *user, const uint8_t *data, size_t len);
  /*
   * The handshake is complete and the remote authenticated (and matched
   * the expected PeerId, if one was set). Called exactly once. remote is
   * the same pointer cpc_noise_session_remote() returns. Transport data
   * may be encrypted from here on. May be NULL.
   */
  int (*handshake_done)(void *user, const cpc_noise_remote *remote);
  /*
   * The plaintext of one authenticated transport frame (1..65519 bytes;
   * empty frames are skipped). data points into the caller's recv buffer
   * or the session's reassembly buffer: writable, borrowed until return.
   * Required.
   */
  int (*plaintext)(void *user, uint8_t *data, size_t len);
} cpc_noise_callbacks;

typedef struct cpc_noise_config {
  int initiator; /* 1 for the dialer, 0 for the listener */
  /* Our libp2p identity (Ed25519 or secp256k1). Borrowed during
   * cpc_noise_session_new() only (the payload is signed there). Required. */
  const cpc_privkey *identity;
  /* The PeerId the remote must have (dialing a /p2p/ address), or NULL to
   * accept any authenticated peer. Copied. */
  const cpc_peer_id *expected_peer;
  /* Stream muxer protocol ids to advertise in our extensions (at most
   * CPC_NOISE_MAX_MUXERS, each 1..CPC_NOISE_MAX_MUXER_LEN bytes), or NULL
   * with n_stream_muxers 0 to send no extensions. Copied. */
  const char *const *stream_muxers;
  size_t n_stream_muxers;
  /* Our Noise static X25519 secret (32 bytes), or NULL for a fresh one per
   * session (what the spec recommends). Copied. */
  const uint8_t *static_secret;
  /* Tests and fuzzing only: a fixed ephemeral secret (32 bytes), or NULL
   * (always NULL in production: a fixed ephemeral breaks secrecy). */
  const uint8_t *ephemeral_secret;
} cpc_noise_config;

/*
 * Create a session. cfg and cb are read during the call (cb is copied);
 * user is passed to every callback. The identity payload is built and
 * signed here. *out receives a session to free with
 * cpc_noise_session_free(). Errors: CPC_EINVAL (missing identity or
 * callbacks, muxer list over its caps), CPC_EUNSUPPORTED (identity key
 * type), CPC_ENOMEM, CPC_ECRYPTO.
 */
int cpc_noise_session_new(const cpc_noise_config *cfg,
                          const cpc_noise_callbacks *cb, void *user,
                          cpc_noise_session **out);

/* Wipe and free s (and everything the remote struct points to). NULL ok. */
void cpc_noise_session_free(cpc_noise_session *s);

/*
 * Begin the handshake; call once, right after new, in both roles. The
 * initiator emits message 1 through send(); the responder does nothing.
 * Errors: CPC_ESTATE (called twice or after a failure), whatever send()
 * returned.
 */
int cpc_noise_session_start(cpc_noise_session *s);

/*
 * Feed bytes received from the transport: any split, any length (0 ok).
 * All len bytes are consumed: complete frames are processed now (callbacks
 * run), a trailing partial frame is kept (the session allocates at most
 * one frame, up to 65535 bytes, and frees it once the frame completes).
 * data is caller-owned and is modified: frames are decrypted in place, so
 * its contents are undefined after the call.
 * Errors (all fatal, see above): CPC_ESTATE (start not called, or failed
 * before), CPC_EPROTO (malformed handshake message or payload, a missing
 * identity, a transport frame shorter than its tag), CPC_EAUTH (a frame
 * failed authentication), CPC_EBADSIG (the identity signature over the
 * static key does not verify), CPC_EMISMATCH (the remote PeerId is not
 * the expected one), CPC_EUNSUPPORTED (remote identity key type, e.g.
 * RSA), CPC_ETOOBIG (remote extensions over the caps), CPC_ECRYPTO (a
 * low-order DH key), CPC_ENOMEM, or a callback's negative return.
 * cpc_noise_session_error_detail() then says which check failed.
 */
int cpc_noise_session_recv(cpc_noise_session *s, uint8_t *data, size_t len);

/* Wire bytes cpc_noise_session_encrypt() produces for len plaintext bytes:
 * len + 18 per frame of at most 65519 bytes (0 for len 0). */
size_t cpc_noise_encrypted_size(size_t len);

/*
 * Encrypt plain[0..len) into framed transport messages in out (cap bytes,
 * must not overlap plain): as many frames as needed, each at most 65535
 * bytes on the wire; *written gets the total (cpc_noise_encrypted_size()).
 * Only after the handshake is done (handshake_done called).
 * Errors: CPC_ESTATE (handshake not done, or the session failed; also when
 * the 2^64 nonces are exhausted), CPC_ETOOBIG (cap too small: nothing is
 * written and the session stays usable).
 */
int cpc_noise_session_encrypt(cpc_noise_session *s, const uint8_t *plain,
                              size_t len, uint8_t *out, size_t cap,
                              size_t *written);

/* 1 once the handshake completed and the session has not failed. */
int cpc_noise_session_established(const cpc_noise_session *s);

/* The authenticated remote, or NULL before the handshake completed. */
const cpc_noise_remote *cpc_noise_session_remote(const cpc_noise_session *s);

/*
 * A static English sentence saying why the session failed ("remote PeerId
 * does not match the expected one", ...), or NULL if it has not failed.
 */
const char *cpc_noise_session_error_detail(const cpc_noise_session *s);

#ifdef __cplusplus
}
#endif

#endif /* CPC_NOISE_H */
