/* main.c: the `cpc` command line; dispatches to one cmd_*.c per subcommand. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"

struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
};

static const struct command commands[] = {
    {"hash", cpc_cmd_hash, "BLAKE3 of files, b3sum-compatible output"},
    {"cid", cpc_cmd_cid, "CIDv1 (raw, blake3, base32) of a file's bytes"},
    {"id", cpc_cmd_id, "create and show user identities (new, show)"},
    {"key", cpc_cmd_key, "libp2p keys: new, show, sign, verify"},
    {"encrypt", cpc_cmd_encrypt, "chunk + encrypt a file into a directory"},
    {"decrypt", cpc_cmd_decrypt, "decrypt a directory made by encrypt"},
    {"block", cpc_cmd_block, "local block store: put, get, ls, rm, stat, scrub"},
    {"net", cpc_cmd_net, "libp2p peer: listen, ping, identify, echo"},
    {"dht", cpc_cmd_dht, "Kademlia DHT: provide, find-providers, find-peer"},
    {"put", cpc_cmd_put, "upload a file to your PDS; prints its cpc:// URI"},
    {"get", cpc_cmd_get, "download content by URI through your PDS"},
    {"ls", cpc_cmd_ls, "list your content"},
    {"rm", cpc_cmd_rm, "remove your content"},
    {"status", cpc_cmd_status, "your PDS: replication, peers, limits"},
    {"follow", cpc_cmd_follow, "follow a user"},
    {"unfollow", cpc_cmd_unfollow, "stop following a user"},
    {"followers", cpc_cmd_followers, "users following you"},
    {"following", cpc_cmd_following, "users you follow"},
    {"profile", cpc_cmd_profile, "show or set a profile (get, set)"},
    {"search", cpc_cmd_search, "find content you may read"},
    {"devnet", cpc_cmd_devnet, "a whole cooperative cloud on this machine"},
};

static void usage(FILE *out) {
  fprintf(out, "usage: cpc <command> [options]\n\n"
               "The Cooperative Peer Cloud command line.\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\nRun `cpc <command> --help` for a command's options.\n");
}

int cpc_fail(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "cpc %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return 1;
}

int cpc_is_help(const char *arg) {
  return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (cpc_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(argv[1], commands[i].name) == 0)
      return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "cpc: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
