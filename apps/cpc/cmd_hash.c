/* cmd_hash.c: placeholder until the module lands. */
#include "commands.h"

int cpc_cmd_hash(int argc, char **argv) {
  (void)argc;
  return cpc_fail(argv[0], "not built yet");
}
