/*
 * encrypt.c: the streaming encryptor (cpc/content.h).
 *
 * Input is buffered only as far as the chunker needs (2 x max chunk); when
 * the caller hands over whole chunks and nothing is buffered, chunks are
 * cut straight from the caller's memory. Each chunk is compressed (if it
 * pays) and encrypted on the caller's thread into one of two slots; the
 * slot's ciphertext is then hashed by the worker thread while the next
 * chunk is encrypted into the other slot. A slot is emitted (sink + chunk
 * ref) before it is reused, so blocks reach the sink in chunk order.
 *
 * When the next chunk is already at hand (cut from the same input), the
 * worker also runs its compression probe while this one is encrypted (the
 * "lookahead"); the caller's thread then only waits for the answer. The
 * lookahead is always the very next chunk processed and never outlives an
 * update call, so it never points into memory the caller took back. The
 * probe and its outcome are the same as on the caller's thread: output
 * does not depend on threads or on how input is split into updates.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "content/content_int.h"
#include "cpc/blake3.h"
#include "cpc/error.h"

struct slot {
  uint8_t *block; /* CPC_CHUNK_MAX + tag */
  size_t len;
  cpc_chunk_ref ref;
  cpc__hash_job job;
  int busy;
};

struct cpc_content_encryptor {
  cpc_content_options opt;
  cpc_chunker_params params;
  uint8_t key[CPC_AEAD_KEY_LEN];
  cpc_block_sink_fn sink;
  void *ctx;
  int err, finished;
  uint8_t *in; /* 2 x max chunk */
  size_t in_cap, in_start, in_end;
  ZSTD_CCtx *cctx, *probe_cctx; /* full compression; probes */
  uint8_t *zbuf, *probe_buf;
  size_t zcap, probe_cap;
  cpc__hash_job probe; /* the lookahead: probe of the next chunk */
  int probe_busy;      /* probe queued (or done, result not taken yet) */
  struct slot slots[2];
  unsigned next_slot;
  cpc__hash_worker worker;
  uint64_t chunk_index;
  cpc__manifest_writer mw;
};

void cpc_content_options_init(cpc_content_options *o) {
  memset(o, 0, sizeof *o);
  o->chunker = CPC_CHUNKER_FIXED;
  o->chunk_size = CPC_CHUNK_DEFAULT;
  o->compress = 1;
  o->page_cap = CPC_MANIFEST_PAGE_MAX;
  o->threads = 1;
}

int cpc_content_encryptor_new(const cpc_content_options *o,
                              const uint8_t key[CPC_AEAD_KEY_LEN],
                              cpc_block_sink_fn sink, void *ctx,
                              cpc_content_encryptor **out) {
  cpc_content_encryptor *e = NULL;
  int rc;
  *out = NULL;
  if (!sink)
    return CPC_EINVAL;
  e = calloc(1, sizeof *e);
  if (!e)
    return CPC_ENOMEM;
  if (o)
    e->opt = *o;
  else
    cpc_content_options_init(&e->opt);
  if (e->opt.page_cap == 0)
    e->opt.page_cap = CPC_MANIFEST_PAGE_MAX;
  if (e->opt.page_cap < 256 || e->opt.page_cap > CPC_MANIFEST_PAGE_MAX ||
      e->opt.threads > 1) {
    rc = CPC_EINVAL;
    goto fail;
  }
  rc = cpc_chunker_params_init(&e->params, e->opt.chunker, e->opt.chunk_size);
  if (rc != 0)
    goto fail;
  memcpy(e->key, key, CPC_AEAD_KEY_LEN);
  e->sink = sink;
  e->ctx = ctx;
  e->in_cap = 2 * (size_t)e->params.max_size;
  e->in = malloc(e->in_cap);
  for (int i = 0; i < 2; i++)
    e->slots[i].block = malloc(e->params.max_size + CPC_AEAD_TAG_LEN);
  if (!e->in || !e->slots[0].block || !e->slots[1].block) {
    rc = CPC_ENOMEM;
    goto fail;
  }
  if (e->opt.compress) {
    e->zcap = cpc__compress_bound(e->params.max_size);
    e->zbuf = malloc(e->zcap);
    e->cctx = ZSTD_createCCtx();
    e->probe_cap = cpc__compress_probe_scratch_len();
    e->probe_buf = malloc(e->probe_cap);
    e->probe_cctx = ZSTD_createCCtx();
    if (!e->zbuf || !e->cctx || !e->probe_buf || !e->probe_cctx) {
      rc = CPC_ENOMEM;
      goto fail;
    }
  }
  rc = cpc__manifest_writer_init(&e->mw, e->opt.page_cap, e->key, sink, ctx);
  if (rc != 0)
    goto fail;
  if (e->opt.threads == 1) {
    rc = cpc__hash_worker_start(&e->worker);
    if (rc != 0)
      goto fail;
  }
  *out = e;
  return 0;
fail:
  cpc_content_encryptor_free(e);
  return rc;
}

