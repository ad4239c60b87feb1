#include "content/store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "base/fs.h"

using namespace berth;
using berth::content::PutMode;
using berth::content::Store;

namespace {

class ContentStore : public ::testing::Test {
 protected:
  void SetUp() override {
    auto td = TempDir::create("/tmp", "berth-content-test");
    ASSERT_TRUE(td.ok()) << td.error().str();
    dir_.emplace(std::move(td).value());
    auto s = Store::open(dir_->path() + "/root");
    ASSERT_TRUE(s.ok()) << s.error().str();
    store_.emplace(std::move(s).value());
  }
  size_t ingest_entries() const {
    size_t n = 0;
    auto l = store_->list_ingests();
    if (l) n = l->size();
    return n;
  }
  // Counts every entry of ingest/, including .tmp/.trash leftovers.
  size_t raw_ingest_entries() const {
    std::string cmd = "ls -A " + store_->root() + "/ingest | wc -l";
    FILE* p = ::popen(cmd.c_str(), "r");
    int n = -1;
    if (p) {
      if (::fscanf(p, "%d", &n) != 1) n = -1;
      ::pclose(p);
    }
    return static_cast<size_t>(n);
  }
  std::optional<TempDir> dir_;
  std::optional<Store> store_;
};

std::string pattern(size_t n, unsigned seed = 1) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; i++) {
    x = x * 1103515245u + 12345u;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

}  // namespace

TEST_F(ContentStore, PutAndRead) {
  auto d = store_->put("hello");
  ASSERT_TRUE(d.ok()) << d.error().str();
  EXPECT_EQ(d->str(), "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  EXPECT_TRUE(store_->has(*d));
  EXPECT_EQ(*store_->read_blob(*d), "hello");
  auto info = store_->info(*d);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, 5u);
  EXPECT_GT(info->mtime, 0);
  EXPECT_TRUE(store_->verify(*d).ok());
  EXPECT_EQ(store_->blob_path(*d), store_->root() + "/blobs/sha256/" + d->hex());
  struct stat st;
  ASSERT_EQ(::stat(store_->blob_path(*d).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u);
  EXPECT_EQ(raw_ingest_entries(), 0u);
  // Idempotent.
  auto again = store_->put("hello");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *d);
  EXPECT_EQ(store_->read_blob(*d, 2).error().code, Errc::limit);
}

TEST_F(ContentStore, Sha512) {
  auto want = Digest::of("x", DigestAlg::sha512);
  auto d = store_->put("x", want);
  ASSERT_TRUE(d.ok()) << d.error().str();
  EXPECT_EQ(*d, want);
  EXPECT_TRUE(path_exists(store_->root() + "/blobs/sha512/" + want.hex()));
}

TEST_F(ContentStore, CorruptBlobNeverVisible) {
  Digest claimed = Digest::of("the real content");
  auto d = store_->put("tampered content", claimed);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, Errc::digest_mismatch);
  EXPECT_FALSE(store_->has(claimed));

  auto w = store_->writer();
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->write("tampered content").ok());
  auto c = w->commit(claimed);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, Errc::digest_mismatch);
  EXPECT_NE(c.error().message.find(claimed.str()), std::string::npos);
  EXPECT_FALSE(store_->has(claimed));
  EXPECT_FALSE(store_->has(Digest::of("tampered content")));
  EXPECT_TRUE(store_->list()->empty());
  EXPECT_EQ(raw_ingest_entries(), 0u);
}

TEST_F(ContentStore, SizeMismatch) {
  auto w = store_->writer("sized");
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->write("12345").ok());
  auto c = w->commit(Digest::of("12345"), 6);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, Errc::size_mismatch);
  EXPECT_FALSE(store_->has(Digest::of("12345")));
  EXPECT_EQ(raw_ingest_entries(), 0u);
  // A spent writer refuses further use.
  EXPECT_FALSE(w->write("x").ok());
  EXPECT_FALSE(w->commit().ok());
}

TEST_F(ContentStore, LargeStreamingWriteInOddChunks) {
  std::string data = pattern(5 * 1024 * 1024 + 17);
  auto w = store_->writer();
  ASSERT_TRUE(w.ok());
  size_t chunks[] = {1, 7, 4096, 1 << 20, 3 << 20, 100000};
  size_t off = 0, i = 0;
  while (off < data.size()) {
    size_t n = std::min(chunks[i++ % 6], data.size() - off);
    ASSERT_TRUE(w->write(data.data() + off, n).ok());
    off += n;
  }
  EXPECT_EQ(w->offset(), data.size());
  auto d = w->commit(Digest::of(data), data.size());
  ASSERT_TRUE(d.ok()) << d.error().str();
  EXPECT_EQ(*store_->read_blob(*d), data);
}

