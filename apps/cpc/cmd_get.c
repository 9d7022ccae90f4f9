/*
 * cmd_get.c: `cpc get URI [-o FILE]`: download content through the PDS
 * (which locates it, fetches its chunks from several providers, verifies,
 * decrypts and streams it).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "cpc/uri.h"
#include "pds_client.h"

#define CMD "get"

static void usage(FILE *out) {
  fprintf(out,
          "usage: cpc get URI [-o FILE] [--pds URL] [--data DIR]\n"
          "\n"
          "Download the content URI (cpc://... or its content id) through your\n"
          "PDS: it finds the nodes that hold it and the key you may use, fetches\n"
          "the chunks in parallel, verifies and decrypts them. Writes to FILE\n"
          "(replaced only once the whole content has verified) or standard\n"
          "output.\n"
          "\n"
          "options:\n"
          "  -o, --output FILE  write here instead of standard output\n");
  cpc_pds_client_usage(out);
  fprintf(out, "  -h, --help         show this help\n");
}

int cpc_cmd_get(int argc, char **argv) {
  cpc_pds_client c = {.cmd = CMD};
  const char *uri = NULL, *outp = NULL;
  char path[512], cid_text[CPC_CID_MAX_TEXT], tmp[4200];
  cpc_cid cid;
  uint64_t bytes = 0;
  FILE *out = stdout;
  int i, r, rc;

  for (i = 1; i < argc; i++) {
    if (cpc_is_help(argv[i])) {
      usage(stdout);
      return 0;
    }
    r = cpc_pds_client_option(&c, argc, argv, &i);
    if (r < 0)
      return 2;
    if (r > 0)
      continue;
    if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) &&
        i + 1 < argc)
      outp = argv[++i];
    else if (argv[i][0] == '-') {
      cpc_fail(CMD, "unknown option or missing value: %s (see --help)",
               argv[i]);
      return 2;
    } else if (!uri)
      uri = argv[i];
    else {
      cpc_fail(CMD, "one URI only (see --help)");
      return 2;
    }
  }
  if (!uri) {
    usage(stderr);
    return 2;
  }
  if (cpc_content_uri_parse(uri, &cid) != 0 && cpc_cid_parse(uri, &cid) != 0)
    return cpc_fail(CMD,
                    "%s is not a content URI (cpc://bafkr4i...) or content id",
                    uri);
  cpc_cid_format(&cid, CPC_MB_BASE32, cid_text, sizeof cid_text);
  if (cpc_pds_client_ready(&c) != 0)
    return 1;
  snprintf(path, sizeof path, "/v1/content/%s", cid_text);
  /* A regular file is written beside it and renamed over it once whole;
   * anything else that exists (/dev/null, a FIFO, a terminal) is written
   * as it is, never replaced. */
  struct stat st;
  int direct = outp && stat(outp, &st) == 0 && !S_ISREG(st.st_mode);
  if (outp && strcmp(outp, "-") != 0) {
    snprintf(tmp, sizeof tmp, "%s%s", outp, direct ? "" : ".part");
    out = fopen(tmp, "wb");
    if (!out)
      return cpc_fail(CMD, "cannot write %s: %s", tmp, strerror(errno));
  }
  rc = cpc_pds_client_download(&c, path, out, &bytes);
  if (out != stdout) {
    if (fclose(out) != 0 && rc == 0)
      rc = cpc_fail(CMD, "cannot write %s: %s", tmp, strerror(errno));
    if (!direct && rc == 0 && rename(tmp, outp) != 0)
      rc = cpc_fail(CMD, "cannot rename %s to %s: %s", tmp, outp,
                    strerror(errno));
    if (!direct && rc != 0)
      unlink(tmp);
  } else if (fflush(stdout) != 0 && rc == 0) {
    rc = cpc_fail(CMD, "cannot write standard output: %s", strerror(errno));
  }
  return rc;
}
