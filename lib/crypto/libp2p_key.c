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

/*
 * The checks and packing both encoders share: PublicKey and PrivateKey are
 * the same two fields (KeyType Type, bytes Data) under different names.
 */
static int check_key(enum cpc_key_type type, size_t len, size_t max) {
  if (check_type((int)type) != 0)
    return CPC_EUNSUPPORTED;
  if (len == 0 || len > max)
    return CPC_EINVAL;
  return 0;
}

static int pack_key(const ProtobufCMessage *m, uint8_t *out, size_t cap,
                    size_t *written) {
  if (protobuf_c_message_get_packed_size(m) > cap)
    return CPC_ETOOBIG;
  *written = protobuf_c_message_pack(m, out);
  return 0;
}

/*
 * Unpack in[0..len) as a message of type d within CPC_KEY_PROTO_PARSE_MAX.
 * CPC_ETOOBIG, or CPC_EMALFORMED when empty or undecodable (also on
 * allocation failure: protobuf-c can't tell). The caller frees *m with
 * protobuf_c_message_free_unpacked(*m, alloc).
 */
static int unpack_key(const ProtobufCMessageDescriptor *d,
                      ProtobufCAllocator *alloc, const uint8_t *in, size_t len,
                      ProtobufCMessage **m) {
  *m = NULL;
  if (len > CPC_KEY_PROTO_PARSE_MAX)
    return CPC_ETOOBIG;
  if (!in || len == 0)
    return CPC_EMALFORMED;
  *m = protobuf_c_message_unpack(d, alloc, len, in);
  return *m ? 0 : CPC_EMALFORMED;
}

int cpc_pubkey_encode(const cpc_pubkey *pk, uint8_t *out, size_t cap,
                      size_t *written) {
  Libp2p__Crypto__PublicKey m = LIBP2P__CRYPTO__PUBLIC_KEY__INIT;
  int rc = check_key(pk->type, pk->len, CPC_PUBKEY_MAX_LEN);

  if (rc != 0)
    return rc;
  m.type = (Libp2p__Crypto__KeyType)pk->type;
  m.data.len = pk->len;
  m.data.data = (uint8_t *)pk->data;
  return pack_key(&m.base, out, cap, written);
}

int cpc_pubkey_decode(const uint8_t *in, size_t len, cpc_pubkey *out) {
  const Libp2p__Crypto__PublicKey *m;
  ProtobufCMessage *base;
  int rc;

  memset(out, 0, sizeof *out);
  rc =
      unpack_key(&libp2p__crypto__public_key__descriptor, NULL, in, len, &base);
  if (rc != 0)
    return rc;
  m = (const Libp2p__Crypto__PublicKey *)base;
  rc = check_type((int)m->type);
  if (rc == 0)
    rc = cpc_pubkey_from_raw((enum cpc_key_type)m->type, m->data.data,
                             m->data.len, out);
  protobuf_c_message_free_unpacked(base, NULL);
  return rc;
}

int cpc_privkey_encode(const cpc_privkey *k, uint8_t *out, size_t cap,
                       size_t *written) {
  Libp2p__Crypto__PrivateKey m = LIBP2P__CRYPTO__PRIVATE_KEY__INIT;
  int rc = check_key(k->type, k->len, CPC_PRIVKEY_MAX_LEN);

  if (rc != 0)
    return rc;
  m.type = (Libp2p__Crypto__KeyType)k->type;
  m.data.len = k->len;
  m.data.data = (uint8_t *)k->data;
  return pack_key(&m.base, out, cap, written);
}

int cpc_privkey_decode(const uint8_t *in, size_t len, cpc_privkey *out) {
  const Libp2p__Crypto__PrivateKey *m;
  ProtobufCMessage *base;
  int rc;

  memset(out, 0, sizeof *out);
  /* The wiping allocator clears protobuf-c's copy of the secret. */
  rc = unpack_key(&libp2p__crypto__private_key__descriptor,
                  &cpc__secret_allocator, in, len, &base);
  if (rc != 0)
    return rc;
  m = (const Libp2p__Crypto__PrivateKey *)base;
  rc = check_type((int)m->type);
  /* A bare seed is fine for cpc_privkey_from_raw(), not in this encoding. */
  if (rc == 0 && m->type == LIBP2P__CRYPTO__KEY_TYPE__Ed25519 &&
      m->data.len == 32)
    rc = CPC_EMALFORMED;
  if (rc == 0)
    rc = cpc_privkey_from_raw((enum cpc_key_type)m->type, m->data.data,
                              m->data.len, out);
  protobuf_c_message_free_unpacked(base, &cpc__secret_allocator);
  return rc;
}
