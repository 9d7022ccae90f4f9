/*
 * test_metrics.c: the metrics registry and its exposition: exact text in
 * both formats, escaping, canonical "le" numbers, name and label checks,
 * the series cap, content negotiation and concurrent updates.
 *
 * With CPC_METRICS_OUT set, also writes a sample exposition with every kind
 * of metric there (Prometheus text 0.0.4) and the OpenMetrics rendering of
 * the same registry to "$CPC_METRICS_OUT.om", for tests/cli/metrics_promtool.sh.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpc/error.h"
#include "cpc/metrics.h"

static char *render(cpc_metrics *m, enum cpc_metrics_format fmt) {
  char *text = NULL;
  size_t len = 0;
  assert_int_equal(cpc_metrics_render(m, fmt, &text, &len), 0);
  assert_non_null(text);
  assert_int_equal(strlen(text), len);
  return text;
}

static void assert_text(cpc_metrics *m, enum cpc_metrics_format fmt,
                        const char *want) {
  char *got = render(m, fmt);
  int same = strcmp(got, want) == 0;
  if (!same)
    print_error("got:\n%s\nwant:\n%s\n", got, want);
  free(got);
  assert_true(same);
}

/* A registry with one metric of each kind and labels that need escaping. */
static cpc_metrics *sample_registry(void) {
  cpc_metrics *m = NULL;
  cpc_metrics_family *req, *bw, *lat, *up;
  cpc_metrics_series *s;
  assert_int_equal(cpc_metrics_new(0, &m), 0);
  const char *req_labels[] = {"method", "path"};
  assert_int_equal(cpc_metrics_counter_new(m, "cpc_http_requests", NULL,
                                           "HTTP requests served.", req_labels,
                                           2, &req),
                   0);
  const char *bw_labels[] = {"node_type"};
  assert_int_equal(cpc_metrics_gauge_new(m, "cpc_bandwidth_bytes", "bytes",
                                         "Bytes per second, \"current\".\n"
                                         "Second line \\ end.",
                                         bw_labels, 1, &bw),
                   0);
  const double bounds[] = {0.001, 0.5, 1, 1e6};
  const char *lat_labels[] = {"route"};
  assert_int_equal(cpc_metrics_histogram_new(m, "cpc_http_latency_seconds",
                                             "seconds", "Request latency.",
                                             lat_labels, 1, bounds, 4, &lat),
                   0);
  assert_int_equal(cpc_metrics_gauge_new(m, "cpc_up", "", "Always 1.", NULL,
                                         0, &up),
                   0);

  const char *v1[] = {"GET", "/v1/content"};
  assert_int_equal(cpc_metrics_series_get(req, v1, 2, &s), 0);
  cpc_metrics_counter_inc(s);
  cpc_metrics_counter_add(s, 2);
  const char *v2[] = {"POST", "/a\"b\\c\nd"};
  assert_int_equal(cpc_metrics_series_get(req, v2, 2, &s), 0);
  cpc_metrics_counter_add(s, 0.25);

  const char *orch[] = {"orchestrator"};
  assert_int_equal(cpc_metrics_series_get(bw, orch, 1, &s), 0);
  cpc_metrics_gauge_set(s, 1000);
  cpc_metrics_gauge_add(s, -1500.5);

  const char *route[] = {"locate"};
  assert_int_equal(cpc_metrics_series_get(lat, route, 1, &s), 0);
  cpc_metrics_histogram_observe(s, 0.0005);
  cpc_metrics_histogram_observe(s, 0.001); /* le is inclusive */
  cpc_metrics_histogram_observe(s, 0.75);
  cpc_metrics_histogram_observe(s, 2e6); /* only +Inf */

  assert_int_equal(cpc_metrics_series_get(up, NULL, 0, &s), 0);
  cpc_metrics_gauge_set(s, 1);
  return m;
}

