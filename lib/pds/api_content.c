/*
 * api_content.c: the content routes of the local API: upload (streamed
 * through the pipeline), download (decrypted on a thread into a pipe that
 * the response reads, so memory stays bounded), list, remove, status.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpc/error.h"
#include "cpc/uri.h"
#include "pds/api_int.h"

int cpc__pds_api_put_begin(cpc__pds_req *r) {
  const char *access = cpc__pds_query(r, "access");
  const char *replicas = cpc__pds_query(r, "replicas");
  const char *name = cpc__pds_query(r, "name");
  enum cpc_access_control ac = CPC_ACCESS_PRIVATE;
  long n = CPC_CONTENT_REPLICAS_DEFAULT;
  char *end;
  int rc;

  if (access && cpc__pds_access_parse(access, &ac) != 0)
    return cpc__pds_reply_error(r, 400, "invalid_field",
                                "access must be public, followers or private");
  if (replicas) {
    n = strtol(replicas, &end, 10);
    if (!*replicas || *end || n < 1 || n > 16)
      return cpc__pds_reply_error(r, 400, "invalid_field",
                                  "replicas must be an integer from 1 to 16");
  }
  if (name && strlen(name) > CPC__PDS_NAME_MAX)
    return cpc__pds_reply_error(r, 400, "invalid_field",
                                "name must be at most 255 bytes");
  rc = cpc__pds_upload_begin(r->p, ac, (uint32_t)n, name, &r->upload);
  if (rc != 0)
    return cpc__pds_reply_error(r, 500, "internal",
                                "cannot start the pipeline: %s",
                                cpc_strerror(rc));
  return 0;
}

int cpc__pds_api_put(cpc__pds_req *r) {
  json_t *answer = NULL;
  unsigned status = 500;
  char err[CPC__PDS_ERR];
  int rc;
  if (!r->upload)
    return cpc__pds_reply_error(r, 500, "internal", "no upload");
  rc = cpc__pds_upload_end(r->upload, &answer, &status, err, sizeof err);
  if (rc != 0)
    return cpc__pds_reply_error(r, status,
                                status == 507 ? "storage_limit" : "upload",
                                "%s", err);
  cpc__pds_upload_free(r->upload);
  r->upload = NULL;
  return cpc__pds_reply_json(r, status, answer);
}

/* ---- download ------------------------------------------------------------ */

#define PIPE_BYTES (1 << 20)        /* decrypt thread -> response */
#define RESPONSE_BLOCK (256 * 1024) /* what the response reads at a time */

typedef struct stream {
  cpc__pds_read *rd;
  int fds[2];
  pthread_t thread;
  int started;
  atomic_int rc;
} stream;

