// berth/content: streaming writers and the ingest area.
//
// An ingest entry is a directory ingest/<sha256(ref)>/ holding `data` (the
// bytes so far) and `state` ("<alg>\n<ref>\n"). Entries are assembled under a
// .tmp name and renamed into place, so a visible entry is always complete; they
// leave by being renamed to a .trash name first, so a ref is freed atomically.
// Ownership is an flock on `data`: the kernel drops it when a writer dies, which
// is exactly when resume() should be allowed to take over.
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>

#include "base/fs.h"
#include "content/internal.h"
#include "content/stream_hash.h"
#include "content/store.h"

namespace berth::content {

using detail::kBufSize;

namespace {

// SHA-256 runs at ~1.7 GB/s and copying into the page cache at about the
// same speed: hashing a chunk on a helper thread while the caller's thread
// write()s it makes large ingests cost max(hash, write) instead of the sum.
// The thread starts on the first large chunk, so small blobs never pay for it.
class HashWorker {
 public:
  explicit HashWorker(Hasher* h) : h_(h) {}
  HashWorker(const HashWorker&) = delete;
  HashWorker& operator=(const HashWorker&) = delete;
  ~HashWorker() {
    if (!t_.joinable()) return;
    {
      std::lock_guard l(m_);
      quit_ = true;
    }
    cv_.notify_all();
    t_.join();
  }
  // The bytes must stay valid until wait() returns.
  void start(const char* p, size_t n) {
    if (!t_.joinable()) t_ = std::thread([this] { loop(); });
    {
      std::lock_guard l(m_);
      p_ = p;
      n_ = n;
      busy_ = true;
    }
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock l(m_);
    cv_.wait(l, [&] { return !busy_; });
  }

 private:
  void loop() {
    std::unique_lock l(m_);
    for (;;) {
      cv_.wait(l, [&] { return busy_ || quit_; });
      if (!busy_) return;  // quit with no work pending
      const char* p = p_;
      size_t n = n_;
      l.unlock();
      h_->update(p, n);
      l.lock();
      busy_ = false;
      cv_.notify_all();
    }
  }

  Hasher* h_;
  std::thread t_;
  std::mutex m_;
  std::condition_variable cv_;
  const char* p_ = nullptr;
  size_t n_ = 0;
  bool busy_ = false;
  bool quit_ = false;
};

}  // namespace

struct Writer::Impl {
  std::string root;
  std::string ref;
  std::string dir;  // ingest/<sha256(ref)>
  bool anonymous = false;
  DigestAlg alg = DigestAlg::sha256;
  UniqueFd fd;  // the data file, flock'ed for as long as we live
  Hasher hasher;
  uint64_t offset = 0;
  std::unique_ptr<char[]> buf = std::make_unique<char[]>(kBufSize);
  size_t buffered = 0;
  uint64_t in_file = 0;         // bytes written to the data file
  uint64_t writeback_from = 0;  // writeback started for bytes before this offset
  static constexpr uint64_t kWritebackChunk = 8 << 20;
  bool state_saved = false;  // the hashstate file already describes in_file bytes
  bool failed = false;  // a write failed: the file no longer matches the hash
  bool done = false;    // committed or aborted

  // Below this, handing a chunk to another thread costs more than hashing it.
  static constexpr size_t kParallelMin = 256 << 10;
  HashWorker hash_worker{&hasher};

  explicit Impl(DigestAlg a) : alg(a), hasher(a) {}

