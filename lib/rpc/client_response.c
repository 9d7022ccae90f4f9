/*
 * client_response.c: the server's side of a gRPC client call: response
 * headers and trailers (kept, capped at cfg.max_header_list per block),
 * response messages (deframed, capped at cfg.max_recv_message, handed to
 * on_message), and the final status: grpc-status / grpc-message, or one
 * derived from the HTTP status, the HTTP/2 error code or a broken
 * response (grpc/grpc doc/PROTOCOL-HTTP2.md, doc/http-grpc-status-mapping.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/rpc_client.h"
#include "rpc/client_int.h"

static const char GRPC_CONTENT_TYPE[] = "application/grpc";

static int single_response(const cpc_rpc_client_call *call) {
  return call->kind == CPC_RPC_UNARY || call->kind == CPC_RPC_CLIENT_STREAM;
}

/* ---- header storage ----------------------------------------------------- */

static int arena_add(cpc_rpc_client_call *call, const uint8_t *s, size_t n,
                     size_t *off) {
  size_t need = call->md_len + n + 1, cap;
  char *p;
  if (need > call->md_cap) {
    cap = call->md_cap ? call->md_cap : 512;
    while (cap < need)
      cap *= 2;
    p = realloc(call->md, cap);
    if (!p)
      return CPC_ENOMEM;
    call->md = p;
    call->md_cap = cap;
  }
  *off = call->md_len;
  if (n)
    memcpy(call->md + call->md_len, s, n);
  call->md[call->md_len + n] = '\0';
  call->md_len = need;
  return 0;
}

/* The first value of name among the entries from index first on. */
static const char *md_find_from(const cpc_rpc_client_call *call, size_t first,
                                const char *name) {
  size_t i;
  for (i = first; i < call->md_n; i++)
    if (strcmp(call->md + call->mdi[i].name, name) == 0)
      return call->md + call->mdi[i].value;
  return NULL;
}

const char *cpc_rpc_client_call_metadata(const cpc_rpc_client_call *call,
                                         const char *name) {
  return call && name ? md_find_from(call, 0, name) : NULL;
}

void cpc__rpc_ccall_begin_headers(cpc_rpc_client_call *call) {
  call->blk_first = call->md_n;
  call->blk_bytes = 0;
}

void cpc__rpc_ccall_header(cpc_rpc_client_call *call, const uint8_t *name,
                           size_t namelen, const uint8_t *value,
                           size_t valuelen) {
  size_t limit = call->cl->cfg.max_header_list;
  size_t bytes = namelen + valuelen + CPC__RPC_CLIENT_HDR_OVERHEAD;
  cpc__rpc_cmd *e;
  char text[96];
  if (call->state == CPC__CCALL_ENDED)
    return;
  if (bytes > limit || call->blk_bytes > limit - bytes) {
    snprintf(text, sizeof text, "response header list larger than %zu bytes",
             limit);
    cpc__rpc_ccall_end(call, CPC_RPC_RESOURCE_EXHAUSTED, text);
    return;
  }
  call->blk_bytes += bytes;
  if (call->md_n == call->md_cap_n) {
    size_t cap = call->md_cap_n ? call->md_cap_n * 2 : 16;
    e = realloc(call->mdi, cap * sizeof *e);
    if (!e)
      goto nomem;
    call->mdi = e;
    call->md_cap_n = cap;
  }
  e = &call->mdi[call->md_n];
  if (arena_add(call, name, namelen, &e->name) != 0 ||
      arena_add(call, value, valuelen, &e->value) != 0)
    goto nomem;
  call->md_n++;
  return;
nomem:
  cpc__rpc_ccall_end(call, CPC_RPC_RESOURCE_EXHAUSTED, "out of memory");
}

/* ---- the final status ------------------------------------------------------- */

/* doc/http-grpc-status-mapping.md */
static int status_from_http(int http) {
  switch (http) {
  case 400: return CPC_RPC_INTERNAL;
  case 401: return CPC_RPC_UNAUTHENTICATED;
  case 403: return CPC_RPC_PERMISSION_DENIED;
  case 404: return CPC_RPC_UNIMPLEMENTED;
  case 429:
  case 502:
  case 503:
  case 504: return CPC_RPC_UNAVAILABLE;
  default: return CPC_RPC_UNKNOWN;
  }
}

