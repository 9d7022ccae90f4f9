/*
 * auth.c: signed-request authentication (docs/api-auth.md): the signed
 * message, the header checks, verification and the client-side signer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cpc/blake3.h"
#include "cpc/error.h"
#include "cpc/http.h"
#include "cpc/keys.h"
#include "cpc/peer_id.h"
#include "crypto/crypto_int.h"
#include "http/http_int.h"

#define PREFIX_LEN (sizeof CPC_HTTP_AUTH_PREFIX - 1)

static int method_syntax(const char *m, size_t *len) {
  size_t n = 0;
  while (m[n]) {
    if (m[n] < 'A' || m[n] > 'Z')
      return CPC_EMALFORMED;
    if (++n > CPC_HTTP_MAX_METHOD)
      return CPC_ETOOBIG;
  }
  *len = n;
  return n ? 0 : CPC_EMALFORMED;
}

static int target_syntax(const char *t, size_t len) {
  if (len == 0 || t[0] != '/')
    return CPC_EMALFORMED;
  if (len > CPC_HTTP_MAX_TARGET)
    return CPC_ETOOBIG;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
      return CPC_EMALFORMED;
  return 0;
}

/* 1..12 digits, no leading zero. *len gets the length. */
static int timestamp_syntax(const char *ts, size_t *len) {
  size_t n = 0;
  while (ts[n]) {
    if (ts[n] < '0' || ts[n] > '9')
      return CPC_EMALFORMED;
    if (++n > CPC_HTTP_AUTH_TIMESTAMP_MAX)
      return CPC_ETOOBIG;
  }
  if (n == 0 || ts[0] == '0')
    return CPC_EMALFORMED;
  *len = n;
  return 0;
}

static int nonce_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* 16..64 chars of [A-Za-z0-9_-]. */
static int nonce_syntax(const char *nonce, size_t *len) {
  size_t n = 0;
  while (nonce[n]) {
    if (!nonce_char(nonce[n]))
      return CPC_EMALFORMED;
    if (++n > CPC_HTTP_AUTH_NONCE_MAX)
      return CPC_ETOOBIG;
  }
  if (n < CPC_HTTP_AUTH_NONCE_MIN)
    return CPC_EMALFORMED;
  *len = n;
  return 0;
}

int cpc_http_auth_message(const char *method, const char *target,
                          size_t target_len, const uint8_t body_hash[32],
                          const char *timestamp, const char *nonce,
                          uint8_t *out, size_t cap, size_t *len) {
  size_t mlen, tslen, nlen, total, o = 0;
  int rc;

  if ((rc = method_syntax(method, &mlen)) != 0 ||
      (rc = target_syntax(target, target_len)) != 0 ||
      (rc = timestamp_syntax(timestamp, &tslen)) != 0 ||
      (rc = nonce_syntax(nonce, &nlen)) != 0)
    return rc;
  total = PREFIX_LEN + mlen + 1 + target_len + 1 + 64 + 1 + tslen + 1 + nlen;
  if (total > cap)
    return CPC_ETOOBIG;
  memcpy(out + o, CPC_HTTP_AUTH_PREFIX, PREFIX_LEN);
  o += PREFIX_LEN;
  memcpy(out + o, method, mlen);
  o += mlen;
  out[o++] = '\n';
  memcpy(out + o, target, target_len);
  o += target_len;
  out[o++] = '\n';
  {
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, body_hash, 32);
    memcpy(out + o, hex, 64);
    o += 64;
  }
  out[o++] = '\n';
  memcpy(out + o, timestamp, tslen);
  o += tslen;
  out[o++] = '\n';
  memcpy(out + o, nonce, nlen);
  o += nlen;
  *len = o;
  return 0;
}

