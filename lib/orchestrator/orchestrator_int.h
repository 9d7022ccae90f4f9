/*
 * orchestrator_int.h: internals shared between the files of
 * lib/orchestrator. Not installed.
 *
 * Layers, bottom up:
 *   store_query.c     bind-by-format helpers over cpc/sql.h
 *   store_nodes.c     nodes: register, heartbeat, state changes
 *   store_replicas.c  the replica map, losing replicas, the repair queue
 *   store_work.c      the work queue: enqueue, claim, confirm, deadlines
 *   store_drops.c     drop orders for copies nodes hold untracked
 *   audit.c           audit tokens, issuing, answers, scores, vetting
 *   placement.c       choosing nodes for a block (pure, no SQL)
 *   scheduler.c       the tick: every step above under its lease
 *   node_auth.c       signed commitments and signed call metadata
 *   node_service.c    the gRPC NodeService on top of all this
 *   orch_metrics.c    the registry and its families
 *   config.c          defaults, JSON file, checks
 *   orchestrator.c    process wiring (loop, server, timer, shutdown)
 * Everything below node_service.c takes the time as an argument (ms since
 * the Unix epoch), so tests drive it with an injected clock.
 */
#ifndef CPC_ORCHESTRATOR_INT_H
#define CPC_ORCHESTRATOR_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cpc/keys.h"
#include "cpc/metrics.h"
#include "cpc/orchestrator.h"
#include "cpc/peer_id.h"
#include "cpc/rpc.h"
#include "cpc/sql.h"

/* The embedded migrations (cmake/embed_migrations.cmake). */
extern const cpc_sql_migration cpc__orchestrator_migrations[];
extern const size_t cpc__orchestrator_migrations_count;

/* Values of the state/kind columns (0001_initial.sql). */
enum cpc__node_state {
  CPC__NODE_VETTING = 0,
  CPC__NODE_ACTIVE = 1,
  CPC__NODE_OFFLINE = 2,
  CPC__NODE_DISQUALIFIED = 3,
  CPC__NODE_LEFT = 4,
};
enum cpc__replica_state {
  CPC__REPLICA_PENDING = 0,
  CPC__REPLICA_STORED = 1,
  CPC__REPLICA_LOST = 2,
  CPC__REPLICA_DELETING = 3,
};
enum cpc__work_kind {
  CPC__WORK_REPLICATE = 0,
  CPC__WORK_DELETE = 1,
  CPC__WORK_AUDIT = 2,
};
enum cpc__work_state {
  CPC__WORK_QUEUED = 0,
  CPC__WORK_SENT = 1,
  CPC__WORK_DONE = 2,
  CPC__WORK_FAILED = 3,
};
enum cpc__audit_state {
  CPC__AUDIT_OPEN = 0,
  CPC__AUDIT_PASSED = 1,
  CPC__AUDIT_FAILED = 2,
  CPC__AUDIT_CANCELLED = 3, /* the node went offline or was disqualified */
};
enum cpc__content_state {
  CPC__CONTENT_ACTIVE = 0,
  CPC__CONTENT_DELETING = 1,
  CPC__CONTENT_DELETED = 2,
};

/* Caps on what nodes send. */
#define CPC__MAX_REGION 64       /* bytes of a failure-domain name */
#define CPC__MAX_ADDRS 16        /* multiaddrs in a commitment */
#define CPC__MAX_CID_TEXT 128    /* bytes of a CID in text */
#define CPC__MAX_COMMITMENT 8192 /* bytes of a SignedCommitment */
#define CPC__MAX_CAPACITY ((uint64_t)1 << 62)
#define CPC__AUDIT_NONCE_LEN 32
#define CPC__AUDIT_PROOF_LEN 32
#define CPC__MAX_REASON 160

/* ---- metrics (orch_metrics.c) ------------------------------------------ */

