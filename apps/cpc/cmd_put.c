/*
 * cmd_put.c: `cpc put FILE [--access public|followers|private] [--replicas N]
 * [--name NAME]`: upload a file to the PDS (streamed), which encrypts,
 * chunks, stores and registers it; prints the cpc:// URI.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "pds_client.h"

#define CMD "put"

static void usage(FILE *out) {
  fprintf(out,
          "usage: cpc put FILE|- [--access public|followers|private]\n"
          "               [--replicas N] [--name NAME] [--pds URL] [--data DIR]\n"
          "\n"
          "Upload FILE ('-': standard input) to your PDS, which encrypts and\n"
          "chunks it, keeps it, registers it with the orchestrator and serves it\n"
          "to the nodes that replicate it. Prints the content URI (cpc://...).\n"
          "If the orchestrator is unreachable the upload is kept and registered\n"
          "later (see cpc status).\n"
          "\n"
          "options:\n"
          "  --access A         public (anyone, key in clear), followers (your\n"
          "                     followers), private (you only; the default)\n"
          "  --replicas N       copies the nodes keep, 1..16 (default 3)\n"
          "  --name NAME        a name for search (default: the file's name)\n");
  cpc_pds_client_usage(out);
  fprintf(out, "  -h, --help         show this help\n");
}

int cpc_cmd_put(int argc, char **argv) {
  cpc_pds_client c = {.cmd = CMD};
  const char *file = NULL, *access = "private", *replicas = "3", *name = NULL;
  char path[2048], ename[1024], *end;
  json_t *ans = NULL;
  int i, r;

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
    if ((strcmp(argv[i], "--access") == 0 || strcmp(argv[i], "--replicas") == 0 ||
         strcmp(argv[i], "--name") == 0) &&
        i + 1 < argc) {
      const char **slot = argv[i][2] == 'a' ? &access
                          : argv[i][2] == 'r' ? &replicas
                                              : &name;
      *slot = argv[++i];
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      cpc_fail(CMD, "unknown option or missing value: %s (see --help)",
               argv[i]);
      return 2;
    } else if (!file) {
      file = argv[i];
    } else {
      cpc_fail(CMD, "one FILE only (see --help)");
      return 2;
    }
  }
  if (!file) {
    usage(stderr);
    return 2;
  }
  if (strcmp(access, "public") != 0 && strcmp(access, "followers") != 0 &&
      strcmp(access, "private") != 0) {
    cpc_fail(CMD, "--access must be public, followers or private");
    return 2;
  }
  long n = strtol(replicas, &end, 10);
  if (!*replicas || *end || n < 1 || n > 16) {
    cpc_fail(CMD, "--replicas must be an integer from 1 to 16");
    return 2;
  }
  if (!name) {
    name = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    if (strcmp(name, "-") == 0)
      name = "";
  }
  if (cpc_pds_client_ready(&c) != 0)
    return 1;
  cpc_pds_client_escape(name, ename, sizeof ename);
  snprintf(path, sizeof path, "/v1/content?access=%s&replicas=%ld&name=%s",
           access, n, ename);
  if (cpc_pds_client_upload(&c, path, file, &ans) != 0)
    return 1;
  printf("%s\n", json_string_value(json_object_get(ans, "uri")));
  if (strcmp(json_string_value(json_object_get(ans, "state")) ?: "",
             "registered") != 0)
    fprintf(stderr, "cpc put: %s: %s\n",
            json_string_value(json_object_get(ans, "state")) ?: "?",
            json_string_value(json_object_get(ans, "message")) ?: "");
  json_decref(ans);
  return 0;
}
