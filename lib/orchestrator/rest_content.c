/*
 * rest_content.c: content metadata.
 *   POST   /v1/content              register (owner = caller)
 *   GET    /v1/content/{cid}        metadata (access control)
 *   DELETE /v1/content/{cid}        owner only; the scheduler deletes replicas
 *   GET    /v1/content/{cid}/locate chunk holders and the caller's key
 *   GET    /v1/search               name/description, owner, tag; paginated
 * A reader who may not see a content gets 404 not_found, as if it did not
 * exist.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cpc/cid.h"
#include "cpc/error.h"
#include "orchestrator/orchestrator_int.h"
#include "orchestrator/rest_int.h"

#define MAX_CHUNKS 100000
#define MAX_NAME 256
#define MAX_DESCRIPTION 4096
#define MAX_TAGS 32
#define MAX_TAG 64
#define MAX_READERS CPC__REST_MAX_READERS
#define MAX_SEALED 256
#define MAX_TOKENS CPC__REST_MAX_TOKENS
#define MAX_ORIGIN 16
#define MAX_ADDR 512
#define KEY_LEN 32

const char *const cpc__rest_access_names[3] = {"public", "followers",
                                             "private"};
#define ACCESS cpc__rest_access_names

typedef struct reg {
  const char *content_id, *name, *description, *access_name;
  int64_t size, created_at, replicas;
  int access;
  uint8_t clear_key[KEY_LEN];
  int has_key;
  json_t *chunks, *tags, *wrapped, *tokens, *origin; /* borrowed */
  char owner[CPC_PEER_ID_MAX_TEXT];
  char origin_json[MAX_ORIGIN * (MAX_ADDR + 4) + 4];
  int64_t now;
} reg;

static int bad(cpc_http_request *req, const char *field, const char *what) {
  cpc_http_respond_error(req, 400, "invalid_field", "%s %s", field, what);
  return CPC_EINVAL;
}

static int is_cid(json_t *v) {
  cpc_cid c;
  return json_is_string(v) && json_string_length(v) <= CPC__MAX_CID_TEXT &&
         cpc_cid_parse(json_string_value(v), &c) == 0;
}

static int is_uint(json_t *v) {
  return json_is_integer(v) && json_integer_value(v) >= 0;
}

static int check_chunks(cpc_http_request *req, json_t *a) {
  size_t i;
  json_t *c;
  if (!json_is_array(a) || json_array_size(a) < 1 ||
      json_array_size(a) > MAX_CHUNKS)
    return bad(req, "chunks", "must be an array of 1 to 100000 {cid, size}");
  json_array_foreach(a, i, c) {
    if (!json_is_object(c) || json_object_size(c) != 2 ||
        !is_cid(json_object_get(c, "cid")) ||
        !is_uint(json_object_get(c, "size")))
      return bad(req, "chunks", "items must be {cid: CID, size: integer >= 0}");
  }
  return 0;
}

static int check_tags(cpc_http_request *req, json_t *a) {
  size_t i, k;
  json_t *t;
  if (!json_is_array(a) || json_array_size(a) > MAX_TAGS)
    return bad(req, "tags", "must be an array of at most 32 strings");
  json_array_foreach(a, i, t) {
    if (!json_is_string(t) || json_string_length(t) < 1 ||
        json_string_length(t) > MAX_TAG)
      return bad(req, "tags", "items must be strings of 1 to 64 bytes");
    for (k = 0; k < i; k++)
      if (json_equal(json_array_get(a, k), t))
        return bad(req, "tags", "must not repeat");
  }
  return 0;
}

int cpc__rest_check_wrapped(cpc_http_request *req, json_t *a) {
  size_t i, n;
  json_t *w;
  uint8_t buf[MAX_SEALED];
  char pid[CPC_PEER_ID_MAX_TEXT];
  if (!json_is_array(a) || json_array_size(a) > MAX_READERS)
    return bad(req, "wrapped_keys", "must be an array of {reader, sealed_key}");
  json_array_foreach(a, i, w) {
    json_t *rd = json_object_get(w, "reader");
    json_t *sk = json_object_get(w, "sealed_key");
    if (!json_is_object(w) || json_object_size(w) != 2 || !json_is_string(rd) ||
        cpc__rest_peer_text(json_string_value(rd), pid, sizeof pid) != 0 ||
        strcmp(pid, json_string_value(rd)) != 0 || !json_is_string(sk) ||
        cpc__rest_unb64(json_string_value(sk), buf, sizeof buf, &n) != 0 ||
        n == 0)
      return bad(req, "wrapped_keys",
                 "items must be {reader: PeerId, sealed_key: base64}");
  }
  return 0;
}

