/*
 * read.c: the consumption flow. The key comes from the catalogue (own
 * content) or from the orchestrator's locate (node list plus the key in
 * clear for public content or wrapped for this user); the blocks missing
 * here are fetched over Bitswap from every provider at once (nodes holding
 * replicas, the owner's PDS found on the DHT), each verified by its hash
 * before it is stored (a corrupt block from one provider is dropped and
 * asked elsewhere), then decrypted and streamed out in order.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cpc/content.h"
#include "cpc/error.h"
#include "pds/pds_int.h"

#define MAX_PROVIDER_ADDRS 64
#define MAX_WANTS 65536
#define DHT_TIMEOUT_MS 5000
#define MAX_BLOCK_RETRIES 8 /* per read */

struct cpc__pds_read {
  cpc_pds *p;
  cpc_cid content_id;
  uint8_t key[CPC_AEAD_KEY_LEN];
  int own;
  cpc__pds_fetch *fetch;
  cpc__pds_fetch **extra; /* one-off fetches for blocks found late */
  size_t n_extra;
  unsigned retries; /* blocks fetched again after their batch gave up */
  cpc_multiaddr addrs[MAX_PROVIDER_ADDRS];
  size_t n_addrs;
  uint32_t timeout_ms;
};

static void add_addr(cpc__pds_read *r, const cpc_multiaddr *ma) {
  size_t i;
  if (r->n_addrs >= MAX_PROVIDER_ADDRS)
    return;
  for (i = 0; i < r->n_addrs; i++)
    if (cpc_multiaddr_equal(&r->addrs[i], ma))
      return;
  r->addrs[r->n_addrs++] = *ma;
}

/* Provider addresses from a locate answer (and its origin, if given). */
static void addrs_from_locate(cpc__pds_read *r, json_t *ans) {
  json_t *c, *pr, *a;
  size_t i, k, m;
  json_array_foreach(json_object_get(ans, "chunks"), i, c) {
    json_array_foreach(json_object_get(c, "providers"), k, pr) {
      cpc_peer_id pid;
      const char *ps = json_string_value(json_object_get(pr, "peer_id"));
      if (!ps || cpc_peer_id_parse(ps, &pid) != 0)
        continue;
      json_array_foreach(json_object_get(pr, "addrs"), m, a) {
        cpc_multiaddr ma;
        uint8_t tmp[CPC_MULTIADDR_MAX_BYTES];
        size_t tl;
        const char *s = json_string_value(a);
        if (!s || cpc_multiaddr_parse(&ma, s, strlen(s)) != 0)
          continue;
        if (cpc_multiaddr_peer_id(&ma, tmp, sizeof tmp, &tl) != 0 &&
            cpc_multiaddr_append_p2p(&ma, pid.bytes, pid.len) != 0)
          continue;
        add_addr(r, &ma);
      }
    }
  }
  json_array_foreach(json_object_get(ans, "origin"), i, a) {
    cpc_multiaddr ma;
    const char *s = json_string_value(a);
    if (s && cpc_multiaddr_parse(&ma, s, strlen(s)) == 0)
      add_addr(r, &ma);
  }
}

static void add_dht_providers(cpc__pds_read *r) {
  cpc_multiaddr found[16];
  size_t n = 0, i;
  cpc__pds_dht_providers(r->p, &r->content_id, found, 16, &n, DHT_TIMEOUT_MS);
  for (i = 0; i < n; i++)
    add_addr(r, &found[i]);
}

static int has_block(cpc_pds *p, const cpc_cid *cid) {
  int found = 0;
  return cpc_blockstore_has(p->bs, cid, &found) == 0 && found;
}

