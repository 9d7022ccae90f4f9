/*
 * client_call.c: the caller's side of a gRPC client call: argument checks,
 * the request headers (kept until the call gets a stream), the send
 * buffer drained through an nghttp2 data source, half-close, cancel, and
 * the end of a call (status recorded, stream reset, on_done queued).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/rpc_client.h"
#include "rpc/client_int.h"

#define N_FIXED_HEADERS 8u
#define OUT_MIN_CAP 4096u

static const char USER_AGENT[] = "cpc-rpc-client/1";

static int single_request(const cpc_rpc_client_call *call) {
  return call->kind == CPC_RPC_UNARY || call->kind == CPC_RPC_SERVER_STREAM;
}

/* ---- argument checks --------------------------------------------------- */

static int valid_path(const char *p) {
  size_t i, len = strlen(p);
  if (len < 4 || len > CPC__RPC_CLIENT_MAX_PATH || p[0] != '/' ||
      p[len - 1] == '/')
    return 0;
  for (i = 0; i < len; i++)
    if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e)
      return 0;
  return strchr(p + 2, '/') != NULL;
}

/* Request headers gRPC or HTTP/2 own, which metadata may not set. */
static const char *const RESERVED[] = {
    "content-type", "te",         "user-agent",        "host",
    "connection",   "keep-alive", "proxy-connection",  "transfer-encoding",
    "upgrade",
};

static int valid_md_name(const char *n) {
  size_t i, len = strlen(n);
  if (len == 0 || len > CPC__RPC_CLIENT_MAX_MD_NAME ||
      strncmp(n, "grpc-", 5) == 0)
    return 0;
  for (i = 0; i < len; i++) {
    char ch = n[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
          ch == '_' || ch == '.'))
      return 0;
  }
  for (i = 0; i < sizeof RESERVED / sizeof RESERVED[0]; i++)
    if (strcmp(n, RESERVED[i]) == 0)
      return 0;
  return 1;
}

static int valid_md_value(const char *v) {
  for (; *v; v++)
    if ((unsigned char)*v < 0x20 || (unsigned char)*v > 0x7e)
      return 0;
  return 1;
}

/* ---- creation ------------------------------------------------------------ */

static void call_destroy(cpc_rpc_client_call *call) {
  cpc_rpc_deframer_free(&call->rx);
  free(call->req_hdr);
  free(call->out);
  free(call->md);
  free(call->mdi);
  free(call->message);
  free(call);
}

/* Check the arguments and build the call (not yet started). */
static int call_create(cpc_rpc_client *cl, const char *path,
                       enum cpc_rpc_kind kind, const cpc_rpc_metadata *md,
                       size_t n_md, uint64_t timeout_ms,
                       const cpc_rpc_client_callbacks *cb, void *ud,
                       cpc_rpc_client_call **out) {
  cpc_rpc_client_call *call;
  size_t i, arena, md_bytes = 0, off, n;
  if (!cl || !path || !cb || !cb->on_done || (n_md && !md) ||
      (int)kind < CPC_RPC_UNARY || (int)kind > CPC_RPC_BIDI ||
      !valid_path(path))
    return CPC_EINVAL;
  if (cl->closing)
    return CPC_ESTATE;
  arena = strlen(path) + 1;
  for (i = 0; i < n_md; i++) {
    if (!md[i].name || !md[i].value || !valid_md_name(md[i].name) ||
        !valid_md_value(md[i].value))
      return CPC_EINVAL;
    n = strlen(md[i].name) + strlen(md[i].value);
    md_bytes += n + CPC__RPC_CLIENT_HDR_OVERHEAD;
    if (md_bytes > CPC__RPC_CLIENT_MAX_MD)
      return CPC_EINVAL;
    arena += n + 2;
  }
  call = calloc(1, sizeof *call);
  if (!call)
    return CPC_ENOMEM;
  call->req_hdr = malloc(arena);
  if (!call->req_hdr) {
    free(call);
    return CPC_ENOMEM;
  }
  off = 0;
  n = strlen(path) + 1;
  memcpy(call->req_hdr, path, n);
  off += n;
  for (i = 0; i < n_md; i++) {
    n = strlen(md[i].name) + 1;
    memcpy(call->req_hdr + off, md[i].name, n);
    off += n;
    n = strlen(md[i].value) + 1;
    memcpy(call->req_hdr + off, md[i].value, n);
    off += n;
  }
  call->req_hdr_len = off;
  call->n_req_md = n_md;
  call->cl = cl;
  call->kind = kind;
  call->cb = *cb;
  call->ud = ud;
  call->status = -1;
  if (timeout_ms) {
    /* Centuries are no deadline at all (and cannot overflow uv_now). */
    if (timeout_ms < UINT64_MAX / 4)
      call->deadline_ms = uv_now(cl->loop) + timeout_ms;
  }
  cpc_rpc_deframer_init(&call->rx, cl->cfg.max_recv_message);
  *out = call;
  return 0;
}

