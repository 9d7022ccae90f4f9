/*
 * node_work.c: the orders of the work stream.
 *
 *   replicate: journal (fsync) -> queue -> fetch over Bitswap from the
 *              sources (batched: orders with the same sources share one
 *              session; the exchange verifies every block by its hash and
 *              stores it) -> store sync (fsync, on the thread pool, one
 *              for every block stored meanwhile) -> ConfirmStorage ->
 *              journal entry removed.
 *   delete:    journal -> remove from the store -> sync -> ConfirmStorage.
 *   audit:     answered at once from the stored bytes (AnswerAudit).
 * Capacity: an order that would take the store past the committed
 * capacity is refused (ConfirmStorage ok=false, "capacity exceeded ..."),
 * and the store's quota refuses any block that gets past that check.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/dht.h"
#include "cpc/error.h"
#include "cpc/orchestrator/v1/node.pb-c.h"
#include "node/node_int.h"

#define MAX_CONFIRMING 64
#define MAX_PROVIDING 4
#define WORK_TICK_MS 1000
#define COALESCE_MS 5

struct cpc__fetch_batch {
  struct cpc__fetch_batch *next;
  cpc_node *n;
  cpc_exchange_fetch *f;
  cpc__work **w;
  size_t nw;
  uint64_t deadline;
  uint64_t started;
};

struct cpc__report {
  struct cpc__report *next;
  char cid[CPC_CID_MAX_TEXT];
  char detail[200];
  int sending;
};

struct cpc__provide {
  struct cpc__provide *next;
  size_t len;
  uint8_t mh[CPC_MH_MAX_LEN];
};

typedef struct call_ctx {
  cpc_node *n;
  uint64_t work_id;
  uint64_t session_gen;
  struct cpc__report *report;
  char cid[CPC_CID_MAX_TEXT];
} call_ctx;

static void pump(cpc_node *n);
static void start_sync(cpc_node *n);
static void confirm_all(cpc_node *n);

static int mh_equal(const cpc_multihash *a, const cpc_multihash *b) {
  return a->code == b->code && a->digest_len == b->digest_len &&
         memcmp(a->digest, b->digest, a->digest_len) == 0;
}

/* ---- bookkeeping --------------------------------------------------------- */

static cpc__work *find(cpc_node *n, uint64_t work_id) {
  cpc__work *w;
  for (w = n->works; w; w = w->next)
    if (w->work_id == work_id)
      return w;
  return NULL;
}

static void unreserve(cpc_node *n, cpc__work *w) {
  if (w->reserved) {
    n->reserved -= w->size < n->reserved ? w->size : n->reserved;
    w->reserved = 0;
  }
}

static void work_free(cpc_node *n, cpc__work *w) {
  cpc__work **pp;
  for (pp = &n->works; *pp; pp = &(*pp)->next)
    if (*pp == w) {
      *pp = w->next;
      n->n_works--;
      break;
    }
  unreserve(n, w);
  free(w->sources);
  free(w);
  cpc_metrics_gauge_set(n->m.work_pending, (double)n->n_works);
}

/* The order is over for the orchestrator: forget it. */
static void work_done(cpc_node *n, cpc__work *w) {
  int rc = cpc__journal_remove(n, w->work_id);
  if (rc != 0)
    cpc__node_logf(n, "journal: cannot remove entry of work %" PRIu64 ": %s",
                   w->work_id, cpc_strerror(rc));
  work_free(n, w);
}

/* The result of w is known and durable: confirm it. */
static void to_confirm(cpc_node *n, cpc__work *w, int ok, const char *error) {
  unreserve(n, w);
  w->ok = ok;
  snprintf(w->error, sizeof w->error, "%s", error ? error : "");
  w->state = CPC__WS_CONFIRM;
}

static void fail_work(cpc_node *n, cpc__work *w, const char *why) {
  cpc__node_logf(n, "replicate %s (work %" PRIu64 ") failed: %s", w->cid_text,
                 w->work_id, why);
  if (strncmp(why, "capacity exceeded", 17) == 0)
    cpc_metrics_counter_inc(n->m.repl_refused);
  else
    cpc_metrics_counter_inc(n->m.repl_failed);
  to_confirm(n, w, 0, why);
}

/* ---- DHT provide queue ------------------------------------------------------- */

static void provide_pump(cpc_node *n);

