/*
 * test_http.c: the REST server core. Router matching and parameters, query
 * strings, strict JSON bodies, signed-request authentication and the
 * in-memory nonce store as functions; then a real server on 127.0.0.1
 * (port 0) driven by a small blocking HTTP/1.1 client written here: JSON
 * answers, 404/405/413/400, keep-alive, authentication over the wire,
 * handler failures and the metrics callback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "cpc/blake3.h"
#include "cpc/error.h"
#include "cpc/http.h"
#include "cpc/keys.h"
#include "cpc/peer_id.h"

/* --- router --------------------------------------------------------------- */

static int h_dummy(cpc_http_request *req, void *ctx) {
  (void)req;
  (void)ctx;
  return 0;
}

static int TAG_USER, TAG_ME, TAG_FOLLOW_GET, TAG_FOLLOW_DEL, TAG_USERS_POST,
    TAG_ROOT, TAG_HEALTH;

/* Adds the same routes in either order: literal priority must not depend
 * on it. */
static cpc_http_router *make_router(int reversed) {
  cpc_http_router *r;
  assert_int_equal(cpc_http_router_new(&r), 0);
  if (!reversed)
    assert_int_equal(cpc_http_router_add(r, "GET", "/v1/users/{peer_id}",
                                         CPC_HTTP_AUTH_NONE, h_dummy,
                                         &TAG_USER),
                     0);
  assert_int_equal(cpc_http_router_add(r, "GET", "/v1/users/me",
                                       CPC_HTTP_AUTH_REQUIRED, h_dummy,
                                       &TAG_ME),
                   0);
  if (reversed)
    assert_int_equal(cpc_http_router_add(r, "GET", "/v1/users/{peer_id}",
                                         CPC_HTTP_AUTH_NONE, h_dummy,
                                         &TAG_USER),
                     0);
  assert_int_equal(
      cpc_http_router_add(r, "GET", "/v1/users/{peer_id}/following/{other}",
                          CPC_HTTP_AUTH_OPTIONAL, h_dummy, &TAG_FOLLOW_GET),
      0);
  assert_int_equal(
      cpc_http_router_add(r, "DELETE", "/v1/users/{peer_id}/following/{other}",
                          CPC_HTTP_AUTH_REQUIRED, h_dummy, &TAG_FOLLOW_DEL),
      0);
  assert_int_equal(cpc_http_router_add(r, "POST", "/v1/users",
                                       CPC_HTTP_AUTH_REQUIRED, h_dummy,
                                       &TAG_USERS_POST),
                   0);
  assert_int_equal(cpc_http_router_add(r, "GET", "/", CPC_HTTP_AUTH_NONE,
                                       h_dummy, &TAG_ROOT),
                   0);
  assert_int_equal(cpc_http_router_add(r, "GET", "/healthz", CPC_HTTP_AUTH_NONE,
                                       h_dummy, &TAG_HEALTH),
                   0);
  return r;
}

static int match(const cpc_http_router *r, const char *method, const char *path,
                 cpc_http_match *m) {
  return cpc_http_router_match(r, method, path, strlen(path), m);
}

static void test_router_match(void **state) {
  (void)state;
  static cpc_http_match m;
  for (int rev = 0; rev < 2; rev++) {
    cpc_http_router *r = make_router(rev);

    assert_int_equal(match(r, "GET", "/v1/users/me", &m), 0);
    assert_ptr_equal(m.ctx, &TAG_ME);
    assert_int_equal(m.auth, CPC_HTTP_AUTH_REQUIRED);
    assert_int_equal(m.nparams, 0);

    assert_int_equal(match(r, "GET", "/v1/users/16Uiu2abc", &m), 0);
    assert_ptr_equal(m.ctx, &TAG_USER);
    assert_string_equal(m.pattern, "/v1/users/{peer_id}");
    assert_int_equal(m.nparams, 1);
    assert_string_equal(m.names[0], "peer_id");
    assert_string_equal(m.values[0], "16Uiu2abc");

    /* decoded parameters; %2F stays inside its segment */
    assert_int_equal(match(r, "GET", "/v1/users/a%20b/following/c%2Fd", &m), 0);
    assert_ptr_equal(m.ctx, &TAG_FOLLOW_GET);
    assert_int_equal(m.nparams, 2);
    assert_string_equal(m.names[0], "peer_id");
    assert_string_equal(m.values[0], "a b");
    assert_string_equal(m.names[1], "other");
    assert_string_equal(m.values[1], "c/d");
    /* '+' is literal in a path */
    assert_int_equal(match(r, "GET", "/v1/users/a+b", &m), 0);
    assert_string_equal(m.values[0], "a+b");
    /* a literal segment matches its encoded form too */
    assert_int_equal(match(r, "GET", "/v1/users/%6De", &m), 0);
    assert_ptr_equal(m.ctx, &TAG_ME);

    assert_int_equal(match(r, "DELETE", "/v1/users/x/following/y", &m), 0);
    assert_ptr_equal(m.ctx, &TAG_FOLLOW_DEL);

    /* HEAD falls back to GET */
    assert_int_equal(match(r, "HEAD", "/healthz", &m), 0);
    assert_ptr_equal(m.ctx, &TAG_HEALTH);
    assert_string_equal(m.method, "GET");

    assert_int_equal(match(r, "GET", "/", &m), 0);
    assert_ptr_equal(m.ctx, &TAG_ROOT);

    /* 405: the path exists for other methods */
    assert_int_equal(match(r, "PUT", "/v1/users/x/following/y", &m),
                     CPC_ENOENT);
    assert_string_equal(m.allow, "GET, HEAD, DELETE");
    assert_int_equal(match(r, "GET", "/v1/users", &m), CPC_ENOENT);
    assert_string_equal(m.allow, "POST");
    assert_int_equal(match(r, "POST", "/v1/users/me", &m), CPC_ENOENT);
    assert_string_equal(m.allow, "GET, HEAD");

    /* 404: nothing at this path */
    const char *absent[] = {"/v1/nothing",
                            "/v1/users/",
                            "/v1/users//following/y",
                            "/v1/users/x/following",
                            "/healthz/",
                            "//",
                            "/v1/users/x/following/y/z"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
      assert_int_equal(match(r, "GET", absent[i], &m), CPC_ENOENT);
      assert_string_equal(m.allow, "");
    }

    /* malformed */
    assert_int_equal(match(r, "GET", "v1/users", &m), CPC_EMALFORMED);
    assert_int_equal(match(r, "GET", "", &m), CPC_EMALFORMED);
    assert_int_equal(match(r, "GET", "/v1/users/%zz", &m), CPC_EMALFORMED);
    assert_int_equal(match(r, "GET", "/v1/users/%2", &m), CPC_EMALFORMED);
    assert_int_equal(match(r, "GET", "/v1/users/a%00b", &m), CPC_EMALFORMED);
    assert_int_equal(match(r, "GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q", &m),
                     CPC_ETOOBIG);
    /* path_len bounds the path: "/healthz" within "/healthzXYZ" */
    assert_int_equal(cpc_http_router_match(r, "GET", "/healthzXYZ", 8, &m), 0);
    assert_ptr_equal(m.ctx, &TAG_HEALTH);
    cpc_http_router_free(r);
  }
}

