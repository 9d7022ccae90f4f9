/*
 * test_pds.c: the PDS (cpc/pds.h): config parsing and its errors, sizes
 * with units, and a real PDS in-process with no orchestrator reachable
 * (local-first): its API answers with the token only, an upload is stored
 * and queued, read back byte-identical offline, listed, counted in
 * /metrics, survives a restart, and is removed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <uv.h>

#include "cpc/error.h"
#include "cpc/pds.h"
#include "test_support.h"

/* ---- config ---------------------------------------------------------------- */

static void test_sizes(void **state) {
  uint64_t v;
  (void)state;
  assert_int_equal(cpc_pds_parse_size("0", &v), 0);
  assert_int_equal(v, 0);
  assert_int_equal(cpc_pds_parse_size("1500", &v), 0);
  assert_int_equal(v, 1500);
  assert_int_equal(cpc_pds_parse_size("2K", &v), 0);
  assert_int_equal(v, 2048);
  assert_int_equal(cpc_pds_parse_size("2KB", &v), 0);
  assert_int_equal(v, 2000);
  assert_int_equal(cpc_pds_parse_size("3MiB", &v), 0);
  assert_int_equal(v, 3u << 20);
  assert_int_equal(cpc_pds_parse_size("1 gib", &v), 0);
  assert_int_equal(v, 1u << 30);
  assert_int_equal(cpc_pds_parse_size("5TB", &v), 0);
  assert_int_equal(v, 5000000000000ull);
  assert_int_equal(cpc_pds_parse_size("12B", &v), 0);
  assert_int_equal(v, 12);
  assert_int_equal(cpc_pds_parse_size("", &v), CPC_EMALFORMED);
  assert_int_equal(cpc_pds_parse_size("MiB", &v), CPC_EMALFORMED);
  assert_int_equal(cpc_pds_parse_size("5X", &v), CPC_EMALFORMED);
  assert_int_equal(cpc_pds_parse_size("5MiBs", &v), CPC_EMALFORMED);
  assert_int_equal(cpc_pds_parse_size("-5", &v), CPC_EMALFORMED);
  assert_int_equal(cpc_pds_parse_size("99999999999999999999", &v),
                   CPC_ETOOBIG);
  assert_int_equal(cpc_pds_parse_size("9000000TiB", &v), CPC_ETOOBIG);
}

static void test_config_defaults(void **state) {
  cpc_pds_config c;
  (void)state;
  cpc_pds_config_default(&c);
  assert_int_equal(c.storage_limit, 0);
  assert_int_equal(c.bandwidth_limit, 0);
  assert_int_equal(c.cache_eviction, CPC_PDS_EVICT_LRU);
  assert_int_equal(c.encryption, CPC_PDS_CIPHER_CHACHA20_POLY1305);
  assert_int_equal(c.n_listen, 1);
  assert_string_equal(c.listen[0], CPC_PDS_DEFAULT_LISTEN);
  assert_string_equal(c.api, CPC_PDS_DEFAULT_API);
  assert_string_equal(c.orchestrator, CPC_PDS_DEFAULT_ORCHESTRATOR);
}

static void test_config_parse(void **state) {
  static const char good[] =
      "{\"storage_limit\": \"10GiB\", \"bandwidth_limit\": 1048576,"
      " \"cache_eviction\": \"lru\", \"encryption\": \"chacha20-poly1305\","
      " \"network\": {\"listen\": [\"/ip4/0.0.0.0/tcp/4002\","
      " \"/ip6/::/tcp/4002\"], \"bootstrap\": [\"/ip4/1.2.3.4/tcp/4001/p2p/"
      "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA\"]},"
      " \"data\": \"/tmp/x\", \"orchestrator\": \"http://o:7700\","
      " \"api\": \"127.0.0.1:0\", \"sync_interval_ms\": 500}";
  cpc_pds_config c;
  char err[256];
  (void)state;
  cpc_pds_config_default(&c);
  assert_int_equal(cpc_pds_config_parse(&c, good, strlen(good), err,
                                        sizeof err),
                   0);
  assert_int_equal(c.storage_limit, 10ull << 30);
  assert_int_equal(c.bandwidth_limit, 1048576);
  assert_int_equal(c.n_listen, 2);
  assert_string_equal(c.listen[1], "/ip6/::/tcp/4002");
  assert_int_equal(c.n_bootstrap, 1);
  assert_string_equal(c.data_dir, "/tmp/x");
  assert_string_equal(c.orchestrator, "http://o:7700");
  assert_string_equal(c.api, "127.0.0.1:0");
  assert_int_equal(c.sync_interval_ms, 500);
}