int cpc__rest_check_tokens(cpc_http_request *req, json_t *a, json_t *chunks) {
  size_t i, k, n;
  json_t *t, *c;
  uint8_t buf[64];
  if (!json_is_array(a) || json_array_size(a) > MAX_TOKENS)
    return bad(req, "audit_tokens", "must be an array of at most 10000 tokens");
  json_array_foreach(a, i, t) {
    json_t *cid = json_object_get(t, "cid");
    int found = 0;
    if (!json_is_object(t) || json_object_size(t) != 5 || !is_cid(cid) ||
        !is_uint(json_object_get(t, "offset")) ||
        !json_is_integer(json_object_get(t, "length")) ||
        json_integer_value(json_object_get(t, "length")) < 1)
      return bad(req, "audit_tokens",
                 "items must be {cid, offset, length, nonce, expected}");
    if (cpc__rest_unb64(json_string_value(json_object_get(t, "nonce")), buf,
                        sizeof buf, &n) != 0 ||
        n != CPC__AUDIT_NONCE_LEN ||
        cpc__rest_unb64(json_string_value(json_object_get(t, "expected")), buf,
                        sizeof buf, &n) != 0 ||
        n != CPC__AUDIT_PROOF_LEN)
      return bad(req, "audit_tokens", "nonce and expected must be 32 bytes");
    if (!chunks) /* membership checked by the caller */
      continue;
    json_array_foreach(chunks, k, c) {
      if (json_equal(json_object_get(c, "cid"), cid)) {
        found = 1;
        break;
      }
    }
    if (!found)
      return bad(req, "audit_tokens", "cid must be one of the chunks");
  }
  return 0;
}

static int check_origin(cpc_http_request *req, json_t *a, reg *g) {
  size_t i;
  json_t *o;
  char *s;
  if (!json_is_array(a) || json_array_size(a) > MAX_ORIGIN)
    return bad(req, "origin", "must be an array of at most 16 multiaddrs");
  json_array_foreach(a, i, o) {
    if (!json_is_string(o) || json_string_length(o) > MAX_ADDR ||
        json_string_value(o)[0] != '/')
      return bad(req, "origin", "items must be multiaddr strings");
  }
  s = json_dumps(a, JSON_COMPACT);
  if (!s || strlen(s) >= sizeof g->origin_json) {
    free(s);
    return bad(req, "origin", "is too long");
  }
  memcpy(g->origin_json, s, strlen(s) + 1);
  free(s);
  return 0;
}

/* Validate the registration body into g. Answers 400 itself. */
static int parse_reg(cpc_http_request *req, json_t *j, reg *g) {
  const char *key;
  json_t *v;
  size_t n;
  memset(g, 0, sizeof g->content_id);
  g->replicas = 3;
  g->access = -1;
  g->name = g->description = "";
  snprintf(g->origin_json, sizeof g->origin_json, "[]");
  json_object_foreach(j, key, v) {
    if (strcmp(key, "content_id") == 0) {
      if (!is_cid(v))
        return bad(req, key, "must be a CID");
      g->content_id = json_string_value(v);
    } else if (strcmp(key, "size") == 0 || strcmp(key, "created_at") == 0) {
      if (!is_uint(v))
        return bad(req, key, "must be an integer >= 0");
      *(key[0] == 's' ? &g->size : &g->created_at) = json_integer_value(v);
    } else if (strcmp(key, "access_control") == 0) {
      for (g->access = 0; g->access < 3; g->access++)
        if (json_is_string(v) &&
            strcmp(json_string_value(v), ACCESS[g->access]) == 0)
          break;
      if (g->access == 3)
        return bad(req, key, "must be \"public\", \"followers\" or \"private\"");
    } else if (strcmp(key, "name") == 0) {
      if (!json_is_string(v) || json_string_length(v) > MAX_NAME)
        return bad(req, key, "must be a string of at most 256 bytes");
      g->name = json_string_value(v);
    } else if (strcmp(key, "description") == 0) {
      if (!json_is_string(v) || json_string_length(v) > MAX_DESCRIPTION)
        return bad(req, key, "must be a string of at most 4096 bytes");
      g->description = json_string_value(v);
    } else if (strcmp(key, "tags") == 0) {
      if (check_tags(req, v) != 0)
        return CPC_EINVAL;
      g->tags = v;
    } else if (strcmp(key, "chunks") == 0) {
      if (check_chunks(req, v) != 0)
        return CPC_EINVAL;
      g->chunks = v;
    } else if (strcmp(key, "replicas") == 0) {
      if (!json_is_integer(v) || json_integer_value(v) < 1 ||
          json_integer_value(v) > 16)
        return bad(req, key, "must be an integer from 1 to 16");
      g->replicas = json_integer_value(v);
    } else if (strcmp(key, "clear_key") == 0) {
      if (!json_is_string(v) ||
          cpc__rest_unb64(json_string_value(v), g->clear_key,
                          sizeof g->clear_key, &n) != 0 ||
          n != KEY_LEN)
        return bad(req, key, "must be 32 bytes in base64");
      g->has_key = 1;
    } else if (strcmp(key, "wrapped_keys") == 0) {
      if (cpc__rest_check_wrapped(req, v) != 0)
        return CPC_EINVAL;
      g->wrapped = v;
    } else if (strcmp(key, "audit_tokens") == 0) {
      g->tokens = v;
    } else if (strcmp(key, "origin") == 0) {
      if (check_origin(req, v, g) != 0)
        return CPC_EINVAL;
    } else {
      cpc_http_respond_error(req, 400, "invalid_field", "unknown field %s",
                             key);
      return CPC_EINVAL;
    }
  }
  if (!g->content_id || !json_object_get(j, "size") ||
      !json_object_get(j, "created_at") || g->access < 0 || !g->chunks)
    return bad(req, "content_id, size, created_at, access_control and chunks",
               "are required");
  if (g->access == 0 && !g->has_key)
    return bad(req, "clear_key", "is required for public content");
  if (g->access != 0 && g->has_key)
    return bad(req, "clear_key", "is only allowed for public content");
  if (g->tokens && cpc__rest_check_tokens(req, g->tokens, g->chunks) != 0)
    return CPC_EINVAL;
  return 0;
}

