/*
 * sync.c: everything the PDS tells or asks the orchestrator in the
 * background, on its own thread: registering the user, registering queued
 * uploads (local-first: an upload made offline is registered once the
 * orchestrator answers again), telling it about deletions, wrapping the
 * keys of FollowersOnly content for new followers, and following the
 * replication of own content.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cpc/error.h"
#include "pds/pds_int.h"

#define MAX_FOLLOWERS 100000

static json_t *b64(const uint8_t *p, size_t n) {
  char buf[sodium_base64_ENCODED_LEN(256, sodium_base64_VARIANT_ORIGINAL)];
  if (n > 256)
    return NULL;
  sodium_bin2base64(buf, sizeof buf, p, n, sodium_base64_VARIANT_ORIGINAL);
  return json_string(buf);
}

/* POST /v1/users with our public identity (201 or 409: registered). */
static int ensure_user(cpc_pds *p, char *err, size_t cap) {
  char *text = NULL;
  json_t *body, *ans = NULL;
  long status;
  int rc;

  if (atomic_load(&p->user_registered))
    return 0;
  rc = cpc_user_identity_to_json(&p->id, 0, &text);
  if (rc != 0)
    return rc;
  body = json_loads(text, 0, NULL);
  free(text);
  if (!body)
    return CPC_ENOMEM;
  json_object_del(body, "following");
  rc = cpc__pds_orch(p, "POST", "/v1/users", body, 1, &status, &ans, err, cap);
  json_decref(body);
  if (rc == 0 && (status == 201 || status == 409)) {
    atomic_store(&p->user_registered, 1);
    cpc__pds_cat_setting_set(p->cat, "registered_with", p->cfg.orchestrator);
  } else if (rc == 0) {
    snprintf(err, cap, "the orchestrator refused to register the user (%ld): %s",
             status, cpc__pds_orch_message(ans));
    rc = CPC_EPERM;
  }
  json_decref(ans);
  return rc;
}

int cpc__pds_user_key(cpc_pds *p, const char *peer,
                      uint8_t key[CPC_X25519_KEY_LEN]) {
  char path[256], err[CPC__PDS_ERR], *text = NULL, pid[CPC_PEER_ID_MAX_TEXT];
  json_t *ans = NULL;
  cpc_user_identity id;
  long status;
  int rc;

  if (cpc__pds_cat_user_key_get(p->cat, peer, key) == 0)
    return 0;
  snprintf(path, sizeof path, "/v1/users/%s", peer);
  rc = cpc__pds_orch(p, "GET", path, NULL, 0, &status, &ans, err, sizeof err);
  if (rc != 0)
    return rc;
  if (status != 200 || !json_is_object(ans)) {
    json_decref(ans);
    return CPC_ENOENT;
  }
  json_object_del(ans, "created_at");
  text = json_dumps(ans, JSON_COMPACT);
  json_decref(ans);
  if (!text)
    return CPC_ENOMEM;
  cpc_user_identity_init(&id);
  rc = cpc_user_identity_from_json(text, strlen(text), &id, NULL, 0);
  free(text);
  if (rc == 0)
    rc = cpc_user_identity_verify(&id);
  if (rc == 0 && (cpc_peer_id_format(&id.peer_id, pid, sizeof pid) != 0 ||
                  strcmp(pid, peer) != 0))
    rc = CPC_EMISMATCH;
  if (rc == 0) {
    memcpy(key, id.encryption_public, CPC_X25519_KEY_LEN);
    cpc__pds_cat_user_key_set(p->cat, peer, key);
  }
  cpc_user_identity_free(&id);
  return rc;
}

int cpc__pds_followers(cpc_pds *p, json_t **peers) {
  char path[512], cursor[256] = "", err[CPC__PDS_ERR];
  json_t *all = json_array(), *ans = NULL, *it;
  long status;
  size_t i;
  int rc = 0;

  if (!all)
    return CPC_ENOMEM;
  for (;;) {
    snprintf(path, sizeof path, "/v1/users/%s/followers?limit=200%s%s",
             p->peer_id, cursor[0] ? "&cursor=" : "", cursor);
    rc = cpc__pds_orch(p, "GET", path, NULL, 0, &status, &ans, err,
                       sizeof err);
    if (rc != 0)
      break;
    if (status != 200) {
      rc = status == 404 ? 0 : CPC_EPROTO;
      break;
    }
    json_array_foreach(json_object_get(ans, "items"), i, it) {
      const char *pid = json_string_value(json_object_get(it, "peer_id"));
      if (pid && json_array_size(all) < MAX_FOLLOWERS)
        json_array_append_new(all, json_string(pid));
    }
    it = json_object_get(ans, "next_cursor");
    if (!json_is_string(it) || json_string_length(it) >= sizeof cursor)
      break;
    snprintf(cursor, sizeof cursor, "%s", json_string_value(it));
    json_decref(ans);
    ans = NULL;
  }
  json_decref(ans);
  if (rc != 0) {
    json_decref(all);
    return rc;
  }
  *peers = all;
  return 0;
}

