/*
 * client_int.h: internals of the gRPC client (cpc/rpc_client.h) shared by
 * client.c (the client object: call queue, deadlines, on_done delivery,
 * close), client_conn.c (one TCP connection: libuv I/O, the nghttp2 client
 * session, keepalive, GOAWAY, teardown), client_call.c (the caller's side
 * of a call: start, send, half-close, cancel, the request on the wire) and
 * client_response.c (the server's side: headers, messages, trailers, the
 * final status).
 *
 * Lifetimes. A call lives on cl->calls from start until its on_done has
 * returned. It is in at most one queue: cl->pend (waiting for a
 * connection or a stream slot) or its connection's calls (it has an
 * HTTP/2 stream, whose user data points back at it). Ending a call
 * (cpc__rpc_ccall_end) only records the status and moves it to cl->done;
 * on_done fires and the call is freed from an idle handle, never from
 * inside the library, so no library frame ever sees a call vanish.
 * A connection is freed once its two uv handles are closed; teardown
 * deletes the nghttp2 session, which is never done from inside one of its
 * callbacks (in_h2 defers it).
 */
#ifndef CPC_RPC_CLIENT_INT_H
#define CPC_RPC_CLIENT_INT_H

#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>
#include <uv.h>

#include "cpc/rpc.h"
#include "cpc/rpc_client.h"

#define CPC__RPC_CLIENT_READ_BUF (64u * 1024u)
#define CPC__RPC_CLIENT_WRITE_CHUNK (64u * 1024u)
#define CPC__RPC_CLIENT_DRAIN_MS 1000u    /* GOAWAY write on close */
#define CPC__RPC_CLIENT_MAX_PATH 1024u    /* request :path bytes */
#define CPC__RPC_CLIENT_MAX_MD (8u * 1024u) /* request metadata bytes */
#define CPC__RPC_CLIENT_MAX_MD_NAME 256u
#define CPC__RPC_CLIENT_HDR_OVERHEAD 32u /* RFC 9113 6.5.2, per field */

typedef struct cpc__rpc_cconn cpc__rpc_cconn;

enum cpc__rpc_ccall_state {
  CPC__CCALL_PENDING = 0, /* on cl->pend */
  CPC__CCALL_ACTIVE = 1,  /* has a stream (or had: conn NULL once closed) */
  CPC__CCALL_ENDED = 2    /* status decided, on cl->done */
};

struct cpc_rpc_client {
  uv_loop_t *loop;
  cpc_rpc_client_config cfg;
  struct sockaddr_storage addr;
  char authority[80];   /* "host:port" or "[v6]:port" */
  cpc__rpc_cconn *conn; /* where new calls go; NULL: connect on demand */
  cpc__rpc_cconn *conns; /* every connection not yet freed */
  cpc_rpc_client_call *calls, *calls_tail; /* every live call, start order */
  cpc_rpc_client_call *pend, *pend_tail;   /* waiting for a stream */
  cpc_rpc_client_call *done, *done_tail;   /* on_done due */
  uv_idle_t idle;       /* delivers on_done */
  uv_timer_t deadline;  /* the earliest call deadline */
  int handles_open;     /* idle + deadline until the final close */
  int closing;          /* cpc_rpc_client_close was called */
  int closing_handles;  /* the final uv_close calls were made */
  void (*close_done)(void *ud);
  void *close_ud;
};

struct cpc__rpc_cconn {
  cpc_rpc_client *cl;
  cpc__rpc_cconn *prev, *next; /* cl->conns */
  uv_tcp_t tcp;
  uv_timer_t timer; /* connect timeout, then keepalive, then drain */
  uv_connect_t connect_req;
  int handles_open;
  nghttp2_session *h2;
  cpc_rpc_client_call *calls; /* calls with a stream here (q_prev/q_next) */
  cpc_rpc_client_call *notify; /* calls whose on_writable is due */
  size_t n_streams;            /* streams submitted, not yet closed */
  size_t write_pending;        /* bytes handed to uv_write, not yet done */
  uint64_t last_read_ms;       /* uv_now of the last bytes read */
  uint64_t ping_sent_ms;       /* 0: no keepalive PING outstanding */
  int ready;       /* the server's SETTINGS arrived: calls may start */
  int goaway;      /* takes no new calls (GOAWAY, stream ids used up) */
  int draining;    /* closing once the output is written */
  int closed;      /* torn down: only close callbacks remain */
  int in_h2;       /* inside nghttp2_session_mem_recv/mem_send */
  int flushing;    /* inside cpc__rpc_cconn_flush */
  int want_flush;  /* a flush was asked while it could not run */
  int want_close;  /* cpc_rpc_client_close while in_h2 */
  uint8_t rbuf[CPC__RPC_CLIENT_READ_BUF];
};

/* One response header: offsets into the call's md arena. */
typedef struct cpc__rpc_cmd {
  size_t name, value;
} cpc__rpc_cmd;

