// resolve() and the index paths of save/load, on documents put straight into
// a temp content store.
#include "image/resolve.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "base/fs.h"
#include "image/archive.h"
#include "image/media_types.h"

using namespace berth;
using namespace berth::image;

namespace {

class ResolveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto td = TempDir::create("/tmp", "berth-image-resolve");
    ASSERT_TRUE(td.ok());
    dir_ = td->release();
    auto s = content::Store::open(dir_ + "/store");
    ASSERT_TRUE(s.ok());
    store_.emplace(std::move(*s));
  }
  void TearDown() override { (void)remove_all(dir_); }

  Descriptor put(std::string_view mt, const std::string& bytes) {
    EXPECT_TRUE(store_->put(bytes).ok());
    return Descriptor::of(mt, bytes);
  }
  // A one-layer image for `arch`; `layer_type` lets tests plant bad types.
  Descriptor image(const std::string& arch, std::string layer_type = std::string(media::kOciLayer),
                   int diff_ids = 1) {
    std::string layer = "layer for " + arch;
    Descriptor ld = put(layer_type, layer);
    std::string ids;
    for (int i = 0; i < diff_ids; i++) ids += std::string(i ? "," : "") + "\"" + ld.digest.str() + "\"";
    Descriptor cd = put(media::kOciConfig, R"({"architecture":")" + arch + R"(","os":"linux","rootfs":{"type":"layers","diff_ids":[)" + ids + "]}}");
    Manifest m;
    m.media_type = std::string(media::kOciManifest);
    m.config = cd;
    m.layers = {ld};
    return put(media::kOciManifest, serialize(m));
  }
  Descriptor index(std::vector<std::pair<Descriptor, std::string>> entries) {
    Index ix;
    ix.media_type = std::string(media::kOciIndex);
    for (auto& [d, plat] : entries) {
      d.platform = *parse_platform(plat);
      ix.manifests.push_back(d);
    }
    return put(media::kOciIndex, serialize(ix));
  }

  std::string dir_;
  std::optional<content::Store> store_;
};

}  // namespace

TEST_F(ResolveTest, PicksPlatformFromNestedIndex) {
  Descriptor amd = image("amd64"), arm = image("arm64");
  Descriptor inner = index({{amd, "linux/amd64"}, {arm, "linux/arm64"}});
  Descriptor outer = index({{inner, "linux/amd64"}});
  auto r = resolve(*store_, inner, *parse_platform("linux/arm64"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->manifest_descriptor.digest, arm.digest);
  EXPECT_EQ(r->config.architecture, "arm64");
  auto r2 = resolve(*store_, outer, *parse_platform("linux/amd64"));
  ASSERT_TRUE(r2.ok()) << r2.error().message;
  EXPECT_EQ(r2->manifest_descriptor.digest, amd.digest);
  auto miss = resolve(*store_, inner, *parse_platform("linux/ppc64le"));
  ASSERT_FALSE(miss.ok());
  EXPECT_NE(miss.error().message.find("available: linux/amd64, linux/arm64/v8"), std::string::npos) << miss.error().message;
}

TEST_F(ResolveTest, RefusesWhatCannotRun) {
  auto bad_type = resolve(*store_, image("amd64", "application/vnd.oci.image.layer.v1.tar+lzma"));
  ASSERT_FALSE(bad_type.ok());
  EXPECT_NE(bad_type.error().message.find("unknown layer media type"), std::string::npos) << bad_type.error().message;
  auto count = resolve(*store_, image("amd64", std::string(media::kOciLayer), 2));
  ASSERT_FALSE(count.ok());
  EXPECT_NE(count.error().message.find("1 layers but config"), std::string::npos) << count.error().message;

  Manifest art;
  art.media_type = std::string(media::kOciManifest);
  art.artifact_type = "application/vnd.example.sbom";
  art.config = put(media::kOciEmpty, "{}");
  auto ad = put(media::kOciManifest, serialize(art));
  auto a = resolve(*store_, ad);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("artifact"), std::string::npos);

  // A descriptor that lies about the media type of what it points at.
  Descriptor lie = image("amd64");
  lie.media_type = std::string(media::kOciIndex);
  auto l = resolve(*store_, lie);
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.error().message.find("is a manifest, not an index"), std::string::npos) << l.error().message;

  Descriptor missing = Descriptor::of(media::kOciManifest, "never stored");
  EXPECT_EQ(resolve(*store_, missing).error().code, Errc::not_found);
}

TEST_F(ResolveTest, SaveWholeIndexOrJustThePlatform) {
  Descriptor amd = image("amd64"), arm = image("arm64");
  Descriptor ix = index({{amd, "linux/amd64"}, {arm, "linux/arm64"}});
  auto ref = *parse_reference("example.com/multi:1");
  ASSERT_TRUE(save(*store_, {{ref, ix}}, ArchiveFormat::oci_archive, dir_ + "/all.tar").ok());
  auto s2 = content::Store::open(dir_ + "/s2");
  auto r = load(*s2, dir_ + "/all.tar");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->images.at(0).descriptor.digest, ix.digest);  // the index itself, every platform
  EXPECT_TRUE(resolve(*s2, ix, *parse_platform("linux/arm64")).ok());

  // Only amd64 pulled: the OCI archive carries the amd64 manifest.
  std::string arm_layer_cfg;
  auto arm_doc = read_document(*store_, arm);
  ASSERT_TRUE(arm_doc.ok());
  ASSERT_TRUE(store_->remove(std::get<Manifest>(*arm_doc).layers[0].digest).ok());
  ASSERT_TRUE(save(*store_, {{ref, ix}}, ArchiveFormat::oci_archive, dir_ + "/one.tar", {*parse_platform("linux/amd64")}).ok());
  auto s3 = content::Store::open(dir_ + "/s3");
  auto r3 = load(*s3, dir_ + "/one.tar");
  ASSERT_TRUE(r3.ok()) << r3.error().message;
  EXPECT_EQ(r3->images.at(0).descriptor.digest, amd.digest);
  EXPECT_EQ(r3->images.at(0).reference->str(), ref.str());
}

TEST_F(ResolveTest, LayoutDirectoryRefusesSymlinkedBlobs) {
  Descriptor amd = image("amd64");
  ASSERT_TRUE(save(*store_, {{std::nullopt, amd}}, ArchiveFormat::oci_dir, dir_ + "/layout").ok());
  auto doc = read_document(*store_, amd);
  const auto& layer = std::get<Manifest>(*doc).layers[0];
  std::string p = dir_ + "/layout/blobs/sha256/" + layer.digest.hex();
  ASSERT_EQ(::unlink(p.c_str()), 0);
  ASSERT_TRUE(atomic_write_file(dir_ + "/elsewhere", "layer for amd64").ok());
  ASSERT_EQ(::symlink((dir_ + "/elsewhere").c_str(), p.c_str()), 0);
  auto s2 = content::Store::open(dir_ + "/s2");
  auto r = load(*s2, dir_ + "/layout");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().sys_errno, ELOOP) << r.error().str();
}
