// load: docker-archive, oci-archive and OCI layout directories.
//
// One streaming pass over the tar: small metadata members are kept in memory,
// every other regular member goes straight into a content Writer (OCI blobs
// verified against their blobs/<alg>/<hex> name; docker-archive layers
// decompressed if needed and keyed by their diff_id). Only then is the
// metadata interpreted, because `docker save` writes manifest.json last.
#include <fcntl.h>
#include <cerrno>
#include <sys/stat.h>

#include <map>
#include <set>
#include <vector>

#include "base/fs.h"
#include "image/archive.h"
#include "image/compress.h"
#include "image/json_util.h"
#include "image/manifest.h"
#include "image/media_types.h"
#include "image/resolve.h"
#include "image/tar_util.h"

namespace berth::image {

using detail::json;
using detail::Obj;

namespace {

constexpr uint64_t kMaxMetaMember = 8 << 20;
constexpr uint64_t kMaxMetaTotal = 64 << 20;
constexpr size_t kMaxMembers = 100000;
constexpr int kMaxLinkHops = 16;

struct Stored {
  Digest digest;
  uint64_t size = 0;
  bool raw = false;  // stored as found (blobs/...), not decompressed
};

struct Scan {
  std::map<std::string, std::string> meta;   // small JSON members
  std::map<std::string, Stored> blobs;       // members now in the store
  std::map<std::string, std::string> links;  // symlinks and hard links
};

bool is_meta_name(const std::string& n) {
  if (n == "manifest.json" || n == "repositories" || n == "index.json" || n == "oci-layout") return true;
  return n.find('/') == std::string::npos && n.size() > 5 && n.compare(n.size() - 5, 5, ".json") == 0;
}

// Legacy per-layer v1 metadata in docker-archive: never needed.
bool is_legacy_v1_meta(const std::string& n) {
  auto slash = n.rfind('/');
  std::string base = slash == std::string::npos ? n : n.substr(slash + 1);
  return slash != std::string::npos && (base == "json" || base == "VERSION");
}

Result<std::optional<Digest>> blob_name_digest(const std::string& n) {
  if (n.rfind("blobs/", 0) != 0) return std::optional<Digest>();
  auto rest = n.substr(6);
  auto slash = rest.find('/');
  if (slash == std::string::npos) return std::optional<Digest>();
  auto d = Digest::parse(rest.substr(0, slash) + ":" + rest.substr(slash + 1));
  if (!d.ok()) return Error(Errc::invalid_input, "archive member \"" + n.substr(0, 200) + "\": " + d.error().message);
  return std::optional<Digest>(std::move(*d));
}

Result<size_t> read_some(archive* a, char* buf, size_t len, const std::string& name) {
  la_ssize_t n = archive_read_data(a, buf, len);
  if (n < 0) return Error(Errc::invalid_input, "archive member " + name + ": " + detail::archive_err(a));
  return static_cast<size_t>(n);
}

// Streams the current member into the store. `decompress`: docker-archive
// layers may be gzip/zstd; they are stored uncompressed so digest == diff_id.
Result<Stored> store_member(content::Store& store, archive* a, const std::string& name, std::optional<Digest> expected,
                            bool decompress, std::vector<char>& buf) {
  TRY_ASSIGN(content::Writer w, store.writer("", expected ? expected->alg() : DigestAlg::sha256));
  std::string what = "archive member " + name;
  size_t have = 0;
  // Sniff only needs a few bytes, but libarchive may hand them out in pieces.
  while (have < 6) {
    TRY_ASSIGN(size_t n, read_some(a, buf.data() + have, buf.size() - have, name));
    if (n == 0) break;
    have += n;
  }
  media::Compression comp = media::Compression::none;
  if (decompress) {
    auto s = detail::sniff(std::string_view(buf.data(), have));
    if (s == detail::Sniffed::gzip) comp = media::Compression::gzip;
    else if (s == detail::Sniffed::zstd) comp = media::Compression::zstd;
    else if (s != detail::Sniffed::none)
      return Error(Errc::unsupported, what + ": " + detail::sniffed_name(s) + "-compressed layers are not supported");
  }
  TRY_ASSIGN(auto dec, detail::Decompressor::create(comp, what));
  detail::Sink sink = [&](const char* p, size_t len) { return w.write(p, len); };
  size_t n = have;
  while (n > 0) {
    TRY(dec->feed(buf.data(), n, sink));
    TRY_ASSIGN(n, read_some(a, buf.data(), buf.size(), name));
  }
  TRY(dec->finish(sink));
  uint64_t size = w.offset();
  auto d = w.commit(expected);
  if (!d.ok()) return std::move(d).error().wrap(what);
  return Stored{*d, size, !decompress};
}

Result<Scan> scan_tar(content::Store& store, const std::string& path) {
  detail::ArchiveReader a(archive_read_new());
  if (!a) return Error(Errc::internal, "archive_read_new failed");
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 20) != ARCHIVE_OK) {
    if (archive_errno(a.get()) == EILSEQ)  // libarchive ARCHIVE_ERRNO_FILE_FORMAT
      return Error(Errc::invalid_input, "not a tar archive: " + detail::archive_err(a.get()));
    return Error(Errc::io, detail::archive_err(a.get()), archive_errno(a.get()));
  }
  Scan s;
  std::vector<char> buf(1 << 20);
  uint64_t meta_total = 0;
  size_t count = 0;
  archive_entry* e;
  while (true) {
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      if (count == 0) return Error(Errc::invalid_input, "not a tar archive: " + detail::archive_err(a.get()));
      return Error(Errc::invalid_input, "corrupt tar after " + std::to_string(count) + " members: " + detail::archive_err(a.get()));
    }
    if (++count > kMaxMembers) return Error(Errc::limit, "more than " + std::to_string(kMaxMembers) + " members");
    const char* raw = archive_entry_pathname(e);
    if (!raw) raw = archive_entry_pathname_utf8(e);
    if (!raw) return Error(Errc::invalid_input, "member " + std::to_string(count) + " has no name");
    TRY_ASSIGN(std::string name, detail::clean_member_name(raw));
    if (name.empty()) continue;
    if (s.meta.count(name) || s.blobs.count(name) || s.links.count(name))
      return Error(Errc::invalid_input, "archive member \"" + name.substr(0, 200) + "\" appears twice");
    if (const char* hl = archive_entry_hardlink(e)) {
      TRY_ASSIGN(std::string target, detail::clean_member_name(hl));
      s.links[name] = target;
      continue;
    }
    auto type = archive_entry_filetype(e);
    if (type == AE_IFDIR) continue;
    if (type == AE_IFLNK) {
      const char* t = archive_entry_symlink(e);
      TRY_ASSIGN(std::string target, detail::resolve_link_target(name, t ? t : ""));
      s.links[name] = target;
      continue;
    }
    if (type != AE_IFREG)
      return Error(Errc::invalid_input, "archive member \"" + name.substr(0, 200) + "\": not a regular file, directory or link");
    if (is_meta_name(name)) {
      if (archive_entry_size_is_set(e) && static_cast<uint64_t>(archive_entry_size(e)) > kMaxMetaMember)
        return Error(Errc::limit, "archive member " + name + ": over the " + std::to_string(kMaxMetaMember) + " byte limit");
      std::string data;
      while (true) {
        TRY_ASSIGN(size_t n, read_some(a.get(), buf.data(), buf.size(), name));
        if (n == 0) break;
        data.append(buf.data(), n);
        if (data.size() > kMaxMetaMember)
          return Error(Errc::limit, "archive member " + name + ": over the " + std::to_string(kMaxMetaMember) + " byte limit");
      }
      meta_total += data.size();
      if (meta_total > kMaxMetaTotal)
        return Error(Errc::limit, "metadata members exceed " + std::to_string(kMaxMetaTotal) + " bytes in total");
      s.meta[name] = std::move(data);
      continue;
    }
    if (is_legacy_v1_meta(name)) continue;
    TRY_ASSIGN(std::optional<Digest> expected, blob_name_digest(name));
    TRY_ASSIGN(Stored st, store_member(store, a.get(), name, expected, !expected.has_value(), buf));
    s.blobs[name] = std::move(st);
  }
  return s;
}

