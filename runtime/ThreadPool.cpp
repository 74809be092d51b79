//===- ThreadPool.cpp - The workers that run grids of workgroups ----------===//

#include "runtime/ThreadPool.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <sched.h>

namespace moe {

namespace {
void runGridThunk(void *context, int64_t workgroups, moe_workgroup_fn fn,
                  void *captures) {
  static_cast<ThreadPool *>(context)->runGrid(workgroups, fn, captures);
}
} // namespace

ThreadPool::ThreadPool(unsigned threads)
    : numThreads(threads < 1 ? 1 : threads), record{this, runGridThunk} {
  workers.reserve(numThreads - 1);
  for (unsigned i = 1; i < numThreads; ++i)
    workers.emplace_back([this] { work(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
  }
  wake.notify_all();
  for (std::thread &worker : workers)
    worker.join();
}

void ThreadPool::takeWorkgroups() {
  for (int64_t i = next.fetch_add(1, std::memory_order_relaxed); i < gridCount;
       i = next.fetch_add(1, std::memory_order_relaxed))
    gridFn(gridCaptures, i);
}

void ThreadPool::runGrid(int64_t count, moe_workgroup_fn workgroup,
                         void *captures) {
  if (count <= 0)
    return;
  if (workers.empty() || count == 1) {
    for (int64_t i = 0; i < count; ++i)
      workgroup(captures, i);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    gridFn = workgroup;
    gridCaptures = captures;
    gridCount = count;
    next.store(0, std::memory_order_relaxed);
    busy = static_cast<unsigned>(workers.size());
    ++generation;
  }
  wake.notify_all();
  takeWorkgroups();
  // Every worker leaves the grid (having found no workgroup left) before
  // the next grid may reuse the fields above.
  std::unique_lock<std::mutex> lock(mutex);
  finished.wait(lock, [this] { return busy == 0; });
}

void ThreadPool::work() {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex);
      wake.wait(lock, [&] { return stopping || generation != seen; });
      if (stopping)
        return;
      seen = generation;
    }
    takeWorkgroups();
    {
      std::lock_guard<std::mutex> lock(mutex);
      --busy;
    }
    finished.notify_one();
  }
}

unsigned availableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int count = CPU_COUNT(&set);
    if (count > 0)
      return static_cast<unsigned>(count);
  }
  unsigned hardware = std::thread::hardware_concurrency();
  return hardware ? hardware : 1;
}

Expected<unsigned> defaultThreadCount() {
  const char *text = std::getenv("MOE_NUM_THREADS");
  if (!text)
    return availableCpus();
  char *end = nullptr;
  errno = 0;
  unsigned long value = std::strtoul(text, &end, 10);
  if (end == text || *end != '\0' || errno != 0 || text[0] == '-' ||
      value < 1 || value > kMaxThreads)
    return Status::failure("MOE_NUM_THREADS must be an integer in [1, ",
                           kMaxThreads, "], got '", text, "'");
  return static_cast<unsigned>(value);
}

} // namespace moe