static void provide_done(void *arg, const cpc_kad_result *res) {
  cpc_node *n = arg;
  (void)res;
  if (n->provides_inflight > 0)
    n->provides_inflight--;
  if (!n->closing)
    provide_pump(n);
}

static void provide_pump(cpc_node *n) {
  cpc_dht *d = n->net ? cpc_net_dht(n->net) : NULL;
  if (!d || n->provide_busy)
    return;
  n->provide_busy = 1;
  while (n->provides && n->provides_inflight < MAX_PROVIDING) {
    struct cpc__provide *p = n->provides;
    int rc;
    n->provides = p->next;
    if (!n->provides)
      n->provides_tail = &n->provides;
    n->provides_inflight++;
    rc = cpc_kad_provide(cpc_dht_kad(d), p->mh, p->len, cpc_dht_now_ms(),
                         provide_done, n, NULL);
    if (rc != 0)
      n->provides_inflight--;
    free(p);
  }
  n->provide_busy = 0;
}

void cpc__work_provide(cpc_node *n, const cpc_multihash *mh) {
  struct cpc__provide *p;
  if (!n->net || !cpc_net_dht(n->net))
    return;
  p = calloc(1, sizeof *p);
  if (!p)
    return;
  if (cpc_multihash_encode(mh, p->mh, sizeof p->mh, &p->len) != 0) {
    free(p);
    return;
  }
  if (!n->provides_tail)
    n->provides_tail = &n->provides;
  *n->provides_tail = p;
  n->provides_tail = &p->next;
  provide_pump(n);
}

/* ---- fetching ------------------------------------------------------------------ */

static const char *fetch_error(cpc_node *n, int rc, char *buf, size_t cap) {
  switch (rc) {
  case CPC_ENOSPC: {
    char used[16], capt[16];
    uint64_t u = 0, b = 0;
    cpc__node_usage(n, &u, &b);
    cpc_node_format_size(u, used, sizeof used);
    cpc_node_format_size(n->cfg.capacity, capt, sizeof capt);
    snprintf(buf, cap, "capacity exceeded: the block store holds %s of the "
                       "%s committed", used, capt);
    return buf;
  }
  case CPC_ETIMEDOUT: return "fetch timed out: the sources stopped answering";
  case CPC_ENOENT: return "no source has the block";
  case CPC_EIO: return "no source could be reached";
  case CPC_EUNSUPPORTED: return "no source speaks Bitswap";
  case CPC_EMISMATCH: return "the block does not match its CID";
  default:
    snprintf(buf, cap, "fetch failed: %s", cpc_strerror(rc));
    return buf;
  }
}

static void batch_free(cpc_node *n, cpc__fetch_batch *b) {
  cpc__fetch_batch **pp;
  for (pp = &n->batches; *pp; pp = &(*pp)->next)
    if (*pp == b) {
      *pp = b->next;
      break;
    }
  cpc_exchange_fetch_free(b->f);
  free(b->w);
  free(b);
  if (n->active_fetches > 0)
    n->active_fetches--;
}

/* End b: every order not delivered fails with rc. */
static void batch_end(cpc__fetch_batch *b, int rc) {
  cpc_node *n = b->n;
  char buf[256];
  size_t i;
  for (i = 0; i < b->nw; i++) {
    cpc__work *w = b->w[i];
    if (!w || w->state != CPC__WS_FETCHING)
      continue;
    w->batch = NULL;
    fail_work(n, w, fetch_error(n, rc ? rc : CPC_ENOENT, buf, sizeof buf));
  }
  batch_free(n, b);
}

static void on_fetch_block(void *ud, const cpc_cid *cid, const uint8_t *data,
                           size_t len) {
  cpc__fetch_batch *b = ud;
  cpc_node *n = b->n;
  size_t i;
  (void)data;
  b->deadline = cpc__node_now_ms() + n->cfg.fetch_timeout_ms; /* progress */
  for (i = 0; i < b->nw; i++) {
    cpc__work *w = b->w[i];
    if (!w || w->state != CPC__WS_FETCHING ||
        !mh_equal(&w->cid.mh, &cid->mh))
      continue;
    w->batch = NULL;
    b->w[i] = NULL;
    unreserve(n, w);
    w->ok = 1;
    w->error[0] = '\0';
    w->state = CPC__WS_UNSYNCED;
    (void)len;
    cpc__work_provide(n, &cid->mh);
  }
  start_sync(n);
}