typedef struct cpc__orch_metrics {
  cpc_metrics *reg; /* owned */
  cpc_metrics_family *nodes, *replicas, *content, *work, *audits,
      *bandwidth, *grpc_requests, *node_traffic;
  cpc_metrics_series *audits_passed, *audits_failed, *bandwidth_orch;
  cpc_metrics_series *node_sent, *node_received;
  _Atomic uint64_t bytes; /* moved since start */
  /* The database gauges and the bandwidth rate are refreshed by the
   * scheduler tick and by /metrics scrapes (any thread); refresh_lock
   * guards the three fields below. */
  pthread_mutex_t refresh_lock;
  uint64_t bytes_at_last_tick;
  int64_t last_tick_ms;    /* last refresh (the caller's clock) */
  int64_t refresh_cost_ms; /* wall time the last refresh took */
} cpc__orch_metrics;

/* Create the registry and every family. Returns 0 or an error. */
int cpc__orch_metrics_init(cpc__orch_metrics *m);
void cpc__orch_metrics_free(cpc__orch_metrics *m);
/* Count one finished gRPC call. method is the last path element. */
void cpc__orch_metrics_grpc(cpc__orch_metrics *m, const char *method,
                            int status);

/* ---- the core the scheduler and node operations share ----------------- */

typedef struct cpc__orch_core {
  cpc_sql *db;                         /* borrowed */
  cpc_orchestrator_sched_config sched; /* copy */
  cpc__orch_metrics *metrics;          /* borrowed; NULL in tests */
  char instance[40];                   /* lease owner, random hex */
  char sweep_cursor[CPC__MAX_CID_TEXT + 1]; /* replication sweep position */
} cpc__orch_core;

/* Set up core over db (borrowed) with policy sched (copied); metrics may
 * be NULL. Gives the instance a random lease-owner name. */
void cpc__orch_core_init(cpc__orch_core *core, cpc_sql *db,
                         const cpc_orchestrator_sched_config *sched,
                         cpc__orch_metrics *metrics);

/* A random id in 1..2^63-1 (work, audits, tokens). */
int64_t cpc__orch_random_id(void);

/* ---- store_query.c ------------------------------------------------------ */

/*
 * Bind-by-format helpers. fmt has one letter per parameter $1, $2, …:
 *   'i' int64_t   's' const char * (NULL binds NULL)
 *   'b' const void *, size_t   'd' double   'n' NULL (no argument)
 * cpc__q_prepare: prepare and bind; *st is the caller's to finalize.
 * cpc__q_run: run a statement that returns no rows; *changes (may be
 *   NULL) gets the rows changed.
 * cpc__q_int: the first column of the first row as an integer;
 *   CPC_ENOENT when there is no row or the value is NULL.
 * All return 0 or a cpc_sql error.
 */
int cpc__q_prepare(cpc_sql *db, cpc_sql_stmt **st, const char *sql,
                   const char *fmt, ...);
int cpc__q_run(cpc_sql *db, int64_t *changes, const char *sql, const char *fmt,
               ...);
int cpc__q_int(cpc_sql *db, int64_t *out, const char *sql, const char *fmt,
               ...);
/* Copy text column col of the current row into out (cap bytes, cut to
 * fit, always NUL-terminated; "" for NULL). */
void cpc__q_text(cpc_sql_stmt *st, int col, char *out, size_t cap);
/* Integer column col, def when NULL or not an integer. */
int64_t cpc__q_col_int(cpc_sql_stmt *st, int col, int64_t def);

/* ---- node_auth.c -------------------------------------------------------- */

/* A verified resource commitment. addrs_json is malloc'd (free with
 * cpc__commitment_clear). */
typedef struct cpc__commitment {
  cpc_pubkey key;
  cpc_peer_id id;
  char peer_id[CPC_PEER_ID_MAX_TEXT];
  uint8_t key_pb[CPC_PUBKEY_PROTO_MAX];
  size_t key_pb_len;
  uint64_t capacity_bytes, bandwidth_bps, timestamp_ms;
  char region[CPC__MAX_REGION + 1];
  char *addrs_json;
} cpc__commitment;

