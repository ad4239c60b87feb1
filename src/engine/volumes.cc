#include "engine/volumes.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <cstring>
#include <ctime>
#include <set>

#include "base/fs.h"
#include "engine/copy_io.h"

namespace berth::engine {

namespace {

constexpr metadata::Migration kMigrations[] = {
    {1, "create volumes",
     "CREATE TABLE volumes ("
     "  name TEXT PRIMARY KEY,"
     "  driver TEXT NOT NULL DEFAULT 'local',"
     "  created_at INTEGER NOT NULL,"
     "  labels TEXT NOT NULL DEFAULT '{}',"
     "  anonymous INTEGER NOT NULL DEFAULT 0,"
     "  options TEXT NOT NULL DEFAULT '{}'"
     ");"},
};

constexpr const char* kTrash = ".trash";

Result<std::string> random_hex64() {
  unsigned char b[32];
  size_t got = 0;
  while (got < sizeof b) {
    ssize_t n = ::getrandom(b + got, sizeof b - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("getrandom");
    }
    got += static_cast<size_t>(n);
  }
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

std::string map_json(const std::map<std::string, std::string>& m) { return nlohmann::json(m).dump(); }

Result<std::map<std::string, std::string>> parse_map(const std::string& s, const std::string& what) {
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error(Errc::invalid_input, what + ": not a JSON object");
  std::map<std::string, std::string> out;
  for (auto& [k, v] : j.items()) {
    if (!v.is_string()) return Error(Errc::invalid_input, what + ": value of \"" + k + "\" is not a string");
    out[k] = v.get<std::string>();
  }
  return out;
}

std::vector<std::string> dir_names(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (auto* de = ::readdir(d)) {
    if (!std::strcmp(de->d_name, ".") || !std::strcmp(de->d_name, "..")) continue;
    out.emplace_back(de->d_name);
  }
  ::closedir(d);
  return out;
}

// Allocated bytes below dfd, hard links counted once, one filesystem only.
Status du_at(int dfd, dev_t dev, std::set<std::pair<dev_t, ino_t>>& seen, uint64_t& total, int depth) {
  if (depth > 4096) return Error(Errc::limit, "directories nested too deep");
  UniqueFd rd(::openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!rd) return sys_error("open directory");
  DIR* d = ::fdopendir(rd.get());
  if (!d) return sys_error("opendir");
  rd.release();
  Status out;
  while (auto* de = ::readdir(d)) {
    if (!std::strcmp(de->d_name, ".") || !std::strcmp(de->d_name, "..")) continue;
    struct stat st;
    if (::fstatat(::dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
    if (st.st_dev != dev) continue;
    if (st.st_nlink > 1 && !S_ISDIR(st.st_mode) && !seen.insert({st.st_dev, st.st_ino}).second) continue;
    total += static_cast<uint64_t>(st.st_blocks) * 512;
    if (S_ISDIR(st.st_mode)) {
      UniqueFd kid(::openat(::dirfd(d), de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!kid) continue;
      out = du_at(kid.get(), dev, seen, total, depth + 1);
      if (!out) break;
    }
  }
  ::closedir(d);
  return out;
}

bool dir_empty(const std::string& dir) { return dir_names(dir).empty(); }

std::string rfc3339(int64_t t) {
  time_t tt = static_cast<time_t>(t);
  struct tm tm;
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

nlohmann::json volume_json(const Volume& v) {
  return {{"CreatedAt", rfc3339(v.created_at)}, {"Driver", v.driver},     {"Labels", v.labels},
          {"Mountpoint", v.mountpoint},         {"Name", v.name},         {"Options", v.options},
          {"Scope", "local"},                   {"Anonymous", v.anonymous}};
}

Result<VolumeFilters> VolumeFilters::parse(const std::vector<std::string>& args) {
  VolumeFilters f;
  for (auto& a : args) {
    auto eq = a.find('=');
    std::string key = a.substr(0, eq), val = eq == std::string::npos ? "" : a.substr(eq + 1);
    if (eq == std::string::npos) return Error(Errc::invalid_argument, "bad format of filter (expected name=value): " + a);
    if (key == "dangling") {
      if (val == "true" || val == "1") f.dangling = true;
      else if (val == "false" || val == "0") f.dangling = false;
      else return Error(Errc::invalid_argument, "invalid filter 'dangling=" + val + "'");
    } else if (key == "label") {
      f.labels.push_back(val);
    } else if (key == "name") {
      f.names.push_back(val);
    } else {
      return Error(Errc::invalid_argument, "invalid filter '" + key + "'");
    }
  }
  return f;
}

bool Volumes::valid_name(std::string_view n) {
  if (n.size() < 2 || n.size() > 255) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(n[0])) return false;
  for (char c : n.substr(1))
    if (!alnum(c) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

Result<Volumes> Volumes::open(Store& store) {
  std::string dir = store.root() + "/volumes";
  TRY(mkdir_p(dir, 0701));
  TRY(store.db().migrate("volumes", kMigrations));
  return Volumes(&store, dir);
}

Result<UniqueFd> Volumes::lock() {
  std::string p = volumes_dir_ + "/.lock";
  UniqueFd fd(::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return sys_error("open " + p);
  while (::flock(fd.get(), LOCK_EX) != 0)
    if (errno != EINTR) return sys_error("lock " + p);
  return fd;
}

Result<std::optional<Volume>> Volumes::load(const std::string& name) {
  TRY_ASSIGN(auto st, store_->db().prepare(
                          "SELECT name, driver, created_at, labels, anonymous, options FROM volumes WHERE name = ?"));
  st.bind(1, name);
  TRY_ASSIGN(bool row, st.step());
  if (!row) return std::optional<Volume>();
  Volume v;
  v.name = st.text(0);
  v.driver = st.text(1);
  v.created_at = st.int64(2);
  TRY_ASSIGN(v.labels, parse_map(st.text(3), "volume " + name + " labels"));
  v.anonymous = st.int64(4) != 0;
  TRY_ASSIGN(v.options, parse_map(st.text(5), "volume " + name + " options"));
  v.mountpoint = data_dir(v.name);
  return std::optional<Volume>(std::move(v));
}

Result<Volume> Volumes::get(const std::string& name) {
  TRY_ASSIGN(auto v, load(name));
  if (!v) return Error(Errc::not_found, "no such volume: " + name);
  return std::move(*v);
}

Status Volumes::trash(const std::string& name) {
  std::string t = volumes_dir_ + "/" + kTrash;
  TRY(mkdir_p(t, 0700));
  std::string to = t + "/" + unique_name("vol");
  if (::rename(dir(name).c_str(), to.c_str()) != 0 && errno != ENOENT) return sys_error("move " + dir(name) + " to the trash");
  return fsync_dir(volumes_dir_);
}

Status Volumes::empty_trash() {
  std::string t = volumes_dir_ + "/" + kTrash;
  Status out;
  for (auto& n : dir_names(t)) {
    std::string p = t + "/" + n;
    // Another process may be deleting the same leftover: only a failure that
    // leaves something behind counts.
    if (auto s = remove_all(p); !s && path_exists(p) && out.ok()) out = std::move(s).error();
  }
  return out;
}

Result<Volume> Volumes::create(const std::string& name, const std::map<std::string, std::string>& labels,
                               bool anonymous, const std::map<std::string, std::string>& options) {
  std::string n = name;
  if (n.empty()) {
    TRY_ASSIGN(n, random_hex64());
  }
  if (!valid_name(n))
    return Error(Errc::invalid_argument,
                 "create " + n.substr(0, 256) + ": \"" + n.substr(0, 256) +
                     "\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" "
                     "are allowed. If you intended to pass a host directory, use absolute path");
  TRY_ASSIGN(UniqueFd held, lock());
  TRY_ASSIGN(auto existing, load(n));
  if (existing) return std::move(*existing);  // docker volume create NAME is idempotent
  // A directory without a row is a create or remove cut short: its data is
  // never handed to a new volume.
  if (path_exists(dir(n))) TRY(trash(n));
  // Directory first, row second: a crash in between leaves only an orphan
  // directory, which sweep_orphans() removes.
  if (::mkdir(dir(n).c_str(), 0701) != 0) return sys_error("mkdir " + dir(n));
  if (::mkdir(data_dir(n).c_str(), 0755) != 0) return sys_error("mkdir " + data_dir(n));
  TRY(fsync_dir(dir(n)));
  TRY(fsync_dir(volumes_dir_));
  Volume v;
  v.name = n;
  v.created_at = static_cast<int64_t>(::time(nullptr));
  v.labels = labels;
  v.options = options;
  v.anonymous = anonymous;
  v.mountpoint = data_dir(n);
  v.created = true;
  TRY_ASSIGN(auto st, store_->db().prepare(
                          "INSERT INTO volumes (name, driver, created_at, labels, anonymous, options) "
                          "VALUES (?, ?, ?, ?, ?, ?)"));
  st.bind(1, v.name).bind(2, v.driver).bind(3, v.created_at).bind(4, map_json(labels));
  st.bind(5, int64_t{anonymous ? 1 : 0}).bind(6, map_json(options));
  TRY(st.run());
  return v;
}

Result<std::vector<std::string>> Volumes::users_of(const std::string& name) {
  if (!users_) return std::vector<std::string>{};
  return users_(name);
}

Result<bool> Volumes::matches(const Volume& v, const VolumeFilters& f) {
  for (auto& l : f.labels) {
    auto eq = l.find('=');
    auto it = v.labels.find(l.substr(0, eq));
    if (it == v.labels.end()) return false;
    if (eq != std::string::npos && it->second != l.substr(eq + 1)) return false;
  }
  if (!f.names.empty()) {
    bool any = false;
    for (auto& n : f.names) any = any || v.name.find(n) != std::string::npos;
    if (!any) return false;
  }
  if (f.dangling) {
    TRY_ASSIGN(auto users, users_of(v.name));
    if (users.empty() != *f.dangling) return false;
  }
  return true;
}

Result<std::vector<Volume>> Volumes::list(const VolumeFilters& filters) {
  std::vector<std::string> names;
  {
    TRY_ASSIGN(auto st, store_->db().prepare("SELECT name FROM volumes ORDER BY name"));
    for (;;) {
      TRY_ASSIGN(bool row, st.step());
      if (!row) break;
      names.push_back(st.text(0));
    }
  }
  std::vector<Volume> out;
  for (auto& n : names) {
    TRY_ASSIGN(auto v, load(n));
    if (!v) continue;  // removed since
    TRY_ASSIGN(bool ok, matches(*v, filters));
    if (ok) out.push_back(std::move(*v));
  }
  return out;
}

Result<Volume> Volumes::remove(const std::string& name, bool force) {
  std::string trashed;
  Volume v;
  {
    TRY_ASSIGN(UniqueFd held, lock());
    TRY_ASSIGN(auto found, load(name));
    if (!found) return Error(Errc::not_found, "no such volume: " + name);
    v = std::move(*found);
    TRY_ASSIGN(auto users, users_of(name));
    if (!users.empty() && !force) {
      std::string ids;
      for (auto& u : users) ids += (ids.empty() ? "" : " ") + u;
      return Error(Errc::busy, "remove " + name + ": volume is in use - [" + ids + "]");
    }
    // Row first, then the directory: a crash in between leaves an orphan
    // directory (swept later), never a row whose data is half gone.
    TRY_ASSIGN(auto st, store_->db().prepare("DELETE FROM volumes WHERE name = ?"));
    st.bind(1, name);
    TRY(st.run());
    std::string t = volumes_dir_ + "/" + kTrash;
    TRY(mkdir_p(t, 0700));
    trashed = t + "/" + unique_name("vol");
    if (::rename(dir(name).c_str(), trashed.c_str()) != 0) {
      if (errno != ENOENT) return sys_error("move " + dir(name) + " to the trash");
      trashed.clear();
    }
  }
  // The deletion itself runs without the lock: it may take long.
  if (!trashed.empty()) TRY(remove_all(trashed));
  return v;
}

Result<PruneReport> Volumes::prune(bool all, const VolumeFilters& filters) {
  PruneReport rep;
  VolumeFilters f = filters;
  f.dangling = true;
  TRY_ASSIGN(auto vols, list(f));
  for (auto& v : vols) {
    if (!all && !v.anonymous) continue;
    uint64_t size = 0;
    if (auto du = disk_usage(v.name)) size = *du;
    auto r = remove(v.name, false);
    if (!r) {
      // Taken into use or removed by someone else meanwhile: not ours to prune.
      if (r.error().code == Errc::busy || r.error().code == Errc::not_found) continue;
      return std::move(r).error();
    }
    rep.reclaimed_bytes += size;
    rep.removed.push_back(std::move(*r));
  }
  return rep;
}

Result<uint64_t> Volumes::disk_usage(const std::string& name) {
  TRY_ASSIGN(Volume v, get(name));
  UniqueFd fd(::open(v.mountpoint.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return sys_error("open " + v.mountpoint);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return sys_error("stat " + v.mountpoint);
  uint64_t total = static_cast<uint64_t>(st.st_blocks) * 512;
  std::set<std::pair<dev_t, ino_t>> seen;
  if (auto s = du_at(fd.get(), st.st_dev, seen, total, 0); !s) return std::move(s).error().wrap("size of " + v.mountpoint);
  return total;
}

Status Volumes::populate_from(const Volume& v, const std::string& rootfs_dir, const std::string& ctr_path) {
  // Two containers starting on the same fresh volume copy once: the second
  // waits here and then finds it not empty.
  UniqueFd vdir(::open(dir(v.name).c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!vdir) return sys_error("open volume " + v.name);
  while (::flock(vdir.get(), LOCK_EX) != 0)
    if (errno != EINTR) return sys_error("lock volume " + v.name);
  if (!dir_empty(v.mountpoint)) return Status{};

  TRY_ASSIGN(auto root, layer::detail::Root::open(rootfs_dir));
  TRY_ASSIGN(auto f, copy_detail::resolve(root, copy_detail::clean_in_root(ctr_path), true));
  if (!f.exists) return Status{};
  TRY_ASSIGN(UniqueFd src, copy_detail::open_found(f));
  struct stat st;
  if (::fstat(src.get(), &st) != 0) return sys_error("stat " + ctr_path + " in the image");
  if (!S_ISDIR(st.st_mode)) return Status{};

  TRY_ASSIGN(auto out, layer::detail::Root::open(v.mountpoint));
  copy_detail::DirSink sink(std::move(out), "", copy_detail::Owners{copy_detail::Owners::Mode::source},
                            v.mountpoint + "/");
  sink.devices = false;  // _data is a host directory too
  if (auto s = copy_detail::walk(src.get(), "", sink); !s)
    return std::move(s).error().wrap("populate volume " + v.name + " from " + ctr_path);
  // The mount point's own owner and mode, as Docker's copy-up does (a
  // postgres image's 0700 postgres-owned data dir stays that).
  UniqueFd data(::open(v.mountpoint.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!data) return sys_error("open " + v.mountpoint);
  if (::fchown(data.get(), st.st_uid, st.st_gid) != 0 && !(::geteuid() != 0 && errno == EPERM))
    return sys_error("chown " + v.mountpoint);
  if (::fchmod(data.get(), st.st_mode & 07777) != 0) return sys_error("chmod " + v.mountpoint);
  return Status{};
}

Status Volumes::sweep_orphans() {
  {
    TRY_ASSIGN(UniqueFd held, lock());
    for (auto& n : dir_names(volumes_dir_)) {
      if (n.starts_with(".")) continue;  // .lock, .trash
      TRY_ASSIGN(auto v, load(n));
      if (!v) TRY(trash(n));
    }
  }
  return empty_trash();
}

}  // namespace berth::engine
