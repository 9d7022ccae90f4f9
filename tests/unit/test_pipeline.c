/* test_pipeline.c: streaming encrypt/decrypt round trips and attacks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "cpc/content.h"
#include "cpc/error.h"
#include "cpc/uri.h"

/* --- an in-memory block store ------------------------------------------ */

struct block {
  cpc_cid cid;
  uint8_t *data;
  size_t len;
};

struct store {
  struct block *b;
  size_t n, cap;
  int fail_after; /* sink fails with CPC_ENOSPC after this many; -1 never */
};

static int store_put(void *ctx, const cpc_cid *cid, const uint8_t *data,
                     size_t len) {
  struct store *s = ctx;
  if (s->fail_after >= 0 && s->n >= (size_t)s->fail_after)
    return CPC_ENOSPC;
  assert_true(len <= CPC_BLOCK_MAX);
  assert_int_equal(cpc_cid_verify(cid, data, len), 0);
  if (s->n == s->cap) {
    s->cap = s->cap ? 2 * s->cap : 16;
    s->b = realloc(s->b, s->cap * sizeof *s->b);
    assert_non_null(s->b);
  }
  struct block *b = &s->b[s->n++];
  b->cid = *cid;
  b->data = malloc(len ? len : 1);
  assert_non_null(b->data);
  memcpy(b->data, data, len);
  b->len = len;
  return 0;
}

static struct block *store_find(struct store *s, const cpc_cid *cid) {
  for (size_t i = 0; i < s->n; i++)
    if (cpc_cid_equal(&s->b[i].cid, cid))
      return &s->b[i];
  return NULL;
}

static int store_get(void *ctx, const cpc_cid *cid, uint8_t *buf, size_t cap,
                     size_t *len) {
  struct block *b = store_find(ctx, cid);
  if (!b || !b->data)
    return CPC_ENOENT;
  if (b->len > cap)
    return CPC_ETOOBIG;
  memcpy(buf, b->data, b->len);
  *len = b->len;
  return 0;
}

static void store_free(struct store *s) {
  for (size_t i = 0; i < s->n; i++)
    free(s->b[i].data);
  free(s->b);
  memset(s, 0, sizeof *s);
}

/* --- plaintext collector ------------------------------------------------ */

struct buf {
  uint8_t *p;
  size_t len, cap;
};

static int buf_put(void *ctx, const uint8_t *data, size_t len) {
  struct buf *b = ctx;
  if (b->len + len > b->cap)
    return CPC_ENOSPC;
  memcpy(b->p + b->len, data, len);
  b->len += len;
  return 0;
}

/* --- helpers ----------------------------------------------------------- */

static uint8_t *make_data(size_t len, int compressible) {
  uint8_t *d = malloc(len ? len : 1);
  assert_non_null(d);
  if (!compressible) {
    randombytes_buf(d, len);
  } else {
    static const char words[] = "cooperative peer cloud chunk manifest replica ";
    for (size_t i = 0; i < len; i++)
      d[i] = (uint8_t)words[(i * 7 + i / 97) % (sizeof words - 1)];
  }
  return d;
}

/* Encrypt data in pieces of piece bytes (0: one call) into s. */
static int encrypt_into(struct store *s, const cpc_content_options *o,
                        const uint8_t key[32], const uint8_t *data, size_t len,
                        size_t piece, cpc_cid *id) {
  cpc_content_encryptor *e = NULL;
  uint64_t total = 0;
  int rc = cpc_content_encryptor_new(o, key, store_put, s, &e);
  assert_int_equal(rc, 0);
  if (piece == 0)
    piece = len ? len : 1;
  for (size_t off = 0; off < len && rc == 0; off += piece)
    rc = cpc_content_encryptor_update(e, data + off,
                                      len - off < piece ? len - off : piece);
  if (rc == 0)
    rc = cpc_content_encryptor_final(e, id, &total);
  if (rc == 0)
    assert_int_equal(total, len);
  cpc_content_encryptor_free(e);
  return rc;
}

static int decrypt_from(struct store *s, const cpc_cid *id, const uint8_t key[32],
                        struct buf *out) {
  uint64_t total = 0;
  out->len = 0;
  int rc = cpc_content_decrypt(id, key, store_get, s, buf_put, out, &total);
  if (rc == 0)
    assert_int_equal(total, out->len);
  return rc;
}

