/*
 * api.c: the PDS's local HTTP API (docs/pds-api.md) on libmicrohttpd, one
 * thread per connection (handlers block: they stream uploads through the
 * pipeline and wait for blocks). Every route but /healthz and /metrics
 * needs "Authorization: Bearer <token>" with the token of DATA/api-token.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>

#include "cpc/error.h"
#include "pds/api_int.h"

static int healthz(cpc__pds_req *r) {
  return cpc__pds_reply_json(
      r, 200,
      json_pack("{s:s, s:s, s:b}", "status", "ok", "peer_id", r->p->peer_id,
                "orchestrator_reachable",
                atomic_load(&r->p->orch_reachable)));
}

static int metrics(cpc__pds_req *r) {
  const char *accept =
      MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Accept");
  enum cpc_metrics_format fmt = cpc_metrics_negotiate(accept);
  char *text = NULL;
  size_t len = 0;
  int rc = cpc_metrics_render(r->p->metrics, fmt, &text, &len);
  if (rc != 0)
    return cpc__pds_reply_error(r, 500, "internal", "%s", cpc_strerror(rc));
  rc = cpc__pds_reply(r, 200, cpc_metrics_content_type(fmt), text, len);
  free(text);
  return rc;
}

static const cpc__pds_route ROUTES[] = {
    {"GET", "/healthz", CPC__PDS_ROUTE_NOAUTH, NULL, healthz},
    {"GET", "/metrics", CPC__PDS_ROUTE_NOAUTH, NULL, metrics},
    {"POST", "/v1/content", CPC__PDS_ROUTE_UPLOAD, cpc__pds_api_put_begin,
     cpc__pds_api_put},
    {"GET", "/v1/content", 0, NULL, cpc__pds_api_ls},
    {"GET", "/v1/content/*", 0, NULL, cpc__pds_api_get},
    {"DELETE", "/v1/content/*", 0, NULL, cpc__pds_api_rm},
    {"GET", "/v1/status", 0, NULL, cpc__pds_api_status},
    {"PUT", "/v1/following/*", 0, NULL, cpc__pds_api_follow},
    {"DELETE", "/v1/following/*", 0, NULL, cpc__pds_api_unfollow},
    {"GET", "/v1/following", 0, NULL, cpc__pds_api_following},
    {"GET", "/v1/followers", 0, NULL, cpc__pds_api_followers},
    {"GET", "/v1/profile", 0, NULL, cpc__pds_api_profile_get},
    {"PUT", "/v1/profile", 0, NULL, cpc__pds_api_profile_put},
    {"GET", "/v1/search", 0, NULL, cpc__pds_api_search},
};

const char *cpc__pds_access_name(enum cpc_access_control a) {
  return a == CPC_ACCESS_PUBLIC           ? "public"
         : a == CPC_ACCESS_FOLLOWERS_ONLY ? "followers"
                                          : "private";
}

int cpc__pds_access_parse(const char *s, enum cpc_access_control *a) {
  if (strcmp(s, "public") == 0)
    *a = CPC_ACCESS_PUBLIC;
  else if (strcmp(s, "followers") == 0 || strcmp(s, "followers_only") == 0)
    *a = CPC_ACCESS_FOLLOWERS_ONLY;
  else if (strcmp(s, "private") == 0)
    *a = CPC_ACCESS_PRIVATE;
  else
    return CPC_EINVAL;
  return 0;
}

const char *cpc__pds_state_name(int state) {
  switch (state) {
  case CPC__PDS_QUEUED:
    return "queued";
  case CPC__PDS_REGISTERED:
    return "registered";
  case CPC__PDS_DELETING:
    return "deleting";
  default:
    return "refused";
  }
}

static int queue(cpc__pds_req *r, unsigned status, struct MHD_Response *resp) {
  enum MHD_Result ok;
  if (!resp)
    return CPC_ENOMEM;
  ok = MHD_queue_response(r->conn, status, resp);
  MHD_destroy_response(resp);
  r->responded = 1;
  return ok == MHD_YES ? 0 : CPC_EIO;
}

int cpc__pds_reply(cpc__pds_req *r, unsigned status, const char *ctype,
                   const void *data, size_t len) {
  struct MHD_Response *resp;
  if (r->responded)
    return CPC_ESTATE;
  resp = MHD_create_response_from_buffer(len, (void *)(uintptr_t)data,
                                         MHD_RESPMEM_MUST_COPY);
  if (resp && ctype)
    MHD_add_response_header(resp, "Content-Type", ctype);
  atomic_fetch_add(&r->p->api_out, len);
  return queue(r, status, resp);
}

int cpc__pds_reply_json(cpc__pds_req *r, unsigned status, json_t *body) {
  char *text;
  int rc;
  if (!body)
    return cpc__pds_reply_error(r, 500, "internal", "out of memory");
  text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  if (!text)
    return cpc__pds_reply_error(r, 500, "internal", "out of memory");
  rc = cpc__pds_reply(r, status, "application/json", text, strlen(text));
  free(text);
  return rc;
}

int cpc__pds_reply_error(cpc__pds_req *r, unsigned status, const char *code,
                         const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return cpc__pds_reply_json(
      r, status,
      json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

const char *cpc__pds_query(cpc__pds_req *r, const char *name) {
  return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

json_t *cpc__pds_body_json(cpc__pds_req *r) {
  json_error_t je;
  json_t *j;
  if (r->body_too_big) {
    cpc__pds_reply_error(r, 413, "too_large", "the body is over %u bytes",
                         CPC__PDS_API_MAX_BODY);
    return NULL;
  }
  j = json_loadb(r->body ? r->body : "", r->body_len, JSON_REJECT_DUPLICATES,
                 &je);
  if (!j || !json_is_object(j)) {
    cpc__pds_reply_error(r, 400, "malformed_json",
                         "the body must be one JSON object (%s)",
                         j ? "not an object" : je.text);
    json_decref(j);
    return NULL;
  }
  return j;
}

int cpc__pds_api_relay(cpc__pds_req *r, int rc, long status, json_t *ans,
                       const char *err) {
  if (rc != 0) {
    json_decref(ans);
    return cpc__pds_reply_error(
        r, 503, "orchestrator_unreachable",
        "%s: this needs the orchestrator; try again when it is back", err);
  }
  if (status == 204) {
    json_decref(ans);
    return cpc__pds_reply(r, 204, NULL, NULL, 0);
  }
  if (!ans)
    ans = json_object();
  return cpc__pds_reply_json(r, (unsigned)status, ans);
}

/* Match path against a pattern; fills r->seg with the '*' segments. */
static int match(cpc__pds_req *r, const char *pattern, const char *path) {
  r->n_seg = 0;
  while (*pattern && *path) {
    if (*pattern != '/' || *path != '/')
      return 0;
    pattern++;
    path++;
    if (*pattern == '*') {
      size_t n = strcspn(path, "/");
      if (n == 0 || n >= CPC__PDS_API_SEG_LEN ||
          r->n_seg == CPC__PDS_API_MAX_SEG)
        return 0;
      memcpy(r->seg[r->n_seg], path, n);
      r->seg[r->n_seg++][n] = '\0';
      pattern++;
      path += n;
    } else {
      size_t n = strcspn(pattern, "/");
      if (strncmp(pattern, path, n) != 0 || (path[n] != '/' && path[n]))
        return 0;
      pattern += n;
      path += n;
    }
  }
  return *pattern == '\0' && *path == '\0';
}