static int fail(cpc_http_auth_error *err, int rc, const char *code,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(cpc_http_auth_error *err, int rc, const char *code,
                const char *fmt, ...) {
  va_list ap;
  if (err) {
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
  }
  return rc;
}

/* Decode the signature header into sig (CPC_SIG_MAX_LEN bytes). */
static int signature_decode(const char *b64, uint8_t *sig, size_t *sig_len) {
  size_t n = strlen(b64);
  if (n == 0 || n > CPC_HTTP_AUTH_SIG_B64_MAX)
    return CPC_EMALFORMED;
  if (sodium_base642bin(sig, CPC_SIG_MAX_LEN, b64, n, NULL, sig_len, NULL,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      *sig_len == 0)
    return CPC_EMALFORMED;
  return 0;
}

int cpc_http_auth_verify(const cpc_http_auth_input *in, int64_t now,
                         unsigned window_s, cpc_nonce_store *nonces,
                         cpc_peer_id *caller, cpc_http_auth_error *err) {
  static const char U[] = "unauthorized";
  uint8_t msg[CPC_HTTP_AUTH_MESSAGE_MAX];
  uint8_t sig[CPC_SIG_MAX_LEN], hash[32];
  size_t msg_len, sig_len, tslen, nlen;
  cpc_peer_id id;
  cpc_pubkey pk;
  int64_t ts;
  int rc;

  if (err) {
    err->code = NULL;
    err->message[0] = '\0';
  }
  if (window_s == 0)
    window_s = CPC_HTTP_AUTH_WINDOW_DEFAULT;
  if (cpc__sodium_ready() != 0)
    return fail(err, CPC_ECRYPTO, "unavailable", "crypto library unusable");
  if (!in->peer_id)
    return fail(err, CPC_EMALFORMED, U, "missing header " CPC_HTTP_HDR_PEER_ID);
  if (!in->timestamp)
    return fail(err, CPC_EMALFORMED, U,
                "missing header " CPC_HTTP_HDR_TIMESTAMP);
  if (!in->nonce)
    return fail(err, CPC_EMALFORMED, U, "missing header " CPC_HTTP_HDR_NONCE);
  if (!in->signature)
    return fail(err, CPC_EMALFORMED, U,
                "missing header " CPC_HTTP_HDR_SIGNATURE);
  if (timestamp_syntax(in->timestamp, &tslen) != 0)
    return fail(err, CPC_EMALFORMED, U,
                CPC_HTTP_HDR_TIMESTAMP
                " must be unix seconds: 1 to 12 digits, no leading zero");
  if (nonce_syntax(in->nonce, &nlen) != 0)
    return fail(err, CPC_EMALFORMED, U,
                CPC_HTTP_HDR_NONCE " must be 16 to 64 characters of "
                                   "[A-Za-z0-9_-]");
  if (signature_decode(in->signature, sig, &sig_len) != 0)
    return fail(err, CPC_EMALFORMED, U,
                CPC_HTTP_HDR_SIGNATURE " must be padded standard base64 of "
                                       "at most 72 bytes");
  if (strlen(in->peer_id) >= CPC_PEER_ID_MAX_TEXT ||
      cpc_peer_id_parse(in->peer_id, &id) != 0)
    return fail(err, CPC_EMALFORMED, U,
                CPC_HTTP_HDR_PEER_ID " is not a PeerId");
  if (cpc_peer_id_pubkey(&id, &pk) != 0 || pk.type != CPC_KEY_SECP256K1)
    return fail(err, CPC_EUNSUPPORTED, U,
                CPC_HTTP_HDR_PEER_ID
                " must be the identity PeerId of a secp256k1 key");

  ts = 0;
  for (size_t i = 0; i < tslen; i++)
    ts = ts * 10 + (in->timestamp[i] - '0');
  if (ts > now + (int64_t)window_s || ts < now - (int64_t)window_s)
    return fail(err, CPC_ETIMEDOUT, "stale",
                CPC_HTTP_HDR_TIMESTAMP " is more than %u s from the server "
                                       "clock",
                window_s);

  cpc_blake3(in->body, in->body_len, hash);
  rc = cpc_http_auth_message(in->method, in->target, in->target_len, hash,
                             in->timestamp, in->nonce, msg, sizeof msg,
                             &msg_len);
  if (rc != 0)
    return fail(err, CPC_EMALFORMED, U,
                "the method or request target cannot be signed");
  if (cpc_pubkey_verify(&pk, msg, msg_len, sig, sig_len) != 0)
    return fail(err, CPC_EBADSIG, U,
                "the signature does not verify for this PeerId and request");

  rc = cpc_nonce_store_check_and_insert(nonces, &id, in->nonce, nlen,
                                        ts + (int64_t)window_s, now);
  if (rc == CPC_EEXIST)
    return fail(err, CPC_EEXIST, "replayed",
                "this nonce was already used by this PeerId");
  if (rc != 0)
    return fail(err, rc, "unavailable", "the nonce store refused: %s",
                cpc_strerror(rc));
  if (caller)
    *caller = id;
  return 0;
}

int cpc_http_sign_request(const cpc_privkey *key, const char *method,
                          const char *target, size_t target_len,
                          const void *body, size_t body_len, int64_t timestamp,
                          const char *nonce, cpc_http_signed_headers *out) {
  uint8_t msg[CPC_HTTP_AUTH_MESSAGE_MAX];
  uint8_t sig[CPC_SIG_MAX_LEN], hash[32];
  size_t msg_len, sig_len, nlen;
  cpc_peer_id id;
  int rc;

  memset(out, 0, sizeof *out);
  if (key->type != CPC_KEY_SECP256K1)
    return CPC_EUNSUPPORTED;
  if (timestamp < 1 || timestamp > 999999999999LL)
    return CPC_EINVAL;
  if ((rc = cpc__sodium_ready()) != 0)
    return rc;
  if (nonce) {
    if ((rc = nonce_syntax(nonce, &nlen)) != 0)
      return rc;
    memcpy(out->nonce, nonce, nlen + 1);
  } else {
    uint8_t rnd[24];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2base64(out->nonce, sizeof out->nonce, rnd, sizeof rnd,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  }
  snprintf(out->timestamp, sizeof out->timestamp, "%lld", (long long)timestamp);
  if ((rc = cpc_peer_id_from_pubkey(&key->pub, &id)) != 0 ||
      (rc = cpc_peer_id_format(&id, out->peer_id, sizeof out->peer_id)) != 0)
    goto out;
  cpc_blake3(body, body_len, hash);
  rc = cpc_http_auth_message(method, target, target_len, hash, out->timestamp,
                             out->nonce, msg, sizeof msg, &msg_len);
  if (rc != 0)
    goto out;
  rc = cpc_privkey_sign(key, msg, msg_len, sig, sizeof sig, &sig_len);
  if (rc != 0)
    goto out;
  sodium_bin2base64(out->signature, sizeof out->signature, sig, sig_len,
                    sodium_base64_VARIANT_ORIGINAL);
out:
  if (rc != 0)
    memset(out, 0, sizeof *out);
  return rc;
}