  Error broken() const {
    return Error(Errc::io, "ingest \"" + ref + "\": an earlier write failed; abort or resume it");
  }
  Status flush() {
    if (buffered == 0) return Status{};
    size_t n = std::exchange(buffered, 0);
    return put(buf.get(), n);
  }
  // Hashes and writes bytes to the file (in parallel for large chunks) and
  // keeps writeback going. Every byte passes here exactly once, so the hash
  // always covers exactly what was handed to the file.
  Status put(const char* p, size_t n) {
    Status s;
    if (n >= kParallelMin) {
      hash_worker.start(p, n);
      s = write_all(fd.get(), p, n);
      hash_worker.wait();
    } else {
      hasher.update(p, n);
      s = write_all(fd.get(), p, n);
    }
    if (!s) {
      failed = true;
      return std::move(s).error().wrap("ingest \"" + ref + "\"");
    }
    in_file += n;
    state_saved = false;
    // Start writeback of every few MiB as we go, so the fsync at commit finds
    // little left to do and disk writes overlap hashing. Advisory: errors
    // surface at fsync.
    if (in_file - writeback_from >= kWritebackChunk) {
      ::sync_file_range(fd.get(), static_cast<off_t>(writeback_from), static_cast<off_t>(in_file - writeback_from),
                        SYNC_FILE_RANGE_WRITE);
      writeback_from = in_file;
    }
    return Status{};
  }
  // Saves the hash state next to the data so resume() need not re-hash what
  // is already there. The data is synced first: the state must never describe
  // bytes a power loss could still take back. Best effort: without a valid
  // state, resume() simply re-hashes.
  void checkpoint() {
    if (state_saved || in_file == 0 || hasher.bytes() != in_file || ::fdatasync(fd.get()) != 0) return;
    std::string tmp = path_join(dir, "hashstate.tmp");
    std::string saved = detail::save_hash(hasher);
    UniqueFd sfd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!sfd || !write_all(sfd.get(), saved.data(), saved.size())) return;
    sfd.reset();
    ::rename(tmp.c_str(), path_join(dir, "hashstate").c_str());
  }
  void discard() {
    done = true;
    fd.reset();
    (void)detail::discard_dir(root, dir);
  }
};

Writer::Writer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Writer::Writer(Writer&&) noexcept = default;
Writer& Writer::operator=(Writer&& o) noexcept {
  if (this != &o) {
    Writer dying(std::move(*this));  // runs our destructor semantics on the old impl
    impl_ = std::move(o.impl_);
  }
  return *this;
}

Writer::~Writer() {
  if (!impl_ || impl_->done) return;
  if (impl_->anonymous) {
    impl_->discard();
  } else if (!impl_->failed) {
    // Keep what we have for resume(); resume() re-hashes whatever the saved
    // state does not cover, so even a failed flush leaves a consistent (just
    // shorter) ingest.
    if (impl_->flush()) impl_->checkpoint();
  }
}

uint64_t Writer::offset() const { return impl_ ? impl_->offset : 0; }
const std::string& Writer::ref() const {
  static const std::string none;
  return impl_ ? impl_->ref : none;
}

Status Writer::write(const void* data, size_t len) {
  if (!impl_ || impl_->done) return Error(Errc::invalid_argument, "write to a committed or aborted content writer");
  Impl& w = *impl_;
  if (w.failed) return w.broken();
  if (len == 0) return Status{};
  const char* p = static_cast<const char*>(data);
  w.offset += len;
  if (w.buffered + len < kBufSize) {
    std::memcpy(w.buf.get() + w.buffered, p, len);
    w.buffered += len;
    return Status{};
  }
  // Top up and flush a partly filled buffer, then write whole buffers
  // straight from the caller's memory: large writes cost one copy less.
  if (w.buffered > 0) {
    size_t fill = kBufSize - w.buffered;
    std::memcpy(w.buf.get() + w.buffered, p, fill);
    w.buffered = kBufSize;
    p += fill;
    len -= fill;
    TRY(w.flush());
  }
  size_t direct = len - len % kBufSize;
  if (direct > 0) {
    TRY(w.put(p, direct));
    p += direct;
    len -= direct;
  }
  std::memcpy(w.buf.get(), p, len);
  w.buffered = len;
  return Status{};
}

Status Writer::flush() {
  if (!impl_ || impl_->done) return Error(Errc::invalid_argument, "flush of a committed or aborted content writer");
  if (impl_->failed) return impl_->broken();
  return impl_->flush();
}

