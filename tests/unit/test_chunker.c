/* test_chunker.c: fixed and content-defined cut points. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "cpc/blake3.h"
#include "cpc/chunker.h"
#include "cpc/error.h"

static void test_params(void **state) {
  (void)state;
  cpc_chunker_params p;
  assert_int_equal(cpc_chunker_params_init(&p, CPC_CHUNKER_FIXED, 0), 0);
  assert_int_equal(p.avg_size, 256 * 1024);
  assert_int_equal(p.min_size, p.avg_size);
  assert_int_equal(cpc_chunker_params_init(&p, CPC_CHUNKER_CDC, 0), 0);
  assert_int_equal(p.min_size, 64 * 1024);
  assert_int_equal(p.max_size, 1024 * 1024);
  assert_int_equal(cpc_chunker_params_check(&p), 0);
  assert_int_equal(cpc_chunker_params_init(&p, CPC_CHUNKER_CDC, 1u << 20), 0);
  assert_int_equal(p.max_size, CPC_CHUNK_MAX); /* capped, never 4 MiB */
  assert_int_equal(cpc_chunker_params_init(&p, CPC_CHUNKER_FIXED, 100000), 0);
  assert_int_equal(cpc_chunker_params_init(&p, CPC_CHUNKER_CDC, 100000), CPC_EINVAL);
  assert_int_equal(cpc_chunker_params_init(&p, CPC_CHUNKER_FIXED, 1023), CPC_EINVAL);
  assert_int_equal(cpc_chunker_params_init(&p, CPC_CHUNKER_FIXED, (1u << 20) + 1),
                   CPC_EINVAL);
  assert_int_equal(cpc_chunker_params_init(&p, (enum cpc_chunker_kind)7, 4096),
                   CPC_EINVAL);
  cpc_chunker_params bad = {CPC_CHUNKER_CDC, 1024, 4096, 1 << 21};
  assert_int_equal(cpc_chunker_params_check(&bad), CPC_EINVAL);
}

static void test_fixed(void **state) {
  (void)state;
  cpc_chunker_params p;
  static uint8_t data[10000];
  size_t cut = 99;
  assert_int_equal(cpc_chunker_params_init(&p, CPC_CHUNKER_FIXED, 4096), 0);
  assert_int_equal(cpc_chunker_next(&p, data, 0, 1, &cut), 0);
  assert_int_equal(cut, 0);
  assert_int_equal(cpc_chunker_next(&p, data, 4095, 0, &cut), 0);
  assert_int_equal(cut, 0);
  assert_int_equal(cpc_chunker_next(&p, data, 4095, 1, &cut), 0);
  assert_int_equal(cut, 4095);
  assert_int_equal(cpc_chunker_next(&p, data, 4096, 0, &cut), 0);
  assert_int_equal(cut, 4096);
  assert_int_equal(cpc_chunker_next(&p, data, 10000, 1, &cut), 0);
  assert_int_equal(cut, 4096);
  assert_int_equal(cpc_chunker_next(&p, data, 1, 1, &cut), 0);
  assert_int_equal(cut, 1);
}

/* Cut data[0..len) completely; chunk digests into out (cap entries). */
static size_t chunk_all(const cpc_chunker_params *p, const uint8_t *data,
                        size_t len, uint8_t (*out)[32], size_t cap) {
  size_t n = 0, off = 0, cut = 0;
  while (off < len) {
    assert_int_equal(cpc_chunker_next(p, data + off, len - off, 1, &cut), 0);
    assert_true(cut > 0 && cut <= p->max_size);
    if (off + cut < len)
      assert_true(cut >= p->min_size);
    assert_true(n < cap);
    cpc_blake3(data + off, cut, out[n++]);
    off += cut;
  }
  return n;
}

static int digest_cmp(const void *a, const void *b) { return memcmp(a, b, 32); }

