#include <gtest/gtest.h>

#include "transport/transport.h"

using namespace berth;
using namespace berth::transport;

TEST(Names, Transports) {
  auto d = parse_image_name("docker://localhost:5000/a/b:v1");
  ASSERT_TRUE(d.ok()) << d.error().str();
  EXPECT_EQ(d->kind, Kind::docker);
  EXPECT_EQ(d->ref->domain, "localhost:5000");
  EXPECT_EQ(d->ref->path, "a/b");
  EXPECT_EQ(d->ref->tag, "v1");
  EXPECT_EQ(d->str(), "docker://localhost:5000/a/b:v1");

  auto l = parse_image_name("busybox");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->kind, Kind::local);
  EXPECT_EQ(l->ref->str(), "docker.io/library/busybox:latest");
  EXPECT_FALSE(parse_image_name("busybox", false).ok());
  auto b = parse_image_name("berth:x/y:z");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->kind, Kind::local);

  auto o = parse_image_name("oci:/tmp/lay:v2");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->kind, Kind::oci_dir);
  EXPECT_EQ(o->path, "/tmp/lay");
  EXPECT_EQ(o->tag, "v2");
  auto o2 = parse_image_name("oci:/tmp/lay");
  ASSERT_TRUE(o2.ok());
  EXPECT_EQ(o2->tag, "");
  auto oa = parse_image_name("oci-archive:/tmp/a.tar:latest");
  ASSERT_TRUE(oa.ok());
  EXPECT_EQ(oa->kind, Kind::oci_archive);
  EXPECT_EQ(oa->path, "/tmp/a.tar");

  auto da = parse_image_name("docker-archive:/tmp/d.tar:busybox:1.36");
  ASSERT_TRUE(da.ok()) << da.error().str();
  EXPECT_EQ(da->kind, Kind::docker_archive);
  EXPECT_EQ(da->path, "/tmp/d.tar");
  EXPECT_EQ(da->ref->str(), "docker.io/library/busybox:1.36");
  auto da2 = parse_image_name("docker-archive:/tmp/d.tar");
  ASSERT_TRUE(da2.ok());
  EXPECT_FALSE(da2->ref.has_value());
}

TEST(Names, Errors) {
  EXPECT_FALSE(parse_image_name("docker://").ok());
  EXPECT_FALSE(parse_image_name("docker://a/Bad").ok());
  EXPECT_FALSE(parse_image_name("oci:").ok());
  EXPECT_FALSE(parse_image_name("oci:/x:bad tag").ok());
  EXPECT_EQ(parse_image_name("containers-storage:x").error().code, Errc::unsupported);
  EXPECT_EQ(parse_image_name("dir:/x").error().code, Errc::unsupported);
}
