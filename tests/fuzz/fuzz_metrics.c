/*
 * fuzz_metrics.c: what the metrics code takes from the network: the HTTP
 * Accept header (cpc_metrics_negotiate) and label values (request paths,
 * peer ids …). A label value, whatever its bytes, either is refused or
 * renders escaped on its own line: the exposition keeps its line count.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t lines(const char *s) {
  size_t n = 0;
  for (; *s; s++)
    n += *s == '\n';
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';

  enum cpc_metrics_format fmt = cpc_metrics_negotiate(text);
  if (fmt != CPC_METRICS_OPENMETRICS && fmt != CPC_METRICS_PROMETHEUS)
    abort();

  cpc_metrics *m = NULL;
  cpc_metrics_family *f = NULL;
  cpc_metrics_series *s = NULL;
  const char *labels[] = {"path"};
  const char *values[] = {text};
  if (cpc_metrics_new(4, &m) != 0 ||
      cpc_metrics_counter_new(m, "requests", NULL, "Requests.", labels, 1,
                              &f) != 0)
    abort();
  int added = cpc_metrics_series_get(f, values, 1, &s) == 0;
  cpc_metrics_counter_inc(s);
  char *out = NULL;
  if (cpc_metrics_render(m, fmt, &out, NULL) != 0)
    abort();
  /* TYPE + HELP (+ EOF) + one line per series */
  size_t want = 2 + (fmt == CPC_METRICS_OPENMETRICS) + (size_t)added;
  if (lines(out) != want)
    abort();
  free(out);
  cpc_metrics_free(m);
  free(text);
  return 0;
}