TEST_F(ContentStore, AnonymousWriterRemovedOnDestroy) {
  {
    auto w = store_->writer();
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->write("partial").ok());
    EXPECT_EQ(raw_ingest_entries(), 1u);
  }
  EXPECT_EQ(raw_ingest_entries(), 0u);
}

TEST_F(ContentStore, NamedRefResumesAcrossWriters) {
  std::string a = pattern(3 << 20, 2), b = pattern(1234567, 3);
  {
    auto w = store_->writer("upload-1");
    ASSERT_TRUE(w.ok()) << w.error().str();
    ASSERT_TRUE(w->write(a).ok());
    // Held: neither a second writer nor resume may interleave bytes.
    EXPECT_EQ(store_->resume("upload-1").error().code, Errc::busy);
    EXPECT_EQ(store_->writer("upload-1").error().code, Errc::busy);
    EXPECT_EQ(store_->abort_ingest("upload-1").error().code, Errc::busy);
  }  // destroyed without commit: kept
  auto info = store_->ingest_info("upload-1");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->offset, a.size());
  EXPECT_EQ(store_->writer("upload-1").error().code, Errc::already_exists);
  auto l = store_->list_ingests();
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 1u);
  EXPECT_EQ((*l)[0].ref, "upload-1");

  auto r = store_->resume("upload-1");
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->offset(), a.size());
  ASSERT_TRUE(r->write(b).ok());
  auto d = r->commit(Digest::of(a + b), a.size() + b.size());
  ASSERT_TRUE(d.ok()) << d.error().str();
  EXPECT_EQ(*store_->read_blob(*d), a + b);
  EXPECT_EQ(store_->resume("upload-1").error().code, Errc::not_found);
  EXPECT_EQ(raw_ingest_entries(), 0u);
}

TEST_F(ContentStore, ResumeInAnotherProcessAfterKill) {
  std::string a = pattern(2 << 20, 4);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto w = store_->writer("killed-upload");
    if (!w || !w->write(a) || !w->flush()) ::_exit(1);
    ::kill(::getpid(), SIGKILL);  // dies holding the lock; the kernel drops it
    ::_exit(2);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  auto r = store_->resume("killed-upload");
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->offset(), a.size());
  ASSERT_TRUE(r->write("tail").ok());
  auto d = r->commit(Digest::of(a + "tail"));
  ASSERT_TRUE(d.ok()) << d.error().str();
}

TEST_F(ContentStore, RefValidationAndAbort) {
  EXPECT_EQ(store_->writer("bad ref").error().code, Errc::invalid_argument);
  EXPECT_EQ(store_->writer(std::string(300, 'a')).error().code, Errc::invalid_argument);
  // Path-like refs are fine: they are hashed, never used as paths.
  auto w = store_->writer("../../etc/passwd");
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->write("x").ok());
  w->abort();
  EXPECT_EQ(raw_ingest_entries(), 0u);
  EXPECT_EQ(store_->abort_ingest("nope").error().code, Errc::not_found);
  {
    auto w2 = store_->writer("to-abort");
    ASSERT_TRUE(w2.ok());
  }
  EXPECT_TRUE(store_->abort_ingest("to-abort").ok());
  EXPECT_EQ(store_->ingest_info("to-abort").error().code, Errc::not_found);
}

TEST_F(ContentStore, ExpireIngestsSkipsLiveWriters) {
  {
    auto w = store_->writer("stale");
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->write("abc").ok());
  }
  auto live = store_->writer("live");
  ASSERT_TRUE(live.ok());
  ASSERT_TRUE(live->write("abc").ok());
  ASSERT_TRUE(live->flush().ok());
  // A leftover .tmp of a crashed creator.
  ASSERT_TRUE(mkdir_p(store_->root() + "/ingest/.tmp.999.deadbeef").ok());
  ASSERT_TRUE(store_->expire_ingests(3600).ok());
  EXPECT_EQ(raw_ingest_entries(), 3u);  // nothing is old enough
  ASSERT_TRUE(store_->expire_ingests(0).ok());
  EXPECT_EQ(store_->ingest_info("stale").error().code, Errc::not_found);
  EXPECT_TRUE(store_->ingest_info("live").ok());
  EXPECT_EQ(raw_ingest_entries(), 1u);
  auto d = live->commit(Digest::of("abc"));
  ASSERT_TRUE(d.ok()) << d.error().str();
}