void cpc_content_encryptor_free(cpc_content_encryptor *e) {
  if (!e)
    return;
  cpc__hash_worker_stop(&e->worker);
  cpc__manifest_writer_free(&e->mw);
  ZSTD_freeCCtx(e->cctx);
  ZSTD_freeCCtx(e->probe_cctx);
  free(e->zbuf);
  free(e->probe_buf);
  free(e->in);
  for (int i = 0; i < 2; i++)
    free(e->slots[i].block);
  sodium_memzero(e->key, sizeof e->key);
  free(e);
}

/* Wait for a busy slot's hash, hand the block to the sink, record it. */
static int emit(cpc_content_encryptor *e, struct slot *s) {
  cpc_cid cid;
  int rc;
  if (e->worker.started)
    cpc__hash_worker_wait(&e->worker, &s->job);
  s->busy = 0;
  cpc__block_cid_bytes(s->job.digest, s->ref.cid);
  cpc__block_cid_from_bytes(s->ref.cid, &cid);
  rc = e->sink(e->ctx, &cid, s->block, s->len);
  if (rc == 0)
    rc = cpc__manifest_writer_add(&e->mw, &s->ref);
  return rc;
}

/* Take the lookahead's result if it was for data[0..n), else drop it. */
static int take_probe(cpc_content_encryptor *e, const uint8_t *data, size_t n,
                      int *pays) {
  if (!e->probe_busy)
    return 0;
  cpc__hash_worker_wait(&e->worker, &e->probe);
  e->probe_busy = 0;
  if (e->probe.data != data || e->probe.len != n)
    return 0;
  *pays = e->probe.pays;
  return 1;
}

/* Queue the probe of the next chunk next[0..next_len) on the worker. */
static int queue_probe(cpc_content_encryptor *e, const uint8_t *next,
                       size_t next_len) {
  if (!next || !e->cctx || !e->worker.started)
    return 0;
  e->probe.data = next;
  e->probe.len = next_len;
  e->probe.probe_cctx = e->probe_cctx;
  e->probe.scratch = e->probe_buf;
  e->probe.scratch_cap = e->probe_cap;
  int rc = cpc__hash_worker_submit(&e->worker, &e->probe);
  if (rc == 0)
    e->probe_busy = 1;
  return rc;
}

/*
 * Compress, encrypt and queue for hashing one chunk data[0..n). next, if
 * not NULL, is the chunk that will be processed right after this one
 * (valid until then): its probe runs on the worker meanwhile.
 */
static int process_chunk(cpc_content_encryptor *e, const uint8_t *data,
                         size_t n, const uint8_t *next, size_t next_len) {
  uint8_t nonce[CPC_AEAD_NONCE_LEN], aad[CPC__AAD_LEN];
  const uint8_t *payload = data;
  size_t payload_len = n, zlen = 0;
  struct slot *s = &e->slots[e->next_slot];
  int rc, pays = 0;
  if (e->cctx) {
    if (!take_probe(e, data, n, &pays))
      pays = cpc__compress_probe(e->probe_cctx, data, n, e->probe_buf,
                                 e->probe_cap);
    if ((rc = queue_probe(e, next, next_len)) != 0)
      return rc;
    if (pays) {
      rc = cpc__compress_chunk(e->cctx, data, n, e->zbuf, e->zcap, &zlen);
      if (rc != 0)
        return rc;
    }
    if (zlen != 0) {
      payload = e->zbuf;
      payload_len = zlen;
    }
  }
  if (s->busy && (rc = emit(e, s)) != 0)
    return rc;
  cpc_aead_nonce(CPC_AEAD_DOMAIN_CHUNK, e->chunk_index, nonce);
  cpc__block_aad(CPC_AEAD_DOMAIN_CHUNK, zlen != 0, aad);
  rc = cpc_aead_encrypt(e->key, nonce, aad, sizeof aad, payload, payload_len,
                        s->block, e->params.max_size + CPC_AEAD_TAG_LEN,
                        &s->len);
  if (rc != 0)
    return rc;
  s->ref.plaintext_size = (uint32_t)n;
  s->ref.stored_size = (uint32_t)s->len;
  s->ref.compressed = zlen != 0;
  s->job.data = s->block;
  s->job.len = s->len;
  s->busy = 1;
  e->chunk_index++;
  e->next_slot ^= 1;
  if (e->worker.started)
    return cpc__hash_worker_submit(&e->worker, &s->job);
  cpc_blake3(s->block, s->len, s->job.digest);
  return emit(e, s);
}