static void test_router_add_errors(void **state) {
  (void)state;
  cpc_http_router *r;
  int x;
  assert_int_equal(cpc_http_router_new(&r), 0);
  assert_int_equal(cpc_http_router_add(r, "get", "/a", 0, h_dummy, &x),
                   CPC_EINVAL);
  assert_int_equal(cpc_http_router_add(r, "", "/a", 0, h_dummy, &x),
                   CPC_EINVAL);
  assert_int_equal(
      cpc_http_router_add(r, "GETGETGETGETGETGE", "/a", 0, h_dummy, &x),
      CPC_EINVAL);
  assert_int_equal(cpc_http_router_add(r, "GET", "a", 0, h_dummy, &x),
                   CPC_EINVAL);
  assert_int_equal(cpc_http_router_add(r, "GET", "/a/{}", 0, h_dummy, &x),
                   CPC_EINVAL);
  assert_int_equal(cpc_http_router_add(r, "GET", "/a/{1x}", 0, h_dummy, &x),
                   CPC_EINVAL);
  assert_int_equal(cpc_http_router_add(r, "GET", "/a/{x", 0, h_dummy, &x),
                   CPC_EINVAL);
  assert_int_equal(cpc_http_router_add(r, "GET", "/a b", 0, h_dummy, &x),
                   CPC_EINVAL);
  assert_int_equal(cpc_http_router_add(r, "GET", "/a/{x}/{x}", 0, h_dummy, &x),
                   CPC_EINVAL);
  assert_int_equal(cpc_http_router_add(r, "GET", "/a", 0, NULL, &x),
                   CPC_EINVAL);
  assert_int_equal(cpc_http_router_add(r, "GET", "/a", 7, h_dummy, &x),
                   CPC_EINVAL);
  assert_int_equal(cpc_http_router_add(r, "GET",
                                       "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}",
                                       0, h_dummy, &x),
                   CPC_ETOOBIG);
  assert_int_equal(cpc_http_router_add(r, "GET",
                                       "/{a23456789012345678901234567890123}",
                                       0, h_dummy, &x),
                   CPC_ETOOBIG);
  /* same shape under other names is a duplicate; another method is not */
  assert_int_equal(cpc_http_router_add(r, "GET", "/u/{id}", 0, h_dummy, &x), 0);
  assert_int_equal(cpc_http_router_add(r, "GET", "/u/{other}", 0, h_dummy, &x),
                   CPC_EEXIST);
  assert_int_equal(cpc_http_router_add(r, "PUT", "/u/{other}", 0, h_dummy, &x),
                   0);
  /* and the failed adds left nothing behind */
  static cpc_http_match m;
  assert_int_equal(match(r, "GET", "/a", &m), CPC_ENOENT);
  assert_string_equal(m.allow, "");
  assert_int_equal(match(r, "PUT", "/u/7", &m), 0);
  assert_string_equal(m.names[0], "other");
  for (int i = 2; i < CPC_HTTP_MAX_ROUTES; i++) {
    char p[32];
    snprintf(p, sizeof p, "/r%d", i);
    assert_int_equal(cpc_http_router_add(r, "GET", p, 0, h_dummy, &x), 0);
  }
  assert_int_equal(cpc_http_router_add(r, "GET", "/one-more", 0, h_dummy, &x),
                   CPC_ETOOBIG);
  assert_int_equal(match(r, "GET", "/r255", &m), 0);
  cpc_http_router_free(r);
  cpc_http_router_free(NULL);
}

/* --- query strings ----------------------------------------------------------
 */

static void test_query(void **state) {
  (void)state;
  static cpc_http_query q;
  const char *s = "a=1&b=&c&&d=x%20y+z&a=2&e=%26%3D";
  assert_int_equal(cpc_http_query_parse(s, strlen(s), &q), 0);
  assert_int_equal(q.count, 6);
  assert_string_equal(cpc_http_query_get(&q, "a"), "1"); /* first wins */
  assert_string_equal(q.values[4], "2");
  assert_string_equal(cpc_http_query_get(&q, "b"), "");
  assert_string_equal(cpc_http_query_get(&q, "c"), "");
  assert_string_equal(cpc_http_query_get(&q, "d"), "x y z");
  assert_string_equal(cpc_http_query_get(&q, "e"), "&=");
  assert_null(cpc_http_query_get(&q, "f"));
  assert_null(cpc_http_query_get(&q, "A"));

  assert_int_equal(cpc_http_query_parse("", 0, &q), 0);
  assert_int_equal(q.count, 0);
  assert_int_equal(cpc_http_query_parse("&&&", 3, &q), 0);
  assert_int_equal(q.count, 0);
  assert_int_equal(cpc_http_query_parse("=x", 2, &q), CPC_EMALFORMED);
  assert_int_equal(cpc_http_query_parse("a=%zz", 5, &q), CPC_EMALFORMED);
  assert_int_equal(cpc_http_query_parse("a=%4", 4, &q), CPC_EMALFORMED);
  assert_int_equal(cpc_http_query_parse("a=%00", 5, &q), CPC_EMALFORMED);
  /* len bounds the input */
  assert_int_equal(cpc_http_query_parse("a=1&b=2", 3, &q), 0);
  assert_int_equal(q.count, 1);
  assert_string_equal(q.values[0], "1");

  /* caps: 32 pairs fine, 33 not; 4096 bytes fine, 4097 not */
  char big[CPC_HTTP_MAX_QUERY + 2];
  size_t n = 0;
  for (int i = 0; i < 33; i++)
    n += (size_t)snprintf(big + n, sizeof big - n, "%sk%d=v", i ? "&" : "", i);
  assert_int_equal(cpc_http_query_parse(big, n, &q), CPC_ETOOBIG);
  assert_int_equal(cpc_http_query_parse(big, n - 6, &q), 0); /* 32 pairs */
  assert_int_equal(q.count, 32);
  /* worst case for the decode buffer: 32 names without '=', 4096 bytes */
  memset(big, 'x', CPC_HTTP_MAX_QUERY);
  for (int i = 1; i < 32; i++)
    big[i * 128] = '&';
  assert_int_equal(cpc_http_query_parse(big, CPC_HTTP_MAX_QUERY, &q), 0);
  assert_int_equal(q.count, 32);
  assert_int_equal(strlen(q.names[31]), 127);
  big[CPC_HTTP_MAX_QUERY] = 'x';
  assert_int_equal(cpc_http_query_parse(big, CPC_HTTP_MAX_QUERY + 1, &q),
                   CPC_ETOOBIG);
}

/* --- strict JSON
 * -------------------------------------------------------------- */

static int parse(const char *s, json_t **j, char *msg) {
  return cpc_http_json_parse(s, strlen(s), 0, j, msg, 200);
}

static void test_json_body(void **state) {
  (void)state;
  json_t *j;
  char msg[200];

  assert_int_equal(parse("{\"a\":1,\"b\":[true,null,\"x\"]}", &j, msg), 0);
  assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
  json_decref(j);
  assert_int_equal(parse(" {} \n", &j, msg), 0);
  json_decref(j);

  assert_int_equal(cpc_http_json_parse(NULL, 0, 0, &j, msg, sizeof msg),
                   CPC_EMALFORMED);
  assert_null(j);
  assert_non_null(strstr(msg, "empty"));
  assert_int_equal(parse("[1,2]", &j, msg), CPC_EMALFORMED);
  assert_non_null(strstr(msg, "JSON object"));
  assert_int_equal(parse("\"x\"", &j, msg), CPC_EMALFORMED);
  assert_int_equal(parse("{\"a\":1,\"a\":2}", &j, msg), CPC_EMALFORMED);
  assert_non_null(strstr(msg, "duplicate"));
  assert_int_equal(parse("{\"a\":1} x", &j, msg), CPC_EMALFORMED);
  assert_int_equal(parse("{\"a\":1}{}", &j, msg), CPC_EMALFORMED);
  assert_int_equal(parse("{\"a\":\"\\u0000\"}", &j, msg), CPC_EMALFORMED);
  assert_int_equal(parse("{\"a\":\"\xff\"}", &j, msg), CPC_EMALFORMED);
  assert_int_equal(parse("{\"a\":}", &j, msg), CPC_EMALFORMED);
  assert_non_null(strstr(msg, "line 1, column"));
  assert_int_equal(parse("{\n\"a\": tru}", &j, msg), CPC_EMALFORMED);
  assert_non_null(strstr(msg, "line 2"));
  /* a NUL byte inside the body */
  assert_int_equal(cpc_http_json_parse("{\"a\":1}\0", 8, 0, &j, msg, 200),
                   CPC_EMALFORMED);
  assert_null(j);

  /* depth: 32 levels pass, 33 do not; brackets inside strings don't count */
  char deep[200];
  size_t n = 0;
  deep[n++] = '{';
  memcpy(deep + n, "\"a\":", 4);
  n += 4;
  for (int i = 0; i < 31; i++)
    deep[n++] = '[';
  for (int i = 0; i < 31; i++)
    deep[n++] = ']';
  deep[n++] = '}';
  deep[n] = '\0';
  assert_int_equal(parse(deep, &j, msg), 0);
  json_decref(j);
  assert_int_equal(cpc_http_json_parse(deep, n, 31, &j, msg, sizeof msg),
                   CPC_ETOOBIG);
  assert_non_null(strstr(msg, "deeper than 31"));
  assert_int_equal(parse("{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\""
                         "{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{\"}",
                         &j, msg),
                   0);
  json_decref(j);
  /* a million brackets are refused by the scan, not by recursion */
  size_t big = 1000000;
  char *b = malloc(big);
  assert_non_null(b);
  memset(b, '[', big);
  assert_int_equal(cpc_http_json_parse(b, big, 0, &j, msg, sizeof msg),
                   CPC_ETOOBIG);
  free(b);
  /* msg may be NULL */
  assert_int_equal(cpc_http_json_parse("[", 1, 0, &j, NULL, 0), CPC_EMALFORMED);
}

/* --- authentication
 * ------------------------------------------------------------ */

