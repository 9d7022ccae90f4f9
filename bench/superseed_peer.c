/*
 * superseed_peer.c: one peer of bench/superseed.sh: a libp2p host on
 * 127.0.0.1 with the DHT (server mode) and a Bitswap exchange over an LMDB
 * block store, super-seeding on (the exchange's default) or off (--plain).
 *
 *   superseed_peer seed STORE [--plain]
 *     serves STORE; prints its multiaddr (/p2p/ included) on the first
 *     line; on SIGTERM or SIGINT prints "egress BYTES HOLDS RELEASED"
 *     (its Bitswap bytes out, want-blocks held, holds that ran out) and
 *     exits.
 *   superseed_peer fetch STORE SEED_MULTIADDR CIDS_FILE [--plain]
 *     joins the DHT through the seed, fetches every CID of CIDS_FILE (one
 *     per line) from the seed (and, super-seeding on, from the other
 *     fetchers it finds), prints "done MS SWARM" (fetch time, providers
 *     taken in by swarming) or "failed RC", then keeps serving until
 *     SIGTERM or SIGINT, when it prints "egress BYTES" and exits.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "cpc/dht.h"
#include "cpc/error.h"
#include "cpc/exchange.h"

struct peer {
  uv_loop_t loop;
  uv_signal_t sigterm, sigint;
  cpc_net *net;
  cpc_exchange *ex;
  cpc_blockstore *bs;
  cpc_exchange_fetch *f;
  cpc_cid *cids;
  size_t n_cids;
  cpc_multiaddr seed;
  uint64_t t0;
};

static void on_conn_close(cpc_net *net, cpc_net_conn *c, int reason,
                          void *ud) {
  struct peer *p = ud;
  (void)net;
  (void)reason;
  cpc_exchange_conn_closed(p->ex, c);
}

static void on_signal(uv_signal_t *s, int signum) {
  struct peer *p = s->data;
  cpc_exchange_stats st;
  (void)signum;
  cpc_exchange_stats_get(p->ex, &st);
  printf("egress %llu %llu %llu\n", (unsigned long long)st.bytes_out,
         (unsigned long long)st.holds, (unsigned long long)st.hold_released);
  fflush(stdout);
  if (p->f)
    cpc_exchange_fetch_free(p->f);
  p->f = NULL;
  cpc_exchange_close(p->ex, NULL, NULL);
  cpc_net_close(p->net, NULL, NULL);
  uv_close((uv_handle_t *)&p->sigterm, NULL);
  uv_close((uv_handle_t *)&p->sigint, NULL);
}

static void on_done(void *ud, int rc) {
  struct peer *p = ud;
  cpc_exchange_fetch_stats fs;
  cpc_exchange_fetch_stats_get(p->f, &fs);
  for (size_t i = 0; rc == 0 && i < p->n_cids; i++) {
    size_t sz; /* every block in the store (verified when it arrived) */
    if (cpc_blockstore_size(p->bs, &p->cids[i], &sz) != 0)
      rc = CPC_ENOENT;
  }
  if (rc == 0)
    printf("done %llu %zu\n",
           (unsigned long long)(uv_now(&p->loop) - p->t0), fs.swarm);
  else
    printf("failed %s (%zu of %zu blocks)\n", cpc_strerror(rc), fs.received,
           fs.wants);
  fflush(stdout);
}

static const cpc_exchange_fetch_callbacks fetch_cb = {NULL, on_done};

static void on_joined(cpc_dht *d, int rc, void *ud) {
  struct peer *p = ud;
  int r;
  (void)d;
  (void)rc;
  p->t0 = uv_now(&p->loop);
  r = cpc_exchange_fetch_start(p->ex, p->cids, p->n_cids, &p->seed, 1, NULL, 0,
                               &fetch_cb, p, &p->f);
  if (r != 0) {
    printf("failed %s\n", cpc_strerror(r));
    fflush(stdout);
  }
}

