/*
 * node_int.h: what the files of lib/node share. One struct cpc_node; each
 * file owns a part of it:
 *   node.c          host, exchange, DHT, /metrics server, start/close
 *   node_session.c  the orchestrator session (gRPC client, back-off)
 *   node_work.c     replication worker, journal, confirmations, audits
 *   node_scrub.c    periodic scrub
 *   node_metrics.c  the registry and the sampled gauges
 *   node_sign.c     call signatures and the resource commitment
 *   node_journal.c  the durable journal files
 */
#ifndef CPC_NODE_INT_H
#define CPC_NODE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "cpc/blockstore.h"
#include "cpc/cid.h"
#include "cpc/exchange.h"
#include "cpc/http.h"
#include "cpc/keys.h"
#include "cpc/metrics.h"
#include "cpc/multiaddr.h"
#include "cpc/net.h"
#include "cpc/node.h"
#include "cpc/peer_id.h"
#include "cpc/rpc_client.h"

#define CPC__NODE_SVC "/cpc.orchestrator.v1.NodeService/"
#define CPC__NODE_MAX_SRC_ADDRS 16
#define CPC__NODE_MAX_WORK_MSG (64u * 1024u)
#define CPC__NODE_CALL_TIMEOUT_MS 15000

enum cpc__work_kind { CPC__W_REPLICATE = 1, CPC__W_DELETE = 2 };
enum cpc__work_state {
  CPC__WS_QUEUED = 0,  /* waiting for a fetch slot */
  CPC__WS_FETCHING,    /* in a fetch session */
  CPC__WS_UNSYNCED,    /* stored (or deleted); waiting for a store sync */
  CPC__WS_SYNCING,     /* in the sync running now */
  CPC__WS_CONFIRM,     /* result known and durable; to be confirmed */
  CPC__WS_CONFIRMING,  /* ConfirmStorage under way */
};

typedef struct cpc__fetch_batch cpc__fetch_batch;

/* A replicate or delete order, from the work stream or the journal. */
typedef struct cpc__work {
  struct cpc__work *next; /* every order, n->works */
  uint64_t work_id;
  int kind;
  int state;
  char cid_text[CPC_CID_MAX_TEXT];
  cpc_cid cid;
  uint64_t size; /* expected, from the order */
  char *sources; /* malloc'd: source multiaddrs (with /p2p/), one per
                    line; equal strings batch into one fetch */
  cpc__fetch_batch *batch;
  int reserved; /* size counted in n->reserved */
  int ok;
  char error[256];
} cpc__work;

/* Metrics series the node updates. */
typedef struct cpc__node_metrics {
  cpc_metrics *reg;
  cpc_metrics_series *bw_sent, *bw_recv;       /* cpc_bandwidth_bytes */
  cpc_metrics_series *traffic_sent, *traffic_recv;
  cpc_metrics_series *disk_used, *disk_capacity, *disk_free, *blocks;
  cpc_metrics_series *connections, *cpu, *memory;
  cpc_metrics_series *repl_ok, *repl_failed, *repl_refused, *deletes;
  cpc_metrics_series *audits_passed, *audits_failed;
  cpc_metrics_series *scrubs, *corrupt;
  cpc_metrics_series *work_pending, *orch_connected;
} cpc__node_metrics;

struct cpc_node {
  uv_loop_t *loop;
  char dir[1024];
  cpc_node_config cfg;
  cpc_privkey key;
  cpc_peer_id id;
  char id_text[CPC_PEER_ID_MAX_TEXT];
  cpc_node_log_fn log;
  void *log_ud;
  int started, closing;
  void *close_ud; /* the caller's done callback while closing */
  int close_pending;

  cpc_blockstore *bs;
  cpc_net *net;
  cpc_exchange *ex;
  cpc_http_router *router;
  cpc_http_server *http;
  cpc__node_metrics m;

  /* traffic sampling (node_metrics.c) */
  uv_timer_t sample_timer;
  uint64_t last_sent, last_recv, last_sample_ms;
  uint64_t stream_sent, stream_recv; /* at the last StreamMetrics sample */
  uint64_t last_cpu_us;

  /* orchestrator session (node_session.c) */
  cpc_rpc_client *rpc;
  char orch_host[CPC_NODE_MAX_ADDR];
  uint16_t orch_port;
  int sess_state; /* 0 idle, 1 registering, 2 ready */
  int node_state; /* NodeState of the last reply */
  uint32_t attempts;
  uv_timer_t reconnect_timer, heartbeat_timer, metrics_timer;
  uint32_t heartbeat_ms;
  cpc_rpc_client_call *work_call, *metrics_call;
  uint64_t session_gen;

