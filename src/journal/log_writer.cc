// LogWriter: container output to CRI records, batched, rotated by size.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "journal/log.h"
#include "journal/time.h"

namespace berth::journal {
namespace {
constexpr size_t kMaxBatch = 64 * 1024;
// Buffers bigger than this are freed once a chunk is written: a monitor sleeps
// between chunks for as long as its container is quiet, and should not keep a
// burst's worth of memory meanwhile (its RSS budget is 1 MiB).
constexpr size_t kKeepBuffer = 4 * 1024;
}  // namespace

Result<LogWriter> LogWriter::open(const std::string& path, LogLimits limits) {
  // 0640: a container's output may hold secrets; the group is for log shippers.
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  if (!fd) return sys_error("open log " + path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return sys_error("stat log " + path);
  if (!S_ISREG(st.st_mode)) return Error(Errc::invalid_argument, "log " + path + ": not a regular file");
  return LogWriter(path, limits, std::move(fd), static_cast<uint64_t>(st.st_size));
}

LogWriter::~LogWriter() {
  if (!fd_) return;
  // Never throw or block long here: write what is pending, skip the sync.
  (void)emit_pending(Stream::out);
  (void)emit_pending(Stream::err);
  (void)write_batch();
}

Status LogWriter::add_record(int64_t t, Stream s, bool partial, std::string_view content) {
  const size_t len = 30 + 1 + 6 + 3 + content.size() + 1;
  if (limits_.max_bytes > 0 && size_ + batch_.size() + len > limits_.max_bytes && size_ + batch_.size() > 0) {
    TRY(write_batch());
    TRY(rotate());
  }
  // A pipe chunk of tiny lines grows ~40x in records: write in slices so
  // the monitor's memory stays small (its RSS budget is 1 MiB).
  if (batch_.size() + len > kMaxBatch && !batch_.empty()) TRY(write_batch());
  // Every line of one chunk shares its arrival time: format it once.
  if (t != stamp_ns_ || stamp_.empty()) {
    stamp_.clear();
    append_rfc3339nano(stamp_, t);
    stamp_ns_ = t;
  }
  batch_.append(stamp_);
  batch_.append(s == Stream::err ? " stderr " : " stdout ");
  batch_.append(partial ? "P " : "F ");
  batch_.append(content);
  batch_.push_back('\n');
  return Status{};
}

// One logical line (or, with partial, a piece of one) as records of at most
// kMaxRecord content bytes; all but the last are P.
Status LogWriter::add_line(int64_t t, Stream s, bool partial, std::string_view content) {
  while (content.size() > kMaxRecord) {
    TRY(add_record(t, s, true, content.substr(0, kMaxRecord)));
    content.remove_prefix(kMaxRecord);
  }
  return add_record(t, s, partial, content);
}

Status LogWriter::emit_pending(Stream s) {
  Pending& p = pending_[static_cast<int>(s)];
  if (!p.open) return Status{};
  p.open = false;
  if (p.bytes.empty()) return Status{};  // the line's bytes all went out as P already
  Status st = add_line(p.time_ns, s, true, p.bytes);
  p.bytes.clear();
  return st;
}

Status LogWriter::write(Stream s, std::string_view bytes) {
  if (!fd_) return Error(Errc::invalid_argument, "log " + path_ + ": closed");
  if (bytes.empty()) return Status{};
  const int64_t now = now_ns();
  Pending& p = pending_[static_cast<int>(s)];
  Status st;
  while (!bytes.empty() && st.ok()) {
    if (!p.open) {
      p.open = true;
      p.time_ns = now;
    }
    size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      p.bytes.append(bytes);
      bytes = {};
      // Bound the buffer: full pieces of a long line go out as P now.
      if (p.bytes.size() > kMaxRecord) {
        size_t cut = p.bytes.size() - p.bytes.size() % kMaxRecord;
        if (cut == p.bytes.size()) cut -= kMaxRecord;  // keep the tail: a newline may follow
        st = add_line(p.time_ns, s, true, std::string_view(p.bytes).substr(0, cut));
        p.bytes.erase(0, cut);
      }
      break;
    }
    std::string_view line = bytes.substr(0, nl);
    bytes.remove_prefix(nl + 1);
    if (p.bytes.empty()) {
      st = add_line(p.time_ns, s, false, line);  // the common case: no copy
    } else {
      p.bytes.append(line);
      st = add_line(p.time_ns, s, false, p.bytes);
      p.bytes.clear();
    }
    p.open = false;
  }
  Status w = write_batch();
  if (batch_.capacity() > kKeepBuffer) std::string().swap(batch_);
  if (p.bytes.empty() && p.bytes.capacity() > kKeepBuffer) std::string().swap(p.bytes);
  if (!st.ok()) return st;
  return w;
}

Status LogWriter::flush(bool sync) {
  if (!fd_) return Status{};
  Status a = emit_pending(Stream::out);
  Status b = emit_pending(Stream::err);
  TRY(write_batch());
  TRY(a);
  TRY(b);
  if (sync && ::fdatasync(fd_.get()) != 0) return sys_error("fdatasync log " + path_);
  return Status{};
}

Status LogWriter::close() {
  Status st = flush(true);
  fd_.reset();
  return st;
}

Status LogWriter::write_batch() {
  if (batch_.empty()) return Status{};
  Status st = write_all(fd_.get(), batch_.data(), batch_.size());
  // On failure (ENOSPC, EIO) the batch is dropped: the container keeps
  // running and later output gets its chance.
  if (st.ok()) size_ += batch_.size();
  batch_.clear();
  if (!st.ok()) return std::move(st).error().wrap("log " + path_);
  return Status{};
}

Status LogWriter::rotate() {
  // A follower holds the old file open by fd, so renaming (or unlinking)
  // it loses nothing for a reader that is mid-way through it.
  if (limits_.max_files <= 1) {
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT) return sys_error("rotate log " + path_);
  } else {
    for (int i = limits_.max_files - 1; i >= 2; --i) {
      std::string from = path_ + "." + std::to_string(i - 1), to = path_ + "." + std::to_string(i);
      if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) return sys_error("rotate log " + from);
    }
    if (::rename(path_.c_str(), (path_ + ".1").c_str()) != 0) return sys_error("rotate log " + path_);
  }
  UniqueFd fd(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  if (!fd) return sys_error("open log " + path_);
  fd_ = std::move(fd);
  size_ = 0;
  return Status{};
}

}  // namespace berth::journal