/* Each bad config is refused with a message naming its key. */
static void test_config_errors(void **state) {
  static const struct {
    const char *json, *key;
  } bad[] = {
      {"{\"storage_limit\": \"lots\"}", "storage_limit"},
      {"{\"storage_limit\": -1}", "storage_limit"},
      {"{\"bandwidth_limit\": true}", "bandwidth_limit"},
      {"{\"cache_eviction\": \"fifo\"}", "cache_eviction"},
      {"{\"encryption\": \"aes\"}", "encryption"},
      {"{\"network\": []}", "network"},
      {"{\"network\": {\"listen\": [\"nope\"]}}", "network.listen[0]"},
      {"{\"network\": {\"listen\": []}}", "network.listen"},
      {"{\"network\": {\"bootstrap\": [\"/ip4/1.2.3.4/tcp/1\"]}}",
       "network.bootstrap[0]"},
      {"{\"network\": {\"peers\": []}}", "network.peers"},
      {"{\"orchestrator\": \"ftp://x\"}", "orchestrator"},
      {"{\"data\": \"\"}", "data"},
      {"{\"sync_interval_ms\": 1}", "sync_interval_ms"},
      {"{\"colour\": \"blue\"}", "colour"},
      {"[1]", "config"},
      {"{\"storage_limit\": 1, \"storage_limit\": 2}", "config"},
      {"{", "config"},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cpc_pds_config c;
    char err[512] = "";
    cpc_pds_config_default(&c);
    assert_int_not_equal(cpc_pds_config_parse(&c, bad[i].json,
                                              strlen(bad[i].json), err,
                                              sizeof err),
                         0);
    if (strncmp(err, bad[i].key, strlen(bad[i].key)) != 0)
      fail_msg("config %s: error \"%s\" does not start with %s", bad[i].json,
               err, bad[i].key);
  }
}

static void test_config_load(void **state) {
  char dir[] = "/tmp/cpc-test-pds-XXXXXX", path[128], err[256];
  cpc_pds_config c;
  FILE *f;
  (void)state;
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/pds.json", dir);
  cpc_pds_config_default(&c);
  assert_int_equal(cpc_pds_config_load(&c, path, err, sizeof err), CPC_ENOENT);
  f = fopen(path, "w");
  assert_non_null(f);
  fputs("{\"storage_limit\": \"1MB\"}", f);
  fclose(f);
  assert_int_equal(cpc_pds_config_load(&c, path, err, sizeof err), 0);
  assert_int_equal(c.storage_limit, 1000000);
  remove(path);
  rmdir(dir);
}

/* ---- a PDS in-process, orchestrator unreachable --------------------------- */

typedef struct fixture {
  uv_loop_t loop;
  uv_async_t stop;
  uv_thread_t thread;
  cpc_pds *pds;
  char dir[64];
  char base[64];
  char token[128];
} fixture;

static void on_stop(uv_async_t *h) {
  fixture *fx = h->data;
  cpc_pds_stop(fx->pds, NULL, NULL);
  uv_close((uv_handle_t *)&fx->stop, NULL);
}

static void run_loop(void *arg) {
  fixture *fx = arg;
  uv_run(&fx->loop, UV_RUN_DEFAULT);
}

