/*
 * test_blockstore.c: the LMDB block store: round trips, verification on
 * write, size and quota edges, accounting across reopen, scrub of bytes
 * corrupted in the data file, listing, deletion, bulk mode, use from two
 * threads at once, cached (written-behind) puts, and what a SIGKILL right
 * after a put leaves.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ftw.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpc/blockstore.h"
#include "cpc/error.h"

struct fixture {
  char dir[256];
  cpc_blockstore *bs;
};

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static uint64_t rng_next(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

static uint8_t *random_bytes(size_t len) {
  uint8_t *p = malloc(len ? len : 1);
  assert_non_null(p);
  for (size_t i = 0; i < len; i++)
    p[i] = (uint8_t)rng_next();
  return p;
}

static int rm_one(const char *path, const struct stat *st, int type,
                  struct FTW *ftw) {
  (void)st;
  (void)type;
  (void)ftw;
  return remove(path);
}

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  const char *tmp = getenv("TMPDIR");
  if (f == NULL)
    return -1;
  snprintf(f->dir, sizeof f->dir, "%s/cpc-bs-XXXXXX", tmp ? tmp : "/tmp");
  if (mkdtemp(f->dir) == NULL)
    return -1;
  /* a store below a directory that does not exist yet */
  strcat(f->dir, "/a/store");
  if (cpc_blockstore_open(f->dir, 0, &f->bs) != 0)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  cpc_blockstore_close(f->bs);
  f->dir[strlen(f->dir) - strlen("/a/store")] = '\0';
  nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
  free(f);
  return 0;
}

static void reopen(struct fixture *f, unsigned flags) {
  cpc_blockstore_close(f->bs);
  f->bs = NULL;
  assert_int_equal(cpc_blockstore_open(f->dir, flags, &f->bs), 0);
}

static cpc_blockstore_stats stats(struct fixture *f) {
  cpc_blockstore_stats st;
  assert_int_equal(cpc_blockstore_stats_get(f->bs, &st), 0);
  return st;
}

/* Add len random bytes as a raw blake3 block; the CID into *cid. */
static uint8_t *add_random(struct fixture *f, size_t len, cpc_cid *cid) {
  uint8_t *data = random_bytes(len);
  assert_int_equal(
      cpc_blockstore_add(f->bs, CPC_CODEC_RAW, CPC_MH_BLAKE3, data, len, cid),
      0);
  return data;
}

static void test_round_trip(void **state) {
  struct fixture *f = *state;
  cpc_cid cid, sha;
  uint8_t buf[1000], *out;
  size_t len;
  int found;
  uint8_t *data = add_random(f, 1000, &cid);

  assert_int_equal(cpc_blockstore_get(f->bs, &cid, buf, sizeof buf, &len), 0);
  assert_int_equal(len, 1000);
  assert_memory_equal(buf, data, 1000);
  assert_int_equal(cpc_blockstore_get_alloc(f->bs, &cid, &out, &len), 0);
  assert_int_equal(len, 1000);
  assert_memory_equal(out, data, 1000);
  free(out);
  assert_int_equal(cpc_blockstore_has(f->bs, &cid, &found), 0);
  assert_int_equal(found, 1);
  assert_int_equal(cpc_blockstore_size(f->bs, &cid, &len), 0);
  assert_int_equal(len, 1000);
  /* a buffer one byte short: ETOOBIG, the size still reported */
  len = 0;
  assert_int_equal(cpc_blockstore_get(f->bs, &cid, buf, 999, &len),
                   CPC_ETOOBIG);
  assert_int_equal(len, 1000);

  /* sha2-256: CIDv1 raw, CIDv1 dag-pb and CIDv0 name the same block */
  assert_int_equal(cpc_blockstore_add(f->bs, CPC_CODEC_RAW, CPC_MH_SHA2_256,
                                      data, 500, &sha),
                   0);
  sha.version = 0;
  sha.codec = CPC_CODEC_DAG_PB;
  assert_int_equal(cpc_blockstore_size(f->bs, &sha, &len), 0);
  assert_int_equal(len, 500);
  assert_int_equal(cpc_blockstore_put(f->bs, &sha, data, 500), 0);

  /* identity: the bytes are the digest */
  cpc_cid id;
  assert_int_equal(
      cpc_blockstore_add(f->bs, CPC_CODEC_RAW, CPC_MH_IDENTITY, data, 20, &id),
      0);
  assert_int_equal(cpc_blockstore_get(f->bs, &id, buf, sizeof buf, &len), 0);
  assert_int_equal(len, 20);
  assert_memory_equal(buf, data, 20);

  cpc_blockstore_stats st = stats(f);
  assert_int_equal(st.count, 3);
  assert_int_equal(st.bytes, 1520);
  assert_int_equal(st.quota, 0);
  assert_true(st.file_bytes >= 1520);

  /* an absent block */
  data[0] ^= 1;
  assert_int_equal(
      cpc_cid_compute(CPC_CODEC_RAW, CPC_MH_BLAKE3, data, 1000, &cid), 0);
  assert_int_equal(cpc_blockstore_has(f->bs, &cid, &found), 0);
  assert_int_equal(found, 0);
  assert_int_equal(cpc_blockstore_get(f->bs, &cid, buf, sizeof buf, &len),
                   CPC_ENOENT);
  assert_int_equal(cpc_blockstore_get_alloc(f->bs, &cid, &out, &len),
                   CPC_ENOENT);
  assert_null(out);
  assert_int_equal(cpc_blockstore_size(f->bs, &cid, &len), CPC_ENOENT);
  free(data);
}

