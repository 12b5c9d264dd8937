/* stream_read.c - STREAM-like read bandwidth: T threads each sum their share
 * of a large buffer (default 1 GiB); prints the best of R passes in GB/s
 * (1e9 bytes/s) as JSON.
 *
 *   cc -O3 -march=native -pthread stream_read.c -o stream-read
 *   stream-read [THREADS=2] [MIB=1024] [PASSES=10]
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  const uint64_t *p;
  size_t n;
  uint64_t sum;
  pthread_barrier_t *start;
} Job;

static void *worker(void *arg) {
  Job *j = (Job *)arg;
  pthread_barrier_wait(j->start);
  /* Integer adds over 8 independent accumulators: vectorized at -O3. */
  uint64_t s[8] = {0};
  const uint64_t *p = j->p;
  for (size_t i = 0; i + 8 <= j->n; i += 8)
    for (int k = 0; k < 8; ++k)
      s[k] += p[i + k];
  uint64_t t = 0;
  for (int k = 0; k < 8; ++k)
    t += s[k];
  j->sum = t;
  return NULL;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 2;
  size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 1024;
  int passes = argc > 3 ? atoi(argv[3]) : 10;
  if (threads < 1 || threads > 256 || mib < 1 || passes < 1)
    return 2;
  size_t bytes = mib << 20, words = bytes / 8;
  uint64_t *buf = NULL;
  if (posix_memalign((void **)&buf, 4096, bytes))
    return 1;
  /* First touch from the threads' share sizes is not needed on one socket. */
  for (size_t i = 0; i < words; ++i)
    buf[i] = i;

  size_t share = (words / threads) & ~(size_t)7;
  double best = 1e30;
  uint64_t check = 0;
  for (int r = 0; r < passes; ++r) {
    pthread_t tid[256];
    Job jobs[256];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, threads + 1);
    for (int t = 0; t < threads; ++t) {
      jobs[t] = (Job){buf + t * share, share, 0, &start};
      pthread_create(&tid[t], NULL, worker, &jobs[t]);
    }
    pthread_barrier_wait(&start);
    double t0 = now();
    for (int t = 0; t < threads; ++t)
      pthread_join(tid[t], NULL);
    double dt = now() - t0;
    pthread_barrier_destroy(&start);
    for (int t = 0; t < threads; ++t)
      check += jobs[t].sum;
    if (dt < best)
      best = dt;
  }
  double gbs = (double)(share * threads * 8) / best / 1e9;
  printf("{\"threads\": %d, \"bytes\": %zu, \"passes\": %d, \"best_s\": %.6f, "
         "\"read_gb_per_s\": %.2f, \"check\": %llu}\n",
         threads, share * threads * 8, passes, best, gbs,
         (unsigned long long)(check & 0xff));
  free(buf);
  return 0;
}
