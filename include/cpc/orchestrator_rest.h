/*
 * cpc/orchestrator_rest.h: the orchestrator's REST API (JSON over HTTP/1.1,
 * docs/openapi.json) on top of a running cpc_orchestrator: users and
 * profiles, the follow graph, content metadata, search and locate, node
 * status, /healthz, /metrics and /v1/openapi.json.
 *
 * The server runs on its own threads (cpc/http.h). Each thread takes an SQL
 * connection of its own from a small pool opened on the orchestrator's
 * database URL; request nonces are kept in the request_nonces table so
 * several orchestrator instances share replay protection. Request counts
 * and latencies go to the orchestrator's metrics registry.
 */
#ifndef CPC_ORCHESTRATOR_REST_H
#define CPC_ORCHESTRATOR_REST_H

#include <stddef.h>
#include <stdint.h>

#include "cpc/orchestrator.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cpc_orchestrator_rest cpc_orchestrator_rest;

/*
 * Start the REST server for o (borrowed: it must outlive the server) on
 * listen ("127.0.0.1:7700", port 0 picks a free one). *out is freed by
 * cpc_orchestrator_rest_stop(). On failure err (cap bytes) says why.
 * Errors: CPC_EINVAL (bad arguments or address), CPC_EIO (cannot bind or
 * open the database), CPC_ENOMEM, CPC_ESTATE.
 */
int cpc_orchestrator_rest_start(cpc_orchestrator *o, const char *listen,
                                cpc_orchestrator_rest **out, char *err,
                                size_t cap);

/* The port bound (useful with port 0). */
uint16_t cpc_orchestrator_rest_port(const cpc_orchestrator_rest *r);

/* Finish requests under way, stop, close the pool and free. NULL is fine. */
void cpc_orchestrator_rest_stop(cpc_orchestrator_rest *r);

#ifdef __cplusplus
}
#endif

#endif /* CPC_ORCHESTRATOR_REST_H */
