/*
 * node_peers.c: N Bitswap peers in one process for bench/node.sh: each is
 * its own libp2p host (its own Ed25519 identity, so the node sees N
 * peers) with a Bitswap service without a store, and each fetches every
 * CID of CIDS_FILE from MULTIADDR at once. Prints "done N peers, B bytes,
 * S s" when all have finished, or a message and exit 1 on any failure.
 * usage: node_peers MULTIADDR CIDS_FILE N
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "cpc/error.h"
#include "cpc/exchange.h"
#include "cpc/net.h"

#define MAX_CIDS 4096

typedef struct peer {
  cpc_net *net;
  cpc_exchange *ex;
  cpc_exchange_fetch *f;
  int done;
} peer;

static uv_loop_t loop;
static peer *peers;
static size_t n_peers, finished, failures;
static uint64_t bytes;

static void on_block(void *ud, const cpc_cid *cid, const uint8_t *d, size_t l) {
  (void)ud;
  (void)cid;
  (void)d;
  bytes += l;
}

static void closed(void *ud) { (void)ud; }

static void on_done(void *ud, int rc) {
  peer *p = ud;
  size_t i;
  p->done = 1;
  if (rc != 0) {
    fprintf(stderr, "node_peers: a fetch failed: %s\n", cpc_strerror(rc));
    failures++;
  }
  if (++finished < n_peers)
    return;
  for (i = 0; i < n_peers; i++) {
    cpc_exchange_fetch_free(peers[i].f);
    peers[i].f = NULL;
    cpc_exchange_close(peers[i].ex, NULL, NULL);
    cpc_net_close(peers[i].net, closed, NULL);
  }
}

static void conn_closed(cpc_net *net, cpc_net_conn *c, int reason, void *ud) {
  peer *p = ud;
  (void)net;
  (void)reason;
  cpc_exchange_conn_closed(p->ex, c);
}

int main(int argc, char **argv) {
  static const cpc_net_events ev = {.on_conn_close = conn_closed};
  static const cpc_exchange_fetch_callbacks cb = {on_block, on_done};
  cpc_cid *cids = calloc(MAX_CIDS, sizeof *cids);
  cpc_multiaddr target;
  char line[512];
  size_t n_cids = 0, i;
  uint64_t t0;
  FILE *f;
  if (argc != 4 || !cids) {
    fprintf(stderr, "usage: node_peers MULTIADDR CIDS_FILE N\n");
    return 2;
  }
  n_peers = (size_t)strtoul(argv[3], NULL, 10);
  if (cpc_multiaddr_parse(&target, argv[1], strlen(argv[1])) != 0 ||
      !(f = fopen(argv[2], "r")) || n_peers == 0 || n_peers > 1000) {
    fprintf(stderr, "node_peers: bad arguments\n");
    return 2;
  }
  while (n_cids < MAX_CIDS && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    if (line[0] && cpc_cid_parse(line, &cids[n_cids]) == 0)
      n_cids++;
  }
  fclose(f);
  signal(SIGPIPE, SIG_IGN);
  uv_loop_init(&loop);
  peers = calloc(n_peers, sizeof *peers);
  for (i = 0; i < n_peers; i++) {
    cpc_net_builder *b;
    cpc_net_builder_new(&loop, &b);
    cpc_net_builder_with_tcp(b);
    cpc_net_builder_events(b, &ev, &peers[i]);
    if (cpc_net_builder_build(b, &peers[i].net) != 0 ||
        cpc_exchange_new(&loop, peers[i].net, NULL, NULL, &peers[i].ex) != 0) {
      fprintf(stderr, "node_peers: cannot start peer %zu\n", i);
      return 1;
    }
    cpc_net_builder_free(b);
  }
  t0 = uv_hrtime();
  for (i = 0; i < n_peers; i++)
    if (cpc_exchange_fetch_start(peers[i].ex, cids, n_cids, &target, 1, NULL,
                                 0, &cb, &peers[i], &peers[i].f) != 0) {
      fprintf(stderr, "node_peers: cannot start fetch %zu\n", i);
      return 1;
    }
  printf("fetching %zu blocks with %zu peers\n", n_cids, n_peers);
  fflush(stdout);
  uv_run(&loop, UV_RUN_DEFAULT);
  printf("done %zu peers, %llu bytes, %.2f s\n", n_peers,
         (unsigned long long)bytes, (double)(uv_hrtime() - t0) / 1e9);
  free(peers);
  free(cids);
  return failures ? 1 : 0;
}