static const int64_t NOW = 1750000000;

struct signed_req {
  const char *method, *target, *body;
  cpc_http_signed_headers h;
};

static void sign(const cpc_privkey *k, struct signed_req *s, int64_t ts,
                 const char *nonce) {
  assert_int_equal(
      cpc_http_sign_request(k, s->method, s->target, strlen(s->target), s->body,
                            s->body ? strlen(s->body) : 0, ts, nonce, &s->h),
      0);
}

static cpc_http_auth_input input_of(const struct signed_req *s) {
  cpc_http_auth_input in;
  memset(&in, 0, sizeof in);
  in.method = s->method;
  in.target = s->target;
  in.target_len = strlen(s->target);
  in.body = s->body;
  in.body_len = s->body ? strlen(s->body) : 0;
  in.peer_id = s->h.peer_id;
  in.timestamp = s->h.timestamp;
  in.nonce = s->h.nonce;
  in.signature = s->h.signature;
  return in;
}

static void test_auth_message(void **state) {
  (void)state;
  uint8_t hash[32], out[CPC_HTTP_AUTH_MESSAGE_MAX];
  size_t len;
  const char *expect =
      "CPC-REQUEST-V1\nPOST\n/v1/x?a=%20b\n"
      "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262\n"
      "1750000000\nabcdefghijklmnop";
  cpc_blake3("", 0, hash); /* the spec's hash of the empty input */
  assert_int_equal(cpc_http_auth_message("POST", "/v1/x?a=%20b", 12, hash,
                                         "1750000000", "abcdefghijklmnop", out,
                                         sizeof out, &len),
                   0);
  assert_int_equal(len, strlen(expect));
  assert_memory_equal(out, expect, len);
  /* cap short */
  assert_int_equal(cpc_http_auth_message("POST", "/v1/x", 5, hash, "1750000000",
                                         "abcdefghijklmnop", out, 20, &len),
                   CPC_ETOOBIG);
  /* pieces checked */
  assert_int_equal(cpc_http_auth_message("post", "/", 1, hash, "1",
                                         "abcdefghijklmnop", out, sizeof out,
                                         &len),
                   CPC_EMALFORMED);
  assert_int_equal(cpc_http_auth_message("GET", "/a b", 4, hash, "1",
                                         "abcdefghijklmnop", out, sizeof out,
                                         &len),
                   CPC_EMALFORMED);
  assert_int_equal(cpc_http_auth_message("GET", "/a\nb", 4, hash, "1",
                                         "abcdefghijklmnop", out, sizeof out,
                                         &len),
                   CPC_EMALFORMED);
  assert_int_equal(cpc_http_auth_message("GET", "*", 1, hash, "1",
                                         "abcdefghijklmnop", out, sizeof out,
                                         &len),
                   CPC_EMALFORMED);
  assert_int_equal(cpc_http_auth_message("GET", "/", 1, hash, "01",
                                         "abcdefghijklmnop", out, sizeof out,
                                         &len),
                   CPC_EMALFORMED);
  assert_int_equal(cpc_http_auth_message("GET", "/", 1, hash, "1",
                                         "abcdefghijklmno", out, sizeof out,
                                         &len),
                   CPC_EMALFORMED);
}