void cpc__commitment_clear(cpc__commitment *c);

/*
 * Verify a SignedCommitment (protobuf bytes msg[0..len)): it parses, the
 * key is Ed25519, the signature over "CPC-NODE-COMMITMENT-V1\n" ||
 * commitment verifies with that key, the timestamp is within skew_ms of
 * now, every field is within its cap and every addr is a multiaddr.
 * Returns 0 (*out filled), CPC_EMALFORMED / CPC_ETOOBIG / CPC_EUNSUPPORTED
 * (bad message; why says what), CPC_EBADSIG, CPC_ETIMEDOUT (stale) or
 * CPC_ENOMEM.
 */
int cpc__commitment_verify(const uint8_t *msg, size_t len, int64_t now,
                           int64_t skew_ms, cpc__commitment *out, char *why,
                           size_t cap);

/*
 * A node's addrs (JSON array text of multiaddrs, NULL for none) as a PDS
 * dials them: each ends in /p2p/<peer_id> (appended to a bare transport
 * address; an address naming another peer is dropped). Returns malloc'd
 * JSON array text (the caller frees it) or NULL when out of memory.
 */
char *cpc__orch_dial_addrs(const char *addrs_json, const char *peer_id);

/* The bytes a node signs for a call (docs/node-rpc.md). */
#define CPC__RPC_SIG_CONTEXT "CPC-NODE-RPC-V1\n"
#define CPC__COMMITMENT_CONTEXT "CPC-NODE-COMMITMENT-V1\n"

/*
 * Check a call's node authentication: node_id (x-cpc-node-id), ts
 * (x-cpc-timestamp, decimal ms) and sig_hex (x-cpc-signature, 128 hex
 * digits, Ed25519) over CPC__RPC_SIG_CONTEXT + path + "\n" + ts + "\n" +
 * hex(BLAKE3(body[0..body_len))). Any of the strings may be NULL (missing
 * metadata). *id and *pk receive the caller's identity.
 * Returns 0, CPC_EMALFORMED (missing or bad metadata), CPC_EUNSUPPORTED
 * (not an Ed25519 PeerId with its key inlined), CPC_ETIMEDOUT (timestamp
 * outside now ± skew_ms) or CPC_EBADSIG; why (cap bytes) says which.
 */
int cpc__rpc_auth_check(const char *path, const char *node_id, const char *ts,
                        const char *sig_hex, const uint8_t *body,
                        size_t body_len, int64_t now, int64_t skew_ms,
                        cpc_peer_id *id, cpc_pubkey *pk, char *why,
                        size_t cap);

/* ---- store_nodes.c ------------------------------------------------------- */

typedef struct cpc__node_status {
  int state; /* enum cpc__node_state */
  char reason[CPC__MAX_REASON];
} cpc__node_status;

/*
 * Register (or re-register) the node of the verified commitment c. A new
 * node starts vetting (active at once when vetting_audits is 0); a known
 * one gets its commitment fields updated, and comes back from offline to
 * vetting or active. A commitment older than the stored one is refused.
 * Disqualified and left nodes stay so (their status says it).
 * Returns 0 (*st filled), CPC_ESTATE (stale commitment) or an SQL error.
 */
int cpc__orch_node_register(cpc__orch_core *core, const cpc__commitment *c,
                            const uint8_t *signed_pb, size_t signed_len,
                            int64_t now, cpc__node_status *st);

/*
 * The registered node peer_id: its state, checked against the key that
 * signed the call (pk). Returns 0, CPC_ENOENT (not registered) or
 * CPC_EPERM (registered with another key).
 */
int cpc__orch_node_lookup(cpc__orch_core *core, const char *peer_id,
                          const cpc_pubkey *pk, cpc__node_status *st);

/* Record a heartbeat: usage and the time; an offline node comes back.
 * Returns 0 (*st filled), CPC_ENOENT or an SQL error. */
