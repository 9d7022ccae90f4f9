/*
 * cpc/http.h: the embedded HTTP/1.1 REST server core (orchestrator REST API,
 * PDS local API): router, request/response helpers, strict JSON bodies,
 * signed-request authentication and its nonce store, and the client-side
 * request signer.
 *
 * Threading. The server runs on libmicrohttpd with its own threads: a pool of
 * cfg.threads polling threads (MHD_OPTION_THREAD_POOL_SIZE, epoll), each
 * owning a share of the connections. Handlers run on those threads, so
 * several handlers run at once (one per pool thread) and a handler that
 * blocks (an SQL query) only delays the connections of its own thread. The
 * router, the handler contexts and the nonce store are shared by all
 * threads: the router must not change once the server is started, handler
 * contexts must be thread-safe, and nonce stores must be thread-safe.
 *
 * Errors. Every error the server or a handler sends is JSON
 *   {"error":{"code":"<code>","message":"<human text>"}}
 * with these codes (handlers may add their own):
 *   400 bad_request      request target or query string malformed/over cap
 *   400 malformed_json   body is not one JSON object within the caps
 *   400 invalid_field    a field has the wrong type or value (handlers)
 *   401 unauthorized     authentication headers missing, malformed, PeerId
 *                        not a secp256k1 identity id, or signature invalid
 *   401 stale            X-CPC-Timestamp outside the allowed window
 *   401 replayed         nonce already used by this PeerId within the window
 *   403 forbidden        authenticated but not allowed (handlers)
 *   404 not_found        no such route (or resource, from handlers)
 *   405 method_not_allowed  path exists for other methods (Allow header set)
 *   409 conflict         (handlers)
 *   413 too_large        body over cfg.max_body
 *   500 internal         a handler failed without answering
 *   503 unavailable      the nonce store is full or failing
 * Requests libmicrohttpd refuses itself before routing (request line or
 * headers over cfg.max_header_bytes: 414/431; broken HTTP syntax: 400) get
 * its own short HTML answers, not JSON.
 *
 * Authentication (docs/api-auth.md has the full text):
 *   X-CPC-Peer-Id    the caller's PeerId (identity multihash of a secp256k1
 *                    key, "16Uiu2…"; the CIDv1 "bafz…" form is accepted too)
 *   X-CPC-Timestamp  unix seconds, decimal, 1..12 digits, no leading zero
 *   X-CPC-Nonce      16..64 characters of [A-Za-z0-9_-]
 *   X-CPC-Signature  standard padded base64 of the libp2p secp256k1
 *                    signature (DER ECDSA over SHA-256 of the message) as
 *                    cpc_privkey_sign() and @libp2p/crypto sign() give it
 * The signed message is
 *   "CPC-REQUEST-V1\n" METHOD "\n" TARGET "\n" hex(BLAKE3(body)) "\n"
 *   TIMESTAMP "\n" NONCE
 * with TARGET the request-target exactly as sent (path and query, still
 * percent-encoded), the hash in lowercase hex (of the empty string when there
 * is no body), TIMESTAMP and NONCE exactly as in their headers; no trailing
 * newline. The server checks, in this order: headers present and well
 * formed, PeerId inlines a secp256k1 key, |now - timestamp| <= window,
 * signature, then (only for a valid signature) that the (PeerId, nonce) pair
 * is new: it is remembered until timestamp + window.
 */
#ifndef CPC_HTTP_H
#define CPC_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cpc/keys.h"
#include "cpc/peer_id.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- caps ---------------------------------------------------------------- */

#define CPC_HTTP_MAX_BODY_DEFAULT (1024u * 1024u)
#define CPC_HTTP_MAX_TARGET 8192 /* request-target bytes we accept */
#define CPC_HTTP_MAX_QUERY 4096  /* query string bytes (after '?') */
#define CPC_HTTP_MAX_QUERY_PARAMS 32
#define CPC_HTTP_MAX_PATTERN 256 /* route pattern length */
#define CPC_HTTP_MAX_SEGMENTS 16 /* path segments in a pattern or a path */
#define CPC_HTTP_MAX_PARAMS 8    /* {params} in one pattern */
#define CPC_HTTP_MAX_PARAM_NAME 32
#define CPC_HTTP_MAX_ROUTES 256
#define CPC_HTTP_MAX_METHOD 16 /* method token length, NUL excluded */
#define CPC_HTTP_MAX_JSON_DEPTH_DEFAULT 32
#define CPC_HTTP_MAX_RESPONSE_HEADERS 16

