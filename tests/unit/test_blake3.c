/*
 * test_blake3.c: BLAKE3 against the official test vectors
 * (tests/data/blake3/test_vectors.json), on every back end this CPU has:
 * all three modes, the full extended output, seeks into it, incremental
 * updates split at awkward sizes; and the tree-parallel update against the
 * serial one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "cpc/blake3.h"
#include "cpc/error.h"

#define MAX_XOF 131

struct vector {
  size_t input_len;
  uint8_t hash[MAX_XOF];
  uint8_t keyed[MAX_XOF];
  uint8_t derive[MAX_XOF];
};

static struct vector *vectors;
static size_t nvectors;
static uint8_t vec_key[CPC_BLAKE3_KEY_LEN];
static char vec_context[128];

static const enum cpc_blake3_backend all_backends[] = {
    CPC_BLAKE3_PORTABLE, CPC_BLAKE3_SSE41, CPC_BLAKE3_AVX2, CPC_BLAKE3_AVX512};

static int unhex(const char *hex, uint8_t *out, size_t n) {
  if (strlen(hex) != 2 * n)
    return -1;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1)
      return -1;
    out[i] = (uint8_t)v;
  }
  return 0;
}

static int load_vectors(void **state) {
  (void)state;
  const char *dir = getenv("CPC_TESTDATA");
  char path[1024];
  json_error_t err;
  snprintf(path, sizeof path, "%s/blake3/test_vectors.json",
           dir ? dir : "tests/data");
  json_t *root = json_load_file(path, 0, &err);
  if (root == NULL) {
    fprintf(stderr, "cannot load %s: %s (line %d)\n", path, err.text, err.line);
    return -1;
  }
  const char *key, *context;
  json_t *cases;
  if (json_unpack_ex(root, &err, 0, "{s:s, s:s, s:o}", "key", &key,
                     "context_string", &context, "cases", &cases) != 0 ||
      strlen(key) != CPC_BLAKE3_KEY_LEN ||
      strlen(context) >= sizeof vec_context)
    goto bad;
  memcpy(vec_key, key, CPC_BLAKE3_KEY_LEN);
  strcpy(vec_context, context);
  nvectors = json_array_size(cases);
  vectors = calloc(nvectors, sizeof *vectors);
  if (vectors == NULL)
    goto bad;
  for (size_t i = 0; i < nvectors; i++) {
    json_int_t len;
    const char *h, *k, *d;
    if (json_unpack_ex(json_array_get(cases, i), &err, 0,
                       "{s:I, s:s, s:s, s:s}", "input_len", &len, "hash", &h,
                       "keyed_hash", &k, "derive_key", &d) != 0 ||
        len < 0 || unhex(h, vectors[i].hash, MAX_XOF) != 0 ||
        unhex(k, vectors[i].keyed, MAX_XOF) != 0 ||
        unhex(d, vectors[i].derive, MAX_XOF) != 0)
      goto bad;
    vectors[i].input_len = (size_t)len;
  }
  json_decref(root);
  return nvectors > 30 ? 0 : -1;
bad:
  fprintf(stderr, "malformed %s\n", path);
  json_decref(root);
  return -1;
}

static int free_vectors(void **state) {
  (void)state;
  free(vectors);
  cpc_blake3_set_backend(CPC_BLAKE3_AUTO);
  return 0;
}

static uint8_t *pattern(size_t len) {
  uint8_t *p = malloc(len ? len : 1);
  assert_non_null(p);
  for (size_t i = 0; i < len; i++)
    p[i] = (uint8_t)(i % 251);
  return p;
}

enum mode { MODE_HASH, MODE_KEYED, MODE_DERIVE };

static void init_mode(cpc_blake3_hasher *h, enum mode m) {
  if (m == MODE_HASH)
    cpc_blake3_hasher_init(h);
  else if (m == MODE_KEYED)
    cpc_blake3_hasher_init_keyed(h, vec_key);
  else
    cpc_blake3_hasher_init_derive_key(h, vec_context);
}

static const uint8_t *expected(const struct vector *v, enum mode m) {
  return m == MODE_HASH ? v->hash : m == MODE_KEYED ? v->keyed : v->derive;
}

/* Feed input in pieces whose sizes cycle through awkward values. */
static void update_split(cpc_blake3_hasher *h, const uint8_t *in, size_t len,
                         size_t phase) {
  static const size_t sizes[] = {1, 63,   64,  65,   1023, 1024, 1025,
                                 7, 3000, 128, 4096, 2047, 0,    8193};
  size_t off = 0;
  for (size_t i = phase; off < len; i++) {
    size_t n = sizes[i % (sizeof sizes / sizeof sizes[0])];
    if (n > len - off)
      n = len - off;
    cpc_blake3_hasher_update(h, in + off, n);
    off += n;
  }
}

