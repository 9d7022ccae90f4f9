/*
 * http_test_server.c: a libcpc REST server for
 * tests/interop/http_auth.test.mjs.
 *
 *   http_test_server [ADDR:PORT] [--window S] [--max-body N]
 *
 * Listens (default 127.0.0.1:0), prints the bound port and a newline on
 * stdout, and serves until SIGTERM/SIGINT or until stdin is closed:
 *   GET /healthz                       no auth: {"ok":true}
 *   GET|POST|PUT|DELETE /v1/echo       auth required
 *   GET /v1/echo/{a}/{b}               auth required (parameters)
 *   POST /v1/maybe                     auth optional
 * The echo routes answer {"peer_id", "method", "target", "body_blake3"
 * (hex), "body_len", "params"}, so a client can check what the server saw.
 * No per-IP connection limit, so a client may open many connections.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "cpc/blake3.h"
#include "cpc/error.h"
#include "cpc/http.h"
#include "cpc/peer_id.h"

static int h_health(cpc_http_request *req, void *ctx) {
  (void)ctx;
  return cpc_http_respond_json(req, 200, json_pack("{s:b}", "ok", 1));
}

static int h_echo(cpc_http_request *req, void *ctx) {
  const cpc_peer_id *caller = cpc_http_request_caller(req);
  char id[CPC_PEER_ID_MAX_TEXT] = "";
  char hex[2 * CPC_BLAKE3_OUT_LEN + 1];
  uint8_t hash[CPC_BLAKE3_OUT_LEN];
  const uint8_t *body;
  size_t len;
  json_t *params = json_object();
  const char *names[] = {"a", "b"};
  (void)ctx;

  body = cpc_http_request_body(req, &len);
  cpc_blake3(body, len, hash);
  sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
  if (caller && cpc_peer_id_format(caller, id, sizeof id) != 0)
    id[0] = '\0';
  for (size_t i = 0; i < 2; i++) {
    const char *v = cpc_http_request_param(req, names[i]);
    if (v)
      json_object_set_new(params, names[i], json_string(v));
  }
  return cpc_http_respond_json(
      req, 200,
      json_pack("{s:s?,s:s,s:s,s:s,s:I,s:o}", "peer_id", caller ? id : NULL,
                "method", cpc_http_request_method(req), "target",
                cpc_http_request_target(req), "body_blake3", hex, "body_len",
                (json_int_t)len, "params", params));
}

static void *stdin_watch(void *arg) {
  char buf[256];
  (void)arg;
  while (read(0, buf, sizeof buf) > 0) {
  }
  kill(getpid(), SIGTERM);
  return NULL;
}

int main(int argc, char **argv) {
  cpc_http_router *router = NULL;
  cpc_http_server *srv = NULL;
  cpc_http_config cfg;
  sigset_t set;
  pthread_t watcher;
  int sig, rc;
  static const char *methods[] = {"GET", "POST", "PUT", "DELETE"};

  cpc_http_config_init(&cfg);
  cfg.max_per_ip = 0;
  cfg.max_connections = 1024;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--window") == 0 && i + 1 < argc)
      cfg.auth_window_s = (unsigned)atoi(argv[++i]);
    else if (strcmp(argv[i], "--max-body") == 0 && i + 1 < argc)
      cfg.max_body = (size_t)atol(argv[++i]);
    else
      cfg.listen = argv[i];
  }

  /* Signals are taken by sigwait below: block them before any thread. */
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);

  if ((rc = cpc_http_router_new(&router)) != 0)
    goto fail;
  if ((rc = cpc_http_router_add(router, "GET", "/healthz", CPC_HTTP_AUTH_NONE,
                                h_health, NULL)) != 0)
    goto fail;
  for (size_t i = 0; i < 4; i++)
    if ((rc = cpc_http_router_add(router, methods[i], "/v1/echo",
                                  CPC_HTTP_AUTH_REQUIRED, h_echo, NULL)) != 0)
      goto fail;
  if ((rc = cpc_http_router_add(router, "GET", "/v1/echo/{a}/{b}",
                                CPC_HTTP_AUTH_REQUIRED, h_echo, NULL)) != 0 ||
      (rc = cpc_http_router_add(router, "POST", "/v1/maybe",
                                CPC_HTTP_AUTH_OPTIONAL, h_echo, NULL)) != 0)
    goto fail;
  if ((rc = cpc_http_server_start(&cfg, router, &srv)) != 0)
    goto fail;
  printf("%u\n", cpc_http_server_port(srv));
  fflush(stdout);
  if (pthread_create(&watcher, NULL, stdin_watch, NULL) == 0)
    pthread_detach(watcher);
  sigwait(&set, &sig);
  cpc_http_server_stop(srv);
  cpc_http_router_free(router);
  return 0;
fail:
  fprintf(stderr, "http_test_server: %s\n", cpc_strerror(rc));
  cpc_http_server_stop(srv);
  cpc_http_router_free(router);
  return 1;
}