static int authorised(cpc__pds_req *r) {
  const char *h =
      MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
  size_t tl = strlen(r->p->token);
  if (!h || strncmp(h, "Bearer ", 7) != 0)
    return 0;
  h += 7;
  return strlen(h) == tl && sodium_memcmp(h, r->p->token, tl) == 0;
}

/* Route the request; answers 401/404/405 itself. */
static void route(cpc__pds_req *r, const char *url) {
  size_t i;
  int path_found = 0;
  for (i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++) {
    if (!match(r, ROUTES[i].pattern, url))
      continue;
    path_found = 1;
    if (strcmp(ROUTES[i].method, r->method) == 0 ||
        (strcmp(r->method, "HEAD") == 0 &&
         strcmp(ROUTES[i].method, "GET") == 0)) {
      r->route = &ROUTES[i];
      break;
    }
  }
  if (!r->route) {
    if (path_found)
      cpc__pds_reply_error(r, 405, "method_not_allowed",
                           "%s is not allowed on %s", r->method, url);
    else
      cpc__pds_reply_error(r, 404, "not_found",
                           "no such endpoint %s (see docs/pds-api.md)", url);
    return;
  }
  match(r, r->route->pattern, url);
  if (!(r->route->flags & CPC__PDS_ROUTE_NOAUTH) && !authorised(r)) {
    cpc__pds_reply_error(r, 401, "unauthorized",
                         "send Authorization: Bearer <token>, the token in "
                         "the PDS data directory's api-token file");
    r->route = NULL;
  }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *data,
                                  size_t *data_size, void **con_cls) {
  cpc_pds *p = cls;
  cpc__pds_req *r = *con_cls;
  (void)version;

  if (!r) {
    r = calloc(1, sizeof *r);
    if (!r)
      return MHD_NO;
    r->p = p;
    r->conn = conn;
    r->method = method;
    *con_cls = r;
    route(r, url);
    if (r->route && r->route->begin)
      r->route->begin(r);
    return MHD_YES;
  }
  if (*data_size > 0) {
    atomic_fetch_add(&p->api_in, *data_size);
    if (r->route && !r->responded) {
      if (r->route->flags & CPC__PDS_ROUTE_UPLOAD) {
        if (r->upload)
          cpc__pds_upload_data(r->upload, data, *data_size);
        r->uploaded += *data_size;
      } else if (r->body_len + *data_size > CPC__PDS_API_MAX_BODY) {
        r->body_too_big = 1;
      } else {
        char *nb = realloc(r->body, r->body_len + *data_size + 1);
        if (nb) {
          memcpy(nb + r->body_len, data, *data_size);
          r->body = nb;
          r->body_len += *data_size;
          r->body[r->body_len] = '\0';
        }
      }
    }
    *data_size = 0;
    return MHD_YES;
  }
  if (r->responded || !r->route)
    return MHD_YES;
  r->conn = conn;
  r->route->run(r);
  if (!r->responded)
    cpc__pds_reply_error(r, 500, "internal", "the handler did not answer");
  return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn,
                         void **con_cls, enum MHD_RequestTerminationCode toe) {
  cpc__pds_req *r = *con_cls;
  (void)cls;
  (void)conn;
  (void)toe;
  if (!r)
    return;
  cpc__pds_upload_free(r->upload);
  free(r->body);
  free(r);
  *con_cls = NULL;
}

