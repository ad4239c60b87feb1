#include "journal/events.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

#include "fixture.h"
#include "journal/time.h"

using namespace berth::journal;
using berth::Status;
using journal_test::TmpDirTest;

namespace {

class Events : public TmpDirTest {};

const std::string kId = "4f2d6c0b4b1c2e8a9d3f5e6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708";

Event ctr(const std::string& action, const std::string& id, const std::string& name, const std::string& image,
          int64_t t = 0) {
  return Event{.type = "container", .action = action, .id = id, .attributes = {{"name", name}, {"image", image}},
               .time_ns = t};
}

std::vector<Event> read_all(const std::string& p, EventFilter f = {}) {
  auto r = read_events(p, f);
  EXPECT_TRUE(r.ok()) << r.error().str();
  return r.ok() ? *r : std::vector<Event>{};
}

EventFilter filt(std::vector<std::string> args) {
  auto f = parse_event_filters(args);
  EXPECT_TRUE(f.ok()) << f.error().str();
  return f.ok() ? *f : EventFilter{};
}

}  // namespace

TEST_F(Events, JsonLineHasDockersShape) {
  Event e = ctr("start", kId, "web", "busybox", 1700000000123456789);
  e.attributes["exitCode"] = "0";
  std::string line = event_json(e);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.rfind("{\"status\":\"start\",\"id\":\"" + kId + "\",\"from\":\"busybox\",\"Type\":\"container\"", 0), 0u)
      << line;
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["Action"], "start");
  EXPECT_EQ(j["Actor"]["ID"], kId);
  EXPECT_EQ(j["Actor"]["Attributes"]["name"], "web");
  EXPECT_EQ(j["Actor"]["Attributes"]["exitCode"], "0");
  EXPECT_EQ(j["scope"], "local");
  EXPECT_EQ(j["time"], 1700000000);
  EXPECT_EQ(j["timeNano"], 1700000000123456789);
  // Volumes carry no pre-1.22 fields; bad UTF-8 is replaced, not thrown.
  Event v{.type = "volume", .action = "create", .id = "data\xff", .time_ns = 1};
  auto jv = nlohmann::json::parse(event_json(v));
  EXPECT_FALSE(jv.contains("status"));
  EXPECT_FALSE(jv.contains("from"));
  EXPECT_EQ(jv["Actor"]["ID"], "data\xEF\xBF\xBD");
}

TEST_F(Events, TextLineHasDockersShape) {
  Event e = ctr("die", kId, "web", "busybox", 1700000000123456789);
  e.attributes["exitCode"] = "137";
  EXPECT_EQ(event_text(e),
            "2023-11-14T22:13:20.123456789Z container die " + kId + " (exitCode=137, image=busybox, name=web)");
  Event v{.type = "volume", .action = "destroy", .id = "data", .time_ns = 1700000000123456789};
  EXPECT_EQ(event_text(v), "2023-11-14T22:13:20.123456789Z volume destroy data");
}

TEST_F(Events, AppendReadRoundTrip) {
  const std::string p = path("events.jsonl");
  int64_t before = now_ns();
  ASSERT_TRUE(append_event(p, ctr("create", kId, "web", "busybox")).ok());
  ASSERT_TRUE(append_event(p, ctr("start", kId, "web", "busybox")).ok());
  ASSERT_TRUE(append_event(p, Event{.type = "image", .action = "tag", .id = "sha256:abc",
                                    .attributes = {{"name", "busybox:latest"}}})
                  .ok());
  EXPECT_FALSE(append_event(p, Event{.type = "container"}).ok());
  auto es = read_all(p);
  ASSERT_EQ(es.size(), 3u);
  EXPECT_EQ(es[0].action, "create");
  EXPECT_EQ(es[1].id, kId);
  EXPECT_EQ(es[1].attributes.at("image"), "busybox");
  EXPECT_EQ(es[2].type, "image");
  EXPECT_GE(es[0].time_ns, before);
  EXPECT_LE(es[0].time_ns, es[1].time_ns);
  EXPECT_LE(es[2].time_ns, now_ns());
}

