/*
 * fuzz_http_auth.c: request authentication as the server runs it. The input
 * is split on '\n' into method, target, PeerId, timestamp, nonce and
 * signature headers, the rest being the body; it goes through
 * cpc_http_auth_verify() (header parsing, signed-message building, PeerId
 * and signature checks, nonce store). Whatever is accepted must have signed
 * a message that cpc_http_auth_message() rebuilds; and where the method,
 * target and nonce are well formed, a request signed by a fixed key over
 * them must verify once and then be refused as a replay.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/blake3.h"
#include "cpc/error.h"
#include "cpc/http.h"
#include "cpc/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1750000000

static cpc_privkey key;
static int key_ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *copy, *field[6], *p;
  size_t rest_off;
  cpc_nonce_store *ns = NULL;
  cpc_http_auth_input in;
  cpc_http_auth_error err;
  cpc_peer_id caller;
  int rc;

  if (!key_ready) {
    uint8_t scalar[32];
    memset(scalar, 0x42, sizeof scalar);
    if (cpc_privkey_from_raw(CPC_KEY_SECP256K1, scalar, 32, &key) != 0)
      abort();
    key_ready = 1;
  }
  copy = malloc(size + 1);
  if (!copy)
    return 0;
  memcpy(copy, data, size);
  copy[size] = '\0';
  p = copy;
  for (int i = 0; i < 6; i++) {
    char *nl = memchr(p, '\n', (size_t)(copy + size - p));
    field[i] = p;
    if (!nl) {
      /* too few fields: the rest are empty */
      for (int j = i + 1; j < 6; j++)
        field[j] = copy + size;
      p = copy + size;
      break;
    }
    *nl = '\0';
    p = nl + 1;
  }
  rest_off = (size_t)(p - copy);

  if (cpc_nonce_store_memory_new(16, &ns) != 0)
    goto out;
  memset(&in, 0, sizeof in);
  in.method = field[0];
  in.target = field[1];
  in.target_len = strlen(field[1]);
  in.peer_id = field[2][0] ? field[2] : NULL;
  in.timestamp = field[3];
  in.nonce = field[4];
  in.signature = field[5];
  in.body = data + rest_off;
  in.body_len = size - rest_off;
  rc = cpc_http_auth_verify(&in, NOW, 0, ns, &caller, &err);
  if (rc == 0) {
    uint8_t hash[32], msg[CPC_HTTP_AUTH_MESSAGE_MAX];
    size_t len;
    cpc_blake3(in.body, in.body_len, hash);
    if (cpc_http_auth_message(in.method, in.target, in.target_len, hash,
                              in.timestamp, in.nonce, msg, sizeof msg,
                              &len) != 0)
      abort();
    /* the same request again is a replay */
    if (cpc_http_auth_verify(&in, NOW, 0, ns, NULL, &err) != CPC_EEXIST)
      abort();
  } else if (!err.code || !err.message[0]) {
    abort(); /* every refusal says why */
  }

  /* sign over the fuzzed method/target/nonce with the fixed key */
  {
    cpc_http_signed_headers h;
    rc = cpc_http_sign_request(&key, field[0], field[1], strlen(field[1]),
                               in.body, in.body_len, NOW, field[4], &h);
    if (rc == 0) {
      in.peer_id = h.peer_id;
      in.timestamp = h.timestamp;
      in.nonce = h.nonce;
      in.signature = h.signature;
      cpc_nonce_store_free(ns);
      ns = NULL;
      if (cpc_nonce_store_memory_new(16, &ns) != 0)
        goto out;
      if (cpc_http_auth_verify(&in, NOW, 0, ns, &caller, &err) != 0)
        abort();
      if (cpc_http_auth_verify(&in, NOW, 0, ns, &caller, &err) != CPC_EEXIST)
        abort();
    }
  }
out:
  cpc_nonce_store_free(ns);
  free(copy);
  return 0;
}
