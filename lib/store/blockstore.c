/*
 * blockstore.c: open/close, put, get, has, size, delete, quota and stats of
 * the LMDB block store (see cpc/blockstore.h and blockstore_int.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "cpc/blockstore.h"
#include "cpc/error.h"
#include "store/blockstore_int.h"

/*
 * The LMDB map is address space, not disk: the file only grows as pages are
 * written. Ask for 1 TiB and halve while the system refuses the mapping
 * (ulimit -v, 32-bit), down to 256 MiB.
 */
#define MAP_SIZE_WANT ((uint64_t)1 << 40)
#define MAP_SIZE_MIN ((uint64_t)256 << 20)

#define KNOWN_FLAGS (CPC_BLOCKSTORE_NOSYNC | CPC_BLOCKSTORE_NOCREATE)

int cpc__bs_err(int mdb_rc) {
  switch (mdb_rc) {
  case MDB_SUCCESS: return 0;
  case MDB_NOTFOUND: return CPC_ENOENT;
  case MDB_MAP_FULL:
  case MDB_TXN_FULL:
  case ENOSPC:
#ifdef EDQUOT
  case EDQUOT:
#endif
    return CPC_ENOSPC;
  case ENOMEM: return CPC_ENOMEM;
  case ENOENT: return CPC_ENOENT;
  case EACCES:
  case EPERM:
  case EROFS: return CPC_EPERM;
  case MDB_READERS_FULL:
  case EAGAIN: return CPC_EAGAIN;
  case MDB_INVALID:
  case MDB_CORRUPTED:
  case MDB_PAGE_NOTFOUND:
  case MDB_INCOMPATIBLE:
  case MDB_BAD_VALSIZE: return CPC_EMALFORMED;
  case MDB_VERSION_MISMATCH: return CPC_EUNSUPPORTED;
  default: return CPC_EIO;
  }
}

static void u64_to_le(uint64_t v, uint8_t out[8]) {
  for (int i = 0; i < 8; i++)
    out[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t u64_from_le(const uint8_t in[8]) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | in[i];
  return v;
}

/* Read meta key name into *v (0 if absent). */
static int meta_get(const cpc_blockstore *bs, MDB_txn *txn, const char *name,
                    uint64_t *v) {
  MDB_val k = {strlen(name), (void *)name}, d;
  int rc = mdb_get(txn, bs->meta, &k, &d);
  *v = 0;
  if (rc == MDB_NOTFOUND)
    return 0;
  if (rc != 0)
    return cpc__bs_err(rc);
  if (d.mv_size != 8)
    return CPC_EMALFORMED;
  *v = u64_from_le(d.mv_data);
  return 0;
}

static int meta_put(const cpc_blockstore *bs, MDB_txn *txn, const char *name,
                    uint64_t v) {
  uint8_t buf[8];
  MDB_val k = {strlen(name), (void *)name}, d = {sizeof buf, buf};
  u64_to_le(v, buf);
  return cpc__bs_err(mdb_put(txn, bs->meta, &k, &d, 0));
}

int cpc__bs_meta_load(const cpc_blockstore *bs, MDB_txn *txn,
                      struct cpc__bs_meta *m) {
  int rc = meta_get(bs, txn, "count", &m->count);
  if (rc == 0)
    rc = meta_get(bs, txn, "bytes", &m->bytes);
  if (rc == 0)
    rc = meta_get(bs, txn, "quota", &m->quota);
  return rc;
}

int cpc__bs_meta_store(const cpc_blockstore *bs, MDB_txn *txn,
                       const struct cpc__bs_meta *m) {
  int rc = meta_put(bs, txn, "count", m->count);
  if (rc == 0)
    rc = meta_put(bs, txn, "bytes", m->bytes);
  if (rc == 0)
    rc = meta_put(bs, txn, "quota", m->quota);
  return rc;
}

int cpc__bs_del_record(const cpc_blockstore *bs, MDB_txn *txn, MDB_val *key,
                       struct cpc__bs_meta *m) {
  MDB_val val;
  int rc = mdb_get(txn, bs->blocks, key, &val);
  if (rc != 0)
    return cpc__bs_err(rc);
  size_t len = val.mv_size;
  rc = mdb_del(txn, bs->blocks, key, NULL);
  if (rc != 0)
    return cpc__bs_err(rc);
  /* Clamp rather than wrap if a damaged store undercounted. */
  m->count = m->count > 0 ? m->count - 1 : 0;
  m->bytes = m->bytes >= len ? m->bytes - len : 0;
  return 0;
}

/* mkdir -p dir, mode 0700 for what it creates. */
static int make_dirs(const char *dir) {
  char *path = strdup(dir);
  int rc = 0;
  if (path == NULL)
    return CPC_ENOMEM;
  for (char *p = path + 1;; p++) {
    if (*p != '/' && *p != '\0')
      continue;
    char c = *p;
    *p = '\0';
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
      rc = cpc__bs_err(errno);
      break;
    }
    *p = c;
    if (c == '\0')
      break;
  }
  free(path);
  return rc;
}

