/*
 * cmd_dht.c: `cpc dht`: announce and find content providers and peers on
 * the Kademlia DHT (/ipfs/kad/1.0.0), joining it through bootstrap peers.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <uv.h>

#include "commands.h"
#include "cpc/cid.h"
#include "cpc/dht.h"
#include "cpc/error.h"
#include "cpc/key_file.h"
#include "cpc/keys.h"
#include "cpc/multihash.h"
#include "cpc/net.h"
#include "cpc/peer_id.h"
#include "input.h"

#define CMD "dht"
/* How long `provide` waits for its announcements to leave. */
#define FLUSH_MS 5000

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: cpc dht provide CID --bootstrap MULTIADDR... [--key FILE]\n"
      "                   [--listen MULTIADDR] [--stay] [OPTIONS]\n"
      "       cpc dht find-providers CID --bootstrap MULTIADDR... [--count N]\n"
      "                   [OPTIONS]\n"
      "       cpc dht find-peer PEERID --bootstrap MULTIADDR... [OPTIONS]\n"
      "\n"
      "The Kademlia DHT (/ipfs/kad/1.0.0, as Kubo, Helia and js-libp2p run\n"
      "it), joined through the --bootstrap peers (repeat --bootstrap, or list\n"
      "several addresses after it; each /ip4|ip6/A/tcp/P/p2p/<PeerId>).\n"
      "  provide         announce this peer as a provider of CID to the peers\n"
      "                  closest to it; prints our addresses (.../p2p/<id>)\n"
      "                  one per line, and how many peers took the record on\n"
      "                  stderr. Others fetch the content from the addresses\n"
      "                  in the record, so a provider must stay reachable:\n"
      "                  --stay keeps serving (DHT server, re-announcing "
      "every\n"
      "                  22 h) until SIGINT or SIGTERM; without it the\n"
      "                  command exits once the announcement is sent (use\n"
      "                  --key with the identity of the peer that will serve\n"
      "                  the content, and --listen with its address).\n"
      "                  --listen MULTIADDR (default /ip4/0.0.0.0/tcp/0)\n"
      "  find-providers  print each provider found, one per line: its PeerId,\n"
      "                  then its addresses (.../p2p/<id>) separated by\n"
      "                  spaces; the lookup's hops and requests on stderr.\n"
      "                  Stops after N providers (default 20). Exit status 1\n"
      "                  when none is found\n"
      "  find-peer       print the addresses of PEERID (.../p2p/<id>), one "
      "per\n"
      "                  line; exit status 1 when it is not found\n"
      "OPTIONS: --key FILE (a libp2p PrivateKey protobuf, cpc key new;\n"
      "  default: a fresh Ed25519 key), --timeout MS (the whole command but\n"
      "  --stay; default 60000)\n"
      "CID: any CIDv0/CIDv1 text; the DHT key is its multihash (js-libp2p\n"
      "  peers only take sha2-256 ones).\n");
}

enum sub { SUB_PROVIDE, SUB_FIND_PROVIDERS, SUB_FIND_PEER };

struct opts {
  enum sub sub;
  const char *target; /* CID or PeerId text */
  const char *key_file, *listen;
  const char *bootstrap[CPC_NET_MAX_BOOTSTRAP];
  size_t n_bootstrap;
  uint64_t timeout_ms, count;
  int stay;
};

static int parse_u64(const char *s, uint64_t *v) {
  char *end;
  unsigned long long x;
  errno = 0;
  x = strtoull(s, &end, 10);
  if (errno || end == s || *end || s[0] == '-')
    return -1;
  *v = x;
  return 0;
}

