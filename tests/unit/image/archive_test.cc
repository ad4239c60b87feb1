// Archive load/save/import against a real content store in a temp dir, with
// hostile archives built member by member, and interop with skopeo when it is
// installed.
#include "image/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "base/fs.h"
#include "image/change.h"
#include "image/manifest.h"
#include "image/media_types.h"
#include "image/resolve.h"

using namespace berth;
using namespace berth::image;

namespace {

struct Member {
  std::string name;
  std::string data;
  char type = 'f';  // f file, l symlink, h hardlink, d dir
  std::string link;
};

void make_tar(const std::string& path, const std::vector<Member>& ms, bool gzip = false) {
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (gzip) archive_write_add_filter_gzip(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  for (const auto& m : ms) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.name.c_str());
    archive_entry_set_perm(e, 0644);
    if (m.type == 'f') {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_size(e, m.data.size());
    } else if (m.type == 'l') {
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_symlink(e, m.link.c_str());
    } else if (m.type == 'h') {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_hardlink(e, m.link.c_str());
    } else {
      archive_entry_set_filetype(e, AE_IFDIR);
    }
    archive_write_header(a, e);
    if (m.type == 'f' && !m.data.empty()) archive_write_data(a, m.data.data(), m.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

std::string rootfs_tar() {
  return std::string();  // filled by fixture
}

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto td = TempDir::create("/tmp", "berth-image-test");
    ASSERT_TRUE(td.ok());
    dir_ = td->release();
    auto s = content::Store::open(dir_ + "/store");
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_.emplace(std::move(*s));
    // A small rootfs tarball: a file, a directory, a symlink.
    make_tar(dir_ + "/rootfs.tar", {{"etc", "", 'd', ""},
                                    {"etc/hostname", "berth\n", 'f', ""},
                                    {"bin/sh", std::string(5000, 'x'), 'f', ""},
                                    {"bin/ash", "", 'l', "sh"}});
  }
  void TearDown() override { (void)remove_all(dir_); }

  content::Store fresh_store(const std::string& name) {
    auto s = content::Store::open(dir_ + "/" + name);
    EXPECT_TRUE(s.ok());
    return std::move(*s);
  }
  bool sh(const std::string& cmd) { return std::system(("cd " + dir_ + " && (" + cmd + ") >/dev/null 2>&1").c_str()) == 0; }
  Imported import_one(const std::string& file, std::vector<std::string> changes = {}) {
    ImportOptions o;
    o.changes = std::move(changes);
    o.created = "2024-01-02T03:04:05Z";
    auto r = import_rootfs(*store_, dir_ + "/" + file, o);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : Imported{};
  }
  Error load_error(const std::string& file) {
    auto s = fresh_store("bad-" + std::to_string(counter_++));
    auto r = load(s, dir_ + "/" + file);
    EXPECT_FALSE(r.ok()) << file;
    return r.ok() ? Error() : r.error();
  }

  std::string dir_;
  std::optional<content::Store> store_;
  int counter_ = 0;
};

}  // namespace

TEST_F(ArchiveTest, ImportDetectsCompressionByMagic) {
  ASSERT_TRUE(sh("gzip -kc rootfs.tar > rootfs.data && zstd -qc rootfs.tar > rootfs.zzz"));
  Imported plain = import_one("rootfs.tar");
  Imported gz = import_one("rootfs.data");
  Imported zs = import_one("rootfs.zzz");
  EXPECT_EQ(plain.layer.media_type, media::kOciLayer);
  EXPECT_EQ(gz.layer.media_type, media::kOciLayerGzip);
  EXPECT_EQ(zs.layer.media_type, media::kOciLayerZstd);
  EXPECT_EQ(plain.diff_id, plain.layer.digest);
  EXPECT_EQ(gz.diff_id, plain.diff_id);
  EXPECT_EQ(zs.diff_id, plain.diff_id);
  auto r = resolve(*store_, gz.manifest);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->config.diff_ids.at(0), plain.diff_id);
  EXPECT_EQ(r->config.os, "linux");
  EXPECT_EQ(r->config.created, "2024-01-02T03:04:05Z");
  EXPECT_EQ(r->config.history.at(0).created_by.rfind("berth import ", 0), 0u);
}

