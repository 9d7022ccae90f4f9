/*
 * http_int.h: internals shared by the files of lib/http.
 */
#ifndef CPC_HTTP_INT_H
#define CPC_HTTP_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "cpc/http.h"

struct MHD_Connection;

/* --- target.c ------------------------------------------------------------ */

/*
 * Percent-decode in[0..len) into out (at least len + 1 bytes), NUL-
 * terminated; plus_is_space turns '+' into ' ' (query strings). *out_len is
 * the decoded length. CPC_EMALFORMED on a bad escape or a decoded NUL.
 */
int cpc__http_pct_decode(const char *in, size_t len, int plus_is_space,
                         char *out, size_t *out_len);

/* --- listen.c ------------------------------------------------------------ */

/*
 * Parse "A.B.C.D:PORT" or "[IPv6]:PORT" (numeric addresses only) into ss.
 * CPC_EINVAL on anything else.
 */
int cpc__http_parse_listen(const char *text, struct sockaddr_storage *ss,
                           socklen_t *ss_len);

/*
 * Open a non-blocking listening socket on text (IPv6 sockets are v6-only).
 * *fd_out, *port_out (the bound port), *is_v6. CPC_EINVAL (address),
 * CPC_EIO (socket/bind/listen; errno is kept).
 */
int cpc__http_listen(const char *text, unsigned backlog, int *fd_out,
                     uint16_t *port_out, int *is_v6);

/* --- response.c ---------------------------------------------------------- */

struct cpc__http_header {
  char *name;
  char *value;
};

/* The answer a handler (or the server) queued for a request. */
struct cpc__http_response {
  int set;      /* an answer is queued */
  int fallback; /* send the static 500 body (allocation failed) */
  unsigned status;
  char *content_type;
  uint8_t *data; /* malloc'ed, owned */
  size_t len;
  size_t nheaders;
  struct cpc__http_header headers[CPC_HTTP_MAX_RESPONSE_HEADERS];
};

/* Free everything r owns and zero it. */
void cpc__http_response_clear(struct cpc__http_response *r);

/* The static 500 JSON body for answers marked fallback. */
const char *cpc__http_response_fallback(size_t *len);

/* --- the request (server.c fills it) ------------------------------------- */

struct cpc_http_request {
  const struct cpc_http_server *srv;
  struct MHD_Connection *conn;
  char method[CPC_HTTP_MAX_METHOD + 1];
  const char *metric_method; /* GET ... or "OTHER" */
  char *target;              /* raw request-target, NUL-terminated */
  size_t target_len;
  size_t path_len;  /* target[0..path_len) is the path */
  int headers_seen; /* the first access-handler call happened */
  int routed;       /* match is valid */
  cpc_http_match match;
  cpc_http_query query;
  uint8_t *body;
  size_t body_len;
  size_t body_cap;
  int too_large;    /* body went over the cap while reading */
  size_t discarded; /* body bytes dropped after too_large */
  int has_caller;
  cpc_peer_id caller;
  size_t max_json_depth;
  struct timespec start; /* CLOCK_MONOTONIC at the request line */
  struct cpc__http_response resp;
};

/* Clear a request for (re)use: frees its body, target and response. */
void cpc__http_request_release(struct cpc_http_request *req);

/* --- server.c: header lookup, so response.c/request.c need no MHD ------- */

const char *cpc__http_conn_header(struct MHD_Connection *conn,
                                  const char *name);

#endif /* CPC_HTTP_INT_H */