Result<Digest> Writer::commit(std::optional<Digest> expected, std::optional<uint64_t> expected_size) {
  if (!impl_ || impl_->done) return Error(Errc::invalid_argument, "commit of a committed or aborted content writer");
  Impl& w = *impl_;
  std::string what = "commit \"" + w.ref + "\"";
  if (w.failed) {
    Error e = w.broken();
    if (w.anonymous) w.discard();
    return e;
  }
  if (auto s = w.flush(); !s) {
    if (w.anonymous) w.discard();
    return std::move(s).error();
  }
  if (expected && expected->alg() != w.alg) {
    w.discard();
    return Error(Errc::invalid_argument, what + ": expected digest " + expected->str() + " uses another algorithm than the writer");
  }
  if (expected_size && *expected_size != w.offset) {
    w.discard();
    return Error(Errc::size_mismatch, what + ": expected " + std::to_string(*expected_size) + " bytes, got " +
                                          std::to_string(w.offset));
  }
  Digest got = w.hasher.finish();
  if (expected && !(got == *expected)) {
    w.discard();
    return Error(Errc::digest_mismatch, what + ": expected " + expected->str() + ", content hashes to " + got.str());
  }
  // Claim the entry first: from here on the ref is free and nobody can resume
  // into a file that is about to become a blob.
  std::string claimed = path_join(detail::ingest_root(w.root), unique_name(detail::kTrashPrefix));
  if (::rename(w.dir.c_str(), claimed.c_str()) != 0) {
    Error e = sys_error(what + ": claim " + w.dir);
    w.discard();
    return e;
  }
  w.dir = claimed;
  if (::fchmod(w.fd.get(), 0444) != 0 || ::fsync(w.fd.get()) != 0) {
    Error e = sys_error(what + ": fsync");
    w.discard();
    return e;
  }
  auto pub = detail::publish(w.root, path_join(claimed, "data"), got);
  w.discard();
  if (!pub) return std::move(pub).error();
  return got;
}

void Writer::abort() {
  if (impl_ && !impl_->done) impl_->discard();
}

// ---- ingest management on Store ----

static Status validate_ref(const std::string& ref) {
  if (ref.empty() || ref.size() > 256)
    return Error(Errc::invalid_argument, "ingest ref must be 1..256 characters, got " + std::to_string(ref.size()));
  for (unsigned char c : ref)
    if (c < 0x21 || c > 0x7e)
      return Error(Errc::invalid_argument, "ingest ref \"" + ref.substr(0, 64) + "\": only printable ASCII is allowed");
  return Status{};
}

static std::string ref_dir(const std::string& root, const std::string& ref) {
  return path_join(detail::ingest_root(root), Digest::of(ref).hex());
}

static Result<std::pair<DigestAlg, std::string>> read_state(const std::string& dir) {
  TRY_ASSIGN(std::string s, read_file(path_join(dir, "state"), 4096));
  auto nl = s.find('\n');
  if (nl == std::string::npos || s.empty() || s.back() != '\n')
    return Error(Errc::invalid_input, "ingest " + dir + ": malformed state file");
  std::string alg = s.substr(0, nl), ref = s.substr(nl + 1, s.size() - nl - 2);
  if (alg != "sha256" && alg != "sha512") return Error(Errc::invalid_input, "ingest " + dir + ": unknown algorithm " + alg);
  return std::pair{alg == "sha256" ? DigestAlg::sha256 : DigestAlg::sha512, ref};
}

