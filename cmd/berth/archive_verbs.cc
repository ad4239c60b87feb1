// Archive verbs: load, save, import, unpack.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "base/fs.h"
#include "cli.h"
#include "image/archive.h"
#include "image_lookup.h"
#include "snapshot/snapshot.h"

namespace berth::cli {

namespace {

// `docker load` reads stdin when no -i is given; archives need seeking, so
// stdin is spooled into the store's tmp dir first.
Result<std::string> spool_stdin(const std::string& dir) {
  TRY(mkdir_p(dir));
  std::string path = path_join(dir, unique_name("stdin"));
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) return sys_error("create " + path);
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(0, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error("read stdin");
    if (n == 0) break;
    if (auto s = write_all(fd.get(), buf.data(), static_cast<size_t>(n)); !s) return std::move(s).error();
  }
  return path;
}

// A bare ref.name ("latest", "busybox") from `skopeo copy ... oci:dir:NAME`
// names no repository; podman then calls the image localhost/NAME.
std::optional<image::Reference> name_for(const image::LoadedImage& li) {
  if (li.reference) return li.reference;
  if (li.ref_name.empty()) return std::nullopt;
  auto r = image::parse_reference("localhost/" + li.ref_name);
  if (r.ok()) return *r;
  return std::nullopt;
}

Result<int> cmd_load(std::string input, bool quiet) {
  TRY_ASSIGN(Store store, Store::open(store_root()));
  std::string spooled;
  if (input.empty() || input == "-") {
    if (::isatty(0)) return Error(Errc::invalid_argument, "load: no input: use -i FILE or pipe an archive to stdin");
    TRY_ASSIGN(spooled, spool_stdin(path_join(store.root(), "tmp")));
    input = spooled;
  }
  struct Unlink {
    std::string p;
    ~Unlink() {
      if (!p.empty()) ::unlink(p.c_str());
    }
  } unlink_spool{spooled};
  TRY_ASSIGN(auto ws, WriteSession::begin(store));
  auto loaded = image::load(store.content(), input);
  if (!loaded.ok()) return std::move(loaded).error().wrap("load " + (spooled.empty() ? input : "stdin"));
  std::vector<metadata::Image> names;
  std::vector<std::string> lines;
  for (auto& li : loaded->images) {
    auto ref = name_for(li);
    if (ref) {
      metadata::Image img;
      img.name = ref->str();
      img.target = to_target(li.descriptor);
      names.push_back(img);
      lines.push_back("Loaded image: " + ref->str());
    } else {
      auto id = image_id(store, li.descriptor);
      if (!id.ok()) return std::move(id).error();
      metadata::Image img;
      img.name = untagged_name(li.descriptor.digest);
      img.target = to_target(li.descriptor);
      names.push_back(img);
      lines.push_back("Loaded image ID: " + id->str());
    }
  }
  TRY(ws.commit(names));
  if (!quiet)
    for (auto& l : lines) std::puts(l.c_str());
  return 0;
}

Result<int> cmd_save(const std::vector<std::string>& what, std::string out, const std::string& format) {
  TRY_ASSIGN(Store store, Store::open(store_root()));
  TRY_ASSIGN(auto fmt, image::parse_archive_format(format.empty() ? "docker-archive" : format));
  std::vector<image::SaveItem> items;
  for (auto& w : what) {
    TRY_ASSIGN(auto f, find_image(store, w));
    image::SaveItem it;
    auto ref = image::parse_reference(f.by_name ? f.record.name : w);
    if (ref.ok() && !ref->digest) it.reference = *ref;
    else if (f.names.size() > 0) {
      auto r2 = image::parse_reference(f.names.front().name);
      if (r2.ok()) it.reference = *r2;
    }
    it.descriptor = f.top;
    items.push_back(std::move(it));
  }
  bool to_stdout = out.empty() || out == "-";
  if (to_stdout) {
    if (fmt == image::ArchiveFormat::oci_dir) return Error(Errc::invalid_argument, "save: oci-dir needs -o DIR");
    if (::isatty(1)) return Error(Errc::invalid_argument, "save: refusing to write an archive to a terminal; use -o FILE");
    out = path_join(path_join(store.root(), "tmp"), unique_name("save"));
    TRY(mkdir_p(dirname_of(out)));
  }
  TRY(image::save(store.content(), items, fmt, out));
  if (to_stdout) {
    UniqueFd fd(::open(out.c_str(), O_RDONLY | O_CLOEXEC));
    ::unlink(out.c_str());
    if (!fd) return sys_error("open " + out);
    std::vector<char> buf(1 << 20);
    for (;;) {
      ssize_t n = ::read(fd.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return sys_error("read " + out);
      if (n == 0) break;
      TRY(write_all(1, buf.data(), static_cast<size_t>(n)));
    }
  }
  return 0;
}

Result<int> cmd_import(const std::string& file, const std::string& name, const std::vector<std::string>& changes,
                       const std::string& message, bool quiet) {
  TRY_ASSIGN(Store store, Store::open(store_root()));
  std::optional<image::Reference> ref;
  if (!name.empty()) {
    TRY_ASSIGN(auto r, image::parse_reference(name));
    if (r.digest) return Error(Errc::invalid_argument, "import: name " + name + " must not contain a digest");
    ref = r;
  }
  TRY_ASSIGN(auto ws, WriteSession::begin(store));
  image::ImportOptions opt;
  opt.changes = changes;
  opt.comment = message;
  TRY_ASSIGN(auto imp, image::import_rootfs(store.content(), file, opt));
  metadata::Image img;
  img.name = ref ? ref->str() : untagged_name(imp.manifest.digest);
  img.target = to_target(imp.manifest);
  TRY(ws.commit(std::span<const metadata::Image>(&img, 1)));
  if (!quiet) std::puts(imp.config.digest.str().c_str());
  return 0;
}

// `berth unpack IMAGE DIR`: the flattened rootfs, as `umoci unpack` makes it.
Result<int> cmd_unpack(const std::string& what, const std::string& dir) {
  TRY_ASSIGN(Store store, Store::open(store_root()));
  TRY_ASSIGN(auto f, find_image(store, what));
  TRY_ASSIGN(auto res, image::resolve(store.content(), f.top));
  // An existing empty directory is accepted (and replaced); anything else is not.
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) {
    if (errno == ENOTEMPTY || errno == EEXIST) return Error(Errc::already_exists, "unpack: " + dir + " exists and is not empty");
    return sys_error("unpack: " + dir);
  }
  std::vector<snapshot::Layer> layers;
  for (size_t i = 0; i < res.manifest.layers.size(); i++)
    layers.push_back({res.manifest.layers[i].digest, res.config.diff_ids.at(i)});
  if (auto st = snapshot::unpack_flat(layers, snapshot::blobs_of(store.content()), dir); !st)
    return std::move(st).error().wrap("unpack " + what);
  return 0;
}

}  // namespace