static void test_auth_verify(void **state) {
  (void)state;
  cpc_privkey k, other, ed;
  cpc_nonce_store *ns;
  cpc_peer_id caller, kid;
  cpc_http_auth_error err;
  cpc_http_auth_input in;
  struct signed_req s = {
      .method = "POST", .target = "/v1/echo?x=1", .body = "{\"a\":1}"};

  assert_int_equal(cpc_privkey_generate(CPC_KEY_SECP256K1, &k), 0);
  assert_int_equal(cpc_privkey_generate(CPC_KEY_SECP256K1, &other), 0);
  assert_int_equal(cpc_privkey_generate(CPC_KEY_ED25519, &ed), 0);
  assert_int_equal(cpc_peer_id_from_pubkey(&k.pub, &kid), 0);
  assert_int_equal(cpc_nonce_store_memory_new(64, &ns), 0);

  /* valid */
  sign(&k, &s, NOW, NULL);
  assert_int_equal(strlen(s.h.nonce), 32);
  assert_int_equal(strncmp(s.h.peer_id, "16Uiu2", 6), 0);
  in = input_of(&s);
  assert_int_equal(cpc_http_auth_verify(&in, NOW, 0, ns, &caller, &err), 0);
  assert_true(cpc_peer_id_equal(&caller, &kid));
  assert_int_equal(cpc_nonce_store_memory_count(ns), 1);

  /* replayed: same headers again */
  assert_int_equal(cpc_http_auth_verify(&in, NOW + 1, 0, ns, &caller, &err),
                   CPC_EEXIST);
  assert_string_equal(err.code, "replayed");

  /* the same nonce from another key is not a replay */
  struct signed_req s2 = s;
  sign(&other, &s2, NOW, s.h.nonce);
  in = input_of(&s2);
  assert_int_equal(cpc_http_auth_verify(&in, NOW, 0, ns, &caller, &err), 0);
  assert_false(cpc_peer_id_equal(&caller, &kid));

  /* wrong key: signed by other, claims k's PeerId */
  sign(&other, &s2, NOW, NULL);
  memcpy(s2.h.peer_id, s.h.peer_id, sizeof s.h.peer_id);
  in = input_of(&s2);
  size_t before = cpc_nonce_store_memory_count(ns);
  assert_int_equal(cpc_http_auth_verify(&in, NOW, 0, ns, &caller, &err),
                   CPC_EBADSIG);
  assert_string_equal(err.code, "unauthorized");
  assert_int_equal(cpc_nonce_store_memory_count(ns), before); /* untouched */

  /* tampered body, target, method, timestamp, nonce */
  sign(&k, &s, NOW, NULL);
  in = input_of(&s);
  in.body = "{\"a\":2}";
  assert_int_equal(cpc_http_auth_verify(&in, NOW, 0, ns, NULL, &err),
                   CPC_EBADSIG);
  in = input_of(&s);
  in.body_len--;
  assert_int_equal(cpc_http_auth_verify(&in, NOW, 0, ns, NULL, &err),
                   CPC_EBADSIG);
  in = input_of(&s);
  in.target = "/v1/echo?x=2";
  assert_int_equal(cpc_http_auth_verify(&in, NOW, 0, ns, NULL, &err),
                   CPC_EBADSIG);
  in = input_of(&s);
  in.target_len = 8; /* "/v1/echo": the query is signed too */
  assert_int_equal(cpc_http_auth_verify(&in, NOW, 0, ns, NULL, &err),
                   CPC_EBADSIG);
  in = input_of(&s);
  in.method = "PUT";
  assert_int_equal(cpc_http_auth_verify(&in, NOW, 0, ns, NULL, &err),
                   CPC_EBADSIG);
  in = input_of(&s);
  in.timestamp = "1750000001";
  assert_int_equal(cpc_http_auth_verify(&in, NOW, 0, ns, NULL, &err),
                   CPC_EBADSIG);
  in = input_of(&s);
  in.nonce = "ZZZZZZZZZZZZZZZZZZZZ";
  assert_int_equal(cpc_http_auth_verify(&in, NOW, 0, ns, NULL, &err),
                   CPC_EBADSIG);
  /* one flipped signature byte */
  {
    uint8_t sig[80];
    size_t sl;
    char b64[CPC_HTTP_AUTH_SIG_B64_MAX + 1];
    assert_int_equal(sodium_base642bin(sig, sizeof sig, s.h.signature,
                                       strlen(s.h.signature), NULL, &sl, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    sig[sl - 1] ^= 1;
    sodium_bin2base64(b64, sizeof b64, sig, sl, sodium_base64_VARIANT_ORIGINAL);
    in = input_of(&s);
    in.signature = b64;
    assert_int_equal(cpc_http_auth_verify(&in, NOW, 0, ns, NULL, &err),
                     CPC_EBADSIG);
  }
  /* the untampered one still passes (none of the above used its nonce) */
  in = input_of(&s);
  assert_int_equal(cpc_http_auth_verify(&in, NOW, 0, ns, NULL, &err), 0);

  /* stale: the window is inclusive, both ways, and configurable */
  sign(&k, &s, NOW - 300, NULL);
  in = input_of(&s);
  assert_int_equal(cpc_http_auth_verify(&in, NOW + 1, 0, ns, NULL, &err),
                   CPC_ETIMEDOUT);
  assert_string_equal(err.code, "stale");
  assert_int_equal(cpc_http_auth_verify(&in, NOW, 0, ns, NULL, &err), 0);
  sign(&k, &s, NOW + 300, NULL);
  in = input_of(&s);
  assert_int_equal(cpc_http_auth_verify(&in, NOW - 1, 0, ns, NULL, &err),
                   CPC_ETIMEDOUT);
  assert_int_equal(cpc_http_auth_verify(&in, NOW, 30, ns, NULL, &err),
                   CPC_ETIMEDOUT);
  sign(&k, &s, NOW + 30, NULL);
  in = input_of(&s);
  assert_int_equal(cpc_http_auth_verify(&in, NOW, 30, ns, NULL, &err), 0);

  /* no body: hash of the empty input; NULL and "" agree */
  struct signed_req g = {
      .method = "GET", .target = "/v1/users/x", .body = NULL};
  sign(&k, &g, NOW, NULL);
  in = input_of(&g);
  in.body = "";
  assert_int_equal(cpc_http_auth_verify(&in, NOW, 0, ns, NULL, &err), 0);

  /* PeerId of another kind */
  sign(&k, &s, NOW, NULL);
  in = input_of(&s);
  {
    cpc_peer_id eid;
    char etext[CPC_PEER_ID_MAX_TEXT];
    assert_int_equal(cpc_peer_id_from_pubkey(&ed.pub, &eid), 0);
    assert_int_equal(cpc_peer_id_format(&eid, etext, sizeof etext), 0);
    in.peer_id = etext;
    assert_int_equal(cpc_http_auth_verify(&in, NOW, 0, ns, NULL, &err),
                     CPC_EUNSUPPORTED);
    assert_string_equal(err.code, "unauthorized");
    in.peer_id = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N";
    assert_int_equal(cpc_http_auth_verify(&in, NOW, 0, ns, NULL, &err),
                     CPC_EUNSUPPORTED);
  }
  /* the CIDv1 form of the same PeerId is accepted */
  {
    char cid[CPC_PEER_ID_MAX_TEXT];
    assert_int_equal(cpc_peer_id_format_cid(&kid, cid, sizeof cid), 0);
    in = input_of(&s);
    in.peer_id = cid;
    assert_int_equal(cpc_http_auth_verify(&in, NOW, 0, ns, &caller, &err), 0);
    assert_true(cpc_peer_id_equal(&caller, &kid));
  }

  /* malformed and missing headers: 401 unauthorized, store untouched */
  sign(&k, &s, NOW, NULL);
  struct {
    int field;
    const char *value;
  } bad[] = {
      {0, NULL},
      {1, NULL},
      {2, NULL},
      {3, NULL},
      {0, "garbage"},
      {0, ""},
      {1, "0"},
      {1, "01750000000"},
      {1, "-1750000000"},
      {1, "+1750000000"},
      {1, "17500000000000"},
      {1, "1750000000 "},
      {1, ""},
      {2, "short"},
      {2, "abcdefghijklmno"},
      {2, "abcdefghijklmnop!"},
      {2, "abcdefghijklmnopabcdefghijklmnopabcdefghijklmnopabcdefghijklmnopa"},
      {3, ""},
      {3, "not base64!"},
      {3, "AAAA"},
      {3, "MEQCIG"},
      {3, "MEQ="},
  };
  before = cpc_nonce_store_memory_count(ns);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    in = input_of(&s);
    const char **f[] = {&in.peer_id, &in.timestamp, &in.nonce, &in.signature};
    *f[bad[i].field] = bad[i].value;
    int rc = cpc_http_auth_verify(&in, NOW, 0, ns, NULL, &err);
    if (rc != CPC_EMALFORMED && rc != CPC_EBADSIG)
      fail_msg("bad header %zu (%s) gave %d", i,
               bad[i].value ? bad[i].value : "(absent)", rc);
    assert_string_equal(err.code, "unauthorized");
    assert_true(strlen(err.message) > 0);
  }
  assert_int_equal(cpc_nonce_store_memory_count(ns), before);
  /* a 64-character nonce is fine, 16 too */
  sign(&k, &s, NOW,
       "abcdefghijklmnopabcdefghijklmnopabcdefghijklmnopabcdefghijkl-_0");
  in = input_of(&s);
  assert_int_equal(cpc_http_auth_verify(&in, NOW, 0, ns, NULL, &err), 0);
  sign(&k, &s, NOW, "0123456789abcdef");
  in = input_of(&s);
  assert_int_equal(cpc_http_auth_verify(&in, NOW, 0, ns, NULL, &err), 0);

  /* signer errors */
  assert_int_equal(
      cpc_http_sign_request(&ed, "GET", "/", 1, NULL, 0, NOW, NULL, &s.h),
      CPC_EUNSUPPORTED);
  assert_int_equal(
      cpc_http_sign_request(&k, "GET", "/", 1, NULL, 0, NOW, "bad nonce", &s.h),
      CPC_EMALFORMED);
  assert_int_equal(
      cpc_http_sign_request(&k, "GET", "/", 1, NULL, 0, 0, NULL, &s.h),
      CPC_EINVAL);
  assert_int_equal(
      cpc_http_sign_request(&k, "get", "/", 1, NULL, 0, NOW, NULL, &s.h),
      CPC_EMALFORMED);
  assert_string_equal(s.h.signature, ""); /* nothing half-written */

  cpc_nonce_store_free(ns);
  cpc_privkey_wipe(&k);
  cpc_privkey_wipe(&other);
  cpc_privkey_wipe(&ed);
}

/* A store that fails: the server must refuse (unavailable), not let in. */
static int failing_check(cpc_nonce_store *s, const cpc_peer_id *p,
                         const char *n, size_t nl, int64_t e, int64_t now) {
  return CPC_EIO;
}
static void failing_destroy(cpc_nonce_store *s) {}
static const cpc_nonce_store_ops failing_ops = {failing_check, failing_destroy};

static void test_nonce_store(void **state) {
  (void)state;
  cpc_nonce_store *ns;
  cpc_peer_id a, b;
  cpc_privkey k;
  char nonce[32];

  assert_int_equal(cpc_privkey_generate(CPC_KEY_SECP256K1, &k), 0);
  assert_int_equal(cpc_peer_id_from_pubkey(&k.pub, &a), 0);
  assert_int_equal(cpc_privkey_generate(CPC_KEY_SECP256K1, &k), 0);
  assert_int_equal(cpc_peer_id_from_pubkey(&k.pub, &b), 0);
  cpc_privkey_wipe(&k);

  assert_int_equal(cpc_nonce_store_memory_new((size_t)1 << 27, &ns),
                   CPC_ETOOBIG);
  assert_int_equal(cpc_nonce_store_memory_new(4, &ns), 0);
  for (int i = 0; i < 4; i++) {
    snprintf(nonce, sizeof nonce, "nonce-%010d", i);
    assert_int_equal(
        cpc_nonce_store_check_and_insert(ns, &a, nonce, 16, NOW + 10 + i, NOW),
        0);
  }
  assert_int_equal(cpc_nonce_store_memory_count(ns), 4);
  /* full of live entries: refused, fail closed */
  assert_int_equal(cpc_nonce_store_check_and_insert(ns, &b, "nonce-0000000000",
                                                    16, NOW + 10, NOW),
                   CPC_ENOSPC);
  /* still replay-proof */
  assert_int_equal(cpc_nonce_store_check_and_insert(ns, &a, "nonce-0000000002",
                                                    16, NOW + 10, NOW + 5),
                   CPC_EEXIST);
  /* once the first two expire (NOW+10, NOW+11), room again */
  assert_int_equal(cpc_nonce_store_check_and_insert(ns, &b, "nonce-0000000000",
                                                    16, NOW + 20, NOW + 11),
                   0);
  assert_true(cpc_nonce_store_memory_count(ns) <= 4);
  /* an expired pair may be used again */
  assert_int_equal(cpc_nonce_store_check_and_insert(ns, &a, "nonce-0000000000",
                                                    16, NOW + 30, NOW + 12),
                   0);
  /* length matters: a prefix is another nonce */
  assert_int_equal(cpc_nonce_store_check_and_insert(ns, &a, "nonce-0000000000",
                                                    15, NOW + 30, NOW + 13),
                   0);
  /* three live pairs; expired ones may still be waiting for a sweep */
  assert_true(cpc_nonce_store_memory_count(ns) >= 3);
  assert_true(cpc_nonce_store_memory_count(ns) <= 4);
  cpc_nonce_store_free(ns);

  /* many entries, then all expire: the incremental sweep plus chain walks
   * keep the table usable */
  assert_int_equal(cpc_nonce_store_memory_new(1000, &ns), 0);
  for (int round = 0; round < 5; round++) {
    for (int i = 0; i < 1000; i++) {
      snprintf(nonce, sizeof nonce, "r%d-nonce-%010d", round, i);
      assert_int_equal(cpc_nonce_store_check_and_insert(
                           ns, &a, nonce, strlen(nonce), NOW + round * 100 + 50,
                           NOW + round * 100),
                       0);
    }
  }
  assert_true(cpc_nonce_store_memory_count(ns) <= 1000);
  cpc_nonce_store_free(ns);
  cpc_nonce_store_free(NULL);
  assert_int_equal(cpc_nonce_store_check_and_insert(NULL, &a, "x", 1, 0, 0),
                   CPC_EINVAL);

  /* a failing store refuses with "unavailable" */
  {
    cpc_nonce_store bad = {&failing_ops};
    cpc_privkey key;
    struct signed_req s = {.method = "GET", .target = "/x", .body = NULL};
    cpc_http_auth_error err;
    cpc_http_auth_input in;
    assert_int_equal(cpc_privkey_generate(CPC_KEY_SECP256K1, &key), 0);
    sign(&key, &s, NOW, NULL);
    in = input_of(&s);
    assert_int_equal(cpc_http_auth_verify(&in, NOW, 0, &bad, NULL, &err),
                     CPC_EIO);
    assert_string_equal(err.code, "unavailable");
    cpc_privkey_wipe(&key);
  }
}

/* Several threads inserting at once: every pair is accepted exactly once. */
struct race {
  cpc_nonce_store *ns;
  cpc_peer_id peer;
  int accepted;
};

static void *race_thread(void *arg) {
  struct race *r = arg;
  char nonce[32];
  for (int i = 0; i < 2000; i++) {
    snprintf(nonce, sizeof nonce, "race-nonce-%08d", i);
    if (cpc_nonce_store_check_and_insert(r->ns, &r->peer, nonce, strlen(nonce),
                                         NOW + 100, NOW) == 0)
      __atomic_add_fetch(&r->accepted, 1, __ATOMIC_RELAXED);
  }
  return NULL;
}

static void test_nonce_store_threads(void **state) {
  (void)state;
  struct race r;
  pthread_t t[4];
  cpc_privkey k;
  memset(&r, 0, sizeof r);
  assert_int_equal(cpc_privkey_generate(CPC_KEY_SECP256K1, &k), 0);
  assert_int_equal(cpc_peer_id_from_pubkey(&k.pub, &r.peer), 0);
  cpc_privkey_wipe(&k);
  assert_int_equal(cpc_nonce_store_memory_new(10000, &r.ns), 0);
  for (int i = 0; i < 4; i++)
    assert_int_equal(pthread_create(&t[i], NULL, race_thread, &r), 0);
  for (int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  assert_int_equal(r.accepted, 2000);
  assert_int_equal(cpc_nonce_store_memory_count(r.ns), 2000);
  cpc_nonce_store_free(r.ns);
}

/* --- a real server
 * --------------------------------------------------------------- */

/* Request-done events, in the order the callback saw them (requests on
 * different connections may complete in any order). */
#define MAX_EVENTS 256
struct done_event {
  char route[64];
  char method[16];
  unsigned status;
  double duration;
};

static struct {
  pthread_mutex_t mu;
  int calls;
  struct done_event ev[MAX_EVENTS];
} stats = {PTHREAD_MUTEX_INITIALIZER, 0, {{"", "", 0, 0}}};

static void on_done(void *ctx, const char *route, const char *method,
                    unsigned status, double duration) {
  (void)ctx;
  pthread_mutex_lock(&stats.mu);
  struct done_event *e = &stats.ev[stats.calls % MAX_EVENTS];
  snprintf(e->route, sizeof e->route, "%s", route ? route : "(null)");
  snprintf(e->method, sizeof e->method, "%s", method);
  e->status = status;
  e->duration = duration;
  stats.calls++;
  pthread_mutex_unlock(&stats.mu);
}

static int done_calls(void) {
  pthread_mutex_lock(&stats.mu);
  int c = stats.calls;
  pthread_mutex_unlock(&stats.mu);
  return c;
}

/* Wait (up to 5 s) for an event since event number `since` with this
 * route, method and status; fails the test if none comes. */
static void wait_event(int since, const char *route, const char *method,
                       unsigned status) {
  for (int tries = 0; tries < 500; tries++) {
    int found = 0;
    pthread_mutex_lock(&stats.mu);
    for (int i = since; i < stats.calls && !found; i++) {
      const struct done_event *e = &stats.ev[i % MAX_EVENTS];
      found = strcmp(e->route, route) == 0 && strcmp(e->method, method) == 0 &&
              e->status == status && e->duration >= 0 && e->duration < 5;
    }
    pthread_mutex_unlock(&stats.mu);
    if (found)
      return;
    usleep(10000);
  }
  fail_msg("no request-done event %s %s %u", method, route, status);
}

static int h_ping(cpc_http_request *req, void *ctx) {
  (void)ctx;
  return cpc_http_respond_json(req, 200, json_pack("{s:b}", "ok", 1));
}

static int h_follow(cpc_http_request *req, void *ctx) {
  const char *limit = cpc_http_request_query(req, "limit");
  cpc_http_response_header(req, "X-Test", "yes");
  return cpc_http_respond_json(
      req, 200,
      json_pack("{s:s,s:s,s:s?,s:s,s:s}", "peer_id",
                cpc_http_request_param(req, "peer_id"), "other",
                cpc_http_request_param(req, "other"), "limit", limit, "target",
                cpc_http_request_target(req), "route",
                cpc_http_request_route(req)));
}

static int h_json(cpc_http_request *req, void *ctx) {
  json_t *j;
  if (cpc_http_request_json(req, &j) != 0)
    return 0;
  json_object_set_new(j, "seen", json_true());
  return cpc_http_respond_json(req, 201, j);
}

static int h_echo(cpc_http_request *req, void *ctx) {
  const cpc_peer_id *caller = cpc_http_request_caller(req);
  char id[CPC_PEER_ID_MAX_TEXT] = "";
  size_t len;
  cpc_http_request_body(req, &len);
  if (caller)
    cpc_peer_id_format(caller, id, sizeof id);
  return cpc_http_respond_json(req, 200,
                               json_pack("{s:s,s:I}", "peer_id",
                                         caller ? id : "", "len",
                                         (json_int_t)len));
}

static int h_fail(cpc_http_request *req, void *ctx) {
  cpc_http_response_header(req, "X-Half", "1");
  return CPC_EIO; /* no answer */
}

static int h_text(cpc_http_request *req, void *ctx) {
  cpc_http_respond(req, 200, "text/plain; charset=utf-8", "hello\n", 6);
  /* a second answer is refused */
  assert_int_equal(cpc_http_respond_json(req, 500, json_object()), CPC_ESTATE);
  assert_int_equal(cpc_http_response_header(req, "X-Late", "1"), CPC_ESTATE);
  return 0;
}

struct fixture {
  cpc_http_router *router;
  cpc_http_server *srv;
  uint16_t port;
};

static int setup_server(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  cpc_http_config cfg;
  assert_non_null(f);
  assert_int_equal(cpc_http_router_new(&f->router), 0);
  assert_int_equal(cpc_http_router_add(f->router, "GET", "/v1/ping",
                                       CPC_HTTP_AUTH_NONE, h_ping, NULL),
                   0);
  assert_int_equal(cpc_http_router_add(f->router, "GET",
                                       "/v1/users/{peer_id}/following/{other}",
                                       CPC_HTTP_AUTH_NONE, h_follow, NULL),
                   0);
  assert_int_equal(cpc_http_router_add(f->router, "DELETE",
                                       "/v1/users/{peer_id}/following/{other}",
                                       CPC_HTTP_AUTH_REQUIRED, h_follow, NULL),
                   0);
  assert_int_equal(cpc_http_router_add(f->router, "POST", "/v1/json",
                                       CPC_HTTP_AUTH_NONE, h_json, NULL),
                   0);
  assert_int_equal(cpc_http_router_add(f->router, "POST", "/v1/echo",
                                       CPC_HTTP_AUTH_REQUIRED, h_echo, NULL),
                   0);
  assert_int_equal(cpc_http_router_add(f->router, "POST", "/v1/maybe",
                                       CPC_HTTP_AUTH_OPTIONAL, h_echo, NULL),
                   0);
  assert_int_equal(cpc_http_router_add(f->router, "GET", "/v1/fail",
                                       CPC_HTTP_AUTH_NONE, h_fail, NULL),
                   0);
  assert_int_equal(cpc_http_router_add(f->router, "GET", "/v1/text",
                                       CPC_HTTP_AUTH_NONE, h_text, NULL),
                   0);
  cpc_http_config_init(&cfg);
  cfg.threads = 2;
  cfg.max_body = 4096;
  cfg.on_request_done = on_done;
  cfg.on_request_done_ctx = NULL;
  assert_int_equal(cpc_http_server_start(&cfg, f->router, &f->srv), 0);
  f->port = cpc_http_server_port(f->srv);
  assert_true(f->port > 0);
  *state = f;
  return 0;
}

static int teardown_server(void **state) {
  struct fixture *f = *state;
  cpc_http_server_stop(f->srv);
  cpc_http_router_free(f->router);
  free(f);
  return 0;
}

/* The tiny blocking HTTP/1.1 client. */

static int client_connect(uint16_t port) {
  struct sockaddr_in a;
  struct timeval tv = {5, 0};
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  return fd;
}

static void send_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    assert_true(n > 0);
    p += n;
    len -= (size_t)n;
  }
}

