/*
 * blockstore_layouts.c: the experiment behind docs/adr/0002. Three ways to
 * keep a durable key -> bytes store, each with one commit per put:
 *
 *   files   root/<k0>/<k1>/<hex key>, written to a temp file, fsync'd,
 *           renamed into place, then the directory fsync'd
 *   sqlite  one table in WAL mode, synchronous=FULL
 *   lmdb    one B-tree, default (fully synchronous) commits
 *   libcpc  the library's store (cpc/blockstore.h, LMDB): keys are real
 *           blake3 multihashes and every put re-hashes the block
 *
 * and, for comparison, the same without syncing (files without fsync,
 * SQLite synchronous=OFF, LMDB MDB_NOSYNC). Keys are 34 bytes like a
 * multihash; values are pseudo-random bytes derived from the key, so the
 * crash test can check every value after a kill -9.
 *
 * Build and run (bench/blockstore_layouts.sh does this):
 *   cc -O2 -Iinclude -o build/blockstore_layouts bench/blockstore_layouts.c \
 *      build/libcpc.a $(pkg-config --libs sqlite3 lmdb libsodium ...)
 *   build/blockstore_layouts DIR [N_BIG N_SMALL]
 *   build/blockstore_layouts --crash DIR LAYOUT   (kill -9 test)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cpc/blockstore.h"

#define KEY_LEN 34

struct layout {
  const char *name;
  int (*open)(const char *dir, int sync);
  int (*put)(const uint8_t *key, const uint8_t *val, size_t len);
  /* Read key's value into buf (cap bytes); the length into *len. */
  int (*get)(const uint8_t *key, uint8_t *buf, size_t cap, size_t *len);
  /* Call fn for every stored key and value; count into *n. */
  int (*check_all)(size_t *n, size_t *bad);
  void (*close)(void);
};

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Key i: 0x1e 0x20 then 32 bytes; the value's length and bytes follow from it. */
static void make_key(uint64_t i, uint8_t key[KEY_LEN]) {
  uint64_t s = i * 7919 + 1;
  key[0] = 0x1e;
  key[1] = 0x20;
  for (int j = 0; j < 4; j++) {
    uint64_t r = splitmix(&s);
    memcpy(key + 2 + 8 * j, &r, 8);
  }
}

static void make_value(const uint8_t key[KEY_LEN], uint8_t *val, size_t len) {
  uint64_t s;
  memcpy(&s, key + 2, 8);
  s ^= (uint64_t)key[KEY_LEN - 1] << 56; /* siblings get other bytes */
  for (size_t i = 0; i < len; i += 8) {
    uint64_t r = splitmix(&s);
    memcpy(val + i, &r, len - i < 8 ? len - i : 8);
  }
}

static int value_ok(const uint8_t key[KEY_LEN], const uint8_t *val, size_t len) {
  static uint8_t want[4 << 20];
  if (len > sizeof want)
    return 0;
  make_value(key, want, len);
  return memcmp(want, val, len) == 0;
}

/* ---- files ------------------------------------------------------------ */
static char f_root[4096];
static int f_sync;

static void hex(const uint8_t *b, size_t n, char *out) {
  for (size_t i = 0; i < n; i++)
    sprintf(out + 2 * i, "%02x", b[i]);
}

static int files_open(const char *dir, int sync) {
  char p[4200];
  snprintf(f_root, sizeof f_root, "%s", dir);
  f_sync = sync;
  mkdir(dir, 0700);
  snprintf(p, sizeof p, "%s/tmp", dir);
  mkdir(p, 0700);
  return 0;
}

static void files_path(const uint8_t *key, char *dir1, char *dir2, char *path) {
  char h[2 * KEY_LEN + 1];
  hex(key, KEY_LEN, h);
  /* fan out on the digest, not the constant multihash prefix */
  sprintf(dir1, "%s/%.2s", f_root, h + 4);
  sprintf(dir2, "%s/%.2s", dir1, h + 6);
  sprintf(path, "%s/%s", dir2, h);
}

