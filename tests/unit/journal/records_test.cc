// follow_records: events and logs of several containers in one stream.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include "fixture.h"
#include "journal/events.h"
#include "journal/time.h"

using namespace berth::journal;
using berth::Status;
using journal_test::TmpDirTest;

namespace {

class Records : public TmpDirTest {};

std::string describe(const Record& r) {
  if (auto* e = std::get_if<Event>(&r.what)) return "event " + e->action + " " + e->id;
  const auto& l = std::get<ContainerLog>(r.what);
  return l.container_id + ": " + l.entry.text;
}

Event ev(const std::string& action, const std::string& id) {
  return Event{.type = "container", .action = action, .id = id, .attributes = {{"name", id}}};
}

}  // namespace

TEST_F(Records, ReplaysMergedThenFollowsNewContainersLogs) {
  const std::string events = path("events.jsonl");
  ASSERT_TRUE(append_event(events, ev("start", "a")).ok());
  {
    auto w = LogWriter::open(path("a.log"));
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->write(Stream::out, "a1\n").ok());
  }
  std::atomic<bool> started{false}, done{false};
  std::thread writer([&] {
    while (!started) std::this_thread::yield();
    ASSERT_TRUE(append_event(events, ev("create", "b")).ok());
    auto b = LogWriter::open(path("b.log"));
    ASSERT_TRUE(b.ok());
    ASSERT_TRUE(b->write(Stream::err, "b1\nb2 unterminated").ok());
    ASSERT_TRUE(b->flush().ok());
    ASSERT_TRUE(append_event(events, ev("die", "a")).ok());
    auto a = LogWriter::open(path("a.log"));
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(a->write(Stream::out, "a2\n").ok());
    done = true;
  });
  EventFilter f;
  f.since_ns = now_ns() - 60'000'000'000;
  std::vector<std::string> got;
  std::vector<std::string> asked;
  Status st = follow_records(
      events, f, {{"a", path("a.log")}},
      [&](const Event& e) -> std::optional<LogSource> {
        asked.push_back(e.id);
        return LogSource{e.id, path(e.id + ".log")};
      },
      [&](const Record& r) {
        got.push_back(describe(r));
        return true;
      },
      [&] {
        started = true;
        return done.load();
      });
  writer.join();
  ASSERT_TRUE(st.ok()) << st.error().str();
  ASSERT_EQ(got.size(), 7u) << ::testing::PrintToString(got);
  EXPECT_EQ(got[0], "event start a");  // replay: in time order
  EXPECT_EQ(got[1], "a: a1");
  std::map<std::string, int> count;
  for (const auto& g : got) ++count[g];
  for (const char* want : {"event create b", "b: b1", "b: b2 unterminated", "event die a", "a: a2"})
    EXPECT_EQ(count[want], 1) << want;
  EXPECT_EQ(asked, std::vector<std::string>{"b"});  // "a" was followed already
}

TEST_F(Records, FromNowSkipsWhatExistsAndStopsOnEmitFalse) {
  const std::string events = path("events.jsonl");
  ASSERT_TRUE(append_event(events, ev("start", "old")).ok());
  {
    auto w = LogWriter::open(path("a.log"));
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->write(Stream::out, "old line\n").ok());
  }
  std::atomic<bool> started{false};
  std::thread writer([&] {
    while (!started) std::this_thread::yield();
    auto w = LogWriter::open(path("a.log"));
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(w->write(Stream::out, "new " + std::to_string(i) + "\n").ok());
  });
  std::vector<std::string> got;
  Status st = follow_records(
      events, EventFilter{}, {{"a", path("a.log")}}, nullptr,
      [&](const Record& r) {
        got.push_back(describe(r));
        return got.size() < 3;
      },
      [&] {
        started = true;
        return false;
      });
  writer.join();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(got, (std::vector<std::string>{"a: new 0", "a: new 1", "a: new 2"}));
}
