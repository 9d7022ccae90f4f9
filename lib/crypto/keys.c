/*
 * keys.c: the key-type-independent face of cpc/keys.h; dispatches to
 * ed25519.c and secp256k1.c.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cpc/error.h"
#include "cpc/keys.h"
#include "crypto/crypto_int.h"

/* Stand-in for a NULL message of length 0, so no NULL reaches libraries. */
static const uint8_t empty_msg[1];

static void set_pub(cpc_pubkey *pk, enum cpc_key_type type, const uint8_t *data,
                    size_t len) {
  memset(pk, 0, sizeof *pk);
  pk->type = type;
  pk->len = len;
  memcpy(pk->data, data, len);
}

int cpc_privkey_generate(enum cpc_key_type type, cpc_privkey *out) {
  int rc;

  memset(out, 0, sizeof *out);
  out->type = type;
  switch (type) {
  case CPC_KEY_ED25519:
    out->len = CPC_ED25519_PRIVATE_LEN;
    rc = cpc__ed25519_generate(out->data);
    if (rc == 0)
      set_pub(&out->pub, type, out->data + 32, CPC_ED25519_PUBLIC_LEN);
    break;
  case CPC_KEY_SECP256K1:
    out->len = CPC_SECP256K1_PRIVATE_LEN;
    rc = cpc__secp256k1_generate(out->data);
    if (rc == 0) {
      uint8_t pub[CPC_SECP256K1_PUBLIC_LEN];
      rc = cpc__secp256k1_public(out->data, pub);
      if (rc == 0)
        set_pub(&out->pub, type, pub, sizeof pub);
    }
    break;
  default:
    rc = CPC_EUNSUPPORTED;
    break;
  }
  if (rc != 0)
    cpc_privkey_wipe(out);
  return rc;
}

static int ed25519_from_raw(const uint8_t *data, size_t len, cpc_privkey *out) {
  int rc;

  if (len != 32 && len != 64 && len != 96)
    return CPC_EMALFORMED;
  /* Legacy form: seed || public || public, the two copies must agree. */
  if (len == 96 && sodium_memcmp(data + 32, data + 64, 32) != 0)
    return CPC_EMALFORMED;
  rc = cpc__ed25519_from_seed(data, out->data);
  if (rc != 0)
    return rc;
  if (len > 32 && sodium_memcmp(out->data + 32, data + 32, 32) != 0)
    return CPC_EMALFORMED;
  out->len = CPC_ED25519_PRIVATE_LEN;
  set_pub(&out->pub, CPC_KEY_ED25519, out->data + 32, CPC_ED25519_PUBLIC_LEN);
  return 0;
}

static int secp256k1_from_raw(const uint8_t *data, size_t len,
                              cpc_privkey *out) {
  uint8_t pub[CPC_SECP256K1_PUBLIC_LEN];
  int rc;

  if (len != CPC_SECP256K1_PRIVATE_LEN)
    return CPC_EMALFORMED;
  memcpy(out->data, data, len);
  out->len = len;
  rc = cpc__secp256k1_public(out->data, pub);
  if (rc != 0)
    return rc;
  set_pub(&out->pub, CPC_KEY_SECP256K1, pub, sizeof pub);
  return 0;
}

int cpc_privkey_from_raw(enum cpc_key_type type, const uint8_t *data,
                         size_t len, cpc_privkey *out) {
  int rc;

  memset(out, 0, sizeof *out);
  out->type = type;
  if (!data)
    return len ? CPC_EINVAL : CPC_EMALFORMED;
  switch (type) {
  case CPC_KEY_ED25519: rc = ed25519_from_raw(data, len, out); break;
  case CPC_KEY_SECP256K1: rc = secp256k1_from_raw(data, len, out); break;
  default: rc = CPC_EUNSUPPORTED; break;
  }
  if (rc != 0)
    cpc_privkey_wipe(out);
  return rc;
}

void cpc_privkey_wipe(cpc_privkey *k) {
  if (k)
    sodium_memzero(k, sizeof *k);
}

void cpc_secret_free(void *p, size_t len) {
  if (!p)
    return;
  sodium_memzero(p, len);
  free(p);
}

int cpc_privkey_sign(const cpc_privkey *k, const void *msg, size_t len,
                     uint8_t *sig, size_t cap, size_t *sig_len) {
  int rc;

  if (!msg)
    msg = empty_msg;
  if (msg == empty_msg && len != 0)
    return CPC_EINVAL;
  switch (k->type) {
  case CPC_KEY_ED25519:
    if (cap < CPC_ED25519_SIG_LEN)
      return CPC_ETOOBIG;
    rc = cpc__ed25519_sign(k->data, msg, len, sig);
    if (rc == 0)
      *sig_len = CPC_ED25519_SIG_LEN;
    return rc;
  case CPC_KEY_SECP256K1:
    return cpc__secp256k1_sign(k->data, msg, len, sig, cap, sig_len);
  default:
    return CPC_EUNSUPPORTED;
  }
}

int cpc_pubkey_from_raw(enum cpc_key_type type, const uint8_t *data,
                        size_t len, cpc_pubkey *out) {
  int rc;

  memset(out, 0, sizeof *out);
  if (!data)
    return len ? CPC_EINVAL : CPC_EMALFORMED;
  switch (type) {
  case CPC_KEY_ED25519:
    if (len != CPC_ED25519_PUBLIC_LEN)
      return CPC_EMALFORMED;
    break;
  case CPC_KEY_SECP256K1:
    rc = cpc__secp256k1_check_public(data, len);
    if (rc != 0)
      return rc;
    break;
  default:
    return CPC_EUNSUPPORTED;
  }
  set_pub(out, type, data, len);
  return 0;
}

int cpc_pubkey_verify(const cpc_pubkey *pk, const void *msg, size_t len,
                      const uint8_t *sig, size_t sig_len) {
  if (!msg)
    msg = empty_msg;
  if (msg == empty_msg && len != 0)
    return CPC_EINVAL;
  switch (pk->type) {
  case CPC_KEY_ED25519:
    if (pk->len != CPC_ED25519_PUBLIC_LEN)
      return CPC_EBADSIG;
    return cpc__ed25519_verify(pk->data, msg, len, sig, sig_len);
  case CPC_KEY_SECP256K1:
    if (pk->len != CPC_SECP256K1_PUBLIC_LEN)
      return CPC_EBADSIG;
    return cpc__secp256k1_verify(pk->data, msg, len, sig, sig_len);
  default:
    return CPC_EUNSUPPORTED;
  }
}

int cpc_pubkey_equal(const cpc_pubkey *a, const cpc_pubkey *b) {
  return a->type == b->type && a->len == b->len && a->len <= CPC_PUBKEY_MAX_LEN &&
         memcmp(a->data, b->data, a->len) == 0;
}

const char *cpc_key_type_name(enum cpc_key_type type) {
  switch (type) {
  case CPC_KEY_RSA: return "rsa";
  case CPC_KEY_ED25519: return "ed25519";
  case CPC_KEY_SECP256K1: return "secp256k1";
  case CPC_KEY_ECDSA: return "ecdsa";
  default: return "unknown";
  }
}

int cpc_key_type_parse(const char *name, enum cpc_key_type *type) {
  if (strcmp(name, "ed25519") == 0)
    *type = CPC_KEY_ED25519;
  else if (strcmp(name, "secp256k1") == 0)
    *type = CPC_KEY_SECP256K1;
  else
    return CPC_EUNSUPPORTED;
  return 0;
}
