/* crypt_dir.c: DIR/blocks as a block store, and small key files. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpc/error.h"
#include "crypt_dir.h"

static int block_path(struct crypt_dir *d, const cpc_cid *cid, char *path) {
  int rc = cpc_cid_format(cid, CPC_MB_BASE32, d->last_cid, sizeof d->last_cid);
  if (rc != 0)
    return rc;
  int n = snprintf(path, CRYPT_PATH_MAX, "%s/blocks/%s", d->dir, d->last_cid);
  return n > 0 && n < CRYPT_PATH_MAX ? 0 : CPC_ETOOBIG;
}

static int write_all(int fd, const uint8_t *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return CPC_EIO;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int crypt_dir_put(void *ctx, const cpc_cid *cid, const uint8_t *block,
                  size_t len) {
  struct crypt_dir *d = ctx;
  char path[CRYPT_PATH_MAX];
  int rc = block_path(d, cid, path);
  if (rc != 0)
    return rc;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    d->last_errno = errno;
    return errno == ENOSPC || errno == EDQUOT ? CPC_ENOSPC : CPC_EIO;
  }
  rc = write_all(fd, block, len);
  if (rc != 0)
    d->last_errno = errno;
  if (close(fd) != 0 && rc == 0) {
    d->last_errno = errno;
    rc = CPC_EIO;
  }
  if (rc != 0 && (d->last_errno == ENOSPC || d->last_errno == EDQUOT))
    rc = CPC_ENOSPC;
  return rc;
}

int crypt_read_small(const char *path, uint8_t *buf, size_t cap, size_t *len) {
  struct stat st;
  int rc = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? CPC_ENOENT : CPC_EIO;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    rc = CPC_EIO;
    goto out;
  }
  if ((uint64_t)st.st_size > cap) {
    rc = CPC_ETOOBIG;
    goto out;
  }
  *len = 0;
  while (*len < cap) {
    ssize_t n = read(fd, buf + *len, cap - *len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      rc = CPC_EIO;
      goto out;
    }
    if (n == 0)
      break;
    *len += (size_t)n;
  }
out:
  close(fd);
  return rc;
}

int crypt_dir_get(void *ctx, const cpc_cid *cid, uint8_t *buf, size_t cap,
                  size_t *len) {
  struct crypt_dir *d = ctx;
  char path[CRYPT_PATH_MAX];
  int rc = block_path(d, cid, path);
  if (rc == 0)
    rc = crypt_read_small(path, buf, cap, len);
  if (rc == CPC_EIO)
    d->last_errno = errno;
  return rc;
}

int crypt_parse_key32(const uint8_t *in, size_t len, uint8_t out[32]) {
  size_t n = 0;
  if (len == 32) {
    memcpy(out, in, 32);
    return 0;
  }
  while (len > 0 && (in[len - 1] == '\n' || in[len - 1] == '\r' ||
                     in[len - 1] == ' ' || in[len - 1] == '\t'))
    len--;
  while (len > 0 && (in[0] == ' ' || in[0] == '\t')) {
    in++;
    len--;
  }
  if (sodium_base642bin(out, 32, (const char *)in, len, NULL, &n, NULL,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      n != 32)
    return CPC_EMALFORMED;
  return 0;
}

int crypt_write_new(const char *path, const void *data, size_t len,
                    unsigned mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
  if (fd < 0)
    return errno == EEXIST ? CPC_EEXIST : CPC_EIO;
  int rc = write_all(fd, data, len);
  if (fsync(fd) != 0 && rc == 0)
    rc = CPC_EIO;
  if (close(fd) != 0 && rc == 0)
    rc = CPC_EIO;
  return rc;
}