int cpc__orch_node_heartbeat(cpc__orch_core *core, const char *peer_id,
                             uint64_t used_bytes, uint64_t free_bytes,
                             int64_t now, cpc__node_status *st);

/*
 * Change node's state to state (OFFLINE, DISQUALIFIED or LEFT) with a
 * reason, inside the caller's transaction: its pending and stored replicas
 * become lost and their blocks go into the repair queue, its queued and
 * sent work fails, its open audits are cancelled.
 */
int cpc__orch_node_retire_txn(cpc__orch_core *core, const char *peer_id,
                              int state, const char *reason, int64_t now);

/*
 * A node that was offline is back (heartbeat or registration; in the
 * caller's transaction): the copies it had stored when it went silent
 * count again (stored), and their blocks enter the repair queue so the
 * scheduler trims any copy made meanwhile that is now one too many.
 * Copies lost for other reasons (failed audit, corruption, given-up
 * work) stay lost.
 */
int cpc__orch_node_return_txn(cpc__orch_core *core, const char *peer_id,
                              int64_t now);

/* ---- store_replicas.c ------------------------------------------------------ */

/* Mark the replica (cid, node) lost and queue cid for repair (in the
 * caller's transaction). Missing rows are fine. */
int cpc__orch_replica_lose_txn(cpc__orch_core *core, const char *cid,
                               const char *node, int64_t now);

/* Queue cid for repair (idempotent). */
int cpc__orch_repair_enqueue(cpc_sql *db, const char *cid, int64_t now);

/* Report from node that its copy of cid is corrupt: the replica is lost
 * and repaired from the others. Returns 0, CPC_ENOENT (the node holds no
 * such replica) or an SQL error. */
int cpc__orch_report_corrupt(cpc__orch_core *core, const char *node,
                             const char *cid, int64_t now);

/* ---- store_work.c ---------------------------------------------------------- */

typedef struct cpc__work_item {
  int64_t work_id;
  int kind; /* enum cpc__work_kind */
  char cid[CPC__MAX_CID_TEXT + 1];
  char *detail; /* malloc'd JSON */
  int64_t deadline;
} cpc__work_item;

void cpc__work_item_clear(cpc__work_item *w);

/* Queue work for node in the caller's transaction. detail is JSON text
 * (may be NULL for "{}"). work_id 0 picks a random id; *out_id (may be
 * NULL) gets it. */
int cpc__orch_work_enqueue_txn(cpc__orch_core *core, int64_t work_id,
                               const char *node, int kind, const char *cid,
                               const char *detail, int64_t now,
                               int64_t *out_id);

/*
 * Claim up to max queued pieces of work of node for sending: each becomes
 * sent with deadline now + work_timeout_ms and attempts + 1. items (max
 * entries) receive them, oldest first; *n their number. The caller clears
 * each item. Returns 0 or an SQL error.
 */
int cpc__orch_work_claim(cpc__orch_core *core, const char *node, int64_t now,
                         cpc__work_item *items, size_t max, size_t *n);

/* Put a claimed piece of work back in the queue (its send failed). */
int cpc__orch_work_unclaim(cpc__orch_core *core, int64_t work_id);

/*
 * A node's confirmation of replicate or delete work: ok stores the replica
 * (replicate) or removes it (delete); not ok loses the replica and queues
 * a repair (replicate) or leaves it for a retry (delete). Returns 0,
 * CPC_ENOENT (no such work of this node, or an audit), CPC_EMISMATCH (cid
 * is not the work's) or an SQL error. Repeats of a done confirmation are
 * accepted and change nothing.
 */
int cpc__orch_work_confirm(cpc__orch_core *core, const char *node,
                           int64_t work_id, const char *cid, int ok,
                           int64_t now);

/* ---- store_drops.c ----------------------------------------------------------- */

