// Named and anonymous volumes: the table, the directories, in-use rules,
// prune, copy-up from the image, crash leftovers, concurrent creates.
#include "engine/volumes.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "base/fs.h"

namespace berth::engine {
namespace {

void put(const std::string& p, const std::string& data, mode_t mode = 0644) {
  ASSERT_TRUE(mkdir_p(dirname_of(p)).ok()) << p;
  ASSERT_TRUE(atomic_write_file(p, data, mode).ok()) << p;
  ASSERT_EQ(::chmod(p.c_str(), mode), 0);
}

struct stat lst(const std::string& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) st.st_mode = 0;
  return st;
}

int entries(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  int n = 0;
  while (auto* de = ::readdir(d)) n += std::string(de->d_name) != "." && std::string(de->d_name) != "..";
  ::closedir(d);
  return n;
}

std::vector<std::string> names(const std::vector<Volume>& vs) {
  std::vector<std::string> out;
  for (auto& v : vs) out.push_back(v.name);
  return out;
}

class VolumesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::create("/tmp", "berth-volumes-test");
    ASSERT_TRUE(t.ok());
    tmp_.emplace(std::move(*t));
    root = tmp_->path() + "/store";
    auto s = Store::open(root);
    ASSERT_TRUE(s.ok()) << s.error().str();
    store_.emplace(std::move(*s));
    auto v = Volumes::open(*store_);
    ASSERT_TRUE(v.ok()) << v.error().str();
    vols_.emplace(std::move(*v));
    vols_->set_users([this](const std::string& name) -> Result<std::vector<std::string>> {
      auto it = users.find(name);
      return it == users.end() ? std::vector<std::string>{} : it->second;
    });
  }
  Volumes& vols() { return *vols_; }

  std::optional<TempDir> tmp_;
  std::string root;
  std::optional<Store> store_;
  std::optional<Volumes> vols_;
  std::map<std::string, std::vector<std::string>> users;
};

#define OK(expr)                              \
  do {                                        \
    auto s_ = (expr);                         \
    ASSERT_TRUE(s_.ok()) << s_.error().str(); \
  } while (0)

TEST_F(VolumesTest, CreateGetIdempotent) {
  auto v = vols().create("data", {{"app", "web"}});
  ASSERT_TRUE(v.ok()) << v.error().str();
  EXPECT_TRUE(v->created);
  EXPECT_FALSE(v->anonymous);
  EXPECT_EQ(v->driver, "local");
  EXPECT_EQ(v->mountpoint, root + "/volumes/data/_data");
  EXPECT_TRUE(S_ISDIR(lst(v->mountpoint).st_mode));
  auto again = vols().create("data", {{"other", "x"}});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->labels, (std::map<std::string, std::string>{{"app", "web"}}));
  EXPECT_EQ(again->created_at, v->created_at);
  auto g = vols().get("data");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->labels.at("app"), "web");
  auto j = volume_json(*g);
  EXPECT_EQ(j["Name"], "data");
  EXPECT_EQ(j["Scope"], "local");
  EXPECT_EQ(j["Mountpoint"], v->mountpoint);
  auto missing = vols().get("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
  EXPECT_EQ(missing.error().message, "no such volume: nope");
}

TEST_F(VolumesTest, AnonymousGetsRandomHexName) {
  auto a = vols().create("", {}, true);
  auto b = vols().create("", {}, true);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->name.size(), 64u);
  EXPECT_EQ(a->name.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a->name, b->name);
  EXPECT_TRUE(a->anonymous);
  EXPECT_TRUE(vols().get(a->name)->anonymous);
}

TEST_F(VolumesTest, InvalidNamesRefused) {
  for (std::string n : std::vector<std::string>{"a", "-ab", ".ab", "_ab", "../x", "a/b", "a b", "a\nb", std::string(256, 'a'), "/abs"}) {
    auto v = vols().create(n);
    ASSERT_FALSE(v.ok()) << n;
    EXPECT_EQ(v.error().code, Errc::invalid_argument);
    EXPECT_NE(v.error().message.find("includes invalid characters"), std::string::npos);
  }
  EXPECT_FALSE(path_exists(root + "/x"));
  EXPECT_TRUE(vols().create("a.b_c-1").ok());
  EXPECT_TRUE(vols().create(std::string(255, 'a')).ok());
}