void register_archive_verbs(CLI::App* parent, bool) {
  {
    auto in = std::make_shared<std::string>();
    auto q = std::make_shared<bool>(false);
    auto* c = parent->add_subcommand("load", "Load images from a docker-archive, oci-archive or OCI layout");
    c->add_option("-i,--input", *in, "Archive file or OCI layout directory (default stdin)");
    c->add_flag("-q,--quiet", *q, "Print nothing");
    set_action(c, [in, q] { return cmd_load(*in, *q); });
  }
  {
    auto what = std::make_shared<std::vector<std::string>>();
    auto out = std::make_shared<std::string>();
    auto fmt = std::make_shared<std::string>();
    auto* c = parent->add_subcommand("save", "Save images to an archive");
    c->add_option("image", *what, "Images")->required();
    c->add_option("-o,--output", *out, "Output file (or directory for oci-dir); default stdout");
    c->add_option("--format", *fmt, "docker-archive (default), oci-archive or oci-dir");
    set_action(c, [what, out, fmt] { return cmd_save(*what, *out, *fmt); });
  }
  {
    auto file = std::make_shared<std::string>();
    auto name = std::make_shared<std::string>();
    auto changes = std::make_shared<std::vector<std::string>>();
    auto msg = std::make_shared<std::string>();
    auto q = std::make_shared<bool>(false);
    auto* c = parent->add_subcommand("import", "Create an image from a rootfs tarball");
    c->add_option("file", *file, "Tarball (tar, tar.gz, tar.zst)")->required();
    c->add_option("reference", *name, "Name for the image");
    c->add_option("-c,--change", *changes, "Dockerfile instruction to apply (CMD, ENV, ...)")->allow_extra_args(false);
    c->add_option("-m,--message", *msg, "History comment");
    c->add_flag("-q,--quiet", *q, "Print nothing");
    set_action(c, [file, name, changes, msg, q] { return cmd_import(*file, *name, *changes, *msg, *q); });
  }
  {
    auto what = std::make_shared<std::string>();
    auto dir = std::make_shared<std::string>();
    auto* c = parent->add_subcommand("unpack", "Write an image's flattened root filesystem to a directory");
    c->add_option("image", *what, "Image")->required();
    c->add_option("dir", *dir, "Directory (created; must be absent or empty)")->required();
    set_action(c, [what, dir] { return cmd_unpack(*what, *dir); });
  }
}

}  // namespace berth::cli
