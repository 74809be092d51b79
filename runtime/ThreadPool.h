//===- ThreadPool.h - The workers that run grids of workgroups --*- C++ -*-===//
//
// A compiled entry (ABI version 3) runs its parallel work as grids of
// independent workgroups through a `moe_executor` (runtime/moe_executor.h).
// A ThreadPool is the runtime's executor: `threads - 1` workers plus the
// calling thread take workgroups from a shared counter until the grid is
// done. Which thread runs which workgroup does not matter: workgroups write
// disjoint memory, so results are the same for every thread count.
//
// One grid runs at a time per pool (run_grid is called by one entry at a
// time: a Model is not thread-safe). With one thread no worker is started
// and grids run on the caller.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUNTIME_THREADPOOL_H
#define MOE_RUNTIME_THREADPOOL_H

#include "runtime/Status.h"
#include "runtime/moe_executor.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace moe {

class ThreadPool {
public:
  /// A pool of `threads` threads in all (the caller counts as one); at
  /// least 1.
  explicit ThreadPool(unsigned threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  unsigned threads() const { return numThreads; }

  /// Runs `workgroup(captures, i)` for every `i` in `[0, count)` and returns
  /// when all have returned.
  void runGrid(int64_t count, moe_workgroup_fn workgroup, void *captures);

  /// The record an entry receives; valid as long as the pool.
  const moe_executor *executor() const { return &record; }

private:
  void work();
  /// Runs workgroups of the current grid until none is left.
  void takeWorkgroups();

  unsigned numThreads;
  moe_executor record;
  std::vector<std::thread> workers;

  std::mutex mutex;
  std::condition_variable wake, finished;
  /// Bumped for every grid, so each worker joins each grid once.
  uint64_t generation = 0;
  bool stopping = false;
  /// Workers still inside the current grid.
  unsigned busy = 0;

  // The current grid.
  moe_workgroup_fn gridFn = nullptr;
  void *gridCaptures = nullptr;
  int64_t gridCount = 0;
  std::atomic<int64_t> next{0};
};

/// The most threads a pool may have.
inline constexpr unsigned kMaxThreads = 1024;

/// The default number of threads: MOE_NUM_THREADS when it is set (an integer
/// in [1, kMaxThreads], else a one-line error naming it), else the CPUs this
/// process may run on.
Expected<unsigned> defaultThreadCount();

/// The CPUs this process may run on (its affinity mask), at least 1.
unsigned availableCpus();

} // namespace moe

#endif // MOE_RUNTIME_THREADPOOL_H
