/*
 * call.c: one gRPC call on one HTTP/2 stream: request headers and their
 * checks, request messages, the handler's callbacks, the response
 * (headers, framed messages through an nghttp2 data source, trailers or
 * Trailers-Only), deadline and cancellation, and the call's lifetime.
 *
 * Lifetime: a call is freed when the handler does not hold it (never got
 * it, or called cpc_rpc_call_finish), its stream is gone (closed, or the
 * connection torn down) and no handler callback on it is running (depth).
 */
#include <protobuf-c/protobuf-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/rpc.h"
#include "rpc/rpc_int.h"

#define HDR_OVERHEAD 32u /* RFC 9113 section 6.5.2 per-field overhead */
#define MAX_METADATA_NAME 256u
#define MAX_NV_FIXED 4u

static const char GRPC_CONTENT_TYPE[] = "application/grpc";

static void call_free(cpc_rpc_call *call);

static int single_request(const cpc_rpc_call *call) {
  return call->method.kind == CPC_RPC_UNARY ||
         call->method.kind == CPC_RPC_SERVER_STREAM;
}

static int single_response(const cpc_rpc_call *call) {
  return call->method.kind == CPC_RPC_UNARY ||
         call->method.kind == CPC_RPC_CLIENT_STREAM;
}

/* Free call if nothing holds it any more. Returns 1 if it was freed. */
static int maybe_free(cpc_rpc_call *call) {
  if (call->held || !call->stream_gone || call->depth > 0)
    return 0;
  call_free(call);
  return 1;
}

/* ---- creation and request headers ------------------------------------ */

int cpc__rpc_call_new(cpc__rpc_conn *c, int32_t stream_id, cpc_rpc_call **out) {
  const cpc_rpc_server_config *cfg = &c->srv->cfg;
  cpc_rpc_call *call = calloc(1, sizeof *call);
  if (!call)
    return CPC_ENOMEM;
  call->conn = c;
  call->stream_id = stream_id;
  call->max_send = cfg->max_send_message;
  call->send_high = cfg->call_send_buffer;
  call->path_off = SIZE_MAX;
  cpc_rpc_deframer_init(&call->rx, cfg->max_recv_message);
  call->next = c->calls;
  if (c->calls)
    c->calls->prev = call;
  c->calls = call;
  *out = call;
  return 0;
}

static int arena_add(cpc_rpc_call *call, const uint8_t *s, size_t n,
                     size_t *off) {
  size_t need = call->hdr_len + n + 1, cap;
  char *p;
  if (need > call->hdr_cap) {
    cap = call->hdr_cap ? call->hdr_cap : 512;
    while (cap < need)
      cap *= 2;
    p = realloc(call->hdr, cap);
    if (!p)
      return CPC_ENOMEM;
    call->hdr = p;
    call->hdr_cap = cap;
  }
  *off = call->hdr_len;
  if (n)
    memcpy(call->hdr + call->hdr_len, s, n);
  call->hdr[call->hdr_len + n] = '\0';
  call->hdr_len = need;
  return 0;
}

int cpc__rpc_call_header(cpc_rpc_call *call, const uint8_t *name,
                         size_t namelen, const uint8_t *value,
                         size_t valuelen) {
  size_t limit = call->conn ? call->conn->srv->cfg.max_header_list : 0;
  size_t bytes = namelen + valuelen + HDR_OVERHEAD;
  cpc__rpc_md *md;
  int rc;
  if (call->header_overflow)
    return 0;
  if (bytes > limit || call->header_bytes > limit - bytes) {
    call->header_overflow = 1; /* answered in headers_done */
    return 0;
  }
  call->header_bytes += bytes;
  if (call->md_n == call->md_cap) {
    size_t cap = call->md_cap ? call->md_cap * 2 : 16;
    md = realloc(call->md, cap * sizeof *md);
    if (!md)
      return CPC_ENOMEM;
    call->md = md;
    call->md_cap = cap;
  }
  md = &call->md[call->md_n];
  rc = arena_add(call, name, namelen, &md->name);
  if (rc == 0)
    rc = arena_add(call, value, valuelen, &md->value);
  if (rc != 0)
    return rc;
  call->md_n++;
  return 0;
}