static void *decrypt_main(void *arg) {
  stream *s = arg;
  int rc = cpc__pds_read_run(s->rd, s->fds[1]);
  atomic_store(&s->rc, rc);
  close(s->fds[1]);
  s->fds[1] = -1;
  return NULL;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
  stream *s = cls;
  ssize_t n;
  (void)pos;
  for (;;) {
    n = read(s->fds[0], buf, max);
    if (n < 0 && errno == EINTR)
      continue;
    break;
  }
  if (n > 0)
    return n;
  if (n == 0 && atomic_load(&s->rc) == 0)
    return MHD_CONTENT_READER_END_OF_STREAM;
  return MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free(void *cls) {
  stream *s = cls;
  if (s->fds[0] >= 0)
    close(s->fds[0]); /* a writer still running gets EPIPE and stops */
  if (s->started)
    pthread_join(s->thread, NULL);
  if (s->fds[1] >= 0)
    close(s->fds[1]);
  cpc__pds_read_free(s->rd);
  free(s);
}

int cpc__pds_api_get(cpc__pds_req *r) {
  cpc_cid cid;
  stream *s = NULL;
  struct MHD_Response *resp;
  uint64_t size = UINT64_MAX;
  unsigned status = 500;
  const char *code = "internal";
  char err[1024];
  int rc;

  if (cpc_cid_parse(r->seg[0], &cid) != 0 &&
      cpc_content_uri_parse(r->seg[0], &cid) != 0)
    return cpc__pds_reply_error(r, 400, "invalid_field",
                                "%s is not a content id (bafkr4i...)",
                                r->seg[0]);
  s = calloc(1, sizeof *s);
  if (!s)
    return cpc__pds_reply_error(r, 500, "internal", "out of memory");
  s->fds[0] = s->fds[1] = -1;
  rc = cpc__pds_read_open(r->p, &cid, &s->rd, &size, &status, &code, err,
                          sizeof err);
  if (rc != 0) {
    free(s);
    return cpc__pds_reply_error(r, status, code, "%s", err);
  }
  if (strcmp(r->method, "HEAD") == 0) {
    stream_free(s);
    return cpc__pds_reply(r, 200, "application/octet-stream", NULL, 0);
  }
  if (pipe(s->fds) != 0) {
    stream_free(s);
    return cpc__pds_reply_error(r, 500, "internal", "pipe: %s",
                                strerror(errno));
  }
#ifdef F_SETPIPE_SZ
  /* Room for a whole chunk or more: with the default 64 KiB the decrypt
   * thread and the response took turns 16 times per 1 MiB chunk. Best
   * effort (the system's pipe-max-size may be lower). */
  (void)fcntl(s->fds[1], F_SETPIPE_SZ, PIPE_BYTES);
#endif
  if (pthread_create(&s->thread, NULL, decrypt_main, s) != 0) {
    stream_free(s);
    return cpc__pds_reply_error(r, 500, "internal", "no thread");
  }
  s->started = 1;
  resp = MHD_create_response_from_callback(
      size == UINT64_MAX ? MHD_SIZE_UNKNOWN : size, RESPONSE_BLOCK, stream_read,
      s, stream_free);
  if (!resp) {
    stream_free(s);
    return cpc__pds_reply_error(r, 500, "internal", "out of memory");
  }
  MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
  rc = MHD_queue_response(r->conn, 200, resp);
  MHD_destroy_response(resp);
  r->responded = 1;
  return rc == MHD_YES ? 0 : CPC_EIO;
}

/* ---- list, remove, status ---------------------------------------------- */

static json_t *item_json(const cpc__pds_item *it) {
  char uri[CPC_URI_MAX] = "";
  cpc_cid cid;
  if (cpc_cid_parse(it->content_id, &cid) == 0)
    cpc_content_uri_format(&cid, uri, sizeof uri);
  return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:i, s:i, s:s, s:I, s:s}",
                   "uri", uri, "content_id", it->content_id, "name", it->name,
                   "size", (json_int_t)it->size, "created_at",
                   (json_int_t)it->created_at, "access",
                   cpc__pds_access_name(it->access), "replicas",
                   (int)it->replicas, "replicated", (int)it->replicated,
                   "state", cpc__pds_state_name(it->state), "blocks",
                   (json_int_t)it->blocks, "error", it->error);
}

int cpc__pds_api_ls(cpc__pds_req *r) {
  cpc__pds_item *items = NULL;
  size_t n = 0, i;
  json_t *a;
  int rc = cpc__pds_cat_list(r->p->cat, 0, &items, &n);
  if (rc != 0)
    return cpc__pds_reply_error(r, 500, "internal", "catalogue: %s",
                                cpc_strerror(rc));
  a = json_array();
  for (i = 0; i < n; i++)
    if (items[i].state != CPC__PDS_DELETING)
      json_array_append_new(a, item_json(&items[i]));
  free(items);
  return cpc__pds_reply_json(r, 200, json_pack("{s:o}", "items", a));
}

