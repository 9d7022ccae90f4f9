/*
 * fuzz_bitswap.c: arbitrary bytes as a Bitswap stream (length-prefixed
 * messages, split into chunks), each message decoded and fed to a server
 * engine and to a client running a session; everything either engine then
 * has to send is pulled and decoded again. The whole input is also decoded
 * as one bare message. Crashes, leaks and sanitizer reports are bugs;
 * refused input is expected.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/bitswap.h"
#include "cpc/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_BLOCKS 8

static uint8_t block_data[N_BLOCKS][64];
static cpc_cid block_cid[N_BLOCKS];
static int ready;

static void setup(void) {
  if (ready)
    return;
  for (int i = 0; i < N_BLOCKS; i++) {
    memset(block_data[i], 'a' + i, sizeof block_data[i]);
    (void)cpc_cid_compute(CPC_CODEC_RAW,
                          i % 2 ? CPC_MH_BLAKE3 : CPC_MH_SHA2_256,
                          block_data[i], sizeof block_data[i], &block_cid[i]);
  }
  ready = 1;
}

/* The source has the even blocks. */
static int src_has(void *ud, const cpc_cid *cid, size_t *size) {
  (void)ud;
  for (int i = 0; i < N_BLOCKS; i += 2)
    if (cpc_cid_equal(cid, &block_cid[i])) {
      *size = sizeof block_data[i];
      return 0;
    }
  return CPC_ENOENT;
}

static int src_get(void *ud, const cpc_cid *cid, uint8_t **out, size_t *len) {
  size_t n;
  if (src_has(ud, cid, &n) != 0)
    return CPC_ENOENT;
  for (int i = 0; i < N_BLOCKS; i += 2)
    if (cpc_cid_equal(cid, &block_cid[i])) {
      *out = malloc(n);
      if (!*out)
        return CPC_ENOMEM;
      memcpy(*out, block_data[i], n);
      *len = n;
    }
  return 0;
}

static void on_done(void *ud, cpc_bitswap_session *s, void *sud, int rc) {
  (void)ud;
  (void)sud;
  (void)rc;
  cpc_bitswap_session **slot = ud;
  if (*slot == s) {
    cpc_bitswap_session_free(s);
    *slot = NULL;
  }
}

/* Decode a framed message an engine produced; it must be well formed. */
static void check_framed(const uint8_t *out, size_t len) {
  cpc_bitswap_reader r;
  size_t used;
  const uint8_t *msg;
  size_t mlen;
  cpc_bitswap_reader_init(&r);
  if (cpc_bitswap_reader_feed(&r, out, len, &used, &msg, &mlen) != 0 || !msg ||
      used != len)
    abort();
  cpc_bitswap_message m;
  if (cpc_bitswap_message_decode(msg, mlen, &m) != 0)
    abort();
  cpc_bitswap_message_free(&m);
  cpc_bitswap_reader_free(&r);
}

static void drain(cpc_bitswap_server *srv, cpc_bitswap_client *cl,
                  const cpc_peer_id *peer) {
  uint8_t *out;
  size_t len;
  for (int i = 0; i < 16 && cpc_bitswap_server_pull(srv, peer, &out, &len) == 0;
       i++) {
    check_framed(out, len);
    free(out);
  }
  for (int i = 0; i < 16 && cpc_bitswap_client_pull(cl, peer, &out, &len) == 0;
       i++) {
    check_framed(out, len);
    free(out);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const enum cpc_bitswap_version vs[3] = {
      CPC_BITSWAP_1_0_0, CPC_BITSWAP_1_1_0, CPC_BITSWAP_1_2_0};
  cpc_bitswap_message m;
  setup();
  if (cpc_bitswap_message_decode(data, size, &m) == 0)
    cpc_bitswap_message_free(&m);
  if (size < 1)
    return 0;
  enum cpc_bitswap_version v = vs[data[0] % 3];
  size_t chunk = 1 + (data[0] >> 2) * 37;
  data++;
  size--;

  cpc_bitswap_source src = {src_has, src_get, NULL};
  cpc_bitswap_server *srv = NULL;
  cpc_bitswap_client *cl = NULL;
  cpc_bitswap_session *sess = NULL;
  cpc_bitswap_client_callbacks cb = {NULL, on_done, NULL};
  cpc_bitswap_server_config scfg;
  cpc_bitswap_server_config_default(&scfg);
  scfg.max_wants_per_peer = 64;
  cpc_peer_id peer;
  memset(&peer, 0, sizeof peer);
  peer.len = 34;
  peer.bytes[0] = 0x12;
  peer.bytes[1] = 0x20;
  if (cpc_bitswap_server_new(&srv, &scfg, &src) != 0 ||
      cpc_bitswap_client_new(&cl, NULL, &cb, &sess) != 0 ||
      cpc_bitswap_client_peer_add(cl, &peer, v) != 0 ||
      cpc_bitswap_session_new(cl, block_cid, N_BLOCKS, NULL, 0, NULL, &sess) !=
          0)
    goto out;
  drain(srv, cl, &peer);

  cpc_bitswap_reader r;
  cpc_bitswap_reader_init(&r);
  uint64_t now = 0;
  for (size_t off = 0; off < size;) {
    size_t n = size - off < chunk ? size - off : chunk, used;
    const uint8_t *msg;
    size_t mlen;
    if (cpc_bitswap_reader_feed(&r, data + off, n, &used, &msg, &mlen) != 0)
      break;
    off += used;
    if (!msg)
      continue;
    if (cpc_bitswap_message_decode(msg, mlen, &m) != 0)
      continue;
    (void)cpc_bitswap_server_receive(srv, &peer, v, &m);
    (void)cpc_bitswap_client_receive(cl, &peer, &m);
    cpc_bitswap_message_free(&m);
    drain(srv, cl, &peer);
    now += 3000;
    cpc_bitswap_client_tick(cl, now);
    drain(srv, cl, &peer);
  }
  cpc_bitswap_reader_free(&r);
  cpc_bitswap_server_peer_gone(srv, &peer);
  cpc_bitswap_client_peer_gone(cl, &peer);
out:
  cpc_bitswap_session_free(sess);
  cpc_bitswap_client_free(cl);
  cpc_bitswap_server_free(srv);
  return 0;
}
