/*
 * cmd_id.c: `cpc id`: create and show user identities (cpc/identity.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base64.h"
#include "commands.h"
#include "cpc/error.h"
#include "cpc/identity.h"
#include "input.h"

#define CMD "id"

static void usage(FILE *out) {
  fprintf(out,
          "usage: cpc id new [--out FILE] [--force]\n"
          "       cpc id show [FILE] [--json]\n"
          "\n"
          "User identities: a secp256k1 signing key (its PeerId, 16Uiu2...,\n"
          "is the user's name), an X25519 encryption key bound to it by a\n"
          "signature, and the PeerIds the user follows.\n"
          "  new   create an identity and write its key file (mode 0600);\n"
          "        refuses to replace an existing file unless --force\n"
          "  show  print the PeerId, public keys, whether the binding\n"
          "        signature verifies and how many peers are followed; FILE\n"
          "        is a key file or a public identity in JSON. --json prints\n"
          "        the public identity as JSON.\n"
          "FILE defaults to $CPC_HOME/identity, else ~/.cpc/identity.\n");
}

static int default_path(char *path, size_t cap) {
  int rc = cpc_user_identity_default_path(path, cap);
  if (rc == CPC_ENOENT)
    return cpc_fail(CMD, "neither CPC_HOME nor HOME is set; give a FILE");
  if (rc != 0)
    return cpc_fail(CMD, "default identity path: %s", cpc_strerror(rc));
  return 0;
}

/* Create the directory holding path (one level, mode 0700) if missing. */
static int ensure_parent(const char *path) {
  char dir[4096];
  char *slash;

  if (strlen(path) >= sizeof dir)
    return 0;
  strcpy(dir, path);
  slash = strrchr(dir, '/');
  if (!slash || slash == dir)
    return 0;
  *slash = '\0';
  if (mkdir(dir, 0700) != 0 && errno != EEXIST)
    return cpc_fail(CMD, "cannot create directory %s: %s", dir,
                    strerror(errno));
  return 0;
}

static int print_identity(const cpc_user_identity *id) {
  char peer[CPC_PEER_ID_MAX_TEXT], cid[CPC_PEER_ID_MAX_TEXT];
  uint8_t key[CPC_PUBKEY_PROTO_MAX];
  size_t key_len = 0;
  char *k64, *e64;
  int vrc;

  if (cpc_peer_id_format(&id->peer_id, peer, sizeof peer) != 0 ||
      cpc_peer_id_format_cid(&id->peer_id, cid, sizeof cid) != 0 ||
      cpc_pubkey_encode(&id->signing_public, key, sizeof key, &key_len) != 0)
    return cpc_fail(CMD, "the identity is incomplete");
  k64 = cpc_app_base64(key, key_len);
  e64 = cpc_app_base64(id->encryption_public, CPC_X25519_KEY_LEN);
  if (!k64 || !e64) {
    free(k64);
    free(e64);
    return cpc_fail(CMD, "out of memory");
  }
  vrc = cpc_user_identity_verify(id);
  printf("peer_id:               %s\n", peer);
  printf("peer_id (CID):         %s\n", cid);
  printf("signing_public_key:    %s (secp256k1, libp2p protobuf, base64)\n",
         k64);
  printf("encryption_public_key: %s (X25519, base64)\n", e64);
  printf("binding_signature:     %s\n", vrc == 0 ? "valid" : cpc_strerror(vrc));
  printf("following:             %zu\n",
         cpc_social_graph_count(&id->social_graph));
  free(k64);
  free(e64);
  return 0;
}

