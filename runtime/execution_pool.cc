#include "runtime/execution_pool.h"

#include <algorithm>

#include <boost/asio/post.hpp>

#include "core/thread_name.h"

namespace polaris {

int default_execution_threads() { return std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, 2); }

ExecutionPool::ExecutionPool(int threads) : work_(boost::asio::make_work_guard(io_)) {
  const int n = threads > 0 ? threads : default_execution_threads();
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] {
      name_this_thread("polaris-exec");
      io_.run();
    });
}

ExecutionPool::~ExecutionPool() {
  work_.reset();  // run() returns once nothing is posted or pending
  for (std::thread& t : threads_) t.join();
}

void ExecutionPool::post(std::function<void()> work) { boost::asio::post(io_, std::move(work)); }

std::unique_ptr<boost::asio::steady_timer> ExecutionPool::make_timer() {
  return std::make_unique<boost::asio::steady_timer>(io_);
}

}  // namespace polaris