/* --- router -------------------------------------------------------------- */

typedef struct cpc_http_router cpc_http_router;
typedef struct cpc_http_request cpc_http_request;

/*
 * A route handler. It answers with one of the cpc_http_respond*() functions
 * and returns 0. If it returns without answering, the server answers 500
 * internal (whatever it returned); if it answers, its return value is only
 * informative. req is valid until the handler returns.
 */
typedef int (*cpc_http_handler)(cpc_http_request *req, void *ctx);

/* How a route authenticates its callers. */
enum cpc_http_auth_mode {
  CPC_HTTP_AUTH_NONE = 0,     /* X-CPC-* headers are ignored; no caller */
  CPC_HTTP_AUTH_REQUIRED = 1, /* a valid signed request, else 401 */
  CPC_HTTP_AUTH_OPTIONAL = 2, /* verified if X-CPC-Signature is present
                                 (401 if it fails), anonymous otherwise */
};

/* A new empty router (*out, freed with cpc_http_router_free). CPC_ENOMEM. */
int cpc_http_router_new(cpc_http_router **out);

/* Free r and its routes. r may be NULL. */
void cpc_http_router_free(cpc_http_router *r);

/*
 * Add a route. method: an upper-case token ("GET", "POST", ...; a GET route
 * also answers HEAD unless a HEAD route exists for the path). pattern: a path
 * of '/'-separated segments, each a literal or "{name}" ("{name}" matches one
 * non-empty segment, percent-decoded), e.g. "/v1/users/{peer_id}/following/
 * {other}". Literal segments win over parameters: "/v1/users/me" is chosen
 * over "/v1/users/{id}" for "/v1/users/me" whatever the order of adding.
 * Strings are copied; ctx is borrowed (it must outlive the router).
 * Errors: CPC_EINVAL (bad method, pattern syntax, duplicate parameter name,
 * NULL handler), CPC_ETOOBIG (over the CPC_HTTP_MAX_* caps), CPC_EEXIST (the
 * same method and pattern shape already exists), CPC_ENOMEM.
 */
int cpc_http_router_add(cpc_http_router *r, const char *method,
                        const char *pattern, enum cpc_http_auth_mode auth,
                        cpc_http_handler handler, void *ctx);

/* The result of cpc_http_router_match(). Owns nothing on the heap. */
typedef struct cpc_http_match {
  const char *pattern; /* borrowed from the router */
  const char *method;  /* the route's method (borrowed) */
  enum cpc_http_auth_mode auth;
  cpc_http_handler handler;
  void *ctx;
  size_t nparams;
  const char *names[CPC_HTTP_MAX_PARAMS];  /* borrowed from the router */
  const char *values[CPC_HTTP_MAX_PARAMS]; /* point into buf, decoded */
  char allow[128]; /* on CPC_ENOENT: "GET, HEAD, POST" or "" */
  char buf[CPC_HTTP_MAX_TARGET];
} cpc_http_match;

/*
 * Find the route for method and path (path: the request-target up to '?',
 * still percent-encoded, path_len bytes; need not be NUL-terminated).
 * Returns 0 and fills m when a route matches. CPC_ENOENT when none does:
 * m->allow then lists the methods that do have a route for this path
 * (non-empty: answer 405 with it as the Allow header; empty: 404).
 * CPC_EMALFORMED when the path does not start with '/', has a bad
 * %-escape, or decodes to a NUL byte; CPC_ETOOBIG over CPC_HTTP_MAX_TARGET
 * or CPC_HTTP_MAX_SEGMENTS. The router is only read: calls may run in
 * parallel.
 */