static void test_refuses_bad_bytes(void **state) {
  struct fixture *f = *state;
  cpc_cid cid;
  uint8_t *data = random_bytes(4096);

  for (int hash = 0; hash < 3; hash++) {
    uint64_t code = hash == 0   ? CPC_MH_BLAKE3
                    : hash == 1 ? CPC_MH_SHA2_256
                                : CPC_MH_IDENTITY;
    size_t len = code == CPC_MH_IDENTITY ? 32 : 4096;
    int found;
    assert_int_equal(cpc_cid_compute(CPC_CODEC_RAW, code, data, len, &cid), 0);
    data[len - 1] ^= 0x80; /* one flipped bit */
    assert_int_equal(cpc_blockstore_put(f->bs, &cid, data, len), CPC_EMISMATCH);
    assert_int_equal(cpc_blockstore_put(f->bs, &cid, data, len - 1),
                     CPC_EMISMATCH);
    assert_int_equal(cpc_blockstore_has(f->bs, &cid, &found), 0);
    assert_int_equal(found, 0);
    data[len - 1] ^= 0x80;
  }
  /* a hash this code cannot compute (sha2-512) */
  memset(&cid, 0, sizeof cid);
  cid.version = 1;
  cid.codec = CPC_CODEC_RAW;
  cid.mh.code = 0x13;
  cid.mh.digest_len = 64;
  assert_int_equal(cpc_blockstore_put(f->bs, &cid, data, 10), CPC_EUNSUPPORTED);
  assert_int_equal(stats(f).count, 0);
  assert_int_equal(stats(f).bytes, 0);
  free(data);
}

static void test_sizes(void **state) {
  struct fixture *f = *state;
  const size_t sizes[] = {0, 1, CPC_BLOCK_MAX_SIZE};
  uint64_t total = 0;
  cpc_cid cid;

  for (size_t i = 0; i < 3; i++) {
    uint8_t *out;
    size_t len;
    uint8_t *data = add_random(f, sizes[i], &cid);
    assert_int_equal(cpc_blockstore_get_alloc(f->bs, &cid, &out, &len), 0);
    assert_non_null(out);
    assert_int_equal(len, sizes[i]);
    assert_memory_equal(out, data, len);
    free(out);
    free(data);
    total += sizes[i];
  }
  uint8_t *big = random_bytes(CPC_BLOCK_MAX_SIZE + 1);
  assert_int_equal(cpc_blockstore_add(f->bs, CPC_CODEC_RAW, CPC_MH_BLAKE3, big,
                                      CPC_BLOCK_MAX_SIZE + 1, &cid),
                   CPC_ETOOBIG);
  assert_int_equal(cpc_cid_compute(CPC_CODEC_RAW, CPC_MH_BLAKE3, big,
                                   CPC_BLOCK_MAX_SIZE + 1, &cid),
                   0);
  assert_int_equal(cpc_blockstore_put(f->bs, &cid, big, CPC_BLOCK_MAX_SIZE + 1),
                   CPC_ETOOBIG);
  free(big);
  assert_int_equal(stats(f).count, 3);
  assert_int_equal(stats(f).bytes, total);
}

