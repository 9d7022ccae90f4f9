/*
 * fuzz_kad.c: Kademlia DHT messages from a hostile peer. The input is a
 * sequence of length-prefixed frames; each is decoded (and a decoded
 * message must re-encode and decode to the same shape), handled as an
 * inbound request by a server node, and fed as the answer to one of the
 * node's outstanding lookup requests (find-providers, get-value, find-peer
 * running at once). Any crash, leak or sanitizer report is a bug.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/kad.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REQS 256

static uint64_t reqs[MAX_REQS];
static size_t n_reqs;

static int fz_send(void *ctx, uint64_t req_id, const cpc_kad_peer *to,
                   const uint8_t *framed, size_t len, int expect) {
  (void)ctx;
  (void)to;
  (void)framed;
  (void)len;
  if (expect && n_reqs < MAX_REQS)
    reqs[n_reqs++] = req_id;
  return 0;
}

static void make_peer(uint8_t i, cpc_kad_peer *p) {
  uint8_t seed[32];
  cpc_privkey k;
  cpc_peer_id id;
  cpc_multiaddr ma;
  uint8_t ip[4] = {10, 0, 0, i};

  memset(seed, i, sizeof seed);
  if (cpc_privkey_from_raw(CPC_KEY_ED25519, seed, 32, &k) != 0 ||
      cpc_peer_id_from_pubkey(&k.pub, &id) != 0 ||
      cpc_multiaddr_from_ip(&ma, ip, 4, CPC_MA_TCP, 4001) != 0)
    abort();
  cpc_privkey_wipe(&k);
  memset(p, 0, sizeof *p);
  if (cpc_kad_peer_set(p, &id, &ma, 1) != 0)
    abort();
}

static void check_roundtrip(const cpc_kad_message *m) {
  cpc_kad_message back;
  uint8_t *out;
  size_t len, mlen, used;
  const uint8_t *msg;
  int rc = cpc_kad_message_encode(m, &out, &len);

  if (rc == CPC_ETOOBIG)
    return; /* decode cuts lists; a message can still be near the cap */
  if (rc != 0 || cpc_kad_frame_parse(out, len, 0, &msg, &mlen, &used) != 0 ||
      used != len || cpc_kad_message_decode(msg, mlen, &back) != 0)
    abort();
  if (back.type != m->type || back.key_len != m->key_len ||
      back.n_closer != m->n_closer || back.n_providers != m->n_providers ||
      back.has_record != m->has_record ||
      back.rec_value_len != m->rec_value_len)
    abort();
  cpc_kad_message_clear(&back);
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint8_t mh[34] = {0x12, 0x20, 1, 2, 3};
  cpc_kad_transport t = {fz_send, NULL, NULL};
  cpc_kad_peer peers[4], sender;
  cpc_kad *d;
  uint64_t now = 1700000000000ull;
  size_t off = 0, next_req = 0;

  n_reqs = 0;
  make_peer(0, &sender);
  if (cpc_kad_new(&sender.id, NULL, &t, now, &d) != 0)
    abort();
  cpc_kad_peer_clear(&sender);
  for (uint8_t i = 0; i < 4; i++) {
    make_peer((uint8_t)(i + 1), &peers[i]);
    (void)cpc_kad_add_peer(d, &peers[i], now);
  }
  (void)cpc_kad_find_providers(d, mh, sizeof mh, 3, now, NULL, NULL, NULL);
  (void)cpc_kad_get_value(d, (const uint8_t *)"/pk/x", 5, 0, now, NULL, NULL,
                          NULL);
  (void)cpc_kad_find_peer(d, &peers[3].id, now, NULL, NULL, NULL);

  while (off < size) {
    const uint8_t *msg;
    size_t mlen, used;
    cpc_kad_message m;
    uint8_t *resp;
    size_t rlen;

    if (cpc_kad_frame_parse(data + off, size - off, 65536, &msg, &mlen,
                            &used) != 0)
      break;
    off += used;
    if (cpc_kad_message_decode(msg, mlen, &m) == 0) {
      check_roundtrip(&m);
      cpc_kad_message_clear(&m);
    }
    if (cpc_kad_handle_request(d, &peers[mlen % 4].id, msg, mlen, now, &resp,
                               &rlen) == 0)
      free(resp);
    if (next_req < n_reqs)
      (void)cpc_kad_on_response(d, reqs[next_req++], msg, mlen, now);
    now += 1000;
  }
  (void)cpc_kad_tick(d, now + 60000);
  for (uint8_t i = 0; i < 4; i++)
    cpc_kad_peer_clear(&peers[i]);
  cpc_kad_free(d);
  return 0;
}
