/*
 * cmd_key.c: `cpc key`: libp2p key files (raw PrivateKey protobuf, as
 * js-libp2p's privateKeyToProtobuf writes them), signing and verifying.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base64.h"
#include "commands.h"
#include "cpc/error.h"
#include "cpc/key_file.h"
#include "cpc/keys.h"
#include "cpc/peer_id.h"
#include "input.h"

#define CMD "key"
#define B64 sodium_base64_VARIANT_ORIGINAL
/* Largest message `sign` and `verify` read. */
#define MSG_MAX (256u << 20)

static void usage(FILE *out) {
  fprintf(out,
          "usage: cpc key new --type ed25519|secp256k1 --out FILE [--force]\n"
          "       cpc key show FILE\n"
          "       cpc key sign FILE [MSGFILE|-]\n"
          "       cpc key verify PEERID|PUBKEY-B64 SIG-B64 [MSGFILE|-]\n"
          "\n"
          "libp2p keys. FILE holds a libp2p PrivateKey protobuf (the bytes of\n"
          "js-libp2p's privateKeyToProtobuf), mode 0600.\n"
          "  new     create a key; prints its PeerId\n"
          "  show    JSON: peer_id, peer_id_cid, type, public_key (base64 of\n"
          "          the libp2p PublicKey protobuf)\n"
          "  sign    sign the message (stdin by default) as libp2p does;\n"
          "          prints the signature in base64\n"
          "  verify  check a base64 signature against a PeerId with an\n"
          "          inlined key (12D3KooW..., 16Uiu2...) or a base64 public\n"
          "          key protobuf; exit 0 if valid, 1 if not\n");
}

/* Read the message to sign or verify: path, or stdin when path is NULL.
 * Returns 0 or 1 (reported). */
static int read_message(const char *path, uint8_t **msg, size_t *len) {
  int rc = cpc_app_read_all(path ? path : "-", MSG_MAX, msg, len);
  if (rc != 0)
    return cpc_fail(CMD, "cannot read the message %s: %s",
                    path ? path : "from stdin", cpc_app_strerror(rc));
  return 0;
}

/* Load a key file, reporting problems. Returns 0 or 1 (reported). */
static int load_key(const char *path, cpc_privkey *k) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc;

  if (cpc_app_read_key_file(CMD, path, CPC_KEY_PROTO_PARSE_MAX, NULL, &buf,
                            &len) != 0)
    return 1;
  rc = cpc_privkey_decode(buf, len, k);
  cpc_secret_free(buf, len);
  if (rc != 0)
    return cpc_fail(CMD, "%s: not a usable libp2p private key (%s)", path,
                    cpc_strerror(rc));
  return 0;
}

static int cmd_new(int argc, char **argv) {
  const char *type_name = NULL, *out = NULL;
  int force = 0, rc;
  enum cpc_key_type type;
  cpc_privkey k;
  cpc_peer_id id;
  uint8_t enc[CPC_PRIVKEY_PROTO_MAX];
  size_t n = 0;
  char text[CPC_PEER_ID_MAX_TEXT];

  for (int i = 1; i < argc; i++) {
    if (cpc_is_help(argv[i])) {
      usage(stdout);
      return 0;
    } else if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) {
      type_name = argv[++i];
    } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
      out = argv[++i];
    } else if (strcmp(argv[i], "--force") == 0) {
      force = 1;
    } else {
      fprintf(stderr, "cpc key new: unexpected argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (!type_name || !out) {
    fprintf(stderr, "cpc key new: --type and --out are required\n");
    usage(stderr);
    return 2;
  }
  if (cpc_key_type_parse(type_name, &type) != 0) {
    fprintf(stderr,
            "cpc key new: unknown key type '%s' (use ed25519 or "
            "secp256k1)\n",
            type_name);
    return 2;
  }
  rc = cpc_privkey_generate(type, &k);
  if (rc == 0)
    rc = cpc_privkey_encode(&k, enc, sizeof enc, &n);
  if (rc == 0)
    rc = cpc_peer_id_from_pubkey(&k.pub, &id);
  cpc_privkey_wipe(&k);
  if (rc != 0) {
    sodium_memzero(enc, sizeof enc);
    return cpc_fail(CMD, "cannot create a key: %s", cpc_strerror(rc));
  }
  rc = cpc_key_file_write(out, enc, n, force);
  sodium_memzero(enc, sizeof enc);
  if (rc == CPC_EEXIST)
    return cpc_fail(CMD, "%s already exists; use --force to replace it", out);
  if (rc != 0)
    return cpc_fail(CMD, "cannot write %s: %s", out, cpc_app_strerror(rc));
  cpc_peer_id_format(&id, text, sizeof text);
  printf("%s\n", text);
  return 0;
}