/* Start call: link it into the client, queue it, connect or submit. */
static void call_launch(cpc_rpc_client_call *call) {
  cpc_rpc_client *cl = call->cl;
  call->all_prev = cl->calls_tail;
  if (cl->calls_tail)
    cl->calls_tail->all_next = call;
  else
    cl->calls = call;
  cl->calls_tail = call;
  cpc__rpc_client_pend_push(cl, call);
  if (call->deadline_ms)
    cpc__rpc_client_arm_deadline(cl);
  cpc__rpc_client_dispatch(cl);
}

int cpc_rpc_client_start(cpc_rpc_client *cl, const char *path,
                         enum cpc_rpc_kind kind, const cpc_rpc_metadata *md,
                         size_t n_md, uint64_t timeout_ms,
                         const cpc_rpc_client_callbacks *cb, void *ud,
                         cpc_rpc_client_call **out) {
  cpc_rpc_client_call *call;
  int rc = call_create(cl, path, kind, md, n_md, timeout_ms, cb, ud, &call);
  if (rc != 0)
    return rc;
  if (out)
    *out = call;
  call_launch(call);
  return 0;
}

/* ---- sending ------------------------------------------------------------- */

/* Let nghttp2 read the send buffer again and write. */
static void call_kick(cpc_rpc_client_call *call) {
  if (!call->conn || !call->conn->h2)
    return;
  (void)nghttp2_session_resume_data(call->conn->h2, call->stream_id);
  cpc__rpc_cconn_flush(call->conn);
}

/* Append one framed message to the send buffer. */
static int buffer_message(cpc_rpc_client_call *call, const uint8_t *msg,
                          size_t len) {
  size_t pending = call->out_len - call->out_off;
  size_t need = CPC_RPC_FRAME_HEADER_LEN + len, cap;
  uint8_t *p;
  if (call->out_off > 0 && call->out_cap - call->out_len < need) {
    memmove(call->out, call->out + call->out_off, pending);
    call->out_off = 0;
    call->out_len = pending;
  }
  if (call->out_cap - call->out_len < need) {
    cap = call->out_cap ? call->out_cap : OUT_MIN_CAP;
    while (cap - call->out_len < need)
      cap *= 2;
    p = realloc(call->out, cap);
    if (!p)
      return CPC_ENOMEM;
    call->out = p;
    call->out_cap = cap;
  }
  (void)cpc_rpc_frame_header(call->out + call->out_len, 0, len);
  if (len)
    memcpy(call->out + call->out_len + CPC_RPC_FRAME_HEADER_LEN, msg, len);
  call->out_len += need;
  call->sent_msgs++;
  return 0;
}

int cpc_rpc_client_call_send(cpc_rpc_client_call *call, const uint8_t *msg,
                             size_t len) {
  int rc;
  if (!call || (!msg && len))
    return CPC_EINVAL;
  if (call->state == CPC__CCALL_ENDED || call->send_closed ||
      (single_request(call) && call->sent_msgs > 0))
    return CPC_ESTATE;
  if (len > call->cl->cfg.max_send_message)
    return CPC_ETOOBIG;
  if (call->out_len - call->out_off >= call->cl->cfg.call_send_buffer) {
    call->want_writable = 1;
    return CPC_EAGAIN;
  }
  rc = buffer_message(call, msg, len);
  if (rc != 0)
    return rc;
  call_kick(call);
  return 0;
}

int cpc_rpc_client_call_close_send(cpc_rpc_client_call *call) {
  if (!call)
    return CPC_EINVAL;
  if (call->state == CPC__CCALL_ENDED || call->send_closed)
    return CPC_ESTATE;
  call->send_closed = 1;
  call_kick(call);
  return 0;
}

