/*
 * cpc/rpc.h: a gRPC server over HTTP/2 cleartext (h2c with prior
 * knowledge, what grpc-js uses with createInsecure()), on a libuv loop the
 * caller owns, plus the gRPC message framing it is built on and the
 * standard grpc.health.v1.Health service.
 *
 * Wire format: grpc/grpc doc/PROTOCOL-HTTP2.md. A request is HEADERS
 * (":method POST", ":path /package.Service/Method", "content-type
 * application/grpc[+proto]", "te trailers", optional "grpc-timeout",
 * metadata) then length-prefixed messages (1-byte compressed flag, 4-byte
 * big-endian length, bytes) in DATA frames. A response is HEADERS
 * (":status 200", content-type), messages, and trailers ("grpc-status",
 * "grpc-message" percent-encoded); an error before any message is one
 * Trailers-Only HEADERS frame.
 *
 * Server model (libuv-like): the caller owns the loop and runs it.
 *   cpc_rpc_server_new(&s, loop, &cfg);
 *   cpc_rpc_server_add_method(s, &method);    (one per "/pkg.Svc/Method")
 *   cpc_rpc_health_enable(s, &health);        (optional)
 *   cpc_rpc_server_listen(s, "127.0.0.1", 0, &port);
 *   uv_run(loop, ...);
 *   cpc_rpc_server_close(s, done_cb, ud);     (async; frees s)
 *
 * Calls. A call is library-owned. The handler's part of it starts when
 * the method's on_call fires and ends when the handler calls
 * cpc_rpc_call_finish(), exactly once, always: also after on_cancel. The
 * call pointer is valid from on_call until that finish (the library frees
 * it once the handler has finished and the HTTP/2 stream is gone).
 *   - Unary and server-streaming: on_call gets the one request message,
 *     after the client half-closed. Zero or two request messages are
 *     refused (INTERNAL) before the handler sees the call.
 *   - Client-streaming and bidi: on_call fires when the headers are in
 *     (msg NULL, len 0); then on_message per message and on_end when the
 *     client half-closes.
 *   - Unary and client-streaming send at most one message; finishing OK
 *     without one turns into INTERNAL.
 * Handler callbacks are invoked on the loop thread, from inside the
 * library; they may call any cpc_rpc_call_* function on any call, but not
 * cpc_rpc_server_close. Calls may be finished later (asynchronously, from
 * any loop callback).
 *
 * Flow control. cpc_rpc_call_send copies a message into the call's send
 * buffer; once that holds cfg.call_send_buffer bytes it refuses with
 * CPC_EAGAIN and on_writable fires when there is room again. The buffer is
 * drained as the client's HTTP/2 window allows, and the connection's output
 * is capped (cfg.conn_send_buffer; reading from a client stops while its
 * output is over the cap). Received messages are handed over as they
 * complete; each is held at most until then (cap cfg.max_recv_message).
 *
 * Errors produced by the library (Trailers-Only when nothing was sent):
 *   unknown method                         UNIMPLEMENTED
 *   content-type not application/grpc...   HTTP 415; :method not POST: 405
 *   message over max_recv_message          RESOURCE_EXHAUSTED
 *   compressed flag without grpc-encoding  INTERNAL
 *   grpc-encoding other than identity      UNIMPLEMENTED
 *   missing "te: trailers", bad grpc-timeout, wrong message count  INTERNAL
 *   request metadata over max_header_list  RESOURCE_EXHAUSTED
 *   deadline (grpc-timeout) passed         DEADLINE_EXCEEDED
 * When the handler was already running, it learns of these through
 * on_cancel and still calls cpc_rpc_call_finish (which then returns
 * CPC_ECLOSED).
 *
 * Threading: none. Everything runs on the loop's thread.
 */
#ifndef CPC_RPC_H
#define CPC_RPC_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ProtobufCMessage;

/* gRPC status codes (grpc/grpc doc/statuscodes.md). */
enum cpc_rpc_status {
  CPC_RPC_OK = 0,
  CPC_RPC_CANCELLED = 1,
  CPC_RPC_UNKNOWN = 2,
  CPC_RPC_INVALID_ARGUMENT = 3,
  CPC_RPC_DEADLINE_EXCEEDED = 4,
  CPC_RPC_NOT_FOUND = 5,
  CPC_RPC_ALREADY_EXISTS = 6,
  CPC_RPC_PERMISSION_DENIED = 7,
  CPC_RPC_RESOURCE_EXHAUSTED = 8,
  CPC_RPC_FAILED_PRECONDITION = 9,
  CPC_RPC_ABORTED = 10,
  CPC_RPC_OUT_OF_RANGE = 11,
  CPC_RPC_UNIMPLEMENTED = 12,
  CPC_RPC_INTERNAL = 13,
  CPC_RPC_UNAVAILABLE = 14,
  CPC_RPC_DATA_LOSS = 15,
  CPC_RPC_UNAUTHENTICATED = 16,
};