static void check_vectors_on_backend(enum cpc_blake3_backend b) {
  assert_int_equal(cpc_blake3_set_backend(b), 0);
  assert_int_equal(cpc_blake3_backend(), b);
  for (size_t i = 0; i < nvectors; i++) {
    const struct vector *v = &vectors[i];
    uint8_t *in = pattern(v->input_len);
    for (enum mode m = MODE_HASH; m <= MODE_DERIVE; m++) {
      const uint8_t *want = expected(v, m);
      uint8_t out[MAX_XOF];
      cpc_blake3_hasher h;

      /* One update, full extended output. */
      init_mode(&h, m);
      cpc_blake3_hasher_update(&h, in, v->input_len);
      cpc_blake3_hasher_finalize(&h, out, MAX_XOF);
      assert_memory_equal(out, want, MAX_XOF);
      /* Default length is a prefix; finalize leaves the hasher usable. */
      cpc_blake3_hasher_finalize(&h, out, CPC_BLAKE3_OUT_LEN);
      assert_memory_equal(out, want, CPC_BLAKE3_OUT_LEN);

      /* Seeks into the XOF stream. */
      static const size_t seeks[] = {1, 31, 32, 63, 64, 65, 100, 127, 130};
      for (size_t s = 0; s < sizeof seeks / sizeof seeks[0]; s++) {
        size_t n = MAX_XOF - seeks[s];
        memset(out, 0, sizeof out);
        cpc_blake3_hasher_finalize_seek(&h, seeks[s], out, n);
        assert_memory_equal(out, want + seeks[s], n);
      }

      /* Incremental updates at awkward split points, two phases. */
      for (size_t phase = 0; phase < 2; phase++) {
        init_mode(&h, m);
        update_split(&h, in, v->input_len, phase * 5);
        cpc_blake3_hasher_finalize(&h, out, MAX_XOF);
        assert_memory_equal(out, want, MAX_XOF);
      }

      /* Reset keeps the mode. */
      cpc_blake3_hasher_update(&h, "junk", 4);
      cpc_blake3_hasher_reset(&h);
      cpc_blake3_hasher_update(&h, in, v->input_len);
      cpc_blake3_hasher_finalize(&h, out, MAX_XOF);
      assert_memory_equal(out, want, MAX_XOF);
    }
    uint8_t one[CPC_BLAKE3_OUT_LEN];
    cpc_blake3(in, v->input_len, one);
    assert_memory_equal(one, v->hash, CPC_BLAKE3_OUT_LEN);
    free(in);
  }
}

static void test_vectors_all_backends(void **state) {
  (void)state;
  int ran = 0;
  for (size_t b = 0; b < sizeof all_backends / sizeof all_backends[0]; b++) {
    if (!cpc_blake3_backend_supported(all_backends[b])) {
      print_message("blake3: back end %s not supported here, skipped\n",
                    cpc_blake3_backend_name(all_backends[b]));
      continue;
    }
    check_vectors_on_backend(all_backends[b]);
    ran++;
  }
  assert_true(ran >= 1);
}