Result<std::string> follow(const Scan& s, std::string name) {
  for (int i = 0; i < kMaxLinkHops; i++) {
    auto it = s.links.find(name);
    if (it == s.links.end()) return name;
    name = it->second;
  }
  return Error(Errc::invalid_input, "archive member \"" + name.substr(0, 200) + "\": too many levels of links");
}

// ---- OCI image layout (archive or directory) --------------------------------

using EnsureBlob = std::function<Status(const Descriptor&)>;
using ReadBlob = std::function<Result<std::string>(const Descriptor&, uint64_t limit)>;

Status check_layout(std::string_view bytes) {
  TRY_ASSIGN(json j, detail::parse_json(bytes, "oci-layout", 1 << 20));
  TRY_ASSIGN(Obj o, Obj::of(j, "oci-layout", ""));
  TRY_ASSIGN(std::string v, o.str("imageLayoutVersion", true));
  if (v != "1.0.0" && v != "1.0.1" && v != "1.1.0")
    return Error(Errc::unsupported, "oci-layout: unsupported imageLayoutVersion \"" + v.substr(0, 32) + "\"");
  return Status{};
}

struct OciWalker {
  content::Store& store;
  EnsureBlob ensure;
  std::set<Digest> done;

  Status walk(const Descriptor& d, int depth) {
    if (depth > 4) return Error(Errc::invalid_input, "index " + d.digest.str() + ": indexes nested more than 4 deep");
    if (done.count(d.digest)) return Status{};
    TRY(ensure(d));
    if (media::is_index(d.media_type) || media::is_manifest(d.media_type)) {
      TRY_ASSIGN(Document doc, read_document(store, d));
      if (auto* ix = std::get_if<Index>(&doc)) {
        for (const auto& c : ix->manifests)
          if (media::is_index(c.media_type) || media::is_manifest(c.media_type)) TRY(walk(c, depth + 1));
      } else {
        const Manifest& m = std::get<Manifest>(doc);
        TRY(ensure(m.config));
        if (media::is_image_config(m.config.media_type)) TRY(read_config(store, m.config));
        for (const auto& l : m.layers) {
          auto lt = media::classify_layer(l.media_type);
          // Non-distributable layers are legitimately absent from archives.
          if (lt.non_distributable && !l.urls.empty()) {
            auto st = ensure(l);
            if (!st.ok() && st.error().code == Errc::not_found) continue;
            TRY(st);
          } else {
            TRY(ensure(l));
          }
        }
      }
    }
    done.insert(d.digest);
    return Status{};
  }
};

