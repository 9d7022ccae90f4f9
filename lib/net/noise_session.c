/*
 * net/noise_session.c: the sans-IO libp2p Noise session: the XX handshake
 * driven by received frames, then the transport framer (plaintext into
 * 2-byte-length frames of at most 65535 bytes) and deframer (any byte
 * split in, one authenticated plaintext per frame out).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cpc/error.h"
#include "cpc/noise.h"
#include "net/noise_int.h"

/* Mark s failed with rc (kept: the first failure wins) and return it. */
static int session_fail(cpc_noise_session *s, int rc, const char *detail) {
  if (s->phase != CPC__NOISE_FAILED) {
    s->phase = CPC__NOISE_FAILED;
    s->error = rc;
    s->detail = detail;
    cpc__noise_hs_wipe(&s->hs);
    cpc__noise_cipher_wipe(&s->tx);
    cpc__noise_cipher_wipe(&s->rx);
  }
  return s->error;
}

static int check_muxers(const char *const *muxers, size_t n) {
  if (n > CPC_NOISE_MAX_MUXERS || (n > 0 && !muxers))
    return CPC_EINVAL;
  for (size_t i = 0; i < n; i++) {
    size_t len;
    if (!muxers[i])
      return CPC_EINVAL;
    len = strlen(muxers[i]);
    if (len == 0 || len > CPC_NOISE_MAX_MUXER_LEN)
      return CPC_EINVAL;
  }
  return 0;
}

int cpc_noise_session_new(const cpc_noise_config *cfg,
                          const cpc_noise_callbacks *cb, void *user,
                          cpc_noise_session **out) {
  cpc_noise_session *s = NULL;
  uint8_t static_secret[CPC__NOISE_DHLEN];
  int rc;

  if (!out)
    return CPC_EINVAL;
  *out = NULL;
  if (!cfg || !cb || !cfg->identity || !cb->send || !cb->plaintext)
    return CPC_EINVAL;
  if ((rc = check_muxers(cfg->stream_muxers, cfg->n_stream_muxers)) != 0)
    return rc;
  if (sodium_init() < 0)
    return CPC_ECRYPTO;
  s = calloc(1, sizeof *s);
  if (!s)
    return CPC_ENOMEM;
  s->cb = *cb;
  s->user = user;
  s->phase = CPC__NOISE_NEW;
  if (cfg->expected_peer) {
    s->has_expected = 1;
    s->expected = *cfg->expected_peer;
  }
  if (cfg->static_secret)
    memcpy(static_secret, cfg->static_secret, sizeof static_secret);
  else
    randombytes_buf(static_secret, sizeof static_secret);
  /* The libp2p prologue is empty. */
  rc = cpc__noise_hs_init(&s->hs, cfg->initiator, NULL, 0, static_secret,
                          cfg->ephemeral_secret);
  sodium_memzero(static_secret, sizeof static_secret);
  if (rc != 0)
    goto out;
  rc = cpc__noise_payload_build(cfg->identity, s->hs.s_pk, cfg->stream_muxers,
                                cfg->n_stream_muxers, &s->payload,
                                &s->payload_len);
  if (rc != 0)
    goto out;
  *out = s;
  s = NULL;
out:
  cpc_noise_session_free(s);
  return rc;
}

void cpc_noise_session_free(cpc_noise_session *s) {
  if (!s)
    return;
  cpc__noise_hs_wipe(&s->hs);
  cpc__noise_cipher_wipe(&s->tx);
  cpc__noise_cipher_wipe(&s->rx);
  free(s->payload);
  if (s->frame) {
    sodium_memzero(s->frame, s->frame_len);
    free(s->frame);
  }
  cpc__noise_remote_store_free(&s->store);
  sodium_memzero(s, sizeof *s);
  free(s);
}

/* Write our next handshake message (with payload when with_payload) as one
 * frame through send(). */
static int send_handshake(cpc_noise_session *s, int with_payload) {
  const uint8_t *payload = with_payload ? s->payload : NULL;
  size_t payload_len = with_payload ? s->payload_len : 0;
  size_t cap = 2 + 2 * CPC__NOISE_DHLEN + 2 * CPC__NOISE_TAGLEN + payload_len;
  size_t len;
  uint8_t *buf;
  int rc;

  buf = malloc(cap);
  if (!buf)
    return session_fail(s, CPC_ENOMEM, "out of memory");
  rc =
      cpc__noise_hs_write(&s->hs, payload, payload_len, buf + 2, cap - 2, &len);
  if (rc != 0) {
    free(buf);
    return session_fail(s, rc,
                        rc == CPC_ECRYPTO
                            ? "remote Noise key is a low-order point"
                            : "cannot write the handshake message");
  }
  buf[0] = (uint8_t)(len >> 8);
  buf[1] = (uint8_t)len;
  rc = s->cb.send(s->user, buf, len + 2);
  free(buf);
  if (with_payload) {
    free(s->payload);
    s->payload = NULL;
    s->payload_len = 0;
  }
  if (rc != 0)
    return session_fail(s, rc, "the send callback failed");
  return 0;
}