TEST_F(ArchiveTest, ImportAppliesChanges) {
  Imported im = import_one("rootfs.tar", {"CMD [\"/bin/sh\",\"-c\",\"echo hi\"]", "ENTRYPOINT /bin/entry --flag",
                                          "ENV A=1 B=\"two words\"", "env LEGACY some value", "WORKDIR /srv",
                                          "WORKDIR app", "USER 1000:1000", "LABEL org.x=y \"k 2\"=v",
                                          "EXPOSE 80 53/udp 8000-8002", "VOLUME [\"/data\",\"/logs\"]",
                                          "STOPSIGNAL SIGINT", "ONBUILD RUN make"});
  auto r = resolve(*store_, im.manifest);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const RunConfig& c = r->config.config;
  EXPECT_EQ(*c.cmd, (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));  // CMD set in this batch survives ENTRYPOINT
  EXPECT_EQ(*c.entrypoint, (std::vector<std::string>{"/bin/sh", "-c", "/bin/entry --flag"}));
  EXPECT_EQ(env_get(c.env, "B"), "two words");
  EXPECT_EQ(env_get(c.env, "LEGACY"), "some value");
  EXPECT_EQ(c.working_dir, "/srv/app");
  EXPECT_EQ(c.user, "1000:1000");
  EXPECT_EQ(c.labels.at("k 2"), "v");
  EXPECT_EQ(c.exposed_ports,
            (std::vector<std::string>{"53/udp", "80/tcp", "8000/tcp", "8001/tcp", "8002/tcp"}));
  EXPECT_EQ(c.volumes, (std::vector<std::string>{"/data", "/logs"}));
  EXPECT_EQ(c.stop_signal, "SIGINT");
  EXPECT_EQ(c.on_build, std::vector<std::string>{"RUN make"});
}

TEST_F(ArchiveTest, ImportRejects) {
  ImportOptions o;
  o.changes = {"RUN rm -rf /"};
  auto r = import_rootfs(*store_, dir_ + "/rootfs.tar", o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("unsupported instruction \"RUN\""), std::string::npos) << r.error().message;
  ASSERT_TRUE(atomic_write_file(dir_ + "/notatar", std::string(2000, 'n')).ok());
  r = import_rootfs(*store_, dir_ + "/notatar");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not a tar archive"), std::string::npos) << r.error().message;
  ASSERT_TRUE(sh("head -c 300 rootfs.tar | gzip -c > trunc.gz && gzip -c rootfs.tar | head -c 100 > cut.gz"));
  EXPECT_FALSE(import_rootfs(*store_, dir_ + "/trunc.gz").ok());
  r = import_rootfs(*store_, dir_ + "/cut.gz");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("truncated"), std::string::npos) << r.error().message;
  if (sh("xz -kc rootfs.tar > rootfs.xz")) {
    r = import_rootfs(*store_, dir_ + "/rootfs.xz");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::unsupported);
  }
}

TEST_F(ArchiveTest, OciArchiveAndDirRoundTrip) {
  ASSERT_TRUE(sh("gzip -kc rootfs.tar > rootfs.tgz"));
  Imported im = import_one("rootfs.tgz");
  auto ref = *parse_reference("example.com/team/app:v1");
  for (auto fmt : {ArchiveFormat::oci_archive, ArchiveFormat::oci_dir}) {
    std::string out = dir_ + "/out-" + archive_format_name(fmt);
    auto st = save(*store_, {{ref, im.manifest}, {std::nullopt, im.manifest}}, fmt, out);
    ASSERT_TRUE(st.ok()) << st.error().message;
    auto s2 = fresh_store(std::string("s-") + archive_format_name(fmt));
    auto r = load(s2, out);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->format, fmt);
    ASSERT_EQ(r->images.size(), 2u);
    EXPECT_EQ(r->images[0].reference->str(), ref.str());
    EXPECT_FALSE(r->images[1].reference.has_value());
    EXPECT_EQ(serialize(r->images[0].descriptor), serialize(im.manifest));
    auto res = resolve(s2, r->images[0].descriptor);
    ASSERT_TRUE(res.ok()) << res.error().message;
    EXPECT_EQ(res->manifest.layers.at(0).digest, im.layer.digest);  // bytes kept as they were
    // Atomic replace: saving again over the archive works; oci-dir refuses to overwrite.
    auto again = save(*store_, {{ref, im.manifest}}, fmt, out);
    EXPECT_EQ(again.ok(), fmt == ArchiveFormat::oci_archive);
  }
}