  /* work (node_work.c) */
  cpc__work *works;
  size_t n_works;
  uint32_t active_fetches;
  uint64_t reserved; /* bytes of replicate orders being fetched */
  int sync_running;
  uv_work_t sync_req;
  int sync_rc;
  uv_timer_t work_timer; /* 1 s: fetch deadlines, retries */
  uv_timer_t pump_timer; /* gathers a burst of orders */
  cpc__fetch_batch *batches;
  uint64_t confirm_retry_at;
  size_t n_confirming;
  int pump_busy, provide_busy;
  struct cpc__report *reports; /* ReportCorrupt still to send */

  /* DHT provide queue (node_work.c) */
  struct cpc__provide *provides, **provides_tail;
  uint32_t provides_inflight;

  /* scrub (node_scrub.c) */
  uv_timer_t scrub_timer;
  int scrub_running;
  uv_work_t scrub_req;
  struct cpc__scrub_job *scrub_job;
};

/* ---- node.c ---- */
/* A part finished closing (see cpc_node_close). */
void cpc__node_pending_done(cpc_node *n);
void cpc__node_logf(cpc_node *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int cpc__node_mkdir(const char *dir);
int cpc__node_parse_hostport(const char *text, char *host, size_t cap,
                             uint16_t *port);
uint64_t cpc__node_now_ms(void);
/* Store usage: bytes used, blocks. */
void cpc__node_usage(cpc_node *n, uint64_t *used, uint64_t *blocks);

/* ---- node_sign.c ---- */
/* The three auth metadata entries for a call of path with body; strings
 * live in *buf. */
typedef struct cpc__call_auth {
  char ts[24];
  char sig[129];
  cpc_rpc_metadata md[3];
} cpc__call_auth;
int cpc__node_call_auth(cpc_node *n, const char *path, const uint8_t *body,
                        size_t len, cpc__call_auth *out);
/* The serialized SignedCommitment of this node (malloc'd *out). */
int cpc__node_commitment(cpc_node *n, uint8_t **out, size_t *len);

/* ---- node_session.c ---- */
int cpc__session_start(cpc_node *n);
void cpc__session_stop(cpc_node *n);
int cpc__session_ready(const cpc_node *n);
/* Start a signed unary call of method with body. */
int cpc__session_unary(cpc_node *n, const char *method, const uint8_t *body,
                       size_t len, const cpc_rpc_client_callbacks *cb,
                       void *ud);

/* ---- node_work.c ---- */
int cpc__work_init(cpc_node *n);
/* A Work message from the stream (msg[0..len) borrowed). */
void cpc__work_on_message(cpc_node *n, const uint8_t *msg, size_t len);
/* The session became ready: resend confirmations and reports. */
void cpc__work_flush(cpc_node *n);
/* Report cid (text) corrupt or missing, now or once connected. */
void cpc__work_report_corrupt(cpc_node *n, const char *cid, const char *detail);
/* A block became held: provide it on the DHT. */
void cpc__work_provide(cpc_node *n, const cpc_multihash *mh);
/* Stop: cancel fetches, free everything (journal files stay). */
void cpc__work_stop(cpc_node *n);
size_t cpc__work_pending(const cpc_node *n);

/* ---- node_journal.c ---- */
int cpc__journal_write(cpc_node *n, uint64_t work_id, const uint8_t *msg,
                       size_t len);
int cpc__journal_remove(cpc_node *n, uint64_t work_id);
/* Call fn for every journal entry (msg malloc'd for the call). */
int cpc__journal_replay(cpc_node *n,
                        void (*fn)(cpc_node *n, const uint8_t *msg, size_t len));

/* ---- node_scrub.c ---- */
int cpc__scrub_start(cpc_node *n);
void cpc__scrub_stop(cpc_node *n);

/* ---- node_metrics.c ---- */
int cpc__metrics_init(cpc_node *n);
int cpc__metrics_start(cpc_node *n);
void cpc__metrics_stop(cpc_node *n);
/* Fill a NodeMetrics sample (serialized, malloc'd). */
int cpc__metrics_sample(cpc_node *n, uint8_t **out, size_t *len);

#endif /* CPC_NODE_INT_H */