static const char *md_find(const cpc_rpc_call *call, const char *name) {
  size_t i;
  for (i = 0; i < call->md_n; i++)
    if (strcmp(call->hdr + call->md[i].name, name) == 0)
      return call->hdr + call->md[i].value;
  return NULL;
}

/* ---- response submission --------------------------------------------- */

static nghttp2_nv make_nv(const char *name, const char *value) {
  nghttp2_nv nv;
  nv.name = (uint8_t *)(uintptr_t)name;
  nv.namelen = strlen(name);
  nv.value = (uint8_t *)(uintptr_t)value;
  nv.valuelen = strlen(value);
  nv.flags = NGHTTP2_NV_FLAG_NONE;
  return nv;
}

/* Fill nva with response metadata: which = 0 initial, 1 trailers, 2 both. */
static size_t add_out_md(const cpc_rpc_call *call, nghttp2_nv *nva, size_t n,
                         int which) {
  size_t i;
  for (i = 0; i < call->omd_n; i++)
    if (which == 2 || call->omd[i].trailer == which)
      nva[n++] = make_nv(call->omd[i].name, call->omd[i].value);
  return n;
}

static ssize_t read_data(nghttp2_session *h2, int32_t stream_id, uint8_t *buf,
                         size_t length, uint32_t *data_flags,
                         nghttp2_data_source *source, void *ud);

static void rst(cpc_rpc_call *call, uint32_t code) {
  if (call->conn && !call->stream_gone)
    (void)nghttp2_submit_rst_stream(call->conn->h2, NGHTTP2_FLAG_NONE,
                                    call->stream_id, code);
}

/* Submit the response headers with the data source, once. */
static int start_response(cpc_rpc_call *call) {
  nghttp2_nv *nva;
  nghttp2_data_provider prd;
  size_t n = 0;
  int rv;
  if (call->headers_sent)
    return nghttp2_session_resume_data(call->conn->h2, call->stream_id) ==
                   NGHTTP2_ERR_NOMEM
               ? CPC_ENOMEM
               : 0;
  nva = malloc((MAX_NV_FIXED + call->omd_n) * sizeof *nva);
  if (!nva)
    return CPC_ENOMEM;
  nva[n++] = make_nv(":status", "200");
  nva[n++] = make_nv("content-type", GRPC_CONTENT_TYPE);
  n = add_out_md(call, nva, n, 0);
  prd.source.ptr = call;
  prd.read_callback = read_data;
  rv = nghttp2_submit_response(call->conn->h2, call->stream_id, nva, n, &prd);
  free(nva);
  if (rv != 0)
    return rv == NGHTTP2_ERR_NOMEM ? CPC_ENOMEM : CPC_EPROTO;
  call->headers_sent = 1;
  return 0;
}

/* Submit the end of the response: Trailers-Only if no headers went out,
 * else let the data source send the trailers after the queued messages. */
static void submit_end(cpc_rpc_call *call) {
  char status[12];
  nghttp2_nv *nva;
  size_t n = 0;
  int rv;
  if (!call->conn || call->stream_gone)
    return;
  if (call->headers_sent) {
    (void)nghttp2_session_resume_data(call->conn->h2, call->stream_id);
  } else {
    nva = malloc((MAX_NV_FIXED + call->omd_n) * sizeof *nva);
    if (!nva) {
      rst(call, NGHTTP2_INTERNAL_ERROR);
      goto out;
    }
    snprintf(status, sizeof status, "%d", call->status);
    nva[n++] = make_nv(":status", "200");
    nva[n++] = make_nv("content-type", GRPC_CONTENT_TYPE);
    nva[n++] = make_nv("grpc-status", status);
    if (call->status_msg && call->status_msg[0])
      nva[n++] = make_nv("grpc-message", call->status_msg);
    n = add_out_md(call, nva, n, 2);
    rv = nghttp2_submit_response(call->conn->h2, call->stream_id, nva, n, NULL);
    free(nva);
    call->headers_sent = 1;
    call->trailers_sent = 1;
    if (rv != 0)
      rst(call, NGHTTP2_INTERNAL_ERROR);
  }
out:
  cpc__rpc_conn_flush(call->conn);
}

