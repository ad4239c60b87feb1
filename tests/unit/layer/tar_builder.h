// Test helper: crafts tar layers (benign or hostile) in memory with libarchive.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace berth::layer::testing {

struct Opts {
  unsigned mode = 0644;
  int64_t uid = 0, gid = 0;
  int64_t mtime = 1700000000;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

class TarBuilder {
 public:

  // compression: "none", "gzip", "zstd"
  explicit TarBuilder(const std::string& compression = "none") {
    a_ = archive_write_new();
    archive_write_set_format_pax_restricted(a_);
    if (compression == "gzip") archive_write_add_filter_gzip(a_);
    if (compression == "zstd") archive_write_add_filter_zstd(a_);
    archive_write_set_bytes_in_last_block(a_, 1);
    archive_write_open(a_, this, nullptr, &TarBuilder::write_cb, nullptr);
  }
  ~TarBuilder() {
    if (a_) archive_write_free(a_);
  }

  TarBuilder& file(const std::string& name, const std::string& data, Opts o = {}) {
    return add(name, AE_IFREG, o, "", "", data);
  }
  TarBuilder& dir(const std::string& name, Opts o = {.mode = 0755}) { return add(name, AE_IFDIR, o, "", "", ""); }
  TarBuilder& symlink(const std::string& name, const std::string& target, Opts o = {.mode = 0777}) {
    return add(name, AE_IFLNK, o, target, "", "");
  }
  TarBuilder& hardlink(const std::string& name, const std::string& target, Opts o = {}) {
    return add(name, AE_IFREG, o, "", target, "");
  }
  TarBuilder& fifo(const std::string& name, Opts o = {}) { return add(name, AE_IFIFO, o, "", "", ""); }
  TarBuilder& chardev(const std::string& name, unsigned maj, unsigned min, Opts o = {.mode = 0666}) {
    maj_ = maj;
    min_ = min;
    return add(name, AE_IFCHR, o, "", "", "");
  }
  std::string finish() {
    archive_write_close(a_);
    archive_write_free(a_);
    a_ = nullptr;
    return std::move(out_);
  }

 private:
  TarBuilder& add(const std::string& name, unsigned type, const Opts& o, const std::string& symlink,
                  const std::string& hardlink, const std::string& data) {
    auto* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, o.mode);
    archive_entry_set_uid(e, o.uid);
    archive_entry_set_gid(e, o.gid);
    archive_entry_set_mtime(e, o.mtime, 0);
    if (!symlink.empty()) archive_entry_set_symlink(e, symlink.c_str());
    if (!hardlink.empty()) archive_entry_set_hardlink(e, hardlink.c_str());
    if (type == AE_IFCHR) {
      archive_entry_set_rdevmajor(e, maj_);
      archive_entry_set_rdevminor(e, min_);
    }
    for (auto& [k, v] : o.xattrs) archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
    archive_entry_set_size(e, hardlink.empty() ? static_cast<int64_t>(data.size()) : 0);
    archive_write_header(a_, e);
    if (!data.empty()) archive_write_data(a_, data.data(), data.size());
    archive_entry_free(e);
    return *this;
  }
  static la_ssize_t write_cb(struct archive*, void* ud, const void* buf, size_t n) {
    static_cast<TarBuilder*>(ud)->out_.append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  }

  struct archive* a_ = nullptr;
  std::string out_;
  unsigned maj_ = 0, min_ = 0;
};

// A hand-made ustar layer whose single header claims `size` bytes (base-256
// encoded, so it may exceed 8 GiB) but carries only `actual`, unpadded: what
// libarchive's writer refuses to produce.
inline std::string lying_tar(const std::string& name, uint64_t size, const std::string& actual) {
  std::string h(512, '\0');
  std::memcpy(&h[0], name.data(), std::min<size_t>(name.size(), 100));
  std::memcpy(&h[100], "0000644", 7);
  std::memcpy(&h[108], "0000000", 7);
  std::memcpy(&h[116], "0000000", 7);
  h[124] = static_cast<char>(0x80);
  for (int i = 0; i < 8; i++) h[135 - i] = static_cast<char>((size >> (8 * i)) & 0xff);
  std::memcpy(&h[136], "14000000000", 11);
  h[156] = '0';
  std::memcpy(&h[257], "ustar", 6);
  std::memcpy(&h[263], "00", 2);
  std::memset(&h[148], ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  char chk[8];
  std::snprintf(chk, sizeof chk, "%06o", sum);
  std::memcpy(&h[148], chk, 7);
  return h + actual;
}

}  // namespace berth::layer::testing