/*
 * Drop orders (migration 0004): blocks a node may still hold although the
 * replica map no longer names them. All add functions run in the
 * caller's transaction, keep at most sched.max_drops_per_node orders per
 * node (further ones are not recorded) and ignore repeats.
 * cpc__orch_drop_add_txn: one order (node, cid).
 * cpc__orch_drops_add_deleting_txn: an order for each of node's replica
 *   rows in state deleting (call before forgetting them).
 * cpc__orch_drops_add_lost_txn: an order for each lost replica row of
 *   content_id's blocks that no active content uses, on vetting, active
 *   and offline nodes (call before forgetting them).
 * Return 0 or an SQL error (CPC_ENOMEM).
 */
int cpc__orch_drop_add_txn(cpc__orch_core *core, const char *node,
                           const char *cid, int64_t now);
int cpc__orch_drops_add_deleting_txn(cpc__orch_core *core, const char *node,
                                     int64_t now);
int cpc__orch_drops_add_lost_txn(cpc__orch_core *core, const char *content_id,
                                 int64_t now);

/*
 * Look at up to max of node's orders that are due, in one transaction
 * (call when the node's WorkStream is open). An order whose block no
 * active content uses, and for which the node has no replica row,
 * becomes a replica row in state deleting plus queued delete work; one
 * whose node has a row is dropped (the map governs that copy); one whose
 * block is in use again waits an hour. *looked (may be NULL) gets the
 * orders looked at (max: there may be more), *queued (may be NULL) the
 * delete work queued. Returns 0 or an SQL error.
 */
int cpc__orch_drops_release(cpc__orch_core *core, const char *node,
                            int64_t now, size_t max, size_t *looked,
                            size_t *queued);

/* ---- audit.c ---------------------------------------------------------------- */

/*
 * Store one pre-generated audit challenge for block cid of content_id
 * (the PDS supplies them with the content; the content row must exist).
 * nonce and expected are 32 bytes. *token_id (may be NULL) gets its id.
 * Returns 0, CPC_EINVAL (length 0), CPC_ENOENT (no such content) or an
 * SQL error.
 */
int cpc__orch_audit_token_add(cpc_sql *db, const char *content_id,
                              const char *cid, uint64_t offset,
                              uint64_t length,
                              const uint8_t nonce[CPC__AUDIT_NONCE_LEN],
                              const uint8_t expected[CPC__AUDIT_PROOF_LEN],
                              int64_t *token_id);

/*
 * A node's answer to audit audit_id. Late (after the deadline) or wrong
 * answers fail; a failed audit loses that replica and lowers the score,
 * which may disqualify the node; enough passes take a vetting node to
 * active. *passed gets 1 or 0, *st the node's status afterwards.
 * Returns 0, CPC_ENOENT (no open audit with that id for this node) or an
 * SQL error.
 */
int cpc__orch_audit_answer(cpc__orch_core *core, const char *node,
                           int64_t audit_id, const uint8_t *proof,
                           size_t proof_len, int64_t now, int *passed,
                           cpc__node_status *st);

/*
 * A random probe key for picking among the cids in [lo, hi]: their common
 * prefix, then 12 base32 characters read as a 60-bit number drawn
 * uniformly between lo's and hi's (so lo <= probe <= hi, and for CIDs of
 * hashes every stretch of the key space is as likely). Written into out
 * (cap bytes, always NUL-terminated); lo itself when lo >= hi, when the
 * characters after the prefix are not base32 or when cap is too small.
 * Pure but for the randomness.
 */
void cpc__orch_audit_probe(const char *lo, const char *hi, char *out,
                           size_t cap);

/* Scheduler steps (audit.c): fail audits past their deadline; issue one
 * audit to every node due for one, on one of its stored replicas with an
 * unused token, picked at random in O(log n) (a probe into the node's
 * cids). *n (may be NULL) gets how many. */
int cpc__orch_audits_expire(cpc__orch_core *core, int64_t now, size_t *n);
int cpc__orch_audits_issue(cpc__orch_core *core, int64_t now, size_t *n);

