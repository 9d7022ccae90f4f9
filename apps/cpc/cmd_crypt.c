/* cmd_crypt.c: placeholder until the content pipeline lands. */
#include "commands.h"

int cpc_cmd_encrypt(int argc, char **argv) {
  (void)argc;
  return cpc_fail(argv[0], "not built yet");
}

int cpc_cmd_decrypt(int argc, char **argv) {
  (void)argc;
  return cpc_fail(argv[0], "not built yet");
}
