//===- ThreadPoolTest.cpp - The executor of grids of workgroups -----------===//

#include "runtime/ThreadPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace moe;

namespace {

struct Visits {
  std::vector<std::atomic<int>> count;
  std::mutex mutex;
  std::set<std::thread::id> threads;
  explicit Visits(size_t n) : count(n) {}
};

void visit(void *captures, int64_t id) {
  auto *visits = static_cast<Visits *>(captures);
  visits->count[id].fetch_add(1);
  std::lock_guard<std::mutex> lock(visits->mutex);
  visits->threads.insert(std::this_thread::get_id());
}

TEST(ThreadPoolTest, RunsEveryWorkgroupExactlyOnce) {
  for (unsigned threads : {1u, 2u, 3u, 7u}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    // Many grids in a row, of sizes below, at and above the thread count.
    for (int64_t n : {0, 1, 2, 5, 64, 1000}) {
      Visits visits(n);
      pool.runGrid(n, visit, &visits);
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(visits.count[i].load(), 1) << "workgroup " << i << " of " << n
                                             << ", " << threads << " threads";
    }
  }
}

TEST(ThreadPoolTest, OneThreadRunsOnTheCaller) {
  ThreadPool pool(1);
  Visits visits(100);
  pool.runGrid(100, visit, &visits);
  ASSERT_EQ(visits.threads.size(), 1u);
  EXPECT_EQ(*visits.threads.begin(), std::this_thread::get_id());
}

TEST(ThreadPoolTest, TheExecutorRecordCallsThePool) {
  ThreadPool pool(3);
  const moe_executor *executor = pool.executor();
  ASSERT_NE(executor, nullptr);
  Visits visits(50);
  executor->run_grid(executor->context, 50, visit, &visits);
  for (int64_t i = 0; i < 50; ++i)
    EXPECT_EQ(visits.count[i].load(), 1);
}

TEST(ThreadPoolTest, ZeroThreadsMeansOne) {
  ThreadPool pool(0);
  EXPECT_EQ(pool.threads(), 1u);
}

/// Sets MOE_NUM_THREADS for one test and restores it.
class NumThreadsVariable {
public:
  explicit NumThreadsVariable(const char *value) {
    if (const char *old = std::getenv("MOE_NUM_THREADS"))
      saved = old;
    if (value)
      setenv("MOE_NUM_THREADS", value, 1);
    else
      unsetenv("MOE_NUM_THREADS");
  }
  ~NumThreadsVariable() {
    if (saved.empty())
      unsetenv("MOE_NUM_THREADS");
    else
      setenv("MOE_NUM_THREADS", saved.c_str(), 1);
  }

private:
  std::string saved;
};

TEST(ThreadPoolTest, DefaultThreadCountReadsTheEnvironment) {
  {
    NumThreadsVariable unset(nullptr);
    Expected<unsigned> count = defaultThreadCount();
    ASSERT_TRUE(count.ok()) << count.message();
    EXPECT_EQ(*count, availableCpus());
  }
  {
    NumThreadsVariable three("3");
    Expected<unsigned> count = defaultThreadCount();
    ASSERT_TRUE(count.ok()) << count.message();
    EXPECT_EQ(*count, 3u);
  }
  for (const char *bad :
       {"0", "-2", "two", "", "3x", "1025", "99999999999999999999"}) {
    NumThreadsVariable value(bad);
    Expected<unsigned> count = defaultThreadCount();
    ASSERT_FALSE(count.ok()) << bad;
    EXPECT_EQ(count.message(), std::string("MOE_NUM_THREADS must be an "
                                           "integer in [1, 1024], got '") +
                                   bad + "'");
  }
}

} // namespace
