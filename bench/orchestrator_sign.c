/*
 * orchestrator_sign.c (bench/orchestrator.sh): pre-signed content
 * registrations for wrk. Makes a secp256k1 user, prints its PeerId on
 * stdout, and writes N requests `POST /v1/content` (each a new public
 * content of one chunk, signed per docs/api-auth.md with its own nonce) to
 * FILE as one raw HTTP/1.1 request per line-delimited record: each record
 * is the request bytes followed by a line "\n--cpc-bench--\n".
 *   usage: orchestrator_sign N FILE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cpc/blake3.h"
#include "cpc/cid.h"
#include "cpc/http.h"
#include "cpc/keys.h"
#include "cpc/multihash.h"
#include "cpc/peer_id.h"

static int cid_of(const void *p, size_t n, char *out, size_t cap) {
  cpc_cid c;
  if (cpc_cid_compute(CPC_CODEC_RAW, CPC_MH_BLAKE3, p, n, &c) != 0)
    return -1;
  return cpc_cid_format(&c, CPC_MB_BASE32, out, cap);
}

int main(int argc, char **argv) {
  cpc_privkey key;
  cpc_peer_id id;
  char pid[CPC_PEER_ID_MAX_TEXT], cid[128], chunk[128], body[1024];
  char key_b64[64];
  uint8_t seed[40], ck[32];
  long n, i;
  FILE *f;
  int64_t ts = (int64_t)time(NULL);

  if (argc != 3 || (n = strtol(argv[1], NULL, 10)) < 1) {
    fprintf(stderr, "usage: orchestrator_sign N FILE\n");
    return 2;
  }
  if (sodium_init() < 0 ||
      cpc_privkey_generate(CPC_KEY_SECP256K1, &key) != 0 ||
      cpc_peer_id_from_pubkey(&key.pub, &id) != 0 ||
      cpc_peer_id_format(&id, pid, sizeof pid) != 0) {
    fprintf(stderr, "orchestrator_sign: cannot make a key\n");
    return 1;
  }
  f = fopen(argv[2], "w");
  if (!f) {
    perror(argv[2]);
    return 1;
  }
  randombytes_buf(ck, sizeof ck);
  sodium_bin2base64(key_b64, sizeof key_b64, ck, sizeof ck,
                    sodium_base64_VARIANT_ORIGINAL);
  for (i = 0; i < n; i++) {
    cpc_http_signed_headers h;
    int len;
    randombytes_buf(seed, sizeof seed);
    if (cid_of(seed, sizeof seed, cid, sizeof cid) != 0 ||
        cid_of(seed, 20, chunk, sizeof chunk) != 0)
      return 1;
    len = snprintf(body, sizeof body,
                   "{\"content_id\":\"%s\",\"size\":262144,\"created_at\":%lld,"
                   "\"access_control\":\"public\",\"name\":\"bench %ld\","
                   "\"chunks\":[{\"cid\":\"%s\",\"size\":262160}],"
                   "\"replicas\":3,\"clear_key\":\"%s\"}",
                   cid, (long long)ts * 1000, i, chunk, key_b64);
    if (len < 0 || (size_t)len >= sizeof body ||
        cpc_http_sign_request(&key, "POST", "/v1/content", 11, body,
                              (size_t)len, ts, NULL, &h) != 0) {
      fprintf(stderr, "orchestrator_sign: cannot sign\n");
      return 1;
    }
    fprintf(f,
            "POST /v1/content HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n"
            "X-CPC-Peer-Id: %s\r\nX-CPC-Timestamp: %s\r\nX-CPC-Nonce: %s\r\n"
            "X-CPC-Signature: %s\r\n\r\n%s\n--cpc-bench--\n",
            len, h.peer_id, h.timestamp, h.nonce, h.signature, body);
  }
  cpc_privkey_wipe(&key);
  if (fclose(f) != 0)
    return 1;
  printf("%s\n", pid);
  return 0;
}