static const char sample_openmetrics[] =
    "# TYPE cpc_http_requests counter\n"
    "# HELP cpc_http_requests HTTP requests served.\n"
    "cpc_http_requests_total{method=\"GET\",path=\"/v1/content\"} 3\n"
    "cpc_http_requests_total{method=\"POST\",path=\"/a\\\"b\\\\c\\nd\"} 0.25\n"
    "# TYPE cpc_bandwidth_bytes gauge\n"
    "# UNIT cpc_bandwidth_bytes bytes\n"
    "# HELP cpc_bandwidth_bytes Bytes per second, \\\"current\\\".\\nSecond "
    "line \\\\ end.\n"
    "cpc_bandwidth_bytes{node_type=\"orchestrator\"} -500.5\n"
    "# TYPE cpc_http_latency_seconds histogram\n"
    "# UNIT cpc_http_latency_seconds seconds\n"
    "# HELP cpc_http_latency_seconds Request latency.\n"
    "cpc_http_latency_seconds_bucket{route=\"locate\",le=\"0.001\"} 2\n"
    "cpc_http_latency_seconds_bucket{route=\"locate\",le=\"0.5\"} 2\n"
    "cpc_http_latency_seconds_bucket{route=\"locate\",le=\"1.0\"} 3\n"
    "cpc_http_latency_seconds_bucket{route=\"locate\",le=\"1e+06\"} 3\n"
    "cpc_http_latency_seconds_bucket{route=\"locate\",le=\"+Inf\"} 4\n"
    "cpc_http_latency_seconds_sum{route=\"locate\"} 2000000.7515\n"
    "cpc_http_latency_seconds_count{route=\"locate\"} 4\n"
    "# TYPE cpc_up gauge\n"
    "# HELP cpc_up Always 1.\n"
    "cpc_up 1\n"
    "# EOF\n";

static const char sample_prometheus[] =
    "# HELP cpc_http_requests_total HTTP requests served.\n"
    "# TYPE cpc_http_requests_total counter\n"
    "cpc_http_requests_total{method=\"GET\",path=\"/v1/content\"} 3\n"
    "cpc_http_requests_total{method=\"POST\",path=\"/a\\\"b\\\\c\\nd\"} 0.25\n"
    "# HELP cpc_bandwidth_bytes Bytes per second, \"current\".\\nSecond "
    "line \\\\ end.\n"
    "# TYPE cpc_bandwidth_bytes gauge\n"
    "cpc_bandwidth_bytes{node_type=\"orchestrator\"} -500.5\n"
    "# HELP cpc_http_latency_seconds Request latency.\n"
    "# TYPE cpc_http_latency_seconds histogram\n"
    "cpc_http_latency_seconds_bucket{route=\"locate\",le=\"0.001\"} 2\n"
    "cpc_http_latency_seconds_bucket{route=\"locate\",le=\"0.5\"} 2\n"
    "cpc_http_latency_seconds_bucket{route=\"locate\",le=\"1.0\"} 3\n"
    "cpc_http_latency_seconds_bucket{route=\"locate\",le=\"1e+06\"} 3\n"
    "cpc_http_latency_seconds_bucket{route=\"locate\",le=\"+Inf\"} 4\n"
    "cpc_http_latency_seconds_sum{route=\"locate\"} 2000000.7515\n"
    "cpc_http_latency_seconds_count{route=\"locate\"} 4\n"
    "# HELP cpc_up Always 1.\n"
    "# TYPE cpc_up gauge\n"
    "cpc_up 1\n";

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fputs(text, f) >= 0, 1);
  assert_int_equal(fclose(f), 0);
}

static void test_exact_text(void **state) {
  (void)state;
  cpc_metrics *m = sample_registry();
  assert_text(m, CPC_METRICS_OPENMETRICS, sample_openmetrics);
  assert_text(m, CPC_METRICS_PROMETHEUS, sample_prometheus);

  const char *out = getenv("CPC_METRICS_OUT");
  if (out && *out) {
    char *prom = render(m, CPC_METRICS_PROMETHEUS);
    char *om = render(m, CPC_METRICS_OPENMETRICS);
    char path[4096];
    assert_true((size_t)snprintf(path, sizeof path, "%s.om", out) <
                sizeof path);
    write_file(out, prom);
    write_file(path, om);
    free(prom);
    free(om);
  }
  cpc_metrics_free(m);
}