int cpc_noise_session_start(cpc_noise_session *s) {
  if (s->phase == CPC__NOISE_FAILED)
    return s->error;
  if (s->phase != CPC__NOISE_NEW)
    return CPC_ESTATE;
  s->phase = CPC__NOISE_HANDSHAKE;
  /* -> e, with an empty payload: the initiator sends no extensions in its
   * first message (it is not yet encrypted). */
  if (s->hs.initiator)
    return send_handshake(s, 0);
  return 0;
}

/* Switch to transport keys and tell the caller who the remote is. */
static int finish_handshake(cpc_noise_session *s) {
  int rc = cpc__noise_hs_split(&s->hs, &s->tx, &s->rx, NULL);

  cpc__noise_hs_wipe(&s->hs);
  if (rc != 0)
    return session_fail(s, rc, "handshake ended in the wrong state");
  s->phase = CPC__NOISE_ESTABLISHED;
  if (s->cb.handshake_done &&
      (rc = s->cb.handshake_done(s->user, &s->remote)) != 0)
    return session_fail(s, rc, "the handshake_done callback failed");
  return 0;
}

/* Check the remote's payload and, when dialing a known id, its PeerId. */
static int check_remote(cpc_noise_session *s, const uint8_t *p, size_t len) {
  const char *detail = NULL;
  int rc = cpc__noise_payload_verify(p, len, s->hs.rs, &s->remote, &s->store,
                                     &detail);
  if (rc != 0)
    return session_fail(s, rc, detail);
  if (s->has_expected && !cpc_peer_id_equal(&s->expected, &s->remote.peer_id))
    return session_fail(s, CPC_EMISMATCH,
                        "remote PeerId does not match the expected one "
                        "(the /p2p/ id dialed)");
  return 0;
}

static int handshake_frame(cpc_noise_session *s, uint8_t *msg, size_t len) {
  uint8_t *payload;
  size_t payload_len;
  int rc = cpc__noise_hs_read(&s->hs, msg, len, &payload, &payload_len);

  switch (rc) {
  case 0: break;
  case CPC_ETRUNC:
    return session_fail(s, CPC_EPROTO, "handshake message is too short");
  case CPC_EAUTH:
    return session_fail(s, CPC_EAUTH,
                        "handshake message failed authentication");
  case CPC_ECRYPTO:
    return session_fail(s, CPC_ECRYPTO,
                        "remote Noise key is a low-order point");
  default: return session_fail(s, rc, "unexpected handshake message");
  }
  switch (s->hs.msg_index) {
  case 1: /* responder got -> e; its payload (empty in libp2p) is ignored */
    return send_handshake(s, 1);
  case 2: /* initiator got <- e, ee, s, es: check before revealing s */
    if ((rc = check_remote(s, payload, payload_len)) != 0)
      return rc;
    if ((rc = send_handshake(s, 1)) != 0)
      return rc;
    return finish_handshake(s);
  default: /* responder got -> s, se */
    if ((rc = check_remote(s, payload, payload_len)) != 0)
      return rc;
    return finish_handshake(s);
  }
}

static int transport_frame(cpc_noise_session *s, uint8_t *frame, size_t len) {
  size_t plain_len;
  int rc;

  if (s->phase != CPC__NOISE_ESTABLISHED || !s->rx.has_key)
    return session_fail(s, CPC_ESTATE, "transport frame in the wrong state");
  if (len < CPC__NOISE_TAGLEN)
    return session_fail(s, CPC_EPROTO,
                        "transport frame is shorter than its tag");
  rc =
      cpc__noise_cipher_decrypt(&s->rx, NULL, 0, frame, len, frame, &plain_len);
  if (rc == CPC_EAUTH)
    return session_fail(s, rc, "transport frame failed authentication");
  if (rc != 0)
    return session_fail(s, rc, "receive nonces exhausted");
  if (plain_len == 0)
    return 0;
  if ((rc = s->cb.plaintext(s->user, frame, plain_len)) != 0)
    return session_fail(s, rc, "the plaintext callback failed");
  return 0;
}

