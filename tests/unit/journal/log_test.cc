#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fixture.h"
#include "journal/log.h"
#include "journal/time.h"

using namespace berth::journal;
using journal_test::TmpDirTest;

namespace {

class Log : public TmpDirTest {};

std::vector<LogEntry> read_all(const std::string& p, LogQuery q = {}) {
  auto r = read_log(p, q);
  EXPECT_TRUE(r.ok()) << r.error().str();
  return r.ok() ? *r : std::vector<LogEntry>{};
}

std::vector<std::string> texts(const std::vector<LogEntry>& es) {
  std::vector<std::string> v;
  for (const auto& e : es) v.push_back(e.text);
  return v;
}

std::string line_n(int i) { return "line " + std::to_string(i) + " " + std::string(i % 7, 'x'); }


// A record with a chosen time, for since/until tests.
std::string rec(int64_t t, const char* stream, const char* tag, const std::string& text) {
  return format_rfc3339nano(t) + " " + stream + " " + tag + " " + text + "\n";
}

}  // namespace

TEST_F(Log, RoundTripKeepsStreamsOrderAndTimes) {
  int64_t before = now_ns();
  {
    auto w = LogWriter::open(path("ctr.log"));
    ASSERT_TRUE(w.ok()) << w.error().str();
    ASSERT_TRUE(w->write(Stream::out, "hello\nworld\n").ok());
    ASSERT_TRUE(w->write(Stream::err, "oops\n").ok());
    ASSERT_TRUE(w->write(Stream::out, "\n").ok());  // an empty line is a line
    ASSERT_TRUE(w->close().ok());
  }
  int64_t after = now_ns();
  auto es = read_all(path("ctr.log"));
  ASSERT_EQ(es.size(), 4u);
  EXPECT_EQ(texts(es), (std::vector<std::string>{"hello", "world", "oops", ""}));
  EXPECT_EQ(es[2].stream, Stream::err);
  for (const auto& e : es) {
    EXPECT_GE(e.time_ns, before);
    EXPECT_LE(e.time_ns, after);
    EXPECT_FALSE(e.partial_at_end);
  }
  // The file is plain CRI: what kubelet and conmon write.
  std::string raw = slurp(path("ctr.log"));
  EXPECT_NE(raw.find(" stdout F hello\n"), std::string::npos) << raw;
  EXPECT_NE(raw.find(" stderr F oops\n"), std::string::npos) << raw;
  EXPECT_EQ(raw.substr(30, 8), " stdout ");
  struct stat st;
  ASSERT_EQ(::stat(path("ctr.log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST_F(Log, ChunksAreJoinedIntoLinesPerStream) {
  auto w = LogWriter::open(path("ctr.log"));
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->write(Stream::out, "hel").ok());
  ASSERT_TRUE(w->write(Stream::err, "e1").ok());
  ASSERT_TRUE(w->write(Stream::out, "lo\nwor").ok());
  ASSERT_TRUE(w->write(Stream::err, "\n").ok());
  ASSERT_TRUE(w->write(Stream::out, "ld\n").ok());
  auto es = read_all(path("ctr.log"));
  EXPECT_EQ(texts(es), (std::vector<std::string>{"hello", "e1", "world"}));
  // Stamped when the first byte arrived: "hello" is not younger than "e1".
  EXPECT_LE(es[0].time_ns, es[1].time_ns);
}

TEST_F(Log, FlushWritesPartialLinesAndReadersJoinThem) {
  auto w = LogWriter::open(path("ctr.log"));
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->write(Stream::out, "Password: ").ok());
  EXPECT_TRUE(read_all(path("ctr.log")).empty());  // still buffered
  ASSERT_TRUE(w->flush().ok());
  auto es = read_all(path("ctr.log"));
  ASSERT_EQ(es.size(), 1u);
  EXPECT_EQ(es[0].text, "Password: ");
  EXPECT_TRUE(es[0].partial_at_end);
  // The rest of the line arrives later: one entry, no longer partial.
  ASSERT_TRUE(w->write(Stream::out, "secret\n").ok());
  es = read_all(path("ctr.log"));
  ASSERT_EQ(es.size(), 1u);
  EXPECT_EQ(es[0].text, "Password: secret");
  EXPECT_FALSE(es[0].partial_at_end);
  EXPECT_NE(slurp(path("ctr.log")).find(" stdout P Password: \n"), std::string::npos);
}

TEST_F(Log, DestructorWritesWhatIsPending) {
  {
    auto w = LogWriter::open(path("ctr.log"));
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->write(Stream::err, "no newline at exit").ok());
  }
  auto es = read_all(path("ctr.log"));
  ASSERT_EQ(es.size(), 1u);
  EXPECT_EQ(es[0].text, "no newline at exit");
  EXPECT_EQ(es[0].stream, Stream::err);
}

