/*
 * cmd_hash.c: `cpc hash`, BLAKE3 of files with b3sum-compatible flags and
 * output (`<hex>  <name>`, `-` for standard input).
 *
 * Regular files are read with pread() by cpc_blake3_hasher_update_fd()
 * (serial or tree-parallel), or memory-mapped with --mmap; pipes and small
 * files are read in a loop.
 */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "commands.h"
#include "cpc/blake3.h"
#include "cpc/error.h"

#define CMD "hash"
/* Regular files at least this big are read by offset (or mapped). */
#define PREAD_MIN (16 * 1024)
/* Read buffer for pipes and small files, and the pipe size to ask for. */
#define READ_BUF (256 * 1024)
#define PIPE_SIZE (1024 * 1024)

struct hash_opts {
  unsigned threads;
  int keyed;
  const char *key_file;
  const char *context;
  uint64_t length;
  int no_names;
  int raw;
  int mmap;
  uint8_t key[CPC_BLAKE3_KEY_LEN];
};

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: cpc hash [options] [FILE...]\n"
      "\n"
      "Print the BLAKE3 hash of each FILE as `<hex>  <name>`, like b3sum.\n"
      "With no FILE, or when FILE is -, read standard input.\n"
      "\n"
      "options:\n"
      "  --threads N       hash with up to N threads (default 1; 0 = one\n"
      "                    per CPU); --num-threads is the same\n"
      "  --backend NAME    portable, sse4.1, avx2, avx512 or auto (default\n"
      "                    auto, or $CPC_BLAKE3_BACKEND)\n"
      "  --keyed           keyed hash; the 32-byte key is read raw from\n"
      "                    standard input\n"
      "  --key-file FILE   keyed hash with the 32 raw bytes in FILE\n"
      "  --derive-key CTX  key derivation mode with context string CTX\n"
      "  -l, --length N    output N bytes (extendable output; default 32)\n"
      "  --no-names        print only the hashes\n"
      "  --raw             write raw output bytes (one input only)\n"
      "  --mmap            hash regular files through a memory map instead\n"
      "                    of pread() into cache-sized buffers\n"
      "  -h, --help        show this help\n");
}

/* "--name value" or "--name=value" (alias: another spelling of name). */
static const char *opt_value(int argc, char **argv, int *i, const char *name,
                             const char *alias, int *matched) {
  const char *arg = argv[*i];
  const char *names[2] = {name, alias};
  *matched = 0;
  for (int k = 0; k < 2 && names[k]; k++) {
    size_t n = strlen(names[k]);
    if (strcmp(arg, names[k]) == 0) {
      *matched = 1;
      if (*i + 1 >= argc)
        return NULL;
      return argv[++*i];
    }
    if (strncmp(arg, names[k], n) == 0 && arg[n] == '=') {
      *matched = 1;
      return arg + n + 1;
    }
  }
  return NULL;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out) {
  char *end;
  if (*s < '0' || *s > '9')
    return -1;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || v > max)
    return -1;
  *out = v;
  return 0;
}

static int parse_backend(const char *name, enum cpc_blake3_backend *out) {
  for (int b = CPC_BLAKE3_AUTO; b <= CPC_BLAKE3_AVX512; b++)
    if (strcmp(name, cpc_blake3_backend_name(b)) == 0) {
      *out = b;
      return 0;
    }
  return -1;
}

/* Read exactly the 32 key bytes from fd (all of it: more is an error). */
static int read_key(int fd, const char *what, uint8_t key[CPC_BLAKE3_KEY_LEN]) {
  uint8_t buf[CPC_BLAKE3_KEY_LEN + 1];
  size_t got = 0;
  while (got < sizeof buf) {
    ssize_t r = read(fd, buf + got, sizeof buf - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      cpc_fail(CMD, "reading the key from %s: %s", what, strerror(errno));
      return -1;
    }
    if (r == 0)
      break;
    got += (size_t)r;
  }
  if (got != CPC_BLAKE3_KEY_LEN) {
    cpc_fail(CMD, "expected %d key bytes from %s, found %s%zu",
             CPC_BLAKE3_KEY_LEN, what,
             got > CPC_BLAKE3_KEY_LEN ? "more than " : "",
             got > CPC_BLAKE3_KEY_LEN ? (size_t)CPC_BLAKE3_KEY_LEN : got);
    sodium_memzero(buf, sizeof buf);
    return -1;
  }
  memcpy(key, buf, CPC_BLAKE3_KEY_LEN);
  sodium_memzero(buf, sizeof buf);
  return 0;
}

