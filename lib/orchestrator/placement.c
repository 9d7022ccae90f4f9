/*
 * placement.c: which nodes get a new replica of a block. Spread over
 * failure domains first (one replica per region while regions last), then
 * fill with the nodes that have the most free space; never two replicas
 * on one node (the caller leaves out current holders; a node is chosen at
 * most once here).
 */
#include <stdlib.h>
#include <string.h>

#include "orchestrator/orchestrator_int.h"

static int region_in(const char *r, const char *const *list, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (list[i] && strcmp(list[i], r) == 0)
      return 1;
  return 0;
}

/* Index of the candidate with the most free space that passes the
 * filters, or n. Ties go to the lower index (the caller's order). */
static size_t best(const cpc__place_node *c, size_t n, const unsigned char *used,
                   int64_t size, const char *const *taken, size_t n_taken,
                   const char *const *picked_regions, size_t n_picked,
                   int spread) {
  size_t i, pick = n;
  for (i = 0; i < n; i++) {
    if (used[i] || c[i].free_bytes < size)
      continue;
    if (spread && (region_in(c[i].region, taken, n_taken) ||
                   region_in(c[i].region, picked_regions, n_picked)))
      continue;
    if (pick == n || c[i].free_bytes > c[pick].free_bytes)
      pick = i;
  }
  return pick;
}

void cpc__orch_place(const cpc__place_node *cands, size_t n,
                     const char *const *taken_regions, size_t n_taken,
                     int64_t size, size_t want, size_t *chosen,
                     size_t *n_chosen) {
  unsigned char *used = calloc(n ? n : 1, 1);
  const char **picked = calloc(want ? want : 1, sizeof *picked);
  size_t k = 0, i;
  int spread;

  *n_chosen = 0;
  if (!used || !picked)
    goto out;
  for (spread = 1; spread >= 0 && k < want; spread--) {
    while (k < want) {
      i = best(cands, n, used, size, taken_regions, n_taken, picked, k, spread);
      if (i == n)
        break;
      used[i] = 1;
      picked[k] = cands[i].region;
      chosen[k++] = i;
    }
  }
  *n_chosen = k;
out:
  free(used);
  free(picked);
}