TEST_F(ContentStore, ConcurrentSameBlobWriters) {
  std::string data = pattern(4 << 20, 5);
  Digest want = Digest::of(data);
  constexpr int kProcs = 6;
  std::vector<pid_t> pids;
  for (int i = 0; i < kProcs; i++) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto s = Store::open(store_->root());
      if (!s) ::_exit(1);
      for (int round = 0; round < 6; round++) {
        if ((round + i) % 2 == 0) {  // the one-shot path races the streaming one
          auto d = s->put(data, want);
          if (!d || !(*d == want)) ::_exit(6);
          continue;
        }
        auto w = s->writer();
        if (!w) ::_exit(2);
        for (size_t off = 0; off < data.size(); off += 65536)
          if (!w->write(data.data() + off, std::min<size_t>(65536, data.size() - off))) ::_exit(3);
        auto d = w->commit(want, data.size());
        if (!d || !(*d == want)) ::_exit(4);
        // Every reader sees either no blob or the complete one.
        auto got = s->read_blob(want, 8 << 20);
        if (!got || *got != data) ::_exit(5);
      }
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t p : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(p, &status, 0), p);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  }
  EXPECT_TRUE(store_->verify(want).ok());
  auto l = store_->list();
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->size(), 1u);
  EXPECT_EQ(raw_ingest_entries(), 0u);
}

TEST_F(ContentStore, PutFileCopyAndLink) {
  std::string data = pattern(3 << 20, 6);
  std::string src = dir_->path() + "/src";
  ASSERT_TRUE(atomic_write_file(src, data, 0644).ok());
  auto d = store_->put_file(src);
  ASSERT_TRUE(d.ok()) << d.error().str();
  struct stat a, b;
  ASSERT_EQ(::stat(src.c_str(), &a), 0);
  ASSERT_EQ(::stat(store_->blob_path(*d).c_str(), &b), 0);
  EXPECT_NE(a.st_ino, b.st_ino);  // copied by default
  EXPECT_EQ(a.st_mode & 0777, 0644u);
  ASSERT_TRUE(store_->remove(*d).ok());
  EXPECT_EQ(store_->remove(*d).error().code, Errc::not_found);

  auto l = store_->put_file(src, Digest::of(data), PutMode::link_if_possible);
  ASSERT_TRUE(l.ok()) << l.error().str();
  ASSERT_EQ(::stat(store_->blob_path(*l).c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(raw_ingest_entries(), 0u);

  auto bad = store_->put_file(src, Digest::of("other"), PutMode::link_if_possible);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::digest_mismatch);
  EXPECT_FALSE(store_->has(Digest::of("other")));
  EXPECT_EQ(store_->put_file(dir_->path() + "/missing").error().code, Errc::not_found);
  EXPECT_EQ(store_->put_file(dir_->path()).error().code, Errc::invalid_argument);
  EXPECT_EQ(raw_ingest_entries(), 0u);
}

TEST_F(ContentStore, ListAndOpenMissing) {
  ASSERT_TRUE(store_->put("a").ok());
  ASSERT_TRUE(store_->put("b").ok());
  // Stray files in blobs/ are not blobs.
  ASSERT_TRUE(atomic_write_file(store_->root() + "/blobs/sha256/not-a-digest", "x").ok());
  auto l = store_->list();
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->size(), 2u);
  Digest missing = Digest::of("missing");
  EXPECT_EQ(store_->open_blob(missing).error().code, Errc::not_found);
  EXPECT_EQ(store_->info(missing).error().code, Errc::not_found);
  EXPECT_FALSE(store_->has(missing));
}

TEST_F(ContentStore, CorruptedBlobOnDiskFailsVerify) {
  auto d = store_->put("original");
  ASSERT_TRUE(d.ok());
  std::string p = store_->blob_path(*d);
  ::chmod(p.c_str(), 0644);
  ASSERT_TRUE(atomic_write_file(p, "bitrot!!").ok());
  EXPECT_EQ(store_->verify(*d).error().code, Errc::digest_mismatch);
}

