/*
 * block_fetch.c: `cpc block get CID... --peer MULTIADDR`: one libp2p host
 * (fresh Ed25519 identity, not listening), a Bitswap exchange over the
 * store (or none), one fetch from the given peers, then the bytes to a
 * file or standard output.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <uv.h>

#include "block_fetch.h"
#include "commands.h"
#include "cpc/error.h"
#include "cpc/exchange.h"

#define CMD "block"

struct fetch_app {
  const struct cpc_block_fetch_args *a;
  uv_loop_t loop;
  uv_timer_t timer;
  cpc_net *net;
  cpc_exchange *ex;
  cpc_exchange_fetch *f;
  cpc_blockstore *bs;
  cpc_cid *cids;
  cpc_multiaddr *addrs;
  uint8_t *data; /* the block, when one CID is fetched */
  size_t len;
  uint64_t bytes, t0;
  int done, rc, timed_out;
  cpc_exchange_fetch_stats st;
};

static void on_conn_close(cpc_net *net, cpc_net_conn *c, int reason, void *ud) {
  struct fetch_app *app = ud;
  (void)net;
  (void)reason;
  cpc_exchange_conn_closed(app->ex, c);
}

/* Stop everything; the loop then runs dry. */
static void shutdown_all(struct fetch_app *app, int rc) {
  if (app->done)
    return;
  app->done = 1;
  app->rc = rc;
  if (app->f) {
    cpc_exchange_fetch_stats_get(app->f, &app->st);
    cpc_exchange_fetch_free(app->f);
    app->f = NULL;
  }
  uv_timer_stop(&app->timer);
  uv_close((uv_handle_t *)&app->timer, NULL);
  cpc_exchange_close(app->ex, NULL, NULL);
  app->ex = NULL;
  cpc_net_close(app->net, NULL, NULL);
}

static void on_block(void *ud, const cpc_cid *cid, const uint8_t *data,
                     size_t len) {
  struct fetch_app *app = ud;
  (void)cid;
  app->bytes += len;
  if (app->a->n_cids == 1 && !app->data) {
    app->data = malloc(len ? len : 1);
    if (app->data) {
      memcpy(app->data, data, len);
      app->len = len;
    }
  }
}

static void on_done(void *ud, int rc) {
  shutdown_all(ud, rc);
}

static void on_timeout(uv_timer_t *t) {
  struct fetch_app *app = t->data;
  app->timed_out = 1;
  shutdown_all(app, CPC_ETIMEDOUT);
}

static const char *why(int rc) {
  switch (rc) {
  case CPC_ETIMEDOUT: return "timed out";
  case CPC_EIO: return "connection refused or unreachable";
  case CPC_EMISMATCH: return "the peer is not the PeerId in the address";
  case CPC_EUNSUPPORTED: return "the peer does not speak Bitswap";
  case CPC_ECLOSED: return "the peer closed the connection";
  case CPC_EAGAIN: return "in dial backoff after failures";
  default: return cpc_strerror(rc);
  }
}

static int write_out(struct fetch_app *app) {
  const char *path = app->a->out;
  FILE *f = path ? fopen(path, "wb") : stdout;
  int status = 0;
  if (!f)
    return cpc_fail(CMD, "cannot create '%s': %s", path, strerror(errno));
  if ((app->len > 0 && fwrite(app->data, 1, app->len, f) != app->len) ||
      fflush(f) != 0)
    status = cpc_fail(CMD, "cannot write '%s': %s", path ? path : "stdout",
                      strerror(errno));
  if (f != stdout && fclose(f) != 0 && status == 0)
    status = cpc_fail(CMD, "cannot write '%s': %s", path, strerror(errno));
  return status;
}

/* The error message for a failed fetch. */
static int report(struct fetch_app *app) {
  const struct cpc_block_fetch_args *a = app->a;
  size_t missing = app->st.wants - app->st.received;
  const char *peer = a->n_peers == 1 ? "the peer" : "any peer";
  switch (app->rc) {
  case CPC_ENOENT:
    if (a->n_cids == 1)
      return cpc_fail(CMD, "%s: not found (%s answered DONT_HAVE)", a->cids[0],
                      a->n_peers == 1 ? "the peer" : "every peer");
    return cpc_fail(CMD,
                    "%zu of %zu blocks not found (the peers answered "
                    "DONT_HAVE); %zu were fetched",
                    missing, app->st.wants, app->st.received);
  case CPC_ETIMEDOUT:
    if (app->timed_out)
      return cpc_fail(CMD,
                      "timed out after %llu ms with %zu of %zu blocks "
                      "(raise --timeout?)",
                      (unsigned long long)a->timeout_ms, app->st.received,
                      app->st.wants);
    return cpc_fail(CMD,
                    "%zu of %zu blocks: %s stopped answering or left "
                    "(timed out)",
                    missing, app->st.wants,
                    a->n_peers == 1 ? "the peer" : "the peers");
  case CPC_EIO:
    return cpc_fail(CMD, "cannot reach %s: %s (%s)", peer,
                    a->n_peers == 1 ? a->peers[0]
                                    : "all --peer addresses failed",
                    why(app->st.provider_error));
  case CPC_EUNSUPPORTED:
    return cpc_fail(CMD, "%s does not speak Bitswap (/ipfs/bitswap/1.x)",
                    a->n_peers == 1 ? a->peers[0] : "no peer");
  case CPC_ENOSPC:
    return cpc_fail(CMD,
                    "the store is full (remove blocks with `cpc block rm`, "
                    "or raise the limit with `cpc block quota`)");
  default: return cpc_fail(CMD, "fetch failed: %s", cpc_strerror(app->rc));
  }
}

