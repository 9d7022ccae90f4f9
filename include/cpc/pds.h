/*
 * cpc/pds.h: the Personal Data Server (DESIGN.md sections 2, 4 and 7).
 *
 * A PDS holds one user's identity, encrypts and chunks everything the user
 * posts, keeps a local catalogue (SQLite) and block store (LMDB, with an
 * LRU cache of fetched blocks under a storage limit), registers content
 * with the orchestrator (keys wrapped per access control), serves its
 * blocks over Bitswap so provider nodes can pull them, fetches other
 * users' content from several providers in parallel, and offers a local
 * HTTP API (docs/pds-api.md) that the `cpc` command line uses.
 *
 *   cpc_pds_config cfg;  cpc_pds *p;
 *   cpc_pds_config_default(&cfg);
 *   cpc_pds_config_load(&cfg, "pds.json", err, sizeof err);   optional
 *   cpc_pds_start(loop, &cfg, &p, err, sizeof err);
 *   uv_run(loop, UV_RUN_DEFAULT);
 *   ... cpc_pds_stop(p, on_stopped, ud);
 *
 * Data directory (created 0700 if missing):
 *   identity     the user identity (secp256k1 + X25519), mode 0600
 *   api-token    the bearer token of the local API, mode 0600
 *   pds.db       the catalogue (own content, keys sealed to the owner,
 *                the registration queue, the cache's LRU order)
 *   blocks/      the block store
 *
 * The libp2p host uses the user's secp256k1 key, so the PDS's PeerId is
 * the user's PeerId ("16Uiu2…").
 *
 * Threading: the host, Bitswap and the DHT run on the caller's loop; the
 * API server runs on its own threads (one per connection) and a sync
 * thread talks to the orchestrator (registration queue, keys for new
 * followers, replication status), so no blocking HTTP call runs on the
 * loop. Every cpc_pds_* function is called on the loop's thread.
 */
#ifndef CPC_PDS_H
#define CPC_PDS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CPC_PDS_DEFAULT_LISTEN "/ip4/127.0.0.1/tcp/4002"
#define CPC_PDS_DEFAULT_API "127.0.0.1:7710"
#define CPC_PDS_DEFAULT_ORCHESTRATOR "http://127.0.0.1:7700"
#define CPC_PDS_MAX_ADDRS 16
#define CPC_PDS_MAX_ADDR_TEXT 512
#define CPC_PDS_MAX_PATH 1024
#define CPC_PDS_MAX_URL 1024
/* Largest config file read. */
#define CPC_PDS_CONFIG_MAX (1u << 20)
/* Bytes of the API token (hex text is twice as long). */
#define CPC_PDS_TOKEN_BYTES 32

enum cpc_pds_eviction { CPC_PDS_EVICT_LRU = 1 };
enum cpc_pds_cipher { CPC_PDS_CIPHER_CHACHA20_POLY1305 = 1 };

/*
 * The seed's PdsConfig plus where things live. Strings are fixed arrays,
 * so the struct owns nothing on the heap.
 */
typedef struct cpc_pds_config {
  uint64_t storage_limit;   /* bytes of blocks kept (0: no limit) */
  uint64_t bandwidth_limit; /* bytes per second, each way (0: no limit) */
  enum cpc_pds_eviction cache_eviction; /* only LRU */
  enum cpc_pds_cipher encryption;       /* only ChaCha20-Poly1305 */
  char listen[CPC_PDS_MAX_ADDRS][CPC_PDS_MAX_ADDR_TEXT]; /* multiaddrs */
  size_t n_listen;
  char bootstrap[CPC_PDS_MAX_ADDRS][CPC_PDS_MAX_ADDR_TEXT]; /* /…/p2p/… */
  size_t n_bootstrap;
  char data_dir[CPC_PDS_MAX_PATH];
  char orchestrator[CPC_PDS_MAX_URL]; /* base URL of its REST API */
  char api[128];                      /* ADDR:PORT of the local API */
  uint32_t sync_interval_ms; /* orchestrator polling period (default 2000) */
  uint32_t fetch_timeout_ms; /* give up a download after (default 60000) */
} cpc_pds_config;

