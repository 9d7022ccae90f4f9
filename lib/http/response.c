/*
 * response.c: the answers handlers queue (JSON, errors, raw bytes) and the
 * headers they add. The server turns the queued answer into an MHD
 * response once the handler returns.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cpc/error.h"
#include "cpc/http.h"
#include "http/http_int.h"

void cpc__http_response_clear(struct cpc__http_response *r) {
  free(r->content_type);
  free(r->data);
  for (size_t i = 0; i < r->nheaders; i++) {
    free(r->headers[i].name);
    free(r->headers[i].value);
  }
  memset(r, 0, sizeof *r);
}

static const char internal_body[] =
    "{\"error\":{\"code\":\"internal\",\"message\":\"internal error\"}}";

/* Queue the fixed 500 answer when building the real one ran out of memory
 * (the server sends internal_body for it, from static memory). */
static void respond_oom(struct cpc__http_response *r) {
  free(r->content_type);
  free(r->data);
  r->content_type = NULL;
  r->data = NULL;
  r->len = 0;
  r->status = 500;
  r->fallback = 1;
  r->set = 1;
}

/* Take ownership of data (malloc'ed) as the answer. */
static int respond_owned(struct cpc_http_request *req, unsigned status,
                         const char *content_type, char *data, size_t len) {
  struct cpc__http_response *r = &req->resp;

  if (status < 100 || status > 599) {
    free(data);
    return CPC_EINVAL;
  }
  r->status = status;
  r->data = (uint8_t *)data;
  r->len = len;
  r->content_type = content_type ? strdup(content_type) : NULL;
  r->set = 1;
  if (content_type && !r->content_type) {
    respond_oom(r);
    return CPC_ENOMEM;
  }
  return 0;
}

int cpc_http_respond(cpc_http_request *req, unsigned status,
                     const char *content_type, const void *data, size_t len) {
  char *copy;

  if (req->resp.set)
    return CPC_ESTATE;
  copy = malloc(len ? len : 1);
  if (!copy) {
    respond_oom(&req->resp);
    return CPC_ENOMEM;
  }
  if (len)
    memcpy(copy, data, len);
  return respond_owned(req, status, content_type, copy, len);
}

int cpc_http_respond_json(cpc_http_request *req, unsigned status,
                          json_t *body) {
  char *text;

  if (req->resp.set) {
    json_decref(body);
    return CPC_ESTATE;
  }
  if (!body) {
    respond_oom(&req->resp);
    return CPC_ENOMEM;
  }
  text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(body);
  if (!text) {
    respond_oom(&req->resp);
    return CPC_ENOMEM;
  }
  /* json_dumps allocates with jansson's allocator, malloc by default. */
  return respond_owned(req, status, "application/json", text, strlen(text));
}

int cpc_http_respond_error(cpc_http_request *req, unsigned status,
                           const char *code, const char *fmt, ...) {
  char message[512];
  va_list ap;

  if (req->resp.set)
    return CPC_ESTATE;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  return cpc_http_respond_json(
      req, status,
      json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message));
}

int cpc_http_response_header(cpc_http_request *req, const char *name,
                             const char *value) {
  struct cpc__http_response *r = &req->resp;
  struct cpc__http_header *h;

  if (r->set)
    return CPC_ESTATE;
  if (!name || !value || !name[0] || strpbrk(name, "\r\n: ") ||
      strpbrk(value, "\r\n"))
    return CPC_EINVAL;
  if (r->nheaders == CPC_HTTP_MAX_RESPONSE_HEADERS)
    return CPC_ETOOBIG;
  h = &r->headers[r->nheaders];
  h->name = strdup(name);
  h->value = strdup(value);
  if (!h->name || !h->value) {
    free(h->name);
    free(h->value);
    h->name = h->value = NULL;
    return CPC_ENOMEM;
  }
  r->nheaders++;
  return 0;
}

const char *cpc__http_response_fallback(size_t *len) {
  *len = sizeof internal_body - 1;
  return internal_body;
}