static void roundtrip(const cpc_content_options *o, size_t len, int compressible,
                      size_t piece) {
  struct store s = {.fail_after = -1};
  struct buf out = {.p = malloc(len ? len : 1), .cap = len};
  uint8_t key[32];
  cpc_cid id;
  uint8_t *data = make_data(len, compressible);
  cpc_aead_keygen(key);
  assert_int_equal(encrypt_into(&s, o, key, data, len, piece, &id), 0);
  assert_int_equal(decrypt_from(&s, &id, key, &out), 0);
  assert_int_equal(out.len, len);
  if (len)
    assert_memory_equal(out.p, data, len);
  /* Blocks are capped; compressible data is stored smaller. */
  size_t stored = 0;
  for (size_t i = 0; i < s.n; i++) {
    assert_true(s.b[i].len <= CPC_BLOCK_MAX);
    stored += s.b[i].len;
  }
  if (compressible && o->compress && len >= 65536)
    assert_true(stored < len / 2);
  if (!compressible)
    assert_true(stored > len);
  store_free(&s);
  free(out.p);
  free(data);
}

static void test_roundtrip_sizes(void **state) {
  (void)state;
  cpc_content_options o;
  const size_t c = 16384;
  size_t sizes[] = {0, 1, c - 1, c, c + 1, 5 * c + 77, (3u << 20) + 123};
  for (int kind = 0; kind < 2; kind++)
    for (unsigned threads = 0; threads < 2; threads++)
      for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (int comp = 0; comp < 2; comp++) {
          cpc_content_options_init(&o);
          o.chunker = kind ? CPC_CHUNKER_CDC : CPC_CHUNKER_FIXED;
          o.chunk_size = (uint32_t)c;
          o.threads = threads;
          roundtrip(&o, sizes[i], comp, 0);
        }
}

static void test_roundtrip_pieces(void **state) {
  (void)state;
  cpc_content_options o;
  size_t pieces[] = {1, 1000, 65536 + 3, (1u << 20) + 5};
  cpc_content_options_init(&o);
  roundtrip(&o, 300000, 0, 1); /* one byte at a time, default 256 KiB chunks */
  for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
    o.chunker = CPC_CHUNKER_CDC;
    o.chunk_size = 65536;
    roundtrip(&o, 2u << 20, (int)(i % 2), pieces[i]);
    o.chunker = CPC_CHUNKER_FIXED;
    roundtrip(&o, (2u << 20) + 1, (int)(i % 2), pieces[i]);
  }
  o.compress = 0;
  roundtrip(&o, 1u << 20, 1, 0);
}

/* Same input and key, same content_id; another key, another id. */
static void test_deterministic(void **state) {
  (void)state;
  struct store s1 = {.fail_after = -1}, s2 = {.fail_after = -1},
               s3 = {.fail_after = -1};
  uint8_t k1[32], k2[32];
  cpc_cid a, b, c;
  uint8_t *data = make_data(100000, 0);
  cpc_aead_keygen(k1);
  cpc_aead_keygen(k2);
  assert_int_equal(encrypt_into(&s1, NULL, k1, data, 100000, 0, &a), 0);
  assert_int_equal(encrypt_into(&s2, NULL, k1, data, 100000, 7, &b), 0);
  assert_int_equal(encrypt_into(&s3, NULL, k2, data, 100000, 0, &c), 0);
  assert_true(cpc_cid_equal(&a, &b));
  assert_false(cpc_cid_equal(&a, &c));
  store_free(&s1);
  store_free(&s2);
  store_free(&s3);
  free(data);
}

/*
 * Mixed data (compressible and random stretches not aligned to chunks):
 * the same blocks in the same order whether probes run on the worker one
 * chunk ahead (threads 1, large updates) or inline (threads 0, small
 * updates), for both chunkers.
 */
