/*
 * rpc_int.h: internals of the gRPC server shared by server.c (listener,
 * method table), conn.c (one TCP connection: libuv I/O and the nghttp2
 * session), call.c (one HTTP/2 stream: a gRPC call) and health.c.
 */
#ifndef CPC_RPC_INT_H
#define CPC_RPC_INT_H

#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>
#include <uv.h>

#include "cpc/rpc.h"

#define CPC__RPC_READ_BUF (64u * 1024u)
#define CPC__RPC_WRITE_CHUNK (64u * 1024u)
#define CPC__RPC_DRAIN_MS 2000u
#define CPC__RPC_MAX_STATUS_MSG 1024u
#define CPC__RPC_MAX_RESPONSE_MD (8u * 1024u)

typedef struct cpc__rpc_conn cpc__rpc_conn;

struct cpc_rpc_server {
  uv_loop_t *loop;
  cpc_rpc_server_config cfg;
  cpc_rpc_method *methods; /* sorted by path; paths owned */
  size_t n_methods, cap_methods;
  uv_tcp_t listener;
  int listener_open; /* uv handle initialised, not yet closed */
  int listening;
  int closing;
  cpc__rpc_conn *conns; /* doubly linked */
  size_t n_conns;       /* connections not yet freed */
  void (*done)(void *ud);
  void *done_ud;
  cpc_rpc_health *health; /* owned, may be NULL */
};

struct cpc__rpc_conn {
  uv_tcp_t tcp;
  uv_timer_t timer; /* handshake, then drain timeout */
  int handles_open; /* uv handles still to be closed */
  cpc_rpc_server *srv;
  cpc__rpc_conn *prev, *next;
  nghttp2_session *h2;
  cpc_rpc_call *calls;  /* live streams, doubly linked */
  cpc_rpc_call *notify; /* calls whose on_writable is due */
  size_t write_pending; /* bytes handed to uv_write, not yet done */
  int in_h2;            /* inside nghttp2_session_mem_recv/send */
  int flushing;         /* inside conn_flush */
  int want_flush;       /* a flush was asked while it could not run */
  int reading;          /* uv_read_start active */
  int got_frame;        /* the client sent its preface and a frame */
  int draining;         /* closing once the output is written */
  int closed;           /* torn down: only close callbacks remain */
  uint8_t rbuf[CPC__RPC_READ_BUF];
};

typedef struct cpc__rpc_md {
  size_t name, value; /* offsets into the call's header arena */
} cpc__rpc_md;

typedef struct cpc__rpc_out_md {
  char *name, *value; /* owned */
  int trailer;
} cpc__rpc_out_md;

struct cpc_rpc_call {
  cpc__rpc_conn *conn; /* NULL once detached */
  cpc_rpc_call *prev, *next;
  cpc_rpc_call *notify_next;
  int in_notify;
  int32_t stream_id;
  cpc_rpc_method method; /* copy; method.path not used after start */
  int have_method;
  size_t max_send, send_high;
  /* request headers */
  char *hdr; /* arena of NUL-terminated names and values */
  size_t hdr_len, hdr_cap;
  cpc__rpc_md *md;
  size_t md_n, md_cap;
  size_t header_bytes;
  int header_overflow;
  size_t path_off; /* offset of ":path" value, or SIZE_MAX */
  /* request messages */
  cpc_rpc_deframer rx;
  uint8_t *req; /* the single message of unary / server-streaming */
  size_t req_len;
  unsigned req_count;
  /* response */
  uint8_t *out; /* framed messages waiting for the stream window */
  size_t out_off, out_len, out_cap;
  unsigned sent_msgs;
  cpc__rpc_out_md *omd;
  size_t omd_n, omd_bytes;
  int status;
  char *status_msg; /* percent-encoded, owned, may be NULL */
  /* state */
  int held;      /* the handler has the call (on_call fired, no finish) */
  int responded; /* the end of the response is decided */
  int headers_sent;
  int trailers_sent; /* trailers submitted to nghttp2 */
  int remote_ended;
  int stream_gone; /* stream closed or connection gone */
  int cancelled;
  int want_writable;
  int depth; /* handler callbacks running on this call */
  uv_timer_t *deadline;
  uint64_t deadline_ms; /* uv_now() value, 0 if none */
  void *data;
};

/* server.c */
const cpc_rpc_method *cpc__rpc_server_find(const cpc_rpc_server *s,
                                           const char *path);
void cpc__rpc_server_conn_freed(cpc_rpc_server *s);

/* conn.c */
int cpc__rpc_conn_accept(cpc_rpc_server *s);
/* Serve a connected stream socket (on success fd is the connection's and
 * closed with it; on error the caller keeps it).
 * For tests and fuzzing; a Unix socketpair works as well as TCP. */
int cpc__rpc_conn_open_fd(cpc_rpc_server *s, uv_os_sock_t fd);
void cpc__rpc_conn_flush(cpc__rpc_conn *c);
/* Close c: with drain, the output (GOAWAY) is written first. */
void cpc__rpc_conn_close(cpc__rpc_conn *c, int drain);
void cpc__rpc_conn_notify_writable(cpc__rpc_conn *c, cpc_rpc_call *call);

/* call.c: events from the nghttp2 session */
int cpc__rpc_call_new(cpc__rpc_conn *c, int32_t stream_id, cpc_rpc_call **out);
int cpc__rpc_call_header(cpc_rpc_call *call, const uint8_t *name,
                         size_t namelen, const uint8_t *value, size_t valuelen);
void cpc__rpc_call_headers_done(cpc_rpc_call *call);
void cpc__rpc_call_data(cpc_rpc_call *call, const uint8_t *data, size_t len);
void cpc__rpc_call_remote_end(cpc_rpc_call *call);
void cpc__rpc_call_frame_sent(cpc_rpc_call *call, int end_stream);
/* The stream is gone (closed, or the connection torn down): unlinks the
 * call from its connection, cancels the handler if it still holds the
 * call, frees the call if it can. */
void cpc__rpc_call_stream_gone(cpc_rpc_call *call);
ssize_t cpc__rpc_call_read_data(cpc_rpc_call *call, uint8_t *buf, size_t length,
                                uint32_t *data_flags);

/* health.c */
void cpc__rpc_health_free(cpc_rpc_health *h);

#endif /* CPC_RPC_INT_H */