/* mdb_env_open with the largest map the system grants. */
static int env_open(const char *dir, unsigned flags, MDB_env **out) {
  unsigned mdb_flags = MDB_NOTLS;
  int rc = 0;
  if (flags & CPC_BLOCKSTORE_NOSYNC)
    mdb_flags |= MDB_NOSYNC;
  for (uint64_t map = MAP_SIZE_WANT; map >= MAP_SIZE_MIN; map /= 2) {
    MDB_env *env = NULL;
    if (map > SIZE_MAX)
      continue;
    rc = mdb_env_create(&env);
    if (rc == 0)
      rc = mdb_env_set_maxdbs(env, 2);
    if (rc == 0)
      rc = mdb_env_set_mapsize(env, (size_t)map);
    if (rc == 0)
      rc = mdb_env_open(env, dir, mdb_flags, 0600);
    if (rc == 0) {
      *out = env;
      return 0;
    }
    if (env != NULL)
      mdb_env_close(env);
    if (rc != ENOMEM)
      break;
  }
  return cpc__bs_err(rc);
}

/* Open the two databases, creating them and the format record if new. */
static int open_dbs(cpc_blockstore *bs) {
  MDB_txn *txn = NULL;
  uint64_t format;
  int rc = cpc__bs_err(mdb_txn_begin(bs->env, NULL, 0, &txn));
  if (rc != 0)
    return rc;
  rc = cpc__bs_err(mdb_dbi_open(txn, "blocks", MDB_CREATE, &bs->blocks));
  if (rc == 0)
    rc = cpc__bs_err(mdb_dbi_open(txn, "meta", MDB_CREATE, &bs->meta));
  if (rc == 0)
    rc = meta_get(bs, txn, "format", &format);
  if (rc != 0)
    goto out;
  if (format == 0) {
    MDB_stat st;
    rc = cpc__bs_err(mdb_stat(txn, bs->blocks, &st));
    if (rc == 0 && st.ms_entries != 0)
      rc = CPC_EMALFORMED; /* blocks without a format record */
    if (rc == 0)
      rc = meta_put(bs, txn, "format", CPC__BS_FORMAT);
  } else if (format != CPC__BS_FORMAT) {
    rc = CPC_EUNSUPPORTED;
  }
  if (rc != 0)
    goto out;
  rc = cpc__bs_err(mdb_txn_commit(txn));
  txn = NULL;
out:
  if (txn != NULL)
    mdb_txn_abort(txn);
  return rc;
}

int cpc_blockstore_open(const char *dir, unsigned flags, cpc_blockstore **out) {
  cpc_blockstore *bs = NULL;
  struct stat st;
  int rc, dead;

  if (dir == NULL || out == NULL || (flags & ~KNOWN_FLAGS) != 0 ||
      dir[0] == '\0')
    return CPC_EINVAL;
  *out = NULL;
  if (stat(dir, &st) != 0) {
    if (errno != ENOENT || (flags & CPC_BLOCKSTORE_NOCREATE))
      return cpc__bs_err(errno);
    rc = make_dirs(dir);
    if (rc != 0)
      return rc;
  } else if (!S_ISDIR(st.st_mode)) {
    return CPC_EMALFORMED;
  }
  bs = calloc(1, sizeof *bs);
  if (bs == NULL)
    return CPC_ENOMEM;
  bs->flags = flags;
  cpc__bs_writer_init(bs);
  bs->dir = strdup(dir);
  if (bs->dir == NULL) {
    rc = CPC_ENOMEM;
    goto out;
  }
  rc = env_open(dir, flags, &bs->env);
  if (rc != 0)
    goto out;
  /* Free the reader slots of processes that were killed mid-read. */
  rc = cpc__bs_err(mdb_reader_check(bs->env, &dead));
  if (rc == 0)
    rc = open_dbs(bs);
out:
  if (rc != 0) {
    cpc__bs_writer_close(bs);
    if (bs->env != NULL)
      mdb_env_close(bs->env);
    free(bs->dir);
    free(bs);
    return rc;
  }
  *out = bs;
  return 0;
}

