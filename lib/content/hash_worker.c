/*
 * hash_worker.c: one thread that BLAKE3-hashes encrypted chunks, so hashing
 * block n overlaps encrypting block n + 1 on the caller's thread.
 */
#include "content/content_int.h"
#include "cpc/blake3.h"
#include "cpc/error.h"

static void *worker_main(void *arg) {
  cpc__hash_worker *w = arg;
  pthread_mutex_lock(&w->lock);
  for (;;) {
    while (w->count == 0 && !w->stop)
      pthread_cond_wait(&w->wake, &w->lock);
    if (w->count == 0)
      break; /* stop, queue drained */
    cpc__hash_job *job = w->queue[w->head];
    pthread_mutex_unlock(&w->lock);
    cpc_blake3(job->data, job->len, job->digest);
    pthread_mutex_lock(&w->lock);
    w->head = (w->head + 1) % CPC__HASH_QUEUE;
    w->count--;
    job->state = 2;
    pthread_cond_broadcast(&w->done);
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

int cpc__hash_worker_start(cpc__hash_worker *w) {
  w->head = w->count = 0;
  w->stop = 0;
  w->started = 0;
  if (pthread_mutex_init(&w->lock, NULL) != 0)
    return CPC_EAGAIN;
  if (pthread_cond_init(&w->wake, NULL) != 0)
    goto fail_wake;
  if (pthread_cond_init(&w->done, NULL) != 0)
    goto fail_done;
  if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
    goto fail_thread;
  w->started = 1;
  return 0;
fail_thread:
  pthread_cond_destroy(&w->done);
fail_done:
  pthread_cond_destroy(&w->wake);
fail_wake:
  pthread_mutex_destroy(&w->lock);
  return CPC_EAGAIN;
}

int cpc__hash_worker_submit(cpc__hash_worker *w, cpc__hash_job *job) {
  int rc = 0;
  pthread_mutex_lock(&w->lock);
  if (w->count == CPC__HASH_QUEUE) {
    rc = CPC_EAGAIN;
  } else {
    job->state = 1;
    w->queue[(w->head + w->count) % CPC__HASH_QUEUE] = job;
    w->count++;
    pthread_cond_signal(&w->wake);
  }
  pthread_mutex_unlock(&w->lock);
  return rc;
}

void cpc__hash_worker_wait(cpc__hash_worker *w, cpc__hash_job *job) {
  pthread_mutex_lock(&w->lock);
  while (job->state == 1)
    pthread_cond_wait(&w->done, &w->lock);
  pthread_mutex_unlock(&w->lock);
}

void cpc__hash_worker_stop(cpc__hash_worker *w) {
  if (!w->started)
    return;
  pthread_mutex_lock(&w->lock);
  w->stop = 1;
  pthread_cond_signal(&w->wake);
  pthread_mutex_unlock(&w->lock);
  pthread_join(w->thread, NULL);
  pthread_cond_destroy(&w->done);
  pthread_cond_destroy(&w->wake);
  pthread_mutex_destroy(&w->lock);
  w->started = 0;
}