static void test_same_blocks_any_threads(void **state) {
  (void)state;
  const size_t len = (1u << 20) + 4321, c = 16384;
  uint8_t *data = make_data(len, 1), key[32];
  size_t pieces[] = {0, 1000, 65536 + 3};
  randombytes_buf(data + 20000, 50000);
  randombytes_buf(data + 300001, 200000);
  randombytes_buf(data + 900000, 30000);
  cpc_aead_keygen(key);
  for (int kind = 0; kind < 2; kind++) {
    struct store ref = {.fail_after = -1};
    cpc_content_options o;
    cpc_cid id0, id;
    size_t n_compressed = 0;
    cpc_content_options_init(&o);
    o.chunker = kind ? CPC_CHUNKER_CDC : CPC_CHUNKER_FIXED;
    o.chunk_size = (uint32_t)c;
    o.threads = 0;
    assert_int_equal(encrypt_into(&ref, &o, key, data, len, 1000, &id0), 0);
    for (size_t i = 0; i < ref.n; i++)
      n_compressed += ref.b[i].len < c / 2;
    assert_true(n_compressed > 4); /* both kinds of chunk are there */
    assert_true(n_compressed + 4 < ref.n);
    for (unsigned threads = 0; threads < 2; threads++)
      for (size_t p = 0; p < sizeof pieces / sizeof pieces[0]; p++) {
        struct store s = {.fail_after = -1};
        o.threads = threads;
        assert_int_equal(encrypt_into(&s, &o, key, data, len, pieces[p], &id), 0);
        assert_true(cpc_cid_equal(&id, &id0));
        assert_int_equal(s.n, ref.n);
        for (size_t i = 0; i < s.n; i++) {
          assert_true(cpc_cid_equal(&s.b[i].cid, &ref.b[i].cid));
          assert_int_equal(s.b[i].len, ref.b[i].len);
        }
        store_free(&s);
      }
    store_free(&ref);
  }
  free(data);
}

static void test_paged_manifest(void **state) {
  (void)state;
  cpc_content_options o;
  struct store s = {.fail_after = -1};
  size_t len = 200 * 1024 + 5;
  struct buf out = {.p = malloc(len), .cap = len};
  uint8_t key[32];
  cpc_cid id;
  uint8_t *data = make_data(len, 0);
  cpc_content_options_init(&o);
  o.chunk_size = 1024;
  o.page_cap = 1024; /* about 20 chunk refs a page */
  cpc_aead_keygen(key);
  assert_int_equal(encrypt_into(&s, &o, key, data, len, 0, &id), 0);
  size_t chunks = (len + 1023) / 1024;
  assert_true(s.n > chunks + 5); /* chunks, several pages, the root */
  assert_int_equal(decrypt_from(&s, &id, key, &out), 0);
  assert_int_equal(out.len, len);
  assert_memory_equal(out.p, data, len);
  /* A damaged page is caught by its CID. Pages come after chunks they list. */
  struct block *page = &s.b[s.n - 2];
  page->data[3] ^= 1;
  assert_int_equal(decrypt_from(&s, &id, key, &out), CPC_EMISMATCH);
  page->data[3] ^= 1;
  /* Dropping a page: missing block. */
  uint8_t *saved = page->data;
  page->data = NULL;
  assert_int_equal(decrypt_from(&s, &id, key, &out), CPC_ENOENT);
  page->data = saved;
  store_free(&s);
  /* Too much content for a two-level manifest of 256-byte pages. */
  o.page_cap = 256;
  s.fail_after = -1;
  assert_int_equal(encrypt_into(&s, &o, key, data, len, 0, &id), CPC_ETOOBIG);
  store_free(&s);
  free(out.p);
  free(data);
}

