#include "seccomp/cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "base/fs.h"

#include <gtest/gtest.h>

namespace berth::seccomp {
namespace {

using nlohmann::json;

json notify_profile() {
  return {{"defaultAction", "SCMP_ACT_ALLOW"},
          {"listenerPath", "/run/agent.sock"},
          {"listenerMetadata", "meta data"},
          {"flags", {"SECCOMP_FILTER_FLAG_LOG"}},
          {"syscalls",
           {{{"names", {"mkdirat", "no_such_syscall_berth"}}, {"action", "SCMP_ACT_NOTIFY"}},
            {{"names", {"uname"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 42}}}}};
}

void expect_same(const Program& a, const Program& b) {
  ASSERT_EQ(a.filter.size(), b.filter.size());
  EXPECT_EQ(std::memcmp(a.filter.data(), b.filter.data(), a.filter.size() * sizeof(sock_filter)), 0);
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.notify, b.notify);
  EXPECT_EQ(a.listener_path, b.listener_path);
  EXPECT_EQ(a.listener_metadata, b.listener_metadata);
  EXPECT_EQ(a.skipped_syscalls, b.skipped_syscalls);
}

struct CacheDir {
  TempDir tmp = std::move(*TempDir::create("/tmp", "berth-seccomp-cache"));
  std::string dir = tmp.path() + "/.seccomp";
  std::string entry(const json& j) const { return dir + "/" + cache::file_name(*cache::key(j)); }
};

Program must(Result<Program> r) {
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().str());
  return r.ok() ? std::move(*r) : Program{};
}

TEST(SeccompCache, HitReturnsAnIdenticalProgram) {
  CacheDir c;
  for (const json& j : {default_profile({"CAP_CHOWN", "CAP_NET_BIND_SERVICE"}), notify_profile()}) {
    Program fresh = must(compile_uncached(j));
    Program first = must(compile(j, c.dir));
    expect_same(fresh, first);
    ASSERT_TRUE(path_exists(c.entry(j)));
    Program second = must(compile(j, c.dir));
    expect_same(fresh, second);
  }
  struct stat st;
  ASSERT_EQ(::stat(c.dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(SeccompCache, AValidEntryIsUsedWithoutCompiling) {
  // A well-formed entry whose program differs from what compile() would
  // produce proves the hit path skips libseccomp.
  CacheDir c;
  json j = notify_profile();
  ASSERT_TRUE(compile(j, c.dir).ok());
  Program planted = must(compile_uncached(j));
  planted.listener_metadata = "planted";
  std::string key = *cache::key(j);
  ASSERT_TRUE(atomic_write_file(c.entry(j), cache::encode(planted, key), 0600).ok());
  EXPECT_EQ(must(compile(j, c.dir)).listener_metadata, "planted");
}

TEST(SeccompCache, CorruptEntriesAreMissesAndGetRewritten) {
  json j = notify_profile();
  std::string key = *cache::key(j);
  Program fresh = must(compile_uncached(j));
  std::string good = cache::encode(fresh, key);
  std::string other_key = *cache::key(default_profile({}));
  std::vector<std::pair<std::string, std::string>> bad = {
      {"empty", ""},
      {"truncated header", good.substr(0, 20)},
      {"truncated body", good.substr(0, good.size() - 3)},
      {"extra byte", good + "x"},
      {"wrong magic", "X" + good.substr(1)},
      {"wrong format", good.substr(0, 8) + std::string("\x7f\0\0\0", 4) + good.substr(12)},
      {"body bit flip", good.substr(0, good.size() - 1) + static_cast<char>(good.back() ^ 1)},
      {"written for another key", cache::encode(fresh, other_key)},
  };
  for (const auto& [what, bytes] : bad) {
    SCOPED_TRACE(what);
    EXPECT_FALSE(cache::decode(bytes, key).has_value());
    CacheDir c;
    ASSERT_TRUE(mkdir_p(c.dir, 0700).ok());
    ASSERT_TRUE(atomic_write_file(c.entry(j), bytes, 0600).ok());
    expect_same(must(compile(j, c.dir)), fresh);
    auto rewritten = read_file(c.entry(j));
    ASSERT_TRUE(rewritten.ok());
    EXPECT_EQ(*rewritten, good);
  }
}

TEST(SeccompCache, SymlinkedEntryIsNotFollowed) {
  CacheDir c;
  json j = notify_profile();
  ASSERT_TRUE(mkdir_p(c.dir, 0700).ok());
  std::string target = c.tmp.path() + "/elsewhere";
  ASSERT_TRUE(atomic_write_file(target, cache::encode(must(compile_uncached(j)), *cache::key(j)), 0600).ok());
  ASSERT_EQ(::symlink(target.c_str(), c.entry(j).c_str()), 0);
  EXPECT_TRUE(compile(j, c.dir).ok());
  struct stat st;
  ASSERT_EQ(::lstat(c.entry(j).c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode)) << "replaced by a real file";
}

TEST(SeccompCache, DirectoryOthersCanReachIsNotUsed) {
  CacheDir c;
  ASSERT_TRUE(mkdir_p(c.dir, 0755).ok());
  ::chmod(c.dir.c_str(), 0755);
  json j = notify_profile();
  EXPECT_TRUE(compile(j, c.dir).ok());
  EXPECT_FALSE(path_exists(c.entry(j)));
}

TEST(SeccompCache, KeysFollowTheProfileNotItsSpelling) {
  json a = notify_profile();
  json b = json::parse(R"({"syscalls": [{"action": "SCMP_ACT_NOTIFY", "names": ["mkdirat", "no_such_syscall_berth"]},
                                        {"errnoRet": 42, "action": "SCMP_ACT_ERRNO", "names": ["uname"]}],
                           "flags": ["SECCOMP_FILTER_FLAG_LOG"], "listenerMetadata": "meta data",
                           "listenerPath": "/run/agent.sock", "defaultAction": "SCMP_ACT_ALLOW"})");
  EXPECT_EQ(*cache::key(a), *cache::key(b));
  json c = a;
  c["listenerMetadata"] = "other";
  json d = a;
  d["syscalls"][1]["errnoRet"] = 43;
  std::string ka = *cache::key(a), kc = *cache::key(c), kd = *cache::key(d);
  EXPECT_NE(ka, kc);
  EXPECT_NE(ka, kd);
  EXPECT_NE(kc, kd);
  EXPECT_NE(*cache::key(default_profile({})), *cache::key(default_profile({"CAP_SYS_ADMIN"})));
  EXPECT_EQ(cache::file_name(ka).size(), 16u);
  EXPECT_NE(cache::file_name(ka), cache::file_name(kc));
}

TEST(SeccompCache, AnotherKeysEntryUnderTheSameNameIsAMiss) {
  // File names are a 64-bit hash: a (crafted) collision must not hand one
  // profile's program to another. Plant the other profile's entry under
  // this profile's name; compile() must not return it.
  CacheDir c;
  json j = notify_profile();
  json other = default_profile({});
  Program theirs = must(compile_uncached(other));
  ASSERT_TRUE(compile(other, c.dir).ok());  // makes the cache dir
  ASSERT_TRUE(atomic_write_file(c.entry(j), cache::encode(theirs, *cache::key(other)), 0600).ok());
  Program got = must(compile(j, c.dir));
  Program want = must(compile_uncached(j));
  EXPECT_EQ(got.filter.size(), want.filter.size());
  EXPECT_NE(got.filter.size(), theirs.filter.size());
}

TEST(SeccompCache, InvalidProfilesAreNotCached) {
  CacheDir c;
  json bad = {{"defaultAction", "SCMP_ACT_NOPE"}};
  EXPECT_FALSE(compile(bad, c.dir).ok());
  EXPECT_FALSE(path_exists(c.entry(bad)));
  // Invalid UTF-8 cannot be dumped canonically: no key, compiled uncached.
  json odd = notify_profile();
  odd["listenerMetadata"] = std::string("\xff\xfe");
  EXPECT_FALSE(cache::key(odd).has_value());
  EXPECT_TRUE(compile(odd, c.dir).ok());
}

TEST(SeccompCache, AFullCacheIsEmptiedBeforeTheNextWrite) {
  CacheDir c;
  ASSERT_TRUE(mkdir_p(c.dir, 0700).ok());
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(atomic_write_file(c.dir + "/junk" + std::to_string(i), "x", 0600).ok());
  json j = notify_profile();
  ASSERT_TRUE(compile(j, c.dir).ok());
  EXPECT_FALSE(path_exists(c.dir + "/junk0"));
  EXPECT_TRUE(path_exists(c.entry(j)));
}

TEST(SeccompCache, DecodeSurvivesGarbage) {
  std::string key(64, 'a');
  std::string good = cache::encode(must(compile_uncached(notify_profile())), key);
  for (size_t i = 0; i < good.size(); i += 7) {
    std::string b = good;
    b[i] = static_cast<char>(b[i] ^ 0x5a);
    EXPECT_FALSE(cache::decode(b, key).has_value()) << "byte " << i;
  }
  EXPECT_FALSE(cache::decode(good, "../etc/passwd").has_value());
}

}  // namespace
}  // namespace berth::seccomp
