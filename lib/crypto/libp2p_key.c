/*
 * libp2p_key.c: libp2p PublicKey / PrivateKey protobufs (libp2p/specs
 * peer-ids, proto/libp2p/crypto.proto) to and from cpc keys.
 */
#include <string.h>

#include <sodium.h>

#include "cpc/error.h"
#include "cpc/keys.h"
#include "crypto/crypto_int.h"
#include "libp2p/crypto.pb-c.h"

/* Map the wire enum to ours, refusing the types we do not implement. */
static int check_type(int wire) {
  switch (wire) {
  case LIBP2P__CRYPTO__KEY_TYPE__Ed25519:
  case LIBP2P__CRYPTO__KEY_TYPE__Secp256k1: return 0;
  default: return CPC_EUNSUPPORTED; /* RSA, ECDSA, values from the future */
  }
}

int cpc_pubkey_encode(const cpc_pubkey *pk, uint8_t *out, size_t cap,
                      size_t *written) {
  Libp2p__Crypto__PublicKey m = LIBP2P__CRYPTO__PUBLIC_KEY__INIT;

  if (check_type((int)pk->type) != 0)
    return CPC_EUNSUPPORTED;
  if (pk->len == 0 || pk->len > CPC_PUBKEY_MAX_LEN)
    return CPC_EINVAL;
  m.type = (Libp2p__Crypto__KeyType)pk->type;
  m.data.len = pk->len;
  m.data.data = (uint8_t *)pk->data;
  if (libp2p__crypto__public_key__get_packed_size(&m) > cap)
    return CPC_ETOOBIG;
  *written = libp2p__crypto__public_key__pack(&m, out);
  return 0;
}

int cpc_pubkey_decode(const uint8_t *in, size_t len, cpc_pubkey *out) {
  Libp2p__Crypto__PublicKey *m;
  int rc;

  memset(out, 0, sizeof *out);
  if (len > CPC_KEY_PROTO_PARSE_MAX)
    return CPC_ETOOBIG;
  if (!in || len == 0)
    return CPC_EMALFORMED;
  m = libp2p__crypto__public_key__unpack(NULL, len, in);
  if (!m)
    return CPC_EMALFORMED; /* also on allocation failure: protobuf-c can't tell */
  rc = check_type((int)m->type);
  if (rc == 0)
    rc = cpc_pubkey_from_raw((enum cpc_key_type)m->type, m->data.data,
                             m->data.len, out);
  libp2p__crypto__public_key__free_unpacked(m, NULL);
  return rc;
}

int cpc_privkey_encode(const cpc_privkey *k, uint8_t *out, size_t cap,
                       size_t *written) {
  Libp2p__Crypto__PrivateKey m = LIBP2P__CRYPTO__PRIVATE_KEY__INIT;

  if (check_type((int)k->type) != 0)
    return CPC_EUNSUPPORTED;
  if (k->len == 0 || k->len > CPC_PRIVKEY_MAX_LEN)
    return CPC_EINVAL;
  m.type = (Libp2p__Crypto__KeyType)k->type;
  m.data.len = k->len;
  m.data.data = (uint8_t *)k->data;
  if (libp2p__crypto__private_key__get_packed_size(&m) > cap)
    return CPC_ETOOBIG;
  *written = libp2p__crypto__private_key__pack(&m, out);
  return 0;
}

int cpc_privkey_decode(const uint8_t *in, size_t len, cpc_privkey *out) {
  Libp2p__Crypto__PrivateKey *m;
  int rc;

  memset(out, 0, sizeof *out);
  if (len > CPC_KEY_PROTO_PARSE_MAX)
    return CPC_ETOOBIG;
  if (!in || len == 0)
    return CPC_EMALFORMED;
  /* The wiping allocator clears protobuf-c's copy of the secret. */
  m = libp2p__crypto__private_key__unpack(&cpc__secret_allocator, len, in);
  if (!m)
    return CPC_EMALFORMED;
  rc = check_type((int)m->type);
  if (rc == 0)
    rc = cpc_privkey_from_raw((enum cpc_key_type)m->type, m->data.data,
                              m->data.len, out);
  libp2p__crypto__private_key__free_unpacked(m, &cpc__secret_allocator);
  return rc;
}