int cpc_http_router_match(const cpc_http_router *r, const char *method,
                          const char *path, size_t path_len, cpc_http_match *m);

/* --- query strings ------------------------------------------------------- */

/* Parsed query: pairs in order, percent- and '+'-decoded, into buf. */
typedef struct cpc_http_query {
  size_t count;
  const char *names[CPC_HTTP_MAX_QUERY_PARAMS];
  const char *values[CPC_HTTP_MAX_QUERY_PARAMS];
  char buf[CPC_HTTP_MAX_QUERY + 2 * CPC_HTTP_MAX_QUERY_PARAMS + 2];
} cpc_http_query;

/*
 * Parse query[0..len) (the part after '?', borrowed). "a=1&b=&c" gives
 * a="1", b="", c=""; empty pieces ("a=1&&b=2") are skipped. Errors:
 * CPC_ETOOBIG (over CPC_HTTP_MAX_QUERY bytes or CPC_HTTP_MAX_QUERY_PARAMS
 * pairs), CPC_EMALFORMED (bad %-escape, an escape decoding to NUL, an empty
 * name).
 */
int cpc_http_query_parse(const char *query, size_t len, cpc_http_query *q);

/* The first value of name (case-sensitive), or NULL. Borrowed from q. */
const char *cpc_http_query_get(const cpc_http_query *q, const char *name);

/* --- strict JSON bodies -------------------------------------------------- */

/*
 * Parse body[0..len) as exactly one JSON object: UTF-8, no duplicate keys,
 * no "\u0000", nesting at most max_depth (0: CPC_HTTP_MAX_JSON_DEPTH_DEFAULT)
 * levels of objects/arrays, nothing but whitespace after it. *out gets a new
 * reference (json_decref it). On failure msg (cap bytes, may be NULL) gets a
 * sentence naming the problem and its position, e.g. "invalid JSON at line
 * 1, column 9: duplicate object key". Errors: CPC_EMALFORMED, CPC_ETOOBIG
 * (nesting), CPC_ENOMEM.
 */
int cpc_http_json_parse(const void *body, size_t len, size_t max_depth,
                        json_t **out, char *msg, size_t cap);

/* --- requests (inside handlers) ------------------------------------------ */

/* The method ("GET", ...). Borrowed, valid during the handler. */
const char *cpc_http_request_method(const cpc_http_request *req);

/* The request-target exactly as sent (path and query), NUL-terminated. */
const char *cpc_http_request_target(const cpc_http_request *req);

/* The route pattern that matched ("/v1/users/{peer_id}"). */
const char *cpc_http_request_route(const cpc_http_request *req);

/* A path parameter by name, percent-decoded; NULL if the route has none. */
const char *cpc_http_request_param(const cpc_http_request *req,
                                   const char *name);

/* The first query value of name, decoded; NULL if absent. */
const char *cpc_http_request_query(const cpc_http_request *req,
                                   const char *name);

/* The parsed query string (all pairs, in order). */
const cpc_http_query *cpc_http_request_query_all(const cpc_http_request *req);

/* A request header (case-insensitive name); NULL if absent. Borrowed. */
const char *cpc_http_request_header(const cpc_http_request *req,
                                    const char *name);

/* The body (borrowed; may be NULL when *len is 0). len may be NULL. */
const uint8_t *cpc_http_request_body(const cpc_http_request *req, size_t *len);

/*
 * The body as one JSON object (cpc_http_json_parse with the server's depth
 * cap). On failure the 400 malformed_json answer (or 500 on CPC_ENOMEM) is
 * already queued: the handler just returns. *out: new reference.
 */
int cpc_http_request_json(cpc_http_request *req, json_t **out);

/*
 * The authenticated caller, or NULL on an anonymous request (routes with
 * CPC_HTTP_AUTH_NONE, or CPC_HTTP_AUTH_OPTIONAL without a signature).
 */
const cpc_peer_id *cpc_http_request_caller(const cpc_http_request *req);

/* --- responses ----------------------------------------------------------- */

