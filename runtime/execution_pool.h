// ExecutionPool: the few threads that run engine executions for every model
// (the schedulers post batches here) and the timers the schedulers arm to
// close a batching window. One per ModelManager.
//
// Why a small shared pool: engine compute already runs on the engines'
// process-wide intra-op threads (backend.h, EngineThreads); these threads
// only call into the engine, so `threads` bounds how many executions run at
// once, whatever the number of models. Requests waiting in a queue hold no
// thread at all.
// Thread-safety: post() and make_timer() may be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace polaris {

class ExecutionPool {
 public:
  // `threads` <= 0: default_execution_threads().
  explicit ExecutionPool(int threads);
  ~ExecutionPool();  // runs what was posted, then joins
  ExecutionPool(const ExecutionPool&) = delete;
  ExecutionPool& operator=(const ExecutionPool&) = delete;

  void post(std::function<void()> work);
  // A timer whose handlers run on the pool.
  std::unique_ptr<boost::asio::steady_timer> make_timer();
  int threads() const { return static_cast<int>(threads_.size()); }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
};

// The default size: 2 (1 on a one-core machine). Each execution already
// uses every core through the engine's intra-op threads; two let a quick
// model run while a slow one computes, without multiplying libtorch's
// per-thread OpenMP teams (docs/scheduling.md, "Threads").
int default_execution_threads();

}  // namespace polaris