/* The cut at data[0..len) (the lookahead's if it is for data). */
static int next_cut(cpc_content_encryptor *e, const uint8_t *data, size_t len,
                    int eof, size_t *cut) {
  if (e->probe_busy && e->probe.data == data) {
    *cut = e->probe.len;
    return 0;
  }
  return cpc_chunker_next(&e->params, data, len, eof, cut);
}

/*
 * Process the chunk at data[0..cut) of data[0..len); if a full next chunk
 * follows (len - cut >= need, need 0 meaning any length), cut it now so its
 * probe can run ahead.
 */
static int process_at(cpc_content_encryptor *e, const uint8_t *data,
                      size_t len, size_t cut, int eof, size_t need) {
  const uint8_t *next = NULL;
  size_t rest = len - cut, next_len = 0;
  if (rest > 0 && rest >= need && e->cctx && e->worker.started) {
    int rc = cpc_chunker_next(&e->params, data + cut, rest, eof, &next_len);
    if (rc != 0)
      return rc;
    if (next_len > 0)
      next = data + cut;
  }
  return process_chunk(e, data, cut, next, next_len);
}

static int feed(cpc_content_encryptor *e, const uint8_t *p, size_t len) {
  size_t max = e->params.max_size, cut = 0;
  int rc;
  while (len > 0) {
    size_t avail = e->in_end - e->in_start;
    if (avail == 0 && len >= max) { /* whole chunks straight from p */
      rc = next_cut(e, p, len, 0, &cut);
      if (rc == 0)
        rc = process_at(e, p, len, cut, 0, max);
      if (rc != 0)
        return rc;
      p += cut;
      len -= cut;
      continue;
    }
    if (e->in_end == e->in_cap) {
      memmove(e->in, e->in + e->in_start, avail);
      e->in_start = 0;
      e->in_end = avail;
    }
    size_t take = e->in_cap - e->in_end < len ? e->in_cap - e->in_end : len;
    memcpy(e->in + e->in_end, p, take);
    e->in_end += take;
    p += take;
    len -= take;
    while (e->in_end - e->in_start >= max) {
      uint8_t *q = e->in + e->in_start;
      size_t n = e->in_end - e->in_start;
      rc = next_cut(e, q, n, 0, &cut);
      if (rc == 0)
        rc = process_at(e, q, n, cut, 0, max);
      if (rc != 0)
        return rc;
      e->in_start += cut;
    }
    if (e->in_start == e->in_end)
      e->in_start = e->in_end = 0;
  }
  return 0;
}

int cpc_content_encryptor_update(cpc_content_encryptor *e, const void *data,
                                 size_t len) {
  if (e->err)
    return e->err;
  if (e->finished)
    return CPC_ESTATE;
  e->err = feed(e, data, len);
  if (e->probe_busy) { /* only after an error: it may point into data */
    cpc__hash_worker_wait(&e->worker, &e->probe);
    e->probe_busy = 0;
  }
  return e->err;
}

static int finish(cpc_content_encryptor *e, cpc_cid *content_id) {
  size_t cut = 0;
  int rc;
  while (e->in_end > e->in_start) {
    uint8_t *q = e->in + e->in_start;
    size_t n = e->in_end - e->in_start;
    rc = next_cut(e, q, n, 1, &cut);
    if (rc == 0)
      rc = process_at(e, q, n, cut, 1, 0);
    if (rc != 0)
      return rc;
    e->in_start += cut;
  }
  for (unsigned k = 0; k < 2; k++) {
    struct slot *s = &e->slots[(e->next_slot + k) % 2];
    if (s->busy && (rc = emit(e, s)) != 0)
      return rc;
  }
  return cpc__manifest_writer_finish(
      &e->mw, &e->params,
      e->opt.compress ? CPC_COMPRESSION_ZSTD : CPC_COMPRESSION_NONE,
      content_id);
}

int cpc_content_encryptor_final(cpc_content_encryptor *e, cpc_cid *content_id,
                                uint64_t *total) {
  if (e->err)
    return e->err;
  if (e->finished)
    return CPC_ESTATE;
  e->finished = 1;
  e->err = finish(e, content_id);
  if (e->err == 0 && total)
    *total = e->mw.total;
  return e->err;
}
