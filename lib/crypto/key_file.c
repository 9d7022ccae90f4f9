/*
 * key_file.c: atomic, private (0600) files for secrets; see cpc/key_file.h.
 */
#define _GNU_SOURCE /* renameat2, RENAME_NOREPLACE */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cpc/error.h"
#include "cpc/key_file.h"
#include "cpc/keys.h"
#include "crypto/crypto_int.h"

/* Room for ".tmp-" and 16 hex digits after the target's name. */
#define TMP_SUFFIX_LEN 24

static int write_all(int fd, const uint8_t *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return CPC_EIO;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* fsync the directory holding path, so the rename itself is durable. */
static int sync_dir(const char *path) {
  char *dir = strdup(path);
  char *slash;
  int fd, rc = 0;

  if (!dir)
    return CPC_ENOMEM;
  slash = strrchr(dir, '/');
  if (!slash)
    strcpy(dir, ".");
  else if (slash == dir)
    dir[1] = '\0';
  else
    *slash = '\0';
  fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fsync(fd) != 0)
    rc = CPC_EIO;
  if (fd >= 0)
    close(fd);
  free(dir);
  return rc;
}

/* Put tmp at path without replacing an existing file. */
static int place_no_replace(const char *tmp, const char *path) {
#ifdef RENAME_NOREPLACE
  if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
    return 0;
  if (errno == EEXIST)
    return CPC_EEXIST;
  if (errno != EINVAL && errno != ENOSYS)
    return CPC_EIO;
#endif
  /* File systems without RENAME_NOREPLACE: link() never replaces either. */
  if (link(tmp, path) != 0)
    return errno == EEXIST ? CPC_EEXIST : CPC_EIO;
  unlink(tmp);
  return 0;
}

int cpc_key_file_write(const char *path, const void *data, size_t len,
                       int overwrite) {
  char *tmp = NULL;
  size_t plen;
  int fd = -1, rc, saved = 0, tmp_exists = 0;

  if (!path || !*path || (!data && len > 0))
    return CPC_EINVAL;
  if (cpc__sodium_ready() != 0)
    return CPC_ECRYPTO;
  if (!overwrite && access(path, F_OK) == 0)
    return CPC_EEXIST; /* early, clear answer; place_no_replace() decides */
  plen = strlen(path);
  tmp = malloc(plen + TMP_SUFFIX_LEN);
  if (!tmp)
    return CPC_ENOMEM;
  for (int tries = 0; tries < 8 && fd < 0; tries++) {
    uint8_t rnd[8];
    char hex[17];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    snprintf(tmp, plen + TMP_SUFFIX_LEN, "%s.tmp-%s", path, hex);
    /* 0600 from the start: the secret is never readable by anyone else. */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno != EEXIST)
      break;
  }
  if (fd < 0) {
    saved = errno;
    rc = CPC_EIO;
    goto out;
  }
  tmp_exists = 1;
  rc = write_all(fd, data, len);
  if (rc == 0 && fsync(fd) != 0)
    rc = CPC_EIO;
  if (rc != 0)
    saved = errno;
  if (close(fd) != 0 && rc == 0) {
    saved = errno;
    rc = CPC_EIO;
  }
  if (rc != 0)
    goto out;
  if (overwrite) {
    if (rename(tmp, path) != 0) {
      saved = errno;
      rc = CPC_EIO;
      goto out;
    }
  } else {
    rc = place_no_replace(tmp, path);
    if (rc != 0) {
      saved = errno;
      goto out;
    }
  }
  tmp_exists = 0; /* it is at path now */
  rc = sync_dir(path);
  if (rc != 0)
    saved = errno;
out:
  if (tmp_exists)
    unlink(tmp);
  free(tmp);
  errno = saved;
  return rc;
}

int cpc_key_file_read(const char *path, size_t max, uint8_t **out, size_t *len,
                      unsigned *mode) {
  struct stat st;
  uint8_t *buf = NULL;
  size_t size = 0, got = 0;
  int fd, rc;

  *out = NULL;
  *len = 0;
  if (!path || max > CPC_KEY_FILE_MAX)
    return CPC_EINVAL;
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? CPC_ENOENT
                           : (errno == EACCES ? CPC_EPERM : CPC_EIO);
  if (fstat(fd, &st) != 0) {
    rc = CPC_EIO;
    goto out;
  }
  if (mode)
    *mode = (unsigned)(st.st_mode & 07777);
  if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
    rc = CPC_EPERM;
    goto out;
  }
  if (st.st_size < 0 || (uint64_t)st.st_size > max) {
    rc = CPC_ETOOBIG;
    goto out;
  }
  size = (size_t)st.st_size;
  /* One spare byte tells us if the file grew since fstat. */
  buf = malloc(size + 1);
  if (!buf) {
    rc = CPC_ENOMEM;
    goto out;
  }
  while (got < size + 1) {
    ssize_t n = read(fd, buf + got, size + 1 - got);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      rc = CPC_EIO;
      goto out;
    }
    if (n == 0)
      break;
    got += (size_t)n;
  }
  if (got != size) {
    rc = got > size ? CPC_ETOOBIG : CPC_EIO; /* changed while we read it */
    goto out;
  }
  *out = buf;
  *len = size;
  buf = NULL;
  rc = 0;
out:
  cpc_secret_free(buf, size + 1);
  close(fd);
  return rc;
}