static void test_duplicate_and_delete(void **state) {
  struct fixture *f = *state;
  cpc_cid a, b;
  uint8_t *da = add_random(f, 300, &a), *db = add_random(f, 700, &b);
  int found;

  assert_int_equal(cpc_blockstore_put(f->bs, &a, da, 300), 0);
  assert_int_equal(stats(f).count, 2);
  assert_int_equal(stats(f).bytes, 1000);

  assert_int_equal(cpc_blockstore_delete(f->bs, &a), 0);
  assert_int_equal(cpc_blockstore_has(f->bs, &a, &found), 0);
  assert_int_equal(found, 0);
  assert_int_equal(cpc_blockstore_delete(f->bs, &a), CPC_ENOENT);
  assert_int_equal(stats(f).count, 1);
  assert_int_equal(stats(f).bytes, 700);
  assert_int_equal(cpc_blockstore_has(f->bs, &b, &found), 0);
  assert_int_equal(found, 1);
  /* put again after delete */
  assert_int_equal(cpc_blockstore_put(f->bs, &a, da, 300), 0);
  assert_int_equal(stats(f).bytes, 1000);
  free(da);
  free(db);
}

struct seen {
  cpc_multihash mh[40];
  size_t len[40];
  size_t n;
  size_t stop_after;
};

static int collect(void *arg, const cpc_multihash *mh, size_t len) {
  struct seen *s = arg;
  if (s->n == 40)
    return CPC_ETOOBIG;
  s->mh[s->n] = *mh;
  s->len[s->n++] = len;
  return s->n == s->stop_after ? 42 : 0;
}

static void test_list(void **state) {
  struct fixture *f = *state;
  cpc_cid cids[30];
  struct seen s = {.n = 0, .stop_after = 0};

  assert_int_equal(cpc_blockstore_list(f->bs, collect, &s), 0);
  assert_int_equal(s.n, 0);
  for (size_t i = 0; i < 30; i++)
    free(add_random(f, 100 + i, &cids[i]));
  assert_int_equal(cpc_blockstore_delete(f->bs, &cids[7]), 0);
  assert_int_equal(cpc_blockstore_list(f->bs, collect, &s), 0);
  assert_int_equal(s.n, 29);
  for (size_t i = 0; i < 30; i++) {
    size_t hits = 0;
    for (size_t j = 0; j < s.n; j++)
      if (s.mh[j].code == cids[i].mh.code &&
          memcmp(s.mh[j].digest, cids[i].mh.digest, 32) == 0) {
        hits++;
        assert_int_equal(s.len[j], 100 + i);
      }
    assert_int_equal(hits, i == 7 ? 0 : 1);
  }
  /* the callback's non-zero value stops the walk and comes back */
  s.n = 0;
  s.stop_after = 5;
  assert_int_equal(cpc_blockstore_list(f->bs, collect, &s), 42);
  assert_int_equal(s.n, 5);
}

