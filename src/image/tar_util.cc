#include "image/tar_util.h"

#include <vector>

#include "base/fs.h"
#include "image/compress.h"

namespace berth::image::detail {

std::string archive_err(archive* a) {
  const char* s = archive_error_string(a);
  return s ? s : "unknown libarchive error";
}

Result<std::string> clean_member_name(std::string_view raw) {
  if (!raw.empty() && raw[0] == '/')
    return Error(Errc::invalid_input, "archive member \"" + std::string(raw.substr(0, 200)) + "\": absolute name");
  std::string out;
  size_t i = 0;
  while (i <= raw.size()) {
    size_t j = raw.find('/', i);
    if (j == std::string_view::npos) j = raw.size();
    auto comp = raw.substr(i, j - i);
    if (comp == "..")
      return Error(Errc::invalid_input, "archive member \"" + std::string(raw.substr(0, 200)) + "\": \"..\" in name");
    if (!comp.empty() && comp != ".") {
      if (!out.empty()) out += '/';
      out += comp;
    }
    i = j + 1;
  }
  return out;
}

Result<std::string> resolve_link_target(std::string_view link_name, std::string_view target) {
  if (!target.empty() && target[0] == '/')
    return Error(Errc::invalid_input, "archive member \"" + std::string(link_name.substr(0, 200)) +
                                          "\": symlink to absolute path \"" + std::string(target.substr(0, 200)) + "\"");
  std::vector<std::string> parts;
  auto slash = link_name.rfind('/');
  std::string joined = slash == std::string_view::npos ? std::string(target)
                                                       : std::string(link_name.substr(0, slash)) + "/" + std::string(target);
  size_t i = 0;
  while (i <= joined.size()) {
    size_t j = joined.find('/', i);
    if (j == std::string::npos) j = joined.size();
    std::string comp = joined.substr(i, j - i);
    if (comp == "..") {
      if (parts.empty())
        return Error(Errc::invalid_input, "archive member \"" + std::string(link_name.substr(0, 200)) +
                                              "\": symlink escapes the archive");
      parts.pop_back();
    } else if (!comp.empty() && comp != ".") {
      parts.push_back(std::move(comp));
    }
    i = j + 1;
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

std::string blob_member_name(const Digest& d) { return "blobs/" + d.encoded_path(); }

Result<TarWriter> TarWriter::open(int fd, std::string what) {
  ArchiveWriter a(archive_write_new());
  if (!a) return Error(Errc::internal, what + ": archive_write_new failed");
  if (archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(a.get(), 1) != ARCHIVE_OK ||
      archive_write_open_fd(a.get(), fd) != ARCHIVE_OK)
    return Error(Errc::io, what + ": " + archive_err(a.get()));
  return TarWriter(std::move(a), std::move(what));
}

Status TarWriter::header(const std::string& name, uint64_t size) {
  ArchiveEntry e(archive_entry_new());
  archive_entry_set_pathname(e.get(), name.c_str());
  archive_entry_set_filetype(e.get(), AE_IFREG);
  archive_entry_set_perm(e.get(), 0644);
  archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
  archive_entry_set_mtime(e.get(), 0, 0);
  archive_entry_set_uid(e.get(), 0);
  archive_entry_set_gid(e.get(), 0);
  if (archive_write_header(a_.get(), e.get()) != ARCHIVE_OK)
    return Error(Errc::io, what_ + ": writing " + name + ": " + archive_err(a_.get()));
  return Status{};
}

Status TarWriter::add(const std::string& name, std::string_view data) {
  TRY(header(name, data.size()));
  if (!data.empty() && archive_write_data(a_.get(), data.data(), data.size()) != static_cast<la_ssize_t>(data.size()))
    return Error(Errc::io, what_ + ": writing " + name + ": " + archive_err(a_.get()));
  return Status{};
}

Status TarWriter::add_fd(const std::string& name, int fd, uint64_t size) {
  TRY(header(name, size));
  std::vector<char> buf(1 << 20);
  uint64_t left = size;
  while (left > 0) {
    TRY_ASSIGN(size_t n, read_full(fd, buf.data(), std::min<uint64_t>(buf.size(), left)));
    if (n == 0) return Error(Errc::io, what_ + ": " + name + ": source shrank while copying");
    if (archive_write_data(a_.get(), buf.data(), n) != static_cast<la_ssize_t>(n))
      return Error(Errc::io, what_ + ": writing " + name + ": " + archive_err(a_.get()));
    left -= n;
  }
  return Status{};
}

Status TarWriter::close() {
  if (archive_write_close(a_.get()) != ARCHIVE_OK) return Error(Errc::io, what_ + ": " + archive_err(a_.get()));
  return Status{};
}

Result<Digest> store_uncompressed(content::Store& store, const Digest& blob, std::optional<Digest> expected,
                                  const std::string& what) {
  TRY_ASSIGN(UniqueFd fd, store.open_blob(blob));
  std::vector<char> buf(1 << 20);
  TRY_ASSIGN(size_t n, read_full(fd.get(), buf.data(), buf.size()));
  Sniffed s = sniff(std::string_view(buf.data(), n));
  if (s == Sniffed::none) {
    if (expected && !(*expected == blob))
      return Error(Errc::digest_mismatch, what + ": content has digest " + blob.str() + ", expected " + expected->str());
    return blob;
  }
  if (s != Sniffed::gzip && s != Sniffed::zstd)
    return Error(Errc::unsupported, what + ": " + sniffed_name(s) + "-compressed layers are not supported");
  if (expected && store.has(*expected)) return *expected;
  TRY_ASSIGN(auto dec, Decompressor::create(s == Sniffed::gzip ? media::Compression::gzip : media::Compression::zstd, what));
  TRY_ASSIGN(content::Writer w, store.writer("", expected ? expected->alg() : DigestAlg::sha256));
  Sink sink = [&](const char* p, size_t len) { return w.write(p, len); };
  while (n > 0) {
    TRY(dec->feed(buf.data(), n, sink));
    TRY_ASSIGN(n, read_full(fd.get(), buf.data(), buf.size()));
  }
  TRY(dec->finish(sink));
  auto r = w.commit(expected);
  if (!r.ok()) return std::move(r).error().wrap(what);
  return r;
}

}  // namespace berth::image::detail