static int cmd_new(int argc, char **argv) {
  char path[4096];
  const char *out = NULL;
  int force = 0, rc;
  cpc_user_identity id;

  for (int i = 1; i < argc; i++) {
    if (cpc_is_help(argv[i])) {
      usage(stdout);
      return 0;
    } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
      out = argv[++i];
    } else if (strcmp(argv[i], "--force") == 0) {
      force = 1;
    } else {
      fprintf(stderr, "cpc id new: unexpected argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (!out) {
    if (default_path(path, sizeof path) != 0 || ensure_parent(path) != 0)
      return 1;
    out = path;
  }
  cpc_user_identity_init(&id);
  rc = cpc_user_identity_generate(&id);
  if (rc != 0)
    return cpc_fail(CMD, "cannot create an identity: %s", cpc_strerror(rc));
  rc = cpc_user_identity_save(&id, out, force);
  if (rc == CPC_EEXIST) {
    cpc_user_identity_free(&id);
    return cpc_fail(CMD,
                    "%s already exists; use --force to replace it (the "
                    "identity in it is lost then)",
                    out);
  }
  if (rc != 0) {
    cpc_user_identity_free(&id);
    return cpc_fail(CMD, "cannot write %s: %s", out, cpc_app_strerror(rc));
  }
  rc = print_identity(&id);
  if (rc == 0)
    printf("key file:              %s (mode 0600)\n", out);
  cpc_user_identity_free(&id);
  return rc;
}

/* Read FILE as a public identity in JSON (first byte '{') or a key file. */
static int load_any(const char *path, cpc_user_identity *id) {
  uint8_t *buf = NULL;
  size_t len = 0;
  char err[256];
  int rc;

  rc = cpc_app_read_all(path, CPC_IDENTITY_JSON_MAX, &buf, &len);
  if (rc == 0 && len > 0 && buf[0] == '{') {
    rc = cpc_user_identity_from_json((const char *)buf, len, id, err,
                                     sizeof err);
    free(buf);
    if (rc != 0)
      return cpc_fail(CMD, "%s: %s", path, err);
    return 0;
  }
  cpc_secret_free(buf, len);
  /* A key file: read again with the permission checks. */
  if (cpc_app_read_key_file(CMD, path, CPC_IDENTITY_PROTO_MAX,
                            "create one with `cpc id new`", &buf, &len) != 0)
    return 1;
  rc = cpc_user_identity_decode_private(buf, len, id);
  cpc_secret_free(buf, len);
  if (rc != 0)
    return cpc_fail(CMD, "%s: not a valid identity key file (%s)", path,
                    cpc_strerror(rc));
  return 0;
}

static int cmd_show(int argc, char **argv) {
  char path[4096];
  const char *file = NULL;
  int json = 0, rc;
  cpc_user_identity id;

  for (int i = 1; i < argc; i++) {
    if (cpc_is_help(argv[i])) {
      usage(stdout);
      return 0;
    } else if (strcmp(argv[i], "--json") == 0) {
      json = 1;
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      fprintf(stderr, "cpc id show: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    } else if (!file) {
      file = argv[i];
    } else {
      fprintf(stderr, "cpc id show: one FILE at most\n");
      return 2;
    }
  }
  if (!file) {
    if (default_path(path, sizeof path) != 0)
      return 1;
    file = path;
  }
  cpc_user_identity_init(&id);
  if (load_any(file, &id) != 0)
    return 1;
  if (json) {
    char *text = NULL;
    rc = cpc_user_identity_to_json(&id, 1, &text);
    if (rc == 0)
      printf("%s\n", text);
    free(text);
    if (rc != 0)
      rc = cpc_fail(CMD, "cannot write JSON: %s", cpc_strerror(rc));
  } else {
    rc = print_identity(&id);
  }
  cpc_user_identity_free(&id);
  return rc;
}

int cpc_cmd_id(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (cpc_is_help(argv[1])) {
    usage(stdout);
    return 0;
  }
  if (strcmp(argv[1], "new") == 0)
    return cmd_new(argc - 1, argv + 1);
  if (strcmp(argv[1], "show") == 0)
    return cmd_show(argc - 1, argv + 1);
  fprintf(stderr, "cpc id: unknown subcommand '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