static int submit_trailers(cpc_rpc_call *call) {
  char status[12];
  nghttp2_nv *nva;
  size_t n = 0;
  int rv;
  nva = malloc((MAX_NV_FIXED + call->omd_n) * sizeof *nva);
  if (!nva)
    return NGHTTP2_ERR_NOMEM;
  snprintf(status, sizeof status, "%d", call->status);
  nva[n++] = make_nv("grpc-status", status);
  if (call->status_msg && call->status_msg[0])
    nva[n++] = make_nv("grpc-message", call->status_msg);
  n = add_out_md(call, nva, n, 1);
  rv = nghttp2_submit_trailer(call->conn->h2, call->stream_id, nva, n);
  free(nva);
  return rv;
}

/* The data source: framed messages from call->out, then the trailers. */
static ssize_t read_data(nghttp2_session *h2, int32_t stream_id, uint8_t *buf,
                         size_t length, uint32_t *data_flags,
                         nghttp2_data_source *source, void *ud) {
  cpc_rpc_call *call = source->ptr;
  size_t pending = call->out_len - call->out_off;
  size_t n = pending < length ? pending : length;
  if (n) {
    memcpy(buf, call->out + call->out_off, n);
    call->out_off += n;
    if (call->out_off == call->out_len)
      call->out_off = call->out_len = 0;
  }
  if (call->want_writable && call->out_len - call->out_off < call->send_high) {
    call->want_writable = 0;
    if (call->held && !call->cancelled)
      cpc__rpc_conn_notify_writable(call->conn, call);
  }
  if (call->out_len == call->out_off) {
    if (call->responded && !call->trailers_sent) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
      call->trailers_sent = 1;
      if (submit_trailers(call) != 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    } else if (n == 0) {
      return NGHTTP2_ERR_DEFERRED;
    }
  }
  return (ssize_t)n;
}

static void set_status(cpc_rpc_call *call, int status, const char *msg) {
  size_t len, cap;
  call->status = status;
  free(call->status_msg);
  call->status_msg = NULL;
  if (!msg || !msg[0])
    return;
  len = strlen(msg);
  if (len > CPC__RPC_MAX_STATUS_MSG) { /* cut at a UTF-8 boundary */
    len = CPC__RPC_MAX_STATUS_MSG;
    while (len > 0 && ((uint8_t)msg[len] & 0xc0) == 0x80)
      len--;
  }
  cap = 3 * len + 1;
  call->status_msg = malloc(cap);
  if (call->status_msg &&
      cpc_rpc_percent_encode((const uint8_t *)msg, len, call->status_msg, cap,
                             NULL) != 0) {
    free(call->status_msg);
    call->status_msg = NULL;
  }
}

/* Decide the end of the response (once) and submit it. */
static void call_end(cpc_rpc_call *call, int status, const char *msg) {
  if (call->responded || call->stream_gone)
    return;
  call->responded = 1;
  set_status(call, status, msg);
  submit_end(call);
}

static void call_cancel(cpc_rpc_call *call, int reason) {
  if (!call->held || call->cancelled)
    return;
  call->cancelled = 1;
  call->want_writable = 0;
  if (call->method.on_cancel) {
    call->depth++;
    call->method.on_cancel(call, reason);
    call->depth--;
  }
}

/* The library ends the call with an error: drop what is queued, answer
 * with status, and tell the handler if it has the call. */
static void call_fail(cpc_rpc_call *call, int status, const char *msg,
                      int reason) {
  if (call->responded || call->stream_gone)
    return;
  call->out_off = call->out_len = 0;
  call->responded = 1;
  set_status(call, status, msg);
  /* The handler hears the reason first: sending the answer may close the
   * stream at once (the client has ended), which would say CPC_ECLOSED. */
  call_cancel(call, reason);
  submit_end(call);
}

/* A plain HTTP error (not gRPC): :status only, end of stream. */
static void http_error(cpc_rpc_call *call, const char *code) {
  nghttp2_nv nv = make_nv(":status", code);
  call->responded = call->headers_sent = call->trailers_sent = 1;
  if (nghttp2_submit_response(call->conn->h2, call->stream_id, &nv, 1, NULL) !=
      0)
    rst(call, NGHTTP2_INTERNAL_ERROR);
}

