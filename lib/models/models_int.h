/* models_int.h: internals shared by the files of lib/models. */
#ifndef CPC_MODELS_INT_H
#define CPC_MODELS_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

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

/* --- model_json.c ----------------------------------------------------------
 */

/*
 * Write the printf-style message into err (cap bytes, truncated; nothing
 * is written when err is NULL or cap is 0) and return rc, so that
 * `return cpc__fail(err, cap, CPC_EMALFORMED, "...", ...)` reports and fails
 * in one step.
 */
int cpc__fail(char *err, size_t cap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "an object", "a string", ... for messages: v's JSON type with its article. */
const char *cpc__json_type_name(const json_t *v);

/*
 * A new JSON string holding standard base64 (with padding) of in[0..len),
 * or NULL when out of memory. The intermediate text is wiped, so in may be
 * a secret (jansson's own copy is not).
 */
json_t *cpc__json_base64(const uint8_t *in, size_t len);

#endif /* CPC_MODELS_INT_H */