static void on_fetch_done(void *ud, int rc) {
  cpc__fetch_batch *b = ud;
  cpc_node *n = b->n;
  batch_end(b, rc);
  if (!n->closing) {
    confirm_all(n);
    pump(n);
  }
}

/* Parse w's sources into addrs (cap entries). */
static size_t parse_sources(const char *sources, cpc_multiaddr *addrs,
                            size_t cap) {
  const char *p = sources;
  size_t k = 0;
  while (p && *p && k < cap) {
    const char *e = strchr(p, '\n');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    if (l > 0 && cpc_multiaddr_parse(&addrs[k], p, l) == 0)
      k++;
    p = e ? e + 1 : NULL;
  }
  return k;
}

/* Can w fit? 0, or fills why. Blocks held already always fit. */
static int capacity_check(cpc_node *n, cpc__work *w, char *why, size_t cap) {
  uint64_t used = 0, blocks = 0;
  char a[16], b[16], c[16];
  int found = 0;
  if (cpc_blockstore_has(n->bs, &w->cid, &found) == 0 && found)
    return 0;
  cpc__node_usage(n, &used, &blocks);
  if (used + n->reserved + w->size <= n->cfg.capacity)
    return 0;
  cpc_node_format_size(w->size, a, sizeof a);
  cpc_node_format_size(used + n->reserved, b, sizeof b);
  cpc_node_format_size(n->cfg.capacity, c, sizeof c);
  snprintf(why, cap, "capacity exceeded: storing %s would take the node "
                     "past its committed %s (%s used or reserved)", a, c, b);
  return CPC_ENOSPC;
}

static void start_batch(cpc_node *n, cpc__work *first) {
  cpc_exchange_fetch_callbacks cb = {on_fetch_block, on_fetch_done};
  cpc_multiaddr *addrs = NULL;
  cpc_cid *cids = NULL;
  cpc__fetch_batch *b = NULL;
  cpc__work *w;
  size_t n_addrs, k = 0;
  char why[256];
  int rc;

  b = calloc(1, sizeof *b);
  cids = calloc(n->cfg.fetch_batch, sizeof *cids);
  addrs = calloc(CPC__NODE_MAX_SRC_ADDRS, sizeof *addrs);
  if (!b || !cids || !addrs) {
    free(b);
    goto out;
  }
  b->w = calloc(n->cfg.fetch_batch, sizeof *b->w);
  if (!b->w) {
    free(b);
    goto out;
  }
  b->n = n;
  for (w = first; w && k < n->cfg.fetch_batch; w = w->next) {
    if (w->kind != CPC__W_REPLICATE || w->state != CPC__WS_QUEUED ||
        strcmp(w->sources, first->sources) != 0)
      continue;
    if (capacity_check(n, w, why, sizeof why) != 0) {
      fail_work(n, w, why);
      continue;
    }
    w->reserved = 1;
    n->reserved += w->size;
    w->state = CPC__WS_FETCHING;
    w->batch = b;
    b->w[k] = w;
    cids[k++] = w->cid;
  }
  b->nw = k;
  if (k == 0) {
    free(b->w);
    free(b);
    goto out;
  }
  n_addrs = parse_sources(first->sources, addrs, CPC__NODE_MAX_SRC_ADDRS);
  {
    const char *nl = strchr(first->sources, '\n');
    cpc__node_logf(n, "fetching %zu block%s from %.*s%s", k, k == 1 ? "" : "s",
                   (int)(nl ? (size_t)(nl - first->sources)
                            : strlen(first->sources)),
                   first->sources, n_addrs > 1 ? " and other sources" : "");
  }
  b->started = cpc__node_now_ms();
  b->deadline = b->started + n->cfg.fetch_timeout_ms;
  b->next = n->batches;
  n->batches = b;
  n->active_fetches++;
  rc = cpc_exchange_fetch_start(n->ex, cids, k, addrs, n_addrs, NULL, 0, &cb, b,
                                &b->f);
  if (rc != 0) {
    b->f = NULL;
    batch_end(b, rc);
  }
out:
  free(cids);
  free(addrs);
}

/* Run delete order d unless a fetch of its block is under way (then the
 * delete waits for it); replicate orders of the block still queued fail. */