/* "OK", "CANCELLED", ... ("UNKNOWN" for codes outside 0..16). Static. */
const char *cpc_rpc_status_name(int status);

/* ---- framing (sans-IO; shared with a future client) ------------------ */

#define CPC_RPC_FRAME_HEADER_LEN 5
#define CPC_RPC_DEFAULT_MAX_MESSAGE (4u * 1024u * 1024u)

/* Write the 5-byte prefix of a message of len bytes into out[0..5).
 * compressed is 0 or 1. CPC_ETOOBIG if len does not fit in 32 bits. */
int cpc_rpc_frame_header(uint8_t out[CPC_RPC_FRAME_HEADER_LEN], int compressed,
                         size_t len);

/*
 * Incremental reader of length-prefixed messages. Embed it, init it, feed
 * it the DATA bytes in any split; it holds at most one message (growing
 * its buffer with the bytes that actually arrived, never by the declared
 * length alone) and hands each complete one over.
 */
typedef struct cpc_rpc_deframer {
  size_t max_message; /* messages longer than this are refused */
  uint8_t hdr[CPC_RPC_FRAME_HEADER_LEN];
  size_t hdr_len; /* prefix bytes seen of the current message */
  size_t msg_len; /* declared length of the current message */
  int compressed; /* flag of the current message */
  uint8_t *buf;   /* message bytes (owned) */
  size_t buf_len; /* bytes of the current message received */
  size_t buf_cap;
  int failed; /* sticky error code, 0 if none */
} cpc_rpc_deframer;

/* Set up d (no allocation yet). max_message 0 means the 4 MiB default. */
void cpc_rpc_deframer_init(cpc_rpc_deframer *d, size_t max_message);

/* Release d's buffer; d may be re-initialised. */
void cpc_rpc_deframer_free(cpc_rpc_deframer *d);

/*
 * Consume bytes of in[0..len) (borrowed) until a message completes or the
 * input is used up; *used gets the bytes taken. Returns 1 with *msg /
 * *msg_len / *compressed set when a message is complete (*msg borrowed
 * from d, valid until the next feed or free; NULL when *msg_len is 0),
 * 0 when more input is needed, or a sticky error:
 *   CPC_EMALFORMED  compressed flag other than 0 or 1
 *   CPC_ETOOBIG     declared length over max_message
 *   CPC_ENOMEM      buffer growth failed
 * Loop while *used < len: the rest may hold further messages.
 */
int cpc_rpc_deframer_feed(cpc_rpc_deframer *d, const uint8_t *in, size_t len,
                          size_t *used, const uint8_t **msg, size_t *msg_len,
                          int *compressed);

/* 1 if d is between messages (no partial message buffered), else 0. */
int cpc_rpc_deframer_idle(const cpc_rpc_deframer *d);

/* ---- header values --------------------------------------------------- */

/*
 * Percent-encode in[0..len) for grpc-message: bytes 0x20..0x7E except '%'
 * stay, every other byte becomes "%XX" (upper-case hex). Writes up to cap
 * bytes to out plus a NUL; *out_len (may be NULL) gets the length without
 * the NUL. CPC_ETOOBIG if out is too small (need at most 3*len+1).
 */
int cpc_rpc_percent_encode(const uint8_t *in, size_t len, char *out, size_t cap,
                           size_t *out_len);

/*
 * Decode a grpc-message value: "%XX" (either case) becomes the byte; a '%'
 * not followed by two hex digits is kept as it is (never an error, as the
 * spec asks). out needs len+1 bytes; NUL-terminated; *out_len may be NULL.
 * CPC_ETOOBIG if cap < len+1.
 */
int cpc_rpc_percent_decode(const char *in, size_t len, uint8_t *out, size_t cap,
                           size_t *out_len);

/*
 * Parse a grpc-timeout value ("1 to 8 digits" then H M S m u n) into
 * nanoseconds, saturating at UINT64_MAX. CPC_EMALFORMED otherwise (empty,
 * 9+ digits, no or unknown unit, anything else).
 */
int cpc_rpc_timeout_parse(const char *v, size_t len, uint64_t *out_ns);

/* ---- server ---------------------------------------------------------- */

typedef struct cpc_rpc_server cpc_rpc_server;
typedef struct cpc_rpc_call cpc_rpc_call;

enum cpc_rpc_kind {
  CPC_RPC_UNARY = 0,
  CPC_RPC_SERVER_STREAM = 1,
  CPC_RPC_CLIENT_STREAM = 2,
  CPC_RPC_BIDI = 3,
};