static void pds_up(fixture *fx) {
  cpc_pds_config cfg;
  char err[512], path[128];
  FILE *f;
  size_t n;

  cpc_pds_config_default(&cfg);
  snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s/pds", fx->dir);
  snprintf(cfg.api, sizeof cfg.api, "127.0.0.1:0");
  snprintf(cfg.listen[0], sizeof cfg.listen[0], "/ip4/127.0.0.1/tcp/0");
  snprintf(cfg.orchestrator, sizeof cfg.orchestrator, "http://127.0.0.1:1");
  cfg.sync_interval_ms = 200;
  assert_int_equal(uv_loop_init(&fx->loop), 0);
  if (cpc_pds_start(&fx->loop, &cfg, &fx->pds, err, sizeof err) != 0)
    fail_msg("cpc_pds_start: %s", err);
  assert_int_equal(strncmp(cpc_pds_peer_id(fx->pds), "16Uiu2", 6), 0);
  assert_non_null(cpc_pds_listen_addr(fx->pds, 0));
  snprintf(fx->base, sizeof fx->base, "http://127.0.0.1:%u",
           (unsigned)cpc_pds_api_port(fx->pds));
  snprintf(path, sizeof path, "%s/pds/api-token", fx->dir);
  f = fopen(path, "r");
  assert_non_null(f);
  n = fread(fx->token, 1, sizeof fx->token - 1, f);
  fclose(f);
  fx->token[n] = '\0';
  if (n && fx->token[n - 1] == '\n')
    fx->token[n - 1] = '\0';
  assert_int_equal(uv_async_init(&fx->loop, &fx->stop, on_stop), 0);
  fx->stop.data = fx;
  assert_int_equal(uv_thread_create(&fx->thread, run_loop, fx), 0);
}

static void pds_down(fixture *fx) {
  uv_async_send(&fx->stop);
  uv_thread_join(&fx->thread);
  assert_int_equal(uv_loop_close(&fx->loop), 0);
}

typedef struct buf {
  char *p;
  size_t len;
} buf;

static size_t on_body(char *d, size_t s, size_t n, void *ud) {
  buf *b = ud;
  char *np = realloc(b->p, b->len + s * n + 1);
  assert_non_null(np);
  b->p = np;
  memcpy(b->p + b->len, d, s * n);
  b->len += s * n;
  b->p[b->len] = '\0';
  return s * n;
}

/* method path with body (may be NULL); returns the status, *out the body. */
static long call(fixture *fx, const char *method, const char *path,
                 const void *body, size_t len, int auth, buf *out) {
  CURL *h = curl_easy_init();
  struct curl_slist *hd = NULL;
  char url[512], a[256];
  long status = 0;
  assert_non_null(h);
  memset(out, 0, sizeof *out);
  snprintf(url, sizeof url, "%s%s", fx->base, path);
  snprintf(a, sizeof a, "Authorization: Bearer %s", auth ? fx->token : "nope");
  hd = curl_slist_append(hd, a);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
  if (body) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  }
  assert_int_equal(curl_easy_perform(h), CURLE_OK);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(hd);
  curl_easy_cleanup(h);
  return status;
}

static json_t *json_of(buf *b) {
  json_t *j = json_loads(b->p ? b->p : "", 0, NULL);
  assert_non_null(j);
  free(b->p);
  b->p = NULL;
  return j;
}

