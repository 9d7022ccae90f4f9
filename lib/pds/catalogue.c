/*
 * catalogue.c: the PDS's local catalogue in SQLite (DATA/pds.db): own
 * content with its blocks and the content key sealed for the owner, who
 * holds wrapped keys, the LRU order of cached blocks, verified keys of
 * other users, and a few settings. One connection, used under a mutex by
 * whichever thread asks.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "pds/pds_int.h"

struct cpc__pds_cat {
  pthread_mutex_t mu;
  cpc_sql *db;
};

static const cpc_sql_migration MIGRATIONS[] = {
    {1, "pds catalogue",
     "CREATE TABLE items (content_id TEXT PRIMARY KEY, name TEXT NOT NULL, "
     "size BIGINT NOT NULL, created_at BIGINT NOT NULL, access SMALLINT NOT "
     "NULL, replicas BIGINT NOT NULL, replicated BIGINT NOT NULL, state "
     "SMALLINT NOT NULL, sealed_key BYTEA NOT NULL, error TEXT NOT NULL);"
     "CREATE TABLE item_blocks (content_id TEXT NOT NULL REFERENCES items "
     "(content_id) ON DELETE CASCADE, idx BIGINT NOT NULL, cid TEXT NOT NULL, "
     "size BIGINT NOT NULL, PRIMARY KEY (content_id, idx));"
     "CREATE INDEX item_blocks_cid ON item_blocks (cid);"
     "CREATE TABLE readers (content_id TEXT NOT NULL REFERENCES items "
     "(content_id) ON DELETE CASCADE, reader TEXT NOT NULL, PRIMARY KEY "
     "(content_id, reader));"
     "CREATE TABLE cache (cid TEXT PRIMARY KEY, size BIGINT NOT NULL, "
     "last_used BIGINT NOT NULL);"
     "CREATE INDEX cache_lru ON cache (last_used);"
     "CREATE TABLE user_keys (peer_id TEXT PRIMARY KEY, x25519 BYTEA NOT "
     "NULL);"
     "CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);",
     NULL, NULL},
};

int cpc__pds_cat_open(const char *path, cpc__pds_cat **out, char *err,
                      size_t cap) {
  cpc__pds_cat *c = calloc(1, sizeof *c);
  char url[CPC_PDS_MAX_PATH + 16], *msg = NULL;
  int rc;

  if (!c)
    return CPC_ENOMEM;
  pthread_mutex_init(&c->mu, NULL);
  snprintf(url, sizeof url, "sqlite:%s", path);
  rc = cpc_sql_open(url, &c->db, &msg);
  if (rc != 0) {
    snprintf(err, cap, "cannot open the catalogue %s: %s", path,
             msg ? msg : cpc_strerror(rc));
    free(msg);
    goto fail;
  }
  rc = cpc_sql_migrate(c->db, MIGRATIONS,
                       sizeof MIGRATIONS / sizeof MIGRATIONS[0], NULL);
  if (rc != 0) {
    snprintf(err, cap, "catalogue %s: %s (%s)", path, cpc_strerror(rc),
             cpc_sql_errmsg(c->db));
    goto fail;
  }
  *out = c;
  return 0;
fail:
  cpc__pds_cat_close(c);
  return rc;
}

void cpc__pds_cat_close(cpc__pds_cat *c) {
  if (!c)
    return;
  cpc_sql_close(c->db);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

/* Prepare sql and bind args: 's' text, 'i' int64, 'b' blob (ptr, len). */
static int prep(cpc_sql *db, cpc_sql_stmt **st, const char *sql,
                const char *types, ...) {
  va_list ap;
  int rc, i;
  rc = cpc_sql_prepare(db, sql, st);
  if (rc != 0)
    return rc;
  va_start(ap, types);
  for (i = 0; types[i] && rc == 0; i++) {
    if (types[i] == 's')
      rc = cpc_sql_bind_str(*st, i + 1, va_arg(ap, const char *));
    else if (types[i] == 'i')
      rc = cpc_sql_bind_int64(*st, i + 1, va_arg(ap, int64_t));
    else {
      const void *p = va_arg(ap, const void *);
      size_t n = va_arg(ap, size_t);
      rc = cpc_sql_bind_blob(*st, i + 1, p, n);
    }
  }
  va_end(ap);
  if (rc != 0) {
    cpc_sql_finalize(*st);
    *st = NULL;
  }
  return rc;
}

