// save: docker-archive, oci-archive and oci-dir, written to a temporary
// sibling of the destination and renamed into place.
#include <fcntl.h>
#include <sys/stat.h>

#include <cstdio>
#include <map>
#include <set>
#include <vector>

#include "base/fs.h"
#include "image/archive.h"
#include "image/compress.h"
#include "image/json_util.h"
#include "image/media_types.h"
#include "image/resolve.h"
#include "image/tar_util.h"

namespace berth::image {

using detail::json;

Result<ArchiveFormat> parse_archive_format(std::string_view s) {
  if (s == "docker-archive") return ArchiveFormat::docker_archive;
  if (s == "oci-archive") return ArchiveFormat::oci_archive;
  if (s == "oci-dir" || s == "oci") return ArchiveFormat::oci_dir;
  return Error(Errc::invalid_argument, "unknown archive format \"" + std::string(s.substr(0, 64)) +
                                           "\" (want docker-archive, oci-archive or oci-dir)");
}

const char* archive_format_name(ArchiveFormat f) {
  switch (f) {
    case ArchiveFormat::docker_archive: return "docker-archive";
    case ArchiveFormat::oci_archive: return "oci-archive";
    default: return "oci-dir";
  }
}

namespace {

// A temp file or directory next to the destination, removed unless published.
class Staging {
 public:
  explicit Staging(const std::string& out)
      : out_(out), tmp_(path_join(dirname_of(out), unique_name("." + out.substr(out.rfind('/') + 1)) + ".tmp")) {}
  ~Staging() {
    if (!published_) (void)remove_all(tmp_);
  }
  const std::string& path() const { return tmp_; }
  Status publish() {
    if (::rename(tmp_.c_str(), out_.c_str()) != 0) return sys_error("rename " + tmp_ + " to " + out_);
    published_ = true;
    return fsync_dir(dirname_of(out_));
  }