/* ---- deadline -------------------------------------------------------- */

static void on_deadline(uv_timer_t *t) {
  cpc_rpc_call *call = t->data;
  if (!call || call->stream_gone)
    return;
  call->depth++;
  if (call->responded) { /* trailers still waiting for the window */
    rst(call, NGHTTP2_CANCEL);
    cpc__rpc_conn_flush(call->conn);
  } else {
    call_fail(call, CPC_RPC_DEADLINE_EXCEEDED, "Deadline Exceeded",
              CPC_ETIMEDOUT);
  }
  call->depth--;
  (void)maybe_free(call);
}

static int start_deadline(cpc_rpc_call *call, uint64_t ns) {
  uv_loop_t *loop = call->conn->srv->loop;
  uint64_t ms = ns / 1000000u + (ns % 1000000u ? 1 : 0);
  if (ms > UINT64_MAX / 4)
    return 0; /* centuries: no deadline */
  call->deadline = malloc(sizeof *call->deadline);
  if (!call->deadline)
    return CPC_ENOMEM;
  (void)uv_timer_init(loop, call->deadline);
  call->deadline->data = call;
  call->deadline_ms = uv_now(loop) + ms;
  (void)uv_timer_start(call->deadline, on_deadline, ms, 0);
  return 0;
}

/* ---- request events ---------------------------------------------------- */

static int grpc_content_type(const char *ct) {
  size_t n = sizeof GRPC_CONTENT_TYPE - 1;
  return strncmp(ct, GRPC_CONTENT_TYPE, n) == 0 &&
         (ct[n] == '\0' || ct[n] == '+' || ct[n] == ';');
}

void cpc__rpc_call_headers_done(cpc_rpc_call *call) {
  const cpc_rpc_method *m;
  const char *v, *path;
  char msg[160];
  uint64_t ns;
  if (call->responded)
    return;
  if (call->header_overflow) {
    call_fail(call, CPC_RPC_RESOURCE_EXHAUSTED,
              "request metadata exceeds the header list limit", CPC_ETOOBIG);
    return;
  }
  v = md_find(call, ":method");
  if (!v || strcmp(v, "POST") != 0) {
    http_error(call, "405");
    return;
  }
  v = md_find(call, "content-type");
  if (!v || !grpc_content_type(v)) {
    http_error(call, "415");
    return;
  }
  path = md_find(call, ":path");
  m = path ? cpc__rpc_server_find(call->conn->srv, path) : NULL;
  if (!m) {
    snprintf(msg, sizeof msg, "unknown method %.120s", path ? path : "");
    call_fail(call, CPC_RPC_UNIMPLEMENTED, msg, CPC_EUNSUPPORTED);
    return;
  }
  call->method = *m;
  call->method.path = NULL;
  call->have_method = 1;
  v = md_find(call, "te");
  if (!v || strcmp(v, "trailers") != 0) {
    call_fail(call, CPC_RPC_INTERNAL, "te: trailers is required", CPC_EPROTO);
    return;
  }
  v = md_find(call, "grpc-encoding");
  if (v && strcmp(v, "identity") != 0) {
    snprintf(msg, sizeof msg, "grpc-encoding %.60s is not supported", v);
    call_fail(call, CPC_RPC_UNIMPLEMENTED, msg, CPC_EUNSUPPORTED);
    return;
  }
  v = md_find(call, "grpc-timeout");
  if (v) {
    if (cpc_rpc_timeout_parse(v, strlen(v), &ns) != 0) {
      call_fail(call, CPC_RPC_INTERNAL, "malformed grpc-timeout", CPC_EPROTO);
      return;
    }
    if (ns == 0) {
      call_fail(call, CPC_RPC_DEADLINE_EXCEEDED, "Deadline Exceeded",
                CPC_ETIMEDOUT);
      return;
    }
    if (start_deadline(call, ns) != 0) {
      call_fail(call, CPC_RPC_RESOURCE_EXHAUSTED, "out of memory", CPC_ENOMEM);
      return;
    }
  }
  if (!single_request(call)) {
    call->held = 1;
    call->depth++;
    call->method.on_call(call, NULL, 0);
    call->depth--;
  }
}

