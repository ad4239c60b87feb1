#include "layer/pool.h"

namespace berth::layer::detail {

namespace {
constexpr size_t kMaxJobs = 256;
constexpr size_t kMaxBytes = 32u << 20;
}  // namespace

FilePool::FilePool(unsigned threads) {
  for (unsigned i = 0; i < threads; i++) threads_.emplace_back([this] { run(); });
}

FilePool::~FilePool() {
  {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return q_.empty() && running_ == 0; });
    stop_ = true;
    cv_.notify_all();
  }
  for (auto& t : threads_) t.join();
}

void FilePool::run() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || !q_.empty(); });
    if (q_.empty()) return;  // stop_
    auto [job, bytes] = std::move(q_.front());
    q_.pop_front();
    running_++;
    bool skip = error_.has_value();  // after a failure, remaining jobs are dropped
    lk.unlock();
    Status s = skip ? Status{} : job();
    job = nullptr;  // release the job's fds and buffers outside the lock
    lk.lock();
    running_--;
    bytes_ -= bytes;
    if (!s && !error_) error_ = std::move(s).error();
    cv_.notify_all();
  }
}

Status FilePool::submit(std::function<Status()> job, size_t bytes) {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return error_ || (q_.size() < kMaxJobs && (bytes_ == 0 || bytes_ + bytes <= kMaxBytes)); });
  if (error_) return *error_;
  bytes_ += bytes;
  q_.emplace_back(std::move(job), bytes);
  cv_.notify_all();
  return Status{};
}

Status FilePool::drain() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return q_.empty() && running_ == 0; });
  if (error_) return *error_;
  return Status{};
}

bool FilePool::idle() {
  std::lock_guard lk(mu_);
  return q_.empty() && running_ == 0;
}

}  // namespace berth::layer::detail
