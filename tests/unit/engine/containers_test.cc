// Container records: insert/get/update/remove, Docker's lookup rules (exact
// name or id wins over a prefix, ambiguous prefixes refused), unique names,
// rename, and the messages the CLI shows.
#include "engine/containers.h"

#include <gtest/gtest.h>

#include <optional>
#include <set>

#include "base/fs.h"
#include "metadata/db.h"

namespace berth::engine {
namespace {

class ContainerRecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::create("/tmp", "berth-containers-test");
    ASSERT_TRUE(t.ok());
    tmp_.emplace(std::move(*t));
    auto db = metadata::DB::open(tmp_->path() + "/metadata.db");
    ASSERT_TRUE(db.ok()) << db.error().str();
    db_.emplace(std::move(*db));
    auto cs = Containers::open(*db_);
    ASSERT_TRUE(cs.ok()) << cs.error().str();
    cs_.emplace(std::move(*cs));
  }

  Container make(const std::string& id, const std::string& name) {
    Container c;
    c.id = id;
    c.name = name;
    c.image = "busybox";
    c.image_id = "sha256:" + std::string(64, 'a');
    c.created_ns = now_ns();
    c.config = {{"args", {"sh"}}, {"labels", {{"k", "v"}}}};
    return c;
  }

  std::optional<TempDir> tmp_;
  std::optional<metadata::DB> db_;
  std::optional<Containers> cs_;
};

std::string hex_id(char first, char fill = '0') { return std::string(1, first) + std::string(63, fill); }

TEST_F(ContainerRecordsTest, InsertGetRoundTripsEveryField) {
  Container c = make(hex_id('a'), "web");
  c.state = State::running;
  c.pid = 42;
  c.pid_start = 7;
  c.monitor_pid = 41;
  c.exit_code = 3;
  c.started_ns = 5;
  c.finished_ns = 6;
  c.restart_count = 2;
  c.oom_killed = true;
  ASSERT_TRUE(cs_->insert(c).ok());
  auto g = cs_->get(c.id);
  ASSERT_TRUE(g.ok()) << g.error().str();
  EXPECT_EQ(g->name, "web");
  EXPECT_EQ(g->state, State::running);
  EXPECT_EQ(g->pid, 42);
  EXPECT_EQ(g->pid_start, 7);
  EXPECT_EQ(g->monitor_pid, 41);
  EXPECT_EQ(g->exit_code, 3);
  EXPECT_EQ(g->restart_count, 2);
  EXPECT_TRUE(g->oom_killed);
  EXPECT_EQ(g->config["labels"]["k"], "v");
}

TEST_F(ContainerRecordsTest, NameClashIsAlreadyExistsAndNamesTheHolder) {
  ASSERT_TRUE(cs_->insert(make(hex_id('a'), "web")).ok());
  auto s = cs_->insert(make(hex_id('b'), "web"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::already_exists);
  EXPECT_NE(s.error().message.find("\"web\" is already in use"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find(hex_id('a')), std::string::npos) << s.error().message;
}

TEST_F(ContainerRecordsTest, LookupByNameIdAndUniquePrefix) {
  ASSERT_TRUE(cs_->insert(make(hex_id('a', '1'), "one")).ok());
  ASSERT_TRUE(cs_->insert(make(hex_id('a', '2'), "two")).ok());
  EXPECT_EQ(cs_->lookup("one")->id, hex_id('a', '1'));
  EXPECT_EQ(cs_->lookup(hex_id('a', '2'))->name, "two");
  EXPECT_EQ(cs_->lookup("a2")->name, "two");
  auto amb = cs_->lookup("a");
  ASSERT_FALSE(amb.ok());
  EXPECT_EQ(amb.error().code, Errc::invalid_argument);
  EXPECT_NE(amb.error().message.find("ambiguous"), std::string::npos);
}

TEST_F(ContainerRecordsTest, ExactNameWinsOverAnIdPrefix) {
  // Docker: a container named like another's id prefix is found by its name.
  ASSERT_TRUE(cs_->insert(make(hex_id('b', 'c'), "other")).ok());
  ASSERT_TRUE(cs_->insert(make(hex_id('d'), "bcc")).ok());
  EXPECT_EQ(cs_->lookup("bcc")->id, hex_id('d'));
}

TEST_F(ContainerRecordsTest, MissingIsNotFoundWithDockersMessage) {
  auto r = cs_->lookup("nope");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::not_found);
  EXPECT_EQ(r.error().message, "No such container: nope");
  EXPECT_EQ(cs_->get(hex_id('e')).error().code, Errc::not_found);
  EXPECT_EQ(cs_->update(make(hex_id('e'), "x")).error().code, Errc::not_found);
  EXPECT_EQ(cs_->lookup("").error().code, Errc::invalid_argument);
}

TEST_F(ContainerRecordsTest, UpdateAndRemove) {
  Container c = make(hex_id('a'), "web");
  ASSERT_TRUE(cs_->insert(c).ok());
  c.state = State::exited;
  c.exit_code = 137;
  ASSERT_TRUE(cs_->update(c).ok());
  EXPECT_EQ(cs_->get(c.id)->state, State::exited);
  EXPECT_EQ(cs_->get(c.id)->exit_code, 137);
  ASSERT_TRUE(cs_->remove(c.id).ok());
  EXPECT_FALSE(cs_->get(c.id).ok());
  // The name is free again.
  EXPECT_TRUE(cs_->insert(make(hex_id('b'), "web")).ok());
}

TEST_F(ContainerRecordsTest, RenameChecksValidityAndClashes) {
  ASSERT_TRUE(cs_->insert(make(hex_id('a'), "one")).ok());
  ASSERT_TRUE(cs_->insert(make(hex_id('b'), "two")).ok());
  EXPECT_EQ(cs_->rename(hex_id('a'), "two").error().code, Errc::already_exists);
  EXPECT_EQ(cs_->rename(hex_id('a'), "-bad").error().code, Errc::invalid_argument);
  ASSERT_TRUE(cs_->rename(hex_id('a'), "uno").ok());
  EXPECT_EQ(cs_->lookup("uno")->id, hex_id('a'));
  EXPECT_FALSE(cs_->lookup("one").ok());
}

TEST_F(ContainerRecordsTest, ListIsNewestFirst) {
  Container a = make(hex_id('a'), "a"), b = make(hex_id('b'), "b");
  a.created_ns = 1;
  b.created_ns = 2;
  ASSERT_TRUE(cs_->insert(a).ok());
  ASSERT_TRUE(cs_->insert(b).ok());
  auto l = cs_->list();
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 2u);
  EXPECT_EQ((*l)[0].name, "b");
}

TEST(ContainerNames, IdsNamesAndStates) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; i++) {
    std::string id = new_container_id();
    ASSERT_EQ(id.size(), 64u);
    ASSERT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
    seen.insert(id);
    EXPECT_TRUE(valid_container_name(random_container_name()));
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_TRUE(valid_container_name("a.b-c_d1"));
  EXPECT_FALSE(valid_container_name(""));
  EXPECT_FALSE(valid_container_name("_x"));
  EXPECT_FALSE(valid_container_name("a/b"));
  for (State s : {State::created, State::running, State::paused, State::exited, State::removing})
    EXPECT_EQ(parse_state(state_name(s)), s);
  EXPECT_FALSE(parse_state("bogus").has_value());
}

}  // namespace
}  // namespace berth::engine
