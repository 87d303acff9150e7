/*
 * C peer for bench/partition_distance_compare.ts: all-pairs Hamming distance
 * between bit-packed codes plus a bounded top-k per query, 2 threads (OpenMP),
 * one pair at a time with __builtin_popcountll (no tiling), like a user would write it.
 *
 * Build: gcc -O3 -march=native -fopenmp bench/_hamming_ref.c -o /tmp/hamming_ref
 * Run:   /tmp/hamming_ref N M BITS K THREADS [CODES_FILE]   (prints one JSON line)
 * CODES_FILE holds the N query rows then the M base rows, each BITS/64 little-endian
 * u64 words; without it the codes are random. "checksum" is the sum of the top-K
 * mismatch counts over all queries (independent of how ties are broken).
 */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t next_u64(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: %s N M BITS K THREADS\n", argv[0]);
    return 2;
  }
  const long n = atol(argv[1]), m = atol(argv[2]), bits = atol(argv[3]), k = atol(argv[4]);
  const int threads = atoi(argv[5]);
  const long words = (bits + 63) / 64;
  uint64_t *q = aligned_alloc(64, (size_t)(n * words * 8 + 64));
  uint64_t *b = aligned_alloc(64, (size_t)(m * words * 8 + 64));
  if (argc > 6) {
    FILE *f = fopen(argv[6], "rb");
    if (f == NULL || fread(q, 8, (size_t)(n * words), f) != (size_t)(n * words) ||
        fread(b, 8, (size_t)(m * words), f) != (size_t)(m * words)) {
      fprintf(stderr, "cannot read %ld + %ld rows of %ld words from %s\n", n, m, words, argv[6]);
      return 1;
    }
    fclose(f);
  } else {
    for (long i = 0; i < n * words; i++) q[i] = next_u64();
    for (long i = 0; i < m * words; i++) b[i] = next_u64();
  }
  int32_t *best_idx = malloc(sizeof(int32_t) * n * k);
  int32_t *best_cnt = malloc(sizeof(int32_t) * n * k);
  omp_set_num_threads(threads);
  int reps = 3;
  double best_s = 1e30;
  long checksum = 0;
  for (int rep = 0; rep < reps; rep++) {
    double t0 = omp_get_wtime();
#pragma omp parallel for schedule(dynamic, 4)
    for (long i = 0; i < n; i++) {
      int32_t *bi = best_idx + i * k, *bc = best_cnt + i * k;
      long filled = 0;
      const uint64_t *qi = q + i * words;
      for (long j = 0; j < m; j++) {
        const uint64_t *bj = b + j * words;
        int32_t c = 0;
        for (long w = 0; w < words; w++) c += __builtin_popcountll(qi[w] ^ bj[w]);
        if (filled < k || c < bc[k - 1]) { /* insertion into the sorted list */
          long p = filled < k ? filled++ : k - 1;
          while (p > 0 && bc[p - 1] > c) {
            bc[p] = bc[p - 1];
            bi[p] = bi[p - 1];
            p--;
          }
          bc[p] = c;
          bi[p] = (int32_t)j;
        }
      }
    }
    double s = omp_get_wtime() - t0;
    if (s < best_s) best_s = s;
  }
  for (long i = 0; i < n * k; i++) checksum += best_cnt[i];
  printf("{\"n\":%ld,\"m\":%ld,\"bits\":%ld,\"k\":%ld,\"threads\":%d,\"seconds\":%.6f,"
         "\"mpairs_per_s\":%.3f,\"checksum\":%ld}\n",
         n, m, bits, k, threads, best_s, (double)n * m / best_s / 1e6, checksum);
  return 0;
}