int cpc__pds_api_rm(cpc__pds_req *r) {
  cpc_pds *p = r->p;
  cpc__pds_item it;
  cpc__pds_block *b = NULL;
  cpc_cid cid;
  char cid_text[CPC__PDS_CID_TEXT], path[256], err[CPC__PDS_ERR];
  size_t n = 0;
  long status = 0;
  int rc;

  if (cpc_cid_parse(r->seg[0], &cid) != 0)
    return cpc__pds_reply_error(r, 400, "invalid_field",
                                "%s is not a content id", r->seg[0]);
  cpc_cid_format(&cid, CPC_MB_BASE32, cid_text, sizeof cid_text);
  rc = cpc__pds_cat_get(p->cat, cid_text, &it);
  if (rc == CPC_ENOENT || (rc == 0 && it.state == CPC__PDS_DELETING))
    return cpc__pds_reply_error(r, 404, "not_found",
                                "%s is not this user's content (only own "
                                "content can be removed; see cpc ls)",
                                cid_text);
  if (rc != 0)
    return cpc__pds_reply_error(r, 500, "internal", "catalogue: %s",
                                cpc_strerror(rc));
  pthread_mutex_lock(&p->register_mu);
  if (cpc__pds_cat_blocks(p->cat, cid_text, &b, &n) == 0)
    cpc__pds_drop_blocks(p, b, n, cid_text);
  free(b);
  if (it.state != CPC__PDS_REGISTERED) {
    cpc__pds_cat_remove(p->cat, cid_text);
    pthread_mutex_unlock(&p->register_mu);
    return cpc__pds_reply_json(r, 200,
                               json_pack("{s:s, s:s}", "content_id", cid_text,
                                         "state", "deleted"));
  }
  cpc__pds_cat_set_state(p->cat, cid_text, CPC__PDS_DELETING, "");
  pthread_mutex_unlock(&p->register_mu);
  snprintf(path, sizeof path, "/v1/content/%s", cid_text);
  rc = cpc__pds_orch(p, "DELETE", path, NULL, 1, &status, NULL, err,
                     sizeof err);
  if (rc == 0 && (status == 204 || status == 404 || status == 200)) {
    cpc__pds_cat_remove(p->cat, cid_text);
    return cpc__pds_reply_json(r, 200,
                               json_pack("{s:s, s:s}", "content_id", cid_text,
                                         "state", "deleted"));
  }
  cpc__pds_sync_kick(p);
  return cpc__pds_reply_json(
      r, 202,
      json_pack("{s:s, s:s, s:s}", "content_id", cid_text, "state",
                "deleting", "message",
                "removed here; the orchestrator will be told when it can be "
                "reached"));
}

int cpc__pds_api_status(cpc__pds_req *r) {
  cpc_pds *p = r->p;
  cpc__pds_item *items = NULL;
  cpc_blockstore_stats st;
  uint64_t cached = 0, cached_bytes = 0;
  size_t n = 0, i, reg = 0, queued = 0, refused = 0, healthy = 0, under = 0;
  json_t *list = json_array(), *addrs = json_array(), *j;
  double sent = 0, recv = 0, peers = 0;

  memset(&st, 0, sizeof st);
  cpc_blockstore_stats_get(p->bs, &st);
  cpc__pds_cat_cache_stats(p->cat, &cached, &cached_bytes);
  cpc__pds_cat_list(p->cat, 0, &items, &n);
  for (i = 0; i < n; i++) {
    const cpc__pds_item *it = &items[i];
    if (it->state == CPC__PDS_DELETING)
      continue;
    if (it->state == CPC__PDS_REGISTERED) {
      reg++;
      if (it->replicated >= it->replicas)
        healthy++;
      else
        under++;
    } else if (it->state == CPC__PDS_QUEUED)
      queued++;
    else
      refused++;
    json_array_append_new(list, item_json(it));
  }
  free(items);
  for (i = 0; i < p->n_addrs; i++)
    json_array_append_new(addrs, json_string(p->addrs[i]));
  cpc_metrics_value(p->traffic_out, &sent);
  cpc_metrics_value(p->traffic_in, &recv);
  cpc_metrics_value(p->m_peers, &peers);
  j = json_pack(
      "{s:s, s:o, s:{s:s, s:b, s:b}, s:I, "
      "s:{s:I, s:I, s:I, s:I, s:I, s:I}, "
      "s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}, "
      "s:{s:I, s:I, s:I}, s:o}",
      "peer_id", p->peer_id, "addrs", addrs, "orchestrator", "url",
      p->cfg.orchestrator, "reachable", atomic_load(&p->orch_reachable),
      "user_registered", atomic_load(&p->user_registered), "peers",
      (json_int_t)peers, "content", "total",
      (json_int_t)(reg + queued + refused), "registered", (json_int_t)reg,
      "replicated", (json_int_t)healthy, "under_replicated",
      (json_int_t)under, "queued", (json_int_t)queued, "refused",
      (json_int_t)refused, "storage", "limit",
      (json_int_t)p->cfg.storage_limit, "used", (json_int_t)st.bytes,
      "blocks", (json_int_t)st.count, "cached_blocks", (json_int_t)cached,
      "cached_bytes", (json_int_t)cached_bytes, "evicted_blocks",
      (json_int_t)atomic_load(&p->evicted_blocks), "evicted_bytes",
      (json_int_t)atomic_load(&p->evicted_bytes), "bandwidth", "limit",
      (json_int_t)p->cfg.bandwidth_limit, "sent", (json_int_t)sent,
      "received", (json_int_t)recv, "items", list);
  return cpc__pds_reply_json(r, 200, j);
}