/* {reader, sealed_key} for peer, key sealed to its verified X25519 key. */
static json_t *wrap_for(cpc_pds *p, const char *peer,
                        const uint8_t key[CPC_AEAD_KEY_LEN]) {
  uint8_t pk[CPC_X25519_KEY_LEN], sealed[CPC_SEALED_KEY_LEN];
  if (cpc__pds_user_key(p, peer, pk) != 0 || cpc_key_seal(pk, key, sealed) != 0)
    return NULL;
  return json_pack("{s:s, s:o}", "reader", peer, "sealed_key",
                   b64(sealed, sizeof sealed));
}

static int open_key(cpc_pds *p, const cpc__pds_item *it,
                    uint8_t key[CPC_AEAD_KEY_LEN]) {
  return cpc_key_unseal(p->id.encryption_key.secret, it->sealed,
                        sizeof it->sealed, key);
}

/* The registration body of it. */
static json_t *reg_body(cpc_pds *p, const cpc__pds_item *it,
                        const uint8_t key[CPC_AEAD_KEY_LEN], json_t *followers,
                        json_t **readers) {
  static const char *const names[4] = {"private", "public", "followers",
                                       "private"};
  cpc__pds_block *b = NULL;
  size_t n = 0, i;
  json_t *j, *chunks, *origin, *wrapped, *f;
  char cid[CPC__PDS_CID_TEXT];

  if (cpc__pds_cat_blocks(p->cat, it->content_id, &b, &n) != 0)
    return NULL;
  j = json_pack("{s:s, s:I, s:I, s:s, s:s, s:i}", "content_id",
                it->content_id, "size", (json_int_t)it->size, "created_at",
                (json_int_t)it->created_at, "access_control",
                names[it->access >= 1 && it->access <= 3 ? it->access : 3],
                "name", it->name, "replicas", (int)it->replicas);
  chunks = json_array();
  origin = json_array();
  for (i = 0; i < n; i++) {
    cpc_cid_format(&b[i].cid, CPC_MB_BASE32, cid, sizeof cid);
    json_array_append_new(chunks, json_pack("{s:s, s:i}", "cid", cid, "size",
                                            (int)b[i].size));
  }
  for (i = 0; i < p->n_addrs; i++)
    json_array_append_new(origin, json_string(p->addrs[i]));
  json_object_set_new(j, "chunks", chunks);
  json_object_set_new(j, "origin", origin);
  free(b);
  *readers = json_array();
  if (it->access == CPC_ACCESS_PUBLIC) {
    json_object_set_new(j, "clear_key", b64(key, CPC_AEAD_KEY_LEN));
    return j;
  }
  wrapped = json_array();
  json_array_append_new(wrapped, wrap_for(p, p->peer_id, key));
  json_array_append_new(*readers, json_string(p->peer_id));
  if (it->access == CPC_ACCESS_FOLLOWERS_ONLY)
    json_array_foreach(followers, i, f) {
      json_t *w = wrap_for(p, json_string_value(f), key);
      if (w) {
        json_array_append_new(wrapped, w);
        json_array_append(*readers, f);
      }
    }
  json_object_set_new(j, "wrapped_keys", wrapped);
  return j;
}