static int insert_txn(cpc_sql *db, void *arg) {
  reg *g = arg;
  cpc_sql_stmt *st = NULL;
  size_t i, n;
  json_t *v;
  uint8_t buf[MAX_SEALED], nonce[64], expected[64];
  int rc;

  rc = cpc__q_run(db, NULL,
                  "INSERT INTO content (content_id, owner, size, created_at, "
                  "registered_at, access_control, replicas_desired, name, "
                  "description, clear_key, state, origin) VALUES ($1, $2, $3, "
                  "$4, $5, $6, $7, $8, $9, $10, 0, $11)",
                  g->has_key ? "ssiiiiissbs" : "ssiiiiissns", g->content_id,
                  g->owner, g->size, g->created_at, g->now, (int64_t)g->access,
                  g->replicas, g->name, g->description,
                  /* 'b' takes two arguments, 'n' none */
                  g->has_key ? (const void *)g->clear_key : (const void *)g->origin_json,
                  (size_t)KEY_LEN, g->origin_json);
  if (rc != 0)
    return rc;
  rc = cpc_sql_prepare(db,
                       "INSERT INTO chunks (content_id, idx, cid, size) "
                       "VALUES ($1, $2, $3, $4)",
                       &st);
  if (rc == 0)
    rc = cpc_sql_bind_str(st, 1, g->content_id);
  json_array_foreach(g->chunks, i, v) {
    if (rc != 0)
      break;
    rc = cpc_sql_bind_int64(st, 2, (int64_t)i);
    if (rc == 0)
      rc = cpc_sql_bind_str(st, 3, json_string_value(json_object_get(v, "cid")));
    if (rc == 0)
      rc = cpc_sql_bind_int64(st, 4,
                              json_integer_value(json_object_get(v, "size")));
    if (rc == 0)
      rc = cpc_sql_step(st);
  }
  cpc_sql_finalize(st);
  json_array_foreach(g->tags, i, v) {
    if (rc != 0)
      break;
    rc = cpc__q_run(db, NULL,
                    "INSERT INTO content_tags (content_id, tag) VALUES ($1, $2)",
                    "ss", g->content_id, json_string_value(v));
  }
  json_array_foreach(g->wrapped, i, v) {
    if (rc != 0)
      break;
    cpc__rest_unb64(json_string_value(json_object_get(v, "sealed_key")), buf,
                    sizeof buf, &n);
    rc = cpc__q_run(db, NULL,
                    "INSERT INTO wrapped_keys (content_id, reader, sealed_key) "
                    "VALUES ($1, $2, $3)",
                    "ssb", g->content_id,
                    json_string_value(json_object_get(v, "reader")), buf, n);
    if (rc == CPC_EEXIST)
      rc = CPC_EMISMATCH; /* a repeated reader, not a repeated content */
  }
  json_array_foreach(g->tokens, i, v) {
    if (rc != 0)
      break;
    cpc__rest_unb64(json_string_value(json_object_get(v, "nonce")), nonce,
                    sizeof nonce, &n);
    cpc__rest_unb64(json_string_value(json_object_get(v, "expected")),
                    expected, sizeof expected, &n);
    rc = cpc__orch_audit_token_add(
        db, g->content_id, json_string_value(json_object_get(v, "cid")),
        (uint64_t)json_integer_value(json_object_get(v, "offset")),
        (uint64_t)json_integer_value(json_object_get(v, "length")), nonce,
        expected, NULL);
  }
  return rc;
}

