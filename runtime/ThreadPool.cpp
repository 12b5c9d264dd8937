//===- ThreadPool.cpp - The session's workers -----------------------------===//
#include "ThreadPool.h"

#include <climits>

#include <pthread.h>
#include <sched.h>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LOWBIT_CPU_RELAX() _mm_pause()
#else
#define LOWBIT_CPU_RELAX() ((void)0)
#endif

using namespace lowbit::rt;

static void futexWait(std::atomic<uint32_t> *word, uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<uint32_t *>(word), FUTEX_WAIT_PRIVATE,
          expected, nullptr, nullptr, 0);
}

static void futexWakeAll(std::atomic<uint32_t> *word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t *>(word), FUTEX_WAKE_PRIVATE,
          INT_MAX, nullptr, nullptr, 0);
}

void Barrier::wait(int spins) {
  if (threads <= 1)
    return;
  uint32_t gen = generation.load(std::memory_order_acquire);
  if (arrived.fetch_add(1, std::memory_order_acq_rel) + 1 == threads) {
    arrived.store(0, std::memory_order_relaxed);
    generation.store(gen + 1, std::memory_order_seq_cst);
    // A sleeper either is counted here or sees the new generation in the
    // futex's own compare (both sides are sequentially consistent).
    if (sleepers.load(std::memory_order_seq_cst) != 0)
      futexWakeAll(&generation);
    return;
  }
  for (int i = 0; i < spins; ++i) {
    if (generation.load(std::memory_order_acquire) != gen)
      return;
    LOWBIT_CPU_RELAX();
  }
  sleepers.fetch_add(1, std::memory_order_seq_cst);
  while (generation.load(std::memory_order_seq_cst) == gen)
    futexWait(&generation, gen);
  sleepers.fetch_sub(1, std::memory_order_relaxed);
}

ThreadPool::ThreadPool(int threads, const std::vector<int> &cpus)
    : threads(threads < 1 ? 1 : threads), cpus(cpus), meet(this->threads) {
  pin(0);
  workers.reserve(this->threads - 1);
  for (int i = 1; i < this->threads; ++i)
    workers.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool() {
  stopping = true;
  meet.wait();
  for (std::thread &t : workers)
    t.join();
}

void ThreadPool::pin(int index) const {
  if (cpus.empty())
    return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpus[size_t(index) % cpus.size()], &set);
  // Best effort: a CPU outside the process's allowed set leaves it unpinned.
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

void ThreadPool::workerLoop(int index) {
  pin(index);
  for (;;) {
    meet.wait(); // the start of a job, or the end of the pool
    if (stopping)
      return;
    (*job)(index);
    meet.wait();
  }
}

void ThreadPool::run(const std::function<void(int)> &work) {
  job = &work;
  meet.wait();
  work(0);
  meet.wait();
}
