/*
 * cmd_cid.c: `cpc cid`, the CID of a file's bytes (streamed through the
 * hasher, so any size works in bounded memory), and `cpc cid --inspect`,
 * which parses a CID and shows what is in it as JSON.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "cpc/cid.h"
#include "cpc/error.h"

#define READ_CHUNK (64 * 1024)

static void usage(FILE *out) {
  fprintf(out,
          "usage: cpc cid [--codec raw|dag-pb|libp2p-key] [--hash blake3|sha2-256]\n"
          "               [--base base32|base58btc|base16] FILE\n"
          "       cpc cid --inspect CID\n"
          "\n"
          "Print the CIDv1 of FILE's bytes ('-' reads standard input). The default\n"
          "is what CPC uses for chunks: codec raw, hash blake3, base32.\n"
          "\n"
          "options:\n"
          "  --codec NAME     multicodec of the content (default raw)\n"
          "  --hash NAME      multihash function (default blake3)\n"
          "  --base NAME      multibase of the text (default base32)\n"
          "  --inspect CID    parse CID (any of the bases above, or a CIDv0 Qm...)\n"
          "                   and print JSON: version, codec, codec_name, hash_code,\n"
          "                   hash_name, digest_hex, base32 (the CIDv1 form, so a\n"
          "                   CIDv0 is upgraded), base58btc (a CIDv0 stays Qm...)\n"
          "  -h, --help       show this help\n");
}

/* Why a CID text did not parse, in words a user can act on. */
static const char *parse_hint(int rc) {
  switch (rc) {
  case CPC_EUNSUPPORTED:
    return "unknown multibase prefix (expected b/B base32, f/F base16, "
           "z base58btc, or a 46-character Qm... CIDv0)";
  case CPC_ETRUNC: return "it ends too early (was it cut short?)";
  case CPC_ETOOBIG: return "it is longer than any CID this tool accepts";
  case CPC_EMALFORMED:
    return "bad character, padding, trailing data, version or digest length";
  default: return cpc_strerror(rc);
  }
}

static int inspect(const char *text) {
  cpc_cid cid, v1;
  char b32[CPC_CID_MAX_TEXT], b58[CPC_CID_MAX_TEXT];
  int rc = cpc_cid_parse(text, &cid);
  if (rc != 0)
    return cpc_fail("cid", "'%.100s%s' is not a valid CID: %s", text,
                    strlen(text) > 100 ? "..." : "", parse_hint(rc));
  v1 = cid;
  v1.version = 1;
  rc = cpc_cid_format(&v1, CPC_MB_BASE32, b32, sizeof b32);
  if (rc == 0)
    rc = cpc_cid_format(&cid, CPC_MB_BASE58BTC, b58, sizeof b58);
  if (rc != 0)
    return cpc_fail("cid", "cannot format the CID: %s", cpc_strerror(rc));
  const char *codec = cpc_cid_codec_name(cid.codec);
  const char *hash = cpc_multihash_name(cid.mh.code);
  printf("{\"version\":%llu,\"codec\":%llu,\"codec_name\":%s%s%s,"
         "\"hash_code\":%llu,\"hash_name\":%s%s%s,\"digest_hex\":\"",
         (unsigned long long)cid.version, (unsigned long long)cid.codec,
         codec ? "\"" : "", codec ? codec : "null", codec ? "\"" : "",
         (unsigned long long)cid.mh.code, hash ? "\"" : "",
         hash ? hash : "null", hash ? "\"" : "");
  for (size_t i = 0; i < cid.mh.digest_len; i++)
    printf("%02x", cid.mh.digest[i]);
  printf("\",\"base32\":\"%s\",\"base58btc\":\"%s\"}\n", b32, b58);
  return 0;
}

/* Hash the whole of f into h, READ_CHUNK bytes at a time. */
static int hash_stream(FILE *f, cpc_multihash_hasher *h) {
  static unsigned char buf[READ_CHUNK];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0)
    cpc_multihash_hasher_update(h, buf, n);
  return ferror(f) ? CPC_EIO : 0;
}

