/*
 * series.c: series lookup (a hash table per family, bounded) and the
 * lock-free value updates (see cpc/metrics.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "metrics/metrics_int.h"

static uint64_t bits_of(double v) {
  uint64_t b;
  memcpy(&b, &v, sizeof b);
  return b;
}

static double double_of(uint64_t b) {
  double v;
  memcpy(&v, &b, sizeof v);
  return v;
}

double cpc__metrics_load(const _Atomic uint64_t *a) {
  return double_of(atomic_load_explicit((_Atomic uint64_t *)a,
                                        memory_order_relaxed));
}

static void atomic_add_double(_Atomic uint64_t *a, double v) {
  uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(
      a, &old, bits_of(double_of(old) + v), memory_order_relaxed,
      memory_order_relaxed)) {
  }
}

/* Strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
int cpc__metrics_utf8_valid(const char *str, size_t len) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < len) {
    unsigned c = s[i];
    size_t n;
    uint32_t cp, min;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return 0;
    }
    if (len - i - 1 < n)
      return 0;
    for (size_t k = 1; k <= n; k++) {
      if ((s[i + k] & 0xc0) != 0x80)
        return 0;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    i += n + 1;
  }
  return 1;
}

/* FNV-1a over the values, each followed by 0xff (never in UTF-8). */
static uint64_t hash_values(const char *const *values, size_t n) {
  uint64_t h = 0xcbf29ce484222325u;
  for (size_t i = 0; i < n; i++) {
    for (const unsigned char *p = (const unsigned char *)values[i]; *p; p++)
      h = (h ^ *p) * 0x100000001b3u;
    h = (h ^ 0xff) * 0x100000001b3u;
  }
  return h;
}

static int same_values(const cpc_metrics_series *s, const char *const *values,
                       size_t n) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(s->values[i], values[i]) != 0)
      return 0;
  return 1;
}

/* Inserts s into a table that has a free slot. */
static void table_put(cpc_metrics_series **table, size_t size,
                      cpc_metrics_series *s) {
  size_t i = (size_t)s->hash & (size - 1);
  while (table[i])
    i = (i + 1) & (size - 1);
  table[i] = s;
}

/* Keeps the table at most half full. Called with f->lock held. */
static int table_reserve(cpc_metrics_family *f) {
  if ((f->n_series + 1) * 2 <= f->table_size)
    return 0;
  size_t size = f->table_size ? f->table_size * 2 : 8;
  cpc_metrics_series **t = calloc(size, sizeof *t);
  if (!t)
    return CPC_ENOMEM;
  for (size_t i = 0; i < f->n_series; i++)
    table_put(t, size, f->series[i]);
  free(f->table);
  f->table = t;
  f->table_size = size;
  return 0;
}

static cpc_metrics_series *table_find(const cpc_metrics_family *f,
                                      uint64_t h, const char *const *values) {
  if (!f->table_size)
    return NULL;
  size_t i = (size_t)h & (f->table_size - 1);
  for (cpc_metrics_series *s; (s = f->table[i]) != NULL;
       i = (i + 1) & (f->table_size - 1)) {
    if (s->hash == h && same_values(s, values, f->n_labels))
      return s;
  }
  return NULL;
}

/*
 * Creates and records a series for values (already validated, not present).
 * The caller holds f->lock, or f is still under construction (no other
 * thread can see it yet).
 */
static int series_add(cpc_metrics_family *f, const char *const *values,
                      uint64_t h, cpc_metrics_series **out) {
  size_t n_counts = f->type == CPC__METRICS_HISTOGRAM ? f->n_bounds + 1 : 0;
  size_t bytes = f->n_labels * sizeof(char *);
  for (size_t i = 0; i < f->n_labels; i++)
    bytes += strlen(values[i]) + 1;
  if (f->n_series >= f->max_series)
    return CPC_ENOSPC;
  if (table_reserve(f))
    return CPC_ENOMEM;
  if (f->n_series == f->cap_series) {
    size_t cap = f->cap_series ? f->cap_series * 2 : 4;
    cpc_metrics_series **p = realloc(f->series, cap * sizeof *p);
    if (!p)
      return CPC_ENOMEM;
    f->series = p;
    f->cap_series = cap;
  }
  cpc_metrics_series *s =
      calloc(1, sizeof *s + n_counts * sizeof(_Atomic uint64_t));
  if (!s)
    return CPC_ENOMEM;
  if (bytes) {
    s->values = malloc(bytes);
    if (!s->values) {
      free(s);
      return CPC_ENOMEM;
    }
    char *text = (char *)(s->values + f->n_labels);
    for (size_t i = 0; i < f->n_labels; i++) {
      size_t n = strlen(values[i]) + 1;
      memcpy(text, values[i], n);
      s->values[i] = text;
      text += n;
    }
  }
  s->family = f;
  s->hash = h;
  atomic_init(&s->bits, bits_of(0.0));
  for (size_t i = 0; i < n_counts; i++)
    atomic_init(&s->counts[i], 0);
  f->series[f->n_series++] = s;
  table_put(f->table, f->table_size, s);
  *out = s;
  return 0;
}

