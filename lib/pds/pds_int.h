/*
 * pds_int.h: what the files of lib/pds share. The PDS runs on three kinds
 * of threads: the libuv loop (host, Bitswap, DHT), the API server's
 * connection threads, and the sync thread (orchestrator). Work for the loop
 * goes through the loop bridge (bridge.c); blocking HTTP calls never run on
 * the loop.
 */
#ifndef CPC_PDS_INT_H
#define CPC_PDS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "cpc/aead.h"
#include "cpc/blockstore.h"
#include "cpc/cid.h"
#include "cpc/content_metadata.h"
#include "cpc/exchange.h"
#include "cpc/identity.h"
#include "cpc/metrics.h"
#include "cpc/net.h"
#include "cpc/pds.h"
#include "cpc/sql.h"

#define CPC__PDS_CID_TEXT 128 /* base32 CIDv1 of a blake3 multihash: ~62 */
#define CPC__PDS_NAME_MAX 255
#define CPC__PDS_ERR 256

/* Own content states in the catalogue. */
enum cpc__pds_state {
  CPC__PDS_QUEUED = 1,     /* stored here, not yet registered */
  CPC__PDS_REGISTERED = 2, /* the orchestrator knows it */
  CPC__PDS_DELETING = 3,   /* removed here; the orchestrator not yet told */
  CPC__PDS_REFUSED = 4,    /* the orchestrator refused it (see error) */
};

/* One own content item of the catalogue. */
typedef struct cpc__pds_item {
  char content_id[CPC__PDS_CID_TEXT];
  char name[CPC__PDS_NAME_MAX + 1];
  uint64_t size;
  int64_t created_at; /* unix seconds */
  enum cpc_access_control access;
  uint32_t replicas;   /* wanted */
  uint32_t replicated; /* confirmed (min over blocks), last seen */
  int state;
  uint64_t blocks, block_bytes;
  uint8_t sealed[CPC_SEALED_KEY_LEN]; /* content key sealed for the owner */
  char error[CPC__PDS_ERR];
} cpc__pds_item;

/* A block of a content: CID and size, in pipeline order. */
typedef struct cpc__pds_block {
  cpc_cid cid;
  uint32_t size;
} cpc__pds_block;

/* --- catalogue.c: SQLite, one connection behind a mutex ------------------ */

typedef struct cpc__pds_cat cpc__pds_cat;

int cpc__pds_cat_open(const char *path, cpc__pds_cat **out, char *err,
                      size_t cap);
void cpc__pds_cat_close(cpc__pds_cat *c);
/* Insert an own item with its blocks (one transaction). CPC_EEXIST. */
int cpc__pds_cat_add(cpc__pds_cat *c, const cpc__pds_item *it,
                     const cpc__pds_block *blocks, size_t n);
/* The item content_id into *it. CPC_ENOENT. */
int cpc__pds_cat_get(cpc__pds_cat *c, const char *content_id,
                     cpc__pds_item *it);
/* Every item (malloc'd array *out of *n; free()). state 0: all states. */
int cpc__pds_cat_list(cpc__pds_cat *c, int state, cpc__pds_item **out,
                      size_t *n);
int cpc__pds_cat_set_state(cpc__pds_cat *c, const char *content_id, int state,
                           const char *error);
int cpc__pds_cat_set_replicated(cpc__pds_cat *c, const char *content_id,
                                uint32_t replicated);
/* Drop the item, its blocks list and readers. */
int cpc__pds_cat_remove(cpc__pds_cat *c, const char *content_id);
/* The blocks of an own item (malloc'd *out of *n; free()). CPC_ENOENT. */
int cpc__pds_cat_blocks(cpc__pds_cat *c, const char *content_id,
                        cpc__pds_block **out, size_t *n);
/* 1 if some own item other than except (may be NULL) lists cid. */
int cpc__pds_cat_block_owned(cpc__pds_cat *c, const cpc_cid *cid,
                             const char *except);
/* Readers holding a wrapped key of content_id. */
int cpc__pds_cat_reader_add(cpc__pds_cat *c, const char *content_id,
                            const char *reader);
