/*
 * rest_users.c: identities and profiles.
 *   POST /v1/users                       register (caller = the identity)
 *   GET  /v1/users/{peer_id}             public identity
 *   GET  /v1/users/{peer_id}/profile     profile
 *   PUT  /v1/users/{peer_id}/profile     replace profile (owner only)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/cid.h"
#include "cpc/error.h"
#include "cpc/identity.h"
#include "orchestrator/orchestrator_int.h"
#include "orchestrator/rest_int.h"

#define MAX_DISPLAY_NAME 100
#define MAX_BIO 2000

static size_t utf8_chars(const char *s) {
  size_t n = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80)
      n++;
  return n;
}

static int post_user(cpc_http_request *req, void *ctx) {
  cpc__rest *r = ctx;
  cpc_user_identity id;
  json_t *j = NULL;
  const uint8_t *body;
  size_t len = 0, pk_len = 0;
  uint8_t pk[CPC_PUBKEY_PROTO_MAX];
  char msg[200], pid[CPC_PEER_ID_MAX_TEXT];
  cpc_sql *db = NULL;
  char *out = NULL;
  int rc;

  cpc_user_identity_init(&id);
  if (cpc_http_request_json(req, &j) != 0)
    return 0;
  json_decref(j);
  body = cpc_http_request_body(req, &len);
  rc = cpc_user_identity_from_json((const char *)body, len, &id, msg,
                                   sizeof msg);
  if (rc != 0) {
    cpc_http_respond_error(req, 400, "invalid_field", "identity: %s", msg);
    goto out;
  }
  if (cpc_user_identity_verify(&id) != 0) {
    cpc_http_respond_error(req, 400, "invalid_field",
                           "binding_signature does not verify for this key");
    goto out;
  }
  if (!cpc_peer_id_equal(&id.peer_id, cpc_http_request_caller(req))) {
    cpc_http_respond_error(req, 403, "forbidden",
                           "only the identity's own key may register it");
    goto out;
  }
  cpc_peer_id_format(&id.peer_id, pid, sizeof pid);
  cpc_pubkey_encode(&id.signing_public, pk, sizeof pk, &pk_len);
  db = cpc__rest_db_get(r);
  if (!db) {
    cpc__rest_fail(req, CPC_EIO);
    goto out;
  }
  rc = cpc__q_run(db, NULL,
                  "INSERT INTO users (peer_id, signing_public_key, "
                  "encryption_key, binding_signature, created_at) "
                  "VALUES ($1, $2, $3, $4, $5)",
                  "sbbbi", pid, pk, pk_len, id.encryption_public,
                  (size_t)CPC_X25519_KEY_LEN, id.binding_sig,
                  id.binding_sig_len, cpc__orch_now_ms());
  if (rc == CPC_EEXIST) {
    cpc_http_respond_error(req, 409, "conflict", "user %s already exists", pid);
    goto out;
  }
  if (rc != 0) {
    cpc__rest_fail(req, rc);
    goto out;
  }
  /* The identity as stored (no follows: the graph lives in follows). */
  cpc_social_graph_free(&id.social_graph);
  if (cpc_user_identity_to_json(&id, 0, &out) != 0) {
    cpc_http_respond_error(req, 500, "internal", "out of memory");
    goto out;
  }
  cpc_http_respond_json(req, 201, json_loads(out, 0, NULL));
out:
  free(out);
  cpc__rest_db_put(r, db);
  cpc_user_identity_free(&id);
  return 0;
}