/* grpc-status: 1*DIGIT; codes outside 0..16 are UNKNOWN, as is junk. */
static int parse_grpc_status(const char *v) {
  unsigned long code = 0;
  size_t i, len = strlen(v);
  if (len == 0 || len > 9)
    return CPC_RPC_UNKNOWN;
  for (i = 0; i < len; i++) {
    if (v[i] < '0' || v[i] > '9')
      return CPC_RPC_UNKNOWN;
    code = code * 10 + (unsigned long)(v[i] - '0');
  }
  return code <= CPC_RPC_UNAUTHENTICATED ? (int)code : CPC_RPC_UNKNOWN;
}

static int parse_http_status(const char *v) {
  if (!v || strlen(v) != 3 || v[0] < '1' || v[0] > '5' || v[1] < '0' ||
      v[1] > '9' || v[2] < '0' || v[2] > '9')
    return -1;
  return (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
}

static int grpc_content_type(const char *ct) {
  size_t n = sizeof GRPC_CONTENT_TYPE - 1;
  return ct && strncmp(ct, GRPC_CONTENT_TYPE, n) == 0 &&
         (ct[n] == '\0' || ct[n] == '+' || ct[n] == ';');
}

/* The server ended the stream; trailers: the last header block has them
 * (0 when it ended with DATA). */
static void resolve(cpc_rpc_client_call *call, int trailers) {
  const char *gs = NULL, *gm = NULL;
  uint8_t *decoded = NULL;
  char text[96];
  int status;
  size_t len;
  call->remote_ended = 1;
  if (trailers) {
    gs = md_find_from(call, call->blk_first, "grpc-status");
    gm = md_find_from(call, call->blk_first, "grpc-message");
  }
  if (call->http_status != 200 && !gs) {
    snprintf(text, sizeof text, "HTTP status %d", call->http_status);
    cpc__rpc_ccall_end(call, status_from_http(call->http_status), text);
    return;
  }
  if (!trailers) {
    cpc__rpc_ccall_end(call, CPC_RPC_INTERNAL,
                       "the response ended without trailers");
    return;
  }
  if (!gs) {
    cpc__rpc_ccall_end(call, CPC_RPC_INTERNAL, "trailers without grpc-status");
    return;
  }
  status = parse_grpc_status(gs);
  if (status == CPC_RPC_OK && !cpc_rpc_deframer_idle(&call->rx)) {
    cpc__rpc_ccall_end(call, CPC_RPC_INTERNAL,
                       "the response ended inside a message");
    return;
  }
  if (status == CPC_RPC_OK && single_response(call) && call->recv_msgs != 1) {
    cpc__rpc_ccall_end(call, CPC_RPC_INTERNAL,
                       "a unary response without a message");
    return;
  }
  if (gm) {
    len = strlen(gm);
    decoded = malloc(len + 1);
    if (decoded && cpc_rpc_percent_decode(gm, len, decoded, len + 1, NULL) != 0) {
      free(decoded);
      decoded = NULL;
    }
  }
  cpc__rpc_ccall_end(call, status, decoded ? (const char *)decoded : "");
  free(decoded);
}

void cpc__rpc_ccall_headers_done(cpc_rpc_client_call *call, int end_stream) {
  const char *ct;
  char text[160];
  int code;
  if (call->state == CPC__CCALL_ENDED)
    return;
  if (!call->got_headers) {
    code = parse_http_status(md_find_from(call, call->blk_first, ":status"));
    if (code < 0) {
      cpc__rpc_ccall_end(call, CPC_RPC_INTERNAL,
                         "response headers without a valid :status");
      return;
    }
    if (code < 200) { /* informational: forget it, wait for the real one */
      call->md_n = call->blk_first;
      return;
    }
    call->got_headers = 1;
    call->http_status = code;
    ct = md_find_from(call, call->blk_first, "content-type");
    if (code == 200 && !grpc_content_type(ct) &&
        !(end_stream && md_find_from(call, call->blk_first, "grpc-status"))) {
      snprintf(text, sizeof text, "response content-type is not %s: %.100s",
               GRPC_CONTENT_TYPE, ct ? ct : "(none)");
      cpc__rpc_ccall_end(call, CPC_RPC_INTERNAL, text);
      return;
    }
    if (!end_stream)
      return;
    /* Trailers-Only, or an HTTP error with no body. */
  } else if (!end_stream) {
    cpc__rpc_ccall_end(call, CPC_RPC_INTERNAL,
                       "a second header block that does not end the stream");
    return;
  }
  resolve(call, 1);
}

void cpc__rpc_ccall_remote_end(cpc_rpc_client_call *call) {
  if (call->state == CPC__CCALL_ENDED)
    return;
  resolve(call, 0);
}

/* ---- messages ---------------------------------------------------------------- */

void cpc__rpc_ccall_data(cpc_rpc_client_call *call, const uint8_t *data,
                         size_t len) {
  const uint8_t *msg;
  size_t used, msg_len, off = 0;
  int rc, compressed;
  char text[96];
  /* The body of a non-200 answer is not gRPC: it is dropped. */
  if (call->http_status != 200)
    return;
  while (off < len && call->state != CPC__CCALL_ENDED) {
    rc = cpc_rpc_deframer_feed(&call->rx, data + off, len - off, &used, &msg,
                               &msg_len, &compressed);
    off += used;
    if (rc == CPC_ETOOBIG) {
      snprintf(text, sizeof text,
               "received message larger than max (%zu bytes)",
               call->rx.max_message);
      cpc__rpc_ccall_end(call, CPC_RPC_RESOURCE_EXHAUSTED, text);
      return;
    }
    if (rc == CPC_EMALFORMED) {
      cpc__rpc_ccall_end(call, CPC_RPC_INTERNAL, "bad message framing");
      return;
    }
    if (rc < 0) {
      cpc__rpc_ccall_end(call, CPC_RPC_RESOURCE_EXHAUSTED, "out of memory");
      return;
    }
    if (rc == 0)
      continue;
    if (compressed) {
      cpc__rpc_ccall_end(call, CPC_RPC_INTERNAL,
                         "a compressed message, but no compression was "
                         "negotiated");
      return;
    }
    if (single_response(call) && call->recv_msgs > 0) {
      cpc__rpc_ccall_end(call, CPC_RPC_INTERNAL,
                         "more than one message in a unary response");
      return;
    }
    call->recv_msgs++;
    if (call->cb.on_message)
      call->cb.on_message(call, msg, msg_len, call->ud);
  }
}

/* ---- resets -------------------------------------------------------------------- */

/* doc/PROTOCOL-HTTP2.md, "Errors": HTTP/2 codes to gRPC statuses. */
static int status_from_h2(uint32_t code) {
  switch (code) {
  case NGHTTP2_REFUSED_STREAM: return CPC_RPC_UNAVAILABLE;
  case NGHTTP2_CANCEL: return CPC_RPC_CANCELLED;
  case NGHTTP2_ENHANCE_YOUR_CALM: return CPC_RPC_RESOURCE_EXHAUSTED;
  case NGHTTP2_INADEQUATE_SECURITY: return CPC_RPC_PERMISSION_DENIED;
  default: return CPC_RPC_INTERNAL;
  }
}

void cpc__rpc_ccall_stream_closed(cpc_rpc_client_call *call, uint32_t code) {
  char text[96];
  cpc__rpc_ccall_detach(call);
  if (call->state == CPC__CCALL_ENDED)
    return;
  if (code == NGHTTP2_REFUSED_STREAM)
    snprintf(text, sizeof text, "the server refused the stream (GOAWAY)");
  else
    snprintf(text, sizeof text, "stream closed: %s",
             nghttp2_http2_strerror(code));
  cpc__rpc_ccall_end(call, status_from_h2(code), text);
}
