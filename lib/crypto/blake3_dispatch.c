/*
 * blake3_dispatch.c: choose the BLAKE3 back end once per process.
 *
 * The CPU is asked with CPUID which instruction sets it has, and XGETBV
 * whether the operating system saves the register state they need (YMM for
 * AVX2; opmask and the upper ZMM halves for AVX-512); both answers are
 * cached. The choice is the best supported back end, unless the environment
 * variable CPC_BLAKE3_BACKEND names a supported one (portable, sse4.1, avx2,
 * avx512), or cpc_blake3_set_backend() picks one.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "cpc/error.h"
#include "crypto/blake3_int.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define CPC_B3_X86 1
#endif

enum {
  FEAT_SSE41 = 1 << 0,
  FEAT_AVX2 = 1 << 1,
  FEAT_AVX512 = 1 << 2, /* AVX-512F and AVX-512VL */
  FEAT_KNOWN = 1 << 30,
};

static _Atomic int cpu_features;
static _Atomic(const struct cpc__blake3_ops *) selected;

#ifdef CPC_B3_X86
static uint64_t read_xcr0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t)hi << 32 | lo;
}
#endif

static int detect_features(void) {
  int f = 0;
#ifdef CPC_B3_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d))
    return f;
  if (c & (1u << 19))
    f |= FEAT_SSE41;
  int osxsave = (c & (1u << 27)) != 0;
  int avx = (c & (1u << 28)) != 0;
  if (!osxsave || !avx)
    return f;
  uint64_t xcr0 = read_xcr0();
  if ((xcr0 & 0x6) != 0x6) /* XMM and YMM state */
    return f;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
    return f;
  if (b & (1u << 5))
    f |= FEAT_AVX2;
  /* opmask, ZMM_Hi256 and Hi16_ZMM state too */
  if ((xcr0 & 0xE6) == 0xE6 && (b & (1u << 16)) && (b & (1u << 31)))
    f |= FEAT_AVX512;
#endif
  return f;
}

static int features(void) {
  int f = atomic_load_explicit(&cpu_features, memory_order_acquire);
  if (!(f & FEAT_KNOWN)) {
    f = detect_features() | FEAT_KNOWN;
    atomic_store_explicit(&cpu_features, f, memory_order_release);
  }
  return f;
}

int cpc_blake3_backend_supported(enum cpc_blake3_backend backend) {
  int f = features();
  switch (backend) {
  case CPC_BLAKE3_AUTO:
  case CPC_BLAKE3_PORTABLE: return 1;
  case CPC_BLAKE3_SSE41: return (f & FEAT_SSE41) != 0;
  case CPC_BLAKE3_AVX2: return (f & FEAT_AVX2) && (f & FEAT_SSE41);
  case CPC_BLAKE3_AVX512:
    return (f & FEAT_AVX512) && (f & FEAT_AVX2) && (f & FEAT_SSE41);
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