static int files_put(const uint8_t *key, const uint8_t *val, size_t len) {
  char d1[4200], d2[4200], path[4400], tmp[4400];
  static unsigned long seq;
  files_path(key, d1, d2, path);
  if (access(path, F_OK) == 0)
    return 0;
  snprintf(tmp, sizeof tmp, "%s/tmp/%ld.%lu", f_root, (long)getpid(), seq++);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0 || write(fd, val, len) != (ssize_t)len ||
      (f_sync && fsync(fd) != 0) || close(fd) != 0)
    return -1;
  if (rename(tmp, path) != 0) {
    if (errno != ENOENT)
      return -1;
    mkdir(d1, 0700);
    mkdir(d2, 0700);
    if (rename(tmp, path) != 0)
      return -1;
  }
  if (f_sync) {
    int dfd = open(d2, O_RDONLY | O_DIRECTORY);
    if (dfd < 0 || fsync(dfd) != 0)
      return -1;
    close(dfd);
  }
  return 0;
}

static int files_get(const uint8_t *key, uint8_t *buf, size_t cap, size_t *len) {
  char d1[4200], d2[4200], path[4400];
  files_path(key, d1, d2, path);
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, buf, cap);
  close(fd);
  if (n < 0)
    return -1;
  *len = (size_t)n;
  return 0;
}

static int unhex(const char *s, uint8_t *out, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    if (sscanf(s + 2 * i, "%2x", &v) != 1)
      return -1;
    out[i] = (uint8_t)v;
  }
  return 0;
}

static int files_check_all(size_t *n, size_t *bad) {
  static uint8_t buf[4 << 20];
  char d1[4200], d2[4500], path[4800];
  DIR *a = opendir(f_root);
  struct dirent *e1, *e2, *e3;
  *n = *bad = 0;
  if (!a)
    return -1;
  while ((e1 = readdir(a))) {
    if (strlen(e1->d_name) != 2)
      continue;
    snprintf(d1, sizeof d1, "%s/%s", f_root, e1->d_name);
    DIR *b = opendir(d1);
    while (b && (e2 = readdir(b))) {
      if (e2->d_name[0] == '.')
        continue;
      snprintf(d2, sizeof d2, "%s/%s", d1, e2->d_name);
      DIR *c = opendir(d2);
      while (c && (e3 = readdir(c))) {
        uint8_t key[KEY_LEN];
        size_t len;
        if (e3->d_name[0] == '.' || unhex(e3->d_name, key, KEY_LEN) != 0)
          continue;
        snprintf(path, sizeof path, "%s/%s", d2, e3->d_name);
        (*n)++;
        if (files_get(key, buf, sizeof buf, &len) != 0 || !value_ok(key, buf, len))
          (*bad)++;
      }
      if (c)
        closedir(c);
    }
    if (b)
      closedir(b);
  }
  closedir(a);
  return 0;
}

static void files_close(void) {}

/* ---- sqlite ----------------------------------------------------------- */
static sqlite3 *s_db;
static sqlite3_stmt *s_put, *s_get;

static int sqlite_open(const char *dir, int sync) {
  char p[4200];
  mkdir(dir, 0700);
  snprintf(p, sizeof p, "%s/blocks.sqlite", dir);
  if (sqlite3_open(p, &s_db) != SQLITE_OK)
    return -1;
  if (sqlite3_exec(s_db,
                   sync ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                        : "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;",
                   0, 0, 0) != SQLITE_OK ||
      sqlite3_exec(s_db,
                   "CREATE TABLE IF NOT EXISTS blocks(mh BLOB PRIMARY KEY, "
                   "data BLOB NOT NULL)",
                   0, 0, 0) != SQLITE_OK ||
      sqlite3_prepare_v2(s_db, "INSERT OR IGNORE INTO blocks VALUES(?,?)", -1,
                         &s_put, 0) != SQLITE_OK ||
      sqlite3_prepare_v2(s_db, "SELECT data FROM blocks WHERE mh=?", -1, &s_get,
                         0) != SQLITE_OK)
    return -1;
  return 0;
}

