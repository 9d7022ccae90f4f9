/*
 * cmd_profile.c: `cpc profile get [PEERID]`, `cpc profile set
 * [--display-name NAME] [--bio TEXT]`.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "pds_client.h"

#define CMD "profile"

static void usage(FILE *out) {
  fprintf(out,
          "usage: cpc profile get [PEERID] [--pds URL] [--data DIR]\n"
          "       cpc profile set [--display-name NAME] [--bio TEXT] [--pds URL]\n"
          "                       [--data DIR]\n"
          "\n"
          "Show a profile (yours, or PEERID's), or replace yours (fields not\n"
          "given become empty).\n"
          "\noptions:\n");
  cpc_pds_client_usage(out);
  fprintf(out, "  -h, --help         show this help\n");
}

int cpc_cmd_profile(int argc, char **argv) {
  cpc_pds_client c = {.cmd = CMD};
  const char *peer = NULL, *name = "", *bio = "";
  char path[512];
  json_t *ans = NULL, *body;
  int set, r, k;

  if (argc < 2 || cpc_is_help(argv[1])) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "get") != 0 && strcmp(argv[1], "set") != 0) {
    cpc_fail(CMD, "unknown action %s: get or set (see --help)", argv[1]);
    return 2;
  }
  set = argv[1][0] == 's';
  for (k = 2; k < argc; k++) {
    if (cpc_is_help(argv[k])) {
      usage(stdout);
      return 0;
    }
    r = cpc_pds_client_option(&c, argc, argv, &k);
    if (r < 0)
      return 2;
    if (r > 0)
      continue;
    if (set && strcmp(argv[k], "--display-name") == 0 && k + 1 < argc)
      name = argv[++k];
    else if (set && strcmp(argv[k], "--bio") == 0 && k + 1 < argc)
      bio = argv[++k];
    else if (!set && !peer && argv[k][0] != '-')
      peer = argv[k];
    else {
      cpc_fail(CMD, "unexpected argument %s (see --help)", argv[k]);
      return 2;
    }
  }
  if (cpc_pds_client_ready(&c) != 0)
    return 1;
  if (set) {
    body = json_pack("{s:s, s:s}", "display_name", name, "bio", bio);
    r = cpc_pds_client_json(&c, "PUT", "/v1/profile", body, &ans);
    json_decref(body);
  } else {
    char ep[256] = "";
    if (peer)
      cpc_pds_client_escape(peer, ep, sizeof ep);
    snprintf(path, sizeof path, "/v1/profile%s%s", peer ? "?peer_id=" : "",
             ep);
    r = cpc_pds_client_json(&c, "GET", path, NULL, &ans);
  }
  if (r != 0)
    return 1;
  json_dumpf(ans, stdout, JSON_INDENT(2));
  putchar('\n');
  json_decref(ans);
  return 0;
}