struct cpc_rpc_client_call {
  cpc_rpc_client *cl;
  cpc__rpc_cconn *conn; /* set while the call is on conn->calls */
  cpc_rpc_client_call *all_prev, *all_next; /* cl->calls */
  cpc_rpc_client_call *q_prev, *q_next;     /* cl->pend or conn->calls */
  cpc_rpc_client_call *done_next;           /* cl->done */
  cpc_rpc_client_call *notify_next;         /* conn->notify */
  int in_notify;
  int state; /* enum cpc__rpc_ccall_state */
  enum cpc_rpc_kind kind;
  cpc_rpc_client_callbacks cb;
  void *ud;
  int32_t stream_id; /* 0 until submitted */
  uint64_t deadline_ms; /* uv_now value; 0: none */
  /* request: ":path" then name/value pairs, NUL-terminated, in req_hdr */
  char *req_hdr;
  size_t req_hdr_len;
  size_t n_req_md;
  uint8_t *out; /* framed messages not yet taken by nghttp2 */
  size_t out_off, out_len, out_cap;
  unsigned sent_msgs;
  int send_closed;   /* cpc_rpc_client_call_close_send was called */
  int local_ended;   /* our END_STREAM went out */
  int want_writable; /* a send was refused with CPC_EAGAIN */
  /* response */
  char *md; /* arena: name NUL value NUL ... */
  size_t md_len, md_cap;
  cpc__rpc_cmd *mdi;
  size_t md_n, md_cap_n;
  size_t blk_first;  /* first mdi entry of the header block being read */
  size_t blk_bytes;  /* RFC 9113 size of that block so far */
  int got_headers;   /* the final (non-1xx) response headers are in */
  int http_status;
  int remote_ended;
  unsigned recv_msgs;
  cpc_rpc_deframer rx;
  /* the end */
  int status;
  char *message; /* owned; NULL means "" */
};

/* client.c */
/* Start waiting calls: connect if needed, else flush the connection. */
void cpc__rpc_client_dispatch(cpc_rpc_client *cl);
/* Re-arm the deadline timer for the earliest deadline of a live call. */
void cpc__rpc_client_arm_deadline(cpc_rpc_client *cl);
/* Queue call's on_done (the call must be ENDED). */
void cpc__rpc_client_queue_done(cpc_rpc_client *cl, cpc_rpc_client_call *call);
/* A connection was freed: finish a pending close if nothing is left. */
void cpc__rpc_client_conn_freed(cpc_rpc_client *cl);
void cpc__rpc_client_pend_push(cpc_rpc_client *cl, cpc_rpc_client_call *call);
void cpc__rpc_client_pend_remove(cpc_rpc_client *cl,
                                 cpc_rpc_client_call *call);

/* client_conn.c */
/* Open a connection to cl's address and make it cl->conn. CPC_ENOMEM; a
 * connect that fails at once tears the new connection down (failing the
 * waiting calls) and still returns 0. */
int cpc__rpc_cconn_open(cpc_rpc_client *cl);
/* Run HTTP/2 over an already connected stream socket as cl->conn (for
 * tests and fuzzing; a Unix socketpair works as well as TCP). On success
 * fd is the connection's and closed with it; on error the caller keeps
 * it. CPC_ESTATE if cl has a connection or is closing, CPC_ENOMEM,
 * CPC_EIO. */
int cpc__rpc_client_open_fd(cpc_rpc_client *cl, uv_os_sock_t fd);
/* Write what nghttp2 has, start waiting calls, run on_writable; deferred
 * while inside nghttp2. */
void cpc__rpc_cconn_flush(cpc__rpc_cconn *c);
/* Close for cpc_rpc_client_close: GOAWAY, then the socket. */
void cpc__rpc_cconn_close(cpc__rpc_cconn *c);
void cpc__rpc_cconn_notify_writable(cpc__rpc_cconn *c,
                                    cpc_rpc_client_call *call);

/* client_call.c */
/* Submit call's request on c (call is off cl->pend). CPC_EAGAIN: c has no
 * stream ids left (the call is back at the head of cl->pend). */
int cpc__rpc_ccall_submit(cpc_rpc_client_call *call, cpc__rpc_cconn *c);
/* Decide the end of call (once): status, message (copied; NULL: ""),
 * reset the stream if it is open, leave any queue, queue on_done. */
void cpc__rpc_ccall_end(cpc_rpc_client_call *call, int status,
                        const char *message);
/* Unlink call from its connection (its stream is gone). */
void cpc__rpc_ccall_detach(cpc_rpc_client_call *call);
/* Free call (after on_done). */
void cpc__rpc_ccall_free(cpc_rpc_client_call *call);

/* client_response.c: events from the nghttp2 session */
void cpc__rpc_ccall_begin_headers(cpc_rpc_client_call *call);
void cpc__rpc_ccall_header(cpc_rpc_client_call *call, const uint8_t *name,
                           size_t namelen, const uint8_t *value,
                           size_t valuelen);
void cpc__rpc_ccall_headers_done(cpc_rpc_client_call *call, int end_stream);
void cpc__rpc_ccall_data(cpc_rpc_client_call *call, const uint8_t *data,
                         size_t len);
/* END_STREAM on DATA. */
void cpc__rpc_ccall_remote_end(cpc_rpc_client_call *call);
/* The stream closed with an HTTP/2 error code before the call ended. */
void cpc__rpc_ccall_stream_closed(cpc_rpc_client_call *call, uint32_t code);

#endif /* CPC_RPC_CLIENT_INT_H */