static void test_empty_registry(void **state) {
  (void)state;
  cpc_metrics *m = NULL;
  assert_int_equal(cpc_metrics_new(0, &m), 0);
  assert_text(m, CPC_METRICS_OPENMETRICS, "# EOF\n");
  assert_text(m, CPC_METRICS_PROMETHEUS, "");
  /* a labelled family without series renders its metadata only */
  cpc_metrics_family *f;
  const char *l[] = {"a"};
  assert_int_equal(cpc_metrics_counter_new(m, "x", NULL, "X.", l, 1, &f), 0);
  assert_text(m, CPC_METRICS_OPENMETRICS,
              "# TYPE x counter\n# HELP x X.\n# EOF\n");
  assert_int_equal(cpc_metrics_render(NULL, CPC_METRICS_PROMETHEUS, NULL, NULL),
                   CPC_EINVAL);
  char *t = (char *)1;
  assert_int_equal(cpc_metrics_render(m, (enum cpc_metrics_format)7, &t, NULL),
                   CPC_EINVAL);
  assert_null(t);
  cpc_metrics_free(m);
  cpc_metrics_free(NULL);
}

/* Canonical "le" numbers, from the OpenMetrics examples. */
static void test_le_rendering(void **state) {
  (void)state;
  const double bounds[] = {0.0,    0.002, 0.01,   0.1,  0.9,  0.95,
                           0.99,   0.999, 1.7,    10.0, 1e-10, 1e-9,
                           1e-5,   1e-4,  1e5,    1e6,  1e10,  123456.5};
  const char *want[] = {"0.0",    "0.002", "0.01",   "0.1",   "0.9",
                        "0.95",   "0.99",  "0.999",  "1.7",   "10.0",
                        "1e-10",  "1e-09", "1e-05",  "0.0001", "100000.0",
                        "1e+06",  "1e+10", "123456.5"};
  size_t n = sizeof want / sizeof *want;
  /* bounds must increase: register them one family each */
  cpc_metrics *m = NULL;
  assert_int_equal(cpc_metrics_new(0, &m), 0);
  for (size_t i = 0; i < n; i++) {
    char name[32], text[256];
    cpc_metrics_family *f;
    snprintf(name, sizeof name, "h%zu", i);
    assert_int_equal(
        cpc_metrics_histogram_new(m, name, NULL, "H.", NULL, 0, &bounds[i], 1,
                                  &f),
        0);
    char *got = render(m, CPC_METRICS_PROMETHEUS);
    snprintf(text, sizeof text, "%s_bucket{le=\"%s\"} 0\n", name, want[i]);
    int found = strstr(got, text) != NULL;
    if (!found)
      print_error("missing %s in\n%s", text, got);
    free(got);
    assert_true(found);
  }
  cpc_metrics_free(m);
}

static void test_sample_values(void **state) {
  (void)state;
  cpc_metrics *m = NULL;
  cpc_metrics_family *g;
  cpc_metrics_series *s;
  assert_int_equal(cpc_metrics_new(0, &m), 0);
  assert_int_equal(cpc_metrics_gauge_new(m, "g", NULL, "G.", NULL, 0, &g), 0);
  assert_int_equal(cpc_metrics_series_get(g, NULL, 0, &s), 0);
  struct {
    double v;
    const char *text;
  } cases[] = {{0.1, "g 0.1\n"},
               {-0.0, "g 0\n"},
               {1e20, "g 100000000000000000000\n"},
               {1e21, "g 1e+21\n"},
               {1.5e-7, "g 1.5e-07\n"},
               {2000000.5, "g 2000000.5\n"},
               {9007199254740991.0, "g 9007199254740991\n"},
               {1.0 / 3, "g 0.3333333333333333\n"},
               {INFINITY, "g +Inf\n"},
               {-INFINITY, "g -Inf\n"},
               {NAN, "g NaN\n"}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    cpc_metrics_gauge_set(s, cases[i].v);
    char *got = render(m, CPC_METRICS_PROMETHEUS);
    const char *line = strstr(got, "\ng ");
    assert_non_null(line);
    assert_string_equal(line + 1, cases[i].text);
    free(got);
  }
  double v;
  assert_int_equal(cpc_metrics_value(s, &v), 0);
  assert_true(isnan(v));
  cpc_metrics_free(m);
}

