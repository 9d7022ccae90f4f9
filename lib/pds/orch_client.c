/*
 * orch_client.c: calls to the orchestrator's REST API (docs/openapi.json)
 * with libcurl, signed with the user's secp256k1 key (docs/api-auth.md).
 * Blocking: called from the API server's threads and the sync thread,
 * never from the loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "cpc/error.h"
#include "cpc/http.h"
#include "pds/pds_int.h"

#define MAX_ANSWER (8u << 20)

typedef struct answer {
  char *buf;
  size_t len, cap;
  int too_big;
} answer;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud) {
  answer *a = ud;
  size_t n = size * nmemb;
  if (a->len + n > MAX_ANSWER) {
    a->too_big = 1;
    return 0;
  }
  if (a->len + n + 1 > a->cap) {
    size_t nc = (a->len + n + 1) * 2;
    char *nb = realloc(a->buf, nc);
    if (!nb)
      return 0;
    a->buf = nb;
    a->cap = nc;
  }
  memcpy(a->buf + a->len, data, n);
  a->len += n;
  a->buf[a->len] = '\0';
  return n;
}

const char *cpc__pds_orch_message(json_t *answer_json) {
  const char *m = json_string_value(
      json_object_get(json_object_get(answer_json, "error"), "message"));
  return m ? m : "";
}

int cpc__pds_orch(cpc_pds *p, const char *method, const char *path,
                  json_t *body, int sign, long *status, json_t **out,
                  char *err, size_t cap) {
  CURL *h = NULL;
  struct curl_slist *hdrs = NULL;
  char url[CPC_PDS_MAX_URL + CPC_HTTP_MAX_TARGET], line[256];
  char *text = NULL;
  size_t text_len = 0, base_len;
  answer a = {0};
  CURLcode cc;
  int rc = 0;

  if (out)
    *out = NULL;
  *status = 0;
  if (body) {
    text = json_dumps(body, JSON_COMPACT);
    if (!text)
      return CPC_ENOMEM;
    text_len = strlen(text);
  }
  base_len = strlen(p->cfg.orchestrator);
  while (base_len > 0 && p->cfg.orchestrator[base_len - 1] == '/')
    base_len--;
  snprintf(url, sizeof url, "%.*s%s", (int)base_len, p->cfg.orchestrator,
           path);
  h = curl_easy_init();
  if (!h) {
    rc = CPC_ENOMEM;
    goto out;
  }
  if (sign) {
    cpc_http_signed_headers sh;
    rc = cpc_http_sign_request(&p->id.signing_key, method, path, strlen(path),
                               text, text_len, (int64_t)time(NULL), NULL, &sh);
    if (rc != 0) {
      snprintf(err, cap, "cannot sign the request: %s", cpc_strerror(rc));
      goto out;
    }
    snprintf(line, sizeof line, "%s: %s", CPC_HTTP_HDR_PEER_ID, sh.peer_id);
    hdrs = curl_slist_append(hdrs, line);
    snprintf(line, sizeof line, "%s: %s", CPC_HTTP_HDR_TIMESTAMP,
             sh.timestamp);
    hdrs = curl_slist_append(hdrs, line);
    snprintf(line, sizeof line, "%s: %s", CPC_HTTP_HDR_NONCE, sh.nonce);
    hdrs = curl_slist_append(hdrs, line);
    snprintf(line, sizeof line, "%s: %s", CPC_HTTP_HDR_SIGNATURE,
             sh.signature);
    hdrs = curl_slist_append(hdrs, line);
  }
  if (text)
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
  hdrs = curl_slist_append(hdrs, "Expect:");
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
  if (text) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)text_len);
  } else if (strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
  }
  cc = curl_easy_perform(h);
  if (cc != CURLE_OK) {
    snprintf(err, cap, "orchestrator %s unreachable: %s%s",
             p->cfg.orchestrator, curl_easy_strerror(cc),
             a.too_big ? " (answer too large)" : "");
    atomic_store(&p->orch_reachable, 0);
    rc = CPC_EIO;
    goto out;
  }
  atomic_store(&p->orch_reachable, 1);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
  if (out && a.len > 0)
    *out = json_loadb(a.buf, a.len, 0, NULL);
out:
  curl_slist_free_all(hdrs);
  if (h)
    curl_easy_cleanup(h);
  free(a.buf);
  free(text);
  return rc;
}