static int frame_complete(cpc_noise_session *s, uint8_t *frame, size_t len) {
  s->hdr_have = 0;
  if (s->phase == CPC__NOISE_HANDSHAKE)
    return handshake_frame(s, frame, len);
  return transport_frame(s, frame, len);
}

int cpc_noise_session_recv(cpc_noise_session *s, uint8_t *data, size_t len) {
  int rc = 0;

  if (s->phase == CPC__NOISE_FAILED)
    return s->error;
  if (s->phase == CPC__NOISE_NEW)
    return CPC_ESTATE;
  if (len > 0 && !data)
    return CPC_EINVAL;
  /* A callback may have failed the session (e.g. through encrypt()): stop
   * then, since the wiped keys must never see another frame. */
  while (len > 0 && rc == 0 && s->phase != CPC__NOISE_FAILED) {
    size_t take;
    if (s->hdr_have < 2) {
      s->hdr[s->hdr_have++] = *data++;
      len--;
      if (s->hdr_have < 2)
        continue;
      s->frame_len = ((size_t)s->hdr[0] << 8) | s->hdr[1];
      s->frame_have = 0;
      if (s->frame_len == 0)
        rc = frame_complete(s, data, 0);
      continue;
    }
    if (!s->frame && len >= s->frame_len) {
      /* The whole frame is here: decrypt it in the caller's buffer. */
      uint8_t *frame = data;
      data += s->frame_len;
      len -= s->frame_len;
      rc = frame_complete(s, frame, s->frame_len);
      continue;
    }
    if (!s->frame) {
      s->frame = malloc(s->frame_len);
      if (!s->frame)
        return session_fail(s, CPC_ENOMEM, "out of memory");
    }
    take = s->frame_len - s->frame_have;
    if (take > len)
      take = len;
    memcpy(s->frame + s->frame_have, data, take);
    s->frame_have += take;
    data += take;
    len -= take;
    if (s->frame_have == s->frame_len) {
      uint8_t *frame = s->frame;
      size_t frame_len = s->frame_len;
      s->frame = NULL;
      rc = frame_complete(s, frame, frame_len);
      sodium_memzero(frame, frame_len);
      free(frame);
    }
  }
  /* After a failure the rest of data is ignored (the connection drops). */
  return s->phase == CPC__NOISE_FAILED ? s->error : rc;
}

size_t cpc_noise_encrypted_size(size_t len) {
  size_t frames =
      len / CPC_NOISE_MAX_PLAINTEXT + (len % CPC_NOISE_MAX_PLAINTEXT != 0);
  return len + frames * CPC_NOISE_FRAME_OVERHEAD;
}

int cpc_noise_session_encrypt(cpc_noise_session *s, const uint8_t *plain,
                              size_t len, uint8_t *out, size_t cap,
                              size_t *written) {
  size_t pos = 0;

  *written = 0;
  if (s->phase == CPC__NOISE_FAILED)
    return s->error;
  if (s->phase != CPC__NOISE_ESTABLISHED)
    return CPC_ESTATE;
  if (len > SIZE_MAX / 2 || cpc_noise_encrypted_size(len) > cap)
    return CPC_ETOOBIG;
  if (len > 0 && (!plain || !out))
    return CPC_EINVAL;
  while (len > 0) {
    size_t chunk =
        len < CPC_NOISE_MAX_PLAINTEXT ? len : CPC_NOISE_MAX_PLAINTEXT;
    size_t n;
    int rc = cpc__noise_cipher_encrypt(&s->tx, NULL, 0, plain, chunk,
                                       out + pos + 2, &n);
    if (rc != 0)
      return session_fail(s, rc, "send nonces exhausted");
    out[pos] = (uint8_t)(n >> 8);
    out[pos + 1] = (uint8_t)n;
    pos += 2 + n;
    plain += chunk;
    len -= chunk;
  }
  *written = pos;
  return 0;
}

int cpc_noise_session_established(const cpc_noise_session *s) {
  return s->phase == CPC__NOISE_ESTABLISHED;
}

const cpc_noise_remote *cpc_noise_session_remote(const cpc_noise_session *s) {
  return s->phase == CPC__NOISE_ESTABLISHED ? &s->remote : NULL;
}

const char *cpc_noise_session_error_detail(const cpc_noise_session *s) {
  return s->phase == CPC__NOISE_FAILED ? s->detail : NULL;
}