static void test_attacks(void **state) {
  (void)state;
  cpc_content_options o;
  struct store s = {.fail_after = -1};
  size_t len = 5 * 4096 + 100;
  struct buf out = {.p = malloc(len), .cap = len};
  uint8_t key[32], wrong[32];
  cpc_cid id;
  uint8_t *data = make_data(len, 0);
  cpc_content_options_init(&o);
  o.chunk_size = 4096;
  cpc_aead_keygen(key);
  cpc_aead_keygen(wrong);
  assert_int_equal(encrypt_into(&s, &o, key, data, len, 0, &id), 0);
  assert_int_equal(s.n, 7); /* 6 chunks + root */
  assert_int_equal(decrypt_from(&s, &id, key, &out), 0);

  /* Wrong key. */
  assert_int_equal(decrypt_from(&s, &id, wrong, &out), CPC_EAUTH);
  /* Tampered chunk. */
  s.b[2].data[100] ^= 0x01;
  assert_int_equal(decrypt_from(&s, &id, key, &out), CPC_EMISMATCH);
  s.b[2].data[100] ^= 0x01;
  /* Tampered root. */
  s.b[6].data[0] ^= 0x80;
  assert_int_equal(decrypt_from(&s, &id, key, &out), CPC_EMISMATCH);
  s.b[6].data[0] ^= 0x80;
  /* Swapped blocks (same size, each under the other's name). */
  uint8_t *t = s.b[1].data;
  s.b[1].data = s.b[3].data;
  s.b[3].data = t;
  assert_int_equal(decrypt_from(&s, &id, key, &out), CPC_EMISMATCH);
  s.b[3].data = s.b[1].data;
  s.b[1].data = t;
  /* Truncated block. */
  s.b[4].len--;
  assert_int_equal(decrypt_from(&s, &id, key, &out), CPC_ETRUNC);
  s.b[4].len++;
  /* Missing block. */
  t = s.b[0].data;
  s.b[0].data = NULL;
  assert_int_equal(decrypt_from(&s, &id, key, &out), CPC_ENOENT);
  s.b[0].data = t;
  /* Plaintext sink failing is passed back. */
  out.cap = 100;
  assert_int_equal(decrypt_from(&s, &id, key, &out), CPC_ENOSPC);
  out.cap = len;
  /* Still intact after all that. */
  assert_int_equal(decrypt_from(&s, &id, key, &out), 0);
  assert_memory_equal(out.p, data, len);
  /* Not a blake3 raw CID. */
  cpc_cid other = id;
  other.codec = CPC_CODEC_DAG_PB;
  assert_int_equal(decrypt_from(&s, &other, key, &out), CPC_EUNSUPPORTED);
  store_free(&s);
  free(out.p);
  free(data);
}

/* A source that vouches for its blocks (a block store): no hashing, but
 * damaged or swapped blocks still fail, on authentication. */
static void test_source_verified(void **state) {
  (void)state;
  cpc_content_options o;
  struct store s = {.fail_after = -1};
  size_t len = 5 * 4096 + 100;
  struct buf out = {.p = malloc(len), .cap = len};
  uint8_t key[32];
  uint64_t total = 0;
  cpc_cid id;
  uint8_t *data = make_data(len, 0);
  cpc_content_options_init(&o);
  o.chunk_size = 4096;
  cpc_aead_keygen(key);
  assert_int_equal(encrypt_into(&s, &o, key, data, len, 0, &id), 0);
  assert_int_equal(cpc_content_decrypt_flags(&id, key, store_get, &s, buf_put,
                                             &out, &total,
                                             CPC_CONTENT_SOURCE_VERIFIED),
                   0);
  assert_int_equal(total, len);
  assert_memory_equal(out.p, data, len);
  /* Tampered chunk: not hashed, but it does not authenticate. */
  s.b[2].data[100] ^= 0x01;
  out.len = 0;
  assert_int_equal(cpc_content_decrypt_flags(&id, key, store_get, &s, buf_put,
                                             &out, NULL,
                                             CPC_CONTENT_SOURCE_VERIFIED),
                   CPC_EAUTH);
  s.b[2].data[100] ^= 0x01;
  /* Swapped chunks: each is authenticated as its own index. */
  uint8_t *t = s.b[1].data;
  s.b[1].data = s.b[3].data;
  s.b[3].data = t;
  out.len = 0;
  assert_int_equal(cpc_content_decrypt_flags(&id, key, store_get, &s, buf_put,
                                             &out, NULL,
                                             CPC_CONTENT_SOURCE_VERIFIED),
                   CPC_EAUTH);
  s.b[3].data = s.b[1].data;
  s.b[1].data = t;
  /* Unknown flags are refused. */
  out.len = 0;
  assert_int_equal(cpc_content_decrypt_flags(&id, key, store_get, &s, buf_put,
                                             &out, NULL, 1u << 7),
                   CPC_EINVAL);
  store_free(&s);
  free(out.p);
  free(data);
}

