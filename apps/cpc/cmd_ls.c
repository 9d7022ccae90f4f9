/*
 * cmd_ls.c: `cpc ls`: the user's own content as the PDS's catalogue has it.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "pds_client.h"

#define CMD "ls"

static void usage(FILE *out) {
  fprintf(out,
          "usage: cpc ls [--json] [--pds URL] [--data DIR]\n"
          "\n"
          "List your content: URI, size, access, state (registered, queued:\n"
          "waiting for the orchestrator, refused), confirmed/wanted replicas,\n"
          "name.\n"
          "\n"
          "options:\n"
          "  --json             the PDS's answer as JSON\n");
  cpc_pds_client_usage(out);
  fprintf(out, "  -h, --help         show this help\n");
}

int cpc_cmd_ls(int argc, char **argv) {
  cpc_pds_client c = {.cmd = CMD};
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
    else {
      cpc_fail(CMD, "unexpected argument %s (see --help)", argv[k]);
      return 2;
    }
  }
  if (cpc_pds_client_ready(&c) != 0 ||
      cpc_pds_client_json(&c, "GET", "/v1/content", NULL, &ans) != 0)
    return 1;
  if (json) {
    json_dumpf(ans, stdout, JSON_INDENT(2));
    putchar('\n');
  } else {
    json_array_foreach(json_object_get(ans, "items"), i, it) {
      char size[32];
      cpc_pds_client_size(
          (uint64_t)json_integer_value(json_object_get(it, "size")), size,
          sizeof size);
      printf("%s  %10s  %-9s  %-10s  %lld/%lld  %s\n",
             json_string_value(json_object_get(it, "uri")), size,
             json_string_value(json_object_get(it, "access")),
             json_string_value(json_object_get(it, "state")),
             (long long)json_integer_value(json_object_get(it, "replicated")),
             (long long)json_integer_value(json_object_get(it, "replicas")),
             json_string_value(json_object_get(it, "name")));
    }
  }
  json_decref(ans);
  return 0;
}