TEST_F(ArchiveTest, DockerArchiveRoundTripStoresLayersUncompressed) {
  ASSERT_TRUE(sh("zstd -qc rootfs.tar > rootfs.zst"));
  Imported im = import_one("rootfs.zst");
  auto ref = *parse_reference("busybox:1.36");
  auto ref2 = *parse_reference("localhost:5000/x/y:z");
  std::string out = dir_ + "/docker.tar";
  auto st = save(*store_, {{ref, im.manifest}, {ref2, im.manifest}}, ArchiveFormat::docker_archive, out);
  ASSERT_TRUE(st.ok()) << st.error().message;
  auto s2 = fresh_store("s2");
  auto r = load(s2, out);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->format, ArchiveFormat::docker_archive);
  ASSERT_EQ(r->images.size(), 2u);
  EXPECT_EQ(r->images[0].reference->str(), "docker.io/library/busybox:1.36");
  EXPECT_EQ(r->images[1].reference->str(), ref2.str());
  auto res = resolve(s2, r->images[0].descriptor);
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->config.digest, im.config.digest);  // image ID preserved
  EXPECT_EQ(res->manifest.layers.at(0).media_type, media::kOciLayer);
  EXPECT_EQ(res->manifest.layers.at(0).digest, im.diff_id);
  // Saving the loaded copy again reuses the uncompressed blob.
  ASSERT_TRUE(save(s2, {{ref, r->images[0].descriptor}}, ArchiveFormat::docker_archive, dir_ + "/again.tar").ok());
}

TEST_F(ArchiveTest, DockerArchiveLegacyLayoutWithSymlinksAndGzipLayer) {
  // docker save (< 25) layout: <id>/layer.tar, duplicate layers as symlinks;
  // some tools gzip the layer members.
  std::string layer;
  ASSERT_TRUE(read_file(dir_ + "/rootfs.tar").ok());
  layer = *read_file(dir_ + "/rootfs.tar");
  Digest diff = Digest::of(layer);
  ASSERT_TRUE(sh("gzip -c rootfs.tar > layer.gz"));
  std::string gz = *read_file(dir_ + "/layer.gz");
  std::string cfg = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[")" + diff.str() +
                    R"(",")" + diff.str() + R"("]}})";
  std::string cfgname = Digest::of(cfg).hex() + ".json";
  std::string manifest = R"([{"Config":")" + cfgname + R"(","RepoTags":["a/b:c"],"Layers":["aaa/layer.tar","bbb/layer.tar"]}])";
  make_tar(dir_ + "/legacy.tar", {{"aaa/", "", 'd', ""},
                                  {"aaa/layer.tar", gz, 'f', ""},
                                  {"aaa/json", "{}", 'f', ""},
                                  {"aaa/VERSION", "1.0", 'f', ""},
                                  {"bbb/layer.tar", "", 'l', "../aaa/layer.tar"},
                                  {cfgname, cfg, 'f', ""},
                                  {"repositories", "{}", 'f', ""},
                                  {"manifest.json", manifest, 'f', ""}});
  auto s2 = fresh_store("legacy");
  auto r = load(s2, dir_ + "/legacy.tar");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->images.size(), 1u);
  EXPECT_EQ(r->images[0].reference->str(), "docker.io/a/b:c");
  auto res = resolve(s2, r->images[0].descriptor);
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->manifest.layers.size(), 2u);
  EXPECT_EQ(res->manifest.layers[1].digest, diff);
  // The whole archive gzipped (`docker save | gzip`) loads too.
  ASSERT_TRUE(sh("gzip -c legacy.tar > legacy.tar.gz"));
  auto s3 = fresh_store("legacy-gz");
  EXPECT_TRUE(load(s3, dir_ + "/legacy.tar.gz").ok());
}

