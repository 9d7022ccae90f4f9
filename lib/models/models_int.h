/* models_int.h: internals shared by the files of lib/models. */
#ifndef CPC_MODELS_INT_H
#define CPC_MODELS_INT_H

#include <stddef.h>

#include "cpc/identity.h"

/*
 * Replace g's contents with ids[0..n) (taken over: ids must come from
 * malloc and belongs to g afterwards, also on error, when it is freed).
 * Sorts them in O(n log n). CPC_EMALFORMED if one repeats, CPC_ETOOBIG
 * over CPC_SOCIAL_GRAPH_MAX; g is emptied on error.
 */
int cpc__social_graph_adopt(cpc_social_graph *g, cpc_peer_id *ids, size_t n);

/* Fill in id's public parts from its secret keys (has_secrets must be 1). */
int cpc__user_identity_derive_public(cpc_user_identity *id);

#endif /* CPC_MODELS_INT_H */