void cpc_rpc_client_call_cancel(cpc_rpc_client_call *call) {
  if (!call || call->state == CPC__CCALL_ENDED)
    return;
  cpc__rpc_ccall_end(call, CPC_RPC_CANCELLED, "Cancelled by the client");
}

int cpc_rpc_client_unary(cpc_rpc_client *cl, const char *path,
                         const cpc_rpc_metadata *md, size_t n_md,
                         const uint8_t *req, size_t len, uint64_t timeout_ms,
                         const cpc_rpc_client_callbacks *cb, void *ud,
                         cpc_rpc_client_call **out) {
  cpc_rpc_client_call *call;
  int rc;
  if (!req && len)
    return CPC_EINVAL;
  rc = call_create(cl, path, CPC_RPC_UNARY, md, n_md, timeout_ms, cb, ud,
                   &call);
  if (rc != 0)
    return rc;
  if (len > cl->cfg.max_send_message) {
    call_destroy(call);
    return CPC_ETOOBIG;
  }
  rc = buffer_message(call, req, len);
  if (rc != 0) {
    call_destroy(call);
    return rc;
  }
  call->send_closed = 1;
  if (out)
    *out = call;
  call_launch(call);
  return 0;
}

/* The data source: framed messages from the send buffer, END_STREAM once
 * it is empty and the send side is closed. */
static ssize_t read_data(nghttp2_session *h2, int32_t stream_id, uint8_t *buf,
                         size_t length, uint32_t *data_flags,
                         nghttp2_data_source *source, void *ud) {
  cpc_rpc_client_call *call = nghttp2_session_get_stream_user_data(h2, stream_id);
  size_t pending, n;
  (void)source;
  (void)ud;
  if (!call)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* freed: reset */
  if (call->state == CPC__CCALL_ENDED)
    return NGHTTP2_ERR_DEFERRED; /* its RST_STREAM is queued */
  pending = call->out_len - call->out_off;
  n = pending < length ? pending : length;
  if (n) {
    memcpy(buf, call->out + call->out_off, n);
    call->out_off += n;
    if (call->out_off == call->out_len)
      call->out_off = call->out_len = 0;
  }
  if (call->want_writable &&
      call->out_len - call->out_off < call->cl->cfg.call_send_buffer) {
    call->want_writable = 0;
    cpc__rpc_cconn_notify_writable(call->conn, call);
  }
  if (call->out_len == call->out_off) {
    if (call->send_closed)
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    else if (n == 0)
      return NGHTTP2_ERR_DEFERRED;
  }
  return (ssize_t)n;
}

/* ---- the request on the wire ---------------------------------------------- */

static nghttp2_nv make_nv(const char *name, const char *value) {
  nghttp2_nv nv;
  nv.name = (uint8_t *)(uintptr_t)name;
  nv.namelen = strlen(name);
  nv.value = (uint8_t *)(uintptr_t)value;
  nv.valuelen = strlen(value);
  nv.flags = NGHTTP2_NV_FLAG_NONE;
  return nv;
}

/* grpc-timeout for ms milliseconds: at most 8 digits, rounding up. */
static void format_timeout(uint64_t ms, char *out, size_t cap) {
  if (ms < 100000000u)
    snprintf(out, cap, "%lum", (unsigned long)ms);
  else if (ms / 1000u < 100000000u)
    snprintf(out, cap, "%luS", (unsigned long)((ms + 999u) / 1000u));
  else if (ms / 3600000u < 100000000u)
    snprintf(out, cap, "%luH", (unsigned long)((ms + 3599999u) / 3600000u));
  else
    snprintf(out, cap, "99999999H");
}

static void pend_push_front(cpc_rpc_client *cl, cpc_rpc_client_call *call) {
  call->q_prev = NULL;
  call->q_next = cl->pend;
  if (cl->pend)
    cl->pend->q_prev = call;
  else
    cl->pend_tail = call;
  cl->pend = call;
  call->state = CPC__CCALL_PENDING;
}