 private:
  std::string out_, tmp_;
  bool published_ = false;
};

Status copy_fd(int in, int out, const std::string& what) {
  std::vector<char> buf(1 << 20);
  while (true) {
    TRY_ASSIGN(size_t n, read_full(in, buf.data(), buf.size()));
    if (n == 0) return Status{};
    auto st = write_all(out, buf.data(), n);
    if (!st.ok()) return std::move(st).error().wrap(what);
  }
}

// ---- docker-archive ----------------------------------------------------------

struct DockerImage {
  Digest config;
  std::vector<Digest> diff_ids;
  std::vector<Descriptor> layers;
  std::vector<std::string> tags;  // familiar form, as `docker save` writes
};

// An uncompressed copy of a layer, for docker-archive (whose layers are the
// diff_ids). Uses a stored uncompressed blob when there is one, else
// decompresses into an unlinked temp file, verifying the diff_id.
struct LayerSource {
  UniqueFd fd;
  uint64_t size = 0;
};

Result<LayerSource> uncompressed_layer(const content::Store& store, const Descriptor& l, const Digest& diff_id,
                                       const std::string& tmpdir) {
  std::string what = "layer " + l.digest.str();
  auto lt = media::classify_layer(l.media_type);
  if (lt.compression == media::Compression::none || store.has(diff_id)) {
    const Digest& d = lt.compression == media::Compression::none ? l.digest : diff_id;
    if (!(d == diff_id))
      return Error(Errc::digest_mismatch, what + ": uncompressed layer digest differs from its diff_id " + diff_id.str());
    TRY_ASSIGN(UniqueFd fd, store.open_blob(d));
    TRY_ASSIGN(content::Info info, store.info(d));
    return LayerSource{std::move(fd), info.size};
  }
  TRY_ASSIGN(UniqueFd in, store.open_blob(l.digest));
  UniqueFd tmp(::open(tmpdir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!tmp) return sys_error("create temp file in " + tmpdir);
  TRY_ASSIGN(auto dec, detail::Decompressor::create(lt.compression, what));
  Hasher h(diff_id.alg());
  uint64_t size = 0;
  detail::Sink sink = [&](const char* p, size_t n) -> Status {
    h.update(p, n);
    size += n;
    return write_all(tmp.get(), p, n);
  };
  std::vector<char> buf(1 << 20);
  while (true) {
    TRY_ASSIGN(size_t n, read_full(in.get(), buf.data(), buf.size()));
    if (n == 0) break;
    TRY(dec->feed(buf.data(), n, sink));
  }
  TRY(dec->finish(sink));
  Digest got = h.finish();
  if (!(got == diff_id))
    return Error(Errc::digest_mismatch, what + ": decompresses to " + got.str() + " but the config says " + diff_id.str());
  if (::lseek(tmp.get(), 0, SEEK_SET) != 0) return sys_error("seek temp file");
  return LayerSource{std::move(tmp), size};
}

Status save_docker(const content::Store& store, const std::vector<SaveItem>& items, const SaveOptions& opt,
                   const std::string& out) {
  std::vector<DockerImage> imgs;
  std::map<Digest, size_t> by_config;
  for (const auto& it : items) {
    TRY_ASSIGN(ResolvedImage ri, resolve(store, it.descriptor, opt.platform));
    auto [pos, fresh] = by_config.emplace(ri.config.digest, imgs.size());
    if (fresh) imgs.push_back(DockerImage{ri.config.digest, ri.config.diff_ids, ri.manifest.layers, {}});
    // RepoTags hold name:tag; a digest-only reference saves the image untagged, as docker does.
    if (it.reference && !it.reference->tag.empty()) {
      Reference r = *it.reference;
      r.digest.reset();
      auto& tags = imgs[pos->second].tags;
      if (std::find(tags.begin(), tags.end(), r.familiar()) == tags.end()) tags.push_back(r.familiar());
    }
  }
  json manifest = json::array();
  json repos = json::object();
  for (const auto& im : imgs) {
    json e = json::object();
    e["Config"] = im.config.hex() + ".json";
    e["RepoTags"] = im.tags.empty() ? json(nullptr) : json(im.tags);
    json layers = json::array();
    for (const auto& d : im.diff_ids) layers.push_back(d.hex() + ".tar");
    e["Layers"] = layers;
    manifest.push_back(std::move(e));
    if (!im.diff_ids.empty())
      for (const auto& t : im.tags) {
        auto colon = t.rfind(':');
        repos[t.substr(0, colon)][t.substr(colon + 1)] = im.diff_ids.back().hex();
      }
  }
  Staging stage(out);
  UniqueFd fd(::open(stage.path().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) return sys_error("create " + stage.path());
  TRY_ASSIGN(detail::TarWriter tw, detail::TarWriter::open(fd.get(), "write " + out));
  // manifest.json first: a streaming reader learns the layout before the data.
  TRY(tw.add("manifest.json", detail::dump(manifest)));
  TRY(tw.add("repositories", detail::dump(repos)));
  std::set<Digest> written;
  for (const auto& im : imgs) {
    TRY_ASSIGN(std::string cfg, store.read_blob(im.config, kMaxConfigSize));
    if (written.insert(im.config).second) TRY(tw.add(im.config.hex() + ".json", cfg));
    for (size_t k = 0; k < im.diff_ids.size(); k++) {
      if (!written.insert(im.diff_ids[k]).second) continue;
      TRY_ASSIGN(LayerSource src, uncompressed_layer(store, im.layers[k], im.diff_ids[k], dirname_of(out)));
      TRY(tw.add_fd(im.diff_ids[k].hex() + ".tar", src.fd.get(), src.size));
    }
  }
  TRY(tw.close());
  if (::fsync(fd.get()) != 0) return sys_error("fsync " + stage.path());
  return stage.publish();
}

// ---- OCI layout ---------------------------------------------------------------

// Every blob an image needs, or not_found naming the first one missing.
Status collect(const content::Store& store, const Descriptor& d, std::vector<Descriptor>& out, std::set<Digest>& seen,
               int depth) {
  if (depth > 4) return Error(Errc::invalid_input, "index " + d.digest.str() + ": indexes nested more than 4 deep");
  if (seen.count(d.digest)) return Status{};
  if (!store.has(d.digest)) return Error(Errc::not_found, "blob " + d.digest.str() + " (" + d.media_type + ") is not in the store");
  if (media::is_index(d.media_type) || media::is_manifest(d.media_type)) {
    TRY_ASSIGN(Document doc, read_document(store, d));
    if (auto* ix = std::get_if<Index>(&doc)) {
      for (const auto& c : ix->manifests) TRY(collect(store, c, out, seen, depth + 1));
    } else {
      const auto& m = std::get<Manifest>(doc);
      TRY(collect(store, m.config, out, seen, depth + 1));
      for (const auto& l : m.layers) TRY(collect(store, l, out, seen, depth + 1));
    }
  }
  seen.insert(d.digest);
  out.push_back(d);
  return Status{};
}

Status save_oci(const content::Store& store, const std::vector<SaveItem>& items, ArchiveFormat format,
                const SaveOptions& opt, const std::string& out) {
  Index ix;
  ix.media_type = std::string(media::kOciIndex);
  std::vector<Descriptor> blobs;
  std::set<Digest> seen;
  for (const auto& it : items) {
    Descriptor top = it.descriptor;
    std::vector<Descriptor> mine;
    std::set<Digest> mine_seen = seen;
    auto st = collect(store, top, mine, mine_seen, 0);
    if (!st.ok() && st.error().code == Errc::not_found && media::is_index(top.media_type)) {
      // Only some platforms were pulled: save the one asked for.
      TRY_ASSIGN(ResolvedImage ri, resolve(store, top, opt.platform));
      top = ri.manifest_descriptor;
      mine.clear();
      mine_seen = seen;
      st = collect(store, top, mine, mine_seen, 0);
    }
    TRY(st);
    seen = std::move(mine_seen);
    blobs.insert(blobs.end(), mine.begin(), mine.end());
    top.annotations.clear();
    if (it.reference) {
      top.annotations[std::string(kAnnotationContainerdName)] = it.reference->str();
      top.annotations[std::string(kAnnotationRefName)] = it.reference->tag.empty() ? it.reference->str() : it.reference->tag;
    }
    ix.manifests.push_back(std::move(top));
  }
  const std::string layout = R"({"imageLayoutVersion":"1.0.0"})";
  const std::string index = serialize(ix);
  Staging stage(out);
  if (format == ArchiveFormat::oci_archive) {
    UniqueFd fd(::open(stage.path().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd) return sys_error("create " + stage.path());
    TRY_ASSIGN(detail::TarWriter tw, detail::TarWriter::open(fd.get(), "write " + out));
    TRY(tw.add("oci-layout", layout));
    TRY(tw.add("index.json", index));
    for (const auto& b : blobs) {
      TRY_ASSIGN(UniqueFd in, store.open_blob(b.digest));
      TRY_ASSIGN(content::Info info, store.info(b.digest));
      TRY(tw.add_fd(detail::blob_member_name(b.digest), in.get(), info.size));
    }
    TRY(tw.close());
    if (::fsync(fd.get()) != 0) return sys_error("fsync " + stage.path());
    return stage.publish();
  }
  if (path_exists(out)) return Error(Errc::already_exists, "save " + out + ": already exists");
  TRY(mkdir_p(stage.path() + "/blobs"));
  for (const auto& b : blobs) {
    std::string dir = stage.path() + "/blobs/" + b.digest.alg_name();
    TRY(mkdir_p(dir));
    std::string p = dir + "/" + b.digest.hex();
    if (path_exists(p)) continue;
    TRY_ASSIGN(UniqueFd in, store.open_blob(b.digest));
    UniqueFd o(::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!o) return sys_error("create " + p);
    TRY(copy_fd(in.get(), o.get(), "write " + p));
    if (::fsync(o.get()) != 0) return sys_error("fsync " + p);
  }
  TRY(atomic_write_file(stage.path() + "/oci-layout", layout));
  TRY(atomic_write_file(stage.path() + "/index.json", index));
  return stage.publish();
}

}  // namespace

Status save(const content::Store& store, const std::vector<SaveItem>& images, ArchiveFormat format,
            const std::string& out_in, const SaveOptions& opt) {
  if (images.empty()) return Error(Errc::invalid_argument, "save: no images given");
  std::string out = out_in;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  if (out.find('/') == std::string::npos) out = "./" + out;
  Status st = format == ArchiveFormat::docker_archive ? save_docker(store, images, opt, out)
                                                      : save_oci(store, images, format, opt, out);
  if (!st.ok()) return std::move(st).error().wrap(std::string("save ") + archive_format_name(format) + " " + out_in);
  return st;
}

}  // namespace berth::image