json_t *cpc__rest_summary(cpc_sql_stmt *st) {
  char id[CPC__MAX_CID_TEXT + 1], owner[CPC_PEER_ID_MAX_TEXT];
  const char *name = "", *desc = "";
  size_t l;
  int64_t ac = cpc__q_col_int(st, 5, 2);
  cpc__q_text(st, 0, id, sizeof id);
  cpc__q_text(st, 1, owner, sizeof owner);
  cpc_sql_column_text(st, 7, &name, &l);
  cpc_sql_column_text(st, 8, &desc, &l);
  return json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:I, s:s, s:s, s:s}",
                   "content_id", id, "owner", owner, "size",
                   (json_int_t)cpc__q_col_int(st, 2, 0), "created_at",
                   (json_int_t)cpc__q_col_int(st, 3, 0), "registered_at",
                   (json_int_t)cpc__q_col_int(st, 4, 0), "access_control",
                   ACCESS[ac >= 0 && ac < 3 ? ac : 2], "replicas",
                   (json_int_t)cpc__q_col_int(st, 6, 3), "name",
                   name ? name : "", "description", desc ? desc : "", "state",
                   cpc__q_col_int(st, 9, 0) == 0 ? "active" : "deleting");
}

static json_t *string_list(cpc_sql *db, const char *sql, const char *arg) {
  cpc_sql_stmt *st = NULL;
  json_t *a = json_array();
  const char *s;
  size_t l;
  if (cpc__q_prepare(db, &st, sql, "s", arg) == 0)
    while (cpc_sql_step(st) == CPC_SQL_ROW)
      if (cpc_sql_column_text(st, 0, &s, &l) == 0)
        json_array_append_new(a, json_string(s));
  cpc_sql_finalize(st);
  return a;
}

static int post_content(cpc_http_request *req, void *ctx) {
  cpc__rest *r = ctx;
  json_t *j = NULL;
  cpc_sql *db = NULL;
  reg g;
  int rc;

  memset(&g, 0, sizeof g);
  if (cpc_http_request_json(req, &j) != 0)
    return 0;
  if (parse_reg(req, j, &g) != 0)
    goto out;
  cpc__rest_caller(req, g.owner, sizeof g.owner);
  g.now = cpc__orch_now_ms();
  db = cpc__rest_db_get(r);
  if (!db) {
    cpc__rest_fail(req, CPC_EIO);
    goto out;
  }
  rc = cpc_sql_transact(db, insert_txn, &g);
  if (rc == CPC_EEXIST)
    cpc_http_respond_error(req, 409, "conflict", "content %s already exists",
                           g.content_id);
  else if (rc == CPC_ENOENT)
    cpc_http_respond_error(req, 403, "forbidden",
                           "register the caller (POST /v1/users) first");
  else if (rc == CPC_EMISMATCH)
    bad(req, "wrapped_keys", "must not name a reader twice");
  else if (rc != 0)
    cpc__rest_fail(req, rc);
  else
    cpc_http_respond_json(
        req, 201,
        json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:I, s:s, s:s, s:O*, s:I}",
                  "content_id", g.content_id, "owner", g.owner, "size",
                  (json_int_t)g.size, "created_at", (json_int_t)g.created_at,
                  "registered_at", (json_int_t)g.now, "access_control",
                  ACCESS[g.access], "replicas", (json_int_t)g.replicas, "name",
                  g.name, "description", g.description, "tags", g.tags,
                  "chunk_count", (json_int_t)json_array_size(g.chunks)));
out:
  json_decref(j);
  cpc__rest_db_put(r, db);
  return 0;
}

/*
 * Load content cid for caller: *st positioned on its SUMMARY_COLS row.
 * Answers 404 itself (unknown, deleted, or not visible) and returns
 * CPC_ENOENT; other errors answered too.
 */
int cpc__rest_load_visible(cpc_http_request *req, cpc_sql *db,
                           const char *caller, cpc_sql_stmt **st) {
  char owner[CPC_PEER_ID_MAX_TEXT];
  int ok = 0, rc;
  const char *cid = cpc_http_request_param(req, "cid");
  rc = cpc__q_prepare(db, st,
                      "SELECT " SUMMARY_COLS " FROM content "
                      "WHERE content_id = $1 AND state = 0",
                      "s", cid);
  if (rc == 0)
    rc = cpc_sql_step(*st);
  if (rc == CPC_SQL_ROW) {
    cpc__q_text(*st, 1, owner, sizeof owner);
    rc = cpc__rest_can_read(db, owner, (int)cpc__q_col_int(*st, 5, 2), caller,
                            &ok);
    if (rc == 0 && ok)
      return 0;
    if (rc == 0)
      rc = CPC_SQL_DONE;
  }
  if (rc == CPC_SQL_DONE) {
    cpc_http_respond_error(req, 404, "not_found", "no such content");
    return CPC_ENOENT;
  }
  cpc__rest_fail(req, rc);
  return rc < 0 ? rc : CPC_EIO;
}