/* Run a statement without rows. */
#define RUN(c, sql, ...)                                                       \
  do {                                                                         \
    cpc_sql_stmt *st_ = NULL;                                                  \
    rc = prep((c)->db, &st_, sql, __VA_ARGS__);                                \
    if (rc == 0) {                                                             \
      rc = cpc_sql_step(st_);                                                  \
      if (rc > 0)                                                              \
        rc = 0;                                                                \
    }                                                                          \
    cpc_sql_finalize(st_);                                                     \
  } while (0)

static int64_t col_int(cpc_sql_stmt *st, int col) {
  int64_t v = 0;
  cpc_sql_column_int64(st, col, &v);
  return v;
}

static void col_text(cpc_sql_stmt *st, int col, char *out, size_t cap) {
  const char *s = NULL;
  size_t l = 0;
  out[0] = '\0';
  if (cpc_sql_column_text(st, col, &s, &l) == 0 && s) {
    if (l >= cap)
      l = cap - 1;
    memcpy(out, s, l);
    out[l] = '\0';
  }
}

typedef struct add_args {
  const cpc__pds_item *it;
  const cpc__pds_block *b;
  size_t n;
} add_args;

static int add_txn(cpc_sql *db, void *arg) {
  add_args *a = arg;
  cpc_sql_stmt *st = NULL;
  char cid[CPC__PDS_CID_TEXT];
  size_t i;
  int rc;

  rc = prep(db, &st,
            "INSERT INTO items (content_id, name, size, created_at, access, "
            "replicas, replicated, state, sealed_key, error) VALUES ($1, $2, "
            "$3, $4, $5, $6, 0, $7, $8, '')",
            "ssiiiiib", a->it->content_id, a->it->name, (int64_t)a->it->size,
            a->it->created_at, (int64_t)a->it->access,
            (int64_t)a->it->replicas, (int64_t)a->it->state, a->it->sealed,
            (size_t)CPC_SEALED_KEY_LEN);
  if (rc == 0)
    rc = cpc_sql_step(st);
  cpc_sql_finalize(st);
  if (rc < 0)
    return rc;
  rc = cpc_sql_prepare(db,
                       "INSERT INTO item_blocks (content_id, idx, cid, size) "
                       "VALUES ($1, $2, $3, $4)",
                       &st);
  if (rc == 0)
    rc = cpc_sql_bind_str(st, 1, a->it->content_id);
  for (i = 0; i < a->n && rc == 0; i++) {
    rc = cpc_cid_format(&a->b[i].cid, CPC_MB_BASE32, cid, sizeof cid);
    if (rc == 0)
      rc = cpc_sql_reset(st);
    if (rc == 0)
      rc = cpc_sql_bind_int64(st, 2, (int64_t)i);
    if (rc == 0)
      rc = cpc_sql_bind_str(st, 3, cid);
    if (rc == 0)
      rc = cpc_sql_bind_int64(st, 4, a->b[i].size);
    if (rc == 0)
      rc = cpc_sql_step(st);
    if (rc > 0)
      rc = 0;
  }
  cpc_sql_finalize(st);
  return rc;
}

int cpc__pds_cat_add(cpc__pds_cat *c, const cpc__pds_item *it,
                     const cpc__pds_block *blocks, size_t n) {
  add_args a = {it, blocks, n};
  int rc;
  pthread_mutex_lock(&c->mu);
  rc = cpc_sql_transact(c->db, add_txn, &a);
  pthread_mutex_unlock(&c->mu);
  return rc;
}

#define ITEM_COLS                                                              \
  "i.content_id, i.name, i.size, i.created_at, i.access, i.replicas, "        \
  "i.replicated, i.state, i.sealed_key, i.error, "                            \
  "(SELECT count(*) FROM item_blocks b WHERE b.content_id = i.content_id), " \
  "(SELECT COALESCE(sum(size), 0) FROM item_blocks b WHERE b.content_id = "  \
  "i.content_id)"