static void run_delete(cpc_node *n, cpc__work *d) {
  cpc_dht *dht = cpc_net_dht(n->net);
  uint8_t mh[CPC_MH_MAX_LEN];
  size_t mlen;
  cpc__work *w;
  char why[160];
  int rc;
  for (w = n->works; w; w = w->next) {
    if (w == d || w->kind != CPC__W_REPLICATE ||
        !mh_equal(&w->cid.mh, &d->cid.mh))
      continue;
    if (w->state == CPC__WS_FETCHING)
      return;
    if (w->state == CPC__WS_QUEUED) {
      snprintf(why, sizeof why, "deleted by work %" PRIu64 " meanwhile",
               d->work_id);
      fail_work(n, w, why);
    }
  }
  rc = cpc_blockstore_delete(n->bs, &d->cid);
  if (dht && cpc_multihash_encode(&d->cid.mh, mh, sizeof mh, &mlen) == 0)
    (void)cpc_kad_stop_providing(cpc_dht_kad(dht), mh, mlen);
  if (rc == 0 || rc == CPC_ENOENT) {
    d->ok = 1;
    d->state = CPC__WS_UNSYNCED;
    start_sync(n);
  } else {
    snprintf(why, sizeof why, "delete failed: %s", cpc_strerror(rc));
    to_confirm(n, d, 0, why);
  }
}

static void pump(cpc_node *n) {
  cpc__work *w, *next;
  if (n->pump_busy || n->closing || !n->ex)
    return;
  n->pump_busy = 1;
  for (w = n->works; w; w = next) {
    next = w->next;
    if (w->kind == CPC__W_DELETE && w->state == CPC__WS_QUEUED)
      run_delete(n, w);
  }
  while (n->active_fetches < n->cfg.max_fetches) {
    for (w = n->works; w; w = w->next)
      if (w->kind == CPC__W_REPLICATE && w->state == CPC__WS_QUEUED)
        break;
    if (!w)
      break;
    start_batch(n, w);
  }
  n->pump_busy = 0;
  confirm_all(n);
}

/* ---- store sync ----------------------------------------------------------------- */

static void sync_work(uv_work_t *req) {
  cpc_node *n = req->data;
  n->sync_rc = cpc_blockstore_sync(n->bs);
}

static void sync_after(uv_work_t *req, int status) {
  cpc_node *n = req->data;
  cpc__work *w;
  n->sync_running = 0;
  for (w = n->works; w; w = w->next) {
    if (w->state != CPC__WS_SYNCING)
      continue;
    if (status == 0 && n->sync_rc == 0)
      w->state = CPC__WS_CONFIRM;
    else
      w->state = CPC__WS_UNSYNCED;
  }
  if (status != 0 || n->sync_rc != 0)
    cpc__node_logf(n, "store: sync failed (%s); will retry",
                   cpc_strerror(n->sync_rc ? n->sync_rc : CPC_EIO));
  if (n->closing) {
    cpc__node_pending_done(n);
    return;
  }
  if (status == 0 && n->sync_rc == 0)
    start_sync(n);
  confirm_all(n);
}

static void start_sync(cpc_node *n) {
  cpc__work *w;
  int any = 0;
  if (n->sync_running || n->closing)
    return;
  for (w = n->works; w; w = w->next)
    if (w->state == CPC__WS_UNSYNCED) {
      w->state = CPC__WS_SYNCING;
      any = 1;
    }
  if (!any)
    return;
  n->sync_running = 1;
  n->sync_req.data = n;
  if (uv_queue_work(n->loop, &n->sync_req, sync_work, sync_after) != 0) {
    n->sync_running = 0;
    for (w = n->works; w; w = w->next)
      if (w->state == CPC__WS_SYNCING)
        w->state = CPC__WS_UNSYNCED;
  }
}

/* ---- confirmations ---------------------------------------------------------------- */