static int get_content(cpc_http_request *req, void *ctx) {
  cpc__rest *r = ctx;
  char me[CPC_PEER_ID_MAX_TEXT], id[CPC__MAX_CID_TEXT + 1],
      owner[CPC_PEER_ID_MAX_TEXT];
  const char *caller = cpc__rest_caller(req, me, sizeof me);
  cpc_sql *db = cpc__rest_db_get(r);
  cpc_sql_stmt *st = NULL;
  json_t *j, *rep = NULL, *chunks = NULL;
  int64_t target;
  int rc;

  if (!db)
    return cpc__rest_fail(req, CPC_EIO);
  if (cpc__rest_load_visible(req, db, caller, &st) != 0)
    goto out;
  cpc__q_text(st, 0, id, sizeof id);
  cpc__q_text(st, 1, owner, sizeof owner);
  target = cpc__q_col_int(st, 6, 3);
  j = cpc__rest_summary(st);
  json_object_set_new(
      j, "tags",
      string_list(db, "SELECT tag FROM content_tags WHERE content_id = $1 "
                      "ORDER BY tag",
                  id));
  /* Only the owner learns how many audit challenges are left: a node that
   * knew a block would never be audited again could drop it. */
  rc = cpc__rest_replication(db, id, target,
                             caller && strcmp(caller, owner) == 0, &rep,
                             &chunks);
  if (rc != 0) {
    json_decref(j);
    cpc__rest_fail(req, rc);
    goto out;
  }
  json_object_set_new(j, "chunks", chunks);
  json_object_set_new(j, "replication", rep);
  cpc_http_respond_json(req, 200, j);
out:
  cpc_sql_finalize(st);
  cpc__rest_db_put(r, db);
  return 0;
}

/* Chunk counts of one content (see cpc__rest_replication). */
#define CHUNK_COUNTS                                                           \
  "(SELECT count(*) FROM replicas r JOIN nodes n ON n.peer_id = r.node "      \
  "WHERE r.cid = c.cid AND r.state = 1 AND n.state = 1)"
#define CHUNK_PENDING                                                          \
  "(SELECT count(*) FROM replicas r JOIN nodes n ON n.peer_id = r.node "      \
  "WHERE r.cid = c.cid AND r.state = 0 AND n.state = 1)"
#define CHUNK_TOKENS                                                           \
  "(SELECT count(*) FROM audit_tokens t WHERE t.content_id = c.content_id "   \
  "AND t.cid = c.cid AND t.used = 0)"

int cpc__rest_replication(cpc_sql *db, const char *content_id, int64_t target,
                          int with_tokens, json_t **out, json_t **per_chunk) {
  cpc_sql_stmt *q = NULL;
  json_t *arr = NULL;
  int64_t n = 0, at = 0, min = -1;
  int rc;

  if (per_chunk) {
    arr = json_array();
    rc = cpc__q_prepare(db, &q,
                        "SELECT c.idx, c.cid, c.size, " CHUNK_COUNTS
                        ", " CHUNK_PENDING ", " CHUNK_TOKENS
                        " FROM chunks c WHERE c.content_id = $1 "
                        "ORDER BY c.idx",
                        "s", content_id);
  } else {
    rc = cpc__q_prepare(db, &q,
                        "SELECT 0, '', 0, " CHUNK_COUNTS
                        " FROM chunks c WHERE c.content_id = $1",
                        "s", content_id);
  }
  while (rc == 0 && (rc = cpc_sql_step(q)) == CPC_SQL_ROW) {
    int64_t confirmed = cpc__q_col_int(q, 3, 0);
    rc = 0;
    n++;
    if (confirmed >= target)
      at++;
    if (min < 0 || confirmed < min)
      min = confirmed;
    if (arr) {
      char c[CPC__MAX_CID_TEXT + 1];
      json_t *o;
      cpc__q_text(q, 1, c, sizeof c);
      o = json_pack("{s:I, s:s, s:I, s:I, s:I}", "index",
                    (json_int_t)cpc__q_col_int(q, 0, 0), "cid", c, "size",
                    (json_int_t)cpc__q_col_int(q, 2, 0), "confirmed",
                    (json_int_t)confirmed, "pending",
                    (json_int_t)cpc__q_col_int(q, 4, 0));
      if (o && with_tokens)
        json_object_set_new(o, "audit_tokens",
                            json_integer(cpc__q_col_int(q, 5, 0)));
      json_array_append_new(arr, o);
    }
  }
  cpc_sql_finalize(q);
  if (rc < 0) {
    json_decref(arr);
    return rc;
  }
  *out = json_pack("{s:I, s:I, s:I, s:I, s:b}", "target", (json_int_t)target,
                   "chunks", (json_int_t)n, "chunks_at_target", (json_int_t)at,
                   "min_confirmed", (json_int_t)(min < 0 ? 0 : min),
                   "complete", n > 0 && at == n);
  if (per_chunk)
    *per_chunk = arr;
  return 0;
}

