/*
 * cpu_features.c: which SIMD instruction sets this process may use, asked
 * once and cached. CPUID says what the CPU has; XGETBV says whether the
 * operating system saves the register state they need (YMM for AVX2; opmask
 * and the upper ZMM halves for AVX-512). The BLAKE3 and ChaCha20-Poly1305
 * dispatchers choose their back ends from it.
 */
#include <stdatomic.h>
#include <stdint.h>

#include "crypto/crypto_int.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define CPC_CPU_X86 1
#endif

#define CPU_KNOWN (1 << 30)

static _Atomic int cpu_features;

#ifdef CPC_CPU_X86
static uint64_t read_xcr0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t)hi << 32 | lo;
}
#endif

static int detect(void) {
  int f = 0;
#ifdef CPC_CPU_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d))
    return f;
  if (c & (1u << 19))
    f |= CPC__CPU_SSE41;
  if (!(c & (1u << 27)) || !(c & (1u << 28))) /* OSXSAVE, AVX */
    return f;
  uint64_t xcr0 = read_xcr0();
  if ((xcr0 & 0x6) != 0x6) /* XMM and YMM state */
    return f;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
    return f;
  if (b & (1u << 5))
    f |= CPC__CPU_AVX2;
  /* AVX-512F and VL, with opmask, ZMM_Hi256 and Hi16_ZMM state */
  if ((xcr0 & 0xE6) == 0xE6 && (b & (1u << 16)) && (b & (1u << 31))) {
    f |= CPC__CPU_AVX512;
    if (b & (1u << 21))
      f |= CPC__CPU_AVX512IFMA;
  }
#endif
  return f;
}

int cpc__cpu_features(void) {
  int f = atomic_load_explicit(&cpu_features, memory_order_acquire);
  if (!(f & CPU_KNOWN)) {
    f = detect() | CPU_KNOWN;
    atomic_store_explicit(&cpu_features, f, memory_order_release);
  }
  return f & ~CPU_KNOWN;
}
