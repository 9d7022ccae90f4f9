/*
 * cpc/node.h: the cooperative provider node (cpc-node, DESIGN.md sections
 * 2, 6, 7): a libp2p host serving its block store over Bitswap (and the
 * DHT when bootstrap peers are given), a session with the orchestrator's
 * NodeService (docs/node-rpc.md: signed registration, heartbeats, the work
 * stream, confirmations, audits, corruption reports, a metrics stream), a
 * replication worker with a durable journal of pending work, a periodic
 * scrub, bandwidth and connection limits, and /metrics (OpenMetrics).
 *
 * A node lives in one data directory:
 *   DIR/node.key     libp2p Ed25519 PrivateKey protobuf, mode 0600
 *   DIR/node.json    the configuration (cpc_node_config, below)
 *   DIR/blocks/      the block store (LMDB, quota = committed capacity)
 *   DIR/journal/     one file per replicate/delete order not yet confirmed
 *
 *   cpc_node_config cfg;
 *   cpc_node_config_load(&cfg, dir, err, sizeof err);
 *   cpc_node_new(&n, loop, dir, &cfg, err, sizeof err);
 *   cpc_node_start(n, err, sizeof err);      listening, serving, connecting
 *   uv_run(loop, UV_RUN_DEFAULT);
 *   cpc_node_close(n, done, ud);             async
 *
 * Durability: a block is confirmed to the orchestrator only after the
 * block store has been fsync'd past its commit; a journal entry is written
 * (fsync'd) before work starts and removed after the orchestrator took the
 * confirmation, so a kill -9 at any moment loses no confirmed block and a
 * restart resumes every order still pending.
 *
 * Threading: everything runs on the loop's thread, except scrubs and
 * store syncs, which run on libuv's thread pool on the thread-safe block
 * store handle.
 */
#ifndef CPC_NODE_H
#define CPC_NODE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- human units --------------------------------------------------------- */

/*
 * Parse a size: a decimal number (fraction allowed) with an optional unit,
 * case-insensitive: B, K/KB, M/MB, G/GB, T/TB, P/PB (powers of 1000) or
 * KiB, MiB, GiB, TiB, PiB (powers of 1024); "500G", "1.5T", "100M",
 * "4096". The result is rounded down to whole bytes. Errors: CPC_EINVAL
 * (NULL, empty, not a number, unknown unit, negative), CPC_ETOOBIG (over
 * 2^63).
 */
int cpc_node_parse_size(const char *text, uint64_t *bytes);

/*
 * Parse a rate into bytes per second: a number with a unit that says bits
 * or bytes per second: "100Mbit", "100Mbps", "1Gbit/s", "800kbit" (bits,
 * powers of 1000), "10MB/s", "10MBps", "512KiB/s", "1M" (bytes; a bare
 * size is bytes per second). Errors as cpc_node_parse_size().
 */
int cpc_node_parse_rate(const char *text, uint64_t *bytes_per_s);

/* Write bytes as a short human size ("1.5 GB", "300 B") into out (cap
 * bytes, 16 is enough). Never fails; truncates when cap is short. */
void cpc_node_format_size(uint64_t bytes, char *out, size_t cap);

/* ---- configuration --------------------------------------------------------- */

#define CPC_NODE_MAX_ADDR 256    /* bytes of one multiaddr or ADDR:PORT */
#define CPC_NODE_MAX_LISTEN 8
#define CPC_NODE_MAX_BOOTSTRAP 16
#define CPC_NODE_MAX_REGION 64   /* the orchestrator's cap */
#define CPC_NODE_CONFIG_FILE "node.json"
#define CPC_NODE_KEY_FILE "node.key"

/*
 * The node's settings; the JSON keys of node.json are the field names
 * (capacity and bandwidth also take human strings, "500G", "100Mbit").
 * Defaults in brackets.
 */
typedef struct cpc_node_config {
  uint64_t capacity;            /* bytes committed (required, > 0) */
  uint64_t bandwidth;           /* bytes/s each way; 0: unlimited [0] */
  char region[CPC_NODE_MAX_REGION + 1]; /* failure domain ["default"] */
  char listen[CPC_NODE_MAX_LISTEN][CPC_NODE_MAX_ADDR]; /* multiaddrs
                                   ["/ip4/0.0.0.0/tcp/4001"] */
  size_t n_listen;
  char metrics[CPC_NODE_MAX_ADDR];      /* ADDR:PORT of /metrics; "": off
                                           [""] */
  char orchestrator[CPC_NODE_MAX_ADDR]; /* ADDR:PORT of the gRPC service;
                                           "": run without one [""] */
  char bootstrap[CPC_NODE_MAX_BOOTSTRAP][CPC_NODE_MAX_ADDR]; /* DHT seeds;
                                           none: no DHT */
  size_t n_bootstrap;
  uint64_t scrub_interval_ms;   /* re-hash every block this often
                                   [3600000]; first scrub one interval
                                   after start */
  uint64_t metrics_interval_ms; /* StreamMetrics sample period [10000] */
  uint64_t reconnect_min_ms;    /* first reconnect delay [500] */
  uint64_t reconnect_max_ms;    /* reconnect delay cap [30000] */
  uint64_t fetch_timeout_ms;    /* a replication fetch gives up after
                                   this long without a block [60000] */
  uint32_t max_fetches;         /* fetch sessions at once [8] */
  uint32_t fetch_batch;         /* blocks per fetch session [32] */
  uint32_t max_connections;     /* libp2p connections [1024] */
  uint32_t max_streams_per_conn; /* yamux streams per connection [1024] */
} cpc_node_config;