static int delete_content(cpc_http_request *req, void *ctx) {
  cpc__rest *r = ctx;
  char me[CPC_PEER_ID_MAX_TEXT], owner[CPC_PEER_ID_MAX_TEXT];
  const char *caller = cpc__rest_caller(req, me, sizeof me);
  cpc_sql *db = cpc__rest_db_get(r);
  cpc_sql_stmt *st = NULL;
  int rc;

  if (!db)
    return cpc__rest_fail(req, CPC_EIO);
  if (cpc__rest_load_visible(req, db, caller, &st) != 0)
    goto out;
  cpc__q_text(st, 1, owner, sizeof owner);
  cpc_sql_finalize(st);
  st = NULL;
  if (strcmp(owner, caller) != 0) {
    cpc_http_respond_error(req, 403, "forbidden",
                           "only the owner may delete content");
    goto out;
  }
  rc = cpc__q_run(db, NULL,
                  "UPDATE content SET state = 1 WHERE content_id = $1 AND "
                  "state = 0",
                  "s", cpc_http_request_param(req, "cid"));
  if (rc != 0)
    cpc__rest_fail(req, rc);
  else
    cpc_http_respond(req, 204, NULL, NULL, 0);
out:
  cpc_sql_finalize(st);
  cpc__rest_db_put(r, db);
  return 0;
}

/* Append b64 of p[0..n) as a JSON string (or null when p is NULL). */
static void jt_b64(cpc__jtext *t, const void *p, size_t n) {
  char buf[4 * (MAX_SEALED / 3 + 2) + 8];
  if (!p || sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL) >
                sizeof buf) {
    cpc__jt_lit(t, "null");
    return;
  }
  sodium_bin2base64(buf, sizeof buf, p, n, sodium_base64_VARIANT_ORIGINAL);
  cpc__jt_str(t, buf);
}

/* Append stored JSON array text (written by this server) or []. */
static void jt_array(cpc__jtext *t, const char *text) {
  if (text && text[0] == '[')
    cpc__jt_lit(t, text);
  else
    cpc__jt_lit(t, "[]");
}

/*
 * GET /v1/content/{cid}/locate: the hot read of the consumption flow, so
 * one statement (the content, its chunks and their providers; one read
 * transaction) plus, for non-public content, the follow check and the
 * caller's sealed key; the answer is written as text. Node addresses come
 * ready to dial from registration (nodes.dial_addrs).
 */
#define LOC_OWNER 0
#define LOC_ACCESS 1
#define LOC_ORIGIN 2
#define LOC_KEY 3
#define LOC_IDX 4
#define LOC_CID 5
#define LOC_SIZE 6
#define LOC_NODE 7
#define LOC_DIAL 8
#define LOC_ADDRS 9

/* The head of the answer, from the first row of q; for non-public
 * content also the caller's sealed key. *ok 0: the caller may not see it. */
static int locate_head(cpc_sql *db, cpc_sql_stmt *q, const char *cid,
                       const char *caller, cpc__jtext *t, int *ok) {
  char owner[CPC_PEER_ID_MAX_TEXT];
  cpc_sql_stmt *w = NULL;
  const char *txt = NULL;
  const void *k = NULL;
  size_t kl = 0, l;
  int access, rc;
  cpc__q_text(q, LOC_OWNER, owner, sizeof owner);
  access = (int)cpc__q_col_int(q, LOC_ACCESS, 2);
  if (access < 0 || access > 2)
    access = 2;
  rc = cpc__rest_can_read(db, owner, access, caller, ok);
  if (rc != 0 || !*ok)
    return rc;
  cpc__jt_lit(t, "{\"content_id\":");
  cpc__jt_str(t, cid);
  cpc__jt_lit(t, ",\"access_control\":");
  cpc__jt_str(t, ACCESS[access]);
  cpc__jt_lit(t, ",\"origin\":");
  cpc_sql_column_text(q, LOC_ORIGIN, &txt, &l);
  jt_array(t, txt);
  if (access == 0) {
    cpc__jt_lit(t, ",\"clear_key\":");
    if (cpc_sql_column_is_null(q, LOC_KEY) == 0 &&
        cpc_sql_column_blob(q, LOC_KEY, &k, &kl) == 0)
      jt_b64(t, k, kl);
    else
      cpc__jt_lit(t, "null");
    return 0;
  }
  rc = cpc__q_prepare(db, &w,
                      "SELECT sealed_key FROM wrapped_keys WHERE "
                      "content_id = $1 AND reader = $2",
                      "ss", cid, caller ? caller : "");
  if (rc == 0)
    rc = cpc_sql_step(w);
  if (rc >= 0) {
    cpc__jt_lit(t, ",\"wrapped_key\":");
    if (rc == CPC_SQL_ROW && cpc_sql_column_blob(w, 0, &k, &kl) == 0)
      jt_b64(t, k, kl);
    else
      cpc__jt_lit(t, "null");
    rc = 0;
  }
  cpc_sql_finalize(w);
  return rc;
}

