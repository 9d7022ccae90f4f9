/*
 * server.c: the libmicrohttpd glue: daemon setup, per-request state,
 * routing before the body is read, body accumulation under the cap,
 * authentication, handler dispatch, and answering.
 *
 * Per-request state (struct cpc_http_request) is allocated in the URI-log
 * callback, which libmicrohttpd calls with the request-target exactly as
 * sent, before it decodes anything; it is freed in the request-completed
 * callback. The access handler is called once when the headers are in
 * (route, query and Content-Length are checked then, so 400/404/405/413
 * are answered without reading the body), once per piece of body, and once
 * more at the end, when authentication and the handler run.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "cpc/error.h"
#include "cpc/http.h"
#include "http/http_int.h"

struct cpc_http_server {
  struct MHD_Daemon *daemon;
  const cpc_http_router *router;
  cpc_http_config cfg;
  char *listen;
  cpc_nonce_store *nonces;
  int own_nonces;
  uint16_t port;
};

void cpc_http_config_init(cpc_http_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->listen = "127.0.0.1:0";
  cfg->threads = 4;
  cfg->max_connections = 512;
  cfg->max_per_ip = 64;
  cfg->timeout_s = 30;
  cfg->backlog = 128;
  cfg->max_body = CPC_HTTP_MAX_BODY_DEFAULT;
  cfg->max_header_bytes = 32 * 1024;
  cfg->max_json_depth = CPC_HTTP_MAX_JSON_DEPTH_DEFAULT;
  cfg->auth_window_s = CPC_HTTP_AUTH_WINDOW_DEFAULT;
  cfg->nonce_cap = 262144;
}

const char *cpc__http_conn_header(struct MHD_Connection *conn,
                                  const char *name) {
  return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

static const char *metric_method(const char *m) {
  static const char *const known[] = {"GET",   "HEAD",   "POST",   "PUT",
                                      "PATCH", "DELETE", "OPTIONS"};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strcmp(m, known[i]) == 0)
      return known[i];
  return "OTHER";
}

/* Turn the queued answer into an MHD response and queue it. */
static enum MHD_Result send_answer(struct cpc_http_request *req) {
  struct cpc__http_response *r = &req->resp;
  struct MHD_Response *mr;
  enum MHD_Result ret;

  if (r->fallback) {
    size_t len;
    const char *body = cpc__http_response_fallback(&len);
    mr = MHD_create_response_from_buffer(len, (void *)body,
                                         MHD_RESPMEM_PERSISTENT);
  } else {
    mr =
        MHD_create_response_from_buffer(r->len, r->data, MHD_RESPMEM_MUST_FREE);
    if (mr)
      r->data = NULL; /* MHD frees it now */
  }
  if (!mr)
    return MHD_NO;
  if (r->fallback)
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json");
  else if (r->content_type)
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
  for (size_t i = 0; i < r->nheaders; i++)
    MHD_add_response_header(mr, r->headers[i].name, r->headers[i].value);
  ret = MHD_queue_response(req->conn, r->status, mr);
  MHD_destroy_response(mr);
  return ret;
}

/* Route and check what can be checked before the body: may queue an answer
 * (400, 404, 405, 413) in req->resp. */
