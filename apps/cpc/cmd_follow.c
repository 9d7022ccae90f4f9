/*
 * cmd_follow.c: the follow graph through the PDS: `cpc follow PEERID`,
 * `cpc unfollow PEERID`, `cpc followers`, `cpc following`.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "pds_client.h"

static void usage(FILE *out, const char *cmd) {
  if (strcmp(cmd, "follow") == 0 || strcmp(cmd, "unfollow") == 0)
    fprintf(out,
            "usage: cpc %s PEERID [--pds URL] [--data DIR]\n"
            "\n"
            "%s the user PEERID (16Uiu2...). Following a user lets you read\n"
            "their followers-only content once their PDS has shared its keys\n"
            "with you (within seconds while it is online).\n"
            "\noptions:\n",
            cmd, strcmp(cmd, "follow") == 0 ? "Follow" : "Stop following");
  else
    fprintf(out,
            "usage: cpc %s [--pds URL] [--data DIR]\n"
            "\nList the users %s.\n\noptions:\n",
            cmd, strcmp(cmd, "followers") == 0 ? "following you"
                                               : "you follow");
  cpc_pds_client_usage(out);
  fprintf(out, "  -h, --help         show this help\n");
}

static int run(int argc, char **argv, const char *cmd) {
  cpc_pds_client c = {.cmd = cmd};
  const char *peer = NULL;
  int needs_peer = strcmp(cmd, "follow") == 0 || strcmp(cmd, "unfollow") == 0;
  char path[1024];
  json_t *ans = NULL, *it;
  size_t i;
  int r;

  for (int k = 1; k < argc; k++) {
    if (cpc_is_help(argv[k])) {
      usage(stdout, cmd);
      return 0;
    }
    r = cpc_pds_client_option(&c, argc, argv, &k);
    if (r < 0)
      return 2;
    if (r > 0)
      continue;
    if (needs_peer && !peer && argv[k][0] != '-')
      peer = argv[k];
    else {
      cpc_fail(cmd, "unexpected argument %s (see --help)", argv[k]);
      return 2;
    }
  }
  if (needs_peer && !peer) {
    usage(stderr, cmd);
    return 2;
  }
  if (cpc_pds_client_ready(&c) != 0)
    return 1;
  if (needs_peer) {
    snprintf(path, sizeof path, "/v1/following/%s", peer);
    if (cpc_pds_client_json(&c, cmd[0] == 'f' ? "PUT" : "DELETE", path, NULL,
                            &ans) != 0)
      return 1;
    printf("%s %s\n", cmd[0] == 'f' ? "following" : "not following", peer);
    json_decref(ans);
    return 0;
  }
  char cursor[512] = "";
  for (;;) {
    snprintf(path, sizeof path, "/v1/%s?limit=200%s%s", cmd,
             cursor[0] ? "&cursor=" : "", cursor);
    if (cpc_pds_client_json(&c, "GET", path, NULL, &ans) != 0)
      return 1;
    json_array_foreach(json_object_get(ans, "items"), i, it)
      printf("%s\n", json_string_value(json_object_get(it, "peer_id")));
    it = json_object_get(ans, "next_cursor");
    if (!json_is_string(it) || json_string_length(it) >= sizeof cursor) {
      json_decref(ans);
      return 0;
    }
    snprintf(cursor, sizeof cursor, "%s", json_string_value(it));
    json_decref(ans);
  }
}

int cpc_cmd_follow(int argc, char **argv) { return run(argc, argv, "follow"); }
int cpc_cmd_unfollow(int argc, char **argv) {
  return run(argc, argv, "unfollow");
}
int cpc_cmd_followers(int argc, char **argv) {
  return run(argc, argv, "followers");
}
int cpc_cmd_following(int argc, char **argv) {
  return run(argc, argv, "following");
}