static void test_bad_declarations(void **state) {
  (void)state;
  cpc_metrics *m = NULL;
  cpc_metrics_family *f = (cpc_metrics_family *)1;
  assert_int_equal(cpc_metrics_new(0, NULL), CPC_EINVAL);
  assert_int_equal(cpc_metrics_new(0, &m), 0);
  const char *bad_names[] = {"",          "1abc",       "a-b",
                             "a b",       "requests_total", "x_count",
                             "x_sum",     "x_bucket",   "x_created",
                             "x_info",    "é"};
  for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++)
    assert_int_equal(
        cpc_metrics_gauge_new(m, bad_names[i], NULL, "H.", NULL, 0, &f),
        CPC_EINVAL);
  assert_null(f);
  assert_int_equal(cpc_metrics_gauge_new(m, NULL, NULL, "H.", NULL, 0, &f),
                   CPC_EINVAL);
  assert_int_equal(cpc_metrics_gauge_new(m, "a:b_c9", NULL, "H.", NULL, 0, &f),
                   0);
  assert_int_equal(cpc_metrics_gauge_new(m, "a:b_c9", NULL, "H.", NULL, 0, &f),
                   CPC_EEXIST);
  assert_int_equal(cpc_metrics_counter_new(m, "a:b_c9", NULL, "H.", NULL, 0,
                                           &f),
                   CPC_EEXIST);
  /* help: required, UTF-8, capped */
  assert_int_equal(cpc_metrics_gauge_new(m, "h1", NULL, "", NULL, 0, &f),
                   CPC_EINVAL);
  assert_int_equal(cpc_metrics_gauge_new(m, "h2", NULL, NULL, NULL, 0, &f),
                   CPC_EINVAL);
  assert_int_equal(cpc_metrics_gauge_new(m, "h3", NULL, "\xff", NULL, 0, &f),
                   CPC_EINVAL);
  char big[CPC_METRICS_MAX_HELP + 2];
  memset(big, 'h', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  assert_int_equal(cpc_metrics_gauge_new(m, "h4", NULL, big, NULL, 0, &f),
                   CPC_EINVAL);
  big[CPC_METRICS_MAX_HELP] = '\0';
  assert_int_equal(cpc_metrics_gauge_new(m, "h4", NULL, big, NULL, 0, &f), 0);
  /* unit must be the name's suffix */
  assert_int_equal(cpc_metrics_gauge_new(m, "size", "bytes", "S.", NULL, 0, &f),
                   CPC_EINVAL);
  assert_int_equal(
      cpc_metrics_gauge_new(m, "sizebytes", "bytes", "S.", NULL, 0, &f),
      CPC_EINVAL);
  assert_int_equal(
      cpc_metrics_gauge_new(m, "size_bytes", "by-tes", "S.", NULL, 0, &f),
      CPC_EINVAL);
  /* labels */
  const char *dup[] = {"a", "a"};
  const char *reserved[] = {"__a"};
  const char *le[] = {"le"};
  const char *digit[] = {"1a"};
  const char *colon[] = {"a:b"};
  const char *null_label[] = {NULL};
  assert_int_equal(cpc_metrics_gauge_new(m, "l1", NULL, "L.", dup, 2, &f),
                   CPC_EINVAL);
  assert_int_equal(cpc_metrics_gauge_new(m, "l2", NULL, "L.", reserved, 1, &f),
                   CPC_EINVAL);
  assert_int_equal(cpc_metrics_gauge_new(m, "l3", NULL, "L.", digit, 1, &f),
                   CPC_EINVAL);
  assert_int_equal(cpc_metrics_gauge_new(m, "l4", NULL, "L.", colon, 1, &f),
                   CPC_EINVAL);
  assert_int_equal(cpc_metrics_gauge_new(m, "l5", NULL, "L.", null_label, 1,
                                         &f),
                   CPC_EINVAL);
  assert_int_equal(cpc_metrics_gauge_new(m, "l6", NULL, "L.", NULL, 1, &f),
                   CPC_EINVAL);
  assert_int_equal(
      cpc_metrics_histogram_new(m, "l7", NULL, "L.", le, 1, NULL, 0, &f),
      CPC_EINVAL);
  assert_int_equal(cpc_metrics_gauge_new(m, "l7", NULL, "L.", le, 1, &f), 0);
  const char *many[CPC_METRICS_MAX_LABELS + 1];
  char names[CPC_METRICS_MAX_LABELS + 1][8];
  for (size_t i = 0; i <= CPC_METRICS_MAX_LABELS; i++) {
    snprintf(names[i], sizeof names[i], "l%zu", i);
    many[i] = names[i];
  }
  assert_int_equal(cpc_metrics_gauge_new(m, "l8", NULL, "L.", many,
                                         CPC_METRICS_MAX_LABELS + 1, &f),
                   CPC_EINVAL);
  assert_int_equal(cpc_metrics_gauge_new(m, "l8", NULL, "L.", many,
                                         CPC_METRICS_MAX_LABELS, &f),
                   0);
  /* histogram bounds */
  const double unsorted[] = {1, 0.5};
  const double equal[] = {1, 1};
  const double nan_b[] = {NAN};
  const double inf_first[] = {INFINITY, 1};
  const double with_inf[] = {1, INFINITY};
  assert_int_equal(
      cpc_metrics_histogram_new(m, "b1", NULL, "B.", NULL, 0, unsorted, 2, &f),
      CPC_EINVAL);
  assert_int_equal(
      cpc_metrics_histogram_new(m, "b1", NULL, "B.", NULL, 0, equal, 2, &f),
      CPC_EINVAL);
  assert_int_equal(
      cpc_metrics_histogram_new(m, "b1", NULL, "B.", NULL, 0, nan_b, 1, &f),
      CPC_EINVAL);
  assert_int_equal(
      cpc_metrics_histogram_new(m, "b1", NULL, "B.", NULL, 0, inf_first, 2, &f),
      CPC_EINVAL);
  assert_int_equal(
      cpc_metrics_histogram_new(m, "b1", NULL, "B.", NULL, 0, NULL, 2, &f),
      CPC_EINVAL);
  assert_int_equal(
      cpc_metrics_histogram_new(m, "b1", NULL, "B.", NULL, 0, with_inf, 2, &f),
      0);
  double lots[CPC_METRICS_MAX_BUCKETS + 1];
  for (size_t i = 0; i <= CPC_METRICS_MAX_BUCKETS; i++)
    lots[i] = (double)i;
  assert_int_equal(cpc_metrics_histogram_new(m, "b2", NULL, "B.", NULL, 0,
                                             lots, CPC_METRICS_MAX_BUCKETS + 1,
                                             &f),
                   CPC_EINVAL);
  assert_int_equal(cpc_metrics_histogram_new(m, "b2", NULL, "B.", NULL, 0,
                                             lots, CPC_METRICS_MAX_BUCKETS, &f),
                   0);
  assert_int_equal(
      cpc_metrics_histogram_new(m, "b3", NULL, "B.", NULL, 0, NULL, 0, &f), 0);
  char *text = render(m, CPC_METRICS_OPENMETRICS);
  assert_non_null(strstr(text, "b1_bucket{le=\"1.0\"} 0\nb1_bucket{le=\"+Inf\"} 0\n"
                               "b1_sum 0\nb1_count 0\n"));
  assert_non_null(strstr(text, "b3_bucket{le=\"0.005\"} 0\n"));
  assert_non_null(strstr(text, "b3_bucket{le=\"10.0\"} 0\nb3_bucket{le=\"+Inf\"}"));
  assert_null(strstr(text, "l1"));
  free(text);
  cpc_metrics_free(m);
}