/*
 * Defaults: no limits, LRU, ChaCha20-Poly1305, listen
 * CPC_PDS_DEFAULT_LISTEN, no bootstrap, data dir $CPC_HOME/pds else
 * ./cpc-pds-data, orchestrator CPC_PDS_DEFAULT_ORCHESTRATOR, API
 * CPC_PDS_DEFAULT_API.
 */
void cpc_pds_config_default(cpc_pds_config *c);

/*
 * Read the JSON config text[0..len) over c (keys present replace the
 * defaults):
 *   { "storage_limit": 1073741824 | "1GiB",  (K, M, G, T with B or iB)
 *     "bandwidth_limit": 0 | "10MiB",        bytes per second
 *     "cache_eviction": "lru",
 *     "network": { "listen": ["/ip4/…/tcp/…"], "bootstrap": ["/…/p2p/…"] },
 *     "encryption": "chacha20-poly1305",
 *     "data": "DIR", "orchestrator": "http://…", "api": "ADDR:PORT",
 *     "sync_interval_ms": 2000, "fetch_timeout_ms": 60000 }
 * Unknown keys and bad values are refused; err (cap bytes) then names the
 * key ("storage_limit: …"). Errors: CPC_EMALFORMED (not JSON, unknown key,
 * bad value), CPC_ETOOBIG (over CPC_PDS_CONFIG_MAX or a list or string
 * over its cap).
 */
int cpc_pds_config_parse(cpc_pds_config *c, const char *text, size_t len,
                         char *err, size_t cap);

/* As cpc_pds_config_parse on the file at path. Adds CPC_ENOENT, CPC_EIO. */
int cpc_pds_config_load(cpc_pds_config *c, const char *path, char *err,
                        size_t cap);

/*
 * Parse a size: digits with an optional unit K, KB, KiB, M, MB, MiB, G…, T…
 * (KB = 1000, K and KiB = 1024). CPC_EMALFORMED, CPC_ETOOBIG (over 2^63).
 */
int cpc_pds_parse_size(const char *text, uint64_t *out);

typedef struct cpc_pds cpc_pds;

/*
 * Start a PDS on loop (borrowed; it must outlive the PDS) with cfg
 * (copied): create or load the identity and API token, open the catalogue
 * and block store, drop blocks an interrupted upload left behind, start
 * the libp2p host (Bitswap, DHT), the API server and the sync thread
 * (which registers the user with the orchestrator, then the queued
 * uploads). *out is released with cpc_pds_stop(). On failure err (cap
 * bytes) says what failed and how to fix it. Errors: CPC_EINVAL (bad
 * config), CPC_EPERM (a key file others may read), CPC_EIO (cannot bind,
 * cannot write the data directory), CPC_ENOMEM, and the errors of the
 * stores.
 */
int cpc_pds_start(uv_loop_t *loop, const cpc_pds_config *cfg, cpc_pds **out,
                  char *err, size_t cap);

/*
 * Stop the API server and the sync thread (requests under way finish
 * first), close Bitswap and the host, then free p and call cb(ud) (cb may
 * be NULL) from the loop. NULL p is fine.
 */
void cpc_pds_stop(cpc_pds *p, void (*cb)(void *ud), void *ud);

/* The user's PeerId as text (borrowed, valid as long as p). */
const char *cpc_pds_peer_id(const cpc_pds *p);

/* The port of the local API (useful when cfg.api had port 0). */
uint16_t cpc_pds_api_port(const cpc_pds *p);

/*
 * The host's listen addresses, each with /p2p/<PeerId>: the i-th as text
 * (borrowed), or NULL past the end.
 */
const char *cpc_pds_listen_addr(const cpc_pds *p, size_t i);

#ifdef __cplusplus
}
#endif

#endif /* CPC_PDS_H */