void cpc_blockstore_close(cpc_blockstore *bs) {
  if (bs == NULL)
    return;
  cpc__bs_writer_close(bs); /* commits what is queued */
  if (bs->flags & CPC_BLOCKSTORE_NOSYNC)
    (void)mdb_env_sync(bs->env, 1);
  mdb_env_close(bs->env);
  free(bs->dir);
  free(bs);
}

int cpc_blockstore_sync(cpc_blockstore *bs) {
  if (bs == NULL)
    return CPC_EINVAL;
  cpc__bs_writer_flush(bs);
  return mdb_env_sync(bs->env, 1) == 0 ? 0 : CPC_EIO;
}

int cpc_blockstore_flush(cpc_blockstore *bs) {
  if (bs == NULL)
    return CPC_EINVAL;
  cpc__bs_writer_flush(bs);
  return 0;
}

/*
 * LMDB reports a short write as EIO, and a write that fills the disk is
 * often short. 1 if the file system of the store has less room than len
 * plus a margin for LMDB's pages.
 */
static int disk_nearly_full(const cpc_blockstore *bs, size_t len) {
  struct statvfs vfs;
  if (statvfs(bs->dir, &vfs) != 0)
    return 0;
  return (uint64_t)vfs.f_bavail * vfs.f_frsize < (uint64_t)len + (1u << 20);
}

/* The store key of cid: its binary multihash, into buf. */
static int cid_key(const cpc_cid *cid, uint8_t buf[CPC_MH_MAX_LEN],
                   MDB_val *key) {
  size_t n;
  int rc = cpc_multihash_encode(&cid->mh, buf, CPC_MH_MAX_LEN, &n);
  if (rc != 0)
    return CPC_EINVAL;
  key->mv_data = buf;
  key->mv_size = n;
  return 0;
}

#define KNOWN_PUT_FLAGS (CPC_BLOCKSTORE_PUT_VERIFIED | CPC_BLOCKSTORE_PUT_CACHE)

/* A cached put: nothing to do if the block is stored or queued, else
 * check the quota (stored + queued) and queue it. */
static int put_cached(cpc_blockstore *bs, const MDB_val *key, const void *data,
                      size_t len) {
  MDB_txn *txn = NULL;
  MDB_val old;
  struct cpc__bs_meta m;
  uint64_t qn, qbytes, qdropped;
  int rc = cpc__bs_err(mdb_txn_begin(bs->env, NULL, MDB_RDONLY, &txn));
  if (rc != 0)
    return rc;
  rc = mdb_get(txn, bs->blocks, (MDB_val *)key, &old);
  if (rc == 0) {
    mdb_txn_abort(txn);
    return 0;
  }
  rc = rc == MDB_NOTFOUND ? cpc__bs_meta_load(bs, txn, &m) : cpc__bs_err(rc);
  mdb_txn_abort(txn);
  if (rc != 0)
    return rc;
  cpc__bs_writer_stats(bs, &qn, &qbytes, &qdropped);
  /* qbytes may count a queued copy of this block: harmless */
  if (cpc__bs_over_quota(&m, qbytes, len))
    return CPC_ENOSPC;
  return cpc__bs_writer_put(bs, key, data, len);
}

int cpc_blockstore_put(cpc_blockstore *bs, const cpc_cid *cid, const void *data,
                       size_t len) {
  return cpc_blockstore_put_flags(bs, cid, data, len, 0);
}

