/*
 * pds_metrics.c: the PDS's metrics registry (/metrics). Traffic is read on
 * the loop thread once a second (tick) and published as totals and as a
 * rate: cpc_bandwidth_bytes{node_type="pds",direction="in"|"out"}, the
 * gauge every CPC process exposes.
 */
#include <string.h>

#include "cpc/error.h"
#include "pds/pds_int.h"

int cpc__pds_metrics_init(cpc_pds *p) {
  static const char *const nd[] = {"node_type", "direction"};
  static const char *const dir[] = {"direction"};
  static const char *const result[] = {"result"};
  cpc_metrics_family *bw, *traffic, *puts, *gets, *ev, *used, *limit, *items,
      *queued, *peers;
  const char *v[2];
  int rc;

  rc = cpc_metrics_new(0, &p->metrics);
  if (rc != 0)
    return rc;
  rc = cpc_metrics_gauge_new(p->metrics, "cpc_bandwidth_bytes", "bytes",
                             "Bytes per second moved by this process over "
                             "libp2p, by direction.",
                             nd, 2, &bw);
  if (rc == 0)
    rc = cpc_metrics_counter_new(p->metrics, "cpc_pds_traffic_bytes", "bytes",
                                 "Bytes moved over libp2p since start, by "
                                 "direction.",
                                 dir, 1, &traffic);
  if (rc == 0)
    rc = cpc_metrics_counter_new(p->metrics, "cpc_pds_uploads", NULL,
                                 "Uploads stored.", NULL, 0, &puts);
  if (rc == 0)
    rc = cpc_metrics_counter_new(p->metrics, "cpc_pds_downloads", NULL,
                                 "Downloads, by result.", result, 1, &gets);
  if (rc == 0)
    rc = cpc_metrics_counter_new(p->metrics, "cpc_pds_evicted_blocks", NULL,
                                 "Cached blocks evicted (LRU) to stay under "
                                 "the storage limit.",
                                 NULL, 0, &ev);
  if (rc == 0)
    rc = cpc_metrics_gauge_new(p->metrics, "cpc_pds_storage_used_bytes",
                               "bytes", "Bytes of blocks stored.", NULL, 0,
                               &used);
  if (rc == 0)
    rc = cpc_metrics_gauge_new(p->metrics, "cpc_pds_storage_limit_bytes",
                               "bytes", "The storage limit (0: none).", NULL,
                               0, &limit);
  if (rc == 0)
    rc = cpc_metrics_gauge_new(p->metrics, "cpc_pds_content_items", NULL,
                               "Own content items.", NULL, 0, &items);
  if (rc == 0)
    rc = cpc_metrics_gauge_new(p->metrics, "cpc_pds_queued_items", NULL,
                               "Own content not yet registered.", NULL, 0,
                               &queued);
  if (rc == 0)
    rc = cpc_metrics_gauge_new(p->metrics, "cpc_pds_peers", NULL,
                               "Open libp2p connections.", NULL, 0, &peers);
  if (rc != 0)
    return rc;
  v[0] = "pds";
  v[1] = "in";
  rc = cpc_metrics_series_get(bw, v, 2, &p->bw_in);
  v[1] = "out";
  if (rc == 0)
    rc = cpc_metrics_series_get(bw, v, 2, &p->bw_out);
  v[0] = "in";
  if (rc == 0)
    rc = cpc_metrics_series_get(traffic, v, 1, &p->traffic_in);
  v[0] = "out";
  if (rc == 0)
    rc = cpc_metrics_series_get(traffic, v, 1, &p->traffic_out);
  v[0] = "ok";
  if (rc == 0)
    rc = cpc_metrics_series_get(gets, v, 1, &p->m_gets);
  v[0] = "failed";
  if (rc == 0)
    rc = cpc_metrics_series_get(gets, v, 1, &p->m_get_fail);
  if (rc == 0)
    rc = cpc_metrics_series_get(puts, NULL, 0, &p->m_puts);
  if (rc == 0)
    rc = cpc_metrics_series_get(ev, NULL, 0, &p->m_evicted);
  if (rc == 0)
    rc = cpc_metrics_series_get(used, NULL, 0, &p->m_storage);
  if (rc == 0)
    rc = cpc_metrics_series_get(limit, NULL, 0, &p->m_limit);
  if (rc == 0)
    rc = cpc_metrics_series_get(items, NULL, 0, &p->m_content);
  if (rc == 0)
    rc = cpc_metrics_series_get(queued, NULL, 0, &p->m_queued);
  if (rc == 0)
    rc = cpc_metrics_series_get(peers, NULL, 0, &p->m_peers);
  if (rc == 0)
    cpc_metrics_gauge_set(p->m_limit, (double)p->cfg.storage_limit);
  return rc;
}

/* Bytes the libp2p host moved over TCP (every protocol, handshakes too). */
static void traffic(cpc_pds *p, uint64_t *in, uint64_t *out) {
  cpc_net_traffic t;
  memset(&t, 0, sizeof t);
  if (p->net)
    cpc_net_traffic_get(p->net, &t);
  *in = t.bytes_received;
  *out = t.bytes_sent;
}

void cpc__pds_metrics_tick(cpc_pds *p, double seconds) {
  uint64_t in, out;
  cpc_blockstore_stats st;
  traffic(p, &in, &out);
  if (in >= p->last_in && out >= p->last_out && seconds > 0) {
    cpc_metrics_counter_add(p->traffic_in, (double)(in - p->last_in));
    cpc_metrics_counter_add(p->traffic_out, (double)(out - p->last_out));
    cpc_metrics_gauge_set(p->bw_in, (double)(in - p->last_in) / seconds);
    cpc_metrics_gauge_set(p->bw_out, (double)(out - p->last_out) / seconds);
  }
  p->last_in = in;
  p->last_out = out;
  if (cpc_blockstore_stats_get(p->bs, &st) == 0)
    cpc_metrics_gauge_set(p->m_storage, (double)st.bytes);
  if (p->net)
    cpc_metrics_gauge_set(p->m_peers, (double)cpc_net_conn_count(p->net));
}
