/*
 * pds.c: starting and stopping a PDS: the data directory (identity, API
 * token, catalogue, block store), the libp2p host with Bitswap and the
 * DHT, the API server and the sync thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "cpc/dht.h"
#include "cpc/error.h"
#include "cpc/key_file.h"
#include "pds/pds_int.h"

int64_t cpc__pds_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int mkdirs(const char *path) {
  char buf[CPC_PDS_MAX_PATH];
  size_t i, n = strlen(path);
  if (n == 0 || n >= sizeof buf)
    return CPC_EINVAL;
  memcpy(buf, path, n + 1);
  for (i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != '\0')
      continue;
    buf[i] = '\0';
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
      return CPC_EIO;
    buf[i] = path[i];
  }
  return 0;
}

static int load_identity(cpc_pds *p, char *err, size_t cap) {
  char path[CPC_PDS_MAX_PATH + 16];
  int rc;
  snprintf(path, sizeof path, "%s/identity", p->cfg.data_dir);
  rc = cpc_user_identity_load(path, &p->id);
  if (rc == CPC_ENOENT) {
    rc = cpc_user_identity_generate(&p->id);
    if (rc == 0)
      rc = cpc_user_identity_save(&p->id, path, 0);
    if (rc != 0)
      snprintf(err, cap, "cannot create the identity %s: %s", path,
               cpc_strerror(rc));
  } else if (rc == CPC_EPERM) {
    snprintf(err, cap,
             "%s may be read by other users: run chmod 600 on it, then start "
             "again",
             path);
  } else if (rc != 0) {
    snprintf(err, cap, "cannot load the identity %s: %s", path,
             cpc_strerror(rc));
  }
  if (rc == 0)
    cpc_peer_id_format(&p->id.peer_id, p->peer_id, sizeof p->peer_id);
  return rc;
}

static int load_token(cpc_pds *p, char *err, size_t cap) {
  char path[CPC_PDS_MAX_PATH + 16];
  uint8_t *data = NULL, raw[CPC_PDS_TOKEN_BYTES];
  size_t len = 0;
  unsigned mode = 0;
  int rc;

  snprintf(path, sizeof path, "%s/api-token", p->cfg.data_dir);
  rc = cpc_key_file_read(path, 4096, &data, &len, &mode);
  if (rc == 0) {
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
      len--;
    if (len < 16 || len >= sizeof p->token) {
      snprintf(err, cap,
               "%s does not hold a token (16 to 64 characters): delete it "
               "to get a new one",
               path);
      rc = CPC_EMALFORMED;
    } else {
      memcpy(p->token, data, len);
      p->token[len] = '\0';
    }
    cpc_secret_free(data, len);
    return rc;
  }
  if (rc == CPC_EPERM) {
    snprintf(err, cap,
             "%s may be read by other users (mode %03o): run chmod 600 on "
             "it, then start again",
             path, mode & 0777);
    return rc;
  }
  if (rc != CPC_ENOENT) {
    snprintf(err, cap, "cannot read %s: %s", path, cpc_strerror(rc));
    return rc;
  }
  randombytes_buf(raw, sizeof raw);
  sodium_bin2hex(p->token, sizeof p->token, raw, sizeof raw);
  sodium_memzero(raw, sizeof raw);
  p->token[2 * CPC_PDS_TOKEN_BYTES] = '\n';
  rc = cpc_key_file_write(path, p->token, 2 * CPC_PDS_TOKEN_BYTES + 1, 0);
  p->token[2 * CPC_PDS_TOKEN_BYTES] = '\0';
  if (rc != 0)
    snprintf(err, cap, "cannot write %s: %s", path, cpc_strerror(rc));
  return rc;
}

static void on_conn_close(cpc_net *net, cpc_net_conn *c, int reason,
                          void *ud) {
  cpc_pds *p = ud;
  (void)net;
  (void)reason;
  if (p->ex)
    cpc__pds_fetch_conn_closed(p, c);
}

static int start_host(cpc_pds *p, char *err, size_t cap) {
  cpc_net_builder *b = NULL;
  cpc_net_limits lim;
  cpc_net_events ev = {.on_conn_close = on_conn_close};
  cpc_multiaddr boot[CPC_PDS_MAX_ADDRS], addrs[CPC_PDS_MAX_ADDRS];
  size_t i, n = 0;
  int rc;

  rc = cpc_net_builder_new(p->loop, &b);
  if (rc != 0)
    return rc;
  cpc_net_builder_with_tcp(b);
  rc = cpc_net_builder_identity(b, &p->id.signing_key);
  for (i = 0; rc == 0 && i < p->cfg.n_listen; i++) {
    cpc_multiaddr ma;
    rc = cpc_multiaddr_parse(&ma, p->cfg.listen[i], strlen(p->cfg.listen[i]));
    if (rc == 0)
      rc = cpc_net_builder_listen(b, &ma);
    if (rc != 0)
      snprintf(err, cap, "network.listen: %s: %s", p->cfg.listen[i],
               cpc_strerror(rc));
  }
  for (i = 0; rc == 0 && i < p->cfg.n_bootstrap; i++)
    rc = cpc_multiaddr_parse(&boot[i], p->cfg.bootstrap[i],
                             strlen(p->cfg.bootstrap[i]));
  if (rc == 0) {
    rc = cpc_net_builder_with_kademlia(b, CPC_NET_KAD_SERVER, boot,
                                       p->cfg.n_bootstrap);
    if (rc != 0)
      snprintf(err, cap, "network.bootstrap: %s",
               cpc_net_builder_error(b) ? cpc_net_builder_error(b)
                                        : cpc_strerror(rc));
  }
  if (rc == 0) {
    cpc_net_limits_default(&lim);
    lim.upload_bps = p->cfg.bandwidth_limit;
    lim.download_bps = p->cfg.bandwidth_limit;
    rc = cpc_net_builder_limits(b, &lim);
  }
  if (rc == 0)
    rc = cpc_net_builder_events(b, &ev, p);
  if (rc == 0) {
    rc = cpc_net_builder_build(b, &p->net);
    if (rc != 0)
      snprintf(err, cap, "libp2p host: %s",
               cpc_net_builder_error(b) ? cpc_net_builder_error(b)
                                        : cpc_strerror(rc));
  } else if (!err[0]) {
    snprintf(err, cap, "libp2p host: %s", cpc_strerror(rc));
  }
  cpc_net_builder_free(b);
  if (rc != 0)
    return rc;
  rc = cpc_net_listen_addrs(p->net, addrs, CPC_PDS_MAX_ADDRS, &n);
  for (i = 0; rc == 0 && i < n && i < CPC_PDS_MAX_ADDRS; i++)
    if (cpc_multiaddr_format(&addrs[i], p->addrs[p->n_addrs],
                             CPC_PDS_MAX_ADDR_TEXT, NULL) == 0)
      p->n_addrs++;
  /* Readers of the same content swarm (superseed), but this PDS never
   * holds back a block as a seeder: each node replicating our content is
   * told to pull every block from us. */
  cpc_exchange_config xc;
  cpc_exchange_config_default(&xc);
  xc.superseed_serve = 0;
  /* blocks fetched for reading are a cache: written behind, many to an
   * fsync, off the loop; own content's blocks stay synced one by one */
  xc.cache_fetched = 1;
  rc = cpc_exchange_new(p->loop, p->net, p->bs, &xc, &p->ex);
  if (rc != 0)
    snprintf(err, cap, "Bitswap: %s", cpc_strerror(rc));
  return rc;
}

