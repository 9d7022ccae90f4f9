/*
 * cpc/rpc_client.h: a gRPC client over HTTP/2 cleartext (h2c with prior
 * knowledge, what grpc-js' createInsecure() servers and cpc/rpc.h speak),
 * on a libuv loop the caller owns. Wire format: grpc/grpc
 * doc/PROTOCOL-HTTP2.md; framing is shared with the server (cpc/rpc.h).
 *
 * Model (libuv-like): the caller owns the loop and runs it.
 *   cpc_rpc_client_new(&cl, loop, "127.0.0.1", 7701, NULL);
 *   cpc_rpc_client_start(cl, "/pkg.Svc/Method", kind, md, n_md,
 *                        timeout_ms, &callbacks, ud, &call);
 *   cpc_rpc_client_call_send(call, msg, len);   (each request message)
 *   cpc_rpc_client_call_close_send(call);       (half-close)
 *   ... on_message per response message, then on_done exactly once.
 *   cpc_rpc_client_close(cl, done_cb, ud);      (async; frees cl)
 *
 * Connection. The client connects on the first call (and again on the
 * first call after a connection was lost); calls started while connecting
 * are queued. One HTTP/2 connection carries every call (up to the server's
 * SETTINGS_MAX_CONCURRENT_STREAMS; calls beyond wait). When the connection
 * fails or is lost, every call on it ends with CPC_RPC_UNAVAILABLE; there is
 * no automatic retry of calls (the caller decides, with its own back-off).
 *
 * Calls. A call is library-owned, valid from cpc_rpc_client_start until
 * on_done returns (on_done fires exactly once for every call that
 * cpc_rpc_client_start returned 0 for, never from inside
 * cpc_rpc_client_start itself). The status in on_done is the server's
 * grpc-status, or one the client derived:
 *   connect failed, connection lost, GOAWAY before the call ran  UNAVAILABLE
 *   (also a call still waiting for a stream when GOAWAY arrives, and a
 *   stream the server refused: REFUSED_STREAM)
 *   timeout_ms passed (also sent as grpc-timeout)          DEADLINE_EXCEEDED
 *   cpc_rpc_client_call_cancel, cpc_rpc_client_close        CANCELLED
 *   response message over max_recv_message,
 *   a response header block over max_header_list        RESOURCE_EXHAUSTED
 *   stream reset by the server: HTTP/2 code mapped as PROTOCOL-HTTP2.md
 *   says (CANCEL: CANCELLED, REFUSED_STREAM: UNAVAILABLE,
 *   ENHANCE_YOUR_CALM: RESOURCE_EXHAUSTED, others INTERNAL)
 *   HTTP status not 200, bad content-type, bad framing,
 *   trailers without grpc-status, unary reply without
 *   exactly one message                                          INTERNAL
 *   (non-200 HTTP statuses map as the gRPC HTTP-to-status table says.)
 * message is the decoded grpc-message (or the client's own sentence),
 * never NULL, borrowed for the duration of on_done. on_done is always
 * delivered from the loop (an idle handle), never from inside another
 * cpc_rpc_client_* function or callback; once a call has ended no
 * on_message or on_writable follows.
 *
 * Flow control. cpc_rpc_client_call_send copies a message into the call's
 * send buffer; once it holds cfg.call_send_buffer bytes it refuses with
 * CPC_EAGAIN and on_writable fires when there is room again. Received
 * messages are delivered as they complete; the HTTP/2 window given back to
 * the server only as on_message returns.
 *
 * Threading: none. Everything runs on the loop's thread; callbacks are
 * invoked from inside the library and may call any cpc_rpc_client_*
 * function, including cpc_rpc_client_close. As in any libuv program that
 * writes to sockets, the process should ignore SIGPIPE.
 */
#ifndef CPC_RPC_CLIENT_H
#define CPC_RPC_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "cpc/rpc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cpc_rpc_client cpc_rpc_client;
typedef struct cpc_rpc_client_call cpc_rpc_client_call;

typedef struct cpc_rpc_client_config {
  uint64_t connect_timeout_ms; /* TCP connect + HTTP/2 preface (10 s) */
  uint32_t initial_window;     /* per-stream receive window (1 MiB) */
  uint32_t connection_window;  /* connection receive window (4 MiB) */
  size_t max_recv_message;     /* 4 MiB */
  size_t max_send_message;     /* 4 MiB */
  size_t call_send_buffer;     /* per-call send buffer high water (256 KiB) */
  uint32_t max_header_list;    /* response header bytes accepted (16 KiB) */
  uint64_t keepalive_ms;       /* HTTP/2 PING when the connection has been
                                  silent this long while calls are running;
                                  no answer within as long again fails it
                                  (UNAVAILABLE) (30 s; 0: never) */
} cpc_rpc_client_config;

/* Fill *c with the defaults above. */
void cpc_rpc_client_config_default(cpc_rpc_client_config *c);

/* One metadata entry (request header). name: [0-9a-z_.-], at most 256
 * bytes, not starting with "grpc-", not one gRPC or HTTP/2 sets itself
 * (content-type, te, user-agent, host, connection, keep-alive,
 * proxy-connection, transfer-encoding, upgrade); value: printable ASCII
 * 0x20..0x7E (base64 for names ending "-bin"); at most 8 KiB of metadata
 * per call (RFC 9113 sizes). Both borrowed for the start call only. */
