/*
 * cmd_rm.c: `cpc rm URI`: remove own content (here, and at the
 * orchestrator, which has the nodes delete their replicas).
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "cpc/uri.h"
#include "pds_client.h"

#define CMD "rm"

static void usage(FILE *out) {
  fprintf(out,
          "usage: cpc rm URI [--pds URL] [--data DIR]\n"
          "\n"
          "Remove your content URI: its blocks go from your PDS at once, and the\n"
          "orchestrator is told (now, or when it can be reached) so the nodes\n"
          "delete their replicas.\n"
          "\n"
          "options:\n");
  cpc_pds_client_usage(out);
  fprintf(out, "  -h, --help         show this help\n");
}

int cpc_cmd_rm(int argc, char **argv) {
  cpc_pds_client c = {.cmd = CMD};
  const char *uri = NULL;
  char path[512], cid_text[CPC_CID_MAX_TEXT];
  json_t *ans = NULL;
  cpc_cid cid;
  int r;

  for (int i = 1; i < argc; i++) {
    if (cpc_is_help(argv[i])) {
      usage(stdout);
      return 0;
    }
    r = cpc_pds_client_option(&c, argc, argv, &i);
    if (r < 0)
      return 2;
    if (r > 0)
      continue;
    if (argv[i][0] == '-' || uri) {
      cpc_fail(CMD, "unexpected argument %s (see --help)", argv[i]);
      return 2;
    }
    uri = argv[i];
  }
  if (!uri) {
    usage(stderr);
    return 2;
  }
  if (cpc_content_uri_parse(uri, &cid) != 0 && cpc_cid_parse(uri, &cid) != 0)
    return cpc_fail(CMD, "%s is not a content URI (cpc://bafkr4i...)", uri);
  cpc_cid_format(&cid, CPC_MB_BASE32, cid_text, sizeof cid_text);
  if (cpc_pds_client_ready(&c) != 0)
    return 1;
  snprintf(path, sizeof path, "/v1/content/%s", cid_text);
  if (cpc_pds_client_json(&c, "DELETE", path, NULL, &ans) != 0)
    return 1;
  printf("%s %s\n", cid_text,
         json_string_value(json_object_get(ans, "state")) ?: "deleted");
  json_decref(ans);
  return 0;
}
