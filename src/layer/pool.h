// berth/layer (internal): a few threads that create small regular files.
//
// Creating a file is mostly kernel work (inode allocation, directory insert);
// with tens of thousands of small files one thread leaves cores idle. The
// applier hands self-contained jobs (parent dir fd, name, bytes, metadata)
// to this pool and keeps every namespace-changing operation (directories,
// links, whiteouts, replacements) on its own thread, calling drain() first,
// so entries still take effect in tar order wherever order matters.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "base/error.h"

namespace berth::layer::detail {

class FilePool {
 public:
  explicit FilePool(unsigned threads);
  ~FilePool();  // drains and joins
  FilePool(const FilePool&) = delete;
  FilePool& operator=(const FilePool&) = delete;

  // Queues a job (blocks while too many bytes or jobs are in flight).
  // Returns the first error of any earlier job, so callers stop early.
  Status submit(std::function<Status()> job, size_t bytes);
  // Waits until every queued job finished; the first job error, if any.
  Status drain();
  bool idle();

 private:
  void run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::function<Status()>, size_t>> q_;
  size_t bytes_ = 0, running_ = 0;
  bool stop_ = false;
  std::optional<Error> error_;
  std::vector<std::thread> threads_;
};

}  // namespace berth::layer::detail
