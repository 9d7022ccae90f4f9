/*
 * node_scrub.c: the periodic scrub. Every scrub_interval_ms the block
 * store is re-hashed on the thread pool (cpc_blockstore_scrub); each block
 * whose bytes no longer match its CID is removed and reported to the
 * orchestrator (ReportCorrupt), which re-makes the replica elsewhere.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "node/node_int.h"

#define MAX_BAD 4096

struct cpc__scrub_job {
  cpc_node *n;
  cpc_blockstore_scrub_result res;
  int rc;
  size_t n_bad;
  cpc_multihash bad[MAX_BAD];
  int problem[MAX_BAD];
};

static int on_bad(void *arg, const cpc_multihash *mh, size_t len, int problem) {
  struct cpc__scrub_job *j = arg;
  (void)len;
  if (j->n_bad < MAX_BAD) {
    j->bad[j->n_bad] = *mh;
    j->problem[j->n_bad++] = problem;
  }
  return CPC_BLOCKSTORE_SCRUB_REMOVE;
}

static void scrub_work(uv_work_t *req) {
  struct cpc__scrub_job *j = req->data;
  j->rc = cpc_blockstore_scrub(j->n->bs, on_bad, j, &j->res);
}

static const char *problem_text(int p) {
  switch (p) {
  case CPC_EMISMATCH: return "bytes do not match the hash";
  case CPC_EMALFORMED: return "key is not a multihash";
  case CPC_ETOOBIG: return "block over the size limit";
  case CPC_EUNSUPPORTED: return "hash cannot be checked";
  default: return cpc_strerror(p);
  }
}

static void scrub_after(uv_work_t *req, int status) {
  struct cpc__scrub_job *j = req->data;
  cpc_node *n = j->n;
  size_t i;
  n->scrub_running = 0;
  n->scrub_job = NULL;
  if (n->closing) {
    free(j);
    cpc__node_pending_done(n);
    return;
  }
  cpc_metrics_counter_inc(n->m.scrubs);
  if (status != 0 || j->rc != 0) {
    cpc__node_logf(n, "scrub failed: %s",
                   cpc_strerror(j->rc ? j->rc : CPC_EIO));
    free(j);
    return;
  }
  cpc__node_logf(n, "scrub: %" PRIu64 " blocks checked, %" PRIu64
                    " corrupt, %" PRIu64 " removed",
                 j->res.checked, j->res.bad, j->res.removed);
  for (i = 0; i < j->n_bad; i++) {
    cpc_cid cid = {1, CPC_CODEC_RAW, j->bad[i]};
    char text[CPC_CID_MAX_TEXT];
    if (j->bad[i].code == 0 ||
        cpc_cid_format(&cid, CPC_MB_BASE32, text, sizeof text) != 0)
      continue;
    cpc_metrics_counter_inc(n->m.corrupt);
    cpc__node_logf(n, "scrub: block %s is corrupt (%s); removed, reporting "
                      "it", text, problem_text(j->problem[i]));
    cpc__work_report_corrupt(n, text, problem_text(j->problem[i]));
  }
  free(j);
}

static void on_scrub_timer(uv_timer_t *t) {
  cpc_node *n = t->data;
  struct cpc__scrub_job *j;
  if (n->scrub_running || n->closing)
    return;
  j = calloc(1, sizeof *j);
  if (!j)
    return;
  j->n = n;
  n->scrub_req.data = j;
  if (uv_queue_work(n->loop, &n->scrub_req, scrub_work, scrub_after) != 0) {
    free(j);
    return;
  }
  n->scrub_job = j;
  n->scrub_running = 1;
}

int cpc__scrub_start(cpc_node *n) {
  uv_timer_init(n->loop, &n->scrub_timer);
  n->scrub_timer.data = n;
  uv_timer_start(&n->scrub_timer, on_scrub_timer, n->cfg.scrub_interval_ms,
                 n->cfg.scrub_interval_ms);
  return 0;
}

void cpc__scrub_stop(cpc_node *n) { uv_timer_stop(&n->scrub_timer); }