static int locate(cpc_http_request *req, void *ctx) {
  cpc__rest *r = ctx;
  char me[CPC_PEER_ID_MAX_TEXT];
  const char *caller = cpc__rest_caller(req, me, sizeof me);
  const char *cid = cpc_http_request_param(req, "cid");
  cpc_sql *db = cpc__rest_db_get(r);
  cpc_sql_stmt *q = NULL;
  cpc__jtext t = {0};
  int64_t cur_idx = -1;
  const char *txt;
  size_t l;
  int rc, ok = 0, first_provider = 1;

  if (!db)
    return cpc__rest_fail(req, CPC_EIO);
  /* Every content has at least one chunk, so rows exist iff it does. */
  rc = cpc__q_prepare(
      db, &q,
      "SELECT ct.owner, ct.access_control, ct.origin, ct.clear_key, c.idx, "
      "c.cid, c.size, n.peer_id, n.dial_addrs, n.addrs FROM content ct "
      "JOIN chunks c ON c.content_id = ct.content_id "
      "LEFT JOIN replicas r ON r.cid = c.cid AND r.state = 1 "
      "LEFT JOIN nodes n ON n.peer_id = r.node AND n.state = 1 "
      "WHERE ct.content_id = $1 AND ct.state = 0 ORDER BY c.idx, r.node",
      "s", cid);
  while (rc == 0 && (rc = cpc_sql_step(q)) == CPC_SQL_ROW) {
    int64_t idx = cpc__q_col_int(q, LOC_IDX, 0);
    if (cur_idx < 0) {
      rc = locate_head(db, q, cid, caller, &t, &ok);
      if (rc != 0 || !ok)
        break;
      cpc__jt_lit(&t, ",\"chunks\":[");
    }
    rc = 0;
    if (idx != cur_idx) {
      cpc__jt_lit(&t, cur_idx < 0 ? "{\"index\":" : "]},{\"index\":");
      cpc__jt_int(&t, idx);
      cpc__jt_lit(&t, ",\"cid\":");
      txt = NULL;
      cpc_sql_column_text(q, LOC_CID, &txt, &l);
      cpc__jt_str(&t, txt ? txt : "");
      cpc__jt_lit(&t, ",\"size\":");
      cpc__jt_int(&t, cpc__q_col_int(q, LOC_SIZE, 0));
      cpc__jt_lit(&t, ",\"providers\":[");
      cur_idx = idx;
      first_provider = 1;
    }
    if (cpc_sql_column_is_null(q, LOC_NODE) == 0) {
      char node[CPC_PEER_ID_MAX_TEXT];
      const char *dial = NULL;
      cpc__q_text(q, LOC_NODE, node, sizeof node);
      cpc__jt_lit(&t, first_provider ? "{\"peer_id\":" : ",{\"peer_id\":");
      first_provider = 0;
      cpc__jt_str(&t, node);
      cpc__jt_lit(&t, ",\"addrs\":");
      cpc_sql_column_text(q, LOC_DIAL, &dial, &l);
      if (dial && dial[0] == '[') {
        cpc__jt_lit(&t, dial);
      } else { /* registered before dial_addrs existed */
        const char *addrs = NULL;
        char *made;
        cpc_sql_column_text(q, LOC_ADDRS, &addrs, &l);
        made = cpc__orch_dial_addrs(addrs, node);
        jt_array(&t, made);
        free(made);
      }
      cpc__jt_lit(&t, "}");
    }
  }
  if (rc < 0)
    goto fail;
  if (!ok) {
    cpc_http_respond_error(req, 404, "not_found", "no such content");
    goto out;
  }
  cpc__jt_lit(&t, "]}]}");
  if (t.oom) {
    cpc_http_respond_error(req, 500, "internal", "out of memory");
    goto out;
  }
  cpc_http_respond(req, 200, "application/json", t.p, t.len);
  goto out;
fail:
  cpc__rest_fail(req, rc);
out:
  cpc__jt_free(&t);
  cpc_sql_finalize(q);
  cpc__rest_db_put(r, db);
  return 0;
}