static void on_confirm_done(cpc_rpc_client_call *call, int status,
                            const char *message, void *ud) {
  call_ctx *c = ud;
  cpc_node *n = c->n;
  cpc__work *w;
  (void)call;
  if (n->n_confirming > 0)
    n->n_confirming--;
  if (n->closing) {
    free(c);
    return;
  }
  w = find(n, c->work_id);
  free(c);
  if (!w || w->state != CPC__WS_CONFIRMING)
    return;
  switch (status) {
  case CPC_RPC_OK:
    if (w->kind == CPC__W_DELETE) {
      cpc__node_logf(n, "deleted %s (work %" PRIu64 "), confirmed",
                     w->cid_text, w->work_id);
      cpc_metrics_counter_inc(n->m.deletes);
    } else if (w->ok) {
      cpc__node_logf(n, "stored %s (work %" PRIu64 "), confirmed",
                     w->cid_text, w->work_id);
      cpc_metrics_counter_inc(n->m.repl_ok);
    } else {
      cpc__node_logf(n, "reported failure of work %" PRIu64 " (%s)",
                     w->work_id, w->error);
    }
    work_done(n, w);
    break;
  case CPC_RPC_FAILED_PRECONDITION:
    cpc__node_logf(n, "work %" PRIu64 " was given up by the orchestrator "
                      "(%s); dropping %s", w->work_id, message, w->cid_text);
    if (w->kind == CPC__W_REPLICATE && w->ok)
      (void)cpc_blockstore_delete(n->bs, &w->cid);
    work_done(n, w);
    break;
  case CPC_RPC_NOT_FOUND:
  case CPC_RPC_INVALID_ARGUMENT:
    cpc__node_logf(n, "orchestrator refused the confirmation of work %" PRIu64
                      " (%s); forgetting it", w->work_id, message);
    work_done(n, w);
    break;
  default:
    /* orchestrator away or refusing for now: retry later */
    w->state = CPC__WS_CONFIRM;
    n->confirm_retry_at = cpc__node_now_ms() + 1000;
    break;
  }
  confirm_all(n);
}

static int send_confirm(cpc_node *n, cpc__work *w) {
  Cpc__Orchestrator__V1__ConfirmStorageRequest r =
      CPC__ORCHESTRATOR__V1__CONFIRM_STORAGE_REQUEST__INIT;
  cpc_rpc_client_callbacks cb = {NULL, NULL, on_confirm_done};
  uint8_t buf[1024];
  size_t len;
  call_ctx *c;
  int rc;
  r.work_id = w->work_id;
  r.cid = w->cid_text;
  r.ok = w->ok ? 1 : 0;
  r.error = w->error;
  len = cpc__orchestrator__v1__confirm_storage_request__get_packed_size(&r);
  if (len > sizeof buf)
    return CPC_ETOOBIG;
  cpc__orchestrator__v1__confirm_storage_request__pack(&r, buf);
  c = calloc(1, sizeof *c);
  if (!c)
    return CPC_ENOMEM;
  c->n = n;
  c->work_id = w->work_id;
  rc = cpc__session_unary(n, "ConfirmStorage", buf, len, &cb, c);
  if (rc != 0) {
    free(c);
    return rc;
  }
  n->n_confirming++;
  w->state = CPC__WS_CONFIRMING;
  return 0;
}

static void confirm_all(cpc_node *n) {
  cpc__work *w, *next;
  if (n->closing || !cpc__session_ready(n) ||
      cpc__node_now_ms() < n->confirm_retry_at)
    return;
  for (w = n->works; w && n->n_confirming < MAX_CONFIRMING; w = next) {
    next = w->next;
    if (w->state == CPC__WS_CONFIRM && send_confirm(n, w) != 0)
      break;
  }
}

/* ---- corruption reports ------------------------------------------------------------- */

static void send_reports(cpc_node *n);

static void on_report_done(cpc_rpc_client_call *call, int status,
                           const char *message, void *ud) {
  call_ctx *c = ud;
  cpc_node *n = c->n;
  struct cpc__report *r = c->report, **pp;
  (void)call;
  free(c);
  if (n->closing)
    return;
  r->sending = 0;
  if (status == CPC_RPC_OK || status == CPC_RPC_NOT_FOUND ||
      status == CPC_RPC_INVALID_ARGUMENT) {
    if (status == CPC_RPC_OK)
      cpc__node_logf(n, "reported %s corrupt to the orchestrator", r->cid);
    else
      cpc__node_logf(n, "orchestrator ignored the report of %s (%s)", r->cid,
                     message);
    for (pp = &n->reports; *pp; pp = &(*pp)->next)
      if (*pp == r) {
        *pp = r->next;
        break;
      }
    free(r);
  }
}