/* argv[0] is the subcommand. -1: help printed; 2: usage error; 0. */
static int parse(int argc, char **argv, struct opts *o) {
  memset(o, 0, sizeof *o);
  o->timeout_ms = 60000;
  o->count = CPC_KAD_K;
  if (strcmp(argv[0], "provide") == 0)
    o->sub = SUB_PROVIDE;
  else if (strcmp(argv[0], "find-providers") == 0)
    o->sub = SUB_FIND_PROVIDERS;
  else if (strcmp(argv[0], "find-peer") == 0)
    o->sub = SUB_FIND_PEER;
  else {
    fprintf(stderr, "cpc dht: unknown subcommand '%s'\n", argv[0]);
    usage(stderr);
    return 2;
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int more = i + 1 < argc;
    if (cpc_is_help(a)) {
      usage(stdout);
      return -1;
    } else if (strcmp(a, "--bootstrap") == 0 && more) {
      /* one or more addresses */
      do {
        if (o->n_bootstrap >= CPC_NET_MAX_BOOTSTRAP)
          goto bad_value;
        o->bootstrap[o->n_bootstrap++] = argv[++i];
      } while (i + 1 < argc && argv[i + 1][0] == '/');
    } else if (strcmp(a, "--key") == 0 && more) {
      o->key_file = argv[++i];
    } else if (strcmp(a, "--listen") == 0 && more && o->sub == SUB_PROVIDE) {
      o->listen = argv[++i];
    } else if (strcmp(a, "--stay") == 0 && o->sub == SUB_PROVIDE) {
      o->stay = 1;
    } else if (strcmp(a, "--count") == 0 && more &&
               o->sub == SUB_FIND_PROVIDERS) {
      if (parse_u64(argv[++i], &o->count) || o->count == 0 ||
          o->count > CPC_KAD_MAX_PEERS)
        goto bad_value;
    } else if (strcmp(a, "--timeout") == 0 && more) {
      if (parse_u64(argv[++i], &o->timeout_ms) || o->timeout_ms == 0)
        goto bad_value;
    } else if (a[0] != '-' && !o->target) {
      o->target = a;
    } else {
      fprintf(stderr, "cpc dht %s: unexpected argument '%s'\n", argv[0], a);
      usage(stderr);
      return 2;
    }
    continue;
  bad_value:
    fprintf(stderr, "cpc dht: bad value '%s' for %s\n", argv[i], a);
    return 2;
  }
  if (!o->target) {
    fprintf(stderr, "cpc dht %s: give the %s to look for\n", argv[0],
            o->sub == SUB_FIND_PEER ? "PEERID" : "CID");
    return 2;
  }
  if (o->n_bootstrap == 0) {
    fprintf(stderr,
            "cpc dht %s: give at least one --bootstrap MULTIADDR (a DHT "
            "peer, e.g. one started with `cpc net listen`)\n",
            argv[0]);
    return 2;
  }
  return 0;
}

/* --- the run ---------------------------------------------------------------
 */

struct app {
  uv_loop_t loop;
  cpc_net *net;
  cpc_dht *dht;
  struct opts o;
  uint8_t mh[CPC_MH_MAX_LEN]; /* provide, find-providers */
  size_t mh_len;
  cpc_peer_id peer; /* find-peer */
  int status, done, signals, timer_open;
  uv_timer_t timer; /* the command's deadline, then the flush poll */
  uv_signal_t sigint, sigterm;
  uint64_t flush_until;
};

static void net_closed(void *ud) {
  (void)ud;
}

static void finish(struct app *a, int status) {
  if (a->done)
    return;
  a->done = 1;
  a->status = status;
  if (a->signals) {
    uv_close((uv_handle_t *)&a->sigint, NULL);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    a->signals = 0;
  }
  if (a->timer_open) {
    uv_close((uv_handle_t *)&a->timer, NULL);
    a->timer_open = 0;
  }
  cpc_net_close(a->net, net_closed, NULL);
}

static void on_deadline(uv_timer_t *t) {
  struct app *a = t->data;
  fprintf(stderr,
          "cpc dht: no result after %llu ms; check the --bootstrap peers "
          "or give a longer --timeout\n",
          (unsigned long long)a->o.timeout_ms);
  finish(a, 1);
}

/* SIGINT / SIGTERM: the end of `provide --stay` (status 0 once the
 * announcement went out), else an interrupted command (status 1). */
static void on_signal(uv_signal_t *h, int signum) {
  struct app *a = h->data;
  (void)signum;
  finish(a, a->status);
}

static void print_stats(const char *what, const cpc_kad_result *res) {
  fprintf(stderr,
          "%s: %u hops, %zu requests (%zu answered, %zu failed), %llu ms\n",
          what, res->stats.hops, res->stats.queried, res->stats.succeeded,
          res->stats.failed,
          (unsigned long long)(res->stats.finished_ms - res->stats.started_ms));
}

/* Print before, <addr>/p2p/<id>, after for each address of p. */
static void print_addrs(const cpc_kad_peer *p, const char *before,
                        const char *after) {
  for (size_t i = 0; i < p->n_addrs; i++) {
    cpc_multiaddr ma;
    char text[CPC_MULTIADDR_MAX_TEXT];
    if (cpc_kad_peer_addr(p, i, &ma) != 0)
      continue;
    cpc_multiaddr_strip_p2p(&ma);
    if (cpc_multiaddr_append_p2p(&ma, p->id.bytes, p->id.len) != 0 ||
        cpc_multiaddr_format(&ma, text, sizeof text, NULL) != 0)
      continue;
    printf("%s%s%s", before, text, after);
  }
}

/* provide: wait (bounded) for the ADD_PROVIDER streams to leave. */
static void flush_poll(uv_timer_t *t) {
  struct app *a = t->data;
  if (cpc_dht_requests_in_flight(a->dht) == 0 ||
      uv_now(&a->loop) >= a->flush_until)
    finish(a, a->status);
}