LoadedImage name_image(const Descriptor& d) {
  LoadedImage li;
  li.descriptor = d;
  if (auto it = d.annotations.find(std::string(kAnnotationContainerdName)); it != d.annotations.end()) {
    if (auto r = parse_reference(it->second); r.ok()) li.reference = *r;
  }
  if (auto it = d.annotations.find(std::string(kAnnotationRefName)); it != d.annotations.end()) {
    li.ref_name = it->second;
    bool full = it->second.find_first_of("/:@") != std::string::npos;
    if (!li.reference && full)
      if (auto r = parse_reference(it->second); r.ok()) li.reference = *r;
  }
  li.descriptor.annotations.clear();  // index.json annotations describe the layout entry, not the image
  return li;
}

Result<std::vector<LoadedImage>> load_oci(content::Store& store, std::string_view layout, std::string_view index_json,
                                          EnsureBlob ensure) {
  TRY(check_layout(layout));
  TRY_ASSIGN(Index ix, parse_index(index_json));
  OciWalker w{store, std::move(ensure), {}};
  std::vector<LoadedImage> out;
  for (const auto& d : ix.manifests) {
    TRY(w.walk(d, 0));
    out.push_back(name_image(d));
  }
  return out;
}

Status ensure_size(const content::Store& store, const Descriptor& d) {
  TRY_ASSIGN(content::Info info, store.info(d.digest));
  if (info.size != d.size)
    return Error(Errc::size_mismatch, "blob " + d.digest.str() + ": " + std::to_string(info.size) +
                                          " bytes, descriptor says " + std::to_string(d.size));
  return Status{};
}

// ---- docker-archive ---------------------------------------------------------