struct response {
  int status;
  char headers[4096];
  char *body;
  size_t body_len;
  json_t *json;
};

/* A header value (case-insensitive name) copied into out, or 0. */
static int resp_header(const struct response *r, const char *name, char *out,
                       size_t cap) {
  size_t n = strlen(name);
  const char *p = r->headers;
  while ((p = strstr(p, "\r\n")) != NULL) {
    p += 2;
    if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
      const char *v = p + n + 1, *e;
      while (*v == ' ')
        v++;
      e = strstr(v, "\r\n");
      snprintf(out, cap, "%.*s", (int)(e - v), v);
      return 1;
    }
  }
  return 0;
}

/* Read one response (Content-Length framed; 0 if the peer closed first). */
static int read_response(int fd, struct response *r, char *carry,
                         size_t *carry_len) {
  char buf[65536];
  size_t have = *carry_len, hdr_end = 0;
  memcpy(buf, carry, have);
  memset(r, 0, sizeof *r);
  for (;;) {
    char *e;
    buf[have] = '\0';
    if ((e = strstr(buf, "\r\n\r\n")) != NULL) {
      hdr_end = (size_t)(e - buf) + 4;
      break;
    }
    ssize_t n = recv(fd, buf + have, sizeof buf - 1 - have, 0);
    if (n <= 0)
      return 0;
    have += (size_t)n;
  }
  assert_true(hdr_end < sizeof r->headers);
  memcpy(r->headers, buf, hdr_end);
  r->headers[hdr_end] = '\0';
  assert_int_equal(sscanf(buf, "HTTP/1.1 %d", &r->status), 1);
  char cl[32];
  assert_true(resp_header(r, "Content-Length", cl, sizeof cl));
  r->body_len = strtoul(cl, NULL, 10);
  while (have < hdr_end + r->body_len) {
    ssize_t n = recv(fd, buf + have, sizeof buf - 1 - have, 0);
    assert_true(n > 0);
    have += (size_t)n;
  }
  r->body = malloc(r->body_len + 1);
  memcpy(r->body, buf + hdr_end, r->body_len);
  r->body[r->body_len] = '\0';
  *carry_len = have - hdr_end - r->body_len;
  memcpy(carry, buf + hdr_end + r->body_len, *carry_len);
  r->json = json_loadb(r->body, r->body_len, 0, NULL);
  return 1;
}