static void on_provided(void *arg, const cpc_kad_result *res) {
  struct app *a = arg;
  print_stats("provide", res);
  if (res->stored == 0) {
    fprintf(stderr, "cpc dht: no DHT peer took the provider record (%s)\n",
            cpc_strerror(res->rc ? res->rc : CPC_ENOSPC));
    finish(a, 1);
    return;
  }
  fprintf(stderr, "provide: announced %s to %zu peers\n", a->o.target,
          res->stored);
  if (a->o.stay) {
    a->status = 0;
    uv_timer_stop(&a->timer); /* serve until a signal */
    return;
  }
  a->status = 0;
  a->flush_until = uv_now(&a->loop) + FLUSH_MS;
  uv_timer_start(&a->timer, flush_poll, 0, 20);
}

static void on_providers(void *arg, const cpc_kad_result *res) {
  struct app *a = arg;
  for (size_t i = 0; i < res->n_providers; i++) {
    char id[CPC_PEER_ID_MAX_TEXT];
    if (cpc_peer_id_format(&res->providers[i].id, id, sizeof id) != 0)
      continue;
    printf("%s", id);
    print_addrs(&res->providers[i], " ", "");
    printf("\n");
  }
  fflush(stdout);
  print_stats("find-providers", res);
  if (res->n_providers == 0)
    fprintf(stderr, "cpc dht: no provider of %s found\n", a->o.target);
  finish(a, res->n_providers > 0 ? 0 : 1);
}

static void on_peer(void *arg, const cpc_kad_result *res) {
  struct app *a = arg;
  int ok = res->found && res->found->n_addrs > 0;
  if (ok) {
    print_addrs(res->found, "", "\n");
    fflush(stdout);
  }
  print_stats("find-peer", res);
  if (!ok)
    fprintf(stderr, "cpc dht: peer %s not found%s\n", a->o.target,
            res->found ? " (no addresses known)" : "");
  finish(a, ok ? 0 : 1);
}

static void start(cpc_dht *d, int rc, void *ud) {
  struct app *a = ud;
  cpc_kad *kad = cpc_dht_kad(d);
  uint64_t now = cpc_dht_now_ms();
  if (rc != 0) {
    fprintf(stderr,
            "cpc dht: no --bootstrap peer answered; check that they run "
            "(e.g. `cpc net listen`) and the addresses end in their "
            "/p2p/<PeerId>\n");
    finish(a, 1);
    return;
  }
  switch (a->o.sub) {
  case SUB_PROVIDE:
    rc = cpc_kad_provide(kad, a->mh, a->mh_len, now, on_provided, a, NULL);
    break;
  case SUB_FIND_PROVIDERS:
    rc = cpc_kad_find_providers(kad, a->mh, a->mh_len, (size_t)a->o.count, now,
                                on_providers, a, NULL);
    break;
  case SUB_FIND_PEER:
    rc = cpc_kad_find_peer(kad, &a->peer, now, on_peer, a, NULL);
    break;
  }
  if (rc != 0 && !a->done) {
    fprintf(stderr, "cpc dht: cannot start the lookup: %s\n", cpc_strerror(rc));
    finish(a, 1);
  }
}

static int load_key(const char *path, cpc_privkey *k) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc;
  if (cpc_app_read_key_file(CMD, path, CPC_KEY_PROTO_PARSE_MAX,
                            "create one with `cpc key new`", &buf, &len) != 0)
    return 1;
  rc = cpc_privkey_decode(buf, len, k);
  cpc_secret_free(buf, len);
  if (rc != 0)
    return cpc_fail(CMD, "%s: not a usable libp2p private key (%s)", path,
                    cpc_strerror(rc));
  return 0;
}

/* The target: a CID's multihash, or a PeerId. 0 or 2 after reporting. */
static int parse_target(struct app *a) {
  if (a->o.sub == SUB_FIND_PEER) {
    if (cpc_peer_id_parse(a->o.target, &a->peer) != 0) {
      fprintf(stderr, "cpc dht find-peer: '%s' is not a PeerId\n", a->o.target);
      return 2;
    }
    return 0;
  }
  {
    cpc_cid cid;
    if (cpc_cid_parse(a->o.target, &cid) != 0 ||
        cpc_multihash_encode(&cid.mh, a->mh, sizeof a->mh, &a->mh_len) != 0) {
      fprintf(stderr, "cpc dht: '%s' is not a CID\n", a->o.target);
      return 2;
    }
  }
  return 0;
}

