#include "journal/file_tail.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <vector>

#include "base/fs.h"

namespace berth::journal::detail {
namespace {

// The rotated names a writer may be shifting; a gap of one is possible
// mid-shift, two missing in a row means the end.
constexpr int kMaxRotated = 64;

struct Opened {
  UniqueFd fd;
  struct stat st {};
};

// Opens a file for reading; an invalid fd (no error) when it does not exist.
Result<Opened> open_ro(const std::string& p) {
  Opened o;
  o.fd.reset(::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!o.fd) {
    if (errno == ENOENT) return o;
    return sys_error("open " + p);
  }
  if (::fstat(o.fd.get(), &o.st) != 0) return sys_error("stat " + p);
  if (!S_ISREG(o.st.st_mode)) return Error(Errc::invalid_input, p + ": not a regular file");
  return o;
}

int64_t mono_ms() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

}  // namespace

Result<FileTail> FileTail::open(const std::string& path, bool rotated, bool at_end) {
  FileTail t(path);
  auto slash = path.find_last_of('/');
  t.base_ = slash == std::string::npos ? path : path.substr(slash + 1);
  // The current file first, then the rotated ones newest first: a rotation
  // racing this shows up as an inode we already hold, skipped, never as a gap.
  TRY_ASSIGN(Opened cur, open_ro(path));
  if (cur.fd) {
    t.cur_.dev = cur.st.st_dev;
    t.cur_.ino = cur.st.st_ino;
    t.cur_.fd = std::move(cur.fd);
    if (at_end && cur.st.st_size > 0) {
      t.cur_.off = static_cast<uint64_t>(cur.st.st_size);
      char last = 0;
      // Starting mid-line: the rest of that line is not ours to show.
      if (::pread(t.cur_.fd.get(), &last, 1, cur.st.st_size - 1) == 1 && last != '\n') t.skipping_ = true;
    }
  }
  if (at_end && !t.cur_.fd) {
    // Nothing current yet: what a rotation already left behind is old news.
    TRY_ASSIGN(Opened o, open_ro(path + ".1"));
    if (o.fd) {
      t.have_last_ = true;
      t.last_dev_ = o.st.st_dev;
      t.last_ino_ = o.st.st_ino;
    }
  }
  if (rotated && !at_end) {
    int misses = 0;
    for (int i = 1; i <= kMaxRotated && misses < 2; ++i) {
      TRY_ASSIGN(Opened o, open_ro(path + "." + std::to_string(i)));
      if (!o.fd) {
        ++misses;
        continue;
      }
      misses = 0;
      bool dup = t.cur_.fd && o.st.st_ino == t.cur_.ino && o.st.st_dev == t.cur_.dev;
      for (auto& f : t.older_) dup = dup || (f.ino == o.st.st_ino && f.dev == o.st.st_dev);
      if (dup) continue;
      File f;
      f.dev = o.st.st_dev;
      f.ino = o.st.st_ino;
      f.fd = std::move(o.fd);
      t.older_.push_front(std::move(f));  // higher index = older = read first
    }
  }
  return t;
}

void FileTail::watch() {
  UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd) return;  // out of inotify instances: wait() falls back to a timed sleep
  std::string dir = dirname_of(path_);
  if (::inotify_add_watch(fd.get(), dir.c_str(),
                          IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE) < 0)
    return;
  inotify_ = std::move(fd);
}

void FileTail::wait(int timeout_ms) {
  if (!inotify_) {
    ::poll(nullptr, 0, timeout_ms);
    return;
  }
  const int64_t deadline = mono_ms() + timeout_ms;
  for (;;) {
    int left = static_cast<int>(deadline - mono_ms());
    if (left <= 0) return;
    struct pollfd p = {inotify_.get(), POLLIN, 0};
    int r = ::poll(&p, 1, left);
    if (r <= 0) return;  // timeout, or EINTR: the caller re-checks anyway
    alignas(struct inotify_event) char buf[8192];
    bool ours = false;
    for (;;) {
      ssize_t n = ::read(inotify_.get(), buf, sizeof buf);
      if (n <= 0) break;
      for (char* q = buf; q < buf + n;) {
        auto* ev = reinterpret_cast<struct inotify_event*>(q);
        // Other files in the directory (the store root is busy) do not wake us.
        if (ev->len == 0 || (ev->mask & IN_Q_OVERFLOW) || std::string_view(ev->name).starts_with(base_))
          ours = true;
        q += sizeof(struct inotify_event) + ev->len;
      }
    }
    if (ours) return;
  }
}

void FileTail::seek_current(uint64_t off) {
  older_.clear();
  cur_.off = off;
  carry_.clear();
  skipping_ = false;
}

