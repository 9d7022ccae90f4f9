/*
 * cpc/metrics.h: an in-process metrics registry and its text exposition in
 * OpenMetrics 1.0 or in the Prometheus text format 0.0.4.
 *
 * A registry (cpc_metrics) holds metric families; a family has a type
 * (counter, gauge, histogram), a name, a help text, an optional unit and a
 * fixed list of label names. Each distinct tuple of label values is a series
 * (cpc_metrics_series), created on first use and kept until the registry is
 * freed, so a series pointer may be cached and used without lookups. The
 * number of series per family is capped (max_series_per_family): past the
 * cap, cpc_metrics_series_get() fails with CPC_ENOSPC and the caller's update
 * is dropped, so label values taken from the network cannot exhaust memory.
 *
 * Names. Family names match [a-zA-Z_:][a-zA-Z0-9_:]* and must not end in
 * _total, _created, _bucket, _sum, _count or _info (the exposition adds the
 * suffixes: a counter "cpc_requests" is exposed as cpc_requests_total). With
 * a unit the name must end in "_<unit>" (OpenMetrics rule; use base units:
 * seconds, bytes). Label names match [a-zA-Z_][a-zA-Z0-9_]*, must not start
 * with "__", must be distinct, and "le" is reserved for histograms. Help text
 * is required (promtool flags a metric without one). Label values are any
 * UTF-8 up to CPC_METRICS_MAX_VALUE bytes; invalid UTF-8 is refused.
 *
 * Thread safety: every function may be called from any thread. The registry
 * and each family have a mutex that guards their structure (family list,
 * series table) and rendering; series values are C11 atomics (doubles stored
 * as their bit patterns, updated by compare-and-swap), so the update
 * functions take no lock. A histogram keeps one atomic count per bucket and
 * its _count is the sum of those counts, so a rendered histogram is always
 * self-consistent in counts (its _sum may lag an observation in flight).
 *
 * Formats. CPC_METRICS_OPENMETRICS: "# TYPE", "# UNIT", "# HELP" per family
 * (OpenMetrics order), counters exposed as <name>_total, "# EOF" at the end.
 * CPC_METRICS_PROMETHEUS (text 0.0.4): "# HELP", "# TYPE" naming the sample
 * (<name>_total for counters), no UNIT, no EOF; this is what `promtool check
 * metrics` and pre-OpenMetrics scrapers read. An HTTP server picks one with
 * cpc_metrics_negotiate(Accept header) and sends cpc_metrics_content_type().
 * The "le" label uses the canonical rendering OpenMetrics asks for (shortest
 * round-trip digits, Go %g layout, ".0" appended: 0.005, 1.0, 1e+06, +Inf).
 */
#ifndef CPC_METRICS_H
#define CPC_METRICS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Series per family when cpc_metrics_new() is given 0. */
#define CPC_METRICS_DEFAULT_MAX_SERIES 1000
/* Hard caps on what a family may declare. */
#define CPC_METRICS_MAX_NAME 200    /* bytes of a family or label name */
#define CPC_METRICS_MAX_HELP 1024   /* bytes of help text */
#define CPC_METRICS_MAX_LABELS 16   /* label names per family */
#define CPC_METRICS_MAX_VALUE 512   /* bytes of one label value */
#define CPC_METRICS_MAX_BUCKETS 64  /* finite histogram bounds */
#define CPC_METRICS_MAX_FAMILIES 4096

#define CPC_METRICS_CONTENT_TYPE_OPENMETRICS                                   \
  "application/openmetrics-text; version=1.0.0; charset=utf-8"
#define CPC_METRICS_CONTENT_TYPE_PROMETHEUS "text/plain; version=0.0.4; charset=utf-8"

typedef struct cpc_metrics cpc_metrics;
typedef struct cpc_metrics_family cpc_metrics_family;
typedef struct cpc_metrics_series cpc_metrics_series;

enum cpc_metrics_format {
  CPC_METRICS_PROMETHEUS = 0, /* text/plain; version=0.0.4 */
  CPC_METRICS_OPENMETRICS = 1 /* application/openmetrics-text; 1.0.0 */
};

/*
 * cpc_metrics_new: an empty registry.
 *   max_series_per_family  cap on label combinations per family; 0 means
 *                          CPC_METRICS_DEFAULT_MAX_SERIES.
 *   out                    receives the registry; free it with
 *                          cpc_metrics_free().
 * Returns 0, CPC_EINVAL (out NULL) or CPC_ENOMEM.
 */
int cpc_metrics_new(size_t max_series_per_family, cpc_metrics **out);

/* cpc_metrics_free: frees the registry, its families and series (every
 * family and series pointer becomes invalid). NULL is a no-op. No other
 * thread may use the registry during or after this call. */
void cpc_metrics_free(cpc_metrics *m);