/* Defaults above (capacity 0: must be set). Never fails. */
void cpc_node_config_default(cpc_node_config *cfg);

/* Check every field (ranges, address syntax). err (cap bytes, may be NULL)
 * names the bad field and value. 0 or CPC_EINVAL. */
int cpc_node_config_check(const cpc_node_config *cfg, char *err, size_t cap);

/*
 * Read DIR/node.json over *cfg (start from cpc_node_config_default).
 * Unknown keys, wrong types, bad values are refused with a message naming
 * the key. Files over 64 KiB are refused. *cfg is changed only on success.
 * Errors: CPC_ENOENT (no file: run `cpc-node init`), CPC_EIO,
 * CPC_ETOOBIG, CPC_EMALFORMED (not JSON), CPC_EINVAL.
 */
int cpc_node_config_load(cpc_node_config *cfg, const char *dir, char *err,
                         size_t cap);

/* Write cfg to DIR/node.json atomically (temporary file, fsync, rename).
 * Errors: CPC_EIO, CPC_ENOMEM, CPC_EINVAL. */
int cpc_node_config_save(const cpc_node_config *cfg, const char *dir);

/*
 * Create a node in dir (created, mode 0700, if missing): a new Ed25519
 * key in DIR/node.key (0600) and cfg in DIR/node.json. *peer_id (may be
 * NULL; CPC_PEER_ID_MAX_TEXT bytes) gets the node's PeerId text. Errors:
 * CPC_EEXIST (a node key is already there: nothing is changed), CPC_EINVAL
 * (bad cfg; err says which field), CPC_EIO, CPC_ECRYPTO.
 */
int cpc_node_init(const char *dir, const cpc_node_config *cfg, char *peer_id,
                  char *err, size_t cap);

/* ---- the running node -------------------------------------------------------- */

typedef struct cpc_node cpc_node;

/* One log line (no newline), borrowed for the call. */
typedef void (*cpc_node_log_fn)(void *ud, const char *line);

/*
 * Create a node for dir with cfg (copied) on loop (borrowed; must outlive
 * the node): reads the key, opens the block store (quota = capacity) and
 * the journal. Nothing listens yet. log may be NULL (lines go to stderr,
 * prefixed with a UTC time). Errors: CPC_ENOENT (no key: run init),
 * CPC_EPERM (key file readable by others), CPC_EINVAL, CPC_EIO,
 * CPC_ENOMEM; err says what.
 */
int cpc_node_new(cpc_node **out, uv_loop_t *loop, const char *dir,
                 const cpc_node_config *cfg, cpc_node_log_fn log, void *log_ud,
                 char *err, size_t cap);

/*
 * Listen (libp2p, /metrics), serve Bitswap, join the DHT, connect to the
 * orchestrator, resume the journal, start the timers. Errors: CPC_EIO
 * (cannot listen: err names the address), CPC_ESTATE (started already),
 * CPC_ENOMEM.
 */
int cpc_node_start(cpc_node *n, char *err, size_t cap);

/* The node's PeerId text (borrowed, valid as long as n). */
const char *cpc_node_peer_id(const cpc_node *n);

/* The libp2p addresses listened on (after start), each with /p2p/<id>,
 * as text into out[0..cap) (CPC_NODE_MAX_ADDR bytes each); *n_out the
 * total count. 0 or CPC_ESTATE (not started). */
int cpc_node_listen_addrs(const cpc_node *n, char (*out)[CPC_NODE_MAX_ADDR],
                          size_t cap, size_t *n_out);

/* The /metrics port actually bound (0: none). */
uint16_t cpc_node_metrics_port(const cpc_node *n);

/*
 * Stop: the orchestrator session ends, fetches stop (their journal entries
 * stay for the next start), the host and servers close, the store is
 * synced and closed; then n is freed and done(ud) called (done may be
 * NULL). n must not be used afterwards.
 */
void cpc_node_close(cpc_node *n, void (*done)(void *ud), void *ud);

/* ---- pieces with their own contracts (tested apart) ----------------------- */

/*
 * The audit proof of docs/node-rpc.md: BLAKE3 keyed with nonce (32 bytes)
 * over data[offset, offset + length) into proof (32 bytes). Errors:
 * CPC_EINVAL (NULL, length 0), CPC_ETOOBIG (the range goes past len).
 */
int cpc_node_audit_proof(const uint8_t *data, size_t len, uint64_t offset,
                         uint64_t length, const uint8_t nonce[32],
                         uint8_t proof[32]);

/*
 * The x-cpc-signature of a NodeService call (docs/node-rpc.md): Ed25519 by
 * key over "CPC-NODE-RPC-V1\n" PATH "\n" TIMESTAMP "\n" hex(BLAKE3(body)),
 * as 128 lower-case hex digits NUL-terminated into sig_hex (129 bytes).
 * key is a struct cpc_privkey (cpc/keys.h). Errors: CPC_EINVAL,
 * CPC_EUNSUPPORTED (not Ed25519), CPC_ECRYPTO.
 */
struct cpc_privkey;
int cpc_node_rpc_sign(const struct cpc_privkey *key, const char *path,
                      const char *timestamp, const uint8_t *body, size_t len,
                      char sig_hex[129]);

#ifdef __cplusplus
}
#endif

#endif /* CPC_NODE_H */