static void response_free(struct response *r) {
  free(r->body);
  json_decref(r->json);
  memset(r, 0, sizeof *r);
}

/* One request on a fresh connection. */
static void request(uint16_t port, const char *raw, size_t raw_len,
                    struct response *r) {
  char carry[65536];
  size_t carry_len = 0;
  int fd = client_connect(port);
  send_all(fd, raw, raw_len);
  assert_int_equal(read_response(fd, r, carry, &carry_len), 1);
  close(fd);
}

static void request_str(uint16_t port, const char *raw, struct response *r) {
  request(port, raw, strlen(raw), r);
}

static const char *error_code(const struct response *r) {
  return json_string_value(
      json_object_get(json_object_get(r->json, "error"), "code"));
}

static void test_server_basic(void **state) {
  struct fixture *f = *state;
  struct response r;
  char v[256];

  int calls = done_calls();

  request_str(f->port, "GET /v1/ping HTTP/1.1\r\nHost: x\r\n\r\n", &r);
  assert_int_equal(r.status, 200);
  assert_true(resp_header(&r, "Content-Type", v, sizeof v));
  assert_string_equal(v, "application/json");
  assert_string_equal(r.body, "{\"ok\":true}");
  response_free(&r);
  wait_event(calls, "/v1/ping", "GET", 200);

  /* params and query, decoded; the target as sent */
  request_str(f->port,
              "GET /v1/users/a%20b/following/c?limit=5&x=%41 HTTP/1.1\r\n"
              "Host: x\r\n\r\n",
              &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(json_string_value(json_object_get(r.json, "peer_id")),
                      "a b");
  assert_string_equal(json_string_value(json_object_get(r.json, "other")), "c");
  assert_string_equal(json_string_value(json_object_get(r.json, "limit")), "5");
  assert_string_equal(json_string_value(json_object_get(r.json, "target")),
                      "/v1/users/a%20b/following/c?limit=5&x=%41");
  assert_string_equal(json_string_value(json_object_get(r.json, "route")),
                      "/v1/users/{peer_id}/following/{other}");
  assert_true(resp_header(&r, "X-Test", v, sizeof v));
  response_free(&r);

  /* 404 */
  request_str(f->port, "GET /v1/nope HTTP/1.1\r\nHost: x\r\n\r\n", &r);
  assert_int_equal(r.status, 404);
  assert_string_equal(error_code(&r), "not_found");
  assert_non_null(json_object_get(json_object_get(r.json, "error"), "message"));
  response_free(&r);
  wait_event(calls, "(null)", "GET", 404);

  /* 405 with Allow */
  request_str(f->port, "PUT /v1/ping HTTP/1.1\r\nHost: x\r\n\r\n", &r);
  assert_int_equal(r.status, 405);
  assert_string_equal(error_code(&r), "method_not_allowed");
  assert_true(resp_header(&r, "Allow", v, sizeof v));
  assert_string_equal(v, "GET, HEAD");
  response_free(&r);
  request_str(f->port,
              "BREW /v1/ping HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n"
              "abc",
              &r);
  assert_int_equal(r.status, 405);
  response_free(&r);
  wait_event(calls, "(null)", "OTHER", 405); /* label values stay bounded */
  wait_event(calls, "/v1/users/{peer_id}/following/{other}", "GET", 200);

  /* HEAD: headers of GET, no body */
  {
    const char *head =
        "HEAD /v1/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    int fd = client_connect(f->port);
    char buf[2048];
    size_t have = 0;
    send_all(fd, head, strlen(head));
    for (;;) {
      ssize_t n = recv(fd, buf + have, sizeof buf - 1 - have, 0);
      if (n <= 0)
        break;
      have += (size_t)n;
    }
    buf[have] = '\0';
    assert_int_equal(strncmp(buf, "HTTP/1.1 200", 12), 0);
    assert_non_null(strstr(buf, "\r\n\r\n"));
    assert_string_equal(strstr(buf, "\r\n\r\n"), "\r\n\r\n");
    close(fd);
  }

  /* bad query / path: 400 bad_request */
  request_str(f->port,
              "GET /v1/users/a/following/b?x=%zz HTTP/1.1\r\nHost: x\r\n\r\n",
              &r);
  assert_int_equal(r.status, 400);
  assert_string_equal(error_code(&r), "bad_request");
  response_free(&r);
  request_str(f->port,
              "GET /v1/users/a%00/following/b HTTP/1.1\r\nHost: x\r\n\r\n", &r);
  assert_int_equal(r.status, 400);
  assert_string_equal(error_code(&r), "bad_request");
  response_free(&r);

  /* a handler that does not answer: 500 internal, its headers dropped */
  request_str(f->port, "GET /v1/fail HTTP/1.1\r\nHost: x\r\n\r\n", &r);
  assert_int_equal(r.status, 500);
  assert_string_equal(error_code(&r), "internal");
  assert_false(resp_header(&r, "X-Half", v, sizeof v));
  response_free(&r);

  /* raw answers */
  request_str(f->port, "GET /v1/text HTTP/1.1\r\nHost: x\r\n\r\n", &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "hello\n");
  assert_true(resp_header(&r, "Content-Type", v, sizeof v));
  assert_string_equal(v, "text/plain; charset=utf-8");
  response_free(&r);
}

static void test_server_json_and_limits(void **state) {
  struct fixture *f = *state;
  struct response r;
  char req[16384];
  int n;

  /* a JSON body round trip */
  const char *body = "{\"name\":\"x\",\"n\":[1,2]}";
  n = snprintf(req, sizeof req,
               "POST /v1/json HTTP/1.1\r\nHost: x\r\nContent-Type: "
               "application/json\r\nContent-Length: %zu\r\n\r\n%s",
               strlen(body), body);
  request(f->port, req, (size_t)n, &r);
  assert_int_equal(r.status, 201);
  assert_true(json_is_true(json_object_get(r.json, "seen")));
  response_free(&r);

  /* malformed JSON: 400 malformed_json naming the problem */
  const char *bad[] = {"{\"a\":1,\"a\":2}", "{\"a\":", "[1]", "",
                       "{\"a\":1}garbage"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    n = snprintf(req, sizeof req,
                 "POST /v1/json HTTP/1.1\r\nHost: x\r\nContent-Length: "
                 "%zu\r\n\r\n%s",
                 strlen(bad[i]), bad[i]);
    request(f->port, req, (size_t)n, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(error_code(&r), "malformed_json");
    response_free(&r);
  }
  n = snprintf(req, sizeof req,
               "POST /v1/json HTTP/1.1\r\nHost: x\r\nContent-Length: "
               "%zu\r\n\r\n%s",
               strlen(bad[0]), bad[0]);
  request(f->port, req, (size_t)n, &r);
  assert_non_null(strstr(json_string_value(json_object_get(
                             json_object_get(r.json, "error"), "message")),
                         "duplicate"));
  response_free(&r);

  /* 413: Content-Length far over the cap (4096 here, so over 2 x 4096),
   * answered without reading the body */
  request_str(f->port,
              "POST /v1/json HTTP/1.1\r\nHost: x\r\nContent-Length: "
              "100000\r\n\r\n",
              &r);
  assert_int_equal(r.status, 413);
  assert_string_equal(error_code(&r), "too_large");
  response_free(&r);
  /* 413 just over the cap: the body is read and discarded first, so a
   * client still uploading gets its answer instead of a reset */
  {
    char *over = malloc(4097 + 256);
    size_t off = (size_t)snprintf(over, 4097 + 256,
                                  "POST /v1/json HTTP/1.1\r\nHost: x\r\n"
                                  "Content-Length: 4097\r\n\r\n");
    memset(over + off, 'x', 4097);
    request(f->port, over, off + 4097, &r);
    assert_int_equal(r.status, 413);
    assert_string_equal(error_code(&r), "too_large");
    response_free(&r);
    free(over);
  }
  /* exactly at the cap: read and parsed (a 4096-byte JSON object) */
  {
    char *big = malloc(4096 + 256);
    size_t off = (size_t)snprintf(big, 4096 + 256,
                                  "POST /v1/json HTTP/1.1\r\nHost: x\r\n"
                                  "Content-Length: 4096\r\n\r\n{\"s\":\"");
    memset(big + off, 'a', 4096 - 8);
    memcpy(big + off + 4096 - 8, "\"}", 2);
    request(f->port, big, off + 4096 - 6, &r);
    assert_int_equal(r.status, 201);
    response_free(&r);
    free(big);
  }
  /* the 413 closes nothing for later clients */
  request_str(f->port, "GET /v1/ping HTTP/1.1\r\nHost: x\r\n\r\n", &r);
  assert_int_equal(r.status, 200);
  response_free(&r);
}

static void test_server_chunked_too_large(void **state) {
  struct fixture *f = *state;
  struct response r;
  char carry[65536];
  size_t carry_len = 0;
  char chunk[1100];
  int fd = client_connect(f->port);

  send_all(fd,
           "POST /v1/json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
           "chunked\r\n\r\n",
           strlen("POST /v1/json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                  "chunked\r\n\r\n"));
  memset(chunk, 'a', sizeof chunk);
  for (int i = 0; i < 5; i++) { /* 5000 bytes, over 4096 */
    send_all(fd, "3e8\r\n", 5);
    send_all(fd, chunk, 1000);
    send_all(fd, "\r\n", 2);
  }
  send_all(fd, "0\r\n\r\n", 5);
  assert_int_equal(read_response(fd, &r, carry, &carry_len), 1);
  assert_int_equal(r.status, 413);
  assert_string_equal(error_code(&r), "too_large");
  response_free(&r);
  close(fd);

  /* going on to twice the cap: the connection is closed */
  fd = client_connect(f->port);
  send_all(fd,
           "POST /v1/json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
           "chunked\r\n\r\n",
           strlen("POST /v1/json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                  "chunked\r\n\r\n"));
  int closed = 0;
  for (int i = 0; i < 20 && !closed; i++) {
    if (send(fd, "3e8\r\n", 5, MSG_NOSIGNAL) < 0 ||
        send(fd, chunk, 1000, MSG_NOSIGNAL) < 0 ||
        send(fd, "\r\n", 2, MSG_NOSIGNAL) < 0)
      closed = 1;
    usleep(2000);
  }
  if (!closed) {
    char b[256];
    ssize_t n = recv(fd, b, sizeof b, 0);
    closed = n <= 0;
  }
  assert_true(closed);
  close(fd);
}

static void test_server_keep_alive(void **state) {
  struct fixture *f = *state;
  struct response r;
  char carry[65536];
  size_t carry_len = 0;
  int fd = client_connect(f->port);

  /* three requests, the last two pipelined in one write */
  const char *one = "GET /v1/ping HTTP/1.1\r\nHost: x\r\n\r\n";
  send_all(fd, one, strlen(one));
  assert_int_equal(read_response(fd, &r, carry, &carry_len), 1);
  assert_int_equal(r.status, 200);
  response_free(&r);
  const char *two = "POST /v1/json HTTP/1.1\r\nHost: x\r\nContent-Length: "
                    "7\r\n\r\n{\"a\":1}"
                    "GET /v1/nope HTTP/1.1\r\nHost: x\r\n\r\n";
  send_all(fd, two, strlen(two));
  assert_int_equal(read_response(fd, &r, carry, &carry_len), 1);
  assert_int_equal(r.status, 201);
  response_free(&r);
  assert_int_equal(read_response(fd, &r, carry, &carry_len), 1);
  assert_int_equal(r.status, 404);
  response_free(&r);
  /* a 400 malformed_json keeps the connection too (its body was read) */
  const char *bad = "POST /v1/json HTTP/1.1\r\nHost: x\r\nContent-Length: "
                    "1\r\n\r\n{";
  send_all(fd, bad, strlen(bad));
  assert_int_equal(read_response(fd, &r, carry, &carry_len), 1);
  assert_int_equal(r.status, 400);
  response_free(&r);
  send_all(fd, one, strlen(one));
  assert_int_equal(read_response(fd, &r, carry, &carry_len), 1);
  assert_int_equal(r.status, 200);
  response_free(&r);
  close(fd);
}

static void test_server_auth(void **state) {
  struct fixture *f = *state;
  struct response r;
  cpc_privkey k;
  cpc_http_signed_headers h;
  char req[4096], expect_id[CPC_PEER_ID_MAX_TEXT], v[128];
  const char *body = "{\"hello\":\"world\"}";
  cpc_peer_id id;
  int n;

  assert_int_equal(cpc_privkey_generate(CPC_KEY_SECP256K1, &k), 0);
  assert_int_equal(cpc_peer_id_from_pubkey(&k.pub, &id), 0);
  assert_int_equal(cpc_peer_id_format(&id, expect_id, sizeof expect_id), 0);

  assert_int_equal(cpc_http_sign_request(&k, "POST", "/v1/echo?v=1", 12, body,
                                         strlen(body), (int64_t)time(NULL),
                                         NULL, &h),
                   0);
#define SIGNED_FMT                                                             \
  "%s %s HTTP/1.1\r\nHost: x\r\nX-CPC-Peer-Id: %s\r\nX-CPC-Timestamp: "        \
  "%s\r\nX-CPC-Nonce: %s\r\nX-CPC-Signature: %s\r\nContent-Length: "           \
  "%zu\r\n\r\n%s"
  n = snprintf(req, sizeof req, SIGNED_FMT, "POST", "/v1/echo?v=1", h.peer_id,
               h.timestamp, h.nonce, h.signature, strlen(body), body);
  request(f->port, req, (size_t)n, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(json_string_value(json_object_get(r.json, "peer_id")),
                      expect_id);
  assert_int_equal(json_integer_value(json_object_get(r.json, "len")),
                   (json_int_t)strlen(body));
  response_free(&r);

  /* the same request again: replayed */
  request(f->port, req, (size_t)n, &r);
  assert_int_equal(r.status, 401);
  assert_string_equal(error_code(&r), "replayed");
  assert_true(resp_header(&r, "WWW-Authenticate", v, sizeof v));
  response_free(&r);

  /* tampered body (same length) */
  assert_int_equal(cpc_http_sign_request(&k, "POST", "/v1/echo", 8, body,
                                         strlen(body), (int64_t)time(NULL),
                                         NULL, &h),
                   0);
  n = snprintf(req, sizeof req, SIGNED_FMT, "POST", "/v1/echo", h.peer_id,
               h.timestamp, h.nonce, h.signature, strlen(body),
               "{\"hello\":\"World\"}");
  request(f->port, req, (size_t)n, &r);
  assert_int_equal(r.status, 401);
  assert_string_equal(error_code(&r), "unauthorized");
  response_free(&r);
  /* tampered path: signed for /v1/echo, sent to /v1/echo?x */
  n = snprintf(req, sizeof req, SIGNED_FMT, "POST", "/v1/echo?x", h.peer_id,
               h.timestamp, h.nonce, h.signature, strlen(body), body);
  request(f->port, req, (size_t)n, &r);
  assert_int_equal(r.status, 401);
  response_free(&r);
  /* and the untampered one still passes: failures consumed no nonce */
  n = snprintf(req, sizeof req, SIGNED_FMT, "POST", "/v1/echo", h.peer_id,
               h.timestamp, h.nonce, h.signature, strlen(body), body);
  request(f->port, req, (size_t)n, &r);
  assert_int_equal(r.status, 200);
  response_free(&r);

  /* stale */
  assert_int_equal(cpc_http_sign_request(&k, "POST", "/v1/echo", 8, body,
                                         strlen(body),
                                         (int64_t)time(NULL) - 3600, NULL, &h),
                   0);
  n = snprintf(req, sizeof req, SIGNED_FMT, "POST", "/v1/echo", h.peer_id,
               h.timestamp, h.nonce, h.signature, strlen(body), body);
  request(f->port, req, (size_t)n, &r);
  assert_int_equal(r.status, 401);
  assert_string_equal(error_code(&r), "stale");
  response_free(&r);

  /* unsigned */
  n = snprintf(req, sizeof req,
               "POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: "
               "%zu\r\n\r\n%s",
               strlen(body), body);
  request(f->port, req, (size_t)n, &r);
  assert_int_equal(r.status, 401);
  assert_string_equal(error_code(&r), "unauthorized");
  response_free(&r);

  /* optional: anonymous without a signature, verified with one */
  n = snprintf(req, sizeof req,
               "POST /v1/maybe HTTP/1.1\r\nHost: x\r\nContent-Length: "
               "%zu\r\n\r\n%s",
               strlen(body), body);
  request(f->port, req, (size_t)n, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(json_string_value(json_object_get(r.json, "peer_id")),
                      "");
  response_free(&r);
  assert_int_equal(cpc_http_sign_request(&k, "POST", "/v1/maybe", 9, body,
                                         strlen(body), (int64_t)time(NULL),
                                         NULL, &h),
                   0);
  n = snprintf(req, sizeof req, SIGNED_FMT, "POST", "/v1/maybe", h.peer_id,
               h.timestamp, h.nonce, h.signature, strlen(body), body);
  request(f->port, req, (size_t)n, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(json_string_value(json_object_get(r.json, "peer_id")),
                      expect_id);
  response_free(&r);
  request(f->port, req, (size_t)n, &r); /* replay on an optional route */
  assert_int_equal(r.status, 401);
  assert_string_equal(error_code(&r), "replayed");
  response_free(&r);

  /* DELETE with no body, path parameters and auth */
  assert_int_equal(cpc_http_sign_request(&k, "DELETE",
                                         "/v1/users/me/following/you", 26, NULL,
                                         0, (int64_t)time(NULL), NULL, &h),
                   0);
  n = snprintf(req, sizeof req, SIGNED_FMT, "DELETE",
               "/v1/users/me/following/you", h.peer_id, h.timestamp, h.nonce,
               h.signature, (size_t)0, "");
  request(f->port, req, (size_t)n, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(json_string_value(json_object_get(r.json, "other")),
                      "you");
  response_free(&r);
#undef SIGNED_FMT
  cpc_privkey_wipe(&k);
}

static int h_noop(cpc_http_request *req, void *ctx) {
  return cpc_http_respond_json(req, 200, json_object());
}

static void test_server_config(void **state) {
  (void)state;
  cpc_http_router *r;
  cpc_http_server *srv, *srv2;
  cpc_http_config cfg;
  struct response resp;

  assert_int_equal(cpc_http_router_new(&r), 0);
  assert_int_equal(cpc_http_router_add(r, "GET", "/", 0, h_noop, NULL), 0);
  cpc_http_config_init(&cfg);
  const char *bad[] = {
      "nonsense",        "127.0.0.1",    "127.0.0.1:", "127.0.0.1:x",
      "127.0.0.1:65536", "localhost:80", "[::1]",      "::1:80",
      "[::1]80",         ":80",          "[]:80",      "127.0.0.1:-1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cfg.listen = bad[i];
    if (cpc_http_server_start(&cfg, r, &srv) != CPC_EINVAL)
      fail_msg("listen \"%s\" accepted", bad[i]);
  }
  cfg.listen = "127.0.0.1:0";
  cfg.threads = 1; /* a single polling thread works too */
  assert_int_equal(cpc_http_server_start(&cfg, r, &srv), 0);
  /* the same port again: EIO (EADDRINUSE) */
  char addr[32];
  snprintf(addr, sizeof addr, "127.0.0.1:%u", cpc_http_server_port(srv));
  cfg.listen = addr;
  assert_int_equal(cpc_http_server_start(&cfg, r, &srv2), CPC_EIO);
  request_str(cpc_http_server_port(srv), "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
              &resp);
  assert_int_equal(resp.status, 200);
  response_free(&resp);
  cpc_http_server_stop(srv);
  cpc_http_server_stop(NULL);

  /* IPv6 loopback, where the machine has it */
  cfg.listen = "[::1]:0";
  int rc = cpc_http_server_start(&cfg, r, &srv);
  if (rc == 0) {
    assert_true(cpc_http_server_port(srv) > 0);
    cpc_http_server_stop(srv);
  } else {
    assert_int_equal(rc, CPC_EIO);
  }
  cfg.listen = "127.0.0.1:0";
  cfg.threads = 0;
  assert_int_equal(cpc_http_server_start(&cfg, r, &srv), CPC_EINVAL);
  cpc_http_router_free(r);
}

/* A request's header section over max_header_bytes is refused by
 * libmicrohttpd itself (not JSON), and the server survives it. */
static void test_server_header_cap(void **state) {
  struct fixture *f = *state;
  struct response r;
  size_t big = 40000;
  char *req = malloc(big + 128);
  int fd;
  size_t n = (size_t)snprintf(req, 128, "GET /v1/ping HTTP/1.1\r\nX-Big: ");
  memset(req + n, 'a', big);
  n += big;
  memcpy(req + n, "\r\n\r\n", 4);
  n += 4;
  fd = client_connect(f->port);
  (void)send(fd, req, n, MSG_NOSIGNAL);
  {
    char buf[1024];
    ssize_t got = recv(fd, buf, sizeof buf - 1, 0);
    if (got > 0) {
      buf[got] = '\0';
      int st = 0;
      sscanf(buf, "HTTP/1.1 %d", &st);
      assert_true(st == 431 || st == 413 || st == 400);
    }
  }
  close(fd);
  free(req);
  request_str(f->port, "GET /v1/ping HTTP/1.1\r\nHost: x\r\n\r\n", &r);
  assert_int_equal(r.status, 200);
  response_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_router_match),
      cmocka_unit_test(test_router_add_errors),
      cmocka_unit_test(test_query),
      cmocka_unit_test(test_json_body),
      cmocka_unit_test(test_auth_message),
      cmocka_unit_test(test_auth_verify),
      cmocka_unit_test(test_nonce_store),
      cmocka_unit_test(test_nonce_store_threads),
      cmocka_unit_test(test_server_config),
      cmocka_unit_test_setup_teardown(test_server_basic, setup_server,
                                      teardown_server),
      cmocka_unit_test_setup_teardown(test_server_json_and_limits, setup_server,
                                      teardown_server),
      cmocka_unit_test_setup_teardown(test_server_chunked_too_large,
                                      setup_server, teardown_server),
      cmocka_unit_test_setup_teardown(test_server_keep_alive, setup_server,
                                      teardown_server),
      cmocka_unit_test_setup_teardown(test_server_auth, setup_server,
                                      teardown_server),
      cmocka_unit_test_setup_teardown(test_server_header_cap, setup_server,
                                      teardown_server),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
