/*
 * bridge.c: hands work from the API and sync threads to the loop thread
 * (the host, Bitswap and the DHT are single-threaded): a queue under a
 * mutex, drained by a uv_async_t.
 */
#include <stdlib.h>

#include "cpc/error.h"
#include "pds/pds_int.h"

struct cpc__pds_job {
  cpc__pds_loop_fn fn;
  void *arg;
  cpc__pds_job *next;
};

static void drain(cpc_pds *p, int closing) {
  cpc__pds_job *j;
  for (;;) {
    pthread_mutex_lock(&p->jobs_mu);
    j = p->jobs;
    if (j) {
      p->jobs = j->next;
      if (!p->jobs)
        p->jobs_tail = NULL;
    }
    pthread_mutex_unlock(&p->jobs_mu);
    if (!j)
      return;
    j->fn(p, j->arg, closing || atomic_load(&p->closing));
    free(j);
  }
}

static void on_async(uv_async_t *h) { drain(h->data, 0); }

int cpc__pds_bridge_init(cpc_pds *p) {
  if (uv_async_init(p->loop, &p->async, on_async) != 0)
    return CPC_ENOMEM;
  p->async.data = p;
  p->async_open = 1;
  return 0;
}

int cpc__pds_loop_post(cpc_pds *p, cpc__pds_loop_fn fn, void *arg) {
  cpc__pds_job *j = calloc(1, sizeof *j);
  if (!j)
    return CPC_ENOMEM;
  j->fn = fn;
  j->arg = arg;
  pthread_mutex_lock(&p->jobs_mu);
  if (p->jobs_closed) {
    pthread_mutex_unlock(&p->jobs_mu);
    free(j);
    return CPC_ECLOSED;
  }
  if (p->jobs_tail)
    p->jobs_tail->next = j;
  else
    p->jobs = j;
  p->jobs_tail = j;
  uv_async_send(&p->async);
  pthread_mutex_unlock(&p->jobs_mu);
  return 0;
}

void cpc__pds_bridge_close(cpc_pds *p) {
  if (!p->async_open)
    return;
  pthread_mutex_lock(&p->jobs_mu);
  p->jobs_closed = 1;
  pthread_mutex_unlock(&p->jobs_mu);
  drain(p, 1);
  uv_close((uv_handle_t *)&p->async, NULL);
  p->async_open = 0;
}