static void read_item(cpc_sql_stmt *st, cpc__pds_item *it) {
  const void *k = NULL;
  size_t kl = 0;
  memset(it, 0, sizeof *it);
  col_text(st, 0, it->content_id, sizeof it->content_id);
  col_text(st, 1, it->name, sizeof it->name);
  it->size = (uint64_t)col_int(st, 2);
  it->created_at = col_int(st, 3);
  it->access = (enum cpc_access_control)col_int(st, 4);
  it->replicas = (uint32_t)col_int(st, 5);
  it->replicated = (uint32_t)col_int(st, 6);
  it->state = (int)col_int(st, 7);
  if (cpc_sql_column_blob(st, 8, &k, &kl) == 0 && kl == CPC_SEALED_KEY_LEN)
    memcpy(it->sealed, k, kl);
  col_text(st, 9, it->error, sizeof it->error);
  it->blocks = (uint64_t)col_int(st, 10);
  it->block_bytes = (uint64_t)col_int(st, 11);
}

int cpc__pds_cat_get(cpc__pds_cat *c, const char *content_id,
                     cpc__pds_item *it) {
  cpc_sql_stmt *st = NULL;
  int rc;
  pthread_mutex_lock(&c->mu);
  rc = prep(c->db, &st,
            "SELECT " ITEM_COLS " FROM items i WHERE i.content_id = $1", "s",
            content_id);
  if (rc == 0)
    rc = cpc_sql_step(st);
  if (rc == CPC_SQL_ROW) {
    read_item(st, it);
    rc = 0;
  } else if (rc == CPC_SQL_DONE)
    rc = CPC_ENOENT;
  cpc_sql_finalize(st);
  pthread_mutex_unlock(&c->mu);
  return rc;
}

int cpc__pds_cat_list(cpc__pds_cat *c, int state, cpc__pds_item **out,
                      size_t *n) {
  cpc_sql_stmt *st = NULL;
  cpc__pds_item *a = NULL, *na;
  size_t len = 0, capn = 0;
  int rc;
  pthread_mutex_lock(&c->mu);
  rc = prep(c->db, &st,
            "SELECT " ITEM_COLS " FROM items i WHERE ($1 = 0 OR i.state = $1) "
            "ORDER BY i.created_at, i.content_id",
            "i", (int64_t)state);
  while (rc == 0 && (rc = cpc_sql_step(st)) == CPC_SQL_ROW) {
    rc = 0;
    if (len == capn) {
      capn = capn ? capn * 2 : 16;
      na = realloc(a, capn * sizeof *a);
      if (!na) {
        rc = CPC_ENOMEM;
        break;
      }
      a = na;
    }
    read_item(st, &a[len++]);
  }
  cpc_sql_finalize(st);
  pthread_mutex_unlock(&c->mu);
  if (rc < 0) {
    free(a);
    return rc;
  }
  *out = a;
  *n = len;
  return 0;
}

int cpc__pds_cat_set_state(cpc__pds_cat *c, const char *content_id, int state,
                           const char *error) {
  int rc;
  pthread_mutex_lock(&c->mu);
  RUN(c, "UPDATE items SET state = $1, error = $2 WHERE content_id = $3",
      "iss", (int64_t)state, error ? error : "", content_id);
  pthread_mutex_unlock(&c->mu);
  return rc;
}

int cpc__pds_cat_set_replicated(cpc__pds_cat *c, const char *content_id,
                                uint32_t replicated) {
  int rc;
  pthread_mutex_lock(&c->mu);
  RUN(c, "UPDATE items SET replicated = $1 WHERE content_id = $2", "is",
      (int64_t)replicated, content_id);
  pthread_mutex_unlock(&c->mu);
  return rc;
}

int cpc__pds_cat_remove(cpc__pds_cat *c, const char *content_id) {
  int rc;
  pthread_mutex_lock(&c->mu);
  RUN(c, "DELETE FROM items WHERE content_id = $1", "s", content_id);
  pthread_mutex_unlock(&c->mu);
  return rc;
}

int cpc__pds_cat_blocks(cpc__pds_cat *c, const char *content_id,
                        cpc__pds_block **out, size_t *n) {
  cpc_sql_stmt *st = NULL;
  cpc__pds_block *a = NULL, *na;
  size_t len = 0, capn = 0;
  char cid[CPC__PDS_CID_TEXT];
  int rc;
  pthread_mutex_lock(&c->mu);
  rc = prep(c->db, &st,
            "SELECT cid, size FROM item_blocks WHERE content_id = $1 ORDER BY "
            "idx",
            "s", content_id);
  while (rc == 0 && (rc = cpc_sql_step(st)) == CPC_SQL_ROW) {
    rc = 0;
    if (len == capn) {
      capn = capn ? capn * 2 : 64;
      na = realloc(a, capn * sizeof *a);
      if (!na) {
        rc = CPC_ENOMEM;
        break;
      }
      a = na;
    }
    col_text(st, 0, cid, sizeof cid);
    if (cpc_cid_parse(cid, &a[len].cid) != 0) {
      rc = CPC_EMALFORMED;
      break;
    }
    a[len++].size = (uint32_t)col_int(st, 1);
  }
  cpc_sql_finalize(st);
  pthread_mutex_unlock(&c->mu);
  if (rc == 0 && len == 0)
    rc = CPC_ENOENT;
  if (rc < 0) {
    free(a);
    return rc;
  }
  *out = a;
  *n = len;
  return 0;
}

