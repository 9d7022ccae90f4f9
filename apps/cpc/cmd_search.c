/*
 * cmd_search.c: `cpc search QUERY`: content you may see whose name or
 * description contains QUERY (through the PDS and the orchestrator).
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "pds_client.h"

#define CMD "search"

static void usage(FILE *out) {
  fprintf(out,
          "usage: cpc search QUERY [--owner PEERID] [--tag TAG] [--json]\n"
          "                  [--pds URL] [--data DIR]\n"
          "\n"
          "Find content you may read (public, your own, followers-only content\n"
          "of users you follow) whose name or description contains QUERY.\n"
          "\noptions:\n"
          "  --owner PEERID     only this user's content\n"
          "  --tag TAG          only content with this tag\n"
          "  --json             the answer as JSON\n");
  cpc_pds_client_usage(out);
  fprintf(out, "  -h, --help         show this help\n");
}

int cpc_cmd_search(int argc, char **argv) {
  cpc_pds_client c = {.cmd = CMD};
  const char *q = NULL, *owner = NULL, *tag = NULL;
  char path[2048], e1[600], e2[300], e3[300];
  json_t *ans = NULL, *it;
  size_t i;
  int json = 0, r;

  for (int k = 1; k < argc; k++) {
    if (cpc_is_help(argv[k])) {
      usage(stdout);
      return 0;
    }
    r = cpc_pds_client_option(&c, argc, argv, &k);
    if (r < 0)
      return 2;
    if (r > 0)
      continue;
    if (strcmp(argv[k], "--json") == 0)
      json = 1;
    else if (strcmp(argv[k], "--owner") == 0 && k + 1 < argc)
      owner = argv[++k];
    else if (strcmp(argv[k], "--tag") == 0 && k + 1 < argc)
      tag = argv[++k];
    else if (!q && argv[k][0] != '-')
      q = argv[k];
    else {
      cpc_fail(CMD, "unexpected argument %s (see --help)", argv[k]);
      return 2;
    }
  }
  if (!q) {
    usage(stderr);
    return 2;
  }
  if (strlen(q) > 256) {
    cpc_fail(CMD, "QUERY must be at most 256 bytes");
    return 2;
  }
  if (cpc_pds_client_ready(&c) != 0)
    return 1;
  cpc_pds_client_escape(q, e1, sizeof e1);
  cpc_pds_client_escape(owner ? owner : "", e2, sizeof e2);
  cpc_pds_client_escape(tag ? tag : "", e3, sizeof e3);
  snprintf(path, sizeof path, "/v1/search?q=%s%s%s%s%s", e1,
           owner ? "&owner=" : "", owner ? e2 : "", tag ? "&tag=" : "",
           tag ? e3 : "");
  if (cpc_pds_client_json(&c, "GET", path, NULL, &ans) != 0)
    return 1;
  if (json) {
    json_dumpf(ans, stdout, JSON_INDENT(2));
    putchar('\n');
  } else {
    json_array_foreach(json_object_get(ans, "items"), i, it)
      printf("cpc://%s  %-9s  %s  %s\n",
             json_string_value(json_object_get(it, "content_id")),
             json_string_value(json_object_get(it, "access_control")),
             json_string_value(json_object_get(it, "owner")),
             json_string_value(json_object_get(it, "name")));
  }
  json_decref(ans);
  return 0;
}