/* ---- placement.c ------------------------------------------------------------ */

typedef struct cpc__place_node {
  const char *peer_id; /* borrowed */
  const char *region;  /* borrowed */
  int64_t free_bytes;
} cpc__place_node;

/*
 * Choose up to want nodes out of cands[0..n) for a block of size bytes:
 * only nodes with free_bytes >= size; first one per failure domain not in
 * taken_regions[0..n_taken) (the regions of the current holders), most
 * free space first; then, when domains run out, the remaining nodes by
 * free space. The caller leaves out nodes that already have a replica
 * row for the block. chosen (want entries) receives indexes into cands,
 * *n_chosen their number (may be under want). Pure: no SQL, no state.
 */
void cpc__orch_place(const cpc__place_node *cands, size_t n,
                     const char *const *taken_regions, size_t n_taken,
                     int64_t size, size_t want, size_t *chosen,
                     size_t *n_chosen);

/* ---- scheduler.c -------------------------------------------------------------- */

/* Counts of what one tick did (tests and logs). */
typedef struct cpc__tick_report {
  size_t went_offline, work_retried, work_failed, audits_expired,
      audits_issued, replicas_placed, vetting_placed, deletes_queued,
      replicas_trimmed;
} cpc__tick_report;

/*
 * One scheduler tick at time now: each step runs only while this
 * instance holds its lease ("orchestrator/liveness", "…/work",
 * "…/audits", "…/replication"), so several instances split the steps.
 * report may be NULL. Returns 0 or the first SQL error (the other steps
 * still run).
 */
int cpc__orch_tick(cpc__orch_core *core, int64_t now, cpc__tick_report *report);

/* Give up every scheduler lease this instance holds (shutdown). */
void cpc__orch_release_leases(cpc__orch_core *core);

/* The steps, for tests. */
int cpc__orch_sched_liveness(cpc__orch_core *core, int64_t now, size_t *n);
int cpc__orch_sched_work_deadlines(cpc__orch_core *core, int64_t now,
                                   size_t *retried, size_t *failed);
int cpc__orch_sched_replicate(cpc__orch_core *core, int64_t now,
                              size_t *placed, size_t *vetting_placed,
                              size_t *trimmed);
int cpc__orch_sched_deletions(cpc__orch_core *core, int64_t now, size_t *n);
/* Refresh the gauges from the database (no-op without metrics). */
int cpc__orch_sched_gauges(cpc__orch_core *core, int64_t now);

/*
 * Refresh m's database gauges and bandwidth rate through db (a connection
 * the calling thread owns) unless the last refresh is younger than
 * min_age_ms, or than 50 times what the last refresh took (so counting
 * a large replica table never takes more than ~2% of a core). Any thread.
 * Returns 0 or an SQL error.
 */
int cpc__orch_refresh_gauges(cpc__orch_metrics *m, cpc_sql *db, int64_t now,
                             int64_t min_age_ms);

/* /metrics: refresh o's gauges through db (the REST thread's connection)
 * when they are older than a second (see cpc__orch_refresh_gauges). */
int cpc__orchestrator_refresh_metrics(cpc_orchestrator *o, cpc_sql *db);

/* ---- node_service.c ------------------------------------------------------------ */

typedef struct cpc__node_service cpc__node_service;

/* Register NodeService's methods on server. core is borrowed. */
int cpc__node_service_new(cpc__node_service **out, cpc_rpc_server *server,
                          cpc__orch_core *core);
/* Send queued work down every open WorkStream. */
void cpc__node_service_dispatch(cpc__node_service *svc, int64_t now);
/* Forget every stream (the server closing cancels them) and free. */
void cpc__node_service_free(cpc__node_service *svc);

/* The wall clock in ms since the Unix epoch. */
int64_t cpc__orch_now_ms(void);

#endif /* CPC_ORCHESTRATOR_INT_H */