static void send_reports(cpc_node *n) {
  struct cpc__report *r;
  if (!cpc__session_ready(n) || n->closing)
    return;
  for (r = n->reports; r; r = r->next) {
    Cpc__Orchestrator__V1__ReportCorruptRequest q =
        CPC__ORCHESTRATOR__V1__REPORT_CORRUPT_REQUEST__INIT;
    cpc_rpc_client_callbacks cb = {NULL, NULL, on_report_done};
    uint8_t buf[1024];
    size_t len;
    call_ctx *c;
    if (r->sending)
      continue;
    q.cid = r->cid;
    q.detail = r->detail;
    len = cpc__orchestrator__v1__report_corrupt_request__get_packed_size(&q);
    if (len > sizeof buf)
      continue;
    cpc__orchestrator__v1__report_corrupt_request__pack(&q, buf);
    c = calloc(1, sizeof *c);
    if (!c)
      return;
    c->n = n;
    c->report = r;
    if (cpc__session_unary(n, "ReportCorrupt", buf, len, &cb, c) != 0) {
      free(c);
      return;
    }
    r->sending = 1;
  }
}

void cpc__work_report_corrupt(cpc_node *n, const char *cid,
                              const char *detail) {
  struct cpc__report *r, **pp;
  for (r = n->reports; r; r = r->next)
    if (strcmp(r->cid, cid) == 0)
      return;
  r = calloc(1, sizeof *r);
  if (!r)
    return;
  snprintf(r->cid, sizeof r->cid, "%s", cid);
  snprintf(r->detail, sizeof r->detail, "%s", detail ? detail : "");
  for (pp = &n->reports; *pp; pp = &(*pp)->next)
    ;
  *pp = r;
  send_reports(n);
}

/* ---- audits ---------------------------------------------------------------------------- */

static void on_audit_done(cpc_rpc_client_call *call, const uint8_t *msg,
                          size_t len, void *ud) {
  call_ctx *c = ud;
  Cpc__Orchestrator__V1__AnswerAuditReply *r;
  (void)call;
  r = cpc__orchestrator__v1__answer_audit_reply__unpack(NULL, len, msg);
  if (!r)
    return;
  if (r->result == CPC__ORCHESTRATOR__V1__AUDIT_RESULT__AUDIT_RESULT_PASSED) {
    cpc_metrics_counter_inc(c->n->m.audits_passed);
    cpc__node_logf(c->n, "audit %" PRIu64 " of %s: passed", c->work_id,
                   c->cid);
  } else {
    cpc_metrics_counter_inc(c->n->m.audits_failed);
    cpc__node_logf(c->n, "audit %" PRIu64 " of %s: FAILED", c->work_id,
                   c->cid);
  }
  cpc__orchestrator__v1__answer_audit_reply__free_unpacked(r, NULL);
}

static void on_audit_end(cpc_rpc_client_call *call, int status,
                         const char *message, void *ud) {
  call_ctx *c = ud;
  (void)call;
  if (status != CPC_RPC_OK && !c->n->closing)
    cpc__node_logf(c->n, "audit %" PRIu64 ": answer not taken (%s)",
                   c->work_id, message);
  free(c);
}

static void do_audit(cpc_node *n, const Cpc__Orchestrator__V1__Audit *a) {
  Cpc__Orchestrator__V1__AnswerAuditRequest r =
      CPC__ORCHESTRATOR__V1__ANSWER_AUDIT_REQUEST__INIT;
  cpc_rpc_client_callbacks cb = {on_audit_done, NULL, on_audit_end};
  uint8_t proof[32] = {0}, buf[256];
  uint8_t *data = NULL;
  size_t dlen = 0, len;
  cpc_cid cid;
  call_ctx *c;
  int rc;
  if (!a->cid || cpc_cid_parse(a->cid, &cid) != 0 || a->nonce.len != 32) {
    cpc__node_logf(n, "audit %" PRIu64 ": malformed challenge; ignored",
                   a->audit_id);
    return;
  }
  rc = cpc_blockstore_get_alloc(n->bs, &cid, &data, &dlen);
  if (rc == CPC_ENOENT) {
    cpc__node_logf(n, "audit %" PRIu64 ": block %s is not held; reporting "
                      "it missing", a->audit_id, a->cid);
    cpc__work_report_corrupt(n, a->cid, "missing (audit)");
    return;
  }
  if (rc != 0) {
    cpc__node_logf(n, "audit %" PRIu64 ": cannot read %s: %s", a->audit_id,
                   a->cid, cpc_strerror(rc));
    return;
  }
  rc = cpc_node_audit_proof(data, dlen, a->offset, a->length, a->nonce.data,
                            proof);
  free(data);
  if (rc != 0)
    cpc__node_logf(n, "audit %" PRIu64 ": range %" PRIu64 "+%" PRIu64
                      " is outside %s (%zu bytes); answering anyway",
                   a->audit_id, a->offset, a->length, a->cid, dlen);
  r.audit_id = a->audit_id;
  r.proof.data = proof;
  r.proof.len = sizeof proof;
  len = cpc__orchestrator__v1__answer_audit_request__get_packed_size(&r);
  cpc__orchestrator__v1__answer_audit_request__pack(&r, buf);
  c = calloc(1, sizeof *c);
  if (!c)
    return;
  c->n = n;
  c->work_id = a->audit_id;
  snprintf(c->cid, sizeof c->cid, "%s", a->cid);
  if (cpc__session_unary(n, "AnswerAudit", buf, len, &cb, c) != 0)
    free(c);
}