/*
 * Family constructors. The registry copies every string; the family belongs
 * to the registry (never free it) and stays valid until cpc_metrics_free().
 *   name      family name (see Names above); must be new in the registry.
 *   unit      NULL or "" for none, else the suffix of name, e.g. "bytes".
 *   help      non-empty, at most CPC_METRICS_MAX_HELP bytes, valid UTF-8.
 *   labels    n_labels label names (may be NULL when n_labels is 0).
 *   bounds    histogram upper bounds: finite, strictly increasing, at most
 *             CPC_METRICS_MAX_BUCKETS; +Inf is implicit (a trailing +Inf is
 *             accepted and dropped). NULL with n_bounds 0 gives the default
 *             latency buckets 0.005 … 10 (seconds).
 *   out       receives the family (required).
 * A family without labels gets its one series at once, so it renders 0
 * before the first update.
 * Returns 0, CPC_EINVAL (m or out NULL; bad name, unit, help, labels or
 * bounds),
 * CPC_EEXIST (name taken), CPC_ETOOBIG (more than CPC_METRICS_MAX_FAMILIES
 * families) or CPC_ENOMEM.
 */
int cpc_metrics_counter_new(cpc_metrics *m, const char *name, const char *unit,
                            const char *help, const char *const *labels,
                            size_t n_labels, cpc_metrics_family **out);
int cpc_metrics_gauge_new(cpc_metrics *m, const char *name, const char *unit,
                          const char *help, const char *const *labels,
                          size_t n_labels, cpc_metrics_family **out);
int cpc_metrics_histogram_new(cpc_metrics *m, const char *name,
                              const char *unit, const char *help,
                              const char *const *labels, size_t n_labels,
                              const double *bounds, size_t n_bounds,
                              cpc_metrics_family **out);

/*
 * cpc_metrics_series_get: the series of f for these label values, created on
 * first use (values are copied). n_values must equal the family's label
 * count; the order is the order of the label names.
 *   out  receives a pointer owned by the registry, valid until
 *        cpc_metrics_free(); set to NULL on failure.
 * Returns 0, CPC_EINVAL (f or out NULL, wrong count, a NULL value, invalid
 * UTF-8), CPC_ETOOBIG (a value over CPC_METRICS_MAX_VALUE bytes), CPC_ENOSPC
 * (the family already holds max_series_per_family series) or CPC_ENOMEM.
 */
int cpc_metrics_series_get(cpc_metrics_family *f, const char *const *values,
                           size_t n_values, cpc_metrics_series **out);

/*
 * Updates. Lock-free; a NULL series, a series of another type, or a value
 * the type does not allow (negative or NaN counter increments, NaN
 * or negative observations) is ignored, so the result of a failed series
 * lookup can be passed straight in. Histograms take only observations >= 0
 * because OpenMetrics exposes _sum only when it can never decrease.
 */
void cpc_metrics_counter_add(cpc_metrics_series *s, double v);
void cpc_metrics_counter_inc(cpc_metrics_series *s);
void cpc_metrics_gauge_set(cpc_metrics_series *s, double v);
void cpc_metrics_gauge_add(cpc_metrics_series *s, double v);
void cpc_metrics_histogram_observe(cpc_metrics_series *s, double v);

/*
 * cpc_metrics_value: the current value of a counter or gauge series (for
 * tests and for code that exports a value elsewhere). Returns 0, or
 * CPC_EINVAL if s or out is NULL or s is a histogram.
 */
int cpc_metrics_value(const cpc_metrics_series *s, double *out);

/*
 * cpc_metrics_on_collect: fn(arg, m) is called at the start of every
 * cpc_metrics_render() (before any lock is taken), so gauges that mirror
 * something else (row counts, disk usage) can be refreshed just in time.
 * One callback per registry; a later call replaces it; fn NULL removes it.
 * Set it before other threads render. Returns 0 or CPC_EINVAL (m NULL).
 */
typedef void (*cpc_metrics_collect_fn)(void *arg, cpc_metrics *m);
int cpc_metrics_on_collect(cpc_metrics *m, cpc_metrics_collect_fn fn,
                           void *arg);

/*
 * cpc_metrics_render: the exposition of every family, in registration
 * order, series in creation order.
 *   out      receives a NUL-terminated malloc'd text; the caller frees it
 *            with free().
 *   out_len  receives its length without the NUL (may be NULL).
 * Returns 0, CPC_EINVAL (m or out NULL, unknown format) or CPC_ENOMEM (then
 * *out is NULL).
 */
int cpc_metrics_render(cpc_metrics *m, enum cpc_metrics_format fmt,
                       char **out, size_t *out_len);

/* cpc_metrics_content_type: the Content-Type for fmt (static string). */
const char *cpc_metrics_content_type(enum cpc_metrics_format fmt);

/*
 * cpc_metrics_negotiate: the format for an HTTP Accept header (may be NULL).
 * OpenMetrics when the header lists application/openmetrics-text (version
 * 1.0.0 or unversioned) with a q at least as high as any text/plain or
 * wildcard entry; the Prometheus text format otherwise. Never fails.
 */
enum cpc_metrics_format cpc_metrics_negotiate(const char *accept);

#ifdef __cplusplus
}
#endif

#endif /* CPC_METRICS_H */