/* Larger inputs than the vectors cover: every back end agrees. */
static void test_backends_agree_large(void **state) {
  (void)state;
  static const size_t lens[] = {(1u << 20) - 1, (1u << 20) + 1,
                                (3u << 20) + 12345, 263 * 1024, 257 * 1024};
  for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
    uint8_t *in = pattern(lens[l]);
    uint8_t ref[200], out[200];
    int have_ref = 0;
    for (size_t b = 0; b < sizeof all_backends / sizeof all_backends[0]; b++) {
      if (!cpc_blake3_backend_supported(all_backends[b]))
        continue;
      assert_int_equal(cpc_blake3_set_backend(all_backends[b]), 0);
      cpc_blake3_hasher h;
      cpc_blake3_hasher_init_keyed(&h, vec_key);
      update_split(&h, in, 5000, 3);
      cpc_blake3_hasher_update(&h, in + 5000, lens[l] - 5000);
      cpc_blake3_hasher_finalize_seek(&h, 7, out, sizeof out);
      if (!have_ref)
        memcpy(ref, out, sizeof ref);
      have_ref = 1;
      assert_memory_equal(out, ref, sizeof ref);
    }
    free(in);
  }
  cpc_blake3_set_backend(CPC_BLAKE3_AUTO);
}

/* Every group remainder of every back end: 1..70 chunks plus a byte,
 * whole and fed at an unaligned offset, against the portable code. */
static void test_backends_agree_remainders(void **state) {
  (void)state;
  size_t max = 70 * 1024 + 1;
  uint8_t *in = pattern(max);
  for (size_t chunks = 1; chunks <= 70; chunks++) {
    size_t len = chunks * 1024 + 1;
    uint8_t ref[32], out[32];
    cpc_blake3_hasher h;
    assert_int_equal(cpc_blake3_set_backend(CPC_BLAKE3_PORTABLE), 0);
    cpc_blake3(in, len, ref);
    for (size_t b = 0; b < sizeof all_backends / sizeof all_backends[0]; b++) {
      if (!cpc_blake3_backend_supported(all_backends[b]))
        continue;
      assert_int_equal(cpc_blake3_set_backend(all_backends[b]), 0);
      cpc_blake3(in, len, out);
      assert_memory_equal(out, ref, 32);
      size_t cut = len > 3 * 1024 + 5 ? 3 * 1024 + 5 : len / 2;
      cpc_blake3_hasher_init(&h);
      cpc_blake3_hasher_update(&h, in, cut);
      cpc_blake3_hasher_update(&h, in + cut, len - cut);
      cpc_blake3_hasher_finalize(&h, out, 32);
      assert_memory_equal(out, ref, 32);
    }
  }
  free(in);
  cpc_blake3_set_backend(CPC_BLAKE3_AUTO);
}

static void test_parallel_matches_serial(void **state) {
  (void)state;
  size_t len = (9u << 20) + 333;
  uint8_t *in = pattern(len);
  static const size_t prefixes[] = {0, 1000, 300000};
  assert_int_equal(cpc_blake3_set_backend(CPC_BLAKE3_AUTO), 0);
  for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++) {
    uint8_t want[64], got[64];
    cpc_blake3_hasher h;
    cpc_blake3_hasher_init(&h);
    cpc_blake3_hasher_update(&h, in, len);
    cpc_blake3_hasher_finalize(&h, want, sizeof want);
    for (unsigned t = 1; t <= 4; t++) {
      cpc_blake3_hasher_init(&h);
      cpc_blake3_hasher_update(&h, in, prefixes[p]);
      /* Two parallel calls, the split not on any boundary. */
      size_t mid = prefixes[p] + (len - prefixes[p]) / 2 + 17;
      assert_int_equal(cpc_blake3_hasher_update_parallel(&h, in + prefixes[p],
                                                         mid - prefixes[p], t),
                       0);
      assert_int_equal(
          cpc_blake3_hasher_update_parallel(&h, in + mid, len - mid, t), 0);
      cpc_blake3_hasher_finalize(&h, got, sizeof got);
      assert_memory_equal(got, want, sizeof want);
    }
  }
  /* Keyed mode, all CPUs, one call. */
  uint8_t want[32], got[32];
  cpc_blake3_hasher h;
  cpc_blake3_hasher_init_keyed(&h, vec_key);
  cpc_blake3_hasher_update(&h, in, len);
  cpc_blake3_hasher_finalize(&h, want, sizeof want);
  cpc_blake3_hasher_init_keyed(&h, vec_key);
  assert_int_equal(cpc_blake3_hasher_update_parallel(&h, in, len, 0), 0);
  cpc_blake3_hasher_finalize(&h, got, sizeof got);
  assert_memory_equal(got, want, sizeof want);
  free(in);
}

