/*
 * post.c: the posting flow. The upload streams through the content
 * pipeline (chunk, compress, encrypt under a fresh key, address) into the
 * block store; once it is complete the item goes into the catalogue in one
 * transaction (so a crash leaves it whole or absent), is announced on the
 * DHT, and is registered with the orchestrator, or queued for the sync
 * thread when the orchestrator cannot be reached.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cpc/content.h"
#include "cpc/error.h"
#include "cpc/uri.h"
#include "pds/pds_int.h"

struct cpc__pds_upload {
  cpc_pds *p;
  cpc_content_encryptor *enc;
  uint8_t key[CPC_AEAD_KEY_LEN];
  cpc__pds_block *blocks;
  size_t n, cap;
  int rc;
  char err[CPC__PDS_ERR];
  enum cpc_access_control access;
  uint32_t replicas;
  char name[CPC__PDS_NAME_MAX + 1];
};

static int on_block(void *ctx, const cpc_cid *cid, const uint8_t *block,
                    size_t len) {
  cpc__pds_upload *u = ctx;
  int rc;
  if (u->n == u->cap) {
    size_t nc = u->cap ? u->cap * 2 : 64;
    cpc__pds_block *nb = realloc(u->blocks, nc * sizeof *nb);
    if (!nb)
      return CPC_ENOMEM;
    u->blocks = nb;
    u->cap = nc;
  }
  rc = cpc__pds_make_room(u->p, len);
  if (rc == 0)
    rc = cpc_blockstore_put(u->p->bs, cid, block, len);
  if (rc == CPC_ENOSPC) {
    snprintf(u->err, sizeof u->err,
             "the storage limit (%llu bytes) is reached and only own content "
             "is left: raise storage_limit in the PDS config or remove "
             "content (cpc rm)",
             (unsigned long long)u->p->cfg.storage_limit);
    return rc;
  }
  if (rc != 0) {
    snprintf(u->err, sizeof u->err, "cannot store a block: %s",
             cpc_strerror(rc));
    return rc;
  }
  u->blocks[u->n].cid = *cid;
  u->blocks[u->n].size = (uint32_t)len;
  u->n++;
  return 0;
}

int cpc__pds_upload_begin(cpc_pds *p, enum cpc_access_control access,
                          uint32_t replicas, const char *name,
                          cpc__pds_upload **out) {
  cpc__pds_upload *u = calloc(1, sizeof *u);
  cpc_content_options o;
  int rc;
  if (!u)
    return CPC_ENOMEM;
  u->p = p;
  u->access = access;
  u->replicas = replicas;
  snprintf(u->name, sizeof u->name, "%s", name ? name : "");
  cpc_aead_keygen(u->key);
  cpc_content_options_init(&o);
  rc = cpc_content_encryptor_new(&o, u->key, on_block, u, &u->enc);
  if (rc != 0) {
    cpc__pds_upload_free(u);
    return rc;
  }
  *out = u;
  return 0;
}

int cpc__pds_upload_data(cpc__pds_upload *u, const void *data, size_t len) {
  if (u->rc != 0)
    return u->rc;
  u->rc = cpc_content_encryptor_update(u->enc, data, len);
  if (u->rc != 0 && !u->err[0])
    snprintf(u->err, sizeof u->err, "encryption failed: %s",
             cpc_strerror(u->rc));
  return u->rc;
}

const char *cpc__pds_upload_error(const cpc__pds_upload *u) { return u->err; }

int cpc__pds_upload_end(cpc__pds_upload *u, json_t **answer,
                        unsigned *status, char *err, size_t cap) {
  cpc_pds *p = u->p;
  cpc__pds_item it;
  cpc_cid content_id;
  uint64_t total = 0;
  char uri[CPC_URI_MAX], rerr[CPC__PDS_ERR] = "";
  int rc;

  rc = u->rc;
  if (rc == 0)
    rc = cpc_content_encryptor_final(u->enc, &content_id, &total);
  if (rc != 0) {
    u->rc = rc;
    *status = rc == CPC_ENOSPC ? 507 : 500;
    snprintf(err, cap, "%s", u->err[0] ? u->err : cpc_strerror(rc));
    return rc;
  }
  memset(&it, 0, sizeof it);
  cpc_cid_format(&content_id, CPC_MB_BASE32, it.content_id,
                 sizeof it.content_id);
  snprintf(it.name, sizeof it.name, "%s", u->name);
  it.size = total;
  it.created_at = (int64_t)time(NULL);
  it.access = u->access;
  it.replicas = u->replicas;
  it.state = CPC__PDS_QUEUED;
  rc = cpc_key_seal(p->id.encryption_public, u->key, it.sealed);
  if (rc == 0)
    rc = cpc__pds_cat_add(p->cat, &it, u->blocks, u->n);
  if (rc == CPC_EEXIST) {
    /* the same bytes under the same key cannot happen (fresh key): a
     * collision of content ids would be a bug; refuse it */
    *status = 409;
    snprintf(err, cap, "content %s already exists", it.content_id);
    u->rc = rc;
    return rc;
  }
  if (rc != 0) {
    *status = 500;
    snprintf(err, cap, "cannot record the content in the catalogue: %s",
             cpc_strerror(rc));
    u->rc = rc;
    return rc;
  }
  u->n = 0; /* the blocks belong to the catalogue now */
  cpc_metrics_counter_inc(p->m_puts);
  cpc__pds_dht_provide(p, &content_id);
  if (it.access == CPC_ACCESS_PUBLIC)
    cpc__pds_dht_publish_key(p, &content_id, u->key);
  rc = cpc__pds_register(p, it.content_id, rerr, sizeof rerr);
  cpc__pds_cat_get(p->cat, it.content_id, &it);
  if (rc != 0)
    cpc__pds_sync_kick(p);
  cpc_content_uri_format(&content_id, uri, sizeof uri);
  *answer = json_pack(
      "{s:s, s:s, s:s, s:I, s:s, s:i, s:s, s:I, s:s}", "uri", uri,
      "content_id", it.content_id, "name", it.name, "size",
      (json_int_t)it.size, "access",
      cpc__pds_access_name(it.access),
      "replicas", (int)it.replicas, "state", cpc__pds_state_name(it.state), "blocks",
      (json_int_t)it.blocks, "message",
      it.state == CPC__PDS_QUEUED
          ? "stored locally; the orchestrator could not be reached, the "
            "upload is queued and will be registered when it is back"
          : rerr);
  *status = 201;
  return *answer ? 0 : CPC_ENOMEM;
}

void cpc__pds_upload_free(cpc__pds_upload *u) {
  if (!u)
    return;
  cpc_content_encryptor_free(u->enc);
  if (u->n)
    cpc__pds_drop_blocks(u->p, u->blocks, u->n, NULL);
  free(u->blocks);
  sodium_memzero(u->key, sizeof u->key);
  free(u);
}