// Opens and locks the data file of an existing entry. busy if held by a live
// writer; not_found if absent or removed between our open and our lock.
static Result<UniqueFd> lock_entry(const std::string& dir, const std::string& what) {
  std::string data = path_join(dir, "data");
  UniqueFd fd(::open(data.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return Error(Errc::not_found, what + ": no such ingest");
    return sys_error(what + ": open " + data);
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return Error(Errc::busy, what + ": held by another writer");
    return sys_error(what + ": lock " + data);
  }
  // Whoever held the lock before us may have renamed the entry away (commit,
  // abort, expiry); then the inode we locked is no longer the ref's.
  struct stat a, b;
  if (::fstat(fd.get(), &a) != 0) return sys_error(what + ": stat " + data);
  if (::stat(data.c_str(), &b) != 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
    return Error(Errc::not_found, what + ": no such ingest");
  return fd;
}

Result<Writer> Store::writer(std::string ref, DigestAlg alg) {
  bool anonymous = ref.empty();
  if (anonymous) ref = unique_name("anonymous");
  TRY(validate_ref(ref));
  std::string what = "ingest \"" + ref + "\"";
  std::string ingest = detail::ingest_root(root_);
  std::string tmp = path_join(ingest, unique_name(detail::kTmpPrefix));
  if (::mkdir(tmp.c_str(), 0700) != 0) return sys_error(what + ": create " + tmp);
  auto fail = [&](Error e) -> Error {
    (void)remove_all(tmp);
    return e;
  };
  std::string state = std::string(alg == DigestAlg::sha256 ? "sha256" : "sha512") + "\n" + ref + "\n";
  {
    // Only named entries must survive a crash; anonymous ones skip the fsync.
    UniqueFd sfd(::open(path_join(tmp, "state").c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!sfd) return fail(sys_error(what + ": create state"));
    if (auto s = write_all(sfd.get(), state.data(), state.size()); !s) return fail(std::move(s).error().wrap(what));
    if (!anonymous && ::fsync(sfd.get()) != 0) return fail(sys_error(what + ": fsync state"));
  }
  auto impl = std::make_unique<Writer::Impl>(alg);
  impl->fd.reset(::open(path_join(tmp, "data").c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!impl->fd) return fail(sys_error(what + ": create data"));
  if (::flock(impl->fd.get(), LOCK_EX | LOCK_NB) != 0) return fail(sys_error(what + ": lock data"));
  std::string dir = ref_dir(root_, ref);
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dir.c_str(), RENAME_NOREPLACE) != 0) {
    int e = errno;
    if (e == EEXIST || e == ENOTEMPTY) {
      (void)remove_all(tmp);
      auto held = lock_entry(dir, what);
      if (!held && held.error().code == Errc::busy) return std::move(held).error();
      return Error(Errc::already_exists, what + ": already exists (resume or abort it)");
    }
    return fail(sys_error(what + ": publish " + tmp, e));
  }
  if (!anonymous) (void)fsync_dir(ingest);
  impl->root = root_;
  impl->ref = std::move(ref);
  impl->dir = std::move(dir);
  impl->anonymous = anonymous;
  return Writer(std::move(impl));
}

Result<Writer> Store::resume(const std::string& ref) {
  TRY(validate_ref(ref));
  std::string what = "resume ingest \"" + ref + "\"";
  std::string dir = ref_dir(root_, ref);
  TRY_ASSIGN(UniqueFd fd, lock_entry(dir, what));
  TRY_ASSIGN(auto st, read_state(dir));
  if (st.second != ref) return Error(Errc::invalid_input, what + ": state names another ref");
  auto impl = std::make_unique<Writer::Impl>(st.first);
  // The bytes in the file are the truth (a crash may have cut a write short).
  // A saved hash state covers a prefix of them (the file only ever grows, and
  // the prefix was synced before the state was written); hash the rest.
  struct stat sb;
  if (::fstat(fd.get(), &sb) != 0) return sys_error(what + ": stat");
  uint64_t start = 0;
  if (auto saved = read_file(path_join(dir, "hashstate"), 4096); saved) {
    auto h = detail::load_hash(*saved, st.first);
    if (h && h->bytes() <= static_cast<uint64_t>(sb.st_size)) {
      start = h->bytes();
      impl->hasher = std::move(*h);
    }
  }
  if (::lseek(fd.get(), static_cast<off_t>(start), SEEK_SET) < 0) return sys_error(what + ": seek");
  for (;;) {
    auto r = read_full(fd.get(), impl->buf.get(), kBufSize);
    if (!r) return std::move(r).error().wrap(what);
    if (*r == 0) break;
    impl->hasher.update(impl->buf.get(), *r);
  }
  impl->offset = impl->hasher.bytes();
  impl->in_file = impl->writeback_from = impl->offset;
  impl->state_saved = start > 0 && start == impl->offset;  // a status check writes nothing back
  // Positioned at the end now: further writes append.
  impl->fd = std::move(fd);  // positioned at the end: further writes append
  impl->root = root_;
  impl->ref = ref;
  impl->dir = std::move(dir);
  return Writer(std::move(impl));
}

Result<IngestInfo> Store::ingest_info(const std::string& ref) const {
  TRY(validate_ref(ref));
  struct stat st;
  std::string data = path_join(ref_dir(root_, ref), "data");
  if (::stat(data.c_str(), &st) != 0) {
    if (errno == ENOENT) return Error(Errc::not_found, "ingest \"" + ref + "\": no such ingest");
    return sys_error("ingest \"" + ref + "\": stat");
  }
  return IngestInfo{ref, static_cast<uint64_t>(st.st_size), static_cast<int64_t>(st.st_mtim.tv_sec)};
}

// Calls fn(name) for each entry of ingest/.
template <class Fn>
static Status for_each_entry(const std::string& ingest, Fn fn) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(ingest.c_str()), ::closedir);
  if (!d) return sys_error("list ingests: open " + ingest);
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    struct dirent* e = ::readdir(d.get());
    if (!e) {
      if (errno != 0) return sys_error("list ingests: read " + ingest);
      break;
    }
    if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
    names.emplace_back(e->d_name);
  }
  for (auto& n : names) TRY(fn(n));
  return Status{};
}

