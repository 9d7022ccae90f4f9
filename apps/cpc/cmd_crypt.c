/*
 * cmd_crypt.c: `cpc encrypt` and `cpc decrypt`, the content pipeline on its
 * own (layout in crypt_dir.h), so it can be tried and measured.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "cpc/content.h"
#include "cpc/identity.h"
#include "cpc/error.h"
#include "cpc/uri.h"
#include "crypt_dir.h"

#define READ_BUF (1u << 20) /* a multiple of the chunk size: no extra copy */
#define MAX_RECIPIENTS 256
#define B64_32 sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)
#define B64_SEALED                                                             \
  sodium_base64_ENCODED_LEN(CPC_SEALED_KEY_LEN, sodium_base64_VARIANT_ORIGINAL)

static void encrypt_usage(FILE *out) {
  fprintf(out,
          "usage: cpc encrypt FILE|- --out DIR [--chunker fixed|cdc]\n"
          "                   [--chunk-size N] [--no-compress] [--threads 0|1]\n"
          "                   [--to X25519-PUBKEY-B64 ...]\n"
          "\n"
          "Chunk, compress (where it pays), encrypt and address FILE ('-' reads\n"
          "standard input) under a fresh random content key. Writes every block to\n"
          "DIR/blocks/<cid>, the URI to DIR/content_id and prints it. The key goes\n"
          "to DIR/key in the clear (mode 0600; for public content), or, with --to,\n"
          "sealed to each recipient's X25519 public key in DIR/keys/<key>.\n"
          "\n"
          "options:\n"
          "  --out DIR          output directory (created; must not hold content)\n"
          "  --chunker KIND     fixed (default) or cdc (content-defined)\n"
          "  --chunk-size N     chunk size, or CDC average (power of two), 1K..1M;\n"
          "                     suffix K or M allowed (default 256K)\n"
          "  --no-compress      never compress chunks\n"
          "  --threads 0|1      1 (default): hash on a second thread\n"
          "  --to KEY           seal the key to this X25519 public key (base64,\n"
          "                     32 bytes); repeatable; no clear key is written\n"
          "  -h, --help         show this help\n");
}

static void decrypt_usage(FILE *out) {
  fprintf(out,
          "usage: cpc decrypt DIR --out FILE|- [--key FILE | --identity FILE |\n"
          "                                     --x25519-secret FILE]\n"
          "\n"
          "Verify every block of the content in DIR (made by `cpc encrypt`) against\n"
          "its CID, decrypt it and write the plaintext to FILE ('-' for standard\n"
          "output). FILE is only replaced once everything has verified.\n"
          "\n"
          "options:\n"
          "  --out FILE            where the plaintext goes\n"
          "  --key FILE            the content key (default DIR/key)\n"
          "  --identity FILE       a user identity made by `cpc id new`: its X25519\n"
          "                        key opens the content key sealed for it in DIR/keys\n"
          "  --x25519-secret FILE  an X25519 secret key (32 raw bytes or base64) to\n"
          "                        open the key sealed for it in DIR/keys\n"
          "  -h, --help            show this help\n");
}

static int parse_size(const char *s, uint32_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s)
    return -1;
  if (*end == 'K' || *end == 'k') {
    v <<= 10;
    end++;
  } else if (*end == 'M' || *end == 'm') {
    v <<= 20;
    end++;
  }
  if (*end != '\0' || v > UINT32_MAX)
    return -1;
  *out = (uint32_t)v;
  return 0;
}

/* --- encrypt ------------------------------------------------------------ */

struct encrypt_args {
  const char *in, *out;
  cpc_content_options opt;
  uint8_t to[MAX_RECIPIENTS][32];
  size_t n_to;
};

