/*
 * identity_file.c: the user's identity key file (private protobuf form,
 * mode 0600, written atomically through cpc/key_file.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/identity.h"
#include "cpc/key_file.h"

int cpc_user_identity_save(const cpc_user_identity *id, const char *path,
                           int overwrite) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc;

  if (!path || !id->has_secrets)
    return CPC_EINVAL;
  rc = cpc_user_identity_encode_private(id, &buf, &len);
  if (rc != 0)
    return rc;
  rc = cpc_key_file_write(path, buf, len, overwrite);
  cpc_secret_free(buf, len);
  return rc;
}

int cpc_user_identity_load(const char *path, cpc_user_identity *id) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc;

  rc = cpc_key_file_read(path, CPC_IDENTITY_PROTO_MAX, &buf, &len, NULL);
  if (rc != 0)
    return rc;
  rc = cpc_user_identity_decode_private(buf, len, id);
  cpc_secret_free(buf, len);
  return rc;
}

int cpc_user_identity_default_path(char *out, size_t cap) {
  const char *home = getenv("CPC_HOME");
  int n;

  if (home && *home) {
    n = snprintf(out, cap, "%s/identity", home);
  } else {
    home = getenv("HOME");
    if (!home || !*home)
      return CPC_ENOENT;
    n = snprintf(out, cap, "%s/.cpc/identity", home);
  }
  return n < 0 || (size_t)n >= cap ? CPC_ETOOBIG : 0;
}