static void on_tick(uv_timer_t *t) {
  cpc_pds *p = t->data;
  cpc__pds_metrics_tick(p, 1.0);
}

/* Announce every own content on the DHT (the owner's PDS is a provider),
 * and the keys of public content. */
static void provide_all(cpc_pds *p) {
  cpc__pds_item *items = NULL;
  size_t n = 0, i;
  cpc_cid cid;
  uint8_t key[CPC_AEAD_KEY_LEN];
  if (cpc__pds_cat_list(p->cat, 0, &items, &n) != 0)
    return;
  for (i = 0; i < n; i++) {
    if (items[i].state == CPC__PDS_DELETING ||
        cpc_cid_parse(items[i].content_id, &cid) != 0)
      continue;
    cpc__pds_dht_provide(p, &cid);
    if (items[i].access == CPC_ACCESS_PUBLIC &&
        cpc_key_unseal(p->id.encryption_key.secret, items[i].sealed,
                       sizeof items[i].sealed, key) == 0)
      cpc__pds_dht_publish_key(p, &cid, key);
  }
  sodium_memzero(key, sizeof key);
  free(items);
}

static void free_pds(cpc_pds *p) {
  void (*cb)(void *) = p->stop_cb;
  void *ud = p->stop_ud;
  cpc_blockstore_close(p->bs);
  cpc__pds_cat_close(p->cat);
  cpc_user_identity_free(&p->id);
  cpc_metrics_free(p->metrics);
  pthread_mutex_destroy(&p->jobs_mu);
  pthread_mutex_destroy(&p->store_mu);
  sodium_memzero(p->token, sizeof p->token);
  free(p);
  if (cb)
    cb(ud);
}

static void on_net_closed(void *ud) { free_pds(ud); }

static void on_tick_closed(uv_handle_t *h) {
  cpc_pds *p = h->data;
  if (p->net)
    cpc_net_close(p->net, on_net_closed, p);
  else
    free_pds(p);
}

