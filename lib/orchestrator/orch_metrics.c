/*
 * orch_metrics.c: the orchestrator's metrics registry. Gauges that mirror
 * the database are refreshed by the scheduler tick and by /metrics scrapes
 * (cpc__orch_refresh_gauges in scheduler.c, each thread through its own
 * connection); counters are bumped where things happen. Rendering (for
 * /metrics) may happen on any thread.
 */
#include <string.h>

#include "cpc/error.h"
#include "orchestrator/orchestrator_int.h"

int cpc__orch_metrics_init(cpc__orch_metrics *m) {
  static const char *const state[] = {"state"};
  static const char *const kind_state[] = {"kind", "state"};
  static const char *const result[] = {"result"};
  static const char *const node_type[] = {"node_type"};
  static const char *const method_code[] = {"method", "code"};
  static const char *const direction[] = {"direction"};
  const char *v[1];
  int rc;

  memset(m, 0, sizeof *m);
  atomic_init(&m->bytes, 0);
  rc = cpc_metrics_new(0, &m->reg);
  if (rc != 0)
    return rc;
  if (pthread_mutex_init(&m->refresh_lock, NULL) != 0) {
    cpc_metrics_free(m->reg);
    m->reg = NULL;
    return CPC_ENOMEM;
  }
  rc = cpc_metrics_gauge_new(m->reg, "cpc_orchestrator_nodes", NULL,
                             "Provider nodes by state.", state, 1, &m->nodes);
  if (rc == 0)
    rc = cpc_metrics_gauge_new(m->reg, "cpc_orchestrator_replicas", NULL,
                               "Block replicas in the replica map by state.",
                               state, 1, &m->replicas);
  if (rc == 0)
    rc = cpc_metrics_gauge_new(m->reg, "cpc_orchestrator_content", NULL,
                               "Registered content by state.", state, 1,
                               &m->content);
  if (rc == 0)
    rc = cpc_metrics_gauge_new(m->reg, "cpc_orchestrator_work_queue", NULL,
                               "Work for nodes not yet confirmed, by kind "
                               "and state.",
                               kind_state, 2, &m->work);
  if (rc == 0)
    rc = cpc_metrics_counter_new(m->reg, "cpc_orchestrator_audits", NULL,
                                 "Audit challenges answered or expired, by "
                                 "result.",
                                 result, 1, &m->audits);
  if (rc == 0)
    rc = cpc_metrics_gauge_new(m->reg, "cpc_bandwidth_bytes", "bytes",
                               "Bytes per second moved by this process.",
                               node_type, 1, &m->bandwidth);
  if (rc == 0)
    rc = cpc_metrics_counter_new(m->reg, "cpc_orchestrator_grpc_requests",
                                 NULL,
                                 "gRPC calls of NodeService finished, by "
                                 "method and status code.",
                                 method_code, 2, &m->grpc_requests);
  if (rc == 0)
    rc = cpc_metrics_counter_new(m->reg, "cpc_orchestrator_node_traffic_bytes",
                                 "bytes",
                                 "Bytes nodes reported moving (StreamMetrics), "
                                 "by direction.",
                                 direction, 1, &m->node_traffic);
  if (rc != 0)
    goto fail;
  v[0] = "passed";
  rc = cpc_metrics_series_get(m->audits, v, 1, &m->audits_passed);
  v[0] = "failed";
  if (rc == 0)
    rc = cpc_metrics_series_get(m->audits, v, 1, &m->audits_failed);
  v[0] = "orchestrator";
  if (rc == 0)
    rc = cpc_metrics_series_get(m->bandwidth, v, 1, &m->bandwidth_orch);
  v[0] = "sent";
  if (rc == 0)
    rc = cpc_metrics_series_get(m->node_traffic, v, 1, &m->node_sent);
  v[0] = "received";
  if (rc == 0)
    rc = cpc_metrics_series_get(m->node_traffic, v, 1, &m->node_received);
  if (rc == 0)
    return 0;
fail:
  pthread_mutex_destroy(&m->refresh_lock);
  cpc_metrics_free(m->reg);
  memset(m, 0, sizeof *m);
  return rc;
}

void cpc__orch_metrics_free(cpc__orch_metrics *m) {
  if (!m || !m->reg)
    return;
  pthread_mutex_destroy(&m->refresh_lock);
  cpc_metrics_free(m->reg);
  m->reg = NULL;
}

void cpc__orch_metrics_grpc(cpc__orch_metrics *m, const char *method,
                            int status) {
  const char *v[2];
  cpc_metrics_series *s = NULL;
  if (!m || !m->reg)
    return;
  v[0] = method;
  v[1] = cpc_rpc_status_name(status);
  if (cpc_metrics_series_get(m->grpc_requests, v, 2, &s) == 0)
    cpc_metrics_counter_inc(s);
}