/* One complete request message. Returns 0 to go on, 1 to stop. */
static int on_request_message(cpc_rpc_call *call, const uint8_t *msg,
                              size_t len, int compressed) {
  if (compressed) {
    call_fail(call, CPC_RPC_INTERNAL,
              "compressed message without grpc-encoding", CPC_EPROTO);
    return 1;
  }
  if (single_request(call)) {
    if (++call->req_count > 1) {
      call_fail(call, CPC_RPC_INTERNAL,
                "more than one request message for a single-request method",
                CPC_EPROTO);
      return 1;
    }
    if (len) {
      call->req = malloc(len);
      if (!call->req) {
        call_fail(call, CPC_RPC_RESOURCE_EXHAUSTED, "out of memory",
                  CPC_ENOMEM);
        return 1;
      }
      memcpy(call->req, msg, len);
    }
    call->req_len = len;
    return 0;
  }
  if (!call->held || call->cancelled)
    return 1;
  call->depth++;
  call->method.on_message(call, msg, len);
  call->depth--;
  return call->responded || call->cancelled;
}

void cpc__rpc_call_data(cpc_rpc_call *call, const uint8_t *data, size_t len) {
  const uint8_t *msg;
  size_t used, msg_len, off = 0;
  int rc, compressed;
  char text[96];
  while (off < len && !call->responded && call->have_method) {
    rc = cpc_rpc_deframer_feed(&call->rx, data + off, len - off, &used, &msg,
                               &msg_len, &compressed);
    off += used;
    if (rc == CPC_ETOOBIG) {
      snprintf(text, sizeof text, "received message larger than max (%zu)",
               call->rx.max_message);
      call_fail(call, CPC_RPC_RESOURCE_EXHAUSTED, text, CPC_ETOOBIG);
      return;
    }
    if (rc == CPC_EMALFORMED) {
      call_fail(call, CPC_RPC_INTERNAL, "bad compressed flag", CPC_EPROTO);
      return;
    }
    if (rc < 0) {
      call_fail(call, CPC_RPC_RESOURCE_EXHAUSTED, "out of memory", CPC_ENOMEM);
      return;
    }
    if (rc == 1 && on_request_message(call, msg, msg_len, compressed))
      return;
  }
}

void cpc__rpc_call_remote_end(cpc_rpc_call *call) {
  if (call->remote_ended)
    return;
  call->remote_ended = 1;
  if (call->responded || !call->have_method)
    return;
  if (!cpc_rpc_deframer_idle(&call->rx)) {
    call_fail(call, CPC_RPC_INTERNAL, "request ended inside a message",
              CPC_EPROTO);
    return;
  }
  cpc_rpc_deframer_free(&call->rx);
  if (single_request(call)) {
    if (call->req_count != 1) {
      call_fail(call, CPC_RPC_INTERNAL,
                "a single-request method needs exactly one request message",
                CPC_EPROTO);
      return;
    }
    call->held = 1;
    call->depth++;
    call->method.on_call(call, call->req, call->req_len);
    call->depth--;
    free(call->req);
    call->req = NULL;
    return;
  }
  if (call->held && !call->cancelled) {
    call->depth++;
    call->method.on_end(call);
    call->depth--;
  }
}

void cpc__rpc_call_frame_sent(cpc_rpc_call *call, int end_stream) {
  /* Early server closure: trailers before the client's END_STREAM are
   * followed by RST_STREAM(NO_ERROR) so the stream is freed. */
  if (end_stream && !call->remote_ended)
    rst(call, NGHTTP2_NO_ERROR);
}

void cpc__rpc_call_stream_gone(cpc_rpc_call *call) {
  cpc__rpc_conn *c = call->conn;
  cpc_rpc_call **p;
  if (call->stream_gone)
    return;
  if (c) {
    if (call->prev)
      call->prev->next = call->next;
    else
      c->calls = call->next;
    if (call->next)
      call->next->prev = call->prev;
    if (call->in_notify) {
      for (p = &c->notify; *p; p = &(*p)->notify_next)
        if (*p == call) {
          *p = call->notify_next;
          break;
        }
      call->in_notify = 0;
    }
  }
  call->prev = call->next = call->notify_next = NULL;
  call->stream_gone = 1;
  if (call->deadline)
    uv_timer_stop(call->deadline);
  call->depth++;
  call_cancel(call, CPC_ECLOSED);
  call->conn = NULL;
  call->depth--;
  (void)maybe_free(call);
}

