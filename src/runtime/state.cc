#include "runtime/state.h"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "base/fd.h"
#include "base/fs.h"
#include "cgroup/cgroup.h"

namespace berth::runtime {

using nlohmann::json;

const char* status_name(CStatus s) {
  switch (s) {
    case CStatus::creating: return "creating";
    case CStatus::created: return "created";
    case CStatus::running: return "running";
    case CStatus::paused: return "paused";
    case CStatus::stopped: return "stopped";
  }
  return "unknown";
}

Status validate_id(const std::string& id) {
  if (id.empty()) return Error(Errc::invalid_argument, "container id must not be empty");
  if (id.size() > 1024) return Error(Errc::invalid_argument, "container id longer than 1024 bytes");
  for (size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || (i > 0 && (c == '_' || c == '.' || c == '+' || c == '-'));
    if (!ok) return Error(Errc::invalid_argument, "invalid container id \"" + id + "\"");
  }
  return Status{};
}

std::string container_dir(const std::string& root, const std::string& id) { return path_join(root, id); }
std::string fifo_path(const std::string& root, const std::string& id) {
  return path_join(container_dir(root, id), "exec.fifo");
}
std::string seccomp_cache_dir(const std::string& root) { return path_join(root, ".seccomp"); }

// The state directory describes live processes, so it means nothing after a
// reboot: fsync (file and directory, ~5-15 ms each on a disk-backed /run) buys
// no durability worth having. The temp file + rename still keeps a crash of
// this process from leaving a half-written file under the final name.
Status write_state_file(const std::string& path, std::string_view data, mode_t mode) {
  std::string tmp = path_join(dirname_of(path), unique_name(".tmp"));
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd) return sys_error("create " + tmp);
  auto fail = [&](Error e) {
    ::unlink(tmp.c_str());
    return e;
  };
  if (auto s = write_all(fd.get(), data.data(), data.size()); !s) return fail(std::move(s).error().wrap(tmp));
  if (::fchmod(fd.get(), mode) != 0) return fail(sys_error("chmod " + tmp));
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(sys_error("rename " + tmp + " -> " + path));
  return Status{};
}

Status save_state(const std::string& root, const ContainerState& st) {
  json j = {{"id", st.id},
            {"pid", st.pid},
            {"pid_start", st.pid_start},
            {"bundle", st.bundle},
            {"rootfs", st.rootfs},
            {"created", st.created},
            {"owner", st.owner},
            {"annotations", st.annotations},
            {"cgroups_path", st.cgroups_path},
            {"systemd_cgroup", st.systemd_cgroup},
            {"has_pid_ns", st.has_pid_ns}};
  if (st.poststart_hooks) j["poststart_hooks"] = *st.poststart_hooks;
  if (st.poststop_hooks) j["poststop_hooks"] = *st.poststop_hooks;
  return write_state_file(path_join(container_dir(root, st.id), "state.json"), j.dump(), 0600);
}

