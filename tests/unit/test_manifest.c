/* test_manifest.c: manifest and page encodings and their structural checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "cpc/content/v1/manifest.pb-c.h"
#include "cpc/error.h"
#include "cpc/manifest.h"

static void make_ref(cpc_chunk_ref *r, uint32_t pt, int compressed) {
  static const uint8_t prefix[4] = {0x01, 0x55, 0x1e, 0x20};
  memcpy(r->cid, prefix, 4);
  randombytes_buf(r->cid + 4, 32);
  r->plaintext_size = pt;
  r->compressed = (uint8_t)compressed;
  r->stored_size = compressed ? pt / 2 + 16 : pt + 16;
}

static void base_manifest(cpc_manifest *m, cpc_chunk_ref *refs, size_t n) {
  memset(m, 0, sizeof *m);
  assert_int_equal(cpc_chunker_params_init(&m->chunker, CPC_CHUNKER_FIXED, 4096), 0);
  m->compression = CPC_COMPRESSION_ZSTD;
  for (size_t i = 0; i < n; i++) {
    make_ref(&refs[i], i + 1 < n ? 4096 : 100, (int)(i % 2));
    m->total_size += refs[i].plaintext_size;
  }
  m->chunk_count = n;
  m->chunks = refs;
  m->n_chunks = n;
}

static void test_roundtrip_inline(void **state) {
  (void)state;
  cpc_chunk_ref refs[5];
  cpc_manifest m, d;
  uint8_t buf[4096];
  size_t len = 0, est = CPC_MANIFEST_HEADER_MAX;
  base_manifest(&m, refs, 5);
  assert_int_equal(cpc_manifest_encode(&m, buf, sizeof buf, &len), 0);
  for (int i = 0; i < 5; i++)
    est += cpc_chunk_ref_encoded_size(&refs[i]);
  assert_true(len <= est); /* the writer's page budget is an upper bound */
  assert_int_equal(cpc_manifest_decode(buf, len, &d), 0);
  assert_int_equal(d.total_size, m.total_size);
  assert_int_equal(d.chunk_count, 5);
  assert_int_equal(d.n_chunks, 5);
  assert_int_equal(d.n_pages, 0);
  assert_int_equal(d.chunker.kind, CPC_CHUNKER_FIXED);
  assert_int_equal(d.compression, CPC_COMPRESSION_ZSTD);
  assert_memory_equal(d.chunks, refs, sizeof refs);
  cpc_manifest_clear(&d);
  assert_int_equal(cpc_manifest_encode(&m, buf, len - 1, &len), CPC_ETOOBIG);
}

static void test_roundtrip_pages(void **state) {
  (void)state;
  cpc_chunk_ref refs[3];
  cpc_page_ref pages[2];
  cpc_manifest m, d;
  cpc_manifest_page pg = {.page_index = 1, .first_chunk = 7, .chunks = refs,
                          .n_chunks = 3},
                    dp;
  uint8_t buf[4096];
  size_t len = 0;
  base_manifest(&m, refs, 3);
  for (int i = 0; i < 2; i++) {
    memcpy(pages[i].cid, refs[i].cid, CPC_BLOCK_CID_LEN);
    pages[i].stored_size = 500;
    pages[i].chunk_count = 10;
    pages[i].plaintext_size = 40960;
  }
  m.chunks = NULL;
  m.n_chunks = 0;
  m.pages = pages;
  m.n_pages = 2;
  m.chunk_count = 20;
  m.total_size = 81920;
  assert_int_equal(cpc_manifest_encode(&m, buf, sizeof buf, &len), 0);
  assert_int_equal(cpc_manifest_decode(buf, len, &d), 0);
  assert_int_equal(d.n_pages, 2);
  assert_memory_equal(d.pages, pages, sizeof pages);
  cpc_manifest_clear(&d);
  /* Counts that do not add up. */
  m.chunk_count = 21;
  assert_int_equal(cpc_manifest_encode(&m, buf, sizeof buf, &len), 0);
  assert_int_equal(cpc_manifest_decode(buf, len, &d), CPC_EMALFORMED);
  cpc_manifest_clear(&d);
  m.chunk_count = 20;
  assert_int_equal(cpc_manifest_page_encode(&pg, buf, sizeof buf, &len), 0);
  assert_int_equal(cpc_manifest_page_decode(buf, len, &m, &dp), 0);
  assert_int_equal(dp.page_index, 1);
  assert_int_equal(dp.first_chunk, 7);
  assert_int_equal(dp.n_chunks, 3);
  assert_memory_equal(dp.chunks, refs, sizeof refs);
  cpc_manifest_page_clear(&dp);
}

/* Encode m with pb tweaked by f, decode, expect rc. */
static void expect_decode(int rc, void (*f)(Cpc__Content__V1__Manifest *)) {
  Cpc__Content__V1__Manifest pb = CPC__CONTENT__V1__MANIFEST__INIT;
  Cpc__Content__V1__ChunkerParams cp = CPC__CONTENT__V1__CHUNKER_PARAMS__INIT;
  Cpc__Content__V1__ChunkRef cr = CPC__CONTENT__V1__CHUNK_REF__INIT, *crp = &cr;
  uint8_t cid[36] = {0x01, 0x55, 0x1e, 0x20}, buf[512];
  cpc_manifest d;
  cp.kind = CPC__CONTENT__V1__CHUNKER_KIND__CHUNKER_KIND_FIXED;
  cp.min_size = cp.avg_size = cp.max_size = 4096;
  cr.cid.data = cid;
  cr.cid.len = 36;
  cr.plaintext_size = 100;
  cr.stored_size = 116;
  pb.version = 1;
  pb.chunker = &cp;
  pb.cipher = CPC__CONTENT__V1__CIPHER__CIPHER_CHACHA20_POLY1305_IETF;
  pb.compression = CPC__CONTENT__V1__COMPRESSION__COMPRESSION_ZSTD;
  pb.total_size = 100;
  pb.chunk_count = 1;
  pb.n_chunks = 1;
  pb.chunks = &crp;
  f(&pb);
  size_t len = cpc__content__v1__manifest__pack(&pb, buf);
  assert_int_equal(cpc_manifest_decode(buf, len, &d), rc);
  cpc_manifest_clear(&d);
}