TEST_F(Log, LongLinesAreSplitIntoRecordsAndJoinedBack) {
  std::string big;
  for (int i = 0; i < 40000; ++i) big.push_back(static_cast<char>('a' + i % 26));
  std::string exact(kMaxRecord, 'e');
  auto w = LogWriter::open(path("ctr.log"));
  ASSERT_TRUE(w.ok());
  // In one chunk, and in odd-sized chunks through the pending buffer.
  ASSERT_TRUE(w->write(Stream::out, big + "\n").ok());
  for (size_t i = 0; i < big.size(); i += 999) ASSERT_TRUE(w->write(Stream::err, big.substr(i, 999)).ok());
  ASSERT_TRUE(w->write(Stream::err, "\n").ok());
  ASSERT_TRUE(w->write(Stream::out, exact + "\nshort\n").ok());
  ASSERT_TRUE(w->close().ok());
  auto es = read_all(path("ctr.log"));
  ASSERT_EQ(es.size(), 4u);
  EXPECT_EQ(es[0].text, big);
  EXPECT_EQ(es[1].text, big);
  EXPECT_EQ(es[1].stream, Stream::err);
  EXPECT_EQ(es[2].text, exact);
  EXPECT_EQ(es[3].text, "short");
  // No record is longer than the cap.
  std::string raw = slurp(path("ctr.log"));
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t nl = raw.find('\n', pos);
    EXPECT_LE(nl - pos, kMaxRecord + 40);
    pos = nl + 1;
  }
}

TEST_F(Log, RotationKeepsEveryLineWhileFilesLast) {
  const LogLimits lim{.max_bytes = 16 * 1024, .max_files = 10};
  auto w = LogWriter::open(path("ctr.log"), lim);
  ASSERT_TRUE(w.ok());
  int n = 0;
  size_t written = 0;
  while (written < 3 * lim.max_bytes) {
    std::string l = line_n(n++);
    written += l.size() + 41;
    ASSERT_TRUE(w->write(n % 3 ? Stream::out : Stream::err, l + "\n").ok());
  }
  ASSERT_TRUE(w->close().ok());
  EXPECT_TRUE(berth::path_exists(path("ctr.log.1")));
  EXPECT_TRUE(berth::path_exists(path("ctr.log.2")));
  EXPECT_FALSE(berth::path_exists(path("ctr.log.9")));
  for (const char* f : {"ctr.log", "ctr.log.1", "ctr.log.2"}) {
    struct stat st;
    ASSERT_EQ(::stat(path(f).c_str(), &st), 0);
    EXPECT_LE(static_cast<uint64_t>(st.st_size), lim.max_bytes) << f;
  }
  auto es = read_all(path("ctr.log"));
  ASSERT_EQ(es.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) ASSERT_EQ(es[i].text, line_n(i));
  // The tail path agrees with the full read, across file boundaries too.
  for (int64_t t : {int64_t{1}, int64_t{5}, int64_t{300}, int64_t{n - 1}, int64_t{n}, int64_t{n + 10}}) {
    auto tail = read_all(path("ctr.log"), {.tail = t});
    ASSERT_EQ(tail.size(), static_cast<size_t>(std::min<int64_t>(t, n))) << t;
    EXPECT_EQ(tail.back().text, line_n(n - 1));
    EXPECT_EQ(tail.front().text, line_n(n - static_cast<int>(tail.size())));
  }
}