static void test_cdc_sizes_and_partial(void **state) {
  (void)state;
  cpc_chunker_params p;
  size_t len = 8u << 20, off = 0, n = 0, cut = 0, partial = 0;
  uint8_t *data = malloc(len);
  assert_non_null(data);
  randombytes_buf(data, len);
  assert_int_equal(cpc_chunker_params_init(&p, CPC_CHUNKER_CDC, 64 * 1024), 0);
  while (off < len) {
    assert_int_equal(cpc_chunker_next(&p, data + off, len - off, 1, &cut), 0);
    /* With less data and no eof, the answer is "need more" or the same cut. */
    size_t have = cut / 2 + p.min_size;
    if (have < len - off) {
      assert_int_equal(cpc_chunker_next(&p, data + off, have, 0, &partial), 0);
      assert_true(partial == 0 || partial == cut);
    }
    off += cut;
    n++;
  }
  /* Random data: mean chunk size near the target (normalised chunking). */
  size_t mean = len / n;
  assert_true(mean > p.avg_size / 2 && mean < 2 * p.avg_size);
  free(data);
}

static void test_cdc_insertion_shares_chunks(void **state) {
  (void)state;
  cpc_chunker_params p;
  size_t len = 8u << 20, ins = 100, cap = 1024;
  uint8_t *a = malloc(len), *b = malloc(len + ins);
  uint8_t(*da)[32] = malloc(cap * 32), (*db)[32] = malloc(cap * 32);
  assert_true(a && b && da && db);
  randombytes_buf(a, len);
  memcpy(b, a, 5000);
  randombytes_buf(b + 5000, ins);
  memcpy(b + 5000 + ins, a + 5000, len - 5000);
  assert_int_equal(cpc_chunker_params_init(&p, CPC_CHUNKER_CDC, 64 * 1024), 0);
  size_t na = chunk_all(&p, a, len, da, cap);
  size_t nb = chunk_all(&p, b, len + ins, db, cap);
  qsort(db, nb, 32, digest_cmp);
  size_t shared = 0;
  for (size_t i = 0; i < na; i++)
    shared += bsearch(da[i], db, nb, 32, digest_cmp) != NULL;
  /* Only the chunk(s) around the insertion change. */
  assert_true(shared + 3 >= na);
  /* Fixed-size chunking, by contrast, shares nothing after the insertion. */
  cpc_chunker_params f;
  assert_int_equal(cpc_chunker_params_init(&f, CPC_CHUNKER_FIXED, 64 * 1024), 0);
  na = chunk_all(&f, a, len, da, cap);
  nb = chunk_all(&f, b, len + ins, db, cap);
  qsort(db, nb, 32, digest_cmp);
  shared = 0;
  for (size_t i = 0; i < na; i++)
    shared += bsearch(da[i], db, nb, 32, digest_cmp) != NULL;
  assert_true(shared <= 1);
  free(a);
  free(b);
  free(da);
  free(db);
}

/*
 * Regression pin of the CDC format: cut points are part of the stored
 * format (they decide which chunks versions of a file share), so the gear
 * table and masks must never change. The expected cuts were recorded from
 * this implementation when the format was fixed.
 */
static void test_cdc_format_pinned(void **state) {
  (void)state;
  static const size_t want[] = {16926, 5849, 16470, 25100, 12286, 20454, 20063, 24005};
  cpc_chunker_params p;
  size_t len = 1u << 20, off = 0, cut = 0;
  uint8_t *data = malloc(len);
  assert_non_null(data);
  cpc_blake3_hasher h; /* a fixed pseudo-random stream: BLAKE3 XOF */
  cpc_blake3_hasher_init(&h);
  cpc_blake3_hasher_update(&h, "cpc chunker test", 16);
  cpc_blake3_hasher_finalize(&h, data, len);
  assert_int_equal(cpc_chunker_params_init(&p, CPC_CHUNKER_CDC, 16384), 0);
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    assert_int_equal(cpc_chunker_next(&p, data + off, len - off, 1, &cut), 0);
    assert_int_equal(cut, want[i]);
    off += cut;
  }
  free(data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_params),
      cmocka_unit_test(test_fixed),
      cmocka_unit_test(test_cdc_sizes_and_partial),
      cmocka_unit_test(test_cdc_insertion_shares_chunks),
      cmocka_unit_test(test_cdc_format_pinned),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