static void prepare(const struct cpc_http_server *srv,
                    struct cpc_http_request *req) {
  const char *q, *cl;
  int rc;

  if (!req->target) {
    cpc_http_respond_error(req, 400, "bad_request",
                           "the request target is over %d bytes",
                           CPC_HTTP_MAX_TARGET);
    return;
  }
  q = memchr(req->target, '?', req->target_len);
  req->path_len = q ? (size_t)(q - req->target) : req->target_len;
  if (q) {
    rc = cpc_http_query_parse(q + 1, req->target_len - req->path_len - 1,
                              &req->query);
    if (rc != 0) {
      cpc_http_respond_error(req, 400, "bad_request", "%s",
                             rc == CPC_ETOOBIG
                                 ? "the query string is over its caps"
                                 : "the query string is malformed");
      return;
    }
  }
  rc = cpc_http_router_match(srv->router, req->method, req->target,
                             req->path_len, &req->match);
  if (rc == CPC_ENOENT) {
    if (req->match.allow[0]) {
      cpc_http_response_header(req, "Allow", req->match.allow);
      cpc_http_respond_error(req, 405, "method_not_allowed",
                             "method %s is not allowed here; allowed: %s",
                             req->method, req->match.allow);
    } else {
      cpc_http_respond_error(req, 404, "not_found", "no such resource");
    }
    return;
  }
  if (rc != 0) {
    cpc_http_respond_error(req, 400, "bad_request",
                           "the request path is malformed or over its caps");
    return;
  }
  req->routed = 1;
  cl = cpc__http_conn_header(req->conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (cl) {
    char *end;
    unsigned long long n;
    errno = 0;
    n = strtoull(cl, &end, 10);
    if (errno == 0 && end != cl && n > srv->cfg.max_body) {
      /* Up to twice the cap the body is read and discarded, then 413 is
       * answered: a client still uploading would otherwise see its
       * connection closed under it before it reads the answer. */
      if (n <= 2 * (unsigned long long)srv->cfg.max_body) {
        req->too_large = 1;
        return;
      }
      cpc_http_respond_error(req, 413, "too_large",
                             "the request body is over %zu bytes",
                             srv->cfg.max_body);
      return;
    }
  }
}

/* 1 if the request announces a body (Content-Length > 0 or chunked). */
static int expects_body(struct MHD_Connection *conn) {
  const char *cl = cpc__http_conn_header(conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (cpc__http_conn_header(conn, MHD_HTTP_HEADER_TRANSFER_ENCODING))
    return 1;
  return cl && strspn(cl, "0") != strlen(cl);
}

/* Append a piece of body; 0, or CPC_ETOOBIG over the cap, CPC_ENOMEM. */
static int body_append(const struct cpc_http_server *srv,
                       struct cpc_http_request *req, const char *data,
                       size_t len) {
  if (len > srv->cfg.max_body - req->body_len)
    return CPC_ETOOBIG;
  if (req->body_len + len > req->body_cap) {
    size_t ncap = req->body_cap ? req->body_cap : 4096;
    uint8_t *n;
    while (ncap < req->body_len + len)
      ncap *= 2;
    if (ncap > srv->cfg.max_body)
      ncap = srv->cfg.max_body;
    n = realloc(req->body, ncap);
    if (!n)
      return CPC_ENOMEM;
    req->body = n;
    req->body_cap = ncap;
  }
  memcpy(req->body + req->body_len, data, len);
  req->body_len += len;
  return 0;
}

/* Authenticate (per the route's mode); 0 to go on, else an answer is
 * queued. */
static int authenticate(const struct cpc_http_server *srv,
                        struct cpc_http_request *req) {
  cpc_http_auth_input in;
  cpc_http_auth_error err;
  int rc;

  if (req->match.auth == CPC_HTTP_AUTH_NONE)
    return 0;
  memset(&in, 0, sizeof in);
  in.signature = cpc__http_conn_header(req->conn, CPC_HTTP_HDR_SIGNATURE);
  if (req->match.auth == CPC_HTTP_AUTH_OPTIONAL && !in.signature)
    return 0;
  in.method = req->method;
  in.target = req->target;
  in.target_len = req->target_len;
  in.body = req->body;
  in.body_len = req->body_len;
  in.peer_id = cpc__http_conn_header(req->conn, CPC_HTTP_HDR_PEER_ID);
  in.timestamp = cpc__http_conn_header(req->conn, CPC_HTTP_HDR_TIMESTAMP);
  in.nonce = cpc__http_conn_header(req->conn, CPC_HTTP_HDR_NONCE);
  rc = cpc_http_auth_verify(&in, (int64_t)time(NULL), srv->cfg.auth_window_s,
                            srv->nonces, &req->caller, &err);
  if (rc == 0) {
    req->has_caller = 1;
    return 0;
  }
  if (strcmp(err.code, "unavailable") == 0) {
    cpc_http_response_header(req, "Retry-After", "1");
    cpc_http_respond_error(req, 503, err.code, "%s", err.message);
  } else {
    cpc_http_response_header(req, "WWW-Authenticate", "CPC-REQUEST-V1");
    cpc_http_respond_error(req, 401, err.code, "%s", err.message);
  }
  return rc;
}

static void dispatch(const struct cpc_http_server *srv,
                     struct cpc_http_request *req) {
  if (authenticate(srv, req) != 0)
    return;
  req->match.handler(req, req->match.ctx);
  if (!req->resp.set) {
    cpc__http_response_clear(&req->resp); /* headers of a half answer */
    cpc_http_respond_error(req, 500, "internal", "internal error");
  }
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
  struct cpc_http_server *srv = cls;
  struct cpc_http_request *req = calloc(1, sizeof *req);
  size_t len;

  if (!req)
    return NULL;
  clock_gettime(CLOCK_MONOTONIC, &req->start);
  req->srv = srv;
  req->conn = conn;
  req->max_json_depth = srv->cfg.max_json_depth;
  req->metric_method = "OTHER";
  len = strnlen(uri, CPC_HTTP_MAX_TARGET + 1);
  if (len <= CPC_HTTP_MAX_TARGET) {
    req->target = strndup(uri, len);
    req->target_len = len;
    /* On allocation failure target stays NULL: answered 400 over cap,
     * which is wrong but harmless (and needs 8 KiB to be unavailable). */
  }
  return req;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls) {
  struct cpc_http_server *srv = cls;
  struct cpc_http_request *req = *con_cls;
  int rc;

  if (!req)
    return MHD_NO; /* the URI callback could not allocate: drop */
  if (req->resp.set && (req->headers_seen > 1)) {
    /* Answered early (before the body): swallow what still comes. */
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (!req->headers_seen) {
    req->headers_seen = 1;
    req->conn = conn;
    if (strlen(method) <= CPC_HTTP_MAX_METHOD)
      strcpy(req->method, method);
    req->metric_method = metric_method(req->method);
    prepare(srv, req);
    /* An answer queued now makes libmicrohttpd skip the body and close the
     * connection after it; without a body there is nothing to skip, so
     * the answer waits for the final call and the connection stays open. */
    if (req->resp.set && expects_body(conn)) {
      req->headers_seen = 2;
      return send_answer(req);
    }
    return MHD_YES;
  }
  if (*upload_data_size) {
    if (req->too_large) {
      /* Over the cap: libmicrohttpd cannot answer in the middle of a body,
       * so the rest is discarded and 413 answered at its end; a body that
       * goes on past twice the cap gets the connection closed instead. */
      req->discarded += *upload_data_size;
      *upload_data_size = 0;
      return req->discarded > 2 * srv->cfg.max_body ? MHD_NO : MHD_YES;
    }
    rc = body_append(srv, req, upload_data, *upload_data_size);
    *upload_data_size = 0;
    if (rc == CPC_ETOOBIG)
      req->too_large = 1;
    else if (rc != 0)
      return MHD_NO; /* out of memory: drop the connection */
    return MHD_YES;
  }
  if (req->resp.set) { /* answered by prepare(), no body */
    req->headers_seen = 2;
    return send_answer(req);
  }
  if (req->too_large) {
    cpc_http_respond_error(req, 413, "too_large",
                           "the request body is over %zu bytes",
                           srv->cfg.max_body);
    req->headers_seen = 2;
    return send_answer(req);
  }
  dispatch(srv, req);
  req->headers_seen = 2;
  return send_answer(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  struct cpc_http_server *srv = cls;
  struct cpc_http_request *req = *con_cls;

  if (!req)
    return;
  if (req->resp.set && srv->cfg.on_request_done) {
    struct timespec now;
    double d;
    clock_gettime(CLOCK_MONOTONIC, &now);
    d = (double)(now.tv_sec - req->start.tv_sec) +
        (double)(now.tv_nsec - req->start.tv_nsec) / 1e9;
    srv->cfg.on_request_done(srv->cfg.on_request_done_ctx,
                             req->routed ? req->match.pattern : NULL,
                             req->metric_method, req->resp.status, d);
  }
  cpc__http_request_release(req);
  free(req);
  *con_cls = NULL;
}

int cpc_http_server_start(const cpc_http_config *cfg,
                          const cpc_http_router *router,
                          cpc_http_server **out) {
  struct cpc_http_server *srv;
  unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
  int fd = -1, v6 = 0, rc;

  *out = NULL;
  if (!cfg || !router || cfg->threads == 0 || cfg->threads > 256 ||
      cfg->max_body == 0 || cfg->max_connections == 0 ||
      cfg->max_header_bytes < 4096)
    return CPC_EINVAL;
  srv = calloc(1, sizeof *srv);
  if (!srv)
    return CPC_ENOMEM;
  srv->cfg = *cfg;
  srv->router = router;
  srv->listen = strdup(cfg->listen ? cfg->listen : "");
  if (!srv->listen) {
    rc = CPC_ENOMEM;
    goto fail;
  }
  srv->cfg.listen = srv->listen;
  if (cfg->nonces) {
    srv->nonces = cfg->nonces;
  } else {
    rc = cpc_nonce_store_memory_new(cfg->nonce_cap, &srv->nonces);
    if (rc != 0)
      goto fail;
    srv->own_nonces = 1;
  }
  rc = cpc__http_listen(srv->listen, cfg->backlog, &fd, &srv->port, &v6);
  if (rc != 0)
    goto fail;
  if (v6)
    flags |= MHD_USE_IPv6;
  /* Options a thread pool of 1 does not take are simply left at 0. */
  srv->daemon = MHD_start_daemon(
      flags, 0, NULL, NULL, on_access, srv, MHD_OPTION_LISTEN_SOCKET, fd,
      MHD_OPTION_THREAD_POOL_SIZE,
      (unsigned int)(cfg->threads > 1 ? cfg->threads : 0),
      MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_per_ip,
      MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout_s,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->max_header_bytes,
      MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv, MHD_OPTION_NOTIFY_COMPLETED,
      on_completed, srv, MHD_OPTION_END);
  if (!srv->daemon) {
    /* libmicrohttpd closes the listen socket it was given on most of its
     * failure paths (all but argument checks, which ours pass): not
     * closed here, to avoid a double close. */
    rc = CPC_ESTATE;
    goto fail;
  }
  *out = srv;
  return 0;
fail:
  if (srv->own_nonces)
    cpc_nonce_store_free(srv->nonces);
  free(srv->listen);
  free(srv);
  return rc;
}

uint16_t cpc_http_server_port(const cpc_http_server *srv) {
  return srv->port;
}

void cpc_http_server_stop(cpc_http_server *srv) {
  if (!srv)
    return;
  if (srv->daemon)
    MHD_stop_daemon(srv->daemon); /* joins the threads, closes the socket */
  if (srv->own_nonces)
    cpc_nonce_store_free(srv->nonces);
  free(srv->listen);
  free(srv);
}