int cpc_blockstore_put_flags(cpc_blockstore *bs, const cpc_cid *cid,
                             const void *data, size_t len, unsigned flags) {
  uint8_t kbuf[CPC_MH_MAX_LEN];
  MDB_val key, val = {len, (void *)data}, old;
  MDB_txn *txn = NULL;
  struct cpc__bs_meta m;
  uint64_t qn, qbytes, qdropped;
  int rc;

  if (bs == NULL || cid == NULL || (data == NULL && len > 0) ||
      (flags & ~(unsigned)KNOWN_PUT_FLAGS) != 0)
    return CPC_EINVAL;
  if (len > CPC_BLOCK_MAX_SIZE)
    return CPC_ETOOBIG;
  rc = cid_key(cid, kbuf, &key);
  if (rc != 0)
    return rc;
  /* Hash before taking the writer lock. */
  if (!(flags & CPC_BLOCKSTORE_PUT_VERIFIED)) {
    rc = cpc_multihash_verify(&cid->mh, data, len);
    if (rc != 0)
      return rc;
  }
  if (flags & CPC_BLOCKSTORE_PUT_CACHE)
    return put_cached(bs, &key, data, len);
  if (val.mv_data == NULL)
    val.mv_data = kbuf; /* LMDB wants a pointer even for 0 bytes */

  rc = cpc__bs_err(mdb_txn_begin(bs->env, NULL, 0, &txn));
  if (rc != 0)
    return rc;
  rc = mdb_get(txn, bs->blocks, &key, &old);
  if (rc == 0) {
    goto out; /* already stored: nothing to do */
  } else if (rc != MDB_NOTFOUND) {
    rc = cpc__bs_err(rc);
    goto out;
  }
  rc = cpc__bs_meta_load(bs, txn, &m);
  if (rc != 0)
    goto out;
  /* queued cached blocks count against the quota too */
  cpc__bs_writer_stats(bs, &qn, &qbytes, &qdropped);
  if (cpc__bs_over_quota(&m, qbytes, len)) {
    rc = CPC_ENOSPC;
    goto out;
  }
  rc = cpc__bs_err(mdb_put(txn, bs->blocks, &key, &val, MDB_NOOVERWRITE));
  if (rc != 0)
    goto out;
  m.count++;
  m.bytes += len;
  rc = cpc__bs_meta_store(bs, txn, &m);
  if (rc != 0)
    goto out;
  rc = cpc__bs_err(mdb_txn_commit(txn)); /* frees txn, even on failure */
  if (rc == CPC_EIO && disk_nearly_full(bs, len))
    rc = CPC_ENOSPC;
  return rc;
out:
  mdb_txn_abort(txn);
  return rc;
}

int cpc_blockstore_add(cpc_blockstore *bs, uint64_t codec, uint64_t hash_code,
                       const void *data, size_t len, cpc_cid *cid) {
  int rc;
  if (bs == NULL || cid == NULL || (data == NULL && len > 0))
    return CPC_EINVAL;
  if (len > CPC_BLOCK_MAX_SIZE)
    return CPC_ETOOBIG;
  rc = cpc_cid_compute(codec, hash_code, data, len, cid);
  if (rc == 0)
    rc = cpc_blockstore_put(bs, cid, data, len);
  return rc;
}

/*
 * Look cid up in a read transaction and call back with the value while the
 * transaction is open (the value points into the map).
 */
typedef int (*read_fn)(void *arg, const MDB_val *val);

static int read_block(cpc_blockstore *bs, const cpc_cid *cid, read_fn fn,
                      void *arg) {
  uint8_t kbuf[CPC_MH_MAX_LEN];
  MDB_val key, val;
  MDB_txn *txn = NULL;
  int rc;

  if (bs == NULL || cid == NULL)
    return CPC_EINVAL;
  rc = cid_key(cid, kbuf, &key);
  if (rc != 0)
    return rc;
  /* a cached block still queued (it leaves the queue only once committed) */
  if (cpc__bs_writer_read(bs, &key, fn, arg, &rc))
    return rc;
  rc = cpc__bs_err(mdb_txn_begin(bs->env, NULL, MDB_RDONLY, &txn));
  if (rc != 0)
    return rc;
  rc = cpc__bs_err(mdb_get(txn, bs->blocks, &key, &val));
  if (rc == 0)
    rc = fn(arg, &val);
  mdb_txn_abort(txn);
  return rc;
}

struct copy_out {
  void *buf;
  size_t cap;
  size_t *len;
  uint8_t **alloc; /* set: allocate instead of copying into buf */
};

static int copy_block(void *arg, const MDB_val *val) {
  struct copy_out *c = arg;
  if (c->len != NULL)
    *c->len = val->mv_size;
  if (c->alloc != NULL) {
    *c->alloc = malloc(val->mv_size ? val->mv_size : 1);
    if (*c->alloc == NULL)
      return CPC_ENOMEM;
    if (val->mv_size > 0)
      memcpy(*c->alloc, val->mv_data, val->mv_size);
    return 0;
  }
  if (val->mv_size > c->cap)
    return CPC_ETOOBIG;
  if (val->mv_size > 0)
    memcpy(c->buf, val->mv_data, val->mv_size);
  return 0;
}