static int read_cids(struct peer *p, const char *path) {
  char line[256];
  size_t cap = 0;
  FILE *f = fopen(path, "r");
  if (!f)
    return CPC_EIO;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = 0;
    if (!line[0])
      continue;
    if (p->n_cids == cap) {
      cpc_cid *nc;
      cap = cap ? 2 * cap : 256;
      nc = realloc(p->cids, cap * sizeof *nc);
      if (!nc) {
        fclose(f);
        return CPC_ENOMEM;
      }
      p->cids = nc;
    }
    if (cpc_cid_parse(line, &p->cids[p->n_cids]) != 0) {
      fclose(f);
      return CPC_EMALFORMED;
    }
    p->n_cids++;
  }
  fclose(f);
  return p->n_cids ? 0 : CPC_ENOENT;
}

static int usage(void) {
  fprintf(stderr, "usage: superseed_peer seed STORE [--plain]\n"
                  "       superseed_peer fetch STORE SEED_MULTIADDR "
                  "CIDS_FILE [--plain]\n");
  return 2;
}

int main(int argc, char **argv) {
  static struct peer p;
  static const cpc_net_events ev = {.on_conn_close = on_conn_close};
  const char *listen = "/ip4/127.0.0.1/tcp/0";
  cpc_exchange_config cfg;
  cpc_net_builder *b;
  cpc_multiaddr ma, out[4];
  size_t n = 0;
  int fetch, plain, rc;
  char text[CPC_MULTIADDR_MAX_TEXT];

  if (argc < 3)
    return usage();
  fetch = strcmp(argv[1], "fetch") == 0;
  if (!fetch && strcmp(argv[1], "seed") != 0)
    return usage();
  if (fetch && argc < 5)
    return usage();
  plain = strcmp(argv[argc - 1], "--plain") == 0;
  signal(SIGPIPE, SIG_IGN);
  uv_loop_init(&p.loop);
  if (fetch) {
    if (cpc_multiaddr_parse(&p.seed, argv[3], strlen(argv[3])) != 0 ||
        read_cids(&p, argv[4]) != 0) {
      fprintf(stderr, "superseed_peer: bad seed address or CIDs file\n");
      return 1;
    }
  }
  rc = cpc_blockstore_open(argv[2], CPC_BLOCKSTORE_NOSYNC, &p.bs);
  if (rc != 0) {
    fprintf(stderr, "superseed_peer: %s: %s\n", argv[2], cpc_strerror(rc));
    return 1;
  }
  if (cpc_net_builder_new(&p.loop, &b) != 0 || cpc_net_builder_with_tcp(b) ||
      cpc_multiaddr_parse(&ma, listen, strlen(listen)) ||
      cpc_net_builder_listen(b, &ma) ||
      cpc_net_builder_with_kademlia(b, CPC_NET_KAD_SERVER,
                                    fetch ? &p.seed : NULL, fetch ? 1 : 0) ||
      cpc_net_builder_events(b, &ev, &p) ||
      cpc_net_builder_build(b, &p.net) != 0) {
    fprintf(stderr, "superseed_peer: cannot start the host: %s\n",
            cpc_net_builder_error(b) ? cpc_net_builder_error(b) : "?");
    return 1;
  }
  cpc_net_builder_free(b);
  cpc_exchange_config_default(&cfg);
  cfg.superseed = !plain;
  rc = cpc_exchange_new(&p.loop, p.net, p.bs, &cfg, &p.ex);
  if (rc != 0) {
    fprintf(stderr, "superseed_peer: exchange: %s\n", cpc_strerror(rc));
    return 1;
  }
  if (cpc_net_listen_addrs(p.net, out, 4, &n) != 0 || n == 0 ||
      cpc_multiaddr_format(&out[0], text, sizeof text, NULL) != 0)
    return 1;
  if (!fetch) {
    printf("%s\n", text);
    fflush(stdout);
  } else {
    cpc_dht_on_joined(cpc_net_dht(p.net), on_joined, &p);
  }
  uv_signal_init(&p.loop, &p.sigterm);
  uv_signal_init(&p.loop, &p.sigint);
  p.sigterm.data = p.sigint.data = &p;
  uv_signal_start(&p.sigterm, on_signal, SIGTERM);
  uv_signal_start(&p.sigint, on_signal, SIGINT);
  uv_run(&p.loop, UV_RUN_DEFAULT);
  cpc_blockstore_close(p.bs);
  free(p.cids);
  uv_loop_close(&p.loop);
  return 0;
}
