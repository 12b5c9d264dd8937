//===- ThreadPool.h - Workers that meet at a spin-then-sleep barrier -*- C++ -*-===//
//
// The calling thread is thread 0 and works too. Every thread runs the same
// job and the job calls barrier() between dispatches, as ggml-cpu's graph
// walk does. Waiting spins for a short budget, then sleeps on a futex, so
// idle workers cost nothing between calls.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_RUNTIME_THREADPOOL_H
#define LOWBIT_RUNTIME_THREADPOOL_H

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace lowbit {
namespace rt {

class Barrier {
public:
  explicit Barrier(int threads) : threads(uint32_t(threads)) {}
  /// Returns once all threads have arrived, spinning at most `spins` pause
  /// instructions before sleeping.
  void wait(int spins = kIdleSpins);

  /// Between the steps of one forward call: about a millisecond, since a
  /// futex sleep and wake-up costs tens of microseconds at every step.
  static constexpr int kStepSpins = 1 << 16;
  /// Waiting for work: short, so that an idle session gives its cores back.
  static constexpr int kIdleSpins = 4096;

private:
  const uint32_t threads;
  alignas(64) std::atomic<uint32_t> arrived{0};
  alignas(64) std::atomic<uint32_t> generation{0};
  std::atomic<uint32_t> sleepers{0};
};

class ThreadPool {
public:
  /// With `cpus`, thread i (the caller is thread 0) runs on cpus[i % size].
  explicit ThreadPool(int threads, const std::vector<int> &cpus = {});
  ~ThreadPool();
  int size() const { return threads; }

  /// Runs job(thread) on every thread and returns when all have finished.
  /// The job may call barrier(); every thread must call it equally often.
  void run(const std::function<void(int)> &job);
  void barrier() { meet.wait(Barrier::kStepSpins); }

private:
  void workerLoop(int index);
  void pin(int index) const;

  const int threads;
  const std::vector<int> cpus;
  Barrier meet;
  const std::function<void(int)> *job = nullptr;
  bool stopping = false;
  std::vector<std::thread> workers;
};

} // namespace rt
} // namespace lowbit

#endif // LOWBIT_RUNTIME_THREADPOOL_H