Result<ContainerState> load_state(const std::string& root, const std::string& id) {
  TRY(validate_id(id));
  std::string p = path_join(container_dir(root, id), "state.json");
  auto text = read_file(p, 4u << 20);
  if (!text) {
    if (text.error().sys_errno == ENOENT || !path_exists(container_dir(root, id)))
      return Error(Errc::not_found, "container \"" + id + "\" does not exist");
    return std::move(text).error();
  }
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error(Errc::invalid_input, p + ": corrupt state file");
  ContainerState st;
  // The state file is ours, but still parsed defensively: a torn or edited
  // file must give an error, not an exception.
  auto str = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string(); };
  st.id = str("id");
  st.bundle = str("bundle");
  st.rootfs = str("rootfs");
  st.created = str("created");
  st.owner = str("owner");
  st.cgroups_path = str("cgroups_path");
  if (j.contains("pid") && j["pid"].is_number_integer()) st.pid = j["pid"].get<pid_t>();
  if (j.contains("pid_start") && j["pid_start"].is_number_unsigned()) st.pid_start = j["pid_start"].get<unsigned long long>();
  if (j.contains("systemd_cgroup") && j["systemd_cgroup"].is_boolean()) st.systemd_cgroup = j["systemd_cgroup"].get<bool>();
  if (j.contains("has_pid_ns") && j["has_pid_ns"].is_boolean()) st.has_pid_ns = j["has_pid_ns"].get<bool>();
  if (j.contains("poststart_hooks") && j["poststart_hooks"].is_boolean()) st.poststart_hooks = j["poststart_hooks"].get<bool>();
  if (j.contains("poststop_hooks") && j["poststop_hooks"].is_boolean()) st.poststop_hooks = j["poststop_hooks"].get<bool>();
  if (j.contains("annotations") && j["annotations"].is_object())
    for (auto& [k, v] : j["annotations"].items())
      if (v.is_string()) st.annotations[k] = v.get<std::string>();
  if (st.id != id) return Error(Errc::invalid_input, p + ": id mismatch");
  return st;
}

Result<std::vector<std::string>> list_ids(const std::string& root) {
  std::vector<std::string> ids;
  DIR* d = ::opendir(root.c_str());
  if (!d) {
    if (errno == ENOENT) return ids;
    return sys_error("open " + root);
  }
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == ".." || !validate_id(n).ok()) continue;
    if (path_exists(path_join(path_join(root, n), "state.json"))) ids.push_back(n);
  }
  ::closedir(d);
  std::sort(ids.begin(), ids.end());
  return ids;
}

namespace {
// Returns the state letter and start time from /proc/<pid>/stat.
bool read_stat(pid_t pid, char& state, unsigned long long& start) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  auto text = read_file(path, 4096);
  if (!text) return false;
  // comm may contain spaces and parentheses: parse after the last ')'.
  auto pos = text->rfind(')');
  if (pos == std::string::npos || pos + 2 >= text->size()) return false;
  const char* p = text->c_str() + pos + 2;
  state = *p;
  // Field 3 is the state; start time is field 22, i.e. 19 fields further.
  for (int field = 3; field < 22; ++field) {
    p = std::strchr(p, ' ');
    if (!p) return false;
    ++p;
  }
  start = std::strtoull(p, nullptr, 10);
  return true;
}
}  // namespace

unsigned long long process_start_time(pid_t pid) {
  char state;
  unsigned long long start;
  if (pid <= 0 || !read_stat(pid, state, start)) return 0;
  if (state == 'Z' || state == 'X') return 0;
  return start;
}

bool process_alive(pid_t pid, unsigned long long start) {
  unsigned long long now = process_start_time(pid);
  return now != 0 && (start == 0 || now == start);
}

CStatus container_status(const std::string& root, const ContainerState& st) {
  if (st.pid <= 0) return CStatus::creating;
  if (!process_alive(st.pid, st.pid_start)) return CStatus::stopped;
  if (path_exists(fifo_path(root, st.id))) return CStatus::created;
  auto mgr = cgroup::Manager::open(st.cgroups_path, st.id, st.systemd_cgroup);
  if (mgr.ok()) {
    auto fr = (*mgr)->frozen();
    if (fr.ok() && *fr) return CStatus::paused;
  }
  return CStatus::running;
}

json state_json(const ContainerState& st, CStatus s) {
  json j = {{"ociVersion", "1.1.0"},
            {"id", st.id},
            {"pid", s == CStatus::stopped ? 0 : st.pid},
            {"status", status_name(s)},
            {"bundle", st.bundle},
            {"rootfs", st.rootfs},
            {"created", st.created},
            {"owner", st.owner}};
  if (!st.annotations.empty()) j["annotations"] = st.annotations;
  return j;
}

std::string now_rfc3339() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  ::gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%09ldZ", ts.tv_nsec);
  return buf;
}

}  // namespace berth::runtime