/* ---- orders ------------------------------------------------------------------------------ */

/* The sources of r as text lines, each address ending in /p2p/<id>. */
static char *sources_text(const Cpc__Orchestrator__V1__Replicate *r) {
  size_t i, j, cap = 1, used = 0, count = 0;
  char *out;
  for (i = 0; i < r->n_sources; i++)
    for (j = 0; j < r->sources[i]->n_addrs; j++)
      cap += strlen(r->sources[i]->addrs[j]) + CPC_PEER_ID_MAX_TEXT + 8;
  out = malloc(cap);
  if (!out)
    return NULL;
  out[0] = '\0';
  for (i = 0; i < r->n_sources; i++) {
    const Cpc__Orchestrator__V1__Source *s = r->sources[i];
    cpc_peer_id pid;
    int has_pid = s->peer_id && *s->peer_id &&
                  cpc_peer_id_parse(s->peer_id, &pid) == 0;
    for (j = 0; j < s->n_addrs && count < CPC__NODE_MAX_SRC_ADDRS; j++) {
      cpc_multiaddr ma;
      uint8_t tmp[CPC_PEER_ID_MAX_BYTES + 8];
      size_t tl;
      char text[CPC_NODE_MAX_ADDR * 2];
      const char *a = s->addrs[j];
      if (cpc_multiaddr_parse(&ma, a, strlen(a)) != 0)
        continue;
      if (cpc_multiaddr_peer_id(&ma, tmp, sizeof tmp, &tl) == CPC_ENOENT) {
        if (!has_pid || cpc_multiaddr_append_p2p(&ma, pid.bytes, pid.len) != 0)
          continue;
      }
      if (cpc_multiaddr_format(&ma, text, sizeof text, NULL) != 0)
        continue;
      used += (size_t)snprintf(out + used, cap - used, "%s%s",
                               count ? "\n" : "", text);
      count++;
    }
  }
  return out;
}

static void on_pump_timer(uv_timer_t *t);