int cpc__pds_cat_reader_has(cpc__pds_cat *c, const char *content_id,
                            const char *reader);
/* Cached (fetched, not own) blocks in LRU order. */
int cpc__pds_cat_cache_touch(cpc__pds_cat *c, const cpc_cid *cid,
                             uint64_t size, int64_t now_ms);
int cpc__pds_cat_cache_oldest(cpc__pds_cat *c, cpc_cid *cid, uint64_t *size);
int cpc__pds_cat_cache_remove(cpc__pds_cat *c, const cpc_cid *cid);
int cpc__pds_cat_cache_stats(cpc__pds_cat *c, uint64_t *count, uint64_t *bytes);
/* Key/value settings (user_registered, ...). *out empty when unset. */
int cpc__pds_cat_setting_get(cpc__pds_cat *c, const char *key, char *out,
                             size_t cap);
int cpc__pds_cat_setting_set(cpc__pds_cat *c, const char *key,
                             const char *value);
/* Verified X25519 keys of other users, cached. CPC_ENOENT. */
int cpc__pds_cat_user_key_get(cpc__pds_cat *c, const char *peer,
                              uint8_t key[CPC_X25519_KEY_LEN]);
int cpc__pds_cat_user_key_set(cpc__pds_cat *c, const char *peer,
                              const uint8_t key[CPC_X25519_KEY_LEN]);
/* Calls fn for every block CID the catalogue knows (own and cached). */
int cpc__pds_cat_known_blocks(cpc__pds_cat *c,
                              int (*fn)(void *arg, const char *cid),
                              void *arg);

/* --- orch_client.c: the orchestrator REST API over libcurl --------------- */

/*
 * method path (e.g. "/v1/content") with body (borrowed; NULL: none) as JSON,
 * signed with the user key when sign is 1. *status gets the HTTP status
 * and *out (may be NULL) the JSON answer (new reference or NULL). Returns 0
 * when an answer came, CPC_EIO (err says why) when the orchestrator could
 * not be reached, CPC_ENOMEM.
 */
int cpc__pds_orch(cpc_pds *p, const char *method, const char *path,
                  json_t *body, int sign, long *status, json_t **out,
                  char *err, size_t cap);
/* The "message" of an orchestrator error answer, or "". Borrowed. */
const char *cpc__pds_orch_message(json_t *answer);

/* --- bridge.c: running work on the loop thread --------------------------- */

typedef void (*cpc__pds_loop_fn)(cpc_pds *p, void *arg, int closing);
/* Run fn(p, arg, 0) on the loop thread soon; once the PDS is stopping,
 * fn(p, arg, 1) instead (it must then only release arg). CPC_ECLOSED when
 * the PDS is closed already (fn not called), CPC_ENOMEM. */
int cpc__pds_loop_post(cpc_pds *p, cpc__pds_loop_fn fn, void *arg);
int cpc__pds_bridge_init(cpc_pds *p);
/* Run what is queued with closing = 1 and close the async handle. */
void cpc__pds_bridge_close(cpc_pds *p);

/* --- fetch.c: Bitswap fetches and DHT lookups from any thread ------------- */

typedef struct cpc__pds_fetch cpc__pds_fetch;
/* Start fetching cids[0..n) from addrs[0..n_addrs) (both copied). swarm
 * (may be NULL; copied): the content the cids belong to, so that every
 * reader of it meets in one super-seeding swarm (cpc_exchange_fetch_swarm_key). */
int cpc__pds_fetch_start(cpc_pds *p, const cpc_cid *cids, size_t n,
                         const cpc_multiaddr *addrs, size_t n_addrs,
                         const cpc_cid *swarm, cpc__pds_fetch **out);
/* Wait until cid is in the block store, the fetch ended, timeout_ms passed
 * or the PDS stops. 0 when the block is there; else the fetch's code,
 * CPC_ETIMEDOUT or CPC_ECLOSED. */