static void test_sink_error_sticky(void **state) {
  (void)state;
  cpc_content_options o;
  struct store s = {.fail_after = 2};
  cpc_content_encryptor *e = NULL;
  uint8_t key[32];
  cpc_cid id;
  uint8_t *data = make_data(8 * 4096, 0);
  cpc_content_options_init(&o);
  o.chunk_size = 4096;
  o.threads = 0;
  cpc_aead_keygen(key);
  assert_int_equal(cpc_content_encryptor_new(&o, key, store_put, &s, &e), 0);
  assert_int_equal(cpc_content_encryptor_update(e, data, 8 * 4096), CPC_ENOSPC);
  assert_int_equal(cpc_content_encryptor_update(e, data, 10), CPC_ENOSPC);
  assert_int_equal(cpc_content_encryptor_final(e, &id, NULL), CPC_ENOSPC);
  cpc_content_encryptor_free(e);
  /* The same with the worker and probes running ahead; the caller's buffer
   * is freed as soon as update fails (the lookahead must be drained by then;
   * ASan can only catch a miss when the timing is unlucky). */
  uint8_t *tmp = make_data(8 * 16384, 0);
  s.fail_after = (int)s.n + 2;
  o.chunk_size = 16384;
  o.threads = 1;
  assert_int_equal(cpc_content_encryptor_new(&o, key, store_put, &s, &e), 0);
  assert_int_equal(cpc_content_encryptor_update(e, tmp, 8 * 16384), CPC_ENOSPC);
  free(tmp);
  assert_int_equal(cpc_content_encryptor_final(e, &id, NULL), CPC_ENOSPC);
  cpc_content_encryptor_free(e);
  o.chunk_size = 4096;
  o.threads = 0;
  /* final twice */
  s.fail_after = -1;
  assert_int_equal(cpc_content_encryptor_new(&o, key, store_put, &s, &e), 0);
  assert_int_equal(cpc_content_encryptor_final(e, &id, NULL), 0);
  assert_int_equal(cpc_content_encryptor_final(e, &id, NULL), CPC_ESTATE);
  assert_int_equal(cpc_content_encryptor_update(e, data, 1), CPC_ESTATE);
  cpc_content_encryptor_free(e);
  /* Bad options. */
  o.page_cap = 100;
  assert_int_equal(cpc_content_encryptor_new(&o, key, store_put, &s, &e), CPC_EINVAL);
  o.page_cap = 0;
  o.chunk_size = 5;
  assert_int_equal(cpc_content_encryptor_new(&o, key, store_put, &s, &e), CPC_EINVAL);
  store_free(&s);
  free(data);
}

static void test_uri(void **state) {
  (void)state;
  struct store s = {.fail_after = -1};
  uint8_t key[32];
  cpc_cid id, back;
  char uri[CPC_URI_MAX];
  cpc_aead_keygen(key);
  assert_int_equal(encrypt_into(&s, NULL, key, (const uint8_t *)"hi", 2, 0, &id), 0);
  assert_int_equal(cpc_content_uri_format(&id, uri, sizeof uri), 0);
  assert_int_equal(strncmp(uri, "cpc://bafkr4i", 13), 0);
  assert_int_equal(cpc_content_uri_parse(uri, &back), 0);
  assert_true(cpc_cid_equal(&id, &back));
  assert_int_equal(cpc_content_uri_format(&id, uri, 20), CPC_ETOOBIG);
  assert_int_equal(cpc_content_uri_parse("http://bafkr4i", &back), CPC_EMALFORMED);
  assert_int_equal(cpc_content_uri_parse("cpc://", &back), CPC_EMALFORMED);
  assert_int_equal(cpc_content_uri_parse("cpc://b!!!", &back), CPC_EMALFORMED);
  /* A sha2-256 dag-pb CIDv0 parses as a CID but is no content_id. */
  assert_int_equal(
      cpc_content_uri_parse("cpc://QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",
                            &back),
      CPC_EUNSUPPORTED);
  store_free(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_sizes),
      cmocka_unit_test(test_roundtrip_pieces),
      cmocka_unit_test(test_deterministic),
      cmocka_unit_test(test_same_blocks_any_threads),
      cmocka_unit_test(test_paged_manifest),
      cmocka_unit_test(test_attacks),
      cmocka_unit_test(test_source_verified),
      cmocka_unit_test(test_sink_error_sticky),
      cmocka_unit_test(test_uri),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