/* Hashing from a file descriptor equals hashing the bytes. */
static void test_update_fd(void **state) {
  (void)state;
  size_t len = (5u << 20) + 4321;
  uint8_t *in = pattern(len);
  char path[] = "/tmp/cpc-test-blake3-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  unlink(path);
  assert_int_equal(write(fd, in, len), (ssize_t)len);

  static const size_t starts[] = {0, 1, 1024, 777777};
  static const size_t prefixes[] = {0, 5, 2048};
  for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
    for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++) {
      uint8_t want[40], got[40];
      cpc_blake3_hasher h;
      cpc_blake3_hasher_init_keyed(&h, vec_key);
      cpc_blake3_hasher_update(&h, in, prefixes[p]);
      cpc_blake3_hasher_update(&h, in + starts[s], len - starts[s]);
      cpc_blake3_hasher_finalize(&h, want, sizeof want);
      for (unsigned t = 1; t <= 4; t++) {
        cpc_blake3_hasher_init_keyed(&h, vec_key);
        cpc_blake3_hasher_update(&h, in, prefixes[p]);
        assert_int_equal(
            cpc_blake3_hasher_update_fd(&h, fd, starts[s], len - starts[s], t),
            0);
        cpc_blake3_hasher_finalize(&h, got, sizeof got);
        assert_memory_equal(got, want, sizeof want);
      }
    }
  }
  /* Small and empty ranges. */
  for (size_t n = 0; n < 3000; n += 997) {
    uint8_t want[32], got[32];
    cpc_blake3_hasher h;
    cpc_blake3(in + 10, n, want);
    cpc_blake3_hasher_init(&h);
    assert_int_equal(cpc_blake3_hasher_update_fd(&h, fd, 10, n, 2), 0);
    cpc_blake3_hasher_finalize(&h, got, sizeof got);
    assert_memory_equal(got, want, sizeof want);
  }
  /* A file shorter than promised: CPC_EIO and h unchanged. */
  cpc_blake3_hasher h, before;
  cpc_blake3_hasher_init(&h);
  cpc_blake3_hasher_update(&h, in, 100);
  before = h;
  assert_int_equal(cpc_blake3_hasher_update_fd(&h, fd, 0, len + 1, 2), CPC_EIO);
  assert_memory_equal(&h, &before, sizeof h);
  assert_int_equal(cpc_blake3_hasher_update_fd(&h, -1, 0, 4096, 1), CPC_EIO);
  assert_memory_equal(&h, &before, sizeof h);
  close(fd);
  free(in);
}

static void test_backend_selection(void **state) {
  (void)state;
  assert_int_equal(cpc_blake3_set_backend((enum cpc_blake3_backend)99),
                   CPC_EUNSUPPORTED);
  assert_true(cpc_blake3_backend_supported(CPC_BLAKE3_PORTABLE));
  assert_int_equal(cpc_blake3_set_backend(CPC_BLAKE3_PORTABLE), 0);
  assert_int_equal(cpc_blake3_backend(), CPC_BLAKE3_PORTABLE);
  assert_int_equal(cpc_blake3_set_backend(CPC_BLAKE3_AUTO), 0);
  assert_int_not_equal(cpc_blake3_backend(), CPC_BLAKE3_AUTO);
  assert_string_equal(cpc_blake3_backend_name(CPC_BLAKE3_SSE41), "sse4.1");
  assert_string_equal(cpc_blake3_backend_name(CPC_BLAKE3_AVX512), "avx512");
  assert_string_equal(cpc_blake3_backend_name(CPC_BLAKE3_AUTO), "auto");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors_all_backends),
      cmocka_unit_test(test_backends_agree_large),
      cmocka_unit_test(test_backends_agree_remainders),
      cmocka_unit_test(test_parallel_matches_serial),
      cmocka_unit_test(test_update_fd),
      cmocka_unit_test(test_backend_selection),
  };
  return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