// Writers killed at arbitrary moments never leave a blob whose bytes do not
// match its name; their leftovers are only ever ingest entries.
TEST_F(ContentStore, KillNineNeverPublishesBadBlobs) {
  for (int round = 0; round < 4; round++) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto s = Store::open(store_->root());
      if (!s) ::_exit(1);
      for (unsigned i = 0;; i++) {
        std::string data = pattern(64 * 1024 + i * 4099 % (3 << 20), round * 100000 + i);
        if (i % 3 == 0) {
          if (!s->put(data)) ::_exit(2);
          continue;
        }
        auto w = s->writer(i % 3 == 1 ? "" : "named-" + std::to_string(round) + "-" + std::to_string(i));
        if (!w) ::_exit(3);
        for (size_t off = 0; off < data.size(); off += 100000)
          if (!w->write(data.data() + off, std::min<size_t>(100000, data.size() - off))) ::_exit(4);
        if (!w->commit(Digest::of(data))) ::_exit(5);
      }
    }
    ::usleep(30000 + 40000 * round);
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited early with " << status;
  }
  auto l = store_->list();
  ASSERT_TRUE(l.ok());  // how many got through depends on scheduling; all that did must verify
  for (const auto& info : *l) EXPECT_TRUE(store_->verify(info.digest).ok()) << info.digest.str();
  ASSERT_TRUE(store_->expire_ingests(0).ok());
  EXPECT_EQ(raw_ingest_entries(), 0u);
}

TEST_F(ContentStore, ResumeUsesSavedHashStateAndSurvivesDamage) {
  std::string a = pattern(3 << 20, 7), b = pattern(12345, 8);
  std::string state;
  auto dir_of = [&](const std::string& ref) { return store_->root() + "/ingest/" + Digest::of(ref).hex(); };
  {
    auto w = store_->writer("ckpt");
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->write(a).ok());
  }
  ASSERT_TRUE(path_exists(dir_of("ckpt") + "/hashstate"));
  // White-box proof that the state is used: change the first byte of the
  // data behind its back. A resume that trusts the state still yields the
  // digest of the original bytes (ingest/ is as trusted as blobs/).
  {
    UniqueFd fd(::open((dir_of("ckpt") + "/data").c_str(), O_WRONLY));
    ASSERT_TRUE(fd.valid());
    char other = static_cast<char>(a[0] ^ 0x55);
    ASSERT_EQ(::pwrite(fd.get(), &other, 1, 0), 1);
  }
  {
    auto r = store_->resume("ckpt");
    ASSERT_TRUE(r.ok()) << r.error().str();
    EXPECT_EQ(r->offset(), a.size());
    ASSERT_TRUE(r->write(b).ok());
  }
  {
    auto r = store_->resume("ckpt");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->offset(), a.size() + b.size());
    auto d = r->commit();
    ASSERT_TRUE(d.ok()) << d.error().str();
    EXPECT_EQ(*d, Digest::of(a + b));
  }

  // A damaged state, or one ahead of the file, is ignored: full re-hash.
  for (int damage = 0; damage < 2; damage++) {
    std::string ref = "damaged-" + std::to_string(damage);
    {
      auto w = store_->writer(ref);
      ASSERT_TRUE(w.ok());
      ASSERT_TRUE(w->write(a).ok());
    }
    std::string sp = dir_of(ref) + "/hashstate";
    if (damage == 0) {
      auto st = read_file(sp);
      ASSERT_TRUE(st.ok());
      std::string bad = *st;
      bad[20] ^= 0x40;
      ASSERT_TRUE(atomic_write_file(sp, bad).ok());
    } else {
      ASSERT_EQ(::truncate((dir_of(ref) + "/data").c_str(), 1000), 0);
    }
    auto r = store_->resume(ref);
    ASSERT_TRUE(r.ok()) << r.error().str();
    std::string expect = damage == 0 ? a : a.substr(0, 1000);
    EXPECT_EQ(r->offset(), expect.size());
    auto d = r->commit();
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, Digest::of(expect));
  }
}

TEST_F(ContentStore, Sha512NamedResume) {
  std::string a = pattern(500000, 9), b = pattern(700000, 10);
  {
    auto w = store_->writer("s512", DigestAlg::sha512);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->write(a).ok());
  }
  auto r = store_->resume("s512");
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_TRUE(r->write(b).ok());
  auto d = r->commit(Digest::of(a + b, DigestAlg::sha512));
  ASSERT_TRUE(d.ok()) << d.error().str();
}