static void test_series_values(void **state) {
  (void)state;
  cpc_metrics *m = NULL;
  cpc_metrics_family *c, *g, *h;
  cpc_metrics_series *s = (cpc_metrics_series *)1, *s2;
  assert_int_equal(cpc_metrics_new(0, &m), 0);
  const char *l[] = {"a", "b"};
  assert_int_equal(cpc_metrics_counter_new(m, "c", NULL, "C.", l, 2, &c), 0);
  assert_int_equal(cpc_metrics_gauge_new(m, "g", NULL, "G.", NULL, 0, &g), 0);
  assert_int_equal(
      cpc_metrics_histogram_new(m, "h", NULL, "H.", NULL, 0, NULL, 0, &h), 0);

  const char *v[] = {"x", "y"};
  const char *v_swapped[] = {"y", "x"};
  const char *v_joined[] = {"xy", ""};
  const char *v_null[] = {"x", NULL};
  const char *v_bad_utf8[] = {"x", "\xc0\x80"};
  const char *v_surrogate[] = {"x", "\xed\xa0\x80"};
  assert_int_equal(cpc_metrics_series_get(c, v, 1, &s), CPC_EINVAL);
  assert_null(s);
  assert_int_equal(cpc_metrics_series_get(c, NULL, 2, &s), CPC_EINVAL);
  assert_int_equal(cpc_metrics_series_get(c, v_null, 2, &s), CPC_EINVAL);
  assert_int_equal(cpc_metrics_series_get(c, v_bad_utf8, 2, &s), CPC_EINVAL);
  assert_int_equal(cpc_metrics_series_get(c, v_surrogate, 2, &s), CPC_EINVAL);
  assert_int_equal(cpc_metrics_series_get(NULL, v, 2, &s), CPC_EINVAL);
  char big[CPC_METRICS_MAX_VALUE + 2];
  memset(big, 'v', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  const char *v_big[] = {"x", big};
  assert_int_equal(cpc_metrics_series_get(c, v_big, 2, &s), CPC_ETOOBIG);
  big[CPC_METRICS_MAX_VALUE] = '\0';
  assert_int_equal(cpc_metrics_series_get(c, v_big, 2, &s), 0);

  assert_int_equal(cpc_metrics_series_get(c, v, 2, &s), 0);
  assert_int_equal(cpc_metrics_series_get(c, v, 2, &s2), 0);
  assert_ptr_equal(s, s2);
  assert_int_equal(cpc_metrics_series_get(c, v_swapped, 2, &s2), 0);
  assert_ptr_not_equal(s, s2);
  assert_int_equal(cpc_metrics_series_get(c, v_joined, 2, &s2), 0);
  assert_ptr_not_equal(s, s2);

  double val;
  cpc_metrics_counter_add(s, 5);
  cpc_metrics_counter_add(s, -1);  /* ignored */
  cpc_metrics_counter_add(s, NAN); /* ignored */
  cpc_metrics_gauge_set(s, 100);   /* wrong type: ignored */
  cpc_metrics_histogram_observe(s, 1);
  cpc_metrics_counter_inc(s);
  cpc_metrics_counter_inc(NULL);
  assert_int_equal(cpc_metrics_value(s, &val), 0);
  assert_true(val == 6);

  cpc_metrics_series *gs, *hs;
  assert_int_equal(cpc_metrics_series_get(g, NULL, 0, &gs), 0);
  cpc_metrics_counter_add(gs, 3); /* wrong type */
  cpc_metrics_gauge_add(gs, -2.5);
  assert_int_equal(cpc_metrics_value(gs, &val), 0);
  assert_true(val == -2.5);

  assert_int_equal(cpc_metrics_series_get(h, NULL, 0, &hs), 0);
  assert_int_equal(cpc_metrics_value(hs, &val), CPC_EINVAL);
  cpc_metrics_histogram_observe(hs, -1);  /* ignored */
  cpc_metrics_histogram_observe(hs, NAN); /* ignored */
  cpc_metrics_histogram_observe(hs, 0);
  cpc_metrics_histogram_observe(hs, INFINITY);
  char *text = render(m, CPC_METRICS_PROMETHEUS);
  assert_non_null(strstr(text, "h_bucket{le=\"0.005\"} 1\n"));
  assert_non_null(strstr(text, "h_bucket{le=\"+Inf\"} 2\nh_sum +Inf\nh_count 2\n"));
  free(text);
  cpc_metrics_free(m);
}

static void test_series_cap(void **state) {
  (void)state;
  cpc_metrics *m = NULL;
  cpc_metrics_family *f;
  cpc_metrics_series *s;
  assert_int_equal(cpc_metrics_new(50, &m), 0);
  const char *l[] = {"id"};
  assert_int_equal(cpc_metrics_counter_new(m, "c", NULL, "C.", l, 1, &f), 0);
  char id[16];
  const char *v[] = {id};
  for (int i = 0; i < 50; i++) {
    snprintf(id, sizeof id, "%d", i);
    assert_int_equal(cpc_metrics_series_get(f, v, 1, &s), 0);
    cpc_metrics_counter_add(s, i);
  }
  snprintf(id, sizeof id, "new");
  assert_int_equal(cpc_metrics_series_get(f, v, 1, &s), CPC_ENOSPC);
  assert_null(s);
  cpc_metrics_counter_inc(s); /* a no-op on the failed lookup */
  /* existing series are still found, with their values */
  for (int i = 0; i < 50; i++) {
    double val;
    snprintf(id, sizeof id, "%d", i);
    assert_int_equal(cpc_metrics_series_get(f, v, 1, &s), 0);
    assert_int_equal(cpc_metrics_value(s, &val), 0);
    assert_true(val == i);
  }
  char *text = render(m, CPC_METRICS_PROMETHEUS);
  size_t lines = 0;
  for (char *p = text; *p; p++)
    lines += *p == '\n';
  assert_int_equal(lines, 2 + 50);
  assert_null(strstr(text, "new"));
  free(text);
  cpc_metrics_free(m);

  /* default cap */
  assert_int_equal(cpc_metrics_new(0, &m), 0);
  assert_int_equal(cpc_metrics_gauge_new(m, "g", NULL, "G.", l, 1, &f), 0);
  for (int i = 0; i <= CPC_METRICS_DEFAULT_MAX_SERIES; i++) {
    snprintf(id, sizeof id, "%d", i);
    assert_int_equal(cpc_metrics_series_get(f, v, 1, &s),
                     i < CPC_METRICS_DEFAULT_MAX_SERIES ? 0 : CPC_ENOSPC);
  }
  cpc_metrics_free(m);
}

static void test_negotiate(void **state) {
  (void)state;
  assert_int_equal(cpc_metrics_negotiate(NULL), CPC_METRICS_PROMETHEUS);
  assert_int_equal(cpc_metrics_negotiate(""), CPC_METRICS_PROMETHEUS);
  assert_int_equal(cpc_metrics_negotiate("*/*"), CPC_METRICS_PROMETHEUS);
  assert_int_equal(cpc_metrics_negotiate("text/plain"), CPC_METRICS_PROMETHEUS);
  /* what Prometheus 2.x sends */
  assert_int_equal(
      cpc_metrics_negotiate("application/openmetrics-text;version=1.0.0,"
                            "application/openmetrics-text;version=0.0.1;q=0.75,"
                            "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
      CPC_METRICS_OPENMETRICS);
  assert_int_equal(cpc_metrics_negotiate("Application/OpenMetrics-Text"),
                   CPC_METRICS_OPENMETRICS);
  assert_int_equal(
      cpc_metrics_negotiate("application/openmetrics-text; version=\"1.0.0\""),
      CPC_METRICS_OPENMETRICS);
  assert_int_equal(
      cpc_metrics_negotiate("application/openmetrics-text;version=2.0.0"),
      CPC_METRICS_PROMETHEUS);
  assert_int_equal(cpc_metrics_negotiate("application/openmetrics-text;q=0"),
                   CPC_METRICS_PROMETHEUS);
  assert_int_equal(
      cpc_metrics_negotiate("application/openmetrics-text;q=0.4, text/plain"),
      CPC_METRICS_PROMETHEUS);
  assert_int_equal(
      cpc_metrics_negotiate("text/plain;q=0.3, application/openmetrics-text;q=0.5"),
      CPC_METRICS_OPENMETRICS);
  assert_int_equal(cpc_metrics_negotiate("application/json, ,;;=,q"),
                   CPC_METRICS_PROMETHEUS);
  assert_string_equal(cpc_metrics_content_type(CPC_METRICS_OPENMETRICS),
                      "application/openmetrics-text; version=1.0.0; "
                      "charset=utf-8");
  assert_string_equal(cpc_metrics_content_type(CPC_METRICS_PROMETHEUS),
                      "text/plain; version=0.0.4; charset=utf-8");
}

static int collect_calls;

static void collect(void *arg, cpc_metrics *m) {
  (void)m;
  collect_calls++;
  cpc_metrics_gauge_set(arg, collect_calls * 10);
}

static void test_collect(void **state) {
  (void)state;
  cpc_metrics *m = NULL;
  cpc_metrics_family *g;
  cpc_metrics_series *s;
  assert_int_equal(cpc_metrics_new(0, &m), 0);
  assert_int_equal(cpc_metrics_gauge_new(m, "rows", NULL, "R.", NULL, 0, &g),
                   0);
  assert_int_equal(cpc_metrics_series_get(g, NULL, 0, &s), 0);
  assert_int_equal(cpc_metrics_on_collect(NULL, collect, s), CPC_EINVAL);
  assert_int_equal(cpc_metrics_on_collect(m, collect, s), 0);
  collect_calls = 0;
  assert_text(m, CPC_METRICS_PROMETHEUS,
              "# HELP rows R.\n# TYPE rows gauge\nrows 10\n");
  assert_text(m, CPC_METRICS_PROMETHEUS,
              "# HELP rows R.\n# TYPE rows gauge\nrows 20\n");
  assert_int_equal(cpc_metrics_on_collect(m, NULL, NULL), 0);
  assert_text(m, CPC_METRICS_PROMETHEUS,
              "# HELP rows R.\n# TYPE rows gauge\nrows 20\n");
  cpc_metrics_free(m);
}

#define THREADS 4
#define ROUNDS 20000

struct worker {
  cpc_metrics_family *c, *h;
  int id;
};

static void *work(void *arg) {
  struct worker *w = arg;
  char label[16];
  const char *v[] = {label};
  for (int i = 0; i < ROUNDS; i++) {
    cpc_metrics_series *s;
    snprintf(label, sizeof label, "k%d", i % 37);
    if (cpc_metrics_series_get(w->c, v, 1, &s) != 0)
      return (void *)1;
    cpc_metrics_counter_add(s, 0.5);
    if (cpc_metrics_series_get(w->h, NULL, 0, &s) != 0)
      return (void *)1;
    cpc_metrics_histogram_observe(s, (double)(i % 4));
  }
  return NULL;
}

static void *render_loop(void *arg) {
  for (int i = 0; i < 50; i++) {
    char *t = NULL;
    if (cpc_metrics_render(arg, CPC_METRICS_OPENMETRICS, &t, NULL) != 0)
      return (void *)1;
    free(t);
  }
  return NULL;
}

static void test_concurrent(void **state) {
  (void)state;
  cpc_metrics *m = NULL;
  struct worker w[THREADS];
  pthread_t th[THREADS + 1];
  cpc_metrics_family *c, *h;
  assert_int_equal(cpc_metrics_new(0, &m), 0);
  const char *l[] = {"k"};
  const double b[] = {0.5, 1.5, 2.5};
  assert_int_equal(cpc_metrics_counter_new(m, "c", NULL, "C.", l, 1, &c), 0);
  assert_int_equal(
      cpc_metrics_histogram_new(m, "h", NULL, "H.", NULL, 0, b, 3, &h), 0);
  for (int i = 0; i < THREADS; i++) {
    w[i] = (struct worker){c, h, i};
    assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
  }
  assert_int_equal(pthread_create(&th[THREADS], NULL, render_loop, m), 0);
  for (int i = 0; i <= THREADS; i++) {
    void *ret;
    assert_int_equal(pthread_join(th[i], &ret), 0);
    assert_null(ret);
  }
  double total = 0;
  char label[16];
  const char *v[] = {label};
  for (int k = 0; k < 37; k++) {
    cpc_metrics_series *s;
    double val;
    snprintf(label, sizeof label, "k%d", k);
    assert_int_equal(cpc_metrics_series_get(c, v, 1, &s), 0);
    assert_int_equal(cpc_metrics_value(s, &val), 0);
    total += val;
  }
  assert_true(total == 0.5 * THREADS * ROUNDS);
  char *text = render(m, CPC_METRICS_PROMETHEUS);
  char want[512];
  snprintf(want, sizeof want,
           "h_bucket{le=\"0.5\"} %d\nh_bucket{le=\"1.5\"} %d\n"
           "h_bucket{le=\"2.5\"} %d\nh_bucket{le=\"+Inf\"} %d\nh_sum %d\n"
           "h_count %d\n",
           THREADS * ROUNDS / 4, THREADS * ROUNDS / 2, THREADS * ROUNDS * 3 / 4,
           THREADS * ROUNDS, THREADS * ROUNDS / 4 * 6, THREADS * ROUNDS);
  int found = strstr(text, want) != NULL;
  if (!found)
    print_error("want\n%s\nin\n%s", want, text);
  free(text);
  assert_true(found);
  cpc_metrics_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exact_text),
      cmocka_unit_test(test_empty_registry),
      cmocka_unit_test(test_le_rendering),
      cmocka_unit_test(test_sample_values),
      cmocka_unit_test(test_bad_declarations),
      cmocka_unit_test(test_series_values),
      cmocka_unit_test(test_series_cap),
      cmocka_unit_test(test_negotiate),
      cmocka_unit_test(test_collect),
      cmocka_unit_test(test_concurrent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