TEST_F(ArchiveTest, Docker25ArchiveIsReadAsOciLayout) {
  // Docker 25+ `docker save`: an OCI layout plus manifest.json/repositories.
  ASSERT_TRUE(sh("gzip -kc rootfs.tar > rootfs.tgz"));
  Imported im = import_one("rootfs.tgz");
  auto blob = [&](const Descriptor& d) { return Member{"blobs/sha256/" + d.digest.hex(), *store_->read_blob(d.digest), 'f', ""}; };
  Descriptor top = im.manifest;
  top.annotations["io.containerd.image.name"] = "docker.io/library/app:2";
  top.annotations["org.opencontainers.image.ref.name"] = "2";
  std::string index = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)" + serialize(top) + "]}";
  std::string manifest = R"([{"Config":"blobs/sha256/)" + im.config.digest.hex() + R"(","RepoTags":["app:2"],"Layers":["blobs/sha256/)" +
                         im.layer.digest.hex() + R"("]}])";
  make_tar(dir_ + "/d25.tar", {{"blobs/", "", 'd', ""}, blob(im.layer), blob(im.config), blob(im.manifest),
                               {"index.json", index, 'f', ""}, {"manifest.json", manifest, 'f', ""},
                               {"oci-layout", R"({"imageLayoutVersion":"1.0.0"})", 'f', ""}, {"repositories", "{}", 'f', ""}});
  auto s2 = fresh_store("d25");
  auto r = load(s2, dir_ + "/d25.tar");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->format, ArchiveFormat::oci_archive);
  ASSERT_EQ(r->images.size(), 1u);
  EXPECT_EQ(r->images[0].reference->str(), "docker.io/library/app:2");
  EXPECT_EQ(r->images[0].ref_name, "2");
  EXPECT_EQ(r->images[0].descriptor.digest, im.manifest.digest);  // the original manifest, compressed layer kept
  EXPECT_TRUE(r->images[0].descriptor.annotations.empty());
}

TEST_F(ArchiveTest, HostileArchives) {
  std::string layout = R"({"imageLayoutVersion":"1.0.0"})";
  auto has = [](const Error& e, std::string_view s) {
    EXPECT_NE(e.message.find(s), std::string::npos) << e.message;
  };
  make_tar(dir_ + "/dotdot.tar", {{"../evil", "x", 'f', ""}});
  has(load_error("dotdot.tar"), "\"..\" in name");
  make_tar(dir_ + "/abs.tar", {{"/etc/passwd", "x", 'f', ""}});
  has(load_error("abs.tar"), "absolute");
  make_tar(dir_ + "/dup.tar", {{"index.json", "{}", 'f', ""}, {"./index.json", "{}", 'f', ""}});
  has(load_error("dup.tar"), "appears twice");
  make_tar(dir_ + "/escape.tar", {{"manifest.json", "", 'l', "../../etc/passwd"}});
  has(load_error("escape.tar"), "escapes");
  make_tar(dir_ + "/nothing.tar", {{"hello", "x", 'f', ""}});
  has(load_error("nothing.tar"), "neither");
  ASSERT_TRUE(atomic_write_file(dir_ + "/garbage.tar", std::string(4096, 'g')).ok());
  has(load_error("garbage.tar"), "not a tar archive");

  // A blob whose bytes do not match its name.
  std::string wrong = "not the right content";
  Digest claimed = Digest::of("something else");
  make_tar(dir_ + "/mismatch.tar", {{"oci-layout", layout, 'f', ""}, {"blobs/sha256/" + claimed.hex(), wrong, 'f', ""}});
  EXPECT_EQ(load_error("mismatch.tar").code, Errc::digest_mismatch);
  make_tar(dir_ + "/badname.tar", {{"blobs/sha256/zzz", "x", 'f', ""}});
  has(load_error("badname.tar"), "blobs/sha256/zzz");

  // index.json pointing at a document that is both manifest and index.
  std::string both = R"({"schemaVersion":2,"manifests":[],"layers":[],"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                     Digest::of("{}").str() + R"(","size":2}})";
  Descriptor bd = Descriptor::of(media::kOciManifest, both);
  std::string index = R"({"schemaVersion":2,"manifests":[)" + serialize(bd) + "]}";
  make_tar(dir_ + "/confused.tar", {{"oci-layout", layout, 'f', ""},
                                    {"index.json", index, 'f', ""},
                                    {"blobs/sha256/" + bd.digest.hex(), both, 'f', ""}});
  has(load_error("confused.tar"), "CVE-2021-41190");

  // A manifest whose layer is missing from the archive.
  Descriptor cfgd = Descriptor::of(media::kOciConfig, R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})");
  Manifest m;
  m.media_type = std::string(media::kOciManifest);
  m.config = cfgd;
  m.layers = {Descriptor::of(media::kOciLayer, "missing layer")};
  std::string mb = serialize(m);
  Descriptor md = Descriptor::of(media::kOciManifest, mb);
  make_tar(dir_ + "/missing.tar",
           {{"oci-layout", layout, 'f', ""},
            {"index.json", R"({"schemaVersion":2,"manifests":[)" + serialize(md) + "]}", 'f', ""},
            {"blobs/sha256/" + md.digest.hex(), mb, 'f', ""},
            {"blobs/sha256/" + cfgd.digest.hex(), R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})", 'f', ""}});
  has(load_error("missing.tar"), "is not in the archive");

  // docker-archive whose layer does not match the config's diff_id.
  std::string cfg = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[")" +
                    Digest::of("other").str() + R"("]}})";
  make_tar(dir_ + "/diffid.tar", {{"c.json", cfg, 'f', ""},
                                  {"l.tar", "layer bytes", 'f', ""},
                                  {"manifest.json", R"([{"Config":"c.json","RepoTags":null,"Layers":["l.tar"]}])", 'f', ""}});
  has(load_error("diffid.tar"), "diff_id");
  make_tar(dir_ + "/badtag.tar", {{"c.json", cfg, 'f', ""},
                                  {"manifest.json", R"([{"Config":"c.json","RepoTags":["UPPER:x"],"Layers":[]}])", 'f', ""}});
  has(load_error("badtag.tar"), "Layers");
}

