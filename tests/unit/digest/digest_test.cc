#include "digest/digest.h"

#include <gtest/gtest.h>

using namespace berth;

TEST(Digest, KnownSha256) {
  EXPECT_EQ(Digest::of("").str(), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Digest::of("abc").str(), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Digest, ParseRoundTrip) {
  auto d = Digest::parse("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->encoded_path(), "sha256/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(Digest::parse("sha512:" + std::string(128, 'a')).ok());
}

TEST(Digest, RejectsHostile) {
  for (const char* s : {"", "sha256", "sha256:", "md5:abcd", "sha256:../../etc/passwd",
                        "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
                        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",
                        "sha512:abc"}) {
    EXPECT_FALSE(Digest::parse(s).ok()) << s;
  }
}

TEST(Digest, StreamingEqualsOneShot) {
  std::string data(1 << 20, 'x');
  Hasher h;
  for (size_t i = 0; i < data.size(); i += 4097) h.update(data.data() + i, std::min<size_t>(4097, data.size() - i));
  EXPECT_EQ(h.finish(), Digest::of(data));
}

namespace {

// A hash stopped at any offset, its midstate carried over and resumed, ends
// where an uninterrupted one does (content's resumable ingests rely on it).
TEST(Hasher, MidstateResumesAnywhere) {
  std::string data;
  for (int i = 0; i < 1000; i++) data += "berth-" + std::to_string(i * 7919);
  for (auto alg : {berth::DigestAlg::sha256, berth::DigestAlg::sha512}) {
    const berth::Digest whole = berth::Digest::of(data, alg);
    for (size_t cut : {size_t{0}, size_t{1}, size_t{63}, size_t{64}, size_t{127}, size_t{128}, size_t{4097}, data.size()}) {
      berth::Hasher a(alg);
      a.update(data.data(), cut);
      auto b = berth::Hasher::resume(alg, a.bytes(), a.midstate());
      ASSERT_TRUE(b.has_value()) << "cut " << cut;
      b->update(data.data() + cut, data.size() - cut);
      EXPECT_EQ(b->finish(), whole) << "cut " << cut;
    }
  }
}

TEST(Hasher, ResumeRefusesStatesThatDisagree) {
  berth::Hasher a;
  a.update("0123456789", 10);
  std::string m = a.midstate();
  EXPECT_FALSE(berth::Hasher::resume(berth::DigestAlg::sha256, 11, m).has_value()) << "offset not the state's";
  EXPECT_FALSE(berth::Hasher::resume(berth::DigestAlg::sha256, 10, m.substr(1)).has_value()) << "truncated";
  EXPECT_FALSE(berth::Hasher::resume(berth::DigestAlg::sha512, 10, m).has_value()) << "other algorithm";
  EXPECT_TRUE(berth::Hasher::resume(berth::DigestAlg::sha256, 10, m).has_value());
}

}  // namespace