typedef struct cpc_rpc_metadata {
  const char *name;
  const char *value;
} cpc_rpc_metadata;

/* A call's callbacks; on_done is required, the others may be NULL. */
typedef struct cpc_rpc_client_callbacks {
  /* One response message msg[0..len) (borrowed for the callback). */
  void (*on_message)(cpc_rpc_client_call *call, const uint8_t *msg,
                     size_t len, void *ud);
  /* A send that returned CPC_EAGAIN can be retried. */
  void (*on_writable)(cpc_rpc_client_call *call, void *ud);
  /* The call ended; status is a cpc_rpc_status. call is freed after the
   * return. */
  void (*on_done)(cpc_rpc_client_call *call, int status, const char *message,
                  void *ud);
} cpc_rpc_client_callbacks;

/*
 * Create a client for host:port (host an IPv4 or IPv6 literal, e.g.
 * "127.0.0.1" or "::1"; no DNS) on loop (borrowed; must outlive the
 * client). cfg may be NULL (defaults); copied, zero fields take their
 * default, except keepalive_ms, where 0 means no keepalive (start from
 * cpc_rpc_client_config_default). Nothing is connected yet. Errors:
 * CPC_EINVAL (NULL arguments, host not an IP literal, a window over
 * 2^31-1, max_header_list under 1 KiB), CPC_ENOMEM.
 */
int cpc_rpc_client_new(cpc_rpc_client **out, uv_loop_t *loop, const char *host,
                       uint16_t port, const cpc_rpc_client_config *cfg);

/*
 * Start a call of path ("/package.Service/Method") of the given kind with
 * the metadata md[0..n_md) (copied) and a deadline timeout_ms from now (0:
 * none). cb is copied; ud is passed to every callback. *out (may be NULL)
 * gets the call. For CPC_RPC_UNARY and CPC_RPC_SERVER_STREAM the caller
 * sends exactly one message and then closes the send side (or uses
 * cpc_rpc_client_unary). Errors: CPC_EINVAL (cl, path, cb NULL; path not
 * "/x/y" in printable ASCII up to 1 KiB; bad metadata; on_done NULL; bad
 * kind), CPC_ESTATE (client closing), CPC_ENOMEM.
 */
int cpc_rpc_client_start(cpc_rpc_client *cl, const char *path,
                         enum cpc_rpc_kind kind, const cpc_rpc_metadata *md,
                         size_t n_md, uint64_t timeout_ms,
                         const cpc_rpc_client_callbacks *cb, void *ud,
                         cpc_rpc_client_call **out);

/*
 * Queue one request message msg[0..len) (copied). Errors: CPC_EAGAIN (the
 * send buffer is full; on_writable will fire), CPC_ETOOBIG (over
 * max_send_message), CPC_ESTATE (send side closed, a second message on a
 * unary or server-streaming call, or the call is ending).
 */
int cpc_rpc_client_call_send(cpc_rpc_client_call *call, const uint8_t *msg,
                             size_t len);

/* Half-close: no more request messages (END_STREAM after what is queued).
 * CPC_ESTATE if already closed. */
int cpc_rpc_client_call_close_send(cpc_rpc_client_call *call);

/* Cancel the call (RST_STREAM CANCEL); on_done follows with
 * CPC_RPC_CANCELLED unless the call had already ended. */
void cpc_rpc_client_call_cancel(cpc_rpc_client_call *call);

/*
 * Convenience for a unary call: start, send req[0..len) (copied), close the
 * send side. on_message gets the reply, on_done the status. Same errors as
 * cpc_rpc_client_start plus CPC_ETOOBIG.
 */
int cpc_rpc_client_unary(cpc_rpc_client *cl, const char *path,
                         const cpc_rpc_metadata *md, size_t n_md,
                         const uint8_t *req, size_t len, uint64_t timeout_ms,
                         const cpc_rpc_client_callbacks *cb, void *ud,
                         cpc_rpc_client_call **out);

/*
 * Response metadata of call: the first value of the header or trailer
 * name (lower-case) the server sent, NUL-terminated, borrowed until
 * on_done returns; NULL if absent (or call/name NULL). Initial headers are
 * searched before trailers; pseudo-headers (":status") and the headers
 * gRPC itself uses ("content-type", "grpc-status", "grpc-message") are
 * included. In on_message only the initial headers are in; in on_done
 * the trailers too (Trailers-Only responses have only those).
 */
const char *cpc_rpc_client_call_metadata(const cpc_rpc_client_call *call,
                                         const char *name);

/* 1 while an HTTP/2 connection is up (for logs and tests), else 0. */
int cpc_rpc_client_connected(const cpc_rpc_client *cl);

/*
 * Stop and free cl: every call still running ends (on_done with
 * CPC_RPC_CANCELLED), GOAWAY is sent and the socket closed. done (may be
 * NULL) is called with ud once every handle is closed and cl is freed. cl
 * must not be used after this call.
 */
void cpc_rpc_client_close(cpc_rpc_client *cl, void (*done)(void *ud), void *ud);

#ifdef __cplusplus
}
#endif

#endif /* CPC_RPC_CLIENT_H */