TEST_F(VolumesTest, ListFilters) {
  OK(vols().create("web-data", {{"app", "web"}, {"tier", "front"}}));
  OK(vols().create("db-data", {{"app", "db"}}));
  OK(vols().create("scratch"));
  users["db-data"] = {"c1"};
  auto all = vols().list();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(names(*all), (std::vector<std::string>{"db-data", "scratch", "web-data"}));
  auto f = VolumeFilters::parse({"label=app"});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(names(*vols().list(*f)), (std::vector<std::string>{"db-data", "web-data"}));
  EXPECT_EQ(names(*vols().list(*VolumeFilters::parse({"label=app=web"}))), (std::vector<std::string>{"web-data"}));
  EXPECT_EQ(names(*vols().list(*VolumeFilters::parse({"name=data"}))),
            (std::vector<std::string>{"db-data", "web-data"}));
  EXPECT_EQ(names(*vols().list(*VolumeFilters::parse({"dangling=true"}))),
            (std::vector<std::string>{"scratch", "web-data"}));
  EXPECT_EQ(names(*vols().list(*VolumeFilters::parse({"dangling=false"}))), (std::vector<std::string>{"db-data"}));
  EXPECT_EQ(names(*vols().list(*VolumeFilters::parse({"dangling=true", "label=tier"}))),
            (std::vector<std::string>{"web-data"}));
  EXPECT_FALSE(VolumeFilters::parse({"color=red"}).ok());
  EXPECT_FALSE(VolumeFilters::parse({"dangling=maybe"}).ok());
  EXPECT_FALSE(VolumeFilters::parse({"label"}).ok());
}

TEST_F(VolumesTest, RemoveRefusesInUseUnlessForced) {
  auto v = vols().create("busy");
  ASSERT_TRUE(v.ok());
  put(v->mountpoint + "/f", "x");
  users["busy"] = {"aaa", "bbb"};
  auto r = vols().remove("busy");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::busy);
  EXPECT_EQ(r.error().message, "remove busy: volume is in use - [aaa bbb]");
  EXPECT_TRUE(path_exists(v->mountpoint + "/f"));
  auto forced = vols().remove("busy", true);
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(forced->name, "busy");
  EXPECT_FALSE(path_exists(root + "/volumes/busy"));
  EXPECT_EQ(entries(root + "/volumes/.trash"), 0);
  EXPECT_EQ(vols().get("busy").error().code, Errc::not_found);
  auto again = vols().remove("busy");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().message, "no such volume: busy");
}

TEST_F(VolumesTest, PruneAnonymousUnusedByDefaultAllWithFlag) {
  auto anon_free = vols().create("", {}, true);
  auto anon_used = vols().create("", {}, true);
  ASSERT_TRUE(anon_free.ok() && anon_used.ok());
  OK(vols().create("named-free"));
  OK(vols().create("named-used"));
  users[anon_used->name] = {"c1"};
  users["named-used"] = {"c2"};
  put(anon_free->mountpoint + "/blob", std::string(64 << 10, 'x'));
  auto rep = vols().prune();
  ASSERT_TRUE(rep.ok()) << rep.error().str();
  ASSERT_EQ(rep->removed.size(), 1u);
  EXPECT_EQ(rep->removed[0].name, anon_free->name);
  EXPECT_TRUE(rep->removed[0].anonymous);
  EXPECT_GE(rep->reclaimed_bytes, 64u << 10);
  auto rep2 = vols().prune(true);
  ASSERT_TRUE(rep2.ok());
  EXPECT_EQ(names(rep2->removed), (std::vector<std::string>{"named-free"}));
  std::vector<std::string> left = names(*vols().list());
  std::sort(left.begin(), left.end());
  std::vector<std::string> want = {anon_used->name, "named-used"};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(left, want);
}