int cpc__pds_fetch_wait(cpc__pds_fetch *f, const cpc_cid *cid,
                        uint32_t timeout_ms);
/* Cancel (if still running) and release. NULL is fine. */
void cpc__pds_fetch_release(cpc__pds_fetch *f);
/* Providers of cid on the DHT (their addresses with /p2p/), at most cap,
 * waiting at most timeout_ms. 0 (maybe none), CPC_ECLOSED. */
int cpc__pds_dht_providers(cpc_pds *p, const cpc_cid *cid,
                           cpc_multiaddr *out, size_t cap, size_t *n,
                           uint32_t timeout_ms);
/* Announce cid on the DHT (fire and forget). */
void cpc__pds_dht_provide(cpc_pds *p, const cpc_cid *cid);
/* Publish the clear key of own public content as a signed DHT record
 * "/cpc/<owner>/<content id>" (fire and forget), so readers find it when
 * the orchestrator is unreachable. */
void cpc__pds_dht_publish_key(cpc_pds *p, const cpc_cid *cid,
                              const uint8_t key[CPC_AEAD_KEY_LEN]);
/* The key owner published for cid, checked against owner's signature.
 * 0, CPC_ENOENT (none found in timeout_ms), CPC_ENOMEM. */
int cpc__pds_dht_get_key(cpc_pds *p, const cpc_peer_id *owner,
                         const cpc_cid *cid, uint8_t key[CPC_AEAD_KEY_LEN],
                         uint32_t timeout_ms);
/* Loop thread: forget fetches and lookups at shutdown. */
void cpc__pds_fetch_shutdown(cpc_pds *p);
/* Loop thread: a connection closed. */
void cpc__pds_fetch_conn_closed(cpc_pds *p, cpc_net_conn *c);

/* --- storage.c: storage limit and LRU eviction ---------------------------- */

/* Evict cached blocks (least recently used first) until need more bytes
 * fit under the storage limit. CPC_ENOSPC when only own blocks are left. */
int cpc__pds_make_room(cpc_pds *p, uint64_t need);
/* Remove blocks no catalogue entry names (left by an interrupted upload
 * or download); *removed gets the count. */
int cpc__pds_gc(cpc_pds *p, uint64_t *removed);
/* Delete blocks[0..n) unless another own item uses them. */
void cpc__pds_drop_blocks(cpc_pds *p, const cpc__pds_block *b, size_t n,
                          const char *content_id);

/* --- post.c: uploads ------------------------------------------------------ */

typedef struct cpc__pds_upload cpc__pds_upload;
int cpc__pds_upload_begin(cpc_pds *p, enum cpc_access_control access,
                          uint32_t replicas, const char *name,
                          cpc__pds_upload **out);
/* Feed bytes; the first error sticks (err gets the reason). */
int cpc__pds_upload_data(cpc__pds_upload *u, const void *data, size_t len);
/* Finish: store in the catalogue, try to register; *answer is the JSON
 * for the caller (new reference). On error *status/err say why. */
int cpc__pds_upload_end(cpc__pds_upload *u, json_t **answer,
                        unsigned *status, char *err, size_t cap);
/* Abort an upload (blocks dropped) and free it. NULL is fine. */
void cpc__pds_upload_free(cpc__pds_upload *u);
const char *cpc__pds_upload_error(const cpc__pds_upload *u);

/* --- read.c: downloads ---------------------------------------------------- */

typedef struct cpc__pds_read cpc__pds_read;
/*
 * Prepare reading content_id: the key (own catalogue, else the
 * orchestrator's locate, else the DHT for public content), the providers,
 * a fetch for the blocks missing here. On failure *status (HTTP), code and
 * err (cap bytes) say what to tell the caller.
 */
int cpc__pds_read_open(cpc_pds *p, const cpc_cid *content_id,
                       cpc__pds_read **out, uint64_t *size, unsigned *status,
                       const char **code, char *err, size_t cap);
/* Decrypt into fd (blocking). 0 or the pipeline's error. */
int cpc__pds_read_run(cpc__pds_read *r, int fd);
void cpc__pds_read_free(cpc__pds_read *r);