static void init_hasher(cpc_blake3_hasher *h, const struct hash_opts *o) {
  if (o->keyed)
    cpc_blake3_hasher_init_keyed(h, o->key);
  else if (o->context)
    cpc_blake3_hasher_init_derive_key(h, o->context);
  else
    cpc_blake3_hasher_init(h);
}

/* Serial, or tree-parallel (which falls back to serial if it must). */
static void absorb(cpc_blake3_hasher *h, const uint8_t *data, size_t len,
                   unsigned threads) {
  if (threads != 1 &&
      cpc_blake3_hasher_update_parallel(h, data, len, threads) == 0)
    return;
  cpc_blake3_hasher_update(h, data, len);
}

/* Hash a mapped regular file (--mmap); 1 if it could not be mapped. */
static int hash_mapped(cpc_blake3_hasher *h, int fd, size_t size,
                       unsigned threads) {
  void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  if (map == MAP_FAILED)
    return 1;
  madvise(map, size, MADV_SEQUENTIAL);
  absorb(h, map, size, threads);
  munmap(map, size);
  return 0;
}

/*
 * Pipes and small files: fill a buffer, hash it, repeat. Serial: a pipe
 * delivers bytes more slowly than one core hashes them, so threads would
 * only wait; a bigger pipe lets the writer run ahead while we hash.
 */
static int hash_read(cpc_blake3_hasher *h, int fd, const char *name) {
  size_t cap = READ_BUF;
  uint8_t *buf = malloc(cap);
  int rc = 0;
  if (buf == NULL)
    return cpc_fail(CMD, "%s: out of memory for the read buffer", name);
  fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE); /* fails harmlessly on non-pipes */
  for (int eof = 0; !eof;) {
    size_t len = 0;
    while (len < cap) {
      ssize_t r = read(fd, buf + len, cap - len);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0) {
        rc = cpc_fail(CMD, "%s: %s", name, strerror(errno));
        goto out;
      }
      if (r == 0) {
        eof = 1;
        break;
      }
      len += (size_t)r;
    }
    cpc_blake3_hasher_update(h, buf, len);
  }
out:
  free(buf);
  return rc;
}

/*
 * Regular files of known size: pread() through cache-sized buffers, one per
 * thread (or a memory map with --mmap). Anything else: a read loop.
 */
static int hash_fd(cpc_blake3_hasher *h, int fd, const char *name,
                   const struct hash_opts *o) {
  struct stat st;
  off_t pos;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= PREAD_MIN &&
      (pos = lseek(fd, 0, SEEK_CUR)) >= 0 && pos <= st.st_size) {
    uint64_t len = (uint64_t)(st.st_size - pos);
    if (o->mmap) {
      if (pos == 0 && len <= SIZE_MAX &&
          hash_mapped(h, fd, (size_t)len, o->threads) == 0)
        return 0;
    } else {
      int rc =
          cpc_blake3_hasher_update_fd(h, fd, (uint64_t)pos, len, o->threads);
      if (rc == CPC_EIO)
        return cpc_fail(CMD, "%s: %s", name, strerror(errno));
      if (rc == 0)
        return 0;
    }
  }
  return hash_read(h, fd, name);
}

/* b3sum's escaping: a name with '\\' or '\n' gets a leading '\\'. */
static void print_name(const char *name) {
  if (strpbrk(name, "\\\n") == NULL) {
    fputs(name, stdout);
    return;
  }
  for (const char *p = name; *p; p++) {
    if (*p == '\\')
      fputs("\\\\", stdout);
    else if (*p == '\n')
      fputs("\\n", stdout);
    else
      putchar(*p);
  }
}

static void print_output(const cpc_blake3_hasher *h, const char *name,
                         const struct hash_opts *o) {
  uint8_t buf[4096];
  if (!o->raw && !o->no_names && strpbrk(name, "\\\n") != NULL)
    putchar('\\');
  for (uint64_t off = 0; off < o->length;) {
    size_t n = sizeof buf;
    if (o->length - off < n)
      n = (size_t)(o->length - off);
    cpc_blake3_hasher_finalize_seek(h, off, buf, n);
    if (o->raw) {
      fwrite(buf, 1, n, stdout);
    } else {
      for (size_t i = 0; i < n; i++)
        printf("%02x", buf[i]);
    }
    off += n;
  }
  if (o->raw)
    return;
  if (!o->no_names) {
    fputs("  ", stdout);
    print_name(name);
  }
  putchar('\n');
}

static int hash_one(const char *path, const struct hash_opts *o) {
  cpc_blake3_hasher h;
  int fd = 0;
  int rc;
  const char *name = path;

  if (strcmp(path, "-") != 0) {
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return cpc_fail(CMD, "%s: %s", path, strerror(errno));
  }
  init_hasher(&h, o);
  rc = hash_fd(&h, fd, name, o);
  if (rc == 0)
    print_output(&h, name, o);
  sodium_memzero(&h, sizeof h);
  if (fd != 0)
    close(fd);
  return rc;
}