TEST_F(VolumesTest, DiskUsageCountsBlocksAndHardLinksOnce) {
  auto v = vols().create("du");
  ASSERT_TRUE(v.ok());
  auto empty = vols().disk_usage("du");
  ASSERT_TRUE(empty.ok());
  put(v->mountpoint + "/a/big", std::string(1 << 20, 'x'));
  auto one = vols().disk_usage("du");
  ASSERT_TRUE(one.ok());
  EXPECT_GE(*one - *empty, 1u << 20);
  ASSERT_EQ(::link((v->mountpoint + "/a/big").c_str(), (v->mountpoint + "/big2").c_str()), 0);
  auto two = vols().disk_usage("du");
  ASSERT_TRUE(two.ok());
  EXPECT_LT(*two - *one, 1u << 20);  // the second name adds no data blocks
  EXPECT_EQ(vols().disk_usage("nope").error().code, Errc::not_found);
}

TEST_F(VolumesTest, PopulateFromCopiesModesOwnersOnceAndOnlyWhenEmpty) {
  std::string rootfs = tmp_->path() + "/rootfs";
  put(rootfs + "/var/lib/db/conf", "C", 0640);
  put(rootfs + "/var/lib/db/sub/x", "X", 0600);
  ASSERT_EQ(::symlink("/etc/passwd", (rootfs + "/var/lib/db/link").c_str()), 0);
  ASSERT_EQ(::chmod((rootfs + "/var/lib/db").c_str(), 0700), 0);
  bool root_user = ::geteuid() == 0;
  if (root_user) {
    ASSERT_EQ(::chown((rootfs + "/var/lib/db").c_str(), 999, 998), 0);
    ASSERT_EQ(::chown((rootfs + "/var/lib/db/conf").c_str(), 999, 998), 0);
  }
  auto v = vols().create("pg");
  ASSERT_TRUE(v.ok());
  OK(vols().populate_from(*v, rootfs, "/var/lib/db"));
  EXPECT_EQ(read_file(v->mountpoint + "/conf").value(), "C");
  EXPECT_EQ(lst(v->mountpoint + "/conf").st_mode & 07777, 0640u);
  EXPECT_EQ(lst(v->mountpoint + "/sub/x").st_mode & 07777, 0600u);
  EXPECT_EQ(lst(v->mountpoint).st_mode & 07777, 0700u);
  EXPECT_TRUE(S_ISLNK(lst(v->mountpoint + "/link").st_mode));  // copied as a link, never followed
  if (root_user) {
    EXPECT_EQ(lst(v->mountpoint + "/conf").st_uid, 999u);
    EXPECT_EQ(lst(v->mountpoint).st_uid, 999u);
    EXPECT_EQ(lst(v->mountpoint).st_gid, 998u);
  }
  // Not empty any more: a second container's copy-up changes nothing.
  put(rootfs + "/var/lib/db/new", "N");
  OK(vols().populate_from(*v, rootfs, "/var/lib/db"));
  EXPECT_FALSE(path_exists(v->mountpoint + "/new"));
  // A path the image lacks (or a file): nothing to copy.
  auto e = vols().create("empty");
  ASSERT_TRUE(e.ok());
  OK(vols().populate_from(*e, rootfs, "/nope"));
  OK(vols().populate_from(*e, rootfs, "/var/lib/db/conf"));
  EXPECT_EQ(entries(e->mountpoint), 0);
}

