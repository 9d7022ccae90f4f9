/*
 * exposition.c: renders a registry as OpenMetrics 1.0 text or as the
 * Prometheus text format 0.0.4 (see cpc/metrics.h).
 *
 * Numbers are formatted with snprintf and read back with strtod, which
 * follow LC_NUMERIC: the process must keep the "C" numeric locale (the
 * default unless it calls setlocale).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "metrics/metrics_int.h"

/* A growable text buffer; the first allocation failure sticks in err. */
struct text {
  char *p;
  size_t len;
  size_t cap;
  int err;
};

static void put(struct text *t, const char *s, size_t n) {
  if (t->err)
    return;
  if (t->cap - t->len <= n) {
    size_t cap = t->cap ? t->cap : 4096;
    while (cap - t->len <= n)
      cap *= 2;
    char *p = realloc(t->p, cap);
    if (!p) {
      t->err = CPC_ENOMEM;
      return;
    }
    t->p = p;
    t->cap = cap;
  }
  memcpy(t->p + t->len, s, n);
  t->len += n;
  t->p[t->len] = '\0';
}

static void puts_(struct text *t, const char *s) { put(t, s, strlen(s)); }

/* Escapes backslash and newline, and the double quote when quote is set. */
static void put_escaped(struct text *t, const char *s, int quote) {
  const char *run = s;
  for (; *s; s++) {
    const char *esc = NULL;
    if (*s == '\\')
      esc = "\\\\";
    else if (*s == '\n')
      esc = "\\n";
    else if (*s == '"' && quote)
      esc = "\\\"";
    if (esc) {
      put(t, run, (size_t)(s - run));
      puts_(t, esc);
      run = s + 1;
    }
  }
  put(t, run, (size_t)(s - run));
}

/*
 * The shortest digits that read back as v, in exponent form when the
 * decimal exponent is < -4 or >= eprec, else in positional form. With
 * eprec 6 this is Go's %g layout, which OpenMetrics' canonical numbers
 * follow. v must be finite; eprec at most 21 (out holds 32 bytes).
 */
static void format_shortest(double v, int eprec, char out[32]) {
  char e[32];
  int p = 1;
  for (; p <= 17; p++) {
    snprintf(e, sizeof e, "%.*e", p - 1, v);
    if (strtod(e, NULL) == v)
      break;
  }
  if (p > 17)
    p = 17;
  const char *x = strchr(e, 'e');
  int exp = x ? atoi(x + 1) : 0;
  if (exp < -4 || exp >= eprec) {
    memcpy(out, e, strlen(e) + 1);
    return;
  }
  int decimals = p - 1 - exp;
  snprintf(out, 32, "%.*f", decimals > 0 ? decimals : 0, v);
}

/*
 * A sample value: integers as integers, else the shortest round-trip digits
 * (positional up to 1e21, like JavaScript, for readability).
 */
static void put_number(struct text *t, double v) {
  char buf[32];
  if (isnan(v))
    puts_(t, "NaN");
  else if (isinf(v))
    puts_(t, v > 0 ? "+Inf" : "-Inf");
  else if (v == 0)
    puts_(t, "0");
  else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
    snprintf(buf, sizeof buf, "%.0f", v);
    puts_(t, buf);
  } else {
    format_shortest(v, 21, buf);
    puts_(t, buf);
  }
}

static void put_u64(struct text *t, uint64_t v) {
  char buf[24];
  snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
  puts_(t, buf);
}

/* An "le" value in canonical form: 0.005, 1.0, 100000.0, 1e+06. */
static void put_le(struct text *t, double v) {
  char buf[36];
  format_shortest(v, 6, buf);
  if (!strpbrk(buf, ".e"))
    strcat(buf, ".0");
  puts_(t, buf);
}

/* name+suffix{labels[,le="…"]} (braces only when there is a label) */
static void put_sample_name(struct text *t, const cpc_metrics_series *s,
                            const char *suffix, const double *le) {
  const cpc_metrics_family *f = s->family;
  puts_(t, f->name);
  puts_(t, suffix);
  if (f->n_labels == 0 && !le)
    return;
  puts_(t, "{");
  for (size_t i = 0; i < f->n_labels; i++) {
    if (i)
      puts_(t, ",");
    puts_(t, f->labels[i]);
    puts_(t, "=\"");
    put_escaped(t, s->values[i], 1);
    puts_(t, "\"");
  }
  if (le) {
    puts_(t, f->n_labels ? ",le=\"" : "le=\"");
    if (isinf(*le))
      puts_(t, "+Inf");
    else
      put_le(t, *le);
    puts_(t, "\"");
  }
  puts_(t, "}");
}