int cpc__pds_register(cpc_pds *p, const char *content_id, char *err,
                      size_t cap) {
  cpc__pds_item it;
  uint8_t key[CPC_AEAD_KEY_LEN];
  json_t *followers = NULL, *body = NULL, *ans = NULL, *readers = NULL, *r;
  long status = 0;
  size_t i;
  int rc, attempt;

  pthread_mutex_lock(&p->register_mu);
  rc = cpc__pds_cat_get(p->cat, content_id, &it);
  if (rc != 0 || it.state != CPC__PDS_QUEUED)
    goto out;
  rc = ensure_user(p, err, cap);
  if (rc != 0)
    goto out;
  rc = open_key(p, &it, key);
  if (rc != 0) {
    snprintf(err, cap, "cannot open the content key: %s", cpc_strerror(rc));
    goto out;
  }
  if (it.access == CPC_ACCESS_FOLLOWERS_ONLY) {
    rc = cpc__pds_followers(p, &followers);
    if (rc != 0) {
      snprintf(err, cap, "cannot list followers: %s", cpc_strerror(rc));
      goto out;
    }
  }
  body = reg_body(p, &it, key, followers, &readers);
  sodium_memzero(key, sizeof key);
  if (!body) {
    rc = CPC_ENOMEM;
    goto out;
  }
  for (attempt = 0; attempt < 2; attempt++) {
    json_decref(ans);
    ans = NULL;
    rc = cpc__pds_orch(p, "POST", "/v1/content", body, 1, &status, &ans, err,
                       cap);
    if (rc != 0 || status != 403 || attempt == 1)
      break;
    /* "register the caller first": the orchestrator lost or never had
     * the user (a fresh database) */
    atomic_store(&p->user_registered, 0);
    rc = ensure_user(p, err, cap);
    if (rc != 0)
      break;
  }
  if (rc != 0)
    goto out;
  if (status == 201 || status == 409) {
    cpc__pds_cat_set_state(p->cat, content_id, CPC__PDS_REGISTERED, "");
    json_array_foreach(readers, i, r)
      cpc__pds_cat_reader_add(p->cat, content_id, json_string_value(r));
    cpc__pds_sync_kick(p);
  } else if (status >= 500) {
    snprintf(err, cap, "the orchestrator failed (%ld): %s", status,
             cpc__pds_orch_message(ans));
    rc = CPC_EIO;
  } else {
    snprintf(err, cap, "the orchestrator refused the content (%ld): %s",
             status, cpc__pds_orch_message(ans));
    cpc__pds_cat_set_state(p->cat, content_id, CPC__PDS_REFUSED, err);
    rc = CPC_EPERM;
  }
out:
  pthread_mutex_unlock(&p->register_mu);
  json_decref(followers);
  json_decref(body);
  json_decref(ans);
  json_decref(readers);
  return rc;
}

/* Tell the orchestrator about removed content. */
static void sync_deletes(cpc_pds *p) {
  cpc__pds_item *items = NULL;
  char path[256], err[CPC__PDS_ERR];
  long status;
  size_t n = 0, i;
  if (cpc__pds_cat_list(p->cat, CPC__PDS_DELETING, &items, &n) != 0)
    return;
  for (i = 0; i < n && !p->sync_stop; i++) {
    snprintf(path, sizeof path, "/v1/content/%s", items[i].content_id);
    if (cpc__pds_orch(p, "DELETE", path, NULL, 1, &status, NULL, err,
                      sizeof err) != 0)
      break;
    if (status == 204 || status == 404 || status == 200)
      cpc__pds_cat_remove(p->cat, items[i].content_id);
  }
  free(items);
}

static void sync_queue(cpc_pds *p) {
  cpc__pds_item *items = NULL;
  char err[CPC__PDS_ERR];
  size_t n = 0, i;
  if (cpc__pds_cat_list(p->cat, CPC__PDS_QUEUED, &items, &n) != 0)
    return;
  for (i = 0; i < n && !p->sync_stop; i++)
    if (cpc__pds_register(p, items[i].content_id, err, sizeof err) == CPC_EIO)
      break;
  free(items);
}

/* Wrap keys of FollowersOnly content for followers that lack one. */
static void sync_followers(cpc_pds *p) {
  static int warned;
  cpc__pds_item *items = NULL;
  json_t *followers = NULL, *f, *wrapped, *body, *ans;
  char path[256], err[CPC__PDS_ERR];
  uint8_t key[CPC_AEAD_KEY_LEN];
  size_t n = 0, i, k;
  long status;

  if (cpc__pds_cat_list(p->cat, CPC__PDS_REGISTERED, &items, &n) != 0)
    return;
  for (i = 0; i < n && !p->sync_stop; i++) {
    if (items[i].access != CPC_ACCESS_FOLLOWERS_ONLY)
      continue;
    if (!followers && cpc__pds_followers(p, &followers) != 0)
      break;
    wrapped = json_array();
    if (open_key(p, &items[i], key) != 0) {
      json_decref(wrapped);
      continue;
    }
    json_array_foreach(followers, k, f) {
      const char *pid = json_string_value(f);
      json_t *w;
      if (cpc__pds_cat_reader_has(p->cat, items[i].content_id, pid))
        continue;
      w = wrap_for(p, pid, key);
      if (w)
        json_array_append_new(wrapped, w);
    }
    sodium_memzero(key, sizeof key);
    if (json_array_size(wrapped) == 0) {
      json_decref(wrapped);
      continue;
    }
    body = json_pack("{s:o}", "wrapped_keys", wrapped);
    snprintf(path, sizeof path, "/v1/content/%s/keys", items[i].content_id);
    ans = NULL;
    if (cpc__pds_orch(p, "PUT", path, body, 1, &status, &ans, err,
                      sizeof err) == 0) {
      if (status >= 200 && status < 300) {
        json_array_foreach(json_object_get(body, "wrapped_keys"), k, f)
          cpc__pds_cat_reader_add(
              p->cat, items[i].content_id,
              json_string_value(json_object_get(f, "reader")));
      } else if (!warned) {
        warned = 1;
        fprintf(stderr,
                "cpc-pds: the orchestrator did not take keys for new "
                "followers (%ld %s)\n",
                status, cpc__pds_orch_message(ans));
      }
    }
    json_decref(ans);
    json_decref(body);
  }
  json_decref(followers);
  free(items);
}