static void t_ok(Cpc__Content__V1__Manifest *pb) { (void)pb; }
static void t_version(Cpc__Content__V1__Manifest *pb) { pb->version = 2; }
static void t_cipher(Cpc__Content__V1__Manifest *pb) { pb->cipher = 0; }
static void t_compression(Cpc__Content__V1__Manifest *pb) { pb->compression = 9; }
static void t_no_chunker(Cpc__Content__V1__Manifest *pb) { pb->chunker = NULL; }
static void t_bad_params(Cpc__Content__V1__Manifest *pb) { pb->chunker->max_size = 8192; }
static void t_total(Cpc__Content__V1__Manifest *pb) { pb->total_size = 101; }
static void t_count(Cpc__Content__V1__Manifest *pb) { pb->chunk_count = 2; }
static void t_cid(Cpc__Content__V1__Manifest *pb) { pb->chunks[0]->cid.data[1] = 0x70; }
static void t_cid_len(Cpc__Content__V1__Manifest *pb) { pb->chunks[0]->cid.len = 35; }
static void t_stored(Cpc__Content__V1__Manifest *pb) { pb->chunks[0]->stored_size = 117; }
static void t_too_big_chunk(Cpc__Content__V1__Manifest *pb) {
  pb->chunks[0]->plaintext_size = pb->total_size = 4097;
  pb->chunks[0]->stored_size = 4097 + 16;
}
static void t_empty_chunk(Cpc__Content__V1__Manifest *pb) {
  pb->chunks[0]->plaintext_size = pb->total_size = 0;
  pb->chunks[0]->stored_size = 16;
}
static void t_compressed_without_zstd(Cpc__Content__V1__Manifest *pb) {
  pb->compression = 0;
  pb->chunks[0]->compressed = 1;
  pb->chunks[0]->stored_size = 60;
}
static void t_compressed_grows(Cpc__Content__V1__Manifest *pb) {
  pb->chunks[0]->compressed = 1;
  pb->chunks[0]->stored_size = 117;
}
static void t_no_list(Cpc__Content__V1__Manifest *pb) { pb->n_chunks = 0; }

static void test_rejects(void **state) {
  (void)state;
  expect_decode(0, t_ok);
  expect_decode(CPC_EUNSUPPORTED, t_version);
  expect_decode(CPC_EUNSUPPORTED, t_cipher);
  expect_decode(CPC_EUNSUPPORTED, t_compression);
  expect_decode(CPC_EMALFORMED, t_no_chunker);
  expect_decode(CPC_EMALFORMED, t_bad_params);
  expect_decode(CPC_EMALFORMED, t_total);
  expect_decode(CPC_EMALFORMED, t_count);
  expect_decode(CPC_EMALFORMED, t_cid);
  expect_decode(CPC_EMALFORMED, t_cid_len);
  expect_decode(CPC_EMALFORMED, t_stored);
  expect_decode(CPC_EMALFORMED, t_too_big_chunk);
  expect_decode(CPC_EMALFORMED, t_empty_chunk);
  expect_decode(CPC_EMALFORMED, t_compressed_without_zstd);
  expect_decode(CPC_EMALFORMED, t_compressed_grows);
  expect_decode(CPC_EMALFORMED, t_no_list);
}

static void test_rejects_garbage(void **state) {
  (void)state;
  cpc_manifest d;
  uint8_t junk[64];
  memset(junk, 0xff, sizeof junk);
  assert_int_equal(cpc_manifest_decode(junk, sizeof junk, &d), CPC_EMALFORMED);
  cpc_manifest_clear(&d);
  uint8_t *big = calloc(1, CPC_MANIFEST_PAGE_MAX + 1);
  assert_non_null(big);
  assert_int_equal(cpc_manifest_decode(big, CPC_MANIFEST_PAGE_MAX + 1, &d),
                   CPC_ETOOBIG);
  free(big);
  /* An empty manifest is the empty content: fine. */
  cpc_manifest m = {.compression = CPC_COMPRESSION_NONE};
  uint8_t buf[128];
  size_t len = 0;
  assert_int_equal(cpc_chunker_params_init(&m.chunker, CPC_CHUNKER_CDC, 0), 0);
  assert_int_equal(cpc_manifest_encode(&m, buf, sizeof buf, &len), 0);
  assert_int_equal(cpc_manifest_decode(buf, len, &d), 0);
  assert_int_equal(d.total_size, 0);
  assert_int_equal(d.chunker.kind, CPC_CHUNKER_CDC);
  cpc_manifest_clear(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_inline),
      cmocka_unit_test(test_roundtrip_pages),
      cmocka_unit_test(test_rejects),
      cmocka_unit_test(test_rejects_garbage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