static int cid_of_file(const char *path, uint64_t codec, uint64_t hash,
                       enum cpc_multibase base) {
  cpc_multihash_hasher h;
  cpc_cid cid;
  char text[CPC_CID_MAX_TEXT];
  int is_stdin = strcmp(path, "-") == 0;
  FILE *f = is_stdin ? stdin : fopen(path, "rb");
  int rc;

  if (f == NULL)
    return cpc_fail("cid", "cannot open '%s': %s", path, strerror(errno));
  rc = cpc_multihash_hasher_init(&h, hash);
  if (rc == 0) {
    errno = 0;
    rc = hash_stream(f, &h);
    if (rc != 0) {
      int saved = errno;
      if (!is_stdin)
        fclose(f);
      return cpc_fail("cid", "cannot read '%s': %s", path,
                      saved ? strerror(saved) : cpc_strerror(rc));
    }
  }
  if (!is_stdin)
    fclose(f);
  if (rc == 0) {
    memset(&cid, 0, sizeof cid);
    cid.version = 1;
    cid.codec = codec;
    rc = cpc_multihash_hasher_final(&h, &cid.mh);
  }
  if (rc == 0)
    rc = cpc_cid_format(&cid, base, text, sizeof text);
  if (rc != 0)
    return cpc_fail("cid", "cannot compute the CID of '%s': %s", path,
                    cpc_strerror(rc));
  if (printf("%s\n", text) < 0 || fflush(stdout) != 0)
    return cpc_fail("cid", "cannot write the result: %s", strerror(errno));
  return 0;
}

/*
 * If argv[*i] is the option name (as "--name VALUE" or "--name=VALUE"),
 * store its value and return 1; return -1 if the value is missing.
 */
static int take_option(int argc, char **argv, int *i, const char *name,
                       const char **value) {
  size_t n = strlen(name);
  if (strncmp(argv[*i], name, n) != 0)
    return 0;
  if (argv[*i][n] == '=') {
    *value = argv[*i] + n + 1;
    return 1;
  }
  if (argv[*i][n] != '\0')
    return 0;
  if (*i + 1 >= argc)
    return -1;
  *value = argv[++*i];
  return 1;
}

int cpc_cmd_cid(int argc, char **argv) {
  const char *codec_name = "raw", *hash_name = "blake3", *base_name = "base32";
  const char *inspect_text = NULL, *file = NULL;
  uint64_t codec, hash;
  enum cpc_multibase base;

  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    int r;
    if (cpc_is_help(arg)) {
      usage(stdout);
      return 0;
    }
    if ((r = take_option(argc, argv, &i, "--codec", &codec_name)) ||
        (r = take_option(argc, argv, &i, "--hash", &hash_name)) ||
        (r = take_option(argc, argv, &i, "--base", &base_name)) ||
        (r = take_option(argc, argv, &i, "--inspect", &inspect_text))) {
      if (r < 0) {
        cpc_fail("cid", "option %s needs a value", arg);
        usage(stderr);
        return 2;
      }
      continue;
    }
    if (strcmp(arg, "--") == 0 && i + 1 < argc && file == NULL) {
      file = argv[++i];
    } else if (arg[0] == '-' && arg[1] != '\0') {
      cpc_fail("cid", "unknown option '%s'", arg);
      usage(stderr);
      return 2;
    } else if (file == NULL) {
      file = arg;
    } else {
      cpc_fail("cid", "one FILE at a time (got '%s' and '%s')", file, arg);
      return 2;
    }
  }

  if (inspect_text != NULL) {
    if (file != NULL) {
      cpc_fail("cid", "--inspect takes a CID, not a FILE as well");
      return 2;
    }
    return inspect(inspect_text);
  }
  if (file == NULL) {
    cpc_fail("cid", "no FILE given (use '-' for standard input)");
    usage(stderr);
    return 2;
  }
  if (cpc_cid_codec_from_name(codec_name, &codec) != 0) {
    cpc_fail("cid", "unknown codec '%s' (use raw, dag-pb or libp2p-key)",
             codec_name);
    return 2;
  }
  if (cpc_multihash_code_from_name(hash_name, &hash) != 0 ||
      hash == CPC_MH_IDENTITY) {
    cpc_fail("cid", "unknown hash '%s' (use blake3 or sha2-256)", hash_name);
    return 2;
  }
  if (cpc_multibase_from_name(base_name, &base) != 0) {
    cpc_fail("cid", "unknown base '%s' (use base32, base58btc or base16)",
             base_name);
    return 2;
  }
  return cid_of_file(file, codec, hash, base);
}
