/*
 * pds_client.h: how the `cpc` commands that drive a PDS talk to its local
 * API (docs/pds-api.md): where it is (--pds URL, env CPC_PDS, default
 * http://127.0.0.1:7710), its bearer token (--data DIR holding api-token,
 * env CPC_PDS_TOKEN_FILE, default $CPC_HOME/pds/api-token, else
 * ./cpc-pds-data/api-token), requests with libcurl, error messages that
 * say what to do, and a progress bar on a terminal.
 */
#ifndef CPC_APP_PDS_CLIENT_H
#define CPC_APP_PDS_CLIENT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

typedef struct cpc_pds_client {
  const char *cmd; /* for messages: "put", "get"... */
  char url[1024];  /* base URL, no trailing '/' */
  char token[256];
  char token_path[1100];
} cpc_pds_client;

/*
 * If argv[*i] is --pds or --data (with its value), consume it into the
 * client settings and return 1; 0 if it is another argument; -1 (message
 * printed) when the value is missing.
 */
int cpc_pds_client_option(cpc_pds_client *c, int argc, char **argv, int *i);

/* Resolve the URL and read the token. 0, or 1 after printing why not. */
int cpc_pds_client_ready(cpc_pds_client *c);

/* Help lines for the common options. */
void cpc_pds_client_usage(FILE *out);

/*
 * A JSON request: method path (with query), body (NULL: none). *out gets
 * the answer (new reference; NULL for 204). Returns 0 on a 2xx answer;
 * otherwise prints the error (with advice) and returns 1.
 */
int cpc_pds_client_json(cpc_pds_client *c, const char *method,
                        const char *path, json_t *body, json_t **out);

/*
 * Upload the file (NULL or "-": standard input) with POST path; *out the
 * JSON answer. Progress bar on stderr when it is a terminal. 0 or 1.
 */
int cpc_pds_client_upload(cpc_pds_client *c, const char *path,
                          const char *file, json_t **out);

/*
 * Download GET path into out (a stream the caller owns). Nothing is
 * written to out when the answer is an error. *bytes gets the count.
 * 0 or 1.
 */
int cpc_pds_client_download(cpc_pds_client *c, const char *path, FILE *out,
                            uint64_t *bytes);

/* Percent-encode s into out (cap bytes). */
void cpc_pds_client_escape(const char *s, char *out, size_t cap);

/* "12.3 MiB" */
void cpc_pds_client_size(uint64_t n, char *out, size_t cap);

#endif