typedef struct cpc_rpc_server_config {
  size_t max_connections;          /* open client connections (1024) */
  uint32_t max_concurrent_streams; /* HTTP/2 setting (100) */
  uint32_t initial_window;         /* per-stream receive window (1 MiB) */
  uint32_t connection_window;      /* connection receive window (4 MiB) */
  uint32_t max_header_list;        /* request header bytes, RFC 9113 count
                                      (16 KiB) */
  size_t max_recv_message;         /* 4 MiB */
  size_t max_send_message;         /* 4 MiB */
  size_t call_send_buffer;         /* per-call send buffer high water
                                      (256 KiB) */
  size_t conn_send_buffer;         /* per-connection output cap (1 MiB) */
  uint64_t handshake_timeout_ms;   /* close a connection that has not sent
                                      the HTTP/2 preface by then (10 s) */
} cpc_rpc_server_config;

/* Fill *c with the defaults above. */
void cpc_rpc_server_config_default(cpc_rpc_server_config *c);

/*
 * A method: its path and the handler's callbacks. cpc_rpc_server_add_method
 * copies the struct and the path. Which callbacks are required:
 *   on_call     always
 *   on_message  client-streaming, bidi (unused otherwise)
 *   on_end      client-streaming, bidi (unused otherwise)
 *   on_writable optional: a send that returned CPC_EAGAIN can be retried
 *   on_cancel   optional: the call ended without the handler's finish;
 *               reason: CPC_ECLOSED (client reset or disconnected, server
 *               closing), CPC_ETIMEDOUT (deadline), CPC_ETOOBIG (message
 *               over the cap), CPC_EPROTO (bad framing). Later sends fail;
 *               the handler must still call cpc_rpc_call_finish.
 */
typedef struct cpc_rpc_method {
  const char *path; /* "/package.Service/Method" */
  enum cpc_rpc_kind kind;
  void *ud; /* returned by cpc_rpc_call_method_data */
  void (*on_call)(cpc_rpc_call *call, const uint8_t *msg, size_t len);
  void (*on_message)(cpc_rpc_call *call, const uint8_t *msg, size_t len);
  void (*on_end)(cpc_rpc_call *call);
  void (*on_writable)(cpc_rpc_call *call);
  void (*on_cancel)(cpc_rpc_call *call, int reason);
} cpc_rpc_method;

/*
 * Create a server on loop (borrowed; must outlive the server). cfg may be
 * NULL (defaults); it is copied, zero fields take their default. Errors:
 * CPC_EINVAL (loop or out NULL, max_header_list under 1 KiB), CPC_ENOMEM.
 */
int cpc_rpc_server_new(cpc_rpc_server **out, uv_loop_t *loop,
                       const cpc_rpc_server_config *cfg);

/*
 * Register m (copied). Errors: CPC_EINVAL (path not "/x/y", on_call NULL,
 * a streaming-request kind without on_message/on_end, bad kind),
 * CPC_EEXIST (path already registered), CPC_ESTATE (server listening),
 * CPC_ENOMEM.
 */
int cpc_rpc_server_add_method(cpc_rpc_server *s, const cpc_rpc_method *m);

/*
 * Listen on TCP addr:port (IPv4 "127.0.0.1" or IPv6 "::1" literal; port 0
 * picks one). *bound_port (may be NULL) gets the port. Errors: CPC_EINVAL
 * (addr not an IP literal), CPC_ESTATE (already listening or closing),
 * CPC_EIO (bind/listen failed, e.g. address in use).
 */
int cpc_rpc_server_listen(cpc_rpc_server *s, const char *addr, uint16_t port,
                          uint16_t *bound_port);

/*
 * Stop and free s: stop listening, send GOAWAY on every connection, cancel
 * every running call (on_cancel with CPC_ECLOSED) and close the
 * connections. done (may be NULL) is called with ud once every handle is
 * closed and s is freed; calls the handlers have not finished yet stay
 * valid (detached) until they do. s must not be used after this call.
 */
void cpc_rpc_server_close(cpc_rpc_server *s, void (*done)(void *ud), void *ud);

/* Connections currently open (for tests and metrics). */
size_t cpc_rpc_server_connections(const cpc_rpc_server *s);

/* ---- calls ----------------------------------------------------------- */

/*
 * Queue one response message msg[0..len) (copied). Sends the response
 * headers first if not yet sent. Errors:
 *   CPC_EAGAIN   the call's send buffer is full; on_writable will fire
 *   CPC_ETOOBIG  len over max_send_message
 *   CPC_ESTATE   already finished, or a second message on a unary or
 *                client-streaming call
 *   CPC_ECLOSED  the call was cancelled
 *   CPC_ENOMEM
 */
int cpc_rpc_call_send(cpc_rpc_call *call, const uint8_t *msg, size_t len);

/* The same for a protobuf-c message, packed straight into the buffer. */
int cpc_rpc_call_send_pb(cpc_rpc_call *call,
                         const struct ProtobufCMessage *msg);