Result<std::string> member_bytes(const content::Store& store, const Scan& s, const std::string& name, uint64_t limit) {
  TRY_ASSIGN(std::string real, follow(s, name));
  if (auto it = s.meta.find(real); it != s.meta.end()) return it->second;
  if (auto it = s.blobs.find(real); it != s.blobs.end()) return store.read_blob(it->second.digest, limit);
  return Error(Errc::not_found, "member \"" + name.substr(0, 200) + "\" is not in the archive");
}

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Result<std::vector<LoadedImage>> load_docker(content::Store& store, const Scan& s) {
  std::string what = "manifest.json";
  TRY_ASSIGN(json j, detail::parse_json(s.meta.at("manifest.json"), what, kMaxMetaMember));
  if (!j.is_array()) return Error(Errc::invalid_input, what + ": must be a JSON array, got " + j.type_name());
  if (j.empty()) return Error(Errc::invalid_input, what + ": lists no images");
  std::vector<LoadedImage> out;
  for (size_t i = 0; i < j.size(); i++) {
    TRY_ASSIGN(Obj o, Obj::of(j[i], what, "[" + std::to_string(i) + "]"));
    TRY(o.fields({"Config", "RepoTags", "Layers"}));
    TRY_ASSIGN(std::string config_name, o.str("Config", true));
    TRY_ASSIGN(auto tags, o.str_array("RepoTags"));
    TRY_ASSIGN(auto layer_names, o.str_array("Layers"));

    TRY_ASSIGN(std::string config_bytes, member_bytes(store, s, config_name, kMaxConfigSize));
    std::string cwhat = "config " + config_name;
    TRY_ASSIGN(ImageConfig cfg, parse_config(config_bytes));
    // Docker names the config after its digest: a cheap integrity check.
    auto base = config_name.substr(config_name.rfind('/') + 1);
    if (base.size() == 69 && base.compare(64, 5, ".json") == 0 && is_hex64(base.substr(0, 64)) &&
        cfg.digest.hex() != base.substr(0, 64))
      return Error(Errc::digest_mismatch, cwhat + ": content has digest " + cfg.digest.str());
    if (cfg.diff_ids.size() != layer_names.size())
      return o.err("Layers", std::to_string(layer_names.size()) + " layers but the config lists " +
                                 std::to_string(cfg.diff_ids.size()) + " diff_ids");
    Manifest m;
    m.media_type = std::string(media::kOciManifest);
    TRY(store.put(config_bytes, cfg.digest));
    m.config = Descriptor::of(media::kOciConfig, config_bytes);
    for (size_t k = 0; k < layer_names.size(); k++) {
      std::string lwhat = "layer " + std::to_string(k) + " (" + layer_names[k].substr(0, 200) + ")";
      TRY_ASSIGN(std::string real, follow(s, layer_names[k]));
      auto it = s.blobs.find(real);
      if (it == s.blobs.end()) return Error(Errc::not_found, lwhat + ": not in the archive");
      Digest diff = it->second.digest;
      uint64_t size = it->second.size;
      if (it->second.raw) {
        TRY_ASSIGN(diff, detail::store_uncompressed(store, it->second.digest, cfg.diff_ids[k], lwhat));
        TRY_ASSIGN(auto info, store.info(diff));
        size = info.size;
      }
      if (!(diff == cfg.diff_ids[k]))
        return Error(Errc::digest_mismatch,
                     lwhat + ": content has diff_id " + diff.str() + " but the config says " + cfg.diff_ids[k].str());
      Descriptor ld;
      ld.media_type = std::string(media::kOciLayer);
      ld.digest = diff;
      ld.size = size;
      m.layers.push_back(std::move(ld));
    }
    std::string mbytes = serialize(m);
    TRY(store.put(mbytes));
    Descriptor md = Descriptor::of(media::kOciManifest, mbytes);
    if (tags.empty()) out.push_back(LoadedImage{std::nullopt, "", md});
    for (size_t t = 0; t < tags.size(); t++) {
      auto r = parse_reference(tags[t]);
      if (!r.ok()) return o.err("RepoTags[" + std::to_string(t) + "]", r.error().message);
      out.push_back(LoadedImage{*r, "", md});
    }
  }
  return out;
}