TEST_F(ArchiveTest, InteropWithSkopeo) {
  if (!sh("command -v skopeo")) GTEST_SKIP() << "skopeo not installed";
  ASSERT_TRUE(sh("gzip -kc rootfs.tar > rootfs.tgz"));
  Imported im = import_one("rootfs.tgz", {"CMD [\"/bin/sh\"]"});
  auto ref = *parse_reference("docker.io/library/berthtest:1");
  ASSERT_TRUE(save(*store_, {{ref, im.manifest}}, ArchiveFormat::docker_archive, dir_ + "/d.tar").ok());
  ASSERT_TRUE(save(*store_, {{ref, im.manifest}}, ArchiveFormat::oci_archive, dir_ + "/o.tar").ok());
  // skopeo reads what berth wrote ...
  ASSERT_TRUE(sh("skopeo --insecure-policy copy -q docker-archive:d.tar oci:from-docker:t"));
  ASSERT_TRUE(sh("skopeo --insecure-policy copy -q oci-archive:o.tar docker-archive:from-oci.tar:example.com/a/b:c"));
  ASSERT_TRUE(sh("skopeo --insecure-policy copy -q oci-archive:o.tar oci-archive:skopeo-oci.tar:latest"));
  // ... and berth reads what skopeo wrote, keeping the image ID.
  for (std::string p : {"from-docker", "from-oci.tar", "skopeo-oci.tar"}) {
    auto s = fresh_store("interop-" + p);
    auto r = load(s, dir_ + "/" + p);
    ASSERT_TRUE(r.ok()) << p << ": " << r.error().message;
    ASSERT_EQ(r->images.size(), 1u) << p;
    auto res = resolve(s, r->images[0].descriptor);
    ASSERT_TRUE(res.ok()) << p << ": " << res.error().message;
    EXPECT_EQ(res->config.diff_ids, std::vector<Digest>{im.diff_id}) << p;
    EXPECT_EQ(res->config.config.cmd->at(0), "/bin/sh") << p;
    if (p == "from-oci.tar") EXPECT_EQ(r->images[0].reference->str(), "example.com/a/b:c");
    if (p == "skopeo-oci.tar") EXPECT_EQ(r->images[0].ref_name, "latest");
  }
}