static int get_user(cpc_http_request *req, void *ctx) {
  cpc__rest *r = ctx;
  char pid[CPC_PEER_ID_MAX_TEXT];
  cpc_sql *db = NULL;
  cpc_sql_stmt *st = NULL;
  const void *a = NULL, *b = NULL, *c = NULL;
  size_t al = 0, bl = 0, cl = 0;
  int rc;

  if (cpc__rest_peer_text(cpc_http_request_param(req, "peer_id"), pid,
                          sizeof pid) != 0)
    return cpc_http_respond_error(req, 404, "not_found", "no such user");
  db = cpc__rest_db_get(r);
  if (!db)
    return cpc__rest_fail(req, CPC_EIO);
  rc = cpc__q_prepare(db, &st,
                      "SELECT signing_public_key, encryption_key, "
                      "binding_signature, created_at FROM users "
                      "WHERE peer_id = $1",
                      "s", pid);
  if (rc == 0)
    rc = cpc_sql_step(st);
  if (rc == CPC_SQL_DONE)
    cpc_http_respond_error(req, 404, "not_found", "no such user");
  else if (rc != CPC_SQL_ROW)
    cpc__rest_fail(req, rc);
  else {
    cpc_sql_column_blob(st, 0, &a, &al);
    cpc_sql_column_blob(st, 1, &b, &bl);
    cpc_sql_column_blob(st, 2, &c, &cl);
    cpc_http_respond_json(
        req, 200,
        json_pack("{s:s, s:o, s:o, s:o, s:I}", "peer_id", pid,
                  "signing_public_key", cpc__rest_b64(a, al),
                  "encryption_public_key", cpc__rest_b64(b, bl),
                  "binding_signature", cpc__rest_b64(c, cl), "created_at",
                  (json_int_t)cpc__q_col_int(st, 3, 0)));
  }
  cpc_sql_finalize(st);
  cpc__rest_db_put(r, db);
  return 0;
}

static int get_profile(cpc_http_request *req, void *ctx) {
  cpc__rest *r = ctx;
  char pid[CPC_PEER_ID_MAX_TEXT];
  cpc_sql *db = NULL;
  cpc_sql_stmt *st = NULL;
  const char *dn = "", *bio = "", *av = NULL;
  size_t l;
  int rc;

  if (cpc__rest_peer_text(cpc_http_request_param(req, "peer_id"), pid,
                          sizeof pid) != 0)
    return cpc_http_respond_error(req, 404, "not_found", "no such user");
  db = cpc__rest_db_get(r);
  if (!db)
    return cpc__rest_fail(req, CPC_EIO);
  rc = cpc__q_prepare(db, &st,
                      "SELECT p.display_name, p.bio, p.avatar_cid, "
                      "p.updated_at FROM users u LEFT JOIN profiles p "
                      "ON p.peer_id = u.peer_id WHERE u.peer_id = $1",
                      "s", pid);
  if (rc == 0)
    rc = cpc_sql_step(st);
  if (rc == CPC_SQL_DONE)
    cpc_http_respond_error(req, 404, "not_found", "no such user");
  else if (rc != CPC_SQL_ROW)
    cpc__rest_fail(req, rc);
  else {
    cpc_sql_column_text(st, 0, &dn, &l);
    cpc_sql_column_text(st, 1, &bio, &l);
    cpc_sql_column_text(st, 2, &av, &l);
    cpc_http_respond_json(req, 200,
                          json_pack("{s:s, s:s, s:s, s:s?, s:I}", "peer_id",
                                    pid, "display_name", dn ? dn : "", "bio",
                                    bio ? bio : "", "avatar_cid", av,
                                    "updated_at",
                                    (json_int_t)cpc__q_col_int(st, 3, 0)));
  }
  cpc_sql_finalize(st);
  cpc__rest_db_put(r, db);
  return 0;
}