static int start(struct fetch_app *app) {
  static const cpc_net_events ev = {.on_conn_close = on_conn_close};
  static const cpc_exchange_fetch_callbacks cb = {on_block, on_done};
  cpc_net_builder *b = NULL;
  cpc_net_limits lim;
  int rc;
  if ((rc = cpc_net_builder_new(&app->loop, &b)) != 0)
    return cpc_fail(CMD, "%s", cpc_strerror(rc));
  cpc_net_builder_with_tcp(b);
  cpc_net_limits_default(&lim);
  if (app->a->timeout_ms < lim.dial_timeout_ms)
    lim.dial_timeout_ms = lim.handshake_timeout_ms =
        lim.stream_negotiation_timeout_ms = app->a->timeout_ms;
  cpc_net_builder_limits(b, &lim);
  cpc_net_builder_events(b, &ev, app);
  rc = cpc_net_builder_build(b, &app->net);
  cpc_net_builder_free(b);
  if (rc != 0)
    return cpc_fail(CMD, "cannot start the network: %s", cpc_strerror(rc));
  if ((rc = cpc_exchange_new(&app->loop, app->net, app->bs, NULL, &app->ex)) !=
      0) {
    cpc_net_close(app->net, NULL, NULL);
    return cpc_fail(CMD, "cannot start Bitswap: %s", cpc_strerror(rc));
  }
  uv_timer_init(&app->loop, &app->timer);
  app->timer.data = app;
  uv_timer_start(&app->timer, on_timeout, app->a->timeout_ms, 0);
  app->t0 = uv_hrtime();
  rc = cpc_exchange_fetch_start(app->ex, app->cids, (size_t)app->a->n_cids,
                                app->addrs, (size_t)app->a->n_peers, NULL, 0,
                                &cb, app, &app->f);
  if (rc != 0)
    shutdown_all(app, rc); /* reported as a failed fetch */
  return 0;
}

int cpc_block_fetch(const struct cpc_block_fetch_args *a) {
  struct fetch_app *app;
  int status = 1, rc;

  if (a->n_cids > 1 && !a->store) {
    cpc_fail(CMD, "several CIDs need --store DIR to keep the blocks (or "
                  "fetch one CID at a time)");
    return 2;
  }
  if (a->n_cids > 1 && a->out) {
    cpc_fail(CMD, "-o takes the bytes of one CID; with several, use --store");
    return 2;
  }
  if (sodium_init() < 0)
    return cpc_fail(CMD, "libsodium failed to start");
  app = calloc(1, sizeof *app);
  if (!app)
    return cpc_fail(CMD, "out of memory");
  app->a = a;
  app->cids = calloc((size_t)a->n_cids, sizeof *app->cids);
  app->addrs = calloc((size_t)a->n_peers, sizeof *app->addrs);
  if (!app->cids || !app->addrs) {
    cpc_fail(CMD, "out of memory");
    goto out;
  }
  for (int i = 0; i < a->n_cids; i++)
    if ((rc = cpc_cid_parse(a->cids[i], &app->cids[i])) != 0) {
      cpc_fail(CMD, "'%.100s' is not a valid CID: %s", a->cids[i],
               cpc_strerror(rc));
      status = 2;
      goto out;
    }
  for (int i = 0; i < a->n_peers; i++)
    if (cpc_multiaddr_parse(&app->addrs[i], a->peers[i], strlen(a->peers[i])) !=
        0) {
      cpc_fail(CMD,
               "--peer '%s' is not a multiaddr (give "
               "/ip4/A/tcp/P[/p2p/ID])",
               a->peers[i]);
      status = 2;
      goto out;
    }
  if (a->store) {
    rc = cpc_blockstore_open(a->store, CPC_BLOCKSTORE_NOSYNC, &app->bs);
    if (rc != 0) {
      cpc_fail(CMD, "cannot open the store at '%s': %s", a->store,
               cpc_strerror(rc));
      goto out;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  if (uv_loop_init(&app->loop) != 0) {
    cpc_fail(CMD, "cannot start the event loop");
    goto out;
  }
  if (start(app) == 0 || app->net) {
    uv_run(&app->loop, UV_RUN_DEFAULT);
  }
  uv_loop_close(&app->loop);
  if (!app->done)
    goto out; /* start() reported */
  if (app->rc != 0) {
    report(app);
    goto out;
  }
  if (a->n_cids == 1) {
    if (!app->data) {
      cpc_fail(CMD, "out of memory");
      goto out;
    }
    if (write_out(app) != 0)
      goto out;
  } else {
    double secs = (double)(uv_hrtime() - app->t0) / 1e9;
    fprintf(stderr,
            "cpc block get: %zu blocks (%llu bytes; %zu from the store) in "
            "%.3f s\n",
            app->st.received, (unsigned long long)app->bytes,
            app->st.from_store, secs);
  }
  status = 0;
out:
  if (app->bs) {
    if (cpc_blockstore_sync(app->bs) != 0 && status == 0)
      status = cpc_fail(CMD, "cannot sync the store at '%s'", a->store);
    cpc_blockstore_close(app->bs);
  }
  free(app->data);
  free(app->cids);
  free(app->addrs);
  free(app);
  return status;
}