/* Confirmed replicas: the smallest provider count over the blocks. */
static void sync_replication(cpc_pds *p) {
  cpc__pds_item *items = NULL;
  char path[256], err[CPC__PDS_ERR];
  size_t n = 0, i, k;
  json_t *ans, *c;
  long status;

  if (cpc__pds_cat_list(p->cat, CPC__PDS_REGISTERED, &items, &n) != 0)
    return;
  for (i = 0; i < n && !p->sync_stop; i++) {
    size_t min = SIZE_MAX;
    if (items[i].replicated >= items[i].replicas)
      continue;
    snprintf(path, sizeof path, "/v1/content/%s/locate", items[i].content_id);
    ans = NULL;
    if (cpc__pds_orch(p, "GET", path, NULL, 1, &status, &ans, err,
                      sizeof err) != 0) {
      json_decref(ans);
      break;
    }
    if (status == 200) {
      json_array_foreach(json_object_get(ans, "chunks"), k, c) {
        size_t m = json_array_size(json_object_get(c, "providers"));
        if (m < min)
          min = m;
      }
      if (min == SIZE_MAX)
        min = 0;
      if (min != items[i].replicated)
        cpc__pds_cat_set_replicated(p->cat, items[i].content_id,
                                    (uint32_t)min);
    }
    json_decref(ans);
  }
  free(items);
}

/* Gauges that mirror the catalogue. */
static void sync_gauges(cpc_pds *p) {
  cpc__pds_item *items = NULL;
  size_t n = 0, i, queued = 0, live = 0;
  if (cpc__pds_cat_list(p->cat, 0, &items, &n) != 0)
    return;
  for (i = 0; i < n; i++) {
    live += items[i].state != CPC__PDS_DELETING;
    queued += items[i].state == CPC__PDS_QUEUED;
  }
  free(items);
  cpc_metrics_gauge_set(p->m_content, (double)live);
  cpc_metrics_gauge_set(p->m_queued, (double)queued);
}

static void *sync_main(void *arg) {
  cpc_pds *p = arg;
  char err[CPC__PDS_ERR];
  struct timespec ts;

  pthread_mutex_lock(&p->sync_mu);
  while (!p->sync_stop) {
    p->sync_kick = 0;
    pthread_mutex_unlock(&p->sync_mu);
    if (ensure_user(p, err, sizeof err) == 0) {
      sync_queue(p);
      sync_deletes(p);
      sync_followers(p);
      sync_replication(p);
    }
    sync_gauges(p);
    pthread_mutex_lock(&p->sync_mu);
    if (p->sync_stop || p->sync_kick)
      continue;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += p->cfg.sync_interval_ms / 1000;
    ts.tv_nsec += (long)(p->cfg.sync_interval_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    while (!p->sync_stop && !p->sync_kick)
      if (pthread_cond_timedwait(&p->sync_cv, &p->sync_mu, &ts) != 0)
        break;
  }
  pthread_mutex_unlock(&p->sync_mu);
  return NULL;
}

int cpc__pds_sync_start(cpc_pds *p) {
  char v[CPC_PDS_MAX_URL];
  pthread_mutex_init(&p->sync_mu, NULL);
  pthread_cond_init(&p->sync_cv, NULL);
  pthread_mutex_init(&p->register_mu, NULL);
  /* registered with this orchestrator before (a fresh orchestrator
   * database is noticed when it refuses content: see cpc__pds_register) */
  if (cpc__pds_cat_setting_get(p->cat, "registered_with", v, sizeof v) == 0 &&
      strcmp(v, p->cfg.orchestrator) == 0)
    atomic_store(&p->user_registered, 1);
  if (pthread_create(&p->sync_thread, NULL, sync_main, p) != 0)
    return CPC_EAGAIN;
  p->sync_running = 1;
  return 0;
}

void cpc__pds_sync_kick(cpc_pds *p) {
  pthread_mutex_lock(&p->sync_mu);
  p->sync_kick = 1;
  pthread_cond_broadcast(&p->sync_cv);
  pthread_mutex_unlock(&p->sync_mu);
}

void cpc__pds_sync_stop(cpc_pds *p) {
  if (!p->sync_running)
    return;
  pthread_mutex_lock(&p->sync_mu);
  p->sync_stop = 1;
  pthread_cond_broadcast(&p->sync_cv);
  pthread_mutex_unlock(&p->sync_mu);
  pthread_join(p->sync_thread, NULL);
  p->sync_running = 0;
}