static void test_quota_edge(void **state) {
  struct fixture *f = *state;
  cpc_cid a, b, c, e;
  uint8_t *da = random_bytes(1000), *db = random_bytes(2000),
          *dc = random_bytes(1);

  assert_int_equal(cpc_blockstore_set_quota(f->bs, 3000), 0);
  assert_int_equal(stats(f).quota, 3000);
  assert_int_equal(
      cpc_blockstore_add(f->bs, CPC_CODEC_RAW, CPC_MH_BLAKE3, da, 1000, &a), 0);
  /* lands exactly on the quota */
  assert_int_equal(
      cpc_blockstore_add(f->bs, CPC_CODEC_RAW, CPC_MH_BLAKE3, db, 2000, &b), 0);
  assert_int_equal(stats(f).bytes, 3000);
  /* one byte more is refused, and changes nothing */
  assert_int_equal(
      cpc_blockstore_add(f->bs, CPC_CODEC_RAW, CPC_MH_BLAKE3, dc, 1, &c),
      CPC_ENOSPC);
  assert_int_equal(stats(f).count, 2);
  assert_int_equal(stats(f).bytes, 3000);
  /* an empty block still fits; a duplicate is not counted again */
  assert_int_equal(
      cpc_blockstore_add(f->bs, CPC_CODEC_RAW, CPC_MH_BLAKE3, dc, 0, &e), 0);
  assert_int_equal(cpc_blockstore_put(f->bs, &b, db, 2000), 0);
  /* deleting frees room */
  assert_int_equal(cpc_blockstore_delete(f->bs, &a), 0);
  assert_int_equal(
      cpc_blockstore_add(f->bs, CPC_CODEC_RAW, CPC_MH_BLAKE3, dc, 1, &c), 0);
  assert_int_equal(stats(f).bytes, 2001);
  /* a quota below the stored total refuses every non-empty put */
  assert_int_equal(cpc_blockstore_set_quota(f->bs, 1000), 0);
  assert_int_equal(cpc_blockstore_put(f->bs, &a, da, 1000), CPC_ENOSPC);
  assert_int_equal(cpc_blockstore_set_quota(f->bs, 0), 0);
  assert_int_equal(cpc_blockstore_put(f->bs, &a, da, 1000), 0);
  free(da);
  free(db);
  free(dc);
}

static void test_reopen_keeps_accounting(void **state) {
  struct fixture *f = *state;
  cpc_cid cid;
  uint64_t total = 0;

  for (size_t i = 0; i < 10; i++) {
    free(add_random(f, 1000 * (i + 1), &cid));
    total += 1000 * (i + 1);
  }
  assert_int_equal(cpc_blockstore_delete(f->bs, &cid), 0);
  total -= 10000;
  assert_int_equal(cpc_blockstore_set_quota(f->bs, total + 500), 0);
  reopen(f, 0);
  cpc_blockstore_stats st = stats(f);
  assert_int_equal(st.count, 9);
  assert_int_equal(st.bytes, total);
  assert_int_equal(st.quota, total + 500);
  uint8_t *d = random_bytes(501);
  assert_int_equal(
      cpc_blockstore_add(f->bs, CPC_CODEC_RAW, CPC_MH_BLAKE3, d, 501, &cid),
      CPC_ENOSPC);
  assert_int_equal(
      cpc_blockstore_add(f->bs, CPC_CODEC_RAW, CPC_MH_BLAKE3, d, 500, &cid), 0);
  free(d);
  reopen(f, CPC_BLOCKSTORE_NOCREATE);
  assert_int_equal(stats(f).bytes, total + 500);
}

/* Flip one byte in every copy of pattern[0..len) in the file at path. */
static size_t corrupt_file(const char *path, const uint8_t *pattern,
                           size_t len) {
  FILE *fp = fopen(path, "r+b");
  size_t hits = 0;
  assert_non_null(fp);
  assert_int_equal(fseek(fp, 0, SEEK_END), 0);
  long size = ftell(fp);
  uint8_t *buf = malloc((size_t)size);
  assert_non_null(buf);
  rewind(fp);
  assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
  for (uint8_t *p = buf;
       (p = memmem(p, (size_t)(buf + size - p), pattern, len)) != NULL;
       p += len) {
    assert_int_equal(fseek(fp, (long)(p - buf) + 3, SEEK_SET), 0);
    assert_int_equal(fputc(p[3] ^ 0x01, fp), p[3] ^ 0x01);
    hits++;
  }
  assert_int_equal(fclose(fp), 0);
  free(buf);
  return hits;
}

struct scrub_log {
  cpc_multihash mh[4];
  int problem[4];
  size_t n;
  int answer;
};

static int on_bad(void *arg, const cpc_multihash *mh, size_t len, int problem) {
  struct scrub_log *l = arg;
  (void)len;
  if (l->n < 4) {
    l->mh[l->n] = *mh;
    l->problem[l->n] = problem;
  }
  l->n++;
  return l->answer;
}

