/*
 * cmd_status.c: `cpc status`: the PDS's view of its user: replication
 * health of own content, the orchestrator, peers, storage and bandwidth.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "pds_client.h"

#define CMD "status"

static void usage(FILE *out) {
  fprintf(out,
          "usage: cpc status [--json] [--pds URL] [--data DIR]\n"
          "\n"
          "Show your PDS: PeerId and addresses, whether the orchestrator answers,\n"
          "how much of your content is fully replicated, under-replicated or\n"
          "still queued, connected peers, storage used against the limit, the\n"
          "bandwidth limit and traffic.\n"
          "\n"
          "options:\n"
          "  --json             the PDS's answer as JSON\n");
  cpc_pds_client_usage(out);
  fprintf(out, "  -h, --help         show this help\n");
}

static long long num(json_t *o, const char *a, const char *b) {
  return (long long)json_integer_value(json_object_get(json_object_get(o, a), b));
}

int cpc_cmd_status(int argc, char **argv) {
  cpc_pds_client c = {.cmd = CMD};
  json_t *ans = NULL, *it, *orch;
  size_t i;
  int json = 0, r;
  char used[32], limit[32];

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
      cpc_pds_client_json(&c, "GET", "/v1/status", NULL, &ans) != 0)
    return 1;
  if (json) {
    json_dumpf(ans, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(ans);
    return 0;
  }
  orch = json_object_get(ans, "orchestrator");
  printf("peer id       %s\n",
         json_string_value(json_object_get(ans, "peer_id")));
  json_array_foreach(json_object_get(ans, "addrs"), i, it)
    printf("address       %s\n", json_string_value(it));
  printf("orchestrator  %s (%s)\n",
         json_string_value(json_object_get(orch, "url")),
         json_is_true(json_object_get(orch, "reachable")) ? "reachable"
                                                          : "unreachable");
  printf("peers         %lld\n",
         (long long)json_integer_value(json_object_get(ans, "peers")));
  printf("content       %lld items: %lld fully replicated, %lld "
         "under-replicated, %lld queued, %lld refused\n",
         num(ans, "content", "total"), num(ans, "content", "replicated"),
         num(ans, "content", "under_replicated"), num(ans, "content", "queued"),
         num(ans, "content", "refused"));
  cpc_pds_client_size((uint64_t)num(ans, "storage", "used"), used, sizeof used);
  cpc_pds_client_size((uint64_t)num(ans, "storage", "limit"), limit,
                      sizeof limit);
  printf("storage       %s used of %s (%lld blocks, %lld cached, %lld "
         "evicted)\n",
         used, num(ans, "storage", "limit") ? limit : "no limit",
         num(ans, "storage", "blocks"), num(ans, "storage", "cached_blocks"),
         num(ans, "storage", "evicted_blocks"));
  cpc_pds_client_size((uint64_t)num(ans, "bandwidth", "limit"), limit,
                      sizeof limit);
  printf("bandwidth     %s%s, %lld bytes sent, %lld received\n",
         num(ans, "bandwidth", "limit") ? limit : "no limit",
         num(ans, "bandwidth", "limit") ? "/s" : "",
         num(ans, "bandwidth", "sent"), num(ans, "bandwidth", "received"));
  json_array_foreach(json_object_get(ans, "items"), i, it) {
    long long want = (long long)json_integer_value(json_object_get(it, "replicas"));
    long long got = (long long)json_integer_value(json_object_get(it, "replicated"));
    const char *state = json_string_value(json_object_get(it, "state"));
    printf("  %s  %-9s  %s  %s\n", json_string_value(json_object_get(it, "uri")),
           json_string_value(json_object_get(it, "access")),
           strcmp(state, "registered") != 0 ? state
           : got >= want                    ? "replicated"
                                            : "replicating",
           json_string_value(json_object_get(it, "name")));
  }
  json_decref(ans);
  return 0;
}
