/* input.c: read a whole file, stdin or a key file, with a size cap. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "cpc/error.h"
#include "cpc/key_file.h"
#include "input.h"

int cpc_app_read_all(const char *path, size_t max, uint8_t **out, size_t *len) {
  int use_stdin = !path || strcmp(path, "-") == 0;
  FILE *f = use_stdin ? stdin : fopen(path, "rb");
  uint8_t *buf = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;

  *out = NULL;
  *len = 0;
  if (!f)
    return errno == ENOENT ? CPC_ENOENT : CPC_EIO;
  for (;;) {
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 4096;
      if (ncap > max + 1)
        ncap = max + 1;
      uint8_t *nb = realloc(buf, ncap ? ncap : 1);
      if (!nb) {
        rc = CPC_ENOMEM;
        break;
      }
      buf = nb;
      cap = ncap;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (n > max) {
      rc = CPC_ETOOBIG;
      break;
    }
    if (got == 0) {
      if (ferror(f))
        rc = CPC_EIO;
      break;
    }
  }
  if (!use_stdin)
    fclose(f);
  if (rc != 0) {
    free(buf);
    return rc;
  }
  *out = buf ? buf : malloc(1);
  if (!*out)
    return CPC_ENOMEM;
  *len = n;
  return 0;
}

const char *cpc_app_strerror(int rc) {
  return rc == CPC_EIO ? strerror(errno) : cpc_strerror(rc);
}

int cpc_app_read_key_file(const char *cmd, const char *path, size_t max,
                          const char *missing_hint, uint8_t **out,
                          size_t *len) {
  unsigned mode = 0;
  int rc = cpc_key_file_read(path, max, out, len, &mode);

  if (rc == 0)
    return 0;
  if (rc == CPC_ENOENT && missing_hint)
    return cpc_fail(cmd, "%s does not exist; %s", path, missing_hint);
  if (rc == CPC_EPERM && mode != 0)
    return cpc_fail(cmd,
                    "%s: group or others may access it (mode %04o); "
                    "run: chmod 600 %s",
                    path, mode, path);
  return cpc_fail(cmd, "%s: %s", path, cpc_app_strerror(rc));
}
