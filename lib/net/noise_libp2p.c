/*
 * net/noise_libp2p.c: the libp2p NoiseHandshakePayload (libp2p/specs
 * noise/README.md): our identity key and its signature over
 * "noise-libp2p-static-key:" || our Noise static key, and the check of the
 * remote's, which yields its PeerId. Extensions carry the stream muxers.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cpc/error.h"
#include "cpc/keys.h"
#include "cpc/peer_id.h"
#include "net/noise_int.h"

#define SIG_PREFIX_LEN (sizeof CPC__NOISE_SIG_PREFIX - 1)

static void signed_data(const uint8_t static_pub[CPC__NOISE_DHLEN],
                        uint8_t out[SIG_PREFIX_LEN + CPC__NOISE_DHLEN]) {
  memcpy(out, CPC__NOISE_SIG_PREFIX, SIG_PREFIX_LEN);
  memcpy(out + SIG_PREFIX_LEN, static_pub, CPC__NOISE_DHLEN);
}

int cpc__noise_payload_build(const cpc_privkey *identity,
                             const uint8_t static_pub[CPC__NOISE_DHLEN],
                             const char *const *muxers, size_t n_muxers,
                             uint8_t **out, size_t *out_len) {
  Libp2p__Noise__NoiseHandshakePayload msg =
      LIBP2P__NOISE__NOISE_HANDSHAKE_PAYLOAD__INIT;
  Libp2p__Noise__NoiseExtensions ext = LIBP2P__NOISE__NOISE_EXTENSIONS__INIT;
  uint8_t data[SIG_PREFIX_LEN + CPC__NOISE_DHLEN];
  uint8_t sig[CPC_SIG_MAX_LEN], key[CPC_PUBKEY_PROTO_MAX];
  size_t sig_len, key_len, size;
  uint8_t *buf;
  int rc;

  *out = NULL;
  *out_len = 0;
  signed_data(static_pub, data);
  if ((rc = cpc_privkey_sign(identity, data, sizeof data, sig, sizeof sig,
                             &sig_len)) != 0)
    return rc;
  if ((rc = cpc_pubkey_encode(&identity->pub, key, sizeof key, &key_len)) != 0)
    return rc;
  msg.has_identity_key = 1;
  msg.identity_key.data = key;
  msg.identity_key.len = key_len;
  msg.has_identity_sig = 1;
  msg.identity_sig.data = sig;
  msg.identity_sig.len = sig_len;
  if (n_muxers > 0) {
    ext.n_stream_muxers = n_muxers;
    ext.stream_muxers = (char **)muxers; /* pack only reads */
    msg.extensions = &ext;
  }
  size = libp2p__noise__noise_handshake_payload__get_packed_size(&msg);
  buf = malloc(size > 0 ? size : 1);
  if (!buf)
    return CPC_ENOMEM;
  *out_len = libp2p__noise__noise_handshake_payload__pack(&msg, buf);
  *out = buf;
  return 0;
}

void cpc__noise_remote_store_free(struct cpc__noise_remote_store *store) {
  if (store->msg)
    libp2p__noise__noise_handshake_payload__free_unpacked(store->msg, NULL);
  free(store->certhashes);
  store->msg = NULL;
  store->certhashes = NULL;
}