/* 1 if a send would be accepted now (buffer below the high water mark and
 * the call still open), else 0. */
int cpc_rpc_call_writable(const cpc_rpc_call *call);

/*
 * End the handler's part of the call with status (enum cpc_rpc_status;
 * values outside 0..16 become UNKNOWN) and message (may be NULL; UTF-8,
 * percent-encoded by the library, cut at 1 KiB). Queued messages are sent
 * first, then the trailers. call must not be used afterwards. Returns 0,
 * or CPC_ECLOSED when the call had already been cancelled (nothing is
 * sent; the call is released all the same).
 */
int cpc_rpc_call_finish(cpc_rpc_call *call, int status, const char *message);

/*
 * Add response metadata: to the initial headers (trailer 0; only before
 * the first send) or to the trailers (trailer 1). name: lower-case
 * [0-9a-z_.-], not starting with "grpc-"; value printable ASCII
 * (0x20..0x7E; for names ending "-bin" the caller gives base64). Both
 * copied. Errors: CPC_EINVAL, CPC_ESTATE (headers already sent, or
 * finished), CPC_ETOOBIG (over 8 KiB of response metadata), CPC_ENOMEM.
 */
int cpc_rpc_call_add_metadata(cpc_rpc_call *call, int trailer, const char *name,
                              const char *value);

/*
 * Request metadata: the first value of header name (lower-case), NUL-
 * terminated and borrowed until finish; NULL if absent. Pseudo-headers
 * and the headers gRPC itself uses are included (e.g. "content-type",
 * "user-agent", "authorization", "x-cpc-node-id").
 */
const char *cpc_rpc_call_metadata(const cpc_rpc_call *call, const char *name);

/* Number of request headers, and the i-th one (borrowed, NUL-terminated).
 * CPC_ENOENT if i is out of range. */
size_t cpc_rpc_call_metadata_count(const cpc_rpc_call *call);
int cpc_rpc_call_metadata_at(const cpc_rpc_call *call, size_t i,
                             const char **name, const char **value);

/* The request path ("/package.Service/Method"), borrowed. */
const char *cpc_rpc_call_path(const cpc_rpc_call *call);

/* Per-call data of the handler (NULL at first), and the method's ud. */
void cpc_rpc_call_set_data(cpc_rpc_call *call, void *data);
void *cpc_rpc_call_data(const cpc_rpc_call *call);
void *cpc_rpc_call_method_data(const cpc_rpc_call *call);

/* Milliseconds left before the call's deadline, or -1 if it has none. */
int64_t cpc_rpc_call_remaining_ms(const cpc_rpc_call *call);

/* 1 once the call was cancelled (on_cancel fired), else 0. */
int cpc_rpc_call_cancelled(const cpc_rpc_call *call);

/*
 * The client's address into *ss (with *len its size). CPC_ECLOSED if the
 * connection is gone.
 */
int cpc_rpc_call_peer(const cpc_rpc_call *call, struct sockaddr_storage *ss,
                      int *len);

/* ---- grpc.health.v1.Health ------------------------------------------- */

enum cpc_rpc_health_status {
  CPC_RPC_HEALTH_UNKNOWN = 0,
  CPC_RPC_HEALTH_SERVING = 1,
  CPC_RPC_HEALTH_NOT_SERVING = 2,
  CPC_RPC_HEALTH_SERVICE_UNKNOWN = 3, /* Watch only */
};

typedef struct cpc_rpc_health cpc_rpc_health;

/*
 * Register /grpc.health.v1.Health/Check and /Watch on s. The status map
 * starts with "" (the whole server) SERVING. *out is owned by s and freed
 * with it. Check of an unknown service gives NOT_FOUND; Watch sends the
 * current status (SERVICE_UNKNOWN for an unknown one) and every change.
 * Errors: those of cpc_rpc_server_add_method, CPC_EEXIST if enabled twice.
 */
int cpc_rpc_health_enable(cpc_rpc_server *s, cpc_rpc_health **out);

/*
 * Set service's status (service copied; at most 256 bytes, "" is the
 * server) and notify its watchers. Errors: CPC_EINVAL (status not
 * SERVING, NOT_SERVING or UNKNOWN; service NULL or too long), CPC_ENOSPC
 * (over 1024 services), CPC_ENOMEM.
 */
int cpc_rpc_health_set(cpc_rpc_health *h, const char *service,
                       enum cpc_rpc_health_status status);

/* Forget service: Check gives NOT_FOUND again, watchers get
 * SERVICE_UNKNOWN. CPC_ENOENT if it was not set. */
int cpc_rpc_health_remove(cpc_rpc_health *h, const char *service);

#ifdef __cplusplus
}
#endif

#endif /* CPC_RPC_H */
