/* Peak fp32 FMA rate of one core: independent vector FMAs, no loads or stores
   in the loop.

   cc -O2 -march=native bench/peak_flops.c -o peak_flops && ./peak_flops
   [seconds]

   Uses the widest of AVX-512 and AVX2+FMA that -march=native enables. 16
   accumulators, each its own dependency chain, cover FMA latency times
   throughput on current x86 cores (4 cycles x 2 pipes = 8 in flight). The loop
   runs for about `seconds` (default 0.5) after a short warm-up that lets the
   clock settle. Prints one line:

     peak_flops: isa avx512f, 16 lanes, 2.1e+10 FMA/s, 67.8 GFLOP/s per core

   bench/run.py compiles it on demand and runs it pinned to one core. */
#define _POSIX_C_SOURCE 199309L
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__AVX512F__)
typedef __m512 vec;
#define LANES 16
#define ISA "avx512f"
#define SET1(x) _mm512_set1_ps(x)
#define FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define ADD(a, b) _mm512_add_ps(a, b)
#define SUM(v) _mm512_reduce_add_ps(v)
#elif defined(__AVX2__) && defined(__FMA__)
typedef __m256 vec;
#define LANES 8
#define ISA "avx2+fma"
#define SET1(x) _mm256_set1_ps(x)
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define ADD(a, b) _mm256_add_ps(a, b)
static float SUM(__m256 v) {
  float f[8];
  _mm256_storeu_ps(f, v);
  return f[0] + f[1] + f[2] + f[3] + f[4] + f[5] + f[6] + f[7];
}
#else
#error                                                                         \
    "peak_flops.c needs AVX-512 or AVX2 with FMA (-march=native on such a CPU)"
#endif

#define ACC 16
#define INNER 1000 /* FMA rounds per inner loop: ACC * INNER vector FMAs */

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* `rounds` x INNER x ACC vector FMAs; the multiplier and addend come from the
   caller so the compiler cannot fold the chains. Returns a sum of every
   accumulator. */
static float kernel(long rounds, float m, float a) {
  vec mul = SET1(m), add = SET1(a);
  vec acc[ACC];
  for (int i = 0; i < ACC; ++i)
    acc[i] = SET1((float)i * 1e-3f);
  for (long r = 0; r < rounds; ++r) {
    for (int j = 0; j < INNER; ++j) {
#pragma GCC unroll 16
      for (int i = 0; i < ACC; ++i)
        acc[i] = FMA(acc[i], mul, add);
    }
  }
  vec total = acc[0];
  for (int i = 1; i < ACC; ++i)
    total = ADD(total, acc[i]);
  return SUM(total);
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 0.5;
  if (!(seconds > 0))
    seconds = 0.5;
  /* Values that stay bounded: x <- 0.999999 x + 1e-6 converges to 1. */
  volatile float m = 0.999999f, a = 1e-6f;
  float sink =
      kernel(2000, m, a); /* warm-up, and a first estimate of the rate */
  long rounds = 1000;
  double t = 0;
  for (;;) {
    double start = now();
    sink += kernel(rounds, m, a);
    t = now() - start;
    if (t >= seconds)
      break;
    rounds = t > 1e-3 ? (long)(rounds * seconds / t * 1.05) + 1 : rounds * 10;
  }
  double fmas = (double)rounds * INNER * ACC * LANES;
  printf("peak_flops: isa %s, %d lanes, %.3g FMA/s, %.1f GFLOP/s per core "
         "(check %g)\n",
         ISA, LANES, fmas / t, 2.0 * fmas / t / 1e9, (double)sink);
  return 0;
}
