/* cmd_cid.c: placeholder until the module lands. */
#include "commands.h"

int cpc_cmd_cid(int argc, char **argv) {
  (void)argc;
  return cpc_fail(argv[0], "not built yet");
}