static int sqlite_put(const uint8_t *key, const uint8_t *val, size_t len) {
  sqlite3_bind_blob(s_put, 1, key, KEY_LEN, SQLITE_STATIC);
  sqlite3_bind_blob(s_put, 2, val, (int)len, SQLITE_STATIC);
  int rc = sqlite3_step(s_put);
  sqlite3_reset(s_put);
  return rc == SQLITE_DONE ? 0 : -1;
}

static int sqlite_get(const uint8_t *key, uint8_t *buf, size_t cap, size_t *len) {
  int rc = -1;
  sqlite3_bind_blob(s_get, 1, key, KEY_LEN, SQLITE_STATIC);
  if (sqlite3_step(s_get) == SQLITE_ROW) {
    size_t n = (size_t)sqlite3_column_bytes(s_get, 0);
    if (n <= cap) {
      memcpy(buf, sqlite3_column_blob(s_get, 0), n);
      *len = n;
      rc = 0;
    }
  }
  sqlite3_reset(s_get);
  return rc;
}

static int sqlite_check_all(size_t *n, size_t *bad) {
  sqlite3_stmt *st;
  *n = *bad = 0;
  if (sqlite3_prepare_v2(s_db, "SELECT mh, data FROM blocks", -1, &st, 0))
    return -1;
  while (sqlite3_step(st) == SQLITE_ROW) {
    (*n)++;
    if (sqlite3_column_bytes(st, 0) != KEY_LEN ||
        !value_ok(sqlite3_column_blob(st, 0), sqlite3_column_blob(st, 1),
                  (size_t)sqlite3_column_bytes(st, 1)))
      (*bad)++;
  }
  sqlite3_finalize(st);
  return 0;
}

static void sqlite_close(void) {
  sqlite3_finalize(s_put);
  sqlite3_finalize(s_get);
  sqlite3_close(s_db);
}

/* ---- lmdb ------------------------------------------------------------- */
static MDB_env *l_env;
static MDB_dbi l_dbi;

static int lmdb_open(const char *dir, int sync) {
  MDB_txn *txn;
  mkdir(dir, 0700);
  if (mdb_env_create(&l_env) || mdb_env_set_mapsize(l_env, (size_t)64 << 30) ||
      mdb_env_open(l_env, dir, sync ? 0 : MDB_NOSYNC, 0600) ||
      mdb_txn_begin(l_env, NULL, 0, &txn) || mdb_dbi_open(txn, NULL, 0, &l_dbi) ||
      mdb_txn_commit(txn))
    return -1;
  return 0;
}

static int lmdb_put(const uint8_t *key, const uint8_t *val, size_t len) {
  MDB_txn *txn;
  MDB_val k = {KEY_LEN, (void *)key}, v = {len, (void *)val};
  if (mdb_txn_begin(l_env, NULL, 0, &txn))
    return -1;
  int rc = mdb_put(txn, l_dbi, &k, &v, MDB_NOOVERWRITE);
  if (rc && rc != MDB_KEYEXIST) {
    mdb_txn_abort(txn);
    return -1;
  }
  return mdb_txn_commit(txn) ? -1 : 0;
}

static int lmdb_get(const uint8_t *key, uint8_t *buf, size_t cap, size_t *len) {
  MDB_txn *txn;
  MDB_val k = {KEY_LEN, (void *)key}, v;
  int rc = -1;
  if (mdb_txn_begin(l_env, NULL, MDB_RDONLY, &txn))
    return -1;
  if (mdb_get(txn, l_dbi, &k, &v) == 0 && v.mv_size <= cap) {
    memcpy(buf, v.mv_data, v.mv_size);
    *len = v.mv_size;
    rc = 0;
  }
  mdb_txn_abort(txn);
  return rc;
}

static int lmdb_check_all(size_t *n, size_t *bad) {
  MDB_txn *txn;
  MDB_cursor *c;
  MDB_val k, v;
  *n = *bad = 0;
  if (mdb_txn_begin(l_env, NULL, MDB_RDONLY, &txn) ||
      mdb_cursor_open(txn, l_dbi, &c))
    return -1;
  while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
    (*n)++;
    if (k.mv_size != KEY_LEN || !value_ok(k.mv_data, v.mv_data, v.mv_size))
      (*bad)++;
  }
  mdb_cursor_close(c);
  mdb_txn_abort(txn);
  return 0;
}