void cpc_pds_stop(cpc_pds *p, void (*cb)(void *ud), void *ud) {
  if (!p || p->stopping)
    return;
  p->stopping = 1;
  p->stop_cb = cb;
  p->stop_ud = ud;
  atomic_store(&p->closing, 1);
  cpc__pds_api_stop(p);
  cpc__pds_sync_stop(p);
  cpc__pds_fetch_shutdown(p);
  if (p->ex)
    cpc_exchange_close(p->ex, NULL, NULL);
  p->ex = NULL;
  cpc__pds_bridge_close(p);
  if (p->tick_open) {
    p->tick_open = 0;
    uv_timer_stop(&p->tick);
    uv_close((uv_handle_t *)&p->tick, on_tick_closed);
  } else {
    on_tick_closed((uv_handle_t *)&(uv_timer_t){.data = p});
  }
}

int cpc_pds_start(uv_loop_t *loop, const cpc_pds_config *cfg, cpc_pds **out,
                  char *err, size_t cap) {
  static int curl_ready;
  cpc_pds *p;
  char path[CPC_PDS_MAX_PATH + 16];
  uint64_t removed = 0;
  int rc;

  err[0] = '\0';
  if (!curl_ready) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
      snprintf(err, cap, "libcurl failed to start");
      return CPC_ENOMEM;
    }
    curl_ready = 1;
  }
  if (sodium_init() < 0) {
    snprintf(err, cap, "libsodium failed to start");
    return CPC_ECRYPTO;
  }
  p = calloc(1, sizeof *p);
  if (!p)
    return CPC_ENOMEM;
  p->cfg = *cfg;
  p->loop = loop;
  cpc_user_identity_init(&p->id);
  pthread_mutex_init(&p->store_mu, NULL);
  pthread_mutex_init(&p->jobs_mu, NULL);
  if (mkdirs(cfg->data_dir) != 0) {
    snprintf(err, cap, "cannot create the data directory %s: %s",
             cfg->data_dir, strerror(errno));
    rc = CPC_EIO;
    goto fail_early;
  }
  rc = load_identity(p, err, cap);
  if (rc == 0)
    rc = load_token(p, err, cap);
  if (rc != 0)
    goto fail_early;
  snprintf(p->path_blocks, sizeof p->path_blocks, "%s/blocks", cfg->data_dir);
  rc = cpc_blockstore_open(p->path_blocks, 0, &p->bs);
  if (rc != 0) {
    snprintf(err, cap, "cannot open the block store %s: %s", p->path_blocks,
             cpc_strerror(rc));
    goto fail_early;
  }
  cpc_blockstore_set_quota(p->bs, cfg->storage_limit);
  snprintf(path, sizeof path, "%s/pds.db", cfg->data_dir);
  rc = cpc__pds_cat_open(path, &p->cat, err, cap);
  if (rc != 0)
    goto fail_early;
  rc = cpc__pds_gc(p, &removed);
  if (rc == 0 && removed > 0)
    fprintf(stderr,
            "cpc-pds: removed %llu blocks an interrupted upload or download "
            "left behind\n",
            (unsigned long long)removed);
  rc = cpc__pds_metrics_init(p);
  if (rc != 0) {
    snprintf(err, cap, "metrics: %s", cpc_strerror(rc));
    goto fail_early;
  }
  rc = cpc__pds_bridge_init(p);
  if (rc == 0)
    rc = start_host(p, err, cap);
  if (rc == 0 && uv_timer_init(loop, &p->tick) == 0) {
    p->tick.data = p;
    p->tick_open = 1;
    uv_timer_start(&p->tick, on_tick, 1000, 1000);
  }
  if (rc == 0)
    rc = cpc__pds_api_start(p, err, cap);
  if (rc == 0)
    rc = cpc__pds_sync_start(p);
  if (rc != 0) {
    if (!err[0])
      snprintf(err, cap, "%s", cpc_strerror(rc));
    cpc_pds_stop(p, NULL, NULL);
    return rc;
  }
  provide_all(p);
  *out = p;
  return 0;
fail_early:
  cpc_blockstore_close(p->bs);
  cpc__pds_cat_close(p->cat);
  cpc_metrics_free(p->metrics);
  cpc_user_identity_free(&p->id);
  pthread_mutex_destroy(&p->store_mu);
  pthread_mutex_destroy(&p->jobs_mu);
  free(p);
  return rc;
}

const char *cpc_pds_peer_id(const cpc_pds *p) { return p->peer_id; }

uint16_t cpc_pds_api_port(const cpc_pds *p) { return p->api_port; }

const char *cpc_pds_listen_addr(const cpc_pds *p, size_t i) {
  return i < p->n_addrs ? p->addrs[i] : NULL;
}