static void test_scrub_finds_corruption(void **state) {
  struct fixture *f = *state;
  cpc_cid good1, good2, bad;
  uint8_t *d1 = add_random(f, 5000, &good1);
  uint8_t *d2 = add_random(f, 100, &good2);
  uint8_t *db = add_random(f, 64 * 1024, &bad);
  struct scrub_log log = {.n = 0, .answer = 0};
  cpc_blockstore_scrub_result res;
  char path[300];

  assert_int_equal(cpc_blockstore_scrub(f->bs, on_bad, &log, &res), 0);
  assert_int_equal(res.checked, 3);
  assert_int_equal(res.bad, 0);
  assert_int_equal(log.n, 0);

  /* damage the 64 KiB block's bytes in the LMDB file itself */
  cpc_blockstore_close(f->bs);
  f->bs = NULL;
  snprintf(path, sizeof path, "%s/data.mdb", f->dir);
  assert_true(corrupt_file(path, db + 1000, 64) >= 1);
  assert_int_equal(cpc_blockstore_open(f->dir, 0, &f->bs), 0);

  assert_int_equal(cpc_blockstore_scrub(f->bs, on_bad, &log, &res), 0);
  assert_int_equal(res.checked, 3);
  assert_int_equal(res.bad, 1);
  assert_int_equal(res.removed, 0);
  assert_int_equal(log.n, 1);
  assert_int_equal(log.problem[0], CPC_EMISMATCH);
  assert_int_equal(log.mh[0].code, CPC_MH_BLAKE3);
  assert_memory_equal(log.mh[0].digest, bad.mh.digest, 32);

  /* a negative answer stops the scrub with that code */
  log.n = 0;
  log.answer = CPC_EIO;
  assert_int_equal(cpc_blockstore_scrub(f->bs, on_bad, &log, NULL), CPC_EIO);

  /* remove it */
  log.n = 0;
  log.answer = CPC_BLOCKSTORE_SCRUB_REMOVE;
  assert_int_equal(cpc_blockstore_scrub(f->bs, on_bad, &log, &res), 0);
  assert_int_equal(res.bad, 1);
  assert_int_equal(res.removed, 1);
  int found;
  assert_int_equal(cpc_blockstore_has(f->bs, &bad, &found), 0);
  assert_int_equal(found, 0);
  assert_int_equal(stats(f).count, 2);
  assert_int_equal(stats(f).bytes, 5100);
  assert_int_equal(cpc_blockstore_scrub(f->bs, NULL, NULL, &res), 0);
  assert_int_equal(res.checked, 2);
  assert_int_equal(res.bad, 0);
  /* and it can be stored again */
  assert_int_equal(cpc_blockstore_put(f->bs, &bad, db, 64 * 1024), 0);
  free(d1);
  free(d2);
  free(db);
}

static void test_bulk_mode(void **state) {
  struct fixture *f = *state;
  cpc_cid cids[50];
  reopen(f, CPC_BLOCKSTORE_NOSYNC);
  for (size_t i = 0; i < 50; i++)
    free(add_random(f, 1024, &cids[i]));
  assert_int_equal(cpc_blockstore_sync(f->bs), 0);
  reopen(f, 0);
  assert_int_equal(stats(f).count, 50);
  for (size_t i = 0; i < 50; i++) {
    size_t len;
    assert_int_equal(cpc_blockstore_size(f->bs, &cids[i], &len), 0);
    assert_int_equal(len, 1024);
  }
}