static int parse_encrypt(int argc, char **argv, struct encrypt_args *a) {
  cpc_content_options_init(&a->opt);
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (cpc_is_help(arg)) {
      encrypt_usage(stdout);
      return 0;
    } else if (strcmp(arg, "--no-compress") == 0) {
      a->opt.compress = 0;
      continue;
    } else if (arg[0] == '-' && arg[1] == '-' && !val) {
      fprintf(stderr, "cpc encrypt: %s needs a value\n", arg);
      return 2;
    }
    if (strcmp(arg, "--out") == 0) {
      a->out = val;
    } else if (strcmp(arg, "--chunker") == 0) {
      if (strcmp(val, "fixed") == 0)
        a->opt.chunker = CPC_CHUNKER_FIXED;
      else if (strcmp(val, "cdc") == 0)
        a->opt.chunker = CPC_CHUNKER_CDC;
      else
        return cpc_fail("encrypt", "--chunker must be fixed or cdc, not '%s'", val) + 1;
    } else if (strcmp(arg, "--chunk-size") == 0) {
      if (parse_size(val, &a->opt.chunk_size) != 0)
        return cpc_fail("encrypt", "--chunk-size: '%s' is not a size (e.g. 256K)", val) + 1;
    } else if (strcmp(arg, "--threads") == 0) {
      if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0)
        return cpc_fail("encrypt", "--threads must be 0 or 1") + 1;
      a->opt.threads = (unsigned)(val[0] - '0');
    } else if (strcmp(arg, "--to") == 0) {
      if (a->n_to == MAX_RECIPIENTS)
        return cpc_fail("encrypt", "at most %d --to recipients", MAX_RECIPIENTS) + 1;
      if (crypt_parse_key32((const uint8_t *)val, strlen(val), a->to[a->n_to]) != 0 ||
          strlen(val) == 32)
        return cpc_fail("encrypt",
                        "--to '%s' is not an X25519 public key (base64 of 32 bytes)",
                        val) + 1;
      a->n_to++;
    } else if (arg[0] == '-' && arg[1] != '\0') {
      fprintf(stderr, "cpc encrypt: unknown option '%s'\n\n", arg);
      encrypt_usage(stderr);
      return 2;
    } else if (!a->in) {
      a->in = arg;
      continue;
    } else {
      return cpc_fail("encrypt", "one input only ('%s' is extra)", arg) + 1;
    }
    i++;
  }
  if (!a->in || !a->out) {
    encrypt_usage(stderr);
    return 2;
  }
  if (a->opt.chunker == CPC_CHUNKER_CDC && a->opt.chunk_size != 0 &&
      (a->opt.chunk_size & (a->opt.chunk_size - 1)) != 0)
    return cpc_fail("encrypt", "--chunk-size for cdc must be a power of two") + 1;
  if (a->opt.chunk_size < CPC_CHUNK_MIN_PARAM || a->opt.chunk_size > CPC_CHUNK_MAX)
    return cpc_fail("encrypt", "--chunk-size must be between 1K and 1M") + 1;
  return -1;
}

static int make_dirs(const char *out) {
  char path[CRYPT_PATH_MAX];
  struct stat st;
  if (mkdir(out, 0755) != 0 && errno != EEXIST)
    return cpc_fail("encrypt", "cannot create %s: %s", out, strerror(errno));
  snprintf(path, sizeof path, "%s/content_id", out);
  if (stat(path, &st) == 0)
    return cpc_fail("encrypt", "%s already holds content (%s exists); choose a new --out",
                    out, path);
  snprintf(path, sizeof path, "%s/blocks", out);
  if (mkdir(path, 0755) != 0 && errno != EEXIST)
    return cpc_fail("encrypt", "cannot create %s: %s", path, strerror(errno));
  return 0;
}

/* Read the whole of fd through e, READ_BUF bytes at a time. */
static int pump(int fd, cpc_content_encryptor *e, uint8_t *buf, int *read_errno) {
  for (;;) {
    size_t have = 0;
    while (have < READ_BUF) { /* fill: whole chunks skip the encryptor's copy */
      ssize_t n = read(fd, buf + have, READ_BUF - have);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0) {
        *read_errno = errno;
        return CPC_EIO;
      }
      if (n == 0)
        break;
      have += (size_t)n;
    }
    if (have == 0)
      return 0;
    int rc = cpc_content_encryptor_update(e, buf, have);
    if (rc != 0 || have < READ_BUF)
      return rc;
  }
}

