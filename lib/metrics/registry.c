/* registry.c: the metrics registry and its families (see cpc/metrics.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "metrics/metrics_int.h"

/* Prometheus' customary latency buckets, in seconds. */
static const double default_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                        0.5,   1,    2.5,   5,    10};

/* Suffixes the exposition adds to sample names, so no family may own one. */
static const char *const reserved_suffixes[] = {
    "_total", "_created", "_bucket", "_sum", "_count", "_info"};

int cpc_metrics_new(size_t max_series_per_family, cpc_metrics **out) {
  if (!out)
    return CPC_EINVAL;
  *out = NULL;
  cpc_metrics *m = calloc(1, sizeof *m);
  if (!m)
    return CPC_ENOMEM;
  if (pthread_mutex_init(&m->lock, NULL) != 0) {
    free(m);
    return CPC_ENOMEM;
  }
  m->max_series =
      max_series_per_family ? max_series_per_family : CPC_METRICS_DEFAULT_MAX_SERIES;
  *out = m;
  return 0;
}

static void family_free(cpc_metrics_family *f) {
  if (!f)
    return;
  cpc__metrics_family_free_series(f);
  for (size_t i = 0; i < f->n_labels; i++)
    free(f->labels[i]);
  free(f->labels);
  free(f->bounds);
  free(f->name);
  free(f->unit);
  free(f->help);
  pthread_mutex_destroy(&f->lock);
  free(f);
}

void cpc_metrics_free(cpc_metrics *m) {
  if (!m)
    return;
  for (size_t i = 0; i < m->n_families; i++)
    family_free(m->families[i]);
  free(m->families);
  pthread_mutex_destroy(&m->lock);
  free(m);
}

int cpc_metrics_on_collect(cpc_metrics *m, cpc_metrics_collect_fn fn,
                           void *arg) {
  if (!m)
    return CPC_EINVAL;
  pthread_mutex_lock(&m->lock);
  m->collect = fn;
  m->collect_arg = fn ? arg : NULL;
  pthread_mutex_unlock(&m->lock);
  return 0;
}

static int is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* [a-zA-Z_:][a-zA-Z0-9_:]* , at most CPC_METRICS_MAX_NAME bytes. */
static int metric_name_ok(const char *s) {
  size_t n = s ? strnlen(s, CPC_METRICS_MAX_NAME + 1) : 0;
  if (n == 0 || n > CPC_METRICS_MAX_NAME)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!(is_alpha(c) || c == '_' || c == ':' || (i > 0 && is_digit(c))))
      return 0;
  }
  for (size_t i = 0; i < sizeof reserved_suffixes / sizeof *reserved_suffixes;
       i++) {
    size_t k = strlen(reserved_suffixes[i]);
    if (n >= k && strcmp(s + n - k, reserved_suffixes[i]) == 0)
      return 0;
  }
  return 1;
}

/* [a-zA-Z_][a-zA-Z0-9_]* , not "__…", at most CPC_METRICS_MAX_NAME bytes. */
static int label_name_ok(const char *s) {
  size_t n = s ? strnlen(s, CPC_METRICS_MAX_NAME + 1) : 0;
  if (n == 0 || n > CPC_METRICS_MAX_NAME)
    return 0;
  if (n >= 2 && s[0] == '_' && s[1] == '_')
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!(is_alpha(c) || c == '_' || (i > 0 && is_digit(c))))
      return 0;
  }
  return 1;
}

/* The unit: [a-zA-Z0-9_:]+ and name ends in "_<unit>". */
static int unit_ok(const char *name, const char *unit) {
  size_t n = strlen(name), u = strnlen(unit, CPC_METRICS_MAX_NAME + 1);
  if (u == 0 || u > CPC_METRICS_MAX_NAME)
    return 0;
  for (size_t i = 0; i < u; i++)
    if (!(is_alpha(unit[i]) || is_digit(unit[i]) || unit[i] == '_' ||
          unit[i] == ':'))
      return 0;
  return n > u + 1 && name[n - u - 1] == '_' && strcmp(name + n - u, unit) == 0;
}

static int check_labels(enum cpc__metrics_type type, const char *const *labels,
                        size_t n) {
  if (n > CPC_METRICS_MAX_LABELS || (n && !labels))
    return CPC_EINVAL;
  for (size_t i = 0; i < n; i++) {
    if (!label_name_ok(labels[i]))
      return CPC_EINVAL;
    if (type == CPC__METRICS_HISTOGRAM && strcmp(labels[i], "le") == 0)
      return CPC_EINVAL;
    for (size_t j = 0; j < i; j++)
      if (strcmp(labels[i], labels[j]) == 0)
        return CPC_EINVAL;
  }
  return 0;
}

/* Validates bounds; *n_out is the count without a trailing +Inf. */
static int check_bounds(const double *b, size_t n, size_t *n_out) {
  if (n && !b)
    return CPC_EINVAL;
  if (n && isinf(b[n - 1]) && b[n - 1] > 0)
    n--;
  if (n > CPC_METRICS_MAX_BUCKETS)
    return CPC_EINVAL;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(b[i]) || (i > 0 && !(b[i] > b[i - 1])))
      return CPC_EINVAL;
  }
  *n_out = n;
  return 0;
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