static void test_bad_arguments(void **state) {
  struct fixture *f = *state;
  cpc_blockstore *bs = NULL;
  cpc_cid cid;
  char path[300];
  size_t len;
  int found;
  uint8_t *d = add_random(f, 10, &cid);

  assert_int_equal(cpc_blockstore_open(NULL, 0, &bs), CPC_EINVAL);
  assert_int_equal(cpc_blockstore_open(f->dir, 0, NULL), CPC_EINVAL);
  assert_int_equal(cpc_blockstore_open(f->dir, 1u << 20, &bs), CPC_EINVAL);
  snprintf(path, sizeof path, "%s/nope", f->dir);
  assert_int_equal(cpc_blockstore_open(path, CPC_BLOCKSTORE_NOCREATE, &bs),
                   CPC_ENOENT);
  assert_int_equal(access(path, F_OK), -1);
  snprintf(path, sizeof path, "%s/data.mdb", f->dir);
  assert_int_equal(cpc_blockstore_open(path, 0, &bs), CPC_EMALFORMED);
  assert_null(bs);
  assert_int_equal(cpc_blockstore_put(NULL, &cid, d, 10), CPC_EINVAL);
  assert_int_equal(cpc_blockstore_put(f->bs, NULL, d, 10), CPC_EINVAL);
  assert_int_equal(cpc_blockstore_put(f->bs, &cid, NULL, 10), CPC_EINVAL);
  assert_int_equal(cpc_blockstore_get(f->bs, &cid, NULL, 10, &len), CPC_EINVAL);
  assert_int_equal(cpc_blockstore_has(f->bs, NULL, &found), CPC_EINVAL);
  assert_int_equal(cpc_blockstore_list(f->bs, NULL, NULL), CPC_EINVAL);
  assert_int_equal(cpc_blockstore_scrub(NULL, NULL, NULL, NULL), CPC_EINVAL);
  assert_int_equal(cpc_blockstore_stats_get(f->bs, NULL), CPC_EINVAL);
  cpc_blockstore_close(NULL);
  free(d);
}

