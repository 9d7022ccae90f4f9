/*
 * api_social.c: follow graph, profile and search routes of the local API.
 * Each is a signed call to the orchestrator on the user's behalf; a follow
 * also wakes the sync thread (keys for content the user can now read are
 * wrapped by the followee's PDS, not by this one).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cpc/error.h"
#include "pds/api_int.h"

static int peer_ok(const char *s) {
  cpc_peer_id id;
  return s && cpc_peer_id_parse(s, &id) == 0;
}

static int change(cpc__pds_req *r, const char *method) {
  char path[512], err[CPC__PDS_ERR];
  json_t *ans = NULL;
  long status = 0;
  int rc;
  if (!peer_ok(r->seg[0]))
    return cpc__pds_reply_error(r, 400, "invalid_field",
                                "%s is not a PeerId (16Uiu2...)", r->seg[0]);
  if (strcmp(r->seg[0], r->p->peer_id) == 0)
    return cpc__pds_reply_error(r, 400, "invalid_field",
                                "a user cannot follow themselves");
  snprintf(path, sizeof path, "/v1/users/%s/following/%s", r->p->peer_id,
           r->seg[0]);
  rc = cpc__pds_orch(r->p, method, path, NULL, 1, &status, &ans, err,
                     sizeof err);
  if (rc == 0 && status == 404) {
    json_decref(ans);
    return cpc__pds_reply_error(r, 404, "not_found",
                                "no user %s is registered with the "
                                "orchestrator",
                                r->seg[0]);
  }
  if (rc == 0 && status == 204) {
    json_decref(ans);
    return cpc__pds_reply_json(
        r, 200,
        json_pack("{s:s, s:b}", "peer_id", r->seg[0], "following",
                  strcmp(method, "PUT") == 0));
  }
  return cpc__pds_api_relay(r, rc, status, ans, err);
}

int cpc__pds_api_follow(cpc__pds_req *r) { return change(r, "PUT"); }
int cpc__pds_api_unfollow(cpc__pds_req *r) { return change(r, "DELETE"); }

/* path + "?" + the caller's limit/cursor/q/owner/tag, escaped. */
static void with_query(cpc__pds_req *r, char *out, size_t cap,
                       const char *path) {
  static const char *const names[] = {"limit", "cursor", "q", "owner", "tag"};
  size_t i, o;
  char sep = '?';
  o = (size_t)snprintf(out, cap, "%s", path);
  for (i = 0; i < sizeof names / sizeof names[0] && o < cap; i++) {
    const char *v = cpc__pds_query(r, names[i]);
    char *e;
    if (!v)
      continue;
    e = curl_easy_escape(NULL, v, 0);
    if (!e)
      continue;
    o += (size_t)snprintf(out + o, cap - o, "%c%s=%s", sep, names[i], e);
    curl_free(e);
    sep = '&';
  }
}

static int list(cpc__pds_req *r, const char *which) {
  char base[256], path[4096], err[CPC__PDS_ERR];
  json_t *ans = NULL;
  long status = 0;
  int rc;
  snprintf(base, sizeof base, "/v1/users/%s/%s", r->p->peer_id, which);
  with_query(r, path, sizeof path, base);
  rc = cpc__pds_orch(r->p, "GET", path, NULL, 1, &status, &ans, err,
                     sizeof err);
  return cpc__pds_api_relay(r, rc, status, ans, err);
}

int cpc__pds_api_following(cpc__pds_req *r) { return list(r, "following"); }
int cpc__pds_api_followers(cpc__pds_req *r) { return list(r, "followers"); }

int cpc__pds_api_profile_get(cpc__pds_req *r) {
  const char *who = cpc__pds_query(r, "peer_id");
  char path[512], err[CPC__PDS_ERR];
  json_t *ans = NULL;
  long status = 0;
  int rc;
  if (who && !peer_ok(who))
    return cpc__pds_reply_error(r, 400, "invalid_field",
                                "peer_id must be a PeerId");
  snprintf(path, sizeof path, "/v1/users/%s/profile", who ? who : r->p->peer_id);
  rc = cpc__pds_orch(r->p, "GET", path, NULL, 0, &status, &ans, err,
                     sizeof err);
  return cpc__pds_api_relay(r, rc, status, ans, err);
}

int cpc__pds_api_profile_put(cpc__pds_req *r) {
  char path[512], err[CPC__PDS_ERR];
  json_t *body = cpc__pds_body_json(r), *ans = NULL;
  long status = 0;
  int rc;
  if (!body)
    return 0;
  snprintf(path, sizeof path, "/v1/users/%s/profile", r->p->peer_id);
  rc = cpc__pds_orch(r->p, "PUT", path, body, 1, &status, &ans, err,
                     sizeof err);
  json_decref(body);
  return cpc__pds_api_relay(r, rc, status, ans, err);
}

int cpc__pds_api_search(cpc__pds_req *r) {
  char path[4096], err[CPC__PDS_ERR];
  json_t *ans = NULL;
  long status = 0;
  int rc;
  with_query(r, path, sizeof path, "/v1/search");
  rc = cpc__pds_orch(r->p, "GET", path, NULL, 1, &status, &ans, err,
                     sizeof err);
  return cpc__pds_api_relay(r, rc, status, ans, err);
}
