/* input.h: reading a whole file or stdin for the cpc subcommands. */
#ifndef CPC_APP_INPUT_H
#define CPC_APP_INPUT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Read all of path ("-" or NULL for stdin) into a malloc'd *out of *len
 * bytes (free() it). Returns 0, CPC_ENOENT, CPC_ETOOBIG (over max bytes),
 * CPC_EIO (errno set) or CPC_ENOMEM.
 */
int cpc_app_read_all(const char *path, size_t max, uint8_t **out, size_t *len);

#endif
