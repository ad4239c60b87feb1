// follow_log against a writer in another thread or process.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "fixture.h"
#include "journal/log.h"

using namespace berth::journal;
using berth::Status;
using journal_test::TmpDirTest;

namespace {

class Follow : public TmpDirTest {};

std::string line_n(int i) { return "line " + std::to_string(i) + std::string(i % 13, '.'); }

int seq_of(const std::string& text) {
  if (text.rfind("line ", 0) != 0) return -1;
  return std::stoi(text.substr(5));
}

// The writer side of the monitor: chunks of arbitrary sizes, rotations,
// a flush at the end, then "finished".
void write_lines(const std::string& p, LogLimits lim, int n, const char* last_partial) {
  auto w = LogWriter::open(p, lim);
  ASSERT_TRUE(w.ok()) << w.error().str();
  std::string chunk;
  for (int i = 0; i < n; ++i) {
    chunk += line_n(i) + "\n";
    if (i % 7 == 3 || i == n - 1) {
      // Split mid-line sometimes, as a pipe read would.
      size_t cut = chunk.size() / 2;
      ASSERT_TRUE(w->write(i % 2 ? Stream::out : Stream::err, chunk.substr(0, cut)).ok());
      ASSERT_TRUE(w->write(i % 2 ? Stream::out : Stream::err, chunk.substr(cut)).ok());
      chunk.clear();
    }
    if (i % 500 == 0) std::this_thread::yield();
  }
  if (last_partial) {
    ASSERT_TRUE(w->write(Stream::out, last_partial).ok());
  }
  ASSERT_TRUE(w->flush().ok());
}

}  // namespace

TEST_F(Follow, ConcurrentWriterEveryLineExactlyOnceAcrossRotations) {
  const std::string p = path("ctr.log");
  const int n = 4000;
  std::atomic<bool> done{false};
  std::vector<std::string> got;
  std::thread writer([&] {
    write_lines(p, {.max_bytes = 8 * 1024, .max_files = 1000}, n, "bye");
    done = true;  // after the last write and flush, like the monitor's exit file
  });
  Status st = follow_log(
      p, {}, [&](const LogEntry& e) { got.push_back(e.text); return true; }, [&] { return done.load(); });
  writer.join();
  ASSERT_TRUE(st.ok()) << st.error().str();
  ASSERT_EQ(got.size(), static_cast<size_t>(n + 1));
  // Per stream the order is exact; overall every line appears once.
  std::vector<int> seen(n, 0);
  for (int i = 0; i < n; ++i) {
    int s = seq_of(got[i]);
    ASSERT_GE(s, 0) << got[i];
    ASSERT_EQ(got[i], line_n(s));
    ++seen[s];
  }
  for (int i = 0; i < n; ++i) ASSERT_EQ(seen[i], 1) << i;
  EXPECT_EQ(got.back(), "bye");
}

TEST_F(Follow, WriterProcessExitingRightAfterItsLastLine) {
  const std::string p = path("ctr.log");
  const int n = 2000;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    write_lines(p, {.max_bytes = 4096, .max_files = 1000}, n, nullptr);
    ::_exit(::testing::Test::HasFailure() ? 1 : 0);
  }
  int status = -1;
  std::vector<std::string> got;
  Status st = follow_log(
      p, {}, [&](const LogEntry& e) { got.push_back(e.text); return true; },
      [&] { return ::waitpid(pid, &status, WNOHANG) == pid; });
  if (status == -1) ::waitpid(pid, &status, 0);
  ASSERT_TRUE(st.ok()) << st.error().str();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(got.size(), static_cast<size_t>(n));
  std::vector<int> seen(n, 0);
  for (const auto& t : got) ++seen[seq_of(t)];
  for (int i = 0; i < n; ++i) ASSERT_EQ(seen[i], 1) << i;
  EXPECT_EQ(seq_of(got.back()), n - 1);  // the last line, written just before exit
}

TEST_F(Follow, FastWriterSmallRotationNeverDuplicatesOrReorders) {
  // Only two files kept: a slow reader may lose what the writer deleted,
  // but what it shows is in order and shown once.
  const std::string p = path("ctr.log");
  const int n = 3000;
  std::atomic<bool> done{false};
  std::vector<int> got;
  std::thread writer([&] {
    auto w = LogWriter::open(p, {.max_bytes = 2048, .max_files = 2});
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < n; ++i) ASSERT_TRUE(w->write(Stream::out, line_n(i) + "\n").ok());
    ASSERT_TRUE(w->flush().ok());
    done = true;
  });
  Status st = follow_log(
      p, {}, [&](const LogEntry& e) { got.push_back(seq_of(e.text)); return true; }, [&] { return done.load(); });
  writer.join();
  ASSERT_TRUE(st.ok());
  ASSERT_FALSE(got.empty());
  for (size_t i = 1; i < got.size(); ++i) ASSERT_LT(got[i - 1], got[i]);
  EXPECT_EQ(got.back(), n - 1);
}