/* Start one fetch for the listed blocks missing here. */
static int fetch_missing(cpc__pds_read *r, const cpc_cid *cids,
                         const uint64_t *sizes, size_t n) {
  cpc_cid *want = malloc((n ? n : 1) * sizeof *want);
  uint64_t need = 0;
  size_t k = 0, i;
  int rc = 0;
  if (!want)
    return CPC_ENOMEM;
  for (i = 0; i < n && k < MAX_WANTS; i++)
    if (!has_block(r->p, &cids[i])) {
      want[k++] = cids[i];
      need += sizes ? sizes[i] : 0;
    }
  if (k > 0 && !r->own)
    rc = cpc__pds_make_room(r->p, need);
  if (rc == 0 && k > 0)
    rc = cpc__pds_fetch_start(r->p, want, k, r->addrs, r->n_addrs,
                              &r->content_id, &r->fetch);
  free(want);
  return rc;
}

static int refuse(unsigned *status, const char **code, char *err, size_t cap,
                  unsigned st, const char *c, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static int refuse(unsigned *status, const char **code, char *err, size_t cap,
                  unsigned st, const char *c, const char *fmt, ...) {
  va_list ap;
  *status = st;
  *code = c;
  va_start(ap, fmt);
  vsnprintf(err, cap, fmt, ap);
  va_end(ap);
  return st == 404 ? CPC_ENOENT : st == 403 ? CPC_EPERM : CPC_EIO;
}

/* Key and block list from the orchestrator's locate. */
static int locate(cpc__pds_read *r, const char *cid_text, cpc_cid **cids,
                  uint64_t **sizes, size_t *n, uint64_t *size,
                  unsigned *status, const char **code, char *err,
                  size_t cap) {
  cpc_pds *p = r->p;
  char path[256], oerr[CPC__PDS_ERR];
  json_t *ans = NULL, *c, *meta = NULL;
  const char *k;
  uint8_t buf[128];
  size_t kl, i;
  long st;
  int rc;

  snprintf(path, sizeof path, "/v1/content/%s/locate", cid_text);
  rc = cpc__pds_orch(p, "GET", path, NULL, 1, &st, &ans, oerr, sizeof oerr);
  if (rc == CPC_EIO)
    return CPC_EIO;
  if (rc != 0)
    return refuse(status, code, err, cap, 500, "internal", "%s",
                  cpc_strerror(rc));
  if (st == 404) {
    json_decref(ans);
    return refuse(status, code, err, cap, 404, "refused",
                  "the orchestrator refused to locate %s: it does not exist, "
                  "or you may not read it (followers-only content needs you "
                  "to follow its owner; private content is its owner's "
                  "alone)",
                  cid_text);
  }
  if (st != 200) {
    rc = refuse(status, code, err, cap, 502, "orchestrator",
                "the orchestrator answered %ld to locate: %s", st,
                cpc__pds_orch_message(ans));
    json_decref(ans);
    return rc;
  }
  if ((k = json_string_value(json_object_get(ans, "clear_key")))) {
    if (sodium_base642bin(buf, sizeof buf, k, strlen(k), NULL, &kl, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        kl != CPC_AEAD_KEY_LEN)
      rc = CPC_EMALFORMED;
    else
      memcpy(r->key, buf, kl);
  } else if ((k = json_string_value(json_object_get(ans, "wrapped_key")))) {
    if (sodium_base642bin(buf, sizeof buf, k, strlen(k), NULL, &kl, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
      rc = CPC_EMALFORMED;
    else
      rc = cpc_key_unseal(p->id.encryption_key.secret, buf, kl, r->key);
  } else {
    json_decref(ans);
    return refuse(status, code, err, cap, 403, "no_key",
                  "you may read %s, but its owner's PDS has not shared the "
                  "key with you yet (it does so shortly after you follow): "
                  "try again in a few seconds",
                  cid_text);
  }
  sodium_memzero(buf, sizeof buf);
  if (rc != 0) {
    json_decref(ans);
    return refuse(status, code, err, cap, 502, "bad_key",
                  "the key the orchestrator gave for %s cannot be opened "
                  "with this user's key (%s)",
                  cid_text, cpc_strerror(rc));
  }
  c = json_object_get(ans, "chunks");
  *n = json_array_size(c);
  *cids = calloc(*n ? *n : 1, sizeof **cids);
  *sizes = calloc(*n ? *n : 1, sizeof **sizes);
  if (!*cids || !*sizes) {
    json_decref(ans);
    return CPC_ENOMEM;
  }
  for (i = 0; i < *n; i++) {
    json_t *e = json_array_get(c, i);
    const char *s = json_string_value(json_object_get(e, "cid"));
    if (!s || cpc_cid_parse(s, &(*cids)[i]) != 0) {
      json_decref(ans);
      return refuse(status, code, err, cap, 502, "orchestrator",
                    "the orchestrator's locate answer is malformed");
    }
    (*sizes)[i] = (uint64_t)json_integer_value(json_object_get(e, "size"));
  }
  addrs_from_locate(r, ans);
  json_decref(ans);
  /* the plaintext size for Content-Length */
  snprintf(path, sizeof path, "/v1/content/%s", cid_text);
  if (cpc__pds_orch(p, "GET", path, NULL, 1, &st, &meta, oerr, sizeof oerr) ==
          0 &&
      st == 200)
    *size = (uint64_t)json_integer_value(json_object_get(meta, "size"));
  json_decref(meta);
  return 0;
}

/*
 * The orchestrator is unreachable: public content can still be read if its
 * owner's PDS (a provider of the content id on the DHT, whose PeerId is the
 * owner's) published the key as a signed record. Fetches the root manifest.
 */
static int dht_fallback(cpc__pds_read *r) {
  size_t i, tried = 0;
  cpc__pds_fetch *f = NULL;
  int rc = CPC_ENOENT;

  add_dht_providers(r);
  for (i = 0; i < r->n_addrs && tried < 4 && rc != 0; i++) {
    uint8_t pid[CPC_MULTIADDR_MAX_BYTES];
    size_t pl;
    cpc_peer_id owner;
    cpc_pubkey pk;
    if (cpc_multiaddr_peer_id(&r->addrs[i], pid, sizeof pid, &pl) != 0 ||
        cpc_peer_id_from_bytes(pid, pl, &owner) != 0 ||
        cpc_peer_id_pubkey(&owner, &pk) != 0 || pk.type != CPC_KEY_SECP256K1)
      continue;
    tried++;
    rc = cpc__pds_dht_get_key(r->p, &owner, &r->content_id, r->key,
                              DHT_TIMEOUT_MS);
  }
  if (rc != 0)
    return rc;
  rc = cpc__pds_fetch_start(r->p, &r->content_id, 1, r->addrs, r->n_addrs, NULL,
                            &f);
  if (rc != 0)
    return rc;
  rc = cpc__pds_fetch_wait(f, &r->content_id, r->timeout_ms);
  cpc__pds_fetch_release(f);
  return rc;
}

int cpc__pds_read_open(cpc_pds *p, const cpc_cid *content_id,
                       cpc__pds_read **out, uint64_t *size, unsigned *status,
                       const char **code, char *err, size_t cap) {
  cpc__pds_read *r = calloc(1, sizeof *r);
  cpc__pds_item it;
  cpc__pds_block *blocks = NULL;
  cpc_cid *cids = NULL;
  uint64_t *sizes = NULL;
  size_t n = 0, i;
  char cid_text[CPC__PDS_CID_TEXT];
  int rc, missing = 0;

  *size = UINT64_MAX;
  if (!r)
    return CPC_ENOMEM;
  r->p = p;
  r->content_id = *content_id;
  r->timeout_ms = p->cfg.fetch_timeout_ms;
  cpc_cid_format(content_id, CPC_MB_BASE32, cid_text, sizeof cid_text);

  if (cpc__pds_cat_get(p->cat, cid_text, &it) == 0 &&
      it.state != CPC__PDS_DELETING) {
    /* own content: readable offline */
    r->own = 1;
    *size = it.size;
    rc = cpc_key_unseal(p->id.encryption_key.secret, it.sealed,
                        sizeof it.sealed, r->key);
    if (rc == 0)
      rc = cpc__pds_cat_blocks(p->cat, cid_text, &blocks, &n);
    if (rc != 0) {
      rc = refuse(status, code, err, cap, 500, "internal",
                  "cannot read own content %s from the catalogue: %s",
                  cid_text, cpc_strerror(rc));
      goto fail;
    }
    cids = calloc(n ? n : 1, sizeof *cids);
    if (!cids) {
      rc = CPC_ENOMEM;
      goto fail;
    }
    for (i = 0; i < n; i++) {
      cids[i] = blocks[i].cid;
      missing += !has_block(p, &cids[i]);
    }
    if (missing) {
      uint64_t ignored;
      unsigned st2;
      const char *c2;
      char e2[CPC__PDS_ERR];
      cpc_cid *lc = NULL;
      uint64_t *ls = NULL;
      size_t ln = 0;
      uint8_t keep[CPC_AEAD_KEY_LEN];
      memcpy(keep, r->key, sizeof keep);
      if (locate(r, cid_text, &lc, &ls, &ln, &ignored, &st2, &c2, e2,
                 sizeof e2) != 0)
        add_dht_providers(r);
      memcpy(r->key, keep, sizeof keep);
      sodium_memzero(keep, sizeof keep);
      free(lc);
      free(ls);
    }
  } else {
    rc = locate(r, cid_text, &cids, &sizes, &n, size, status, code, err, cap);
    if (rc == CPC_EIO && dht_fallback(r) == 0) {
      /* public content found on the DHT: the blocks come one by one as
       * the manifest names them (source()) */
      free(cids);
      cids = NULL;
      n = 0;
      rc = 0;
      goto stream;
    }
    if (rc == CPC_EIO) {
      rc = refuse(status, code, err, cap, 503, "orchestrator_unreachable",
                  "the orchestrator %s cannot be reached and %s is neither "
                  "this user's content nor public content whose owner's key "
                  "record is on the DHT: try again when the orchestrator is "
                  "back",
                  p->cfg.orchestrator, cid_text);
      goto fail;
    }
    if (rc != 0)
      goto fail;
    for (i = 0; i < n; i++)
      missing += !has_block(p, &cids[i]);
    /* The DHT only when locate named nobody: its lookup can take seconds
     * (fetches of several blocks still swarm with other readers). */
    if (missing && r->n_addrs == 0)
      add_dht_providers(r);
  }
  if (missing && r->n_addrs == 0) {
    rc = refuse(status, code, err, cap, 503, "no_provider",
                "no node or PDS holding %s could be found (none has a "
                "confirmed replica yet and the owner's PDS is not on the "
                "DHT): try again later",
                cid_text);
    goto fail;
  }
  rc = fetch_missing(r, cids, sizes, n);
  if (rc == CPC_ENOSPC) {
    rc = refuse(status, code, err, cap, 507, "storage_limit",
                "%s does not fit under the storage limit (%llu bytes), even "
                "after evicting every cached block: raise storage_limit",
                cid_text, (unsigned long long)p->cfg.storage_limit);
    goto fail;
  }
  if (rc != 0) {
    rc = refuse(status, code, err, cap, 500, "internal",
                "cannot start fetching %s: %s", cid_text, cpc_strerror(rc));
    goto fail;
  }
  /* the root manifest first: a clear error now beats a cut stream */
  if (r->fetch) {
    rc = cpc__pds_fetch_wait(r->fetch, content_id, r->timeout_ms);
    if (rc != 0) {
      rc = refuse(status, code, err, cap, 504, "fetch_failed",
                  "no provider delivered %s (%s): the nodes or the owner's "
                  "PDS may be offline, try again later",
                  cid_text, cpc_strerror(rc));
      goto fail;
    }
  }
stream:
  free(blocks);
  free(cids);
  free(sizes);
  *out = r;
  return 0;
fail:
  free(blocks);
  free(cids);
  free(sizes);
  cpc__pds_read_free(r);
  return rc;
}

/* Fetch cid alone from every provider address; *out is kept in r->extra. */
static int fetch_one(cpc__pds_read *r, const cpc_cid *cid,
                     cpc__pds_fetch **out) {
  cpc__pds_fetch **ne = realloc(r->extra, (r->n_extra + 1) * sizeof *r->extra);
  int rc;
  if (!ne)
    return CPC_ENOMEM;
  r->extra = ne;
  rc = cpc__pds_fetch_start(r->p, cid, 1, r->addrs, r->n_addrs, NULL, out);
  if (rc == 0)
    r->extra[r->n_extra++] = *out;
  return rc;
}

static int source(void *ctx, const cpc_cid *cid, uint8_t *buf, size_t cap,
                  size_t *len) {
  cpc__pds_read *r = ctx;
  int rc = cpc_blockstore_get(r->p->bs, cid, buf, cap, len);
  if (rc == CPC_ENOENT && r->n_addrs > 0) {
    cpc__pds_fetch *f = r->fetch;
    if (!f && (rc = fetch_one(r, cid, &f)) != 0) /* a block no list named
                                                    (DHT-only reads) */
      return rc;
    rc = cpc__pds_fetch_wait(f, cid, r->timeout_ms);
    /* The batch ended without this block (a provider left or lost it
     * mid-way, as when a node dies): ask every provider again, a bounded
     * number of times per read, before the stream is cut. */
    while (rc != 0 && rc != CPC_ETIMEDOUT && rc != CPC_ECLOSED &&
           r->retries < MAX_BLOCK_RETRIES) {
      char text[CPC_CID_MAX_TEXT];
      r->retries++;
      cpc_cid_format(cid, CPC_MB_BASE32, text, sizeof text);
      fprintf(stderr, "read: %s: the fetch ended without it (%s); asking the "
                      "%zu providers again\n",
              text, cpc_strerror(rc), r->n_addrs);
      if ((rc = fetch_one(r, cid, &f)) != 0)
        break;
      rc = cpc__pds_fetch_wait(f, cid, r->timeout_ms);
    }
    if (rc == 0)
      rc = cpc_blockstore_get(r->p->bs, cid, buf, cap, len);
  }
  if (rc == 0 && !r->own && !cpc__pds_cat_block_owned(r->p->cat, cid, NULL))
    cpc__pds_cat_cache_touch(r->p->cat, cid, *len, cpc__pds_now_ms());
  return rc;
}

static int to_fd(void *ctx, const uint8_t *data, size_t len) {
  int fd = *(int *)ctx;
  while (len > 0) {
    ssize_t w = write(fd, data, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return errno == EPIPE ? CPC_ECLOSED : CPC_EIO;
    data += w;
    len -= (size_t)w;
  }
  return 0;
}

int cpc__pds_read_run(cpc__pds_read *r, int fd) {
  /* every block comes out of the block store, which holds only blocks
   * that were hashed as they came in (by the Bitswap decoder, or by the
   * put of own content) and commits them whole: no second hash here */
  int rc = cpc_content_decrypt_flags(&r->content_id, r->key, source, r, to_fd,
                                     &fd, NULL, CPC_CONTENT_SOURCE_VERIFIED);
  if (rc == 0)
    cpc_metrics_counter_inc(r->p->m_gets);
  else
    cpc_metrics_counter_inc(r->p->m_get_fail);
  return rc;
}

void cpc__pds_read_free(cpc__pds_read *r) {
  size_t i;
  if (!r)
    return;
  cpc__pds_fetch_release(r->fetch);
  for (i = 0; i < r->n_extra; i++)
    cpc__pds_fetch_release(r->extra[i]);
  free(r->extra);
  sodium_memzero(r->key, sizeof r->key);
  free(r);
}