static void call_free(cpc_rpc_call *call) {
  size_t i;
  if (call->deadline) {
    call->deadline->data = NULL;
    uv_close((uv_handle_t *)call->deadline, (uv_close_cb)free);
  }
  cpc_rpc_deframer_free(&call->rx);
  for (i = 0; i < call->omd_n; i++) {
    free(call->omd[i].name);
    free(call->omd[i].value);
  }
  free(call->omd);
  free(call->status_msg);
  free(call->out);
  free(call->req);
  free(call->md);
  free(call->hdr);
  free(call);
}

/* ---- the handler's side ---------------------------------------------- */

/* Checks common to every send; *dst gets room for a len-byte message. */
static int send_reserve(cpc_rpc_call *call, size_t len, uint8_t **dst) {
  size_t pending, need, cap;
  uint8_t *p;
  if (!call || !call->held)
    return CPC_ESTATE;
  if (call->cancelled || call->stream_gone || !call->conn)
    return CPC_ECLOSED;
  if (call->responded)
    return CPC_ESTATE;
  if (len > call->max_send)
    return CPC_ETOOBIG;
  if (single_response(call) && call->sent_msgs > 0)
    return CPC_ESTATE;
  pending = call->out_len - call->out_off;
  if (pending >= call->send_high) {
    call->want_writable = 1;
    return CPC_EAGAIN;
  }
  need = CPC_RPC_FRAME_HEADER_LEN + len;
  if (call->out_off > 0 && call->out_cap - call->out_len < need) {
    memmove(call->out, call->out + call->out_off, pending);
    call->out_off = 0;
    call->out_len = pending;
  }
  if (call->out_cap - call->out_len < need) {
    cap = call->out_cap ? call->out_cap : 4096;
    while (cap - call->out_len < need)
      cap *= 2;
    p = realloc(call->out, cap);
    if (!p)
      return CPC_ENOMEM;
    call->out = p;
    call->out_cap = cap;
  }
  *dst = call->out + call->out_len;
  return cpc_rpc_frame_header(*dst, 0, len);
}

static int send_commit(cpc_rpc_call *call, size_t len) {
  int rc;
  call->out_len += CPC_RPC_FRAME_HEADER_LEN + len;
  call->sent_msgs++;
  rc = start_response(call);
  if (rc != 0) {
    call_fail(call, CPC_RPC_INTERNAL, "could not start the response",
              CPC_ENOMEM);
    return rc;
  }
  cpc__rpc_conn_flush(call->conn);
  return 0;
}

int cpc_rpc_call_send(cpc_rpc_call *call, const uint8_t *msg, size_t len) {
  uint8_t *dst;
  int rc;
  if (!msg && len)
    return CPC_EINVAL;
  rc = send_reserve(call, len, &dst);
  if (rc != 0)
    return rc;
  if (len)
    memcpy(dst + CPC_RPC_FRAME_HEADER_LEN, msg, len);
  return send_commit(call, len);
}

int cpc_rpc_call_send_pb(cpc_rpc_call *call,
                         const struct ProtobufCMessage *msg) {
  uint8_t *dst;
  size_t len;
  int rc;
  if (!msg)
    return CPC_EINVAL;
  len = protobuf_c_message_get_packed_size(msg);
  rc = send_reserve(call, len, &dst);
  if (rc != 0)
    return rc;
  if (protobuf_c_message_pack(msg, dst + CPC_RPC_FRAME_HEADER_LEN) != len)
    return CPC_EINVAL;
  return send_commit(call, len);
}

int cpc_rpc_call_writable(const cpc_rpc_call *call) {
  return call && call->held && !call->cancelled && !call->stream_gone &&
         !call->responded && call->out_len - call->out_off < call->send_high;
}

