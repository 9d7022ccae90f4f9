/*
 * node_metrics.c: the node's metrics registry (served on /metrics in
 * OpenMetrics or Prometheus text) and the samples of the StreamMetrics
 * stream. A 1 s timer on the loop reads the host's traffic counters, the
 * store's usage, the process's CPU time and resident memory into gauges
 * (the registry is thread-safe, so the HTTP threads only render).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cpc/error.h"
#include "cpc/orchestrator/v1/node.pb-c.h"
#include "node/node_int.h"

#define SAMPLE_MS 1000

static int series(cpc_metrics_family *f, const char *const *v, size_t n,
                  cpc_metrics_series **out) {
  return cpc_metrics_series_get(f, v, n, out);
}

int cpc__metrics_init(cpc_node *n) {
  static const char *bw_labels[] = {"node_type", "direction"};
  static const char *dir_label[] = {"direction"};
  static const char *res_label[] = {"result"};
  static const char *sent[] = {"node", "sent"}, *recv[] = {"node", "received"};
  static const char *d_sent[] = {"sent"}, *d_recv[] = {"received"};
  static const char *ok[] = {"ok"}, *failed[] = {"failed"},
                    *refused[] = {"refused"}, *passed[] = {"passed"};
  cpc__node_metrics *m = &n->m;
  cpc_metrics_family *f;
  int rc = cpc_metrics_new(0, &m->reg);
  if (rc != 0)
    return rc;
#define GAUGE0(name, unit, help, slot)                                         \
  if (rc == 0 && (rc = cpc_metrics_gauge_new(m->reg, name, unit, help, NULL,   \
                                             0, &f)) == 0)                     \
    rc = series(f, NULL, 0, &m->slot);
#define COUNTER0(name, unit, help, slot)                                       \
  if (rc == 0 && (rc = cpc_metrics_counter_new(m->reg, name, unit, help, NULL, \
                                               0, &f)) == 0)                   \
    rc = series(f, NULL, 0, &m->slot);
  if (rc == 0 &&
      (rc = cpc_metrics_gauge_new(m->reg, "cpc_bandwidth_bytes", "bytes",
                                  "Bytes per second moved by this process "
                                  "over libp2p, by direction.",
                                  bw_labels, 2, &f)) == 0) {
    rc = series(f, sent, 2, &m->bw_sent);
    if (rc == 0)
      rc = series(f, recv, 2, &m->bw_recv);
  }
  if (rc == 0 &&
      (rc = cpc_metrics_counter_new(m->reg, "cpc_node_traffic_bytes", "bytes",
                                    "Bytes moved over libp2p since start.",
                                    dir_label, 1, &f)) == 0) {
    rc = series(f, d_sent, 1, &m->traffic_sent);
    if (rc == 0)
      rc = series(f, d_recv, 1, &m->traffic_recv);
  }
  GAUGE0("cpc_node_disk_used_bytes", "bytes", "Bytes of blocks stored.",
         disk_used)
  GAUGE0("cpc_node_disk_capacity_bytes", "bytes",
         "Storage committed to the cooperative.", disk_capacity)
  GAUGE0("cpc_node_disk_free_bytes", "bytes",
         "Committed storage still free.", disk_free)
  GAUGE0("cpc_node_blocks", NULL, "Blocks stored.", blocks)
  GAUGE0("cpc_node_connections", NULL, "Open libp2p connections.",
         connections)
  GAUGE0("cpc_node_cpu_ratio", "ratio",
         "CPU time used over the last second, in CPUs.", cpu)
  GAUGE0("cpc_node_memory_resident_bytes", "bytes",
         "Resident memory of the process.", memory)
  GAUGE0("cpc_node_work_pending", NULL,
         "Replicate and delete orders not yet confirmed.", work_pending)
  GAUGE0("cpc_node_orchestrator_connected", NULL,
         "1 while registered with the orchestrator.", orch_connected)
  if (rc == 0 &&
      (rc = cpc_metrics_counter_new(m->reg, "cpc_node_replications", NULL,
                                    "Replicate orders finished, by result.",
                                    res_label, 1, &f)) == 0) {
    rc = series(f, ok, 1, &m->repl_ok);
    if (rc == 0)
      rc = series(f, failed, 1, &m->repl_failed);
    if (rc == 0)
      rc = series(f, refused, 1, &m->repl_refused);
  }
  COUNTER0("cpc_node_deletes", NULL, "Delete orders confirmed.", deletes)
  if (rc == 0 &&
      (rc = cpc_metrics_counter_new(m->reg, "cpc_node_audits", NULL,
                                    "Audit answers, by result.", res_label, 1,
                                    &f)) == 0) {
    rc = series(f, passed, 1, &m->audits_passed);
    if (rc == 0)
      rc = series(f, failed, 1, &m->audits_failed);
  }
  COUNTER0("cpc_node_scrubs", NULL, "Scrubs run.", scrubs)
  COUNTER0("cpc_node_corrupt_blocks", NULL,
           "Blocks found corrupt by the scrub and removed.", corrupt)
#undef GAUGE0
#undef COUNTER0
  if (rc == 0)
    cpc_metrics_gauge_set(m->disk_capacity, (double)n->cfg.capacity);
  return rc;
}

static uint64_t cpu_us(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return 0;
  return (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
         (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
}

static uint64_t rss_bytes(void) {
  unsigned long size = 0, res = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f)
    return 0;
  if (fscanf(f, "%lu %lu", &size, &res) != 2)
    res = 0;
  fclose(f);
  return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void on_sample(uv_timer_t *t) {
  cpc_node *n = t->data;
  cpc_net_traffic tr = {0};
  uint64_t now = cpc__node_now_ms(), used = 0, blocks = 0, cpu = cpu_us();
  double dt;
  if (n->net)
    cpc_net_traffic_get(n->net, &tr);
  dt = (double)(now - n->last_sample_ms) / 1000.0;
  if (dt > 0) {
    cpc_metrics_gauge_set(n->m.bw_sent, (double)(tr.bytes_sent - n->last_sent) / dt);
    cpc_metrics_gauge_set(n->m.bw_recv,
                          (double)(tr.bytes_received - n->last_recv) / dt);
    cpc_metrics_gauge_set(n->m.cpu, (double)(cpu - n->last_cpu_us) / 1e6 / dt);
  }
  cpc_metrics_counter_add(n->m.traffic_sent, (double)(tr.bytes_sent - n->last_sent));
  cpc_metrics_counter_add(n->m.traffic_recv,
                          (double)(tr.bytes_received - n->last_recv));
  n->last_sent = tr.bytes_sent;
  n->last_recv = tr.bytes_received;
  n->last_sample_ms = now;
  n->last_cpu_us = cpu;
  cpc__node_usage(n, &used, &blocks);
  cpc_metrics_gauge_set(n->m.disk_used, (double)used);
  cpc_metrics_gauge_set(n->m.disk_free,
                        used < n->cfg.capacity ? (double)(n->cfg.capacity - used)
                                               : 0.0);
  cpc_metrics_gauge_set(n->m.blocks, (double)blocks);
  cpc_metrics_gauge_set(n->m.connections, (double)tr.connections);
  cpc_metrics_gauge_set(n->m.memory, (double)rss_bytes());
  cpc_metrics_gauge_set(n->m.work_pending, (double)n->n_works);
}

int cpc__metrics_start(cpc_node *n) {
  cpc_net_traffic tr = {0};
  if (n->net)
    cpc_net_traffic_get(n->net, &tr);
  n->last_sent = n->stream_sent = tr.bytes_sent;
  n->last_recv = n->stream_recv = tr.bytes_received;
  n->last_sample_ms = cpc__node_now_ms();
  n->last_cpu_us = cpu_us();
  uv_timer_init(n->loop, &n->sample_timer);
  n->sample_timer.data = n;
  on_sample(&n->sample_timer);
  uv_timer_start(&n->sample_timer, on_sample, SAMPLE_MS, SAMPLE_MS);
  return 0;
}

void cpc__metrics_stop(cpc_node *n) { uv_timer_stop(&n->sample_timer); }

int cpc__metrics_sample(cpc_node *n, uint8_t **out, size_t *len) {
  Cpc__Orchestrator__V1__NodeMetrics s = CPC__ORCHESTRATOR__V1__NODE_METRICS__INIT;
  cpc_net_traffic tr = {0};
  uint64_t used = 0, blocks = 0;
  if (n->net)
    cpc_net_traffic_get(n->net, &tr);
  cpc__node_usage(n, &used, &blocks);
  s.timestamp_ms = cpc__node_now_ms();
  s.bytes_sent = tr.bytes_sent - n->stream_sent;
  s.bytes_received = tr.bytes_received - n->stream_recv;
  s.blocks_stored = blocks;
  s.used_bytes = used;
  s.peers = (uint32_t)tr.connections;
  *len = cpc__orchestrator__v1__node_metrics__get_packed_size(&s);
  *out = malloc(*len + 1);
  if (!*out)
    return CPC_ENOMEM;
  cpc__orchestrator__v1__node_metrics__pack(&s, *out);
  n->stream_sent = tr.bytes_sent;
  n->stream_recv = tr.bytes_received;
  return 0;
}