static void lmdb_close(void) {
  mdb_env_close(l_env);
}

/* ---- libcpc ----------------------------------------------------------- */
/*
 * The library keys blocks by their real multihash, so the bench key is only
 * used to find the CID it computed for that key's value.
 */
static cpc_blockstore *c_bs;

#define C_SLOTS 65536
static struct {
  uint8_t key[KEY_LEN];
  cpc_cid cid;
} c_map[C_SLOTS];

static size_t c_slot(const uint8_t *key) {
  uint64_t h;
  memcpy(&h, key + 2, 8);
  for (size_t i = (size_t)(h % C_SLOTS);; i = (i + 1) % C_SLOTS)
    if (c_map[i].key[0] == 0 || memcmp(c_map[i].key, key, KEY_LEN) == 0)
      return i;
}

static int libcpc_open(const char *dir, int sync) {
  memset(c_map, 0, sizeof c_map);
  return cpc_blockstore_open(dir, sync ? 0 : CPC_BLOCKSTORE_NOSYNC, &c_bs);
}

static int libcpc_put(const uint8_t *key, const uint8_t *val, size_t len) {
  size_t i = c_slot(key);
  memcpy(c_map[i].key, key, KEY_LEN);
  return cpc_blockstore_add(c_bs, CPC_CODEC_RAW, CPC_MH_BLAKE3, val, len,
                            &c_map[i].cid);
}

static int libcpc_get(const uint8_t *key, uint8_t *buf, size_t cap,
                      size_t *len) {
  size_t i = c_slot(key);
  if (c_map[i].key[0] == 0)
    return -1;
  return cpc_blockstore_get(c_bs, &c_map[i].cid, buf, cap, len);
}

static int libcpc_check_all(size_t *n, size_t *bad) {
  cpc_blockstore_scrub_result r;
  int rc = cpc_blockstore_scrub(c_bs, NULL, NULL, &r);
  *n = (size_t)r.checked;
  *bad = (size_t)r.bad;
  return rc;
}

static void libcpc_close(void) {
  cpc_blockstore_close(c_bs);
}

static const struct layout layouts[] = {
    {"files", files_open, files_put, files_get, files_check_all, files_close},
    {"sqlite", sqlite_open, sqlite_put, sqlite_get, sqlite_check_all,
     sqlite_close},
    {"lmdb", lmdb_open, lmdb_put, lmdb_get, lmdb_check_all, lmdb_close},
    {"libcpc", libcpc_open, libcpc_put, libcpc_get, libcpc_check_all,
     libcpc_close},
};
#define N_LAYOUTS (sizeof layouts / sizeof layouts[0])

/* ---- measurement ------------------------------------------------------ */
static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void rm_rf(const char *dir) {
  char cmd[4300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "warning: could not remove %s\n", dir);
}

static uint64_t du_bytes(const char *dir) {
  char cmd[4300];
  unsigned long long kib = 0;
  snprintf(cmd, sizeof cmd, "du -sk '%s'", dir);
  FILE *p = popen(cmd, "r");
  if (p && fscanf(p, "%llu", &kib) != 1)
    kib = 0;
  if (p)
    pclose(p);
  return (uint64_t)kib * 1024;
}