// ---- directory --------------------------------------------------------------

Status copy_layout_blob(content::Store& store, const std::string& dir, const Descriptor& d) {
  if (store.has(d.digest)) return ensure_size(store, d);
  std::string p = path_join(dir, "blobs/" + d.digest.encoded_path());
  UniqueFd fd(::open(p.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return Error(Errc::not_found, "blob " + d.digest.str() + " is not in the layout");
    return sys_error("open " + p);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return sys_error("stat " + p);
  if (!S_ISREG(st.st_mode)) return Error(Errc::invalid_input, p + ": not a regular file");
  if (static_cast<uint64_t>(st.st_size) != d.size)
    return Error(Errc::size_mismatch, "blob " + d.digest.str() + ": " + std::to_string(st.st_size) +
                                          " bytes, descriptor says " + std::to_string(d.size));
  TRY_ASSIGN(content::Writer w, store.writer("", d.digest.alg()));
  std::vector<char> buf(1 << 20);
  while (true) {
    TRY_ASSIGN(size_t n, read_full(fd.get(), buf.data(), buf.size()));
    if (n == 0) break;
    TRY(w.write(buf.data(), n));
  }
  auto r = w.commit(d.digest, d.size);
  if (!r.ok()) return std::move(r).error().wrap("blob " + d.digest.str());
  return Status{};
}

Result<LoadResult> load_dir(content::Store& store, const std::string& dir) {
  std::string lp = path_join(dir, "oci-layout"), ip = path_join(dir, "index.json");
  if (!path_exists(lp)) return Error(Errc::invalid_input, "directory has no oci-layout file: not an OCI image layout");
  TRY_ASSIGN(std::string layout, read_file(lp, 1 << 20));
  TRY_ASSIGN(std::string index, read_file(ip, kMaxManifestSize + 1));
  auto ensure = [&](const Descriptor& d) { return copy_layout_blob(store, dir, d); };
  TRY_ASSIGN(auto images, load_oci(store, layout, index, ensure));
  return LoadResult{ArchiveFormat::oci_dir, std::move(images)};
}

Result<LoadResult> load_tar(content::Store& store, const std::string& path) {
  TRY_ASSIGN(Scan s, scan_tar(store, path));
  if (s.meta.count("index.json")) {
    if (!s.meta.count("oci-layout")) return Error(Errc::invalid_input, "has index.json but no oci-layout");
    auto ensure = [&](const Descriptor& d) -> Status {
      TRY_ASSIGN(std::string real, follow(s, detail::blob_member_name(d.digest)));
      auto it = s.blobs.find(real);
      if (it == s.blobs.end()) {
        if (store.has(d.digest)) return ensure_size(store, d);
        return Error(Errc::not_found, "blob " + d.digest.str() + " (" + d.media_type + ") is not in the archive");
      }
      if (it->second.size != d.size)
        return Error(Errc::size_mismatch, "blob " + d.digest.str() + ": " + std::to_string(it->second.size) +
                                              " bytes, descriptor says " + std::to_string(d.size));
      return Status{};
    };
    TRY_ASSIGN(auto images, load_oci(store, s.meta.at("oci-layout"), s.meta.at("index.json"), ensure));
    return LoadResult{ArchiveFormat::oci_archive, std::move(images)};
  }
  if (s.meta.count("manifest.json")) {
    TRY_ASSIGN(auto images, load_docker(store, s));
    return LoadResult{ArchiveFormat::docker_archive, std::move(images)};
  }
  if (s.meta.count("repositories"))
    return Error(Errc::unsupported, "docker-archive without manifest.json (pre-Docker 1.10 format) is not supported");
  return Error(Errc::invalid_input, "neither an OCI image layout (index.json) nor a docker-archive (manifest.json)");
}

}  // namespace

Result<LoadResult> load(content::Store& store, const std::string& path) {
  // Errors name the member or document; the caller prefixes the archive's
  // name (it may be a spooled copy of stdin the user never saw).
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return sys_error("stat");
  return S_ISDIR(st.st_mode) ? load_dir(store, path) : load_tar(store, path);
}

}  // namespace berth::image