int cpc__pds_cat_block_owned(cpc__pds_cat *c, const cpc_cid *cid,
                             const char *except) {
  cpc_sql_stmt *st = NULL;
  char t[CPC__PDS_CID_TEXT];
  int rc, found = 0;
  if (cpc_cid_format(cid, CPC_MB_BASE32, t, sizeof t) != 0)
    return 0;
  pthread_mutex_lock(&c->mu);
  rc = prep(c->db, &st,
            "SELECT 1 FROM item_blocks WHERE cid = $1 AND content_id <> $2 "
            "LIMIT 1",
            "ss", t, except ? except : "");
  if (rc == 0 && cpc_sql_step(st) == CPC_SQL_ROW)
    found = 1;
  cpc_sql_finalize(st);
  pthread_mutex_unlock(&c->mu);
  return found;
}

int cpc__pds_cat_reader_add(cpc__pds_cat *c, const char *content_id,
                            const char *reader) {
  int rc;
  pthread_mutex_lock(&c->mu);
  RUN(c,
      "INSERT INTO readers (content_id, reader) VALUES ($1, $2) ON CONFLICT "
      "(content_id, reader) DO NOTHING",
      "ss", content_id, reader);
  pthread_mutex_unlock(&c->mu);
  return rc;
}

int cpc__pds_cat_reader_has(cpc__pds_cat *c, const char *content_id,
                            const char *reader) {
  cpc_sql_stmt *st = NULL;
  int found = 0;
  pthread_mutex_lock(&c->mu);
  if (prep(c->db, &st,
           "SELECT 1 FROM readers WHERE content_id = $1 AND reader = $2", "ss",
           content_id, reader) == 0 &&
      cpc_sql_step(st) == CPC_SQL_ROW)
    found = 1;
  cpc_sql_finalize(st);
  pthread_mutex_unlock(&c->mu);
  return found;
}

int cpc__pds_cat_cache_touch(cpc__pds_cat *c, const cpc_cid *cid,
                             uint64_t size, int64_t now_ms) {
  char t[CPC__PDS_CID_TEXT];
  int rc = cpc_cid_format(cid, CPC_MB_BASE32, t, sizeof t);
  if (rc != 0)
    return rc;
  pthread_mutex_lock(&c->mu);
  RUN(c,
      "INSERT INTO cache (cid, size, last_used) VALUES ($1, $2, $3) ON "
      "CONFLICT (cid) DO UPDATE SET last_used = excluded.last_used",
      "sii", t, (int64_t)size, now_ms);
  pthread_mutex_unlock(&c->mu);
  return rc;
}

int cpc__pds_cat_cache_oldest(cpc__pds_cat *c, cpc_cid *cid, uint64_t *size) {
  cpc_sql_stmt *st = NULL;
  char t[CPC__PDS_CID_TEXT];
  int rc;
  pthread_mutex_lock(&c->mu);
  rc = prep(c->db, &st,
            "SELECT cid, size FROM cache ORDER BY last_used, cid LIMIT 1", "");
  if (rc == 0)
    rc = cpc_sql_step(st);
  if (rc == CPC_SQL_ROW) {
    col_text(st, 0, t, sizeof t);
    *size = (uint64_t)col_int(st, 1);
    rc = cpc_cid_parse(t, cid);
  } else if (rc == CPC_SQL_DONE)
    rc = CPC_ENOENT;
  cpc_sql_finalize(st);
  pthread_mutex_unlock(&c->mu);
  return rc;
}

