/*
 * blake3_dispatch.c: choose the BLAKE3 back end once per process.
 *
 * What the CPU and OS support comes from cpc__cpu_features()
 * (cpu_features.c). The choice is the best supported back end, unless the environment
 * variable CPC_BLAKE3_BACKEND names a supported one (portable, sse4.1, avx2,
 * avx512), or cpc_blake3_set_backend() picks one.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "cpc/error.h"
#include "crypto/crypto_int.h"
#include "crypto/blake3_int.h"

static _Atomic(const struct cpc__blake3_ops *) selected;

int cpc_blake3_backend_supported(enum cpc_blake3_backend backend) {
  int f = cpc__cpu_features();
  switch (backend) {
  case CPC_BLAKE3_AUTO:
  case CPC_BLAKE3_PORTABLE: return 1;
  case CPC_BLAKE3_SSE41: return (f & CPC__CPU_SSE41) != 0;
  case CPC_BLAKE3_AVX2: return (f & CPC__CPU_AVX2) && (f & CPC__CPU_SSE41);
  case CPC_BLAKE3_AVX512:
    return (f & CPC__CPU_AVX512) && (f & CPC__CPU_AVX2) && (f & CPC__CPU_SSE41);
  }
  return 0;
}

static const struct cpc__blake3_ops *ops_of(enum cpc_blake3_backend backend) {
  switch (backend) {
  case CPC_BLAKE3_SSE41: return &cpc__blake3_sse41_ops;
  case CPC_BLAKE3_AVX2: return &cpc__blake3_avx2_ops;
  case CPC_BLAKE3_AVX512: return &cpc__blake3_avx512_ops;
  case CPC_BLAKE3_AUTO:
  case CPC_BLAKE3_PORTABLE: break;
  }
  return &cpc__blake3_portable_ops;
}

static enum cpc_blake3_backend best_backend(void) {
  static const enum cpc_blake3_backend order[] = {
      CPC_BLAKE3_AVX512, CPC_BLAKE3_AVX2, CPC_BLAKE3_SSE41};
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
    if (cpc_blake3_backend_supported(order[i]))
      return order[i];
  return CPC_BLAKE3_PORTABLE;
}

static enum cpc_blake3_backend backend_from_env(void) {
  const char *name = getenv("CPC_BLAKE3_BACKEND");
  if (name == NULL)
    return CPC_BLAKE3_AUTO;
  for (int b = CPC_BLAKE3_PORTABLE; b <= CPC_BLAKE3_AVX512; b++)
    if (strcmp(name, cpc_blake3_backend_name(b)) == 0 &&
        cpc_blake3_backend_supported(b))
      return b;
  return CPC_BLAKE3_AUTO;
}

const struct cpc__blake3_ops *cpc__blake3_ops(void) {
  const struct cpc__blake3_ops *ops =
      atomic_load_explicit(&selected, memory_order_acquire);
  if (ops == NULL) {
    enum cpc_blake3_backend b = backend_from_env();
    if (b == CPC_BLAKE3_AUTO)
      b = best_backend();
    ops = ops_of(b);
    /* Racing first calls all compute the same answer. */
    atomic_store_explicit(&selected, ops, memory_order_release);
  }
  return ops;
}

int cpc_blake3_set_backend(enum cpc_blake3_backend backend) {
  if (backend < CPC_BLAKE3_AUTO || backend > CPC_BLAKE3_AVX512 ||
      !cpc_blake3_backend_supported(backend))
    return CPC_EUNSUPPORTED;
  if (backend == CPC_BLAKE3_AUTO)
    backend = best_backend();
  atomic_store_explicit(&selected, ops_of(backend), memory_order_release);
  return 0;
}

enum cpc_blake3_backend cpc_blake3_backend(void) {
  return cpc__blake3_ops()->id;
}

const char *cpc_blake3_backend_name(enum cpc_blake3_backend backend) {
  switch (backend) {
  case CPC_BLAKE3_AUTO: return "auto";
  case CPC_BLAKE3_PORTABLE: return "portable";
  case CPC_BLAKE3_SSE41: return "sse4.1";
  case CPC_BLAKE3_AVX2: return "avx2";
  case CPC_BLAKE3_AVX512: return "avx512";
  }
  return "unknown";
}