TEST_F(Follow, SingleFileRotationByUnlinkIsFollowed) {
  const std::string p = path("ctr.log");
  const int n = 2000;
  std::atomic<bool> done{false};
  std::vector<int> got;
  std::thread writer([&] {
    auto w = LogWriter::open(p, {.max_bytes = 4096, .max_files = 1});
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < n; ++i) ASSERT_TRUE(w->write(Stream::out, line_n(i) + "\n").ok());
    ASSERT_TRUE(w->flush().ok());
    done = true;
  });
  Status st = follow_log(
      p, {}, [&](const LogEntry& e) { got.push_back(seq_of(e.text)); return true; }, [&] { return done.load(); });
  writer.join();
  ASSERT_TRUE(st.ok());
  ASSERT_FALSE(got.empty());
  for (size_t i = 1; i < got.size(); ++i) ASSERT_LT(got[i - 1], got[i]);
  EXPECT_EQ(got.back(), n - 1);
}

TEST_F(Follow, TailThenNewLinesAndStopOnEmitFalse) {
  const std::string p = path("ctr.log");
  {
    auto w = LogWriter::open(p);
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(w->write(Stream::out, line_n(i) + "\n").ok());
    ASSERT_TRUE(w->write(Stream::out, "half of li").ok());
    ASSERT_TRUE(w->flush().ok());  // a P record at the end of what exists
  }
  std::atomic<bool> go{false};
  std::thread writer([&] {
    while (!go) std::this_thread::yield();
    auto w = LogWriter::open(p);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->write(Stream::out, "ne 100\n").ok());
    for (int i = 101; i < 200; ++i) ASSERT_TRUE(w->write(Stream::out, line_n(i) + "\n").ok());
  });
  std::vector<std::string> got;
  Status st = follow_log(
      p, {.tail = 3},
      [&](const LogEntry& e) {
        got.push_back(e.text);
        if (got.size() == 3) go = true;
        return got.size() < 10;
      },
      [] { return false; });
  writer.join();
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(got.size(), 10u);
  EXPECT_EQ(got[0], line_n(97));
  EXPECT_EQ(got[2], line_n(99));
  EXPECT_EQ(got[3], "half of line 100");  // joined with the F record written later
  EXPECT_EQ(got[9], line_n(106));
}

TEST_F(Follow, WaitsForALogNotCreatedYetAndTailZeroShowsOnlyNew) {
  const std::string p = path("late.log");
  std::atomic<bool> done{false};
  std::thread writer([&] {
    std::this_thread::yield();
    auto w = LogWriter::open(p);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->write(Stream::err, "first\nsecond\n").ok());
    done = true;
  });
  std::vector<std::string> got;
  Status st = follow_log(
      p, {}, [&](const LogEntry& e) { got.push_back(e.text); return true; }, [&] { return done.load(); });
  writer.join();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(got, (std::vector<std::string>{"first", "second"}));

  // tail 0: what exists is skipped, only new lines come.
  std::atomic<bool> started{false};
  done = false;
  got.clear();
  std::thread writer2([&] {
    while (!started) std::this_thread::yield();
    auto w = LogWriter::open(p);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->write(Stream::out, "third\n").ok());
    done = true;
  });
  st = follow_log(
      p, {.tail = 0}, [&](const LogEntry& e) { got.push_back(e.text); return true; },
      [&] {
        started = true;  // the initial read is over once finished() is first asked
        return done.load();
      });
  writer2.join();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(got, (std::vector<std::string>{"third"}));
}

TEST_F(Follow, TailWindowNeverCutsTheHeadOfALineStillBeingWritten) {
  const std::string p = path("ctr.log");
  std::string big;
  for (int i = 0; i < 200000; ++i) big.push_back(static_cast<char>('A' + i % 26));
  {
    auto w = LogWriter::open(p, {.max_bytes = 0});
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->write(Stream::out, big).ok());  // P records, far more than one tail window
    ASSERT_TRUE(w->flush(false).ok());
    ASSERT_TRUE(w->write(Stream::err, "e1\ne2\n").ok());
  }
  std::atomic<bool> started{false}, done{false};
  std::thread writer([&] {
    while (!started) std::this_thread::yield();
    auto w = LogWriter::open(p, {.max_bytes = 0});
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->write(Stream::out, "\n").ok());  // the long line ends
    done = true;
  });
  std::vector<LogEntry> got;
  Status st = follow_log(
      p, {.tail = 1}, [&](const LogEntry& e) { got.push_back(e); return true; },
      [&] {
        started = true;
        return done.load();
      });
  writer.join();
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].text, "e2");
  EXPECT_EQ(got[1].text.size(), big.size());
  EXPECT_TRUE(got[1].text == big);
  EXPECT_FALSE(got[1].partial_at_end);
}