Result<bool> FileTail::drain(File& f, const std::function<bool(std::string_view)>& on_line) {
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::pread(f.fd.get(), buf, sizeof buf, static_cast<off_t>(f.off));
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("read " + path_);
    }
    if (n == 0) return true;
    f.off += static_cast<uint64_t>(n);
    std::string_view data(buf, static_cast<size_t>(n));
    while (!data.empty()) {
      size_t nl = data.find('\n');
      if (nl == std::string_view::npos) {
        if (!skipping_) {
          carry_.append(data);
          if (carry_.size() > kMaxLine) {
            carry_.clear();
            skipping_ = true;
          }
        }
        break;
      }
      std::string_view piece = data.substr(0, nl);
      data.remove_prefix(nl + 1);
      if (skipping_) {
        skipping_ = false;
        continue;
      }
      bool go;
      if (carry_.empty()) {
        go = on_line(piece);
      } else {
        carry_.append(piece);
        go = on_line(carry_);
        carry_.clear();
      }
      if (!go) return false;
    }
  }
}

Status FileTail::rotated_to(File next) {
  if (cur_.fd) {
    have_last_ = true;
    last_dev_ = cur_.dev;
    last_ino_ = cur_.ino;
  }
  {
    // Files renamed between the one we finished and the new current one: the
    // writer outran us by more than one rotation (or rotated before we first
    // saw the name). Anything it already deleted is gone; everything still
    // on disk is read, in order.
    struct Rot {
      int idx;
      File f;
    };
    std::vector<Rot> rot;
    int misses = 0, a = -1, c = 0;
    for (int i = 1; i <= kMaxRotated && misses < 2; ++i) {
      TRY_ASSIGN(Opened o, open_ro(path_ + "." + std::to_string(i)));
      if (!o.fd) {
        ++misses;
        continue;
      }
      misses = 0;
      if (have_last_ && o.st.st_ino == last_ino_ && o.st.st_dev == last_dev_) {
        a = i;
        continue;
      }
      if (o.st.st_ino == next.ino && o.st.st_dev == next.dev) {
        c = i;
        continue;
      }
      File f;
      f.dev = o.st.st_dev;
      f.ino = o.st.st_ino;
      f.fd = std::move(o.fd);
      rot.push_back({i, std::move(f)});
    }
    for (auto it = rot.rbegin(); it != rot.rend(); ++it)
      if (it->idx > c && (a < 0 || it->idx < a)) older_.push_back(std::move(it->f));
  }
  cur_ = std::move(next);
  carry_.clear();
  skipping_ = false;
  return Status{};
}

Status FileTail::poll(const std::function<bool(std::string_view)>& on_line) {
  auto drain_older = [&]() -> Result<bool> {
    while (!older_.empty()) {
      File f = std::move(older_.front());
      older_.pop_front();
      have_last_ = true;
      last_dev_ = f.dev;
      last_ino_ = f.ino;
      TRY_ASSIGN(bool go, drain(f, on_line));
      carry_.clear();  // an unterminated line in a rotated file never completes
      skipping_ = false;
      if (!go) return false;
    }
    return true;
  };
  TRY_ASSIGN(bool go, drain_older());
  if (!go) return Status{};
  for (int round = 0; round < 16; ++round) {
    // Name first, then the data: if the name already points elsewhere, the
    // writer finished with our file before renaming it, so draining it now
    // reads everything it will ever hold.
    struct stat st;
    bool exists = ::stat(path_.c_str(), &st) == 0;
    if (cur_.fd) {
      TRY_ASSIGN(go, drain(cur_, on_line));
      if (!go) return Status{};
      struct stat cs;
      if (::fstat(cur_.fd.get(), &cs) == 0 && static_cast<uint64_t>(cs.st_size) < cur_.off) {
        // Truncated in place (copytruncate by an outside tool): start over.
        cur_.off = 0;
        carry_.clear();
        skipping_ = false;
        continue;
      }
    }
    if (!exists) return Status{};  // mid-rotation, or not created yet
    if (cur_.fd && st.st_ino == cur_.ino && st.st_dev == cur_.dev) return Status{};
    TRY_ASSIGN(Opened o, open_ro(path_));
    if (!o.fd) return Status{};
    if (o.st.st_ino != st.st_ino || o.st.st_dev != st.st_dev) continue;  // rotated again meanwhile
    File next;
    next.dev = o.st.st_dev;
    next.ino = o.st.st_ino;
    next.fd = std::move(o.fd);
    TRY(rotated_to(std::move(next)));
    TRY_ASSIGN(go, drain_older());
    if (!go) return Status{};
  }
  return Status{};
}

}  // namespace berth::journal::detail