TEST_F(VolumesTest, PopulateFromNeverFollowsRootfsSymlinkOut) {
  std::string rootfs = tmp_->path() + "/rootfs";
  std::string outside = tmp_->path() + "/outside";
  put(outside + "/secret", "HOST SECRET");
  ASSERT_TRUE(mkdir_p(rootfs + "/var").ok());
  ASSERT_EQ(::symlink(outside.c_str(), (rootfs + "/var/data").c_str()), 0);
  ASSERT_EQ(::symlink("../../../../../../../../..", (rootfs + "/up").c_str()), 0);
  auto v = vols().create("evil");
  ASSERT_TRUE(v.ok());
  OK(vols().populate_from(*v, rootfs, "/var/data"));  // resolves to <rootfs><outside>: absent
  EXPECT_FALSE(path_exists(v->mountpoint + "/secret"));
  std::string via_up = "/up" + outside;
  OK(vols().populate_from(*v, rootfs, via_up));
  EXPECT_FALSE(path_exists(v->mountpoint + "/secret"));
  // The same path present inside the rootfs is what gets copied.
  put(rootfs + outside + "/secret", "CTR");
  OK(vols().populate_from(*v, rootfs, "/var/data"));
  EXPECT_EQ(read_file(v->mountpoint + "/secret").value(), "CTR");
}

TEST_F(VolumesTest, SweepOrphansAndNoInheritedData) {
  // A create cut short after mkdir, a remove cut short after the row went.
  put(root + "/volumes/orphan/_data/old", "OLD");
  put(root + "/volumes/.trash/vol.1.x/_data/f", "F");
  OK(vols().create("kept"));
  OK(vols().sweep_orphans());
  EXPECT_FALSE(path_exists(root + "/volumes/orphan"));
  EXPECT_FALSE(path_exists(root + "/volumes/.trash/vol.1.x"));
  EXPECT_TRUE(path_exists(root + "/volumes/kept/_data"));
  // A leftover directory under a name being created is not reused.
  put(root + "/volumes/reborn/_data/old", "OLD");
  auto v = vols().create("reborn");
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(path_exists(v->mountpoint + "/old"));
}

TEST_F(VolumesTest, ConcurrentCopyUpsCopyOnce) {
  std::string rootfs = tmp_->path() + "/rootfs";
  for (int i = 0; i < 200; i++) put(rootfs + "/data/f" + std::to_string(i), std::string(1000, 'x'));
  auto v = vols().create("shared-copy");
  ASSERT_TRUE(v.ok());
  std::vector<pid_t> pids;
  for (int i = 0; i < 4; i++) {
    pid_t p = ::fork();
    ASSERT_GE(p, 0);
    if (p == 0) {
      auto s = Store::open(root);
      if (!s) ::_exit(2);
      auto vs = Volumes::open(*s);
      if (!vs) ::_exit(3);
      ::_exit(vs->populate_from(*v, rootfs, "/data").ok() ? 0 : 4);
    }
    pids.push_back(p);
  }
  for (pid_t p : pids) {
    int st = 0;
    ASSERT_EQ(::waitpid(p, &st, 0), p);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  EXPECT_EQ(entries(v->mountpoint), 200);
}

TEST_F(VolumesTest, ConcurrentCreatesOfOneNameFromProcesses) {
  constexpr int kProcs = 6;
  std::vector<pid_t> pids;
  for (int i = 0; i < kProcs; i++) {
    pid_t p = ::fork();
    ASSERT_GE(p, 0);
    if (p == 0) {
      // Each child: its own store handle, like a separate `berth volume create`.
      auto s = Store::open(root);
      if (!s) ::_exit(2);
      auto v = Volumes::open(*s);
      if (!v) ::_exit(3);
      auto c = v->create("shared", {{"by", std::to_string(i)}});
      if (!c) ::_exit(4);
      ::_exit(c->created ? 10 : 11);
    }
    pids.push_back(p);
  }
  int created = 0, existing = 0;
  for (pid_t p : pids) {
    int st = 0;
    ASSERT_EQ(::waitpid(p, &st, 0), p);
    ASSERT_TRUE(WIFEXITED(st));
    int code = WEXITSTATUS(st);
    EXPECT_TRUE(code == 10 || code == 11) << "child exit " << code;
    created += code == 10;
    existing += code == 11;
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(existing, kProcs - 1);
  auto all = vols().list();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(names(*all), (std::vector<std::string>{"shared"}));
}

}  // namespace
}  // namespace berth::engine