int cpc__metrics_series_create(cpc_metrics_family *f,
                               const char *const *values,
                               cpc_metrics_series **out) {
  static const char *const none[1] = {NULL};
  if (!values)
    values = none;
  return series_add(f, values, hash_values(values, f->n_labels), out);
}

void cpc__metrics_family_free_series(cpc_metrics_family *f) {
  for (size_t i = 0; i < f->n_series; i++) {
    free(f->series[i]->values);
    free(f->series[i]);
  }
  free(f->series);
  free(f->table);
  f->series = NULL;
  f->table = NULL;
  f->n_series = f->cap_series = f->table_size = 0;
}

int cpc_metrics_series_get(cpc_metrics_family *f, const char *const *values,
                           size_t n_values, cpc_metrics_series **out) {
  if (out)
    *out = NULL;
  if (!f || !out || n_values != f->n_labels || (n_values && !values))
    return CPC_EINVAL;
  for (size_t i = 0; i < n_values; i++) {
    if (!values[i])
      return CPC_EINVAL;
    size_t n = strnlen(values[i], CPC_METRICS_MAX_VALUE + 1);
    if (n > CPC_METRICS_MAX_VALUE)
      return CPC_ETOOBIG;
    if (!cpc__metrics_utf8_valid(values[i], n))
      return CPC_EINVAL;
  }
  static const char *const none[1] = {NULL};
  if (!n_values)
    values = none;
  uint64_t h = hash_values(values, n_values);
  int rc = 0;
  pthread_mutex_lock(&f->lock);
  cpc_metrics_series *s = table_find(f, h, values);
  if (!s)
    rc = series_add(f, values, h, &s);
  pthread_mutex_unlock(&f->lock);
  if (rc)
    return rc;
  *out = s;
  return 0;
}

static int is_type(const cpc_metrics_series *s, enum cpc__metrics_type t) {
  return s && s->family->type == t;
}

void cpc_metrics_counter_add(cpc_metrics_series *s, double v) {
  if (!is_type(s, CPC__METRICS_COUNTER) || !(v >= 0))
    return;
  atomic_add_double(&s->bits, v);
}

void cpc_metrics_counter_inc(cpc_metrics_series *s) {
  cpc_metrics_counter_add(s, 1.0);
}

void cpc_metrics_gauge_set(cpc_metrics_series *s, double v) {
  if (!is_type(s, CPC__METRICS_GAUGE))
    return;
  atomic_store_explicit(&s->bits, bits_of(v), memory_order_relaxed);
}

void cpc_metrics_gauge_add(cpc_metrics_series *s, double v) {
  if (!is_type(s, CPC__METRICS_GAUGE))
    return;
  atomic_add_double(&s->bits, v);
}

void cpc_metrics_histogram_observe(cpc_metrics_series *s, double v) {
  if (!is_type(s, CPC__METRICS_HISTOGRAM) || !(v >= 0))
    return;
  const cpc_metrics_family *f = s->family;
  /* first bound >= v (a bucket counts observations <= its bound) */
  size_t lo = 0, hi = f->n_bounds;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (v <= f->bounds[mid])
      hi = mid;
    else
      lo = mid + 1;
  }
  atomic_fetch_add_explicit(&s->counts[lo], 1, memory_order_relaxed);
  atomic_add_double(&s->bits, v);
}

int cpc_metrics_value(const cpc_metrics_series *s, double *out) {
  if (!s || !out || s->family->type == CPC__METRICS_HISTOGRAM)
    return CPC_EINVAL;
  *out = cpc__metrics_load(&s->bits);
  return 0;
}