/* Fill remote's extension lists from msg (already decoded), within caps. */
static int take_extensions(Libp2p__Noise__NoiseHandshakePayload *msg,
                           cpc_noise_remote *remote,
                           struct cpc__noise_remote_store *store,
                           const char **detail) {
  Libp2p__Noise__NoiseExtensions *ext = msg->extensions;
  size_t i;

  remote->stream_muxers = NULL;
  remote->n_stream_muxers = 0;
  remote->webtransport_certhashes = NULL;
  remote->n_webtransport_certhashes = 0;
  if (!ext)
    return 0;
  if (ext->n_stream_muxers > CPC_NOISE_MAX_MUXERS ||
      ext->n_webtransport_certhashes > CPC_NOISE_MAX_CERTHASHES) {
    *detail = "remote handshake extensions list too many entries";
    return CPC_ETOOBIG;
  }
  for (i = 0; i < ext->n_stream_muxers; i++) {
    if (strlen(ext->stream_muxers[i]) > CPC_NOISE_MAX_MUXER_LEN) {
      *detail = "remote handshake extensions name an over-long muxer";
      return CPC_ETOOBIG;
    }
  }
  if (ext->n_webtransport_certhashes > 0) {
    store->certhashes =
        calloc(ext->n_webtransport_certhashes, sizeof *store->certhashes);
    if (!store->certhashes)
      return CPC_ENOMEM;
    for (i = 0; i < ext->n_webtransport_certhashes; i++) {
      if (ext->webtransport_certhashes[i].len > CPC_NOISE_MAX_CERTHASH_LEN) {
        *detail = "remote handshake extensions carry an over-long certhash";
        return CPC_ETOOBIG;
      }
      store->certhashes[i].data = ext->webtransport_certhashes[i].data;
      store->certhashes[i].len = ext->webtransport_certhashes[i].len;
    }
  }
  remote->stream_muxers = (const char *const *)ext->stream_muxers;
  remote->n_stream_muxers = ext->n_stream_muxers;
  remote->webtransport_certhashes = store->certhashes;
  remote->n_webtransport_certhashes = ext->n_webtransport_certhashes;
  return 0;
}

int cpc__noise_payload_verify(const uint8_t *p, size_t len,
                              const uint8_t remote_static[CPC__NOISE_DHLEN],
                              cpc_noise_remote *remote,
                              struct cpc__noise_remote_store *store,
                              const char **detail) {
  Libp2p__Noise__NoiseHandshakePayload *msg = NULL;
  uint8_t data[SIG_PREFIX_LEN + CPC__NOISE_DHLEN];
  int rc;

  memset(store, 0, sizeof *store);
  memset(remote, 0, sizeof *remote);
  *detail = NULL;
  if (len > CPC__NOISE_MAX_MSG) {
    *detail = "remote handshake payload is too large";
    rc = CPC_ETOOBIG;
    goto out;
  }
  /* protobuf-c copies every field; the input is at most 65535 bytes, so
   * the decoded message is bounded by a small multiple of that. */
  msg = libp2p__noise__noise_handshake_payload__unpack(NULL, len, p);
  if (!msg) {
    *detail = "remote handshake payload is not a NoiseHandshakePayload";
    rc = CPC_EPROTO;
    goto out;
  }
  if (!msg->has_identity_key || !msg->has_identity_sig) {
    *detail = "remote handshake payload lacks its identity key or signature";
    rc = CPC_EPROTO;
    goto out;
  }
  rc = cpc_pubkey_decode(msg->identity_key.data, msg->identity_key.len,
                         &remote->identity);
  if (rc == CPC_EUNSUPPORTED) {
    *detail = "remote identity key type is not supported "
              "(only Ed25519 and secp256k1 are)";
    goto out;
  }
  if (rc != 0) {
    *detail = "remote identity key does not decode";
    rc = CPC_EPROTO;
    goto out;
  }
  signed_data(remote_static, data);
  if (msg->identity_sig.len > CPC_SIG_MAX_LEN ||
      cpc_pubkey_verify(&remote->identity, data, sizeof data,
                        msg->identity_sig.data, msg->identity_sig.len) != 0) {
    *detail = "remote identity signature over its Noise static key "
              "does not verify";
    rc = CPC_EBADSIG;
    goto out;
  }
  if ((rc = cpc_peer_id_from_pubkey(&remote->identity, &remote->peer_id)) !=
      0) {
    *detail = "cannot derive the remote PeerId";
    rc = CPC_EPROTO;
    goto out;
  }
  if ((rc = take_extensions(msg, remote, store, detail)) != 0)
    goto out;
  memcpy(remote->static_key, remote_static, CPC__NOISE_DHLEN);
  store->msg = msg;
  msg = NULL;
  rc = 0;
out:
  if (rc != 0) {
    if (msg)
      libp2p__noise__noise_handshake_payload__free_unpacked(msg, NULL);
    msg = NULL;
    cpc__noise_remote_store_free(store);
    memset(remote, 0, sizeof *remote);
    if (!*detail)
      *detail = "out of memory while checking the remote handshake payload";
  }
  return rc;
}