int cpc__pds_cat_cache_remove(cpc__pds_cat *c, const cpc_cid *cid) {
  char t[CPC__PDS_CID_TEXT];
  int rc = cpc_cid_format(cid, CPC_MB_BASE32, t, sizeof t);
  if (rc != 0)
    return rc;
  pthread_mutex_lock(&c->mu);
  RUN(c, "DELETE FROM cache WHERE cid = $1", "s", t);
  pthread_mutex_unlock(&c->mu);
  return rc;
}

int cpc__pds_cat_cache_stats(cpc__pds_cat *c, uint64_t *count,
                             uint64_t *bytes) {
  cpc_sql_stmt *st = NULL;
  int rc;
  pthread_mutex_lock(&c->mu);
  rc = prep(c->db, &st, "SELECT count(*), COALESCE(sum(size), 0) FROM cache",
            "");
  if (rc == 0 && (rc = cpc_sql_step(st)) == CPC_SQL_ROW) {
    *count = (uint64_t)col_int(st, 0);
    *bytes = (uint64_t)col_int(st, 1);
    rc = 0;
  }
  cpc_sql_finalize(st);
  pthread_mutex_unlock(&c->mu);
  return rc < 0 ? rc : 0;
}

int cpc__pds_cat_setting_get(cpc__pds_cat *c, const char *key, char *out,
                             size_t cap) {
  cpc_sql_stmt *st = NULL;
  int rc;
  out[0] = '\0';
  pthread_mutex_lock(&c->mu);
  rc = prep(c->db, &st, "SELECT value FROM settings WHERE name = $1", "s",
            key);
  if (rc == 0 && (rc = cpc_sql_step(st)) == CPC_SQL_ROW) {
    col_text(st, 0, out, cap);
    rc = 0;
  }
  cpc_sql_finalize(st);
  pthread_mutex_unlock(&c->mu);
  return rc < 0 ? rc : 0;
}

int cpc__pds_cat_setting_set(cpc__pds_cat *c, const char *key,
                             const char *value) {
  int rc;
  pthread_mutex_lock(&c->mu);
  RUN(c,
      "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) "
      "DO UPDATE SET value = excluded.value",
      "ss", key, value);
  pthread_mutex_unlock(&c->mu);
  return rc;
}

int cpc__pds_cat_user_key_get(cpc__pds_cat *c, const char *peer,
                              uint8_t key[CPC_X25519_KEY_LEN]) {
  cpc_sql_stmt *st = NULL;
  const void *k;
  size_t kl;
  int rc;
  pthread_mutex_lock(&c->mu);
  rc = prep(c->db, &st, "SELECT x25519 FROM user_keys WHERE peer_id = $1", "s",
            peer);
  if (rc == 0)
    rc = cpc_sql_step(st);
  if (rc == CPC_SQL_ROW && cpc_sql_column_blob(st, 0, &k, &kl) == 0 &&
      kl == CPC_X25519_KEY_LEN) {
    memcpy(key, k, kl);
    rc = 0;
  } else if (rc >= 0)
    rc = CPC_ENOENT;
  cpc_sql_finalize(st);
  pthread_mutex_unlock(&c->mu);
  return rc;
}

int cpc__pds_cat_user_key_set(cpc__pds_cat *c, const char *peer,
                              const uint8_t key[CPC_X25519_KEY_LEN]) {
  int rc;
  pthread_mutex_lock(&c->mu);
  RUN(c,
      "INSERT INTO user_keys (peer_id, x25519) VALUES ($1, $2) ON CONFLICT "
      "(peer_id) DO UPDATE SET x25519 = excluded.x25519",
      "sb", peer, (const void *)key, (size_t)CPC_X25519_KEY_LEN);
  pthread_mutex_unlock(&c->mu);
  return rc;
}

int cpc__pds_cat_known_blocks(cpc__pds_cat *c,
                              int (*fn)(void *arg, const char *cid),
                              void *arg) {
  cpc_sql_stmt *st = NULL;
  char t[CPC__PDS_CID_TEXT];
  int rc;
  pthread_mutex_lock(&c->mu);
  rc = prep(c->db, &st,
            "SELECT cid FROM item_blocks UNION SELECT cid FROM cache", "");
  while (rc == 0 && (rc = cpc_sql_step(st)) == CPC_SQL_ROW) {
    col_text(st, 0, t, sizeof t);
    rc = fn(arg, t);
  }
  cpc_sql_finalize(st);
  pthread_mutex_unlock(&c->mu);
  return rc < 0 ? rc : 0;
}