static int write_keys(const struct encrypt_args *a, const uint8_t key[32]) {
  char path[CRYPT_PATH_MAX], text[B64_SEALED + 1], name[64];
  int rc;
  if (a->n_to == 0) {
    sodium_bin2base64(text, sizeof text, key, 32, sodium_base64_VARIANT_ORIGINAL);
    strcat(text, "\n");
    snprintf(path, sizeof path, "%s/key", a->out);
    rc = crypt_write_new(path, text, strlen(text), 0600);
    sodium_memzero(text, sizeof text);
    if (rc != 0)
      return cpc_fail("encrypt", "cannot write %s: %s", path,
                      rc == CPC_EEXIST ? "it exists" : strerror(errno));
    return 0;
  }
  snprintf(path, sizeof path, "%s/keys", a->out);
  if (mkdir(path, 0755) != 0 && errno != EEXIST)
    return cpc_fail("encrypt", "cannot create %s: %s", path, strerror(errno));
  for (size_t i = 0; i < a->n_to; i++) {
    uint8_t sealed[CPC_SEALED_KEY_LEN];
    rc = cpc_key_seal(a->to[i], key, sealed);
    if (rc != 0)
      return cpc_fail("encrypt", "cannot seal the key to recipient %zu: %s", i + 1,
                      cpc_strerror(rc));
    sodium_bin2base64(name, sizeof name, a->to[i], 32,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_bin2base64(text, sizeof text, sealed, sizeof sealed,
                      sodium_base64_VARIANT_ORIGINAL);
    strcat(text, "\n");
    snprintf(path, sizeof path, "%s/keys/%s", a->out, name);
    rc = crypt_write_new(path, text, strlen(text), 0644);
    if (rc != 0 && rc != CPC_EEXIST) /* the same recipient twice is fine */
      return cpc_fail("encrypt", "cannot write %s: %s", path, strerror(errno));
  }
  return 0;
}

int cpc_cmd_encrypt(int argc, char **argv) {
  struct encrypt_args *a = calloc(1, sizeof *a);
  struct crypt_dir d = {0};
  cpc_content_encryptor *e = NULL;
  uint8_t key[CPC_AEAD_KEY_LEN], *buf = NULL;
  char uri[CPC_URI_MAX + 1], path[CRYPT_PATH_MAX];
  cpc_cid id;
  int fd = -1, status = 1, rc, read_errno = 0;
  if (!a)
    return cpc_fail("encrypt", "out of memory");
  status = parse_encrypt(argc, argv, a);
  if (status >= 0)
    goto out;
  status = 1;
  if (make_dirs(a->out) != 0)
    goto out;
  fd = strcmp(a->in, "-") == 0 ? STDIN_FILENO : open(a->in, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    cpc_fail("encrypt", "cannot open %s: %s", a->in, strerror(errno));
    goto out;
  }
  buf = malloc(READ_BUF);
  d.dir = a->out;
  cpc_aead_keygen(key);
  rc = buf ? cpc_content_encryptor_new(&a->opt, key, crypt_dir_put, &d, &e)
           : CPC_ENOMEM;
  if (rc == 0)
    rc = pump(fd, e, buf, &read_errno);
  if (rc == CPC_EIO && read_errno) {
    cpc_fail("encrypt", "cannot read %s: %s", a->in, strerror(read_errno));
    goto out;
  }
  if (rc == 0)
    rc = cpc_content_encryptor_final(e, &id, NULL);
  if (rc == 0)
    rc = cpc_content_uri_format(&id, uri, sizeof uri - 1);
  if (rc != 0) {
    if (d.last_errno)
      cpc_fail("encrypt", "cannot write block %s in %s/blocks: %s", d.last_cid,
               a->out, strerror(d.last_errno));
    else
      cpc_fail("encrypt", "%s", cpc_strerror(rc));
    goto out;
  }
  if (write_keys(a, key) != 0)
    goto out;
  strcat(uri, "\n");
  snprintf(path, sizeof path, "%s/content_id", a->out);
  if (crypt_write_new(path, uri, strlen(uri), 0644) != 0) {
    cpc_fail("encrypt", "cannot write %s: %s", path, strerror(errno));
    goto out;
  }
  fputs(uri, stdout);
  status = fflush(stdout) == 0 ? 0 : 1;
out:
  sodium_memzero(key, sizeof key);
  cpc_content_encryptor_free(e);
  if (fd > STDIN_FILENO)
    close(fd);
  free(buf);
  free(a);
  return status;
}

/* --- decrypt ------------------------------------------------------------ */

struct decrypt_args {
  const char *dir, *out, *key_file, *x25519_file, *identity_file;
};

static int parse_decrypt(int argc, char **argv, struct decrypt_args *a) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    const char **slot = NULL;
    if (cpc_is_help(arg)) {
      decrypt_usage(stdout);
      return 0;
    }
    if (strcmp(arg, "--out") == 0)
      slot = &a->out;
    else if (strcmp(arg, "--key") == 0)
      slot = &a->key_file;
    else if (strcmp(arg, "--x25519-secret") == 0)
      slot = &a->x25519_file;
    else if (strcmp(arg, "--identity") == 0)
      slot = &a->identity_file;
    if (slot) {
      if (!val) {
        fprintf(stderr, "cpc decrypt: %s needs a value\n", arg);
        return 2;
      }
      *slot = val;
      i++;
    } else if (arg[0] == '-' && arg[1] != '\0') {
      fprintf(stderr, "cpc decrypt: unknown option '%s'\n\n", arg);
      decrypt_usage(stderr);
      return 2;
    } else if (!a->dir) {
      a->dir = arg;
    } else {
      return cpc_fail("decrypt", "one directory only ('%s' is extra)", arg) + 1;
    }
  }
  if (!a->dir || !a->out) {
    decrypt_usage(stderr);
    return 2;
  }
  if (!!a->key_file + !!a->x25519_file + !!a->identity_file > 1)
    return cpc_fail("decrypt", "give only one of --key, --identity and "
                               "--x25519-secret") + 1;
  return -1;
}