TEST_F(Log, RotationDropsTheOldestFilesOnly) {
  const LogLimits lim{.max_bytes = 4096, .max_files = 2};
  auto w = LogWriter::open(path("ctr.log"), lim);
  ASSERT_TRUE(w.ok());
  const int n = 1000;
  for (int i = 0; i < n; ++i) ASSERT_TRUE(w->write(Stream::out, line_n(i) + "\n").ok());
  ASSERT_TRUE(w->close().ok());
  EXPECT_FALSE(berth::path_exists(path("ctr.log.2")));
  auto es = read_all(path("ctr.log"));
  ASSERT_FALSE(es.empty());
  ASSERT_LT(es.size(), static_cast<size_t>(n));
  // What is kept is the newest, contiguous, ending with the last line.
  int first = n - static_cast<int>(es.size());
  for (size_t i = 0; i < es.size(); ++i) ASSERT_EQ(es[i].text, line_n(first + static_cast<int>(i)));
}

TEST_F(Log, SingleFileRotationStartsOver) {
  auto w = LogWriter::open(path("ctr.log"), {.max_bytes = 1024, .max_files = 1});
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(w->write(Stream::out, line_n(i) + "\n").ok());
  ASSERT_TRUE(w->close().ok());
  EXPECT_FALSE(berth::path_exists(path("ctr.log.1")));
  auto es = read_all(path("ctr.log"));
  ASSERT_FALSE(es.empty());
  EXPECT_EQ(es.back().text, line_n(99));
}

TEST_F(Log, TailReadsOnlyTheEndAndKeepsLongLinesWhole) {
  auto w = LogWriter::open(path("ctr.log"), {.max_bytes = 0});
  ASSERT_TRUE(w.ok());
  std::string big(40000, 'L');
  const int n = 3000;
  for (int i = 0; i < n; ++i) {
    // Long lines (three records each) and the other stream interleaved.
    if (i % 500 == 499) ASSERT_TRUE(w->write(Stream::out, big + std::to_string(i) + "\n").ok());
    else ASSERT_TRUE(w->write(i % 2 ? Stream::err : Stream::out, line_n(i) + "\n").ok());
  }
  ASSERT_TRUE(w->write(Stream::out, big).ok());  // unterminated long line at the end
  ASSERT_TRUE(w->close().ok());
  auto all = read_all(path("ctr.log"));
  ASSERT_EQ(all.size(), static_cast<size_t>(n + 1));
  EXPECT_TRUE(all.back().partial_at_end);
  EXPECT_EQ(all.back().text, big);
  for (int64_t t : {int64_t{0}, int64_t{1}, int64_t{2}, int64_t{3}, int64_t{10}, int64_t{502}, int64_t{2999},
                    int64_t{5000}}) {
    auto tail = read_all(path("ctr.log"), {.tail = t});
    size_t want = static_cast<size_t>(std::min<int64_t>(t, n + 1));
    ASSERT_EQ(tail.size(), want) << t;
    for (size_t i = 0; i < want; ++i) {
      const auto& a = tail[i];
      const auto& b = all[all.size() - want + i];
      ASSERT_EQ(a.text, b.text) << "tail " << t << " entry " << i;
      ASSERT_EQ(a.stream, b.stream);
      ASSERT_EQ(a.time_ns, b.time_ns);
    }
  }
}

