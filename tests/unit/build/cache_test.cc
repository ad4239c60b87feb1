// The build cache: records by key, touch, prune by age and by size budget,
// and its GC roots.
#include <gtest/gtest.h>

#include "base/fs.h"
#include "build/cache.h"
#include "fixture.h"

namespace berth::build {
namespace {

class CacheTest : public testing::TmpTree {
 protected:
  void SetUp() override {
    TmpTree::SetUp();
    auto s = Store::open(path("root"));
    ASSERT_TRUE(s.ok()) << s.error().str();
    store_.emplace(std::move(*s));
    auto c = Cache::open(*store_);
    ASSERT_TRUE(c.ok()) << c.error().str();
    cache_.emplace(std::move(*c));
  }
  CacheRecord rec(const std::string& name, int64_t size) {
    CacheRecord r;
    r.key = Digest::of("key " + name).str();
    r.manifest = Digest::of("manifest " + name);
    r.instruction = "RUN " + name;
    r.size = size;
    return r;
  }
  void age(const std::string& name, int64_t seconds_ago) {
    auto st = store_->db().prepare("UPDATE build_cache SET last_used = strftime('%s','now') - ? WHERE key = ?");
    ASSERT_TRUE(st.ok());
    st->bind(1, seconds_ago).bind(2, rec(name, 0).key);
    ASSERT_TRUE(st->run().ok());
  }
  bool has(const std::string& name) {
    auto r = cache_->get(rec(name, 0).key);
    return r.ok() && r->has_value();
  }
  std::optional<Store> store_;
  std::optional<Cache> cache_;
};

TEST_F(CacheTest, PutGetMiss) {
  EXPECT_FALSE(has("a"));
  ASSERT_TRUE(cache_->put(rec("a", 10)).ok());
  auto r = cache_->get(rec("a", 0).key);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->manifest, Digest::of("manifest a"));
  EXPECT_EQ((*r)->instruction, "RUN a");
  EXPECT_EQ((*r)->size, 10);
  // Reopening (a second build process) sees the record.
  auto again = Cache::open(*store_);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->get(rec("a", 0).key)->has_value());
}

TEST_F(CacheTest, PruneByAgeKeepsRecentlyUsed) {
  for (auto n : {"old", "young"}) ASSERT_TRUE(cache_->put(rec(n, 5)).ok());
  age("old", 3 * 86400);
  Cache::PruneOptions o;
  o.older_than_seconds = 86400;
  auto rep = cache_->prune(o);
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->records, 1u);
  EXPECT_FALSE(has("old"));
  EXPECT_TRUE(has("young"));
}

TEST_F(CacheTest, TouchProtectsFromAgePrune) {
  ASSERT_TRUE(cache_->put(rec("used", 5)).ok());
  age("used", 3 * 86400);
  ASSERT_TRUE(cache_->touch({rec("used", 0).key}).ok());
  Cache::PruneOptions o;
  o.older_than_seconds = 86400;
  EXPECT_EQ(cache_->prune(o)->records, 0u);
  EXPECT_TRUE(has("used"));
}

TEST_F(CacheTest, PruneToBudgetDropsLeastRecentlyUsed) {
  ASSERT_TRUE(cache_->put(rec("a", 100)).ok());
  ASSERT_TRUE(cache_->put(rec("b", 100)).ok());
  ASSERT_TRUE(cache_->put(rec("c", 100)).ok());
  age("a", 300);
  age("b", 200);
  age("c", 100);
  Cache::PruneOptions o;
  o.keep_bytes = 250;  // room for the two most recently used
  auto rep = cache_->prune(o);
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->records, 1u);
  EXPECT_EQ(rep->bytes, 100);
  EXPECT_FALSE(has("a"));
  EXPECT_TRUE(has("b"));
  EXPECT_TRUE(has("c"));
}

TEST_F(CacheTest, PruneAllAndGcRoots) {
  ASSERT_TRUE(cache_->put(rec("a", 1)).ok());
  ASSERT_TRUE(cache_->put(rec("b", 1)).ok());
  auto roots = cache_gc_roots()(*store_);
  ASSERT_TRUE(roots.ok());
  EXPECT_EQ(roots->blobs.size(), 2u);
  Cache::PruneOptions o;
  o.all = true;
  EXPECT_EQ(cache_->prune(o)->records, 2u);
  EXPECT_TRUE(cache_gc_roots()(*store_)->blobs.empty());
}

}  // namespace
}  // namespace berth::build