static int cmd_show(int argc, char **argv) {
  cpc_privkey k;
  cpc_peer_id id;
  uint8_t enc[CPC_PUBKEY_PROTO_MAX];
  size_t n = 0;
  char text[CPC_PEER_ID_MAX_TEXT], cid[CPC_PEER_ID_MAX_TEXT];
  char *pub64;

  if (argc == 2 && cpc_is_help(argv[1])) {
    usage(stdout);
    return 0;
  }
  if (argc != 2) {
    usage(stderr);
    return 2;
  }
  if (load_key(argv[1], &k) != 0)
    return 1;
  if (cpc_pubkey_encode(&k.pub, enc, sizeof enc, &n) != 0 ||
      cpc_peer_id_from_pubkey(&k.pub, &id) != 0 ||
      cpc_peer_id_format(&id, text, sizeof text) != 0 ||
      cpc_peer_id_format_cid(&id, cid, sizeof cid) != 0 ||
      !(pub64 = cpc_app_base64(enc, n))) {
    cpc_privkey_wipe(&k);
    return cpc_fail(CMD, "cannot describe the key in %s", argv[1]);
  }
  printf("{\n  \"peer_id\": \"%s\",\n  \"peer_id_cid\": \"%s\",\n"
         "  \"type\": \"%s\",\n  \"public_key\": \"%s\"\n}\n",
         text, cid, cpc_key_type_name(k.type), pub64);
  free(pub64);
  cpc_privkey_wipe(&k);
  return 0;
}

static int cmd_sign(int argc, char **argv) {
  cpc_privkey k;
  uint8_t *msg = NULL, sig[CPC_SIG_MAX_LEN];
  size_t len = 0, sig_len = 0;
  char *sig64;
  int rc;

  if (argc >= 2 && cpc_is_help(argv[1])) {
    usage(stdout);
    return 0;
  }
  if (argc < 2 || argc > 3) {
    usage(stderr);
    return 2;
  }
  if (read_message(argc == 3 ? argv[2] : NULL, &msg, &len) != 0)
    return 1;
  if (load_key(argv[1], &k) != 0) {
    free(msg);
    return 1;
  }
  rc = cpc_privkey_sign(&k, msg, len, sig, sizeof sig, &sig_len);
  cpc_privkey_wipe(&k);
  free(msg);
  if (rc != 0)
    return cpc_fail(CMD, "signing failed: %s", cpc_strerror(rc));
  sig64 = cpc_app_base64(sig, sig_len);
  if (!sig64)
    return cpc_fail(CMD, "out of memory");
  printf("%s\n", sig64);
  free(sig64);
  return 0;
}

/* The public key named by arg: a PeerId with an inlined key or base64. */
static int key_from_arg(const char *arg, cpc_pubkey *pk) {
  cpc_peer_id id;
  uint8_t enc[CPC_KEY_PROTO_PARSE_MAX];
  size_t n = 0;
  int id_rc, rc;

  id_rc = cpc_peer_id_parse(arg, &id);
  if (id_rc == 0) {
    rc = cpc_peer_id_pubkey(&id, pk);
    if (rc == CPC_EUNSUPPORTED)
      return cpc_fail(CMD,
                      "PeerId %s is a hash and carries no key; give "
                      "the public key in base64 instead",
                      arg);
    if (rc != 0)
      return cpc_fail(CMD, "PeerId %s: %s", arg, cpc_strerror(rc));
    return 0;
  }
  rc = sodium_base642bin(enc, sizeof enc, arg, strlen(arg), NULL, &n, NULL,
                         B64) != 0
           ? CPC_EMALFORMED
           : cpc_pubkey_decode(enc, n, pk);
  if (rc != 0)
    return cpc_fail(CMD,
                    "'%s' is neither a PeerId (%s) nor a base64 libp2p "
                    "public key (%s)",
                    arg, cpc_strerror(id_rc), cpc_strerror(rc));
  return 0;
}

static int cmd_verify(int argc, char **argv) {
  cpc_pubkey pk;
  uint8_t *msg = NULL, sig[CPC_SIG_MAX_LEN];
  size_t len = 0, sig_len = 0;
  const char *s64;
  int rc;

  if (argc >= 2 && cpc_is_help(argv[1])) {
    usage(stdout);
    return 0;
  }
  if (argc < 3 || argc > 4) {
    usage(stderr);
    return 2;
  }
  if (key_from_arg(argv[1], &pk) != 0)
    return 1;
  s64 = argv[2];
  if (sodium_base642bin(sig, sizeof sig, s64, strlen(s64), NULL, &sig_len, NULL,
                        B64) != 0)
    return cpc_fail(CMD, "the signature is not base64 of at most %d bytes",
                    CPC_SIG_MAX_LEN);
  if (read_message(argc == 4 ? argv[3] : NULL, &msg, &len) != 0)
    return 1;
  rc = cpc_pubkey_verify(&pk, msg, len, sig, sig_len);
  free(msg);
  if (rc == CPC_EBADSIG)
    return cpc_fail(CMD,
                    "invalid: the signature does not verify with this "
                    "%s key and message",
                    cpc_key_type_name(pk.type));
  if (rc != 0)
    return cpc_fail(CMD, "cannot verify: %s", cpc_strerror(rc));
  printf("valid\n");
  return 0;
}

int cpc_cmd_key(int argc, char **argv) {
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
  if (strcmp(argv[1], "sign") == 0)
    return cmd_sign(argc - 1, argv + 1);
  if (strcmp(argv[1], "verify") == 0)
    return cmd_verify(argc - 1, argv + 1);
  fprintf(stderr, "cpc key: unknown subcommand '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