/* --- sync.c: the orchestrator side, on its own thread ---------------------- */

int cpc__pds_sync_start(cpc_pds *p);
void cpc__pds_sync_stop(cpc_pds *p);
/* Wake the sync thread now. */
void cpc__pds_sync_kick(cpc_pds *p);
/* Register one queued item (any thread; serialised). 0: registered;
 * CPC_EIO: orchestrator unreachable (stays queued); CPC_EPERM: refused
 * (err says why). */
int cpc__pds_register(cpc_pds *p, const char *content_id, char *err,
                      size_t cap);
/* Seal key for every current follower (and the owner) into md. */
int cpc__pds_followers(cpc_pds *p, json_t **peers);
/* A verified X25519 key of peer (catalogue cache, else orchestrator). */
int cpc__pds_user_key(cpc_pds *p, const char *peer,
                      uint8_t key[CPC_X25519_KEY_LEN]);

/* --- api*.c: the local HTTP API ---------------------------------------- */

int cpc__pds_api_start(cpc_pds *p, char *err, size_t cap);
void cpc__pds_api_stop(cpc_pds *p);

/* --- pds_metrics.c -------------------------------------------------------- */

int cpc__pds_metrics_init(cpc_pds *p);
void cpc__pds_metrics_tick(cpc_pds *p, double seconds);

/* --- the PDS ---------------------------------------------------------------- */

typedef struct cpc__pds_job cpc__pds_job;
typedef struct cpc__pds_op cpc__pds_op;

struct cpc_pds {
  cpc_pds_config cfg;
  uv_loop_t *loop;
  cpc_user_identity id;
  char peer_id[CPC_PEER_ID_MAX_TEXT];
  char token[2 * CPC_PDS_TOKEN_BYTES + 1];
  char path_blocks[CPC_PDS_MAX_PATH + 16];
  cpc_blockstore *bs;
  cpc__pds_cat *cat;
  cpc_net *net;
  cpc_exchange *ex;
  char addrs[CPC_PDS_MAX_ADDRS][CPC_PDS_MAX_ADDR_TEXT];
  size_t n_addrs;
  atomic_int closing;
  atomic_int orch_reachable;
  atomic_int user_registered;

  /* bridge */
  uv_async_t async;
  int async_open;
  pthread_mutex_t jobs_mu;
  cpc__pds_job *jobs, *jobs_tail;
  int jobs_closed;
  cpc__pds_op *ops; /* loop thread: fetches and lookups running */

  /* API server */
  void *mhd;
  uint16_t api_port;

  /* sync thread */
  pthread_t sync_thread;
  int sync_running;
  pthread_mutex_t sync_mu;
  pthread_cond_t sync_cv;
  int sync_stop, sync_kick;
  pthread_mutex_t register_mu;

  /* storage */
  pthread_mutex_t store_mu;
  atomic_ullong evicted_blocks, evicted_bytes;

  /* metrics */
  cpc_metrics *metrics;
  cpc_metrics_series *bw_in, *bw_out, *traffic_in, *traffic_out;
  cpc_metrics_series *m_puts, *m_gets, *m_get_fail, *m_evicted, *m_storage,
      *m_limit, *m_content, *m_queued, *m_peers;
  uint64_t last_in, last_out;
  atomic_ullong api_in, api_out;
  uv_timer_t tick;
  int tick_open;

  void (*stop_cb)(void *ud);
  void *stop_ud;
  int stopping;
};

/* "public", "followers", "private" (the orchestrator's names); parse also
 * takes "followers_only". Parse returns 0 or CPC_EINVAL. (api.c) */
const char *cpc__pds_access_name(enum cpc_access_control a);
int cpc__pds_access_parse(const char *s, enum cpc_access_control *a);
/* "queued", "registered", "deleting", "refused". (api.c) */
const char *cpc__pds_state_name(int state);

/* Monotonic milliseconds and wall-clock helpers. */
int64_t cpc__pds_now_ms(void);

#endif /* CPC_PDS_INT_H */
