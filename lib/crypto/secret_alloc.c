/*
 * secret_alloc.c: a protobuf-c allocator that wipes what it frees.
 *
 * protobuf-c copies bytes fields into memory from its allocator while
 * unpacking; for messages holding private keys those copies must not be
 * left behind in freed heap. Each block carries its size in a header so the
 * free callback (which gets no size) can wipe all of it.
 */
#include <stdlib.h>

#include <sodium.h>

#include "crypto/crypto_int.h"

/* Header keeps the user pointer aligned as malloc's own is. */
#define HEADER 16

static void *secret_alloc(void *data, size_t size) {
  (void)data;
  if (size > SIZE_MAX - HEADER)
    return NULL;
  unsigned char *p = malloc(size + HEADER);
  if (!p)
    return NULL;
  *(size_t *)(void *)p = size;
  return p + HEADER;
}

static void secret_free(void *data, void *ptr) {
  (void)data;
  if (!ptr)
    return;
  unsigned char *p = (unsigned char *)ptr - HEADER;
  size_t size = *(size_t *)(void *)p;
  sodium_memzero(p, size + HEADER);
  free(p);
}

ProtobufCAllocator cpc__secret_allocator = {
    .alloc = secret_alloc, .free = secret_free, .allocator_data = NULL};