int cpc_cmd_hash(int argc, char **argv) {
  struct hash_opts o = {.threads = 1, .length = CPC_BLAKE3_OUT_LEN};
  enum cpc_blake3_backend backend = CPC_BLAKE3_AUTO;
  int have_backend = 0;
  int first_file = argc;
  int rc = 0;

  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char *val;
    int m;
    uint64_t n;
    if (strcmp(arg, "--") == 0) {
      first_file = i + 1;
      break;
    }
    if (cpc_is_help(arg)) {
      usage(stdout);
      return 0;
    }
    if (arg[0] != '-' || strcmp(arg, "-") == 0) {
      first_file = i;
      break;
    }
    if (strcmp(arg, "--keyed") == 0) {
      o.keyed = 1;
    } else if (strcmp(arg, "--no-names") == 0) {
      o.no_names = 1;
    } else if (strcmp(arg, "--raw") == 0) {
      o.raw = 1;
    } else if (strcmp(arg, "--mmap") == 0) {
      o.mmap = 1;
    } else if ((val = opt_value(argc, argv, &i, "--threads", "--num-threads",
                                &m)) != NULL ||
               m) {
      if (!val || parse_u64(val, 4096, &n) != 0) {
        fprintf(stderr,
                "cpc hash: --threads needs a number 0..4096 (0 = all CPUs)\n");
        return 2;
      }
      o.threads = (unsigned)n;
    } else if ((val = opt_value(argc, argv, &i, "--length", "-l", &m)) !=
                   NULL ||
               m) {
      if (!val || parse_u64(val, UINT64_MAX, &n) != 0) {
        fprintf(stderr, "cpc hash: --length needs a byte count\n");
        return 2;
      }
      o.length = n;
    } else if ((val = opt_value(argc, argv, &i, "--derive-key", NULL, &m)) !=
                   NULL ||
               m) {
      if (!val) {
        fprintf(stderr, "cpc hash: --derive-key needs a context string\n");
        return 2;
      }
      o.context = val;
    } else if ((val = opt_value(argc, argv, &i, "--key-file", NULL, &m)) !=
                   NULL ||
               m) {
      if (!val) {
        fprintf(stderr, "cpc hash: --key-file needs a file name\n");
        return 2;
      }
      o.key_file = val;
    } else if ((val = opt_value(argc, argv, &i, "--backend", NULL, &m)) !=
                   NULL ||
               m) {
      if (!val || parse_backend(val, &backend) != 0) {
        fprintf(stderr, "cpc hash: --backend must be one of portable, sse4.1, "
                        "avx2, avx512, auto\n");
        return 2;
      }
      have_backend = 1;
    } else {
      fprintf(stderr, "cpc hash: unknown option '%s' (see cpc hash --help)\n",
              arg);
      return 2;
    }
  }

  if ((o.keyed || o.key_file) && o.context) {
    fprintf(stderr, "cpc hash: --derive-key cannot be used with --keyed\n");
    return 2;
  }
  if (o.keyed && o.key_file) {
    fprintf(stderr, "cpc hash: give the key on stdin (--keyed) or in a file "
                    "(--key-file), not both\n");
    return 2;
  }
  int nfiles = argc - first_file;
  if (o.raw && nfiles > 1) {
    fprintf(stderr, "cpc hash: --raw takes only one input\n");
    return 2;
  }
  if (have_backend && cpc_blake3_set_backend(backend) != 0)
    return cpc_fail(CMD,
                    "back end %s is not supported on this CPU; use "
                    "--backend auto",
                    cpc_blake3_backend_name(backend));

  if (o.keyed) {
    if (read_key(STDIN_FILENO, "stdin", o.key) != 0)
      return 1;
  } else if (o.key_file) {
    int fd = open(o.key_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return cpc_fail(CMD, "%s: %s", o.key_file, strerror(errno));
    int krc = read_key(fd, o.key_file, o.key);
    close(fd);
    if (krc != 0)
      return 1;
    o.keyed = 1;
  }

  if (nfiles == 0) {
    rc |= hash_one("-", &o);
  } else {
    for (int i = first_file; i < argc; i++)
      rc |= hash_one(argv[i], &o);
  }
  sodium_memzero(o.key, sizeof o.key);
  if (fflush(stdout) != 0 || ferror(stdout))
    return cpc_fail(CMD, "writing the output: %s", strerror(errno));
  return rc ? 1 : 0;
}
