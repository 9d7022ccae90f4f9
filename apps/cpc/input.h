/* input.h: reading a whole file, stdin or a key file for the cpc subcommands.
 */
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

/* What went wrong, for a message: strerror(errno) for CPC_EIO, else
 * cpc_strerror(rc). Call it before anything else can change errno. */
const char *cpc_app_strerror(int rc);

/*
 * Read a secret key file with cpc_key_file_read() (at most max bytes, mode
 * checks) into a malloc'd *out of *len bytes, which the caller releases
 * with cpc_secret_free(). On failure reports "cpc <cmd>: ..." on stderr
 * (with how to fix the mode, or missing_hint after "PATH does not exist; "
 * when the file is missing and missing_hint is not NULL) and returns 1;
 * else 0.
 */
int cpc_app_read_key_file(const char *cmd, const char *path, size_t max,
                          const char *missing_hint, uint8_t **out, size_t *len);

#endif