static int family_new(cpc_metrics *m, enum cpc__metrics_type type,
                      const char *name, const char *unit, const char *help,
                      const char *const *labels, size_t n_labels,
                      const double *bounds, size_t n_bounds,
                      cpc_metrics_family **out) {
  int rc = 0;
  cpc_metrics_family *f = NULL;
  if (out)
    *out = NULL;
  if (!m || !out || !metric_name_ok(name) || !help)
    return CPC_EINVAL;
  if (unit && *unit && !unit_ok(name, unit))
    return CPC_EINVAL;
  size_t help_len = strnlen(help, CPC_METRICS_MAX_HELP + 1);
  if (help_len == 0 || help_len > CPC_METRICS_MAX_HELP ||
      !cpc__metrics_utf8_valid(help, help_len))
    return CPC_EINVAL;
  rc = check_labels(type, labels, n_labels);
  if (rc)
    return rc;
  if (type == CPC__METRICS_HISTOGRAM) {
    if (!bounds && n_bounds == 0) {
      bounds = default_bounds;
      n_bounds = sizeof default_bounds / sizeof *default_bounds;
    }
    rc = check_bounds(bounds, n_bounds, &n_bounds);
    if (rc)
      return rc;
  } else {
    n_bounds = 0;
  }

  f = calloc(1, sizeof *f);
  if (!f)
    return CPC_ENOMEM;
  if (pthread_mutex_init(&f->lock, NULL) != 0) {
    free(f);
    return CPC_ENOMEM;
  }
  f->registry = m;
  f->type = type;
  f->max_series = m->max_series;
  f->name = dup_str(name);
  f->help = dup_str(help);
  f->unit = unit && *unit ? dup_str(unit) : NULL;
  if (!f->name || !f->help || (unit && *unit && !f->unit)) {
    rc = CPC_ENOMEM;
    goto out;
  }
  if (n_labels) {
    f->labels = calloc(n_labels, sizeof *f->labels);
    if (!f->labels) {
      rc = CPC_ENOMEM;
      goto out;
    }
    for (; f->n_labels < n_labels; f->n_labels++) {
      f->labels[f->n_labels] = dup_str(labels[f->n_labels]);
      if (!f->labels[f->n_labels]) {
        rc = CPC_ENOMEM;
        goto out;
      }
    }
  }
  if (n_bounds) {
    f->bounds = malloc(n_bounds * sizeof *f->bounds);
    if (!f->bounds) {
      rc = CPC_ENOMEM;
      goto out;
    }
    memcpy(f->bounds, bounds, n_bounds * sizeof *f->bounds);
    f->n_bounds = n_bounds;
  }
  if (n_labels == 0) {
    cpc_metrics_series *s;
    rc = cpc__metrics_series_create(f, NULL, &s);
    if (rc)
      goto out;
  }

  pthread_mutex_lock(&m->lock);
  for (size_t i = 0; i < m->n_families; i++) {
    if (strcmp(m->families[i]->name, name) == 0) {
      rc = CPC_EEXIST;
      break;
    }
  }
  if (!rc && m->n_families == CPC_METRICS_MAX_FAMILIES)
    rc = CPC_ETOOBIG;
  if (!rc && m->n_families == m->cap_families) {
    size_t cap = m->cap_families ? m->cap_families * 2 : 16;
    cpc_metrics_family **p = realloc(m->families, cap * sizeof *p);
    if (!p)
      rc = CPC_ENOMEM;
    else {
      m->families = p;
      m->cap_families = cap;
    }
  }
  if (!rc)
    m->families[m->n_families++] = f;
  pthread_mutex_unlock(&m->lock);

out:
  if (rc) {
    family_free(f);
    return rc;
  }
  *out = f;
  return 0;
}

int cpc_metrics_counter_new(cpc_metrics *m, const char *name, const char *unit,
                            const char *help, const char *const *labels,
                            size_t n_labels, cpc_metrics_family **out) {
  return family_new(m, CPC__METRICS_COUNTER, name, unit, help, labels,
                    n_labels, NULL, 0, out);
}

int cpc_metrics_gauge_new(cpc_metrics *m, const char *name, const char *unit,
                          const char *help, const char *const *labels,
                          size_t n_labels, cpc_metrics_family **out) {
  return family_new(m, CPC__METRICS_GAUGE, name, unit, help, labels, n_labels,
                    NULL, 0, out);
}

int cpc_metrics_histogram_new(cpc_metrics *m, const char *name,
                              const char *unit, const char *help,
                              const char *const *labels, size_t n_labels,
                              const double *bounds, size_t n_bounds,
                              cpc_metrics_family **out) {
  return family_new(m, CPC__METRICS_HISTOGRAM, name, unit, help, labels,
                    n_labels, bounds, n_bounds, out);
}