/* Build the host with the DHT (client unless provide --stay). */
static int build(struct app *a) {
  cpc_net_builder *b = NULL;
  cpc_multiaddr seeds[CPC_NET_MAX_BOOTSTRAP], ma;
  cpc_privkey k;
  int rc = 1, server = a->o.sub == SUB_PROVIDE && a->o.stay;
  const char *listen = a->o.listen ? a->o.listen : "/ip4/0.0.0.0/tcp/0";

  for (size_t i = 0; i < a->o.n_bootstrap; i++)
    if (cpc_multiaddr_parse(&seeds[i], a->o.bootstrap[i],
                            strlen(a->o.bootstrap[i])) != 0) {
      fprintf(stderr, "cpc dht: --bootstrap '%s' is not a multiaddr\n",
              a->o.bootstrap[i]);
      return 2;
    }
  if (cpc_net_builder_new(&a->loop, &b) != 0)
    return cpc_fail(CMD, "out of memory");
  cpc_net_builder_with_tcp(b);
  if (a->o.key_file) {
    if (load_key(a->o.key_file, &k) != 0)
      goto out;
    rc = cpc_net_builder_identity(b, &k);
    cpc_privkey_wipe(&k);
    if (rc != 0) {
      rc = cpc_fail(CMD, "%s: %s", a->o.key_file, cpc_net_builder_error(b));
      goto out;
    }
  }
  if (cpc_net_builder_with_kademlia(
          b, server ? CPC_NET_KAD_SERVER : CPC_NET_KAD_CLIENT, seeds,
          a->o.n_bootstrap) != 0) {
    fprintf(stderr, "cpc dht: --bootstrap: %s\n", cpc_net_builder_error(b));
    rc = 2;
    goto out;
  }
  if (a->o.sub == SUB_PROVIDE &&
      (cpc_multiaddr_parse(&ma, listen, strlen(listen)) != 0 ||
       cpc_net_builder_listen(b, &ma) != 0)) {
    fprintf(stderr,
            "cpc dht: cannot listen on '%s': give /ip4/A/tcp/P or "
            "/ip6/A/tcp/P\n",
            listen);
    rc = 2;
    goto out;
  }
  if ((rc = cpc_net_builder_build(b, &a->net)) != 0) {
    rc = cpc_fail(CMD, "%s",
                  cpc_net_builder_error(b) ? cpc_net_builder_error(b)
                                           : cpc_strerror(rc));
    goto out;
  }
  a->dht = cpc_net_dht(a->net);
  rc = 0;
out:
  cpc_net_builder_free(b);
  return rc;
}

static int run(struct app *a) {
  int rc;
  if ((rc = parse_target(a)) != 0)
    return rc;
  signal(SIGPIPE, SIG_IGN);
  if (uv_loop_init(&a->loop) != 0)
    return cpc_fail(CMD, "cannot start the event loop");
  if ((rc = build(a)) != 0) {
    uv_run(&a->loop, UV_RUN_DEFAULT);
    uv_loop_close(&a->loop);
    return rc;
  }
  if (a->o.sub == SUB_PROVIDE) {
    cpc_multiaddr addrs[16];
    size_t n = 0;
    (void)cpc_net_listen_addrs(a->net, addrs, 16, &n);
    for (size_t i = 0; i < n && i < 16; i++) {
      char text[CPC_MULTIADDR_MAX_TEXT];
      if (cpc_multiaddr_format(&addrs[i], text, sizeof text, NULL) == 0)
        printf("%s\n", text);
    }
    fflush(stdout);
  }
  uv_timer_init(&a->loop, &a->timer);
  a->timer.data = a;
  a->timer_open = 1;
  uv_timer_start(&a->timer, on_deadline, a->o.timeout_ms, 0);
  uv_signal_init(&a->loop, &a->sigint);
  uv_signal_init(&a->loop, &a->sigterm);
  a->sigint.data = a->sigterm.data = a;
  uv_signal_start(&a->sigint, on_signal, SIGINT);
  uv_signal_start(&a->sigterm, on_signal, SIGTERM);
  a->signals = 1;
  a->status = 1;
  (void)cpc_dht_on_joined(a->dht, start, a);
  uv_run(&a->loop, UV_RUN_DEFAULT);
  uv_loop_close(&a->loop);
  return a->status;
}

int cpc_cmd_dht(int argc, char **argv) {
  struct app *a;
  int rc;
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (cpc_is_help(argv[1])) {
    usage(stdout);
    return 0;
  }
  if (sodium_init() < 0)
    return cpc_fail(CMD, "libsodium failed to start");
  a = calloc(1, sizeof *a);
  if (!a)
    return cpc_fail(CMD, "out of memory");
  rc = parse(argc - 1, argv + 1, &a->o);
  if (rc == 0)
    rc = run(a);
  else if (rc < 0)
    rc = 0;
  free(a);
  return rc;
}