int cpc__rpc_ccall_submit(cpc_rpc_client_call *call, cpc__rpc_cconn *c) {
  cpc_rpc_client *cl = call->cl;
  nghttp2_nv *nva;
  nghttp2_data_provider prd;
  char timeout[24];
  const char *p;
  size_t n = 0, i;
  uint64_t now;
  int32_t id;
  cpc__rpc_client_pend_remove(cl, call);
  call->state = CPC__CCALL_ACTIVE;
  if (call->deadline_ms) {
    now = uv_now(cl->loop);
    if (call->deadline_ms <= now) {
      cpc__rpc_ccall_end(call, CPC_RPC_DEADLINE_EXCEEDED, "Deadline Exceeded");
      return 0;
    }
    format_timeout(call->deadline_ms - now, timeout, sizeof timeout);
  }
  nva = malloc((N_FIXED_HEADERS + call->n_req_md) * sizeof *nva);
  if (!nva) {
    cpc__rpc_ccall_end(call, CPC_RPC_RESOURCE_EXHAUSTED, "out of memory");
    return 0;
  }
  nva[n++] = make_nv(":method", "POST");
  nva[n++] = make_nv(":scheme", "http");
  nva[n++] = make_nv(":path", call->req_hdr);
  nva[n++] = make_nv(":authority", cl->authority);
  nva[n++] = make_nv("content-type", "application/grpc");
  nva[n++] = make_nv("te", "trailers");
  nva[n++] = make_nv("user-agent", USER_AGENT);
  if (call->deadline_ms)
    nva[n++] = make_nv("grpc-timeout", timeout);
  p = call->req_hdr + strlen(call->req_hdr) + 1;
  for (i = 0; i < call->n_req_md; i++) {
    const char *name = p, *value = p + strlen(p) + 1;
    nva[n++] = make_nv(name, value);
    p = value + strlen(value) + 1;
  }
  prd.source.ptr = NULL;
  prd.read_callback = read_data;
  id = nghttp2_submit_request(c->h2, NULL, nva, n, &prd, call);
  free(nva);
  if (id == NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE) {
    pend_push_front(cl, call);
    return CPC_EAGAIN;
  }
  if (id < 0) {
    cpc__rpc_ccall_end(call, CPC_RPC_INTERNAL, nghttp2_strerror(id));
    return 0;
  }
  call->stream_id = id;
  call->conn = c;
  call->q_prev = NULL;
  call->q_next = c->calls;
  if (c->calls)
    c->calls->q_prev = call;
  c->calls = call;
  c->n_streams++;
  return 0;
}

/* ---- the end ----------------------------------------------------------------- */

void cpc__rpc_ccall_detach(cpc_rpc_client_call *call) {
  cpc__rpc_cconn *c = call->conn;
  cpc_rpc_client_call **p;
  if (!c)
    return;
  if (call->q_prev)
    call->q_prev->q_next = call->q_next;
  else
    c->calls = call->q_next;
  if (call->q_next)
    call->q_next->q_prev = call->q_prev;
  call->q_prev = call->q_next = NULL;
  if (call->in_notify) {
    for (p = &c->notify; *p; p = &(*p)->notify_next)
      if (*p == call) {
        *p = call->notify_next;
        break;
      }
    call->in_notify = 0;
    call->notify_next = NULL;
  }
  call->conn = NULL;
}

void cpc__rpc_ccall_end(cpc_rpc_client_call *call, int status,
                        const char *message) {
  cpc_rpc_client *cl = call->cl;
  cpc__rpc_cconn *c = call->conn;
  if (call->state == CPC__CCALL_ENDED)
    return;
  if (call->state == CPC__CCALL_PENDING)
    cpc__rpc_client_pend_remove(cl, call);
  call->state = CPC__CCALL_ENDED;
  call->status = status;
  call->message = strdup(message ? message : ""); /* NULL reads as "" */
  call->want_writable = 0;
  cpc__rpc_client_queue_done(cl, call);
  /* A stream still open either way is reset; one both sides ended is
   * closing by itself. */
  if (c && c->h2 && !(call->remote_ended && call->local_ended)) {
    (void)nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, call->stream_id,
                                    NGHTTP2_CANCEL);
    cpc__rpc_cconn_flush(c);
  }
}

void cpc__rpc_ccall_free(cpc_rpc_client_call *call) {
  cpc_rpc_client *cl = call->cl;
  if (call->conn) {
    if (call->conn->h2)
      (void)nghttp2_session_set_stream_user_data(call->conn->h2,
                                                 call->stream_id, NULL);
    cpc__rpc_ccall_detach(call);
  }
  if (call->all_prev)
    call->all_prev->all_next = call->all_next;
  else
    cl->calls = call->all_next;
  if (call->all_next)
    call->all_next->all_prev = call->all_prev;
  else
    cl->calls_tail = call->all_prev;
  call_destroy(call);
}
