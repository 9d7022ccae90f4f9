/*
 * hash_worker.c: one thread that BLAKE3-hashes encrypted chunks, so hashing
 * block n overlaps encrypting block n + 1 on the caller's thread. It also
 * runs the compression probe of chunk n + 1 while chunk n is encrypted.
 *
 * A 256 KiB chunk takes about 60 us to encrypt and 40 us to hash, so the
 * worker idles about a third of the time. Sleeping on a condition variable
 * after every job cost a futex wake per chunk on the caller's side (about
 * 7 us on a virtual machine: a tenth of the pipeline's time). So both sides
 * first spin for up to SPIN_NS on the shared counters and sleep only when
 * the other side is stalled (input or sink slow, end of stream); the one
 * that makes progress signals only if the other flagged that it sleeps.
 * The flag protocol (store own flag, then load the other side's counter;
 * all seq_cst) guarantees that a sleeper is always seen and woken.
 */
#include <sched.h>
#include <time.h>

#include "content/content_int.h"
#include "cpc/blake3.h"
#include "cpc/error.h"

#define SPIN_NS 50000 /* 50 us: most of a 256 KiB chunk's time */

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/*
 * Spin until ready(w, arg) or SPIN_NS pass; 1 if it became ready. Between
 * short bursts of pause the thread yields its CPU: if the other side of the
 * pipeline shares it (a busy machine), it runs instead of waiting for a
 * time slice to end; on an idle CPU the yield returns at once.
 */
static int spin_until(int (*ready)(cpc__hash_worker *, void *),
                      cpc__hash_worker *w, void *arg) {
  uint64_t start = now_ns();
  for (;;) {
    for (int i = 0; i < 32; i++) {
      if (ready(w, arg))
        return 1;
      cpu_relax();
    }
    if (now_ns() - start > SPIN_NS)
      return 0;
    sched_yield();
  }
}

static int work_ready(cpc__hash_worker *w, void *arg) {
  (void)arg;
  return atomic_load(&w->submitted) != atomic_load(&w->completed) ||
         atomic_load(&w->stop);
}

static int job_done(cpc__hash_worker *w, void *arg) {
  (void)w;
  return atomic_load(&((cpc__hash_job *)arg)->state) != 1;
}

static void *worker_main(void *arg) {
  cpc__hash_worker *w = arg;
  for (;;) {
    if (!spin_until(work_ready, w, NULL)) {
      pthread_mutex_lock(&w->lock);
      atomic_store(&w->worker_sleeps, 1);
      while (!work_ready(w, NULL))
        pthread_cond_wait(&w->wake, &w->lock);
      atomic_store(&w->worker_sleeps, 0);
      pthread_mutex_unlock(&w->lock);
    }
    size_t done = atomic_load(&w->completed);
    if (atomic_load(&w->submitted) == done)
      break; /* stop, queue drained */
    cpc__hash_job *job = w->queue[done % CPC__HASH_QUEUE];
    if (job->probe_cctx)
      job->pays = cpc__compress_probe(job->probe_cctx, job->data, job->len,
                                      job->scratch, job->scratch_cap);
    else
      cpc_blake3(job->data, job->len, job->digest);
    atomic_store(&job->state, 2);
    atomic_store(&w->completed, done + 1);
    if (atomic_load(&w->caller_sleeps)) {
      pthread_mutex_lock(&w->lock);
      pthread_cond_broadcast(&w->done);
      pthread_mutex_unlock(&w->lock);
    }
  }
  return NULL;
}

int cpc__hash_worker_start(cpc__hash_worker *w) {
  atomic_init(&w->submitted, 0);
  atomic_init(&w->completed, 0);
  atomic_init(&w->worker_sleeps, 0);
  atomic_init(&w->caller_sleeps, 0);
  atomic_init(&w->stop, 0);
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

static void wake_worker(cpc__hash_worker *w) {
  if (atomic_load(&w->worker_sleeps)) {
    pthread_mutex_lock(&w->lock);
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
  }
}

int cpc__hash_worker_submit(cpc__hash_worker *w, cpc__hash_job *job) {
  size_t n = atomic_load(&w->submitted);
  if (n - atomic_load(&w->completed) == CPC__HASH_QUEUE)
    return CPC_EAGAIN;
  atomic_store(&job->state, 1);
  w->queue[n % CPC__HASH_QUEUE] = job;
  atomic_store(&w->submitted, n + 1);
  wake_worker(w);
  return 0;
}

void cpc__hash_worker_wait(cpc__hash_worker *w, cpc__hash_job *job) {
  if (spin_until(job_done, w, job))
    return;
  pthread_mutex_lock(&w->lock);
  atomic_store(&w->caller_sleeps, 1);
  while (!job_done(w, job))
    pthread_cond_wait(&w->done, &w->lock);
  atomic_store(&w->caller_sleeps, 0);
  pthread_mutex_unlock(&w->lock);
}

void cpc__hash_worker_stop(cpc__hash_worker *w) {
  if (!w->started)
    return;
  atomic_store(&w->stop, 1);
  pthread_mutex_lock(&w->lock);
  pthread_cond_signal(&w->wake);
  pthread_mutex_unlock(&w->lock);
  pthread_join(w->thread, NULL);
  pthread_cond_destroy(&w->done);
  pthread_cond_destroy(&w->wake);
  pthread_mutex_destroy(&w->lock);
  w->started = 0;
}