static void test_pds_offline(void **state) {
  fixture fx;
  buf b;
  json_t *j;
  uint8_t *data;
  size_t len = 700000;
  uint64_t seed = 7;
  char path[256], cid[128], token_path[128];
  struct stat st;
  (void)state;

  memset(&fx, 0, sizeof fx);
  snprintf(fx.dir, sizeof fx.dir, "/tmp/cpc-test-pds-XXXXXX");
  assert_non_null(mkdtemp(fx.dir));
  data = malloc(len);
  assert_non_null(data);
  for (size_t i = 0; i < len; i++)
    data[i] = (uint8_t)test_splitmix64(&seed);

  pds_up(&fx);
  snprintf(token_path, sizeof token_path, "%s/pds/api-token", fx.dir);
  assert_int_equal(stat(token_path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);

  /* the token is required, except for /healthz and /metrics */
  assert_int_equal(call(&fx, "GET", "/v1/content", NULL, 0, 0, &b), 401);
  free(b.p);
  assert_int_equal(call(&fx, "GET", "/healthz", NULL, 0, 0, &b), 200);
  free(b.p);
  assert_int_equal(call(&fx, "GET", "/v1/nothing", NULL, 0, 1, &b), 404);
  free(b.p);
  assert_int_equal(call(&fx, "POST", "/v1/content?access=secret", "x", 1, 1,
                        &b),
                   400);
  free(b.p);

  /* upload: stored and queued (no orchestrator) */
  assert_int_equal(call(&fx, "POST",
                        "/v1/content?access=followers&replicas=2&name=t",
                        data, len, 1, &b),
                   201);
  j = json_of(&b);
  assert_string_equal(json_string_value(json_object_get(j, "state")),
                      "queued");
  assert_string_equal(json_string_value(json_object_get(j, "access")),
                      "followers");
  assert_int_equal(json_integer_value(json_object_get(j, "size")), len);
  snprintf(cid, sizeof cid, "%s",
           json_string_value(json_object_get(j, "content_id")));
  assert_int_equal(strncmp(json_string_value(json_object_get(j, "uri")),
                           "cpc://bafkr4i", 13),
                   0);
  json_decref(j);

  /* read back offline, byte-identical */
  snprintf(path, sizeof path, "/v1/content/%s", cid);
  assert_int_equal(call(&fx, "GET", path, NULL, 0, 1, &b), 200);
  assert_int_equal(b.len, len);
  assert_memory_equal(b.p, data, len);
  free(b.p);

  /* unknown content with no orchestrator: a clear 503 */
  assert_int_equal(
      call(&fx, "GET",
           "/v1/content/bafkr4ibrwa5fsazchigd3lzwrb52hvnjcdd3ye2qrjjgkdmdz3j"
           "rppiafe",
           NULL, 0, 1, &b),
      503);
  j = json_of(&b);
  assert_non_null(strstr(json_string_value(json_object_get(
                             json_object_get(j, "error"), "message")),
                         "orchestrator"));
  json_decref(j);

  assert_int_equal(call(&fx, "GET", "/v1/content", NULL, 0, 1, &b), 200);
  j = json_of(&b);
  assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
  json_decref(j);
  assert_int_equal(call(&fx, "GET", "/v1/status", NULL, 0, 1, &b), 200);
  j = json_of(&b);
  assert_int_equal(json_integer_value(json_object_get(
                       json_object_get(j, "content"), "queued")),
                   1);
  assert_true(json_is_false(
      json_object_get(json_object_get(j, "orchestrator"), "reachable")));
  json_decref(j);
  assert_int_equal(call(&fx, "GET", "/metrics", NULL, 0, 0, &b), 200);
  assert_non_null(strstr(b.p, "cpc_pds_uploads_total 1"));
  assert_non_null(
      strstr(b.p, "cpc_bandwidth_bytes{node_type=\"pds\",direction=\"in\"}"));
  free(b.p);
  pds_down(&fx);

  /* a restart keeps the content, the identity and the token */
  pds_up(&fx);
  assert_int_equal(call(&fx, "GET", path, NULL, 0, 1, &b), 200);
  assert_int_equal(b.len, len);
  assert_memory_equal(b.p, data, len);
  free(b.p);
  assert_int_equal(call(&fx, "DELETE", path, NULL, 0, 1, &b), 200);
  free(b.p);
  assert_int_equal(call(&fx, "DELETE", path, NULL, 0, 1, &b), 404);
  free(b.p);
  assert_int_equal(call(&fx, "GET", "/v1/status", NULL, 0, 1, &b), 200);
  j = json_of(&b);
  assert_int_equal(json_integer_value(json_object_get(
                       json_object_get(j, "storage"), "blocks")),
                   0);
  json_decref(j);
  pds_down(&fx);

  free(data);
  {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx.dir);
    assert_int_equal(system(cmd), 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sizes),
      cmocka_unit_test(test_config_defaults),
      cmocka_unit_test(test_config_parse),
      cmocka_unit_test(test_config_errors),
      cmocka_unit_test(test_config_load),
      cmocka_unit_test(test_pds_offline),
  };
  curl_global_init(CURL_GLOBAL_DEFAULT);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