int cpc_rpc_call_finish(cpc_rpc_call *call, int status, const char *message) {
  int rc = 0;
  if (!call || !call->held)
    return CPC_ESTATE;
  call->held = 0;
  call->want_writable = 0;
  if (call->cancelled || call->stream_gone || call->responded) {
    rc = CPC_ECLOSED;
    goto out;
  }
  if (status < 0 || status > CPC_RPC_UNAUTHENTICATED)
    status = CPC_RPC_UNKNOWN;
  if (status == CPC_RPC_OK && single_response(call) && call->sent_msgs == 0) {
    status = CPC_RPC_INTERNAL;
    message = "the handler finished without a response message";
  }
  call->depth++;
  call_end(call, status, message);
  call->depth--;
out:
  (void)maybe_free(call);
  return rc;
}

static int valid_md_name(const char *n) {
  size_t i, len = strlen(n);
  if (len == 0 || len > MAX_METADATA_NAME || strncmp(n, "grpc-", 5) == 0)
    return 0;
  for (i = 0; i < len; i++) {
    char ch = n[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
          ch == '_' || ch == '.'))
      return 0;
  }
  return 1;
}

static int valid_md_value(const char *v) {
  for (; *v; v++)
    if ((uint8_t)*v < 0x20 || (uint8_t)*v > 0x7e)
      return 0;
  return 1;
}

int cpc_rpc_call_add_metadata(cpc_rpc_call *call, int trailer, const char *name,
                              const char *value) {
  cpc__rpc_out_md *omd;
  size_t bytes;
  if (!call || !name || !value || !valid_md_name(name) ||
      !valid_md_value(value))
    return CPC_EINVAL;
  if (!call->held || call->responded || (!trailer && call->headers_sent))
    return CPC_ESTATE;
  bytes = strlen(name) + strlen(value) + HDR_OVERHEAD;
  if (bytes > CPC__RPC_MAX_RESPONSE_MD ||
      call->omd_bytes > CPC__RPC_MAX_RESPONSE_MD - bytes)
    return CPC_ETOOBIG;
  omd = realloc(call->omd, (call->omd_n + 1) * sizeof *omd);
  if (!omd)
    return CPC_ENOMEM;
  call->omd = omd;
  omd = &call->omd[call->omd_n];
  omd->name = strdup(name);
  omd->value = strdup(value);
  omd->trailer = trailer ? 1 : 0;
  if (!omd->name || !omd->value) {
    free(omd->name);
    free(omd->value);
    return CPC_ENOMEM;
  }
  call->omd_n++;
  call->omd_bytes += bytes;
  return 0;
}

const char *cpc_rpc_call_metadata(const cpc_rpc_call *call, const char *name) {
  return call && name ? md_find(call, name) : NULL;
}

size_t cpc_rpc_call_metadata_count(const cpc_rpc_call *call) {
  return call ? call->md_n : 0;
}

int cpc_rpc_call_metadata_at(const cpc_rpc_call *call, size_t i,
                             const char **name, const char **value) {
  if (!call || i >= call->md_n)
    return CPC_ENOENT;
  if (name)
    *name = call->hdr + call->md[i].name;
  if (value)
    *value = call->hdr + call->md[i].value;
  return 0;
}

const char *cpc_rpc_call_path(const cpc_rpc_call *call) {
  const char *p = call ? md_find(call, ":path") : NULL;
  return p ? p : "";
}

void cpc_rpc_call_set_data(cpc_rpc_call *call, void *data) {
  call->data = data;
}

void *cpc_rpc_call_data(const cpc_rpc_call *call) {
  return call->data;
}

void *cpc_rpc_call_method_data(const cpc_rpc_call *call) {
  return call->method.ud;
}

int64_t cpc_rpc_call_remaining_ms(const cpc_rpc_call *call) {
  uint64_t now;
  if (!call->deadline_ms || !call->deadline)
    return -1;
  now = uv_now(call->deadline->loop);
  return now >= call->deadline_ms ? 0 : (int64_t)(call->deadline_ms - now);
}

int cpc_rpc_call_cancelled(const cpc_rpc_call *call) {
  return call->cancelled;
}

int cpc_rpc_call_peer(const cpc_rpc_call *call, struct sockaddr_storage *ss,
                      int *len) {
  if (!call->conn || call->conn->closed)
    return CPC_ECLOSED;
  *len = (int)sizeof *ss;
  return uv_tcp_getpeername(&call->conn->tcp, (struct sockaddr *)ss, len) == 0
             ? 0
             : CPC_EIO;
}
