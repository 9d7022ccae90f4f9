/*
 * rpc_test_client: makes one gRPC call with the libcpc client
 * (cpc/rpc_client.h), for tests/interop/grpc_client.test.mjs. Not
 * installed, not for users. Messages are raw bytes: the test encodes and
 * decodes them.
 *
 * Usage: rpc_test_client HOST PORT PATH KIND [options] < requests
 *   KIND             unary | server-stream | client-stream | bidi
 *   --md NAME=VALUE  request metadata (repeatable, up to 16)
 *   --timeout MS     the call's deadline
 *   --cancel-after N cancel the call once N response messages arrived
 *   --show NAME      report response metadata NAME (repeatable, up to 16)
 *   --max-recv BYTES the client's max_recv_message
 * stdin: one request message per line, in hex (an empty line is an empty
 * message); all are sent, then the send side is closed.
 * stdout: one JSON object per line: {"message":"<hex>"} per response
 * message, then {"status":N,"details":"...","md":{"name":"value",...}}.
 * Exit status 0 once the call ended (whatever its gRPC status), 1 when the
 * call could not be made, 2 on usage errors.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/rpc_client.h"

#define MAX_LIST 16

typedef struct request {
  uint8_t *data;
  size_t len;
} request;

static request *reqs;
static size_t n_reqs, next_req;
static unsigned long cancel_after, received;
static const char *show[MAX_LIST];
static size_t n_show;
static cpc_rpc_client *client;
static int exit_code = 1;

static void usage(void) {
  fprintf(stderr, "usage: rpc_test_client HOST PORT PATH "
                  "unary|server-stream|client-stream|bidi [--md NAME=VALUE] "
                  "[--timeout MS] [--cancel-after N] [--show NAME] "
                  "[--max-recv BYTES] < hex-lines\n");
  exit(2);
}

static int hex_value(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Read every stdin line as one hex-encoded message. */
static int read_requests(void) {
  char *line = NULL;
  size_t cap = 0, i, n;
  ssize_t got;
  request *grown;
  while ((got = getline(&line, &cap, stdin)) >= 0) {
    n = (size_t)got;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
      n--;
    if (n % 2)
      goto bad;
    grown = realloc(reqs, (n_reqs + 1) * sizeof *reqs);
    if (!grown)
      goto bad;
    reqs = grown;
    reqs[n_reqs].len = n / 2;
    reqs[n_reqs].data = malloc(n / 2 ? n / 2 : 1);
    if (!reqs[n_reqs].data)
      goto bad;
    for (i = 0; i < n / 2; i++) {
      int hi = hex_value(line[2 * i]), lo = hex_value(line[2 * i + 1]);
      if (hi < 0 || lo < 0) {
        free(reqs[n_reqs].data);
        goto bad;
      }
      reqs[n_reqs].data[i] = (uint8_t)(hi << 4 | lo);
    }
    n_reqs++;
  }
  free(line);
  return 0;
bad:
  free(line);
  fprintf(stderr, "rpc_test_client: stdin must hold hex lines\n");
  return -1;
}

static void print_json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c < 0x20)
      printf("\\u%04x", c);
    else
      putchar(c);
  }
  putchar('"');
}

static void pump(cpc_rpc_client_call *call, void *ud) {
  int rc;
  (void)ud;
  while (next_req < n_reqs) {
    rc = cpc_rpc_client_call_send(call, reqs[next_req].data,
                                  reqs[next_req].len);
    if (rc == CPC_EAGAIN)
      return; /* on_writable comes back here */
    if (rc != 0) {
      fprintf(stderr, "rpc_test_client: send: %s\n", cpc_strerror(rc));
      cpc_rpc_client_call_cancel(call);
      return;
    }
    next_req++;
  }
  (void)cpc_rpc_client_call_close_send(call);
}