/* "A.B.C.D:PORT" or "[::1]:PORT" into ss. */
static int parse_listen(const char *s, struct sockaddr_storage *ss) {
  char host[64];
  const char *colon = strrchr(s, ':');
  long port;
  char *end;
  size_t hl;
  memset(ss, 0, sizeof *ss);
  if (!colon)
    return CPC_EINVAL;
  port = strtol(colon + 1, &end, 10);
  if (*end || port < 0 || port > 65535 || colon[1] == '\0')
    return CPC_EINVAL;
  hl = (size_t)(colon - s);
  if (hl >= sizeof host || hl == 0)
    return CPC_EINVAL;
  memcpy(host, s, hl);
  host[hl] = '\0';
  if (host[0] == '[' && host[hl - 1] == ']') {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    host[hl - 1] = '\0';
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    return inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1 ? 0 : CPC_EINVAL;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : CPC_EINVAL;
  }
}

int cpc__pds_api_start(cpc_pds *p, char *err, size_t cap) {
  struct sockaddr_storage ss;
  struct MHD_Daemon *d;
  const union MHD_DaemonInfo *info;
  unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
                   MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

  if (parse_listen(p->cfg.api, &ss) != 0) {
    snprintf(err, cap,
             "api: \"%s\" is not ADDR:PORT (e.g. 127.0.0.1:7710 or "
             "[::1]:7710)",
             p->cfg.api);
    return CPC_EINVAL;
  }
  if (ss.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, p,
                       MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                       MHD_OPTION_NOTIFY_COMPLETED, on_completed, p,
                       MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)600,
                       MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                       MHD_OPTION_END);
  if (!d) {
    snprintf(err, cap,
             "api: cannot listen on %s (in use? another cpc-pds running? "
             "pick another with --api)",
             p->cfg.api);
    return CPC_EIO;
  }
  info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  p->api_port = info ? info->port : 0;
  p->mhd = d;
  return 0;
}

void cpc__pds_api_stop(cpc_pds *p) {
  if (p->mhd)
    MHD_stop_daemon(p->mhd);
  p->mhd = NULL;
}