/* Put n values of size len into a fresh store, then read them all back. */
static int run_one(const struct layout *l, const char *base, int sync, size_t n,
                   size_t len) {
  char dir[4200];
  uint8_t key[KEY_LEN];
  uint8_t *val = malloc(len), *buf = malloc(len);
  size_t got, total, bad;
  snprintf(dir, sizeof dir, "%s/%s-%s-%zu", base, l->name, sync ? "sync" : "nosync",
           len);
  rm_rf(dir);
  if (!val || !buf || l->open(dir, sync) != 0) {
    fprintf(stderr, "%s: open failed\n", l->name);
    return -1;
  }
  /* Prefill (untimed) with n sibling keys that share each key's directory,
   * so the timed puts see a store that is not empty and, for files, whose
   * fan-out directories already exist. */
  for (size_t i = 0; i < n; i++) {
    make_key(i, key);
    key[KEY_LEN - 1] ^= 0xff;
    make_value(key, val, len);
    if (l->put(key, val, len) != 0) {
      fprintf(stderr, "%s: prefill %zu failed: %s\n", l->name, i,
              strerror(errno));
      return -1;
    }
  }
  double t0 = now();
  for (size_t i = 0; i < n; i++) {
    make_key(i, key);
    make_value(key, val, len);
    if (l->put(key, val, len) != 0) {
      fprintf(stderr, "%s: put %zu failed: %s\n", l->name, i, strerror(errno));
      return -1;
    }
  }
  double t1 = now();
  for (size_t i = 0; i < n; i++) {
    make_key(i, key);
    if (l->get(key, buf, len, &got) != 0 || got != len) {
      fprintf(stderr, "%s: get %zu failed\n", l->name, i);
      return -1;
    }
  }
  double t2 = now();
  l->check_all(&total, &bad);
  l->close();
  double mib = (double)(n * len) / (1 << 20);
  printf("%-7s %-6s %7zu B x %5zu: put %8.1f MiB/s %8.0f ops/s | get(warm) "
         "%8.1f MiB/s %8.0f ops/s | disk %6.1f MiB for %6.1f MiB | check %zu/%zu\n",
         l->name, sync ? "sync" : "nosync", len, n, mib / (t1 - t0),
         (double)n / (t1 - t0), mib / (t2 - t1), (double)n / (t2 - t1),
         (double)du_bytes(dir) / (1 << 20), 2 * mib, total - bad, total);
  fflush(stdout);
  free(val);
  free(buf);
  rm_rf(dir);
  return 0;
}

/*
 * Crash test: a child puts values of varying size (1 KiB .. 1 MiB) in a loop;
 * the parent kills it with SIGKILL after a random delay, reopens the store
 * and checks every value. Repeated rounds on the same store.
 */
static int crash_test(const struct layout *l, const char *dir, int rounds) {
  size_t bad_total = 0, n = 0, bad = 0;
  static uint8_t val[1 << 20];
  srand((unsigned)time(NULL));
  rm_rf(dir);
  for (int r = 0; r < rounds; r++) {
    pid_t pid = fork();
    if (pid == 0) {
      uint8_t key[KEY_LEN];
      if (l->open(dir, 1) != 0)
        _exit(1);
      for (uint64_t i = (uint64_t)r << 32;; i++) {
        size_t len = 1024 + (size_t)(i * 104729 % (1 << 20));
        make_key(i, key);
        make_value(key, val, len);
        if (l->put(key, val, len) != 0)
          _exit(1);
      }
    }
    usleep((useconds_t)(20000 + rand() % 200000));
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    if (l->open(dir, 1) != 0) {
      printf("%s: round %d: store does not open after kill -9\n", l->name, r);
      return 1;
    }
    l->check_all(&n, &bad);
    l->close();
    bad_total += bad;
  }
  printf("%-7s crash: %d kill -9 rounds, %zu values stored, %zu bad\n", l->name,
         rounds, n, bad_total);
  return bad_total ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "--crash") == 0) {
    for (size_t i = 0; i < N_LAYOUTS; i++)
      if (strcmp(layouts[i].name, argv[3]) == 0)
        return crash_test(&layouts[i], argv[2], argc > 4 ? atoi(argv[4]) : 20);
    fprintf(stderr, "unknown layout %s\n", argv[3]);
    return 2;
  }
  if (argc < 2) {
    fprintf(stderr, "usage: %s DIR [N_BIG N_SMALL] | --crash DIR LAYOUT [ROUNDS]\n",
            argv[0]);
    return 2;
  }
  size_t n_big = argc > 2 ? (size_t)atol(argv[2]) : 256;
  size_t n_small = argc > 3 ? (size_t)atol(argv[3]) : 2000;
  for (int sync = 1; sync >= 0; sync--)
    for (size_t i = 0; i < N_LAYOUTS; i++)
      if (run_one(&layouts[i], argv[1], sync, n_big, 256 * 1024) != 0 ||
          run_one(&layouts[i], argv[1], sync, n_small, 1024) != 0)
        return 1;
  return 0;
}