static int put_profile(cpc_http_request *req, void *ctx) {
  cpc__rest *r = ctx;
  char pid[CPC_PEER_ID_MAX_TEXT], me[CPC_PEER_ID_MAX_TEXT];
  const char *dn = "", *bio = "", *av = NULL, *key;
  json_t *j = NULL, *v;
  cpc_sql *db = NULL;
  cpc_cid cid;
  int64_t now = cpc__orch_now_ms();
  int rc;

  if (cpc__rest_peer_text(cpc_http_request_param(req, "peer_id"), pid,
                          sizeof pid) != 0)
    return cpc_http_respond_error(req, 404, "not_found", "no such user");
  if (!cpc__rest_caller(req, me, sizeof me) || strcmp(me, pid) != 0)
    return cpc_http_respond_error(req, 403, "forbidden",
                                  "only the user may change their profile");
  if (cpc_http_request_json(req, &j) != 0)
    return 0;
  json_object_foreach(j, key, v) {
    if (strcmp(key, "display_name") == 0 || strcmp(key, "bio") == 0) {
      size_t cap = key[0] == 'd' ? MAX_DISPLAY_NAME : MAX_BIO;
      if (!json_is_string(v) || utf8_chars(json_string_value(v)) > cap) {
        cpc_http_respond_error(req, 400, "invalid_field",
                               "%s must be a string of at most %zu characters",
                               key, cap);
        goto out;
      }
      if (key[0] == 'd')
        dn = json_string_value(v);
      else
        bio = json_string_value(v);
    } else if (strcmp(key, "avatar_cid") == 0) {
      if (json_is_null(v))
        continue;
      if (!json_is_string(v) || json_string_length(v) > CPC__MAX_CID_TEXT ||
          cpc_cid_parse(json_string_value(v), &cid) != 0) {
        cpc_http_respond_error(req, 400, "invalid_field",
                               "avatar_cid must be a CID or null");
        goto out;
      }
      av = json_string_value(v);
    } else {
      cpc_http_respond_error(req, 400, "invalid_field", "unknown field %s",
                             key);
      goto out;
    }
  }
  db = cpc__rest_db_get(r);
  if (!db) {
    cpc__rest_fail(req, CPC_EIO);
    goto out;
  }
  rc = cpc__rest_user_exists(db, pid);
  if (rc == 0) {
    cpc_http_respond_error(req, 404, "not_found",
                           "register the user (POST /v1/users) first");
    goto out;
  }
  if (rc < 0) {
    cpc__rest_fail(req, rc);
    goto out;
  }
  rc = cpc__q_run(db, NULL,
                  "INSERT INTO profiles (peer_id, display_name, bio, "
                  "avatar_cid, updated_at) VALUES ($1, $2, $3, $4, $5) "
                  "ON CONFLICT (peer_id) DO UPDATE SET display_name = "
                  "excluded.display_name, bio = excluded.bio, avatar_cid = "
                  "excluded.avatar_cid, updated_at = excluded.updated_at",
                  "ssssi", pid, dn, bio, av, now);
  if (rc != 0) {
    cpc__rest_fail(req, rc);
    goto out;
  }
  cpc_http_respond_json(req, 200,
                        json_pack("{s:s, s:s, s:s, s:s?, s:I}", "peer_id", pid,
                                  "display_name", dn, "bio", bio, "avatar_cid",
                                  av, "updated_at", (json_int_t)now));
out:
  json_decref(j);
  cpc__rest_db_put(r, db);
  return 0;
}

int cpc__rest_users_routes(cpc_http_router *rt, cpc__rest *r) {
  int rc = cpc_http_router_add(rt, "POST", "/v1/users", CPC_HTTP_AUTH_REQUIRED,
                               post_user, r);
  if (rc == 0)
    rc = cpc_http_router_add(rt, "GET", "/v1/users/{peer_id}",
                             CPC_HTTP_AUTH_NONE, get_user, r);
  if (rc == 0)
    rc = cpc_http_router_add(rt, "GET", "/v1/users/{peer_id}/profile",
                             CPC_HTTP_AUTH_NONE, get_profile, r);
  if (rc == 0)
    rc = cpc_http_router_add(rt, "PUT", "/v1/users/{peer_id}/profile",
                             CPC_HTTP_AUTH_REQUIRED, put_profile, r);
  return rc;
}
