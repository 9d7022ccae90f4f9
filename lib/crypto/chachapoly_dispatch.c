/*
 * chachapoly_dispatch.c: choose the ChaCha20 back end once per process.
 *
 * What the CPU and OS support comes from cpc__cpu_features()
 * (cpu_features.c). The choice is the best supported back end,
 * unless CPC_CHACHA_BACKEND names a supported one (portable, avx2, avx512)
 * or cpc_chacha_set_backend() picks one. Poly1305 uses AVX-512 IFMA when the
 * AVX-512 back end is in use and the CPU has IFMA, else AVX2 with either
 * SIMD back end.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cpc/error.h"
#include "crypto/crypto_int.h"
#include "crypto/chachapoly_int.h"

static _Atomic int selected; /* an enum cpc_chacha_backend; 0 = not yet */

int cpc_chacha_backend_supported(enum cpc_chacha_backend backend) {
  int f = cpc__cpu_features();
  switch (backend) {
  case CPC_CHACHA_AUTO:
  case CPC_CHACHA_PORTABLE: return 1;
  case CPC_CHACHA_AVX2: return (f & CPC__CPU_AVX2) != 0;
  case CPC_CHACHA_AVX512: return (f & CPC__CPU_AVX512) && (f & CPC__CPU_AVX2);
  }
  return 0;
}

static enum cpc_chacha_backend best_backend(void) {
  if (cpc_chacha_backend_supported(CPC_CHACHA_AVX512))
    return CPC_CHACHA_AVX512;
  if (cpc_chacha_backend_supported(CPC_CHACHA_AVX2))
    return CPC_CHACHA_AVX2;
  return CPC_CHACHA_PORTABLE;
}

static enum cpc_chacha_backend backend_from_env(void) {
  const char *name = getenv("CPC_CHACHA_BACKEND");
  if (name == NULL)
    return CPC_CHACHA_AUTO;
  for (int b = CPC_CHACHA_PORTABLE; b <= CPC_CHACHA_AVX512; b++)
    if (strcmp(name, cpc_chacha_backend_name(b)) == 0 &&
        cpc_chacha_backend_supported(b))
      return b;
  return CPC_CHACHA_AUTO;
}

enum cpc_chacha_backend cpc_chacha_backend(void) {
  int b = atomic_load_explicit(&selected, memory_order_acquire);
  if (b == CPC_CHACHA_AUTO) {
    b = backend_from_env();
    if (b == CPC_CHACHA_AUTO)
      b = best_backend();
    /* Racing first calls all compute the same answer. */
    atomic_store_explicit(&selected, b, memory_order_release);
  }
  return b;
}

cpc__chacha_xor_fn *cpc__chacha_xor(void) {
  switch (cpc_chacha_backend()) {
  case CPC_CHACHA_AVX512: return cpc__chacha_xor_avx512;
  case CPC_CHACHA_AVX2: return cpc__chacha_xor_avx2;
  case CPC_CHACHA_AUTO:
  case CPC_CHACHA_PORTABLE: break;
  }
  return cpc__chacha_xor_portable;
}

int cpc__poly1305_use_ifma(void) {
  return cpc_chacha_backend() == CPC_CHACHA_AVX512 &&
         (cpc__cpu_features() & CPC__CPU_AVX512IFMA);
}

int cpc__poly1305_use_avx2(void) {
  return cpc_chacha_backend() >= CPC_CHACHA_AVX2;
}

int cpc_chacha_set_backend(enum cpc_chacha_backend backend) {
  if (backend < CPC_CHACHA_AUTO || backend > CPC_CHACHA_AVX512 ||
      !cpc_chacha_backend_supported(backend))
    return CPC_EUNSUPPORTED;
  if (backend == CPC_CHACHA_AUTO)
    backend = best_backend();
  atomic_store_explicit(&selected, backend, memory_order_release);
  return 0;
}

const char *cpc_chacha_backend_name(enum cpc_chacha_backend backend) {
  switch (backend) {
  case CPC_CHACHA_AUTO: return "auto";
  case CPC_CHACHA_PORTABLE: return "portable";
  case CPC_CHACHA_AVX2: return "avx2";
  case CPC_CHACHA_AVX512: return "avx512";
  }
  return "unknown";
}
