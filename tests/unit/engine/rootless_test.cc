#include "engine/rootless.h"

#include <gtest/gtest.h>

namespace berth::engine {
namespace {

TEST(ParseSubids, MatchesNameOrIdInFileOrder) {
  const char* text =
      "alice:100000:65536\n"
      "bob:165536:65536\n"
      "1000:300000:10\n"       // bob by uid
      "bob:400000:0\n"         // zero count: skipped
      "bob:x:5\n"              // malformed: skipped
      "bob:500000\n"           // malformed: skipped
      "bobby:600000:65536\n"   // another user
      "bob:700000:1";          // no trailing newline
  auto r = parse_subids(text, "bob", 1000);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].start, 165536u);
  EXPECT_EQ(r[0].count, 65536u);
  EXPECT_EQ(r[1].start, 300000u);
  EXPECT_EQ(r[1].count, 10u);
  EXPECT_EQ(r[2].start, 700000u);
  EXPECT_TRUE(parse_subids(text, "carol", 2000).empty());
  EXPECT_TRUE(parse_subids("", "bob", 1000).empty());
}

TEST(IdMapArgs, OwnIdIsRootThenRangesStackFromOne) {
  std::vector<std::string> want = {"0", "1000", "1", "1", "100000", "65536", "65537", "300000", "10"};
  EXPECT_EQ(id_map_args(1000, {{100000, 65536}, {300000, 10}}), want);
  std::vector<std::string> own = {"0", "1000", "1"};
  EXPECT_EQ(id_map_args(1000, {}), own);
}

}  // namespace
}  // namespace berth::engine