TEST_F(Log, SinceUntilAndTailCompose) {
  std::string data;
  const int64_t base = 1700000000'000000000;
  for (int64_t i = 0; i < 10; ++i) data += rec(base + i * 1'000'000'000, i % 2 ? "stderr" : "stdout", "F", "l" + std::to_string(i));
  // A joined line takes the time of its first record.
  data += rec(base + 10'000'000'000, "stdout", "P", "joi");
  data += rec(base + 11'000'000'000, "stdout", "F", "ned");
  write_raw(path("ctr.log"), data);
  EXPECT_EQ(read_all(path("ctr.log")).size(), 11u);
  EXPECT_EQ(read_all(path("ctr.log")).back().text, "joined");
  EXPECT_EQ(read_all(path("ctr.log")).back().time_ns, base + 10'000'000'000);
  auto since = read_all(path("ctr.log"), {.since_ns = base + 8'000'000'000});
  EXPECT_EQ(texts(since), (std::vector<std::string>{"l8", "l9", "joined"}));
  auto until = read_all(path("ctr.log"), {.until_ns = base + 1'000'000'000});
  EXPECT_EQ(texts(until), (std::vector<std::string>{"l0", "l1"}));
  auto both = read_all(path("ctr.log"), {.since_ns = base + 2'000'000'000, .until_ns = base + 6'000'000'000, .tail = 2});
  EXPECT_EQ(texts(both), (std::vector<std::string>{"l5", "l6"}));
  auto tail_since = read_all(path("ctr.log"), {.since_ns = base + 9'000'000'000, .tail = 5});
  EXPECT_EQ(texts(tail_since), (std::vector<std::string>{"l9", "joined"}));
}

TEST_F(Log, MalformedAndTornLinesAreSkipped) {
  std::string good = rec(1700000000'000000000, "stdout", "F", "good one");
  std::string data = "garbage\n\n" + good + "2023-11-14T22:13:20Z stdin F nope\n" +
                     "2023-11-14T22:13:20Z stdout X nope\n" + "2023-13-14T22:13:20Z stdout F nope\n" +
                     "2023-11-14T22:13:20Z stdout\n" + std::string(3, '\0') + "\n" +
                     "2023-11-14T22:13:20.5+01:00 stderr F:x conmon style\n" + "2023-11-14T22:13:20Z stdout F" +
                     "\n" + good + "2023-11-14T22:13:20Z stdout F torn wri";
  write_raw(path("ctr.log"), data);
  auto es = read_all(path("ctr.log"));
  EXPECT_EQ(texts(es), (std::vector<std::string>{"good one", "conmon style", "", "good one"}));
  EXPECT_EQ(es[1].stream, Stream::err);
  auto tail = read_all(path("ctr.log"), {.tail = 2});
  EXPECT_EQ(texts(tail), (std::vector<std::string>{"", "good one"}));
}

TEST_F(Log, MissingLogIsEmpty) {
  EXPECT_TRUE(read_all(path("nope.log")).empty());
  EXPECT_TRUE(read_all(path("nope.log"), {.tail = 3}).empty());
}

TEST_F(Log, FormatEntryMatchesDocker) {
  LogEntry e{.time_ns = 1700000000123456789, .stream = Stream::out, .text = "hello"};
  EXPECT_EQ(format_entry(e, false), "hello\n");
  EXPECT_EQ(format_entry(e, true), "2023-11-14T22:13:20.123456789Z hello\n");
}

TEST_F(Log, HostilePartialChainsAreCut) {
  std::string data;
  std::string piece(kMaxRecord, 'p');
  for (size_t i = 0; i < kMaxJoined / kMaxRecord + 3; ++i) data += rec(1, "stdout", "P", piece);
  data += rec(2, "stdout", "F", "end");
  auto es = parse_log(data);
  ASSERT_EQ(es.size(), 2u);
  EXPECT_EQ(es[0].text.size(), kMaxJoined);
  EXPECT_TRUE(es[0].partial_at_end);
  EXPECT_EQ(es[1].text.size(), 3 * kMaxRecord + 3);
}
