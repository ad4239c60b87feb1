#include "snapshot/snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "layer/layer.h"

namespace berth::snapshot {

std::vector<Digest> chain_ids(const std::vector<Digest>& diff_ids) {
  std::vector<Digest> out;
  out.reserve(diff_ids.size());
  for (size_t i = 0; i < diff_ids.size(); i++) {
    if (i == 0)
      out.push_back(diff_ids[0]);
    else
      out.push_back(Digest::of(out.back().str() + " " + diff_ids[i].str()));
  }
  return out;
}

Result<Snapshotter> Snapshotter::open(const std::string& root) {
  std::string s = path_join(root, "snapshots");
  TRY(mkdir_p(path_join(s, "tmp"), 0700));
  return Snapshotter(std::move(s));
}

std::string Snapshotter::dir(const Digest& chain) const { return path_join(root_, chain.encoded_path()); }
std::string Snapshotter::fs_path(const Digest& chain) const { return path_join(dir(chain), "fs"); }

bool Snapshotter::has(const Digest& chain) const { return path_exists(path_join(dir(chain), "meta.json")); }

Result<Info> Snapshotter::info(const Digest& chain) const {
  std::string p = path_join(dir(chain), "meta.json");
  TRY_ASSIGN(std::string text, read_file(p, 1 << 16));
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error(Errc::invalid_input, p + ": not a JSON object");
  auto field = [&](const char* k) -> Result<Digest> {
    if (!j.contains(k) || !j[k].is_string()) return Error(Errc::invalid_input, p + ": missing \"" + k + "\"");
    auto d = Digest::parse(j[k].get<std::string>());
    if (!d) return std::move(d).error().wrap(p);
    return *d;
  };
  Info in;
  TRY_ASSIGN(in.chain_id, field("chain_id"));
  TRY_ASSIGN(in.diff_id, field("diff_id"));
  TRY_ASSIGN(in.blob, field("blob"));
  if (j.contains("parent")) {
    TRY_ASSIGN(Digest parent, field("parent"));
    in.parent = parent;
  }
  if (j.contains("size") && j["size"].is_number_unsigned()) in.size = j["size"].get<uint64_t>();
  return in;
}

Result<std::vector<Digest>> Snapshotter::list() const {
  std::vector<Digest> out;
  for (const char* alg : {"sha256", "sha512"}) {
    std::string d = path_join(root_, alg);
    DIR* dir = ::opendir(d.c_str());
    if (!dir) {
      if (errno == ENOENT) continue;
      return sys_error("open " + d);
    }
    while (auto* e = ::readdir(dir)) {
      auto dg = Digest::parse(std::string(alg) + ":" + e->d_name);
      if (dg && has(*dg)) out.push_back(*dg);
    }
    ::closedir(dir);
  }
  return out;
}

Status Snapshotter::remove(const Digest& chain) const {
  std::string d = dir(chain);
  std::string grave = path_join(path_join(root_, "tmp"), unique_name("remove"));
  if (::rename(d.c_str(), grave.c_str()) != 0) {
    if (errno == ENOENT) return Status{};
    return sys_error("rename " + d + " -> " + grave);
  }
  TRY(fsync_dir(dirname_of(d)));
  return remove_all(grave);
}

Status Snapshotter::expire_tmp(int64_t max_age_seconds) const {
  std::string t = path_join(root_, "tmp");
  DIR* dir = ::opendir(t.c_str());
  if (!dir) return errno == ENOENT ? Status{} : sys_error("open " + t);
  std::vector<std::string> old;
  time_t now = ::time(nullptr);
  while (auto* e = ::readdir(dir)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    struct stat st;
    if (::fstatat(::dirfd(dir), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && now - st.st_mtime > max_age_seconds)
      old.push_back(path_join(t, n));
  }
  ::closedir(dir);
  for (auto& p : old) TRY(remove_all(p));
  return Status{};
}

Status Snapshotter::unpack_one(const Layer& layer, const Digest& chain, const std::optional<Digest>& parent,
                               const BlobOpener& blobs) const {
  TRY_ASSIGN(UniqueFd blob, blobs(layer.blob));
  TRY_ASSIGN(TempDir tmp, TempDir::create(path_join(root_, "tmp"), "unpack"));
  std::string fs = path_join(tmp.path(), "fs");
  if (::mkdir(fs.c_str(), 0755) != 0) return sys_error("mkdir " + fs);
  layer::ApplyOptions o;
  o.whiteouts = layer::Whiteouts::overlay;
  o.label = layer.blob.str();
  o.expected_diff_id = layer.diff_id;
  o.alg = layer.diff_id.alg();
  TRY_ASSIGN(auto stats, layer::apply_layer_fd(blob.release(), fs, o));

  nlohmann::json j = {{"chain_id", chain.str()},
                      {"diff_id", layer.diff_id.str()},
                      {"blob", layer.blob.str()},
                      {"size", stats.uncompressed_size},
                      {"compression", layer::compression_name(stats.compression)}};
  if (parent) j["parent"] = parent->str();
  TRY(atomic_write_file(path_join(tmp.path(), "meta.json"), j.dump() + "\n", 0644));

  // The snapshot must be durable before it is visible under its final name.
  UniqueFd tfd(::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!tfd || ::syncfs(tfd.get()) != 0) return sys_error("sync " + tmp.path());
  std::string final_dir = dir(chain);
  std::string alg_dir = dirname_of(final_dir);
  TRY(mkdir_p(alg_dir, 0700));
  if (::rename(tmp.path().c_str(), final_dir.c_str()) != 0) {
    // Another process published the same chain first: theirs is as good as ours.
    if ((errno == EEXIST || errno == ENOTEMPTY) && has(chain)) return Status{};
    return sys_error("rename " + tmp.path() + " -> " + final_dir);
  }
  tmp.release();
  return fsync_dir(alg_dir);
}

Result<std::vector<std::string>> Snapshotter::prepare(const std::vector<Layer>& layers, const BlobOpener& blobs) const {
  std::vector<Digest> diffs;
  for (auto& l : layers) diffs.push_back(l.diff_id);
  auto chains = chain_ids(diffs);
  std::vector<std::string> lower;
  for (size_t i = 0; i < layers.size(); i++) {
    if (!has(chains[i])) {
      std::optional<Digest> parent;
      if (i > 0) parent = chains[i - 1];
      TRY(unpack_one(layers[i], chains[i], parent, blobs));
    }
    lower.push_back(fs_path(chains[i]));
  }
  return std::vector<std::string>(lower.rbegin(), lower.rend());
}

Status unpack_flat(const std::vector<Layer>& layers, const BlobOpener& blobs, const std::string& dir,
                   const FlatOptions& opts) {
  if (path_exists(dir)) return Error(Errc::already_exists, "unpack into " + dir + ": already exists");
  std::string parent = dirname_of(dir);
  std::string base = dir.substr(dir.find_last_of('/') + 1);
  TRY_ASSIGN(TempDir tmp, TempDir::create(parent, "." + base + ".unpack"));
  if (::chmod(tmp.path().c_str(), 0755) != 0) return sys_error("chmod " + tmp.path());
  for (auto& l : layers) {
    TRY_ASSIGN(UniqueFd blob, blobs(l.blob));
    layer::ApplyOptions o;
    o.whiteouts = layer::Whiteouts::flatten;
    o.label = l.blob.str();
    o.expected_diff_id = l.diff_id;
    o.alg = l.diff_id.alg();
    o.rootless = opts.rootless;
    TRY(layer::apply_layer_fd(blob.release(), tmp.path(), o));
  }
  if (::rename(tmp.path().c_str(), dir.c_str()) != 0) return sys_error("rename " + tmp.path() + " -> " + dir);
  tmp.release();
  return Status{};
}

}  // namespace berth::snapshot