/* q with LIKE wildcards escaped (\ as escape), wrapped in %…%, lower-case. */
static void like_pattern(const char *q, char *out, size_t cap) {
  size_t o = 0;
  out[o++] = '%';
  for (; *q && o + 3 < cap; q++) {
    char c = *q;
    if (c == '%' || c == '_' || c == '\\')
      out[o++] = '\\';
    out[o++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
  }
  out[o++] = '%';
  out[o] = '\0';
}

static int search(cpc_http_request *req, void *ctx) {
  cpc__rest *r = ctx;
  char me[CPC_PEER_ID_MAX_TEXT], key[CPC__REST_MAX_KEY + 1],
      owner[CPC_PEER_ID_MAX_TEXT] = "", pat[2 * 512 + 4],
      last[CPC__MAX_CID_TEXT + 1] = "";
  const char *caller = cpc__rest_caller(req, me, sizeof me);
  const char *q = cpc_http_request_query(req, "q");
  const char *ow = cpc_http_request_query(req, "owner");
  const char *tag = cpc_http_request_query(req, "tag");
  cpc_sql *db = NULL;
  cpc_sql_stmt *st = NULL;
  json_t *items = NULL;
  int64_t limit, n = 0;
  int rc;

  if (cpc__rest_page_args(req, &limit, key, sizeof key) != 0)
    return 0;
  if (q && strlen(q) > 256)
    return bad(req, "q", "must be at most 256 bytes"), 0;
  if (tag && strlen(tag) > MAX_TAG)
    return bad(req, "tag", "must be at most 64 bytes"), 0;
  if (ow && *ow && cpc__rest_peer_text(ow, owner, sizeof owner) != 0)
    return bad(req, "owner", "must be a PeerId"), 0;
  like_pattern(q ? q : "", pat, sizeof pat);
  db = cpc__rest_db_get(r);
  if (!db)
    return cpc__rest_fail(req, CPC_EIO);
  rc = cpc__q_prepare(
      db, &st,
      "SELECT " SUMMARY_COLS " FROM content WHERE state = 0 "
      "AND content_id > $1 "
      "AND (access_control = 0 OR owner = $2 OR (access_control = 1 AND "
      "EXISTS (SELECT 1 FROM follows f WHERE f.follower = $2 AND "
      "f.followee = content.owner))) "
      "AND ($3 = '' OR owner = $3) "
      "AND ($4 = '' OR EXISTS (SELECT 1 FROM content_tags t WHERE "
      "t.content_id = content.content_id AND t.tag = $4)) "
      "AND ($5 = '%%' OR lower(name) LIKE $5 ESCAPE '\\' OR "
      "lower(description) LIKE $5 ESCAPE '\\') "
      "ORDER BY content_id LIMIT $6",
      "sssssi", key, caller ? caller : "", owner, tag ? tag : "", pat,
      limit + 1);
  items = json_array();
  while (rc == 0 && (rc = cpc_sql_step(st)) == CPC_SQL_ROW) {
    rc = 0;
    if (n++ == limit)
      break;
    cpc__q_text(st, 0, last, sizeof last);
    json_array_append_new(items, cpc__rest_summary(st));
  }
  if (rc < 0) {
    cpc__rest_fail(req, rc);
    goto out;
  }
  cpc_http_respond_json(req, 200,
                        json_pack("{s:O, s:o}", "items", items, "next_cursor",
                                  n > limit ? cpc__rest_cursor(last)
                                            : json_null()));
out:
  json_decref(items);
  cpc_sql_finalize(st);
  cpc__rest_db_put(r, db);
  return 0;
}

int cpc__rest_content_routes(cpc_http_router *rt, cpc__rest *r) {
  int rc = cpc_http_router_add(rt, "POST", "/v1/content",
                               CPC_HTTP_AUTH_REQUIRED, post_content, r);
  if (rc == 0)
    rc = cpc_http_router_add(rt, "GET", "/v1/content/{cid}",
                             CPC_HTTP_AUTH_OPTIONAL, get_content, r);
  if (rc == 0)
    rc = cpc_http_router_add(rt, "DELETE", "/v1/content/{cid}",
                             CPC_HTTP_AUTH_REQUIRED, delete_content, r);
  if (rc == 0)
    rc = cpc_http_router_add(rt, "GET", "/v1/content/{cid}/locate",
                             CPC_HTTP_AUTH_OPTIONAL, locate, r);
  if (rc == 0)
    rc = cpc_http_router_add(rt, "GET", "/v1/search", CPC_HTTP_AUTH_OPTIONAL,
                             search, r);
  return rc;
}