/*
 * Answer status with body as compact JSON (Content-Type: application/json).
 * Takes the reference to body in every case (json_decref'ed here); a NULL
 * body (a failed json_pack) answers 500 internal. One answer per request:
 * a second call returns CPC_ESTATE and changes nothing. Errors: CPC_ESTATE,
 * CPC_ENOMEM (then a plain 500 is sent), CPC_EINVAL (status outside
 * 100..599).
 */
int cpc_http_respond_json(cpc_http_request *req, unsigned status, json_t *body);

/*
 * Answer status with {"error":{"code":code,"message":<printf of fmt>}}.
 * code is a short snake_case token (see the list at the top). Same errors
 * as cpc_http_respond_json().
 */
int cpc_http_respond_error(cpc_http_request *req, unsigned status,
                           const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Answer status with data[0..len) (copied) and content_type (copied; NULL:
 * no Content-Type), e.g. /metrics text or a static document.
 */
int cpc_http_respond(cpc_http_request *req, unsigned status,
                     const char *content_type, const void *data, size_t len);

/*
 * Add a header to the answer (Location, Cache-Control, ...), before one of
 * the cpc_http_respond*() calls. Strings are copied. Errors: CPC_EINVAL
 * (CR/LF in either), CPC_ETOOBIG (over CPC_HTTP_MAX_RESPONSE_HEADERS),
 * CPC_ESTATE (already answered), CPC_ENOMEM.
 */
int cpc_http_response_header(cpc_http_request *req, const char *name,
                             const char *value);

/* --- nonce store --------------------------------------------------------- */

typedef struct cpc_nonce_store cpc_nonce_store;

/*
 * A nonce store: "have I seen (peer, nonce) before?" shared by every thread
 * of a server (and, for an SQL-backed one, by every orchestrator instance).
 * Implementations embed struct cpc_nonce_store as their first member.
 */
typedef struct cpc_nonce_store_ops {
  /*
   * Atomically: if (peer, nonce[0..nonce_len)) is stored with an expiry
   * > now, return CPC_EEXIST; otherwise store it until expiry (unix
   * seconds) and return 0. Pairs whose expiry is <= now may be forgotten.
   * Other errors (CPC_ENOSPC when full, CPC_EIO, ...) make the server answer
   * 503. The nonce has already been checked to be 16..64 chars of
   * [A-Za-z0-9_-]. Must be safe to call from several threads at once.
   */
  int (*check_and_insert)(cpc_nonce_store *s, const cpc_peer_id *peer,
                          const char *nonce, size_t nonce_len, int64_t expiry,
                          int64_t now);
  /* Free the store. */
  void (*destroy)(cpc_nonce_store *s);
} cpc_nonce_store_ops;

struct cpc_nonce_store {
  const cpc_nonce_store_ops *ops;
};

/* s->ops->check_and_insert(...). */
int cpc_nonce_store_check_and_insert(cpc_nonce_store *s,
                                     const cpc_peer_id *peer, const char *nonce,
                                     size_t nonce_len, int64_t expiry,
                                     int64_t now);

/* s->ops->destroy(s). s may be NULL. */
void cpc_nonce_store_free(cpc_nonce_store *s);

/*
 * An in-memory nonce store for at most cap pairs (0: 262144), guarded by a
 * mutex. Pairs are kept as 128-bit keyed BLAKE3 digests (random key per
 * store, so bucket collisions cannot be aimed) in a chained hash table;
 * expired pairs are swept as chains are walked, a few buckets per insert,
 * and all at once when the table is full. When it is full of unexpired
 * pairs, inserts fail with CPC_ENOSPC (fail closed: no replay gets in).
 * Errors: CPC_ENOMEM, CPC_ETOOBIG (cap over 2^26), CPC_ECRYPTO.
 */
int cpc_nonce_store_memory_new(size_t cap, cpc_nonce_store **out);

/* The number of pairs an in-memory store holds (expired ones included). */
size_t cpc_nonce_store_memory_count(cpc_nonce_store *s);

/* --- request authentication ---------------------------------------------- */

#define CPC_HTTP_AUTH_WINDOW_DEFAULT 300 /* seconds either side of now */
#define CPC_HTTP_AUTH_NONCE_MIN 16
#define CPC_HTTP_AUTH_NONCE_MAX 64
#define CPC_HTTP_AUTH_TIMESTAMP_MAX 12 /* digits */
#define CPC_HTTP_AUTH_SIG_B64_MAX 96   /* base64 of a 72-byte DER signature */
#define CPC_HTTP_AUTH_PREFIX "CPC-REQUEST-V1\n"
/* Longest signed message: prefix, method, target, hash, timestamp, nonce. */
#define CPC_HTTP_AUTH_MESSAGE_MAX                                              \
  (15 + CPC_HTTP_MAX_METHOD + 1 + CPC_HTTP_MAX_TARGET + 1 + 64 + 1 +           \
   CPC_HTTP_AUTH_TIMESTAMP_MAX + 1 + CPC_HTTP_AUTH_NONCE_MAX)

/* Header names. */
#define CPC_HTTP_HDR_PEER_ID "X-CPC-Peer-Id"
#define CPC_HTTP_HDR_TIMESTAMP "X-CPC-Timestamp"
#define CPC_HTTP_HDR_NONCE "X-CPC-Nonce"
#define CPC_HTTP_HDR_SIGNATURE "X-CPC-Signature"

/* What a request carries for authentication. All borrowed. */
typedef struct cpc_http_auth_input {
  const char *method; /* NUL-terminated */
  const char *target; /* request-target as sent, target_len bytes */
  size_t target_len;
  const void *body; /* may be NULL when body_len is 0 */
  size_t body_len;
  const char *peer_id; /* the four header values; NULL when absent */
  const char *timestamp;
  const char *nonce;
  const char *signature;
} cpc_http_auth_input;

/* Why verification failed: the JSON error code and a message for it. */
typedef struct cpc_http_auth_error {
  const char *code; /* "unauthorized", "stale", "replayed", "unavailable" */
  char message[160];
} cpc_http_auth_error;

/*
 * Write the signed message for (method, target, BLAKE3(body), timestamp,
 * nonce) into out (cap bytes; CPC_HTTP_AUTH_MESSAGE_MAX is enough), *len its
 * length (no NUL is added). Checks the pieces it writes: method 1..16 of
 * [A-Z], target 1..CPC_HTTP_MAX_TARGET bytes of visible ASCII starting with
 * '/', timestamp and nonce in their header syntax. Errors: CPC_EMALFORMED,
 * CPC_ETOOBIG (a piece over its cap, or cap short).
 */
int cpc_http_auth_message(const char *method, const char *target,
                          size_t target_len, const uint8_t body_hash[32],
                          const char *timestamp, const char *nonce,
                          uint8_t *out, size_t cap, size_t *len);

/*
 * Verify a signed request against now (unix seconds) with a window of
 * window_s seconds (0: CPC_HTTP_AUTH_WINDOW_DEFAULT), then record its nonce
 * in nonces (not touched unless the signature is valid). On success *caller
 * is the PeerId. On failure err (may be NULL) says what to answer. Errors:
 * CPC_EMALFORMED (a header missing or malformed, or the method/target
 * unusable), CPC_EUNSUPPORTED (PeerId is not an identity id with a secp256k1
 * key), CPC_ETIMEDOUT (stale), CPC_EBADSIG, CPC_EEXIST (replayed), or the
 * nonce store's error (CPC_ENOSPC, ...; err->code "unavailable").
 */
int cpc_http_auth_verify(const cpc_http_auth_input *in, int64_t now,
                         unsigned window_s, cpc_nonce_store *nonces,
                         cpc_peer_id *caller, cpc_http_auth_error *err);

/* The four header values a client sends. */
typedef struct cpc_http_signed_headers {
  char peer_id[CPC_PEER_ID_MAX_TEXT];
  char timestamp[CPC_HTTP_AUTH_TIMESTAMP_MAX + 1];
  char nonce[CPC_HTTP_AUTH_NONCE_MAX + 1];
  char signature[CPC_HTTP_AUTH_SIG_B64_MAX + 1];
} cpc_http_signed_headers;

/*
 * Client side: sign a request with the caller's secp256k1 key (borrowed).
 * target is the request-target exactly as it will be sent (target_len
 * bytes); body may be NULL when body_len is 0. timestamp: unix seconds
 * (1..999999999999). nonce: NULL for a fresh random one (32 chars), else
 * copied (checked). Errors: CPC_EUNSUPPORTED (key not secp256k1),
 * CPC_EMALFORMED / CPC_ETOOBIG (as cpc_http_auth_message), CPC_EINVAL
 * (timestamp out of range), CPC_ECRYPTO.
 */
int cpc_http_sign_request(const cpc_privkey *key, const char *method,
                          const char *target, size_t target_len,
                          const void *body, size_t body_len, int64_t timestamp,
                          const char *nonce, cpc_http_signed_headers *out);

/* --- server -------------------------------------------------------------- */

/*
 * Called once per answered request, on a server thread, after the answer is
 * sent (or the connection dropped after it was queued): route_pattern is the
 * matched pattern or NULL (404, 405 and requests refused before routing),
 * method is one of GET HEAD POST PUT PATCH DELETE OPTIONS or "OTHER" (label
 * values stay bounded), duration_s from the start of the request line to
 * completion. Must be thread-safe and quick.
 */
typedef void (*cpc_http_request_done_fn)(void *ctx, const char *route_pattern,
                                         const char *method, unsigned status,
                                         double duration_s);

typedef struct cpc_http_config {
  const char *listen;       /* "127.0.0.1:7700", "[::1]:0", "0.0.0.0:7700",
                               "[::]:7700" (IPv6 only); port 0: any */
  unsigned threads;         /* polling/handler threads (default 4) */
  unsigned max_connections; /* open connections in all (default 512) */
  unsigned max_per_ip;      /* per client address; 0: no limit (default 64) */
  unsigned timeout_s;       /* idle connection timeout (default 30) */
  unsigned backlog;         /* listen(2) backlog (default 128) */
  size_t max_body;          /* request body cap (default 1 MiB) */
  size_t max_header_bytes;  /* per-connection memory for the request line,
                               headers and I/O (default 32 KiB) */
  size_t max_json_depth;    /* default CPC_HTTP_MAX_JSON_DEPTH_DEFAULT */
  unsigned auth_window_s;   /* default CPC_HTTP_AUTH_WINDOW_DEFAULT */
  cpc_nonce_store *nonces;  /* borrowed; NULL: the server makes an in-memory
                               store of nonce_cap pairs */
  size_t nonce_cap;         /* default 262144 */
  cpc_http_request_done_fn on_request_done; /* may be NULL */
  void *on_request_done_ctx;
} cpc_http_config;

/* Fill cfg with the defaults above (listen "127.0.0.1:0"). */
void cpc_http_config_init(cpc_http_config *cfg);

typedef struct cpc_http_server cpc_http_server;

/*
 * Bind cfg->listen and start serving router (borrowed: it must not change
 * and must outlive the server). cfg is copied (cfg->listen too; cfg->nonces
 * stays borrowed). Errors: CPC_EINVAL (bad listen address or config),
 * CPC_EIO (socket/bind/listen failed: errno says why, e.g. EADDRINUSE),
 * CPC_ENOMEM, CPC_ESTATE (libmicrohttpd refused to start).
 */
int cpc_http_server_start(const cpc_http_config *cfg,
                          const cpc_http_router *router, cpc_http_server **out);

/* The port the server listens on (useful after binding port 0). */
uint16_t cpc_http_server_port(const cpc_http_server *srv);

/*
 * Stop accepting, finish the requests under way (handlers running now
 * return first), close every connection and free srv. srv may be NULL.
 */
void cpc_http_server_stop(cpc_http_server *srv);

#ifdef __cplusplus
}
#endif

#endif /* CPC_HTTP_H */