static void on_message(cpc_rpc_client_call *call, const uint8_t *msg,
                       size_t len, void *ud) {
  size_t i;
  (void)ud;
  fputs("{\"message\":\"", stdout);
  for (i = 0; i < len; i++)
    printf("%02x", msg[i]);
  fputs("\"}\n", stdout);
  if (cancel_after && ++received == cancel_after)
    cpc_rpc_client_call_cancel(call);
}

static void on_done(cpc_rpc_client_call *call, int status, const char *message,
                    void *ud) {
  size_t i;
  const char *v;
  int first = 1;
  (void)ud;
  printf("{\"status\":%d,\"details\":", status);
  print_json_string(message);
  fputs(",\"md\":{", stdout);
  for (i = 0; i < n_show; i++) {
    v = cpc_rpc_client_call_metadata(call, show[i]);
    if (!v)
      continue;
    if (!first)
      putchar(',');
    first = 0;
    print_json_string(show[i]);
    putchar(':');
    print_json_string(v);
  }
  fputs("}}\n", stdout);
  fflush(stdout);
  exit_code = 0;
  cpc_rpc_client_close(client, NULL, NULL);
}

int main(int argc, char **argv) {
  static const cpc_rpc_client_callbacks cbs = {on_message, pump, on_done};
  cpc_rpc_metadata md[MAX_LIST];
  char *md_copy[MAX_LIST];
  size_t n_md = 0, i;
  cpc_rpc_client_config cfg;
  cpc_rpc_client_call *call;
  enum cpc_rpc_kind kind;
  uint64_t timeout_ms = 0;
  uv_loop_t *loop = uv_default_loop();
  char *eq;
  int rc, a;
  if (argc < 5)
    usage();
  if (strcmp(argv[4], "unary") == 0)
    kind = CPC_RPC_UNARY;
  else if (strcmp(argv[4], "server-stream") == 0)
    kind = CPC_RPC_SERVER_STREAM;
  else if (strcmp(argv[4], "client-stream") == 0)
    kind = CPC_RPC_CLIENT_STREAM;
  else if (strcmp(argv[4], "bidi") == 0)
    kind = CPC_RPC_BIDI;
  else
    usage();
  cpc_rpc_client_config_default(&cfg);
  for (a = 5; a < argc; a++) {
    if (a + 1 >= argc)
      usage();
    if (strcmp(argv[a], "--md") == 0 && n_md < MAX_LIST) {
      md_copy[n_md] = strdup(argv[++a]);
      eq = md_copy[n_md] ? strchr(md_copy[n_md], '=') : NULL;
      if (!eq)
        usage();
      *eq = '\0';
      md[n_md].name = md_copy[n_md];
      md[n_md].value = eq + 1;
      n_md++;
    } else if (strcmp(argv[a], "--timeout") == 0) {
      timeout_ms = strtoull(argv[++a], NULL, 10);
    } else if (strcmp(argv[a], "--cancel-after") == 0) {
      cancel_after = strtoul(argv[++a], NULL, 10);
    } else if (strcmp(argv[a], "--show") == 0 && n_show < MAX_LIST) {
      show[n_show++] = argv[++a];
    } else if (strcmp(argv[a], "--max-recv") == 0) {
      cfg.max_recv_message = strtoull(argv[++a], NULL, 10);
    } else {
      usage();
    }
  }
  signal(SIGPIPE, SIG_IGN);
  if (read_requests() != 0)
    return 1;
  rc = cpc_rpc_client_new(&client, loop, argv[1],
                          (uint16_t)strtoul(argv[2], NULL, 10), &cfg);
  if (rc == 0)
    rc = cpc_rpc_client_start(client, argv[3], kind, md, n_md, timeout_ms,
                              &cbs, NULL, &call);
  for (i = 0; i < n_md; i++)
    free(md_copy[i]);
  if (rc != 0) {
    fprintf(stderr, "rpc_test_client: %s\n", cpc_strerror(rc));
    if (client)
      cpc_rpc_client_close(client, NULL, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    return 1;
  }
  pump(call, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  for (i = 0; i < n_reqs; i++)
    free(reqs[i].data);
  free(reqs);
  (void)uv_loop_close(loop);
  return exit_code;
}