static void put_series(struct text *t, const cpc_metrics_series *s) {
  const cpc_metrics_family *f = s->family;
  switch (f->type) {
  case CPC__METRICS_COUNTER:
    put_sample_name(t, s, "_total", NULL);
    puts_(t, " ");
    put_number(t, cpc__metrics_load(&s->bits));
    puts_(t, "\n");
    break;
  case CPC__METRICS_GAUGE:
    put_sample_name(t, s, "", NULL);
    puts_(t, " ");
    put_number(t, cpc__metrics_load(&s->bits));
    puts_(t, "\n");
    break;
  case CPC__METRICS_HISTOGRAM: {
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= f->n_bounds; i++) {
      double le = i < f->n_bounds ? f->bounds[i] : INFINITY;
      cumulative +=
          atomic_load_explicit(&((cpc_metrics_series *)s)->counts[i],
                               memory_order_relaxed);
      put_sample_name(t, s, "_bucket", &le);
      puts_(t, " ");
      put_u64(t, cumulative);
      puts_(t, "\n");
    }
    put_sample_name(t, s, "_sum", NULL);
    puts_(t, " ");
    put_number(t, cpc__metrics_load(&s->bits));
    puts_(t, "\n");
    put_sample_name(t, s, "_count", NULL);
    puts_(t, " ");
    put_u64(t, cumulative);
    puts_(t, "\n");
    break;
  }
  }
}

static const char *type_name(enum cpc__metrics_type type) {
  switch (type) {
  case CPC__METRICS_COUNTER: return "counter";
  case CPC__METRICS_GAUGE: return "gauge";
  case CPC__METRICS_HISTOGRAM: return "histogram";
  }
  return "unknown";
}

static void put_family(struct text *t, cpc_metrics_family *f,
                       enum cpc_metrics_format fmt) {
  if (fmt == CPC_METRICS_OPENMETRICS) {
    puts_(t, "# TYPE ");
    puts_(t, f->name);
    puts_(t, " ");
    puts_(t, type_name(f->type));
    puts_(t, "\n");
    if (f->unit) {
      puts_(t, "# UNIT ");
      puts_(t, f->name);
      puts_(t, " ");
      puts_(t, f->unit);
      puts_(t, "\n");
    }
    puts_(t, "# HELP ");
    puts_(t, f->name);
    puts_(t, " ");
    put_escaped(t, f->help, 1);
    puts_(t, "\n");
  } else {
    const char *suffix = f->type == CPC__METRICS_COUNTER ? "_total" : "";
    puts_(t, "# HELP ");
    puts_(t, f->name);
    puts_(t, suffix);
    puts_(t, " ");
    put_escaped(t, f->help, 0);
    puts_(t, "\n# TYPE ");
    puts_(t, f->name);
    puts_(t, suffix);
    puts_(t, " ");
    puts_(t, type_name(f->type));
    puts_(t, "\n");
  }
  pthread_mutex_lock(&f->lock);
  for (size_t i = 0; i < f->n_series; i++)
    put_series(t, f->series[i]);
  pthread_mutex_unlock(&f->lock);
}

int cpc_metrics_render(cpc_metrics *m, enum cpc_metrics_format fmt,
                       char **out, size_t *out_len) {
  if (out)
    *out = NULL;
  if (out_len)
    *out_len = 0;
  if (!m || !out ||
      (fmt != CPC_METRICS_OPENMETRICS && fmt != CPC_METRICS_PROMETHEUS))
    return CPC_EINVAL;

  pthread_mutex_lock(&m->lock);
  cpc_metrics_collect_fn collect = m->collect;
  void *arg = m->collect_arg;
  pthread_mutex_unlock(&m->lock);
  if (collect)
    collect(arg, m);

  struct text t = {0};
  pthread_mutex_lock(&m->lock);
  for (size_t i = 0; i < m->n_families; i++)
    put_family(&t, m->families[i], fmt);
  pthread_mutex_unlock(&m->lock);
  if (fmt == CPC_METRICS_OPENMETRICS)
    puts_(&t, "# EOF\n");
  if (t.err) {
    free(t.p);
    return t.err;
  }
  if (!t.p) { /* an empty registry in the Prometheus format */
    t.p = calloc(1, 1);
    if (!t.p)
      return CPC_ENOMEM;
  }
  *out = t.p;
  if (out_len)
    *out_len = t.len;
  return 0;
}