int cpc_blockstore_get(cpc_blockstore *bs, const cpc_cid *cid, void *buf,
                       size_t cap, size_t *len) {
  struct copy_out c = {buf, cap, len, NULL};
  if (buf == NULL && cap > 0)
    return CPC_EINVAL;
  return read_block(bs, cid, copy_block, &c);
}

int cpc_blockstore_get_alloc(cpc_blockstore *bs, const cpc_cid *cid,
                             uint8_t **out, size_t *len) {
  struct copy_out c = {NULL, 0, len, out};
  if (out == NULL)
    return CPC_EINVAL;
  *out = NULL;
  return read_block(bs, cid, copy_block, &c);
}

static int take_size(void *arg, const MDB_val *val) {
  *(size_t *)arg = val->mv_size;
  return 0;
}

int cpc_blockstore_size(cpc_blockstore *bs, const cpc_cid *cid, size_t *len) {
  if (len == NULL)
    return CPC_EINVAL;
  return read_block(bs, cid, take_size, len);
}

int cpc_blockstore_has(cpc_blockstore *bs, const cpc_cid *cid, int *found) {
  size_t len;
  int rc;
  if (found == NULL)
    return CPC_EINVAL;
  rc = read_block(bs, cid, take_size, &len);
  *found = rc == 0;
  return rc == CPC_ENOENT ? 0 : rc;
}

int cpc_blockstore_delete(cpc_blockstore *bs, const cpc_cid *cid) {
  uint8_t kbuf[CPC_MH_MAX_LEN];
  MDB_val key;
  MDB_txn *txn = NULL;
  struct cpc__bs_meta m;
  int rc;

  if (bs == NULL || cid == NULL)
    return CPC_EINVAL;
  rc = cid_key(cid, kbuf, &key);
  if (rc != 0)
    return rc;
  cpc__bs_writer_flush(bs);
  rc = cpc__bs_err(mdb_txn_begin(bs->env, NULL, 0, &txn));
  if (rc != 0)
    return rc;
  rc = cpc__bs_meta_load(bs, txn, &m);
  if (rc == 0)
    rc = cpc__bs_del_record(bs, txn, &key, &m);
  if (rc == 0)
    rc = cpc__bs_meta_store(bs, txn, &m);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return rc;
  }
  return cpc__bs_err(mdb_txn_commit(txn));
}

int cpc_blockstore_set_quota(cpc_blockstore *bs, uint64_t quota) {
  MDB_txn *txn = NULL;
  int rc;
  if (bs == NULL)
    return CPC_EINVAL;
  cpc__bs_writer_flush(bs);
  rc = cpc__bs_err(mdb_txn_begin(bs->env, NULL, 0, &txn));
  if (rc != 0)
    return rc;
  rc = meta_put(bs, txn, "quota", quota);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return rc;
  }
  return cpc__bs_err(mdb_txn_commit(txn));
}

int cpc_blockstore_stats_get(cpc_blockstore *bs, cpc_blockstore_stats *st) {
  MDB_txn *txn = NULL;
  MDB_envinfo info;
  MDB_stat est;
  struct cpc__bs_meta m;
  uint64_t qn, qbytes, qdropped;
  int rc;

  if (bs == NULL || st == NULL)
    return CPC_EINVAL;
  memset(st, 0, sizeof *st);
  /* the queue before the snapshot: a block committed in between is
   * counted twice rather than not at all */
  cpc__bs_writer_stats(bs, &qn, &qbytes, &qdropped);
  rc = cpc__bs_err(mdb_txn_begin(bs->env, NULL, MDB_RDONLY, &txn));
  if (rc != 0)
    return rc;
  rc = cpc__bs_meta_load(bs, txn, &m);
  if (rc == 0)
    rc = cpc__bs_err(mdb_env_info(bs->env, &info));
  if (rc == 0)
    rc = cpc__bs_err(mdb_env_stat(bs->env, &est));
  mdb_txn_abort(txn);
  if (rc != 0)
    return rc;
  st->count = m.count + qn;
  st->bytes = m.bytes + qbytes;
  st->pending = qn;
  st->dropped = qdropped;
  st->quota = m.quota;
  st->file_bytes = ((uint64_t)info.me_last_pgno + 1) * est.ms_psize;
  return 0;
}