/* Load the content key as the options say. 0, or 1 after reporting. */
static int load_key(const struct decrypt_args *a, uint8_t key[32]) {
  char path[CRYPT_PATH_MAX], name[64];
  uint8_t raw[256], sk[32], pk[32], sealed[CPC_SEALED_KEY_LEN];
  size_t len = 0, n = 0;
  int rc;
  if (!a->x25519_file && !a->identity_file) {
    if (a->key_file)
      snprintf(path, sizeof path, "%s", a->key_file);
    else
      snprintf(path, sizeof path, "%s/key", a->dir);
    rc = crypt_read_small(path, raw, sizeof raw, &len);
    if (rc == CPC_ENOENT && !a->key_file)
      return cpc_fail("decrypt", "%s has no clear key (%s); if it was encrypted with "
                      "--to, pass --identity FILE or --x25519-secret FILE",
                      a->dir, path);
    if (rc == 0)
      rc = crypt_parse_key32(raw, len, key);
    sodium_memzero(raw, sizeof raw);
    if (rc != 0)
      return cpc_fail("decrypt", "cannot read the key from %s: %s", path,
                      rc == CPC_EMALFORMED ? "not a 32-byte key in base64"
                                           : cpc_strerror(rc));
    return 0;
  }
  if (a->identity_file) {
    cpc_user_identity id;
    cpc_user_identity_init(&id);
    rc = cpc_user_identity_load(a->identity_file, &id);
    if (rc == 0 && !id.has_secrets)
      rc = CPC_ENOENT;
    if (rc == 0)
      memcpy(sk, id.encryption_key.secret, sizeof sk);
    cpc_user_identity_free(&id);
    if (rc != 0)
      return cpc_fail("decrypt", "cannot load the identity %s: %s",
                      a->identity_file, cpc_strerror(rc));
  } else {
    rc = crypt_read_small(a->x25519_file, raw, sizeof raw, &len);
    if (rc == 0)
      rc = crypt_parse_key32(raw, len, sk);
    sodium_memzero(raw, sizeof raw);
    if (rc != 0)
      return cpc_fail("decrypt", "cannot read an X25519 secret key from %s: %s",
                      a->x25519_file,
                      rc == CPC_EMALFORMED ? "not 32 bytes, raw or base64"
                                           : cpc_strerror(rc));
  }
  if (crypto_scalarmult_base(pk, sk) != 0) {
    sodium_memzero(sk, sizeof sk);
    return cpc_fail("decrypt", "%s is not a usable X25519 secret key",
                    a->identity_file ? a->identity_file : a->x25519_file);
  }
  sodium_bin2base64(name, sizeof name, pk, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  snprintf(path, sizeof path, "%s/keys/%s", a->dir, name);
  rc = crypt_read_small(path, raw, sizeof raw, &len);
  if (rc == 0) {
    while (len > 0 && (raw[len - 1] == '\n' || raw[len - 1] == '\r'))
      len--;
    if (sodium_base642bin(sealed, sizeof sealed, (const char *)raw, len, NULL, &n,
                          NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
      rc = CPC_EMALFORMED;
  }
  if (rc == 0)
    rc = cpc_key_unseal(sk, sealed, n, key);
  sodium_memzero(sk, sizeof sk);
  if (rc == CPC_ENOENT)
    return cpc_fail("decrypt", "the content in %s is not sealed for this key (no %s)",
                    a->dir, path);
  if (rc != 0)
    return cpc_fail("decrypt", "cannot open the sealed key %s: %s", path,
                    cpc_strerror(rc));
  return 0;
}

static int write_plain(void *ctx, const uint8_t *data, size_t len) {
  int fd = *(int *)ctx;
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return errno == ENOSPC ? CPC_ENOSPC : CPC_EIO;
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

/* What went wrong, for a person: which block, and what to do. */
static void report(const struct crypt_dir *d, int rc, const char *out_path) {
  switch (rc) {
  case CPC_ENOENT:
    cpc_fail("decrypt", "block %s is missing from %s/blocks", d->last_cid, d->dir);
    break;
  case CPC_EMISMATCH:
  case CPC_ETRUNC:
    cpc_fail("decrypt", "block %s in %s/blocks is corrupt or tampered with (%s)",
             d->last_cid, d->dir, cpc_strerror(rc));
    break;
  case CPC_EAUTH:
    cpc_fail("decrypt", "wrong key for %s, or its blocks were forged (%s)", d->dir,
             cpc_strerror(rc));
    break;
  case CPC_EIO:
  case CPC_ENOSPC:
    cpc_fail("decrypt", "cannot write %s or read %s/blocks: %s", out_path, d->dir,
             strerror(d->last_errno ? d->last_errno : errno));
    break;
  default:
    cpc_fail("decrypt", "%s", cpc_strerror(rc));
  }
}

int cpc_cmd_decrypt(int argc, char **argv) {
  struct decrypt_args a = {0};
  struct crypt_dir d = {0};
  char path[CRYPT_PATH_MAX], tmp[CRYPT_PATH_MAX], text[CPC_URI_MAX + 8];
  uint8_t key[CPC_AEAD_KEY_LEN];
  size_t len = 0;
  cpc_cid id;
  int status = parse_decrypt(argc, argv, &a), fd = -1, rc;
  if (status >= 0)
    return status;
  status = 1;
  snprintf(path, sizeof path, "%s/content_id", a.dir);
  rc = crypt_read_small(path, (uint8_t *)text, sizeof text - 1, &len);
  if (rc != 0)
    return cpc_fail("decrypt", "cannot read %s: %s (is %s made by `cpc encrypt`?)",
                    path, cpc_strerror(rc), a.dir);
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
    len--;
  text[len] = '\0';
  rc = cpc_content_uri_parse(text, &id);
  if (rc != 0)
    return cpc_fail("decrypt", "%s does not hold a cpc:// URI: %s", path,
                    cpc_strerror(rc));
  if (load_key(&a, key) != 0)
    return 1;
  tmp[0] = '\0';
  if (strcmp(a.out, "-") == 0) {
    fd = STDOUT_FILENO;
  } else {
    snprintf(tmp, sizeof tmp, "%s.partial-XXXXXX", a.out);
    fd = mkstemp(tmp);
    if (fd < 0) {
      cpc_fail("decrypt", "cannot create a file next to %s: %s", a.out, strerror(errno));
      tmp[0] = '\0';
      goto out;
    }
  }
  d.dir = a.dir;
  rc = cpc_content_decrypt(&id, key, crypt_dir_get, &d, write_plain, &fd, NULL);
  if (fd != STDOUT_FILENO) {
    if (rc == 0 && fsync(fd) != 0)
      rc = CPC_EIO;
    if (close(fd) != 0 && rc == 0)
      rc = CPC_EIO;
  }
  fd = -1;
  if (rc != 0) {
    report(&d, rc, a.out);
    goto out;
  }
  if (tmp[0] && rename(tmp, a.out) != 0) {
    cpc_fail("decrypt", "cannot rename %s to %s: %s", tmp, a.out, strerror(errno));
    goto out;
  }
  tmp[0] = '\0';
  status = 0;
out:
  if (tmp[0])
    unlink(tmp);
  sodium_memzero(key, sizeof key);
  return status;
}