static void handle(cpc_node *n, const uint8_t *msg, size_t len,
                   int from_journal) {
  Cpc__Orchestrator__V1__Work *m;
  cpc__work *w = NULL;
  const char *cid_text;
  int rc;
  m = len <= CPC__NODE_MAX_WORK_MSG
          ? cpc__orchestrator__v1__work__unpack(NULL, len, msg)
          : NULL;
  if (!m) {
    cpc__node_logf(n, "work stream: malformed Work message (%zu bytes); "
                      "ignored", len);
    return;
  }
  switch (m->kind_case) {
  case CPC__ORCHESTRATOR__V1__WORK__KIND_AUDIT:
    do_audit(n, m->audit);
    goto out;
  case CPC__ORCHESTRATOR__V1__WORK__KIND_REPLICATE:
    cid_text = m->replicate->cid;
    break;
  case CPC__ORCHESTRATOR__V1__WORK__KIND_DELETE:
    cid_text = m->delete_->cid;
    break;
  default:
    if (m->work_id == 0)
      cpc__node_logf(n, "work stream open: waiting for orders");
    goto out;
  }
  if (find(n, m->work_id))
    goto out; /* sent again after its deadline: already under way */
  w = calloc(1, sizeof *w);
  if (!w)
    goto out;
  w->work_id = m->work_id;
  w->kind = m->kind_case == CPC__ORCHESTRATOR__V1__WORK__KIND_REPLICATE
                ? CPC__W_REPLICATE
                : CPC__W_DELETE;
  if (!cid_text || strlen(cid_text) >= sizeof w->cid_text ||
      cpc_cid_parse(cid_text, &w->cid) != 0) {
    cpc__node_logf(n, "work %" PRIu64 ": bad CID; ignored", m->work_id);
    free(w);
    goto out;
  }
  snprintf(w->cid_text, sizeof w->cid_text, "%s", cid_text);
  if (w->kind == CPC__W_REPLICATE) {
    w->size = m->replicate->size;
    w->sources = sources_text(m->replicate);
    if (!w->sources) {
      free(w);
      goto out;
    }
  }
  if (!from_journal && (rc = cpc__journal_write(n, w->work_id, msg, len)) != 0) {
    cpc__node_logf(n, "journal: cannot record work %" PRIu64 " (%s); the "
                      "orchestrator will send it again", w->work_id,
                   cpc_strerror(rc));
    free(w->sources);
    free(w);
    goto out;
  }
  w->next = n->works;
  n->works = w;
  n->n_works++;
  cpc_metrics_gauge_set(n->m.work_pending, (double)n->n_works);
  if (from_journal && w->kind == CPC__W_REPLICATE)
    cpc__node_logf(n, "resuming replicate %s (work %" PRIu64 ")", w->cid_text,
                   w->work_id);
  /* orders come in bursts (one stream read holds many): gather them a few
   * milliseconds so they share fetch sessions */
  if (!uv_is_active((uv_handle_t *)&n->pump_timer))
    uv_timer_start(&n->pump_timer, on_pump_timer, COALESCE_MS, 0);
  confirm_all(n);
out:
  cpc__orchestrator__v1__work__free_unpacked(m, NULL);
}

static void on_pump_timer(uv_timer_t *t) { pump(t->data); }

void cpc__work_on_message(cpc_node *n, const uint8_t *msg, size_t len) {
  handle(n, msg, len, 0);
}

static void replay_one(cpc_node *n, const uint8_t *msg, size_t len) {
  handle(n, msg, len, 1);
}

/* ---- timer, start, stop ------------------------------------------------------------------ */

static void on_work_tick(uv_timer_t *t) {
  cpc_node *n = t->data;
  uint64_t now = cpc__node_now_ms();
  cpc__fetch_batch *b, *next;
  for (b = n->batches; b; b = next) {
    next = b->next;
    if (now >= b->deadline)
      batch_end(b, CPC_ETIMEDOUT);
  }
  start_sync(n);
  pump(n);
  send_reports(n);
  provide_pump(n);
}

static int provide_held(void *arg, const cpc_multihash *mh, size_t len) {
  (void)len;
  cpc__work_provide(arg, mh);
  return 0;
}

int cpc__work_init(cpc_node *n) {
  int rc;
  n->provides_tail = &n->provides;
  uv_timer_init(n->loop, &n->pump_timer);
  n->pump_timer.data = n;
  rc = cpc__journal_replay(n, replay_one);
  if (rc != 0)
    return rc;
  if (n->n_works)
    cpc__node_logf(n, "journal: %zu orders pending from the last run",
                   n->n_works);
  if (n->net && cpc_net_dht(n->net))
    (void)cpc_blockstore_list(n->bs, provide_held, n);
  uv_timer_init(n->loop, &n->work_timer);
  n->work_timer.data = n;
  uv_timer_start(&n->work_timer, on_work_tick, WORK_TICK_MS, WORK_TICK_MS);
  return 0;
}

void cpc__work_flush(cpc_node *n) {
  n->confirm_retry_at = 0;
  confirm_all(n);
  send_reports(n);
}

size_t cpc__work_pending(const cpc_node *n) { return n->n_works; }

void cpc__work_stop(cpc_node *n) {
  struct cpc__report *r;
  struct cpc__provide *p;
  while (n->batches)
    batch_free(n, n->batches);
  while (n->works)
    work_free(n, n->works);
  while ((r = n->reports)) {
    n->reports = r->next;
    free(r);
  }
  while ((p = n->provides)) {
    n->provides = p->next;
    free(p);
  }
  n->provides_tail = &n->provides;
  n->n_confirming = 0;
}