TEST_F(Events, ConcurrentAppendersInManyProcessesNeverTear) {
  const std::string p = path("events.jsonl");
  const int procs = 6, per = 150;
  std::vector<pid_t> pids;
  for (int k = 0; k < procs; ++k) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int bad = 0;
      for (int i = 0; i < per; ++i) {
        Event e = ctr("exec_start: sh", kId, "p" + std::to_string(k), "busybox");
        e.attributes["seq"] = std::to_string(i);
        e.attributes["pad"] = std::string(static_cast<size_t>((i * 37) % 3000), 'x');  // lines of many sizes
        // A low threshold makes rotations race with the appends.
        if (!append_event(p, e, 256 * 1024).ok()) ++bad;
      }
      ::_exit(bad ? 1 : 0);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int st = 0;
    ASSERT_EQ(::waitpid(pid, &st, 0), pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  // Rotation drops the oldest file: count what both files hold, and check
  // every line of both parses.
  std::string raw = slurp(p + ".1") + slurp(p);
  size_t lines = 0, pos = 0;
  while (pos < raw.size()) {
    size_t nl = raw.find('\n', pos);
    ASSERT_NE(nl, std::string::npos) << "unterminated line";
    Event e;
    ASSERT_TRUE(parse_event_line(std::string_view(raw).substr(pos, nl - pos), e)) << raw.substr(pos, 200);
    ++lines;
    pos = nl + 1;
  }
  auto es = read_all(p);
  EXPECT_EQ(es.size(), lines);
  // Per process, the sequence is in order and, after the first kept one, complete.
  std::map<std::string, int> next;
  for (const auto& e : es) {
    const std::string& who = e.attributes.at("name");
    int seq = std::stoi(e.attributes.at("seq"));
    if (next.count(who)) {
      EXPECT_EQ(seq, next[who]) << who;
    }
    next[who] = seq + 1;
  }
  // A process whose events are kept at all has its last one kept.
  ASSERT_FALSE(next.empty());
  for (const auto& [who, n] : next) EXPECT_EQ(n, per) << who;
  EXPECT_LE(slurp(p).size(), 256u * 1024);
}

TEST_F(Events, ConcurrentAppendersWithoutRotationKeepAll) {
  const std::string p = path("events.jsonl");
  const int procs = 4, per = 200;
  std::vector<pid_t> pids;
  for (int k = 0; k < procs; ++k) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int bad = 0;
      for (int i = 0; i < per; ++i)
        if (!append_event(p, ctr("start", std::to_string(k) + "-" + std::to_string(i), "n", "img")).ok()) ++bad;
      ::_exit(bad ? 1 : 0);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int st = 0;
    ASSERT_EQ(::waitpid(pid, &st, 0), pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  auto es = read_all(p);
  ASSERT_EQ(es.size(), static_cast<size_t>(procs * per));
  std::set<std::string> ids;
  for (const auto& e : es) ids.insert(e.id);
  EXPECT_EQ(ids.size(), static_cast<size_t>(procs * per));
  for (size_t i = 1; i < es.size(); ++i) EXPECT_LE(es[i - 1].time_ns, es[i].time_ns);  // stamped under the lock
}

TEST_F(Events, RotationKeepsOneOldFile) {
  const std::string p = path("events.jsonl");
  for (int i = 0; i < 400; ++i) {
    Event e = ctr("start", std::to_string(i), "n", "img");
    ASSERT_TRUE(append_event(p, e, 16 * 1024).ok());
  }
  EXPECT_TRUE(berth::path_exists(p + ".1"));
  EXPECT_FALSE(berth::path_exists(p + ".2"));
  EXPECT_LE(slurp(p).size(), 16u * 1024);
  auto es = read_all(p);
  ASSERT_FALSE(es.empty());
  EXPECT_EQ(es.back().id, "399");
  int first = std::stoi(es.front().id);
  for (size_t i = 0; i < es.size(); ++i) EXPECT_EQ(es[i].id, std::to_string(first + static_cast<int>(i)));
}

TEST_F(Events, MalformedAndTornLinesAreSkippedAndClosedOff) {
  const std::string p = path("events.jsonl");
  std::string good = event_json(ctr("start", kId, "web", "busybox", 5)) + "\n";
  write_raw(p, "not json\n" + good + "[1,2]\n{}\n" +
                   R"({"Type":"container","Action":"x","Actor":{"ID":"a","Attributes":{"n":1}},"timeNano":1})" + "\n" +
                   R"({"Type":"container","Action":"x","Actor":{"ID":"a"},"time":"1"})" + "\n" +
                   R"({"Type":"volume","Action":"create","Actor":{"ID":"v"},"time":7})" + "\n" +
                   "{\"status\":\"torn wr");
  auto es = read_all(p);
  ASSERT_EQ(es.size(), 2u);
  EXPECT_EQ(es[0].time_ns, 5);
  EXPECT_EQ(es[1].id, "v");
  EXPECT_EQ(es[1].time_ns, 7'000'000'000);
  // The next append starts on a fresh line: the torn one costs only itself.
  ASSERT_TRUE(append_event(p, ctr("stop", kId, "web", "busybox", 9)).ok());
  es = read_all(p);
  ASSERT_EQ(es.size(), 3u);
  EXPECT_EQ(es[2].action, "stop");
}

TEST_F(Events, FiltersFollowDockersRules) {
  const std::string other = "9" + kId.substr(1);
  std::vector<Event> evs = {
      ctr("start", kId, "web", "busybox:latest", 1),
      ctr("die", kId, "web", "busybox:latest", 2),
      ctr("start", other, "db", "postgres", 3),
      ctr("health_status: healthy", other, "db", "postgres", 4),
      Event{.type = "image", .action = "tag", .id = "sha256:aa", .attributes = {{"name", "busybox:1.36"}}, .time_ns = 5},
      Event{.type = "volume", .action = "create", .id = "data", .attributes = {{"driver", "local"}}, .time_ns = 6},
  };
  evs[0].attributes["com.example.tier"] = "front";
  evs[0].attributes["com.example.owner"] = "me";
  evs[2].attributes["com.example.tier"] = "back";
  auto ids = [&](const EventFilter& f) {
    std::vector<int64_t> v;
    for (const auto& e : evs)
      if (event_matches(e, f)) v.push_back(e.time_ns);
    return v;
  };
  using V = std::vector<int64_t>;
  EXPECT_EQ(ids(filt({})), (V{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(ids(filt({"container=web"})), (V{1, 2}));
  EXPECT_EQ(ids(filt({"container=" + kId.substr(0, 12)})), (V{1, 2}));
  EXPECT_EQ(ids(filt({"container=" + kId})), (V{1, 2}));
  EXPECT_EQ(ids(filt({"container=web", "container=db"})), (V{1, 2, 3, 4}));  // same key: OR
  EXPECT_EQ(ids(filt({"container=web", "event=die"})), (V{2}));             // different keys: AND
  EXPECT_EQ(ids(filt({"event=start", "event=die"})), (V{1, 2, 3}));
  EXPECT_EQ(ids(filt({"event=health_status"})), (V{4}));
  EXPECT_EQ(ids(filt({"type=image", "type=volume"})), (V{5, 6}));
  EXPECT_EQ(ids(filt({"image=busybox"})), (V{1, 2, 5}));
  EXPECT_EQ(ids(filt({"image=busybox:latest"})), (V{1, 2}));
  EXPECT_EQ(ids(filt({"image=sha256:aa"})), (V{5}));
  EXPECT_EQ(ids(filt({"volume=data"})), (V{6}));
  EXPECT_EQ(ids(filt({"label=com.example.tier"})), (V{1, 3}));
  EXPECT_EQ(ids(filt({"label=com.example.tier=back"})), (V{3}));
  // Labels: every one given must match (Docker's MatchKVList).
  EXPECT_EQ(ids(filt({"label=com.example.tier", "label=com.example.owner=me"})), (V{1}));
  EXPECT_EQ(ids(filt({"container=nope"})), V{});
  for (const char* bad : {"container", "=x", "colour=red"}) {
    auto r = parse_event_filters({bad});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find(bad), std::string::npos);
  }
}

TEST_F(Events, ReadAppliesTimeBounds) {
  const std::string p = path("events.jsonl");
  for (int64_t t = 1; t <= 5; ++t) ASSERT_TRUE(append_event(p, ctr("start", std::to_string(t), "n", "i", t)).ok());
  EventFilter f;
  f.since_ns = 2;
  f.until_ns = 4;
  auto es = read_all(p, f);
  ASSERT_EQ(es.size(), 3u);
  EXPECT_EQ(es.front().id, "2");
  EXPECT_EQ(es.back().id, "4");
}

TEST_F(Events, FollowSeesEveryNewEventOnceAcrossRotations) {
  const std::string p = path("events.jsonl");
  ASSERT_TRUE(append_event(p, ctr("create", "old", "n", "i")).ok());
  const int n = 1500;
  std::atomic<bool> started{false}, done{false};
  std::thread writer([&] {
    while (!started) std::this_thread::yield();
    for (int i = 0; i < n; ++i) {
      Event e = ctr(i % 2 ? "start" : "die", std::to_string(i), "n", "i");
      e.attributes["pad"] = std::string(200, 'p');
      ASSERT_TRUE(append_event(p, e, 64 * 1024).ok());
    }
    done = true;
  });
  std::vector<int> got;
  EventFilter f = filt({"event=start"});
  Status st = follow_events(
      p, f, [&](const Event& e) { got.push_back(std::stoi(e.id)); return true; },
      [&] {
        started = true;
        return done.load();
      });
  writer.join();
  ASSERT_TRUE(st.ok()) << st.error().str();
  // "old" is not shown: without since, only what happens from now on. The
  // journal keeps one old file, so a reader slower than two rotations could
  // miss some; order and uniqueness always hold, and the last is there.
  ASSERT_FALSE(got.empty());
  for (size_t i = 1; i < got.size(); ++i) ASSERT_LT(got[i - 1], got[i]);
  for (int v : got) ASSERT_EQ(v % 2, 1);
  EXPECT_EQ(got.back(), n - 1);
}

TEST_F(Events, FollowWithSinceReplaysThenStopsAtUntil) {
  const std::string p = path("events.jsonl");
  const int64_t now = now_ns();
  ASSERT_TRUE(append_event(p, ctr("create", "a", "n", "i", now - 3'000'000'000)).ok());
  ASSERT_TRUE(append_event(p, ctr("start", "b", "n", "i", now - 2'000'000'000)).ok());
  ASSERT_TRUE(append_event(p, ctr("start", "c", "n", "i", now - 1'000'000'000)).ok());
  EventFilter f;
  f.since_ns = now - 2'500'000'000;
  f.until_ns = now - 500'000'000;  // already past: replay, then stop without waiting
  std::vector<std::string> got;
  Status st = follow_events(
      p, f, [&](const Event& e) { got.push_back(e.id); return true; }, [] { return false; });
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(got, (std::vector<std::string>{"b", "c"}));
}

TEST_F(Events, MergeIsTimeOrderedAndStable) {
  std::vector<Event> evs = {ctr("start", "a", "n", "i", 10), ctr("die", "a", "n", "i", 30)};
  std::vector<ContainerLog> logs = {
      {"a", LogEntry{.time_ns = 10, .text = "same time as start"}},
      {"a", LogEntry{.time_ns = 20, .text = "hello"}},
      {"b", LogEntry{.time_ns = 5, .text = "early"}},
  };
  auto rs = merge_records(evs, logs);
  ASSERT_EQ(rs.size(), 5u);
  std::vector<std::string> what;
  for (const auto& r : rs) {
    if (auto* e = std::get_if<Event>(&r.what)) what.push_back("event " + e->action);
    else what.push_back(std::get<ContainerLog>(r.what).entry.text);
  }
  EXPECT_EQ(what, (std::vector<std::string>{"early", "event start", "same time as start", "hello", "event die"}));
}