Result<std::vector<IngestInfo>> Store::list_ingests() const {
  std::vector<IngestInfo> out;
  std::string ingest = detail::ingest_root(root_);
  TRY(for_each_entry(ingest, [&](const std::string& name) -> Status {
    if (name[0] == '.') return Status{};
    std::string dir = path_join(ingest, name);
    auto st = read_state(dir);
    struct stat sb;
    if (!st || ::stat(path_join(dir, "data").c_str(), &sb) != 0) return Status{};  // vanished meanwhile
    out.push_back(IngestInfo{st->second, static_cast<uint64_t>(sb.st_size), static_cast<int64_t>(sb.st_mtim.tv_sec)});
    return Status{};
  }));
  return out;
}

Status Store::abort_ingest(const std::string& ref) {
  TRY(validate_ref(ref));
  std::string dir = ref_dir(root_, ref);
  TRY_ASSIGN(UniqueFd fd, lock_entry(dir, "abort ingest \"" + ref + "\""));
  return detail::discard_dir(root_, dir);  // fd (and the lock) closes after the rename
}

Status Store::expire_ingests(int64_t max_age_seconds, const std::function<bool(const std::string& ref)>& keep) {
  std::string ingest = detail::ingest_root(root_);
  int64_t now = ::time(nullptr);
  return for_each_entry(ingest, [&](const std::string& name) -> Status {
    std::string dir = path_join(ingest, name);
    struct stat ds, fs;
    if (::lstat(dir.c_str(), &ds) != 0) return Status{};
    int64_t newest = ds.st_mtim.tv_sec;
    std::string data = path_join(dir, "data");
    bool has_data = ::stat(data.c_str(), &fs) == 0;
    if (has_data) newest = std::max<int64_t>(newest, fs.st_mtim.tv_sec);
    if (now - newest < max_age_seconds) return Status{};
    if (!S_ISDIR(ds.st_mode)) {
      ::unlink(dir.c_str());
      return Status{};
    }
    UniqueFd held;
    if (has_data) {
      // A live writer (even an idle one) keeps its entry.
      held.reset(::open(data.c_str(), O_RDONLY | O_CLOEXEC));
      if (held && ::flock(held.get(), LOCK_EX | LOCK_NB) != 0) return Status{};
    }
    if (name[0] == '.') return remove_all(dir);  // .tmp/.trash leftovers of dead processes
    if (keep) {
      auto st = read_state(dir);
      if (st && keep(st->second)) return Status{};
    }
    return detail::discard_dir(root_, dir);
  });
}

}  // namespace berth::content
