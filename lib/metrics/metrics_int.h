/*
 * metrics_int.h: the registry's data structures, shared by the files of
 * lib/metrics (registry.c, series.c, exposition.c). Not a public API.
 */
#ifndef CPC_METRICS_INT_H
#define CPC_METRICS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cpc/metrics.h"

enum cpc__metrics_type {
  CPC__METRICS_COUNTER,
  CPC__METRICS_GAUGE,
  CPC__METRICS_HISTOGRAM
};

struct cpc_metrics_series {
  cpc_metrics_family *family;
  uint64_t hash;        /* of the label values, for the family's table */
  char **values;        /* family->n_labels strings, one allocation */
  _Atomic uint64_t bits; /* counter/gauge value, or histogram sum (double) */
  /* histogram: family->n_bounds + 1 non-cumulative counts, the last for
   * observations above every bound (+Inf) */
  _Atomic uint64_t counts[];
};

struct cpc_metrics_family {
  cpc_metrics *registry;
  enum cpc__metrics_type type;
  char *name;
  char *unit; /* NULL when none */
  char *help;
  char **labels;
  size_t n_labels;
  double *bounds; /* histogram only, finite, increasing */
  size_t n_bounds;
  size_t max_series;

  pthread_mutex_t lock; /* guards everything below */
  cpc_metrics_series **series; /* creation order */
  size_t n_series;
  size_t cap_series;
  cpc_metrics_series **table; /* open addressing, power-of-two size */
  size_t table_size;
};

struct cpc_metrics {
  pthread_mutex_t lock; /* guards families and rendering order */
  cpc_metrics_family **families;
  size_t n_families;
  size_t cap_families;
  size_t max_series;
  cpc_metrics_collect_fn collect;
  void *collect_arg;
};

/* series.c */
int cpc__metrics_series_create(cpc_metrics_family *f,
                               const char *const *values,
                               cpc_metrics_series **out);
void cpc__metrics_family_free_series(cpc_metrics_family *f);
int cpc__metrics_utf8_valid(const char *s, size_t len);

/* Doubles live in atomics as their IEEE 754 bit patterns. */
double cpc__metrics_load(const _Atomic uint64_t *a);

#endif /* CPC_METRICS_INT_H */