/* A store written by a newer format is refused, not misread. */
static void test_newer_format_refused(void **state) {
  struct fixture *f = *state;
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi meta;
  uint8_t two[8] = {2};
  MDB_val k = {6, "format"}, v = {8, two};
  cpc_blockstore *bs = NULL;

  cpc_blockstore_close(f->bs);
  f->bs = NULL;
  assert_int_equal(mdb_env_create(&env), 0);
  assert_int_equal(mdb_env_set_maxdbs(env, 2), 0);
  assert_int_equal(mdb_env_open(env, f->dir, 0, 0600), 0);
  assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
  assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
  assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
  assert_int_equal(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
  assert_int_equal(cpc_blockstore_open(f->dir, 0, &bs), CPC_EUNSUPPORTED);
  assert_null(bs);
  assert_int_equal(cpc_blockstore_open(f->dir, 0, &f->bs), CPC_EUNSUPPORTED);
  f->bs = NULL;
}

/* Put len random bytes as a cached raw blake3 block. */
static uint8_t *cache_random(struct fixture *f, size_t len, cpc_cid *cid) {
  uint8_t *data = random_bytes(len);
  assert_int_equal(
      cpc_cid_compute(CPC_CODEC_RAW, CPC_MH_BLAKE3, data, len, cid), 0);
  assert_int_equal(cpc_blockstore_put_flags(f->bs, cid, data, len,
                                            CPC_BLOCKSTORE_PUT_CACHE |
                                                CPC_BLOCKSTORE_PUT_VERIFIED),
                   0);
  return data;
}

/* Cached puts: readable at once, counted at once (quota too), committed
 * by flush and close, deletable while queued. */
static void test_cached_puts(void **state) {
  struct fixture *f = *state;
  enum { N = 100, LEN = 64 * 1024 };
  cpc_cid cids[N], extra;
  uint8_t *datas[N], *out;
  size_t len;
  int found;

  for (size_t i = 0; i < N; i++) {
    datas[i] = cache_random(f, LEN, &cids[i]);
    assert_int_equal(cpc_blockstore_get_alloc(f->bs, &cids[i], &out, &len), 0);
    assert_int_equal(len, LEN);
    assert_memory_equal(out, datas[i], LEN);
    free(out);
  }
  cpc_blockstore_stats st = stats(f);
  assert_int_equal(st.count, N);
  assert_int_equal(st.bytes, (uint64_t)N * LEN);
  assert_int_equal(cpc_blockstore_flush(f->bs), 0);
  st = stats(f);
  assert_int_equal(st.pending, 0);
  assert_int_equal(st.dropped, 0);
  assert_int_equal(st.count, N);
  assert_true(st.file_bytes >= (uint64_t)N * LEN);

  /* a cached block deleted at once is gone */
  free(cache_random(f, 1000, &extra));
  assert_int_equal(cpc_blockstore_delete(f->bs, &extra), 0);
  assert_int_equal(cpc_blockstore_has(f->bs, &extra, &found), 0);
  assert_int_equal(found, 0);

  /* the quota counts what is queued: room for one more block, not two */
  assert_int_equal(cpc_blockstore_set_quota(f->bs, (uint64_t)(N + 1) * LEN), 0);
  free(cache_random(f, LEN, &extra));
  uint8_t *more = random_bytes(LEN);
  assert_int_equal(
      cpc_cid_compute(CPC_CODEC_RAW, CPC_MH_BLAKE3, more, LEN, &extra), 0);
  assert_int_equal(cpc_blockstore_put_flags(f->bs, &extra, more, LEN,
                                            CPC_BLOCKSTORE_PUT_CACHE),
                   CPC_ENOSPC);
  assert_int_equal(cpc_blockstore_put(f->bs, &extra, more, LEN), CPC_ENOSPC);
  free(more);
  assert_int_equal(cpc_blockstore_set_quota(f->bs, 0), 0);

  /* close commits; everything is there after a reopen, sound */
  reopen(f, 0);
  st = stats(f);
  assert_int_equal(st.count, N + 1);
  for (size_t i = 0; i < N; i++) {
    assert_int_equal(cpc_blockstore_get_alloc(f->bs, &cids[i], &out, &len), 0);
    assert_memory_equal(out, datas[i], LEN);
    free(out);
    free(datas[i]);
  }
  cpc_blockstore_scrub_result res;
  assert_int_equal(cpc_blockstore_scrub(f->bs, NULL, NULL, &res), 0);
  assert_int_equal(res.checked, N + 1);
  assert_int_equal(res.bad, 0);
}

/* VERIFIED takes the caller's word (it hashed the bytes); without it the
 * bytes are checked, cached or not; unknown flags are refused. */
static void test_put_flags(void **state) {
  struct fixture *f = *state;
  cpc_cid cid;
  uint8_t *data = random_bytes(4096);
  int found;
  assert_int_equal(
      cpc_cid_compute(CPC_CODEC_RAW, CPC_MH_BLAKE3, data, 4096, &cid), 0);
  data[0] ^= 1;
  assert_int_equal(cpc_blockstore_put_flags(f->bs, &cid, data, 4096, 0),
                   CPC_EMISMATCH);
  assert_int_equal(cpc_blockstore_put_flags(f->bs, &cid, data, 4096,
                                            CPC_BLOCKSTORE_PUT_CACHE),
                   CPC_EMISMATCH);
  assert_int_equal(cpc_blockstore_has(f->bs, &cid, &found), 0);
  assert_int_equal(found, 0);
  assert_int_equal(cpc_blockstore_put_flags(f->bs, &cid, data, 4096,
                                            CPC_BLOCKSTORE_PUT_VERIFIED),
                   0); /* the caller's promise, not checked */
  assert_int_equal(cpc_blockstore_put_flags(f->bs, &cid, data, 4096, 1u << 5),
                   CPC_EINVAL);
  assert_int_equal(cpc_blockstore_put_flags(NULL, &cid, data, 4096, 0),
                   CPC_EINVAL);
  assert_int_equal(cpc_blockstore_flush(NULL), CPC_EINVAL);
  free(data);
}

/*
 * The durability rule of a PDS: a process killed (SIGKILL) right after a
 * plain put returned leaves that block stored; cached blocks still queued
 * may be lost, but the store opens, its accounting is exact and every
 * block in it is sound.
 */
static void test_killed_after_put(void **state) {
  struct fixture *f = *state;
  enum { N = 200, LEN = 64 * 1024 };
  cpc_cid own, cids[N];
  uint8_t *own_data = random_bytes(100000), *datas[N];
  int status, found;
  pid_t pid;

  assert_int_equal(
      cpc_cid_compute(CPC_CODEC_RAW, CPC_MH_BLAKE3, own_data, 100000, &own), 0);
  for (size_t i = 0; i < N; i++) {
    datas[i] = random_bytes(LEN);
    assert_int_equal(
        cpc_cid_compute(CPC_CODEC_RAW, CPC_MH_BLAKE3, datas[i], LEN, &cids[i]),
        0);
  }
  cpc_blockstore_close(f->bs); /* the child opens the store alone */
  f->bs = NULL;
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    cpc_blockstore *bs = NULL;
    if (cpc_blockstore_open(f->dir, 0, &bs) != 0)
      _exit(2);
    /* cached blocks before and after the plain put, the last ones most
     * likely still queued when the process dies */
    for (size_t i = 0; i < N; i++) {
      if (i == N / 2 && cpc_blockstore_put(bs, &own, own_data, 100000) != 0)
        _exit(4);
      if (cpc_blockstore_put_flags(bs, &cids[i], datas[i], LEN,
                                   CPC_BLOCKSTORE_PUT_CACHE) != 0)
        _exit(3);
    }
    raise(SIGKILL); /* no close, no flush */
    _exit(5);
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

  assert_int_equal(cpc_blockstore_open(f->dir, 0, &f->bs), 0);
  assert_int_equal(cpc_blockstore_has(f->bs, &own, &found), 0);
  assert_int_equal(found, 1);
  uint64_t present = 1, bytes = 100000;
  for (size_t i = 0; i < N; i++) {
    uint8_t *out;
    size_t len;
    int rc = cpc_blockstore_get_alloc(f->bs, &cids[i], &out, &len);
    if (rc == CPC_ENOENT)
      continue; /* still queued when the process died: fetched again */
    assert_int_equal(rc, 0);
    assert_int_equal(len, LEN);
    assert_memory_equal(out, datas[i], LEN);
    free(out);
    present++;
    bytes += LEN;
  }
  cpc_blockstore_stats st = stats(f);
  assert_int_equal(st.count, present);
  assert_int_equal(st.bytes, bytes);
  cpc_blockstore_scrub_result res;
  assert_int_equal(cpc_blockstore_scrub(f->bs, NULL, NULL, &res), 0);
  assert_int_equal(res.checked, present);
  assert_int_equal(res.bad, 0);
  for (size_t i = 0; i < N; i++)
    free(datas[i]);
  free(own_data);
}

struct worker {
  cpc_blockstore *bs;
  int seed;
  int failures;
};

static void *work(void *arg) {
  struct worker *w = arg;
  uint8_t data[2048], out[2048];
  for (int i = 0; i < 200; i++) {
    cpc_cid cid;
    size_t len;
    memset(data, w->seed, sizeof data);
    memcpy(data, &i, sizeof i);
    if (cpc_blockstore_add(w->bs, CPC_CODEC_RAW, CPC_MH_BLAKE3, data,
                           sizeof data, &cid) != 0 ||
        cpc_blockstore_get(w->bs, &cid, out, sizeof out, &len) != 0 ||
        len != sizeof data || memcmp(out, data, len) != 0)
      w->failures++;
  }
  return NULL;
}

static void test_two_threads(void **state) {
  struct fixture *f = *state;
  struct worker w[2] = {{f->bs, 1, 0}, {f->bs, 2, 0}};
  pthread_t t[2];
  reopen(f, CPC_BLOCKSTORE_NOSYNC);
  w[0].bs = w[1].bs = f->bs;
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_join(t[i], NULL), 0);
  assert_int_equal(w[0].failures + w[1].failures, 0);
  assert_int_equal(stats(f).count, 400);
  assert_int_equal(stats(f).bytes, 400 * 2048);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refuses_bad_bytes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_duplicate_and_delete, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_list, setup, teardown),
      cmocka_unit_test_setup_teardown(test_quota_edge, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reopen_keeps_accounting, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_scrub_finds_corruption, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_bulk_mode, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
      cmocka_unit_test_setup_teardown(test_newer_format_refused, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_two_threads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cached_puts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_put_flags, setup, teardown),
      cmocka_unit_test_setup_teardown(test_killed_after_put, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
