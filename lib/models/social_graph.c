/*
 * social_graph.c: the PeerIds a user follows, as a sorted array (binary
 * search for lookups, one memmove per change; fine at CPC_SOCIAL_GRAPH_MAX).
 */
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/identity.h"
#include "models/models_int.h"

/* Index of id if present (*found = 1), else where it would go. */
static size_t search(const cpc_social_graph *g, const cpc_peer_id *id,
                     int *found) {
  size_t lo = 0, hi = g->len;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = cpc_peer_id_compare(&g->ids[mid], id);
    if (c == 0) {
      *found = 1;
      return mid;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = 0;
  return lo;
}

void cpc_social_graph_free(cpc_social_graph *g) {
  free(g->ids);
  g->ids = NULL;
  g->len = g->cap = 0;
}

int cpc_social_graph_add(cpc_social_graph *g, const cpc_peer_id *id) {
  int found;
  size_t at;

  if (id->len == 0 || id->len > CPC_PEER_ID_MAX_BYTES)
    return CPC_EINVAL;
  at = search(g, id, &found);
  if (found)
    return CPC_EEXIST;
  if (g->len >= CPC_SOCIAL_GRAPH_MAX)
    return CPC_ETOOBIG;
  if (g->len == g->cap) {
    size_t cap = g->cap ? g->cap * 2 : 16;
    if (cap > CPC_SOCIAL_GRAPH_MAX)
      cap = CPC_SOCIAL_GRAPH_MAX;
    cpc_peer_id *ids = realloc(g->ids, cap * sizeof *ids);
    if (!ids)
      return CPC_ENOMEM;
    g->ids = ids;
    g->cap = cap;
  }
  memmove(&g->ids[at + 1], &g->ids[at], (g->len - at) * sizeof *g->ids);
  g->ids[at] = *id;
  g->len++;
  return 0;
}

int cpc_social_graph_remove(cpc_social_graph *g, const cpc_peer_id *id) {
  int found;
  size_t at = search(g, id, &found);

  if (!found)
    return CPC_ENOENT;
  memmove(&g->ids[at], &g->ids[at + 1], (g->len - at - 1) * sizeof *g->ids);
  g->len--;
  return 0;
}

int cpc_social_graph_contains(const cpc_social_graph *g,
                              const cpc_peer_id *id) {
  int found;
  search(g, id, &found);
  return found;
}

size_t cpc_social_graph_count(const cpc_social_graph *g) { return g->len; }

const cpc_peer_id *cpc_social_graph_at(const cpc_social_graph *g, size_t i) {
  return i < g->len ? &g->ids[i] : NULL;
}

static int compare_ids(const void *a, const void *b) {
  return cpc_peer_id_compare(a, b);
}

int cpc__social_graph_adopt(cpc_social_graph *g, cpc_peer_id *ids, size_t n) {
  cpc_social_graph_free(g);
  if (n > CPC_SOCIAL_GRAPH_MAX) {
    free(ids);
    return CPC_ETOOBIG;
  }
  if (n > 1)
    qsort(ids, n, sizeof *ids, compare_ids);
  for (size_t i = 1; i < n; i++) {
    if (cpc_peer_id_compare(&ids[i - 1], &ids[i]) == 0) {
      free(ids);
      return CPC_EMALFORMED;
    }
  }
  g->ids = ids;
  g->len = g->cap = n;
  return 0;
}
