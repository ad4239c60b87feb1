#include "engine/rootless.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "base/fs.h"
#include "store/store.h"

namespace berth::engine {

namespace {

constexpr const char* kPauseName = "berth-pause";

bool parse_u32(std::string_view s, uint32_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

// A directory only `uid` may enter: /tmp is shared, so another user could
// have planted the name first (or a symlink to somewhere else).
Status private_dir(const std::string& dir, uid_t uid) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return sys_error("rootless: create " + dir);
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) return sys_error("rootless: stat " + dir);
  if (!S_ISDIR(st.st_mode) || st.st_uid != uid || (st.st_mode & 077) != 0)
    return Error(Errc::permission, "rootless: " + dir + " is not a directory private to uid " + std::to_string(uid) +
                                       " (owner " + std::to_string(st.st_uid) + ", mode " +
                                       std::to_string(st.st_mode & 0777) + "); remove it or set XDG_RUNTIME_DIR");
  return Status{};
}

// Runs newuidmap/newgidmap for `pid` (which has unshared but cannot map
// itself beyond its own id): the setuid helpers check the ranges against
// /etc/subuid and /etc/subgid.
int run_map_tool(const char* tool, pid_t pid, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {tool, std::to_string(pid)};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t c = ::fork();
  if (c < 0) return -1;
  if (c == 0) {
    ::execvp(tool, cargv.data());
    std::fprintf(stderr, "rootless: exec %s: %s\n", tool, std::strerror(errno));
    ::_exit(127);
  }
  int st = 0;
  while (::waitpid(c, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

// The pause process: holds the namespaces, owns nothing else (no fds, no
// cwd below a mount) and ignores the signals a terminal or session sends.
[[noreturn]] void pause_forever(char** argv) {
  ::setsid();
  ::prctl(PR_SET_NAME, kPauseName, 0, 0, 0);
  if (argv && argv[0]) {
    // The argument strings are contiguous: blank them all, then write our name.
    char* end = argv[0];
    for (int i = 0; argv[i]; i++)
      if (argv[i] == end || argv[i] == end + 1) end = argv[i] + std::strlen(argv[i]);
    std::memset(argv[0], 0, static_cast<size_t>(end - argv[0]));
    std::strncpy(argv[0], kPauseName, static_cast<size_t>(end - argv[0]));
  }
  ::syscall(SYS_close_range, 0U, ~0U, 0U);
  int null = ::open("/dev/null", O_RDWR);
  if (null >= 0)
    for (int fd = 0; fd < 3; fd++) ::dup2(null, fd);
  if (null > 2) ::close(null);
  if (::chdir("/") != 0) ::_exit(1);
  for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2, SIGTSTP, SIGTTIN, SIGTTOU}) ::signal(sig, SIG_IGN);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (;;) ::pause();
}

// Starts the pause process (detached: a grandchild, so no berth command ever
// has it as a child to wait for) and returns its pid.
Result<pid_t> start_pause(char** argv) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return sys_error("rootless: pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t c = ::fork();
  if (c < 0) return sys_error("rootless: fork the pause process");
  if (c == 0) {
    pid_t g = ::fork();
    if (g == 0) pause_forever(argv);
    (void)!::write(wr.get(), &g, sizeof g);
    ::_exit(g > 0 ? 0 : 1);
  }
  wr.reset();
  int st = 0;
  while (::waitpid(c, &st, 0) < 0 && errno == EINTR) {
  }
  pid_t g = -1;
  if (::read(rd.get(), &g, sizeof g) != static_cast<ssize_t>(sizeof g) || g <= 0)
    return Error(Errc::io, "rootless: the pause process did not start");
  return g;
}

// Joins the namespaces of the pause process named by `pid_file`; false (and
// nothing changed) when it is gone or not ours.
Result<bool> join_pause(const std::string& pid_file, uid_t uid) {
  auto text = read_file(pid_file, 64);
  if (!text.ok()) return false;
  uint32_t pid = 0;
  std::string t = *text;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  if (!parse_u32(t, pid) || pid == 0) return false;
  std::string proc = "/proc/" + std::to_string(pid);
  UniqueFd dir(::open(proc.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return false;
  struct stat st;
  if (::fstat(dir.get(), &st) != 0 || st.st_uid != uid) return false;
  // A recycled pid is some other program: it must be our pause process.
  auto comm = read_file(proc + "/comm", 64);
  if (!comm.ok() || comm->rfind(kPauseName, 0) != 0) return false;
  UniqueFd user(::openat(dir.get(), "ns/user", O_RDONLY | O_CLOEXEC));
  UniqueFd mnt(::openat(dir.get(), "ns/mnt", O_RDONLY | O_CLOEXEC));
  if (!user || !mnt) return false;
  // setns(CLONE_NEWNS) moves the cwd to the namespace's root; come back to
  // the same path (the mount namespace is a copy of the host's).
  char* cwd = ::get_current_dir_name();
  std::string here = cwd ? cwd : "/";
  std::free(cwd);
  if (::setns(user.get(), CLONE_NEWUSER) != 0) return sys_error("rootless: join the user namespace of pid " + t);
  if (::setns(mnt.get(), CLONE_NEWNS) != 0) return sys_error("rootless: join the mount namespace of pid " + t);
  // A cwd the user cannot enter (runuser from /root) leaves us at /.
  (void)!::chdir(here.c_str());
  return true;
}

Status create_namespaces(uid_t uid, gid_t gid, const std::string& user) {
  auto subuid = read_file("/etc/subuid", 1 << 20);
  auto subgid = read_file("/etc/subgid", 1 << 20);
  auto uids = parse_subids(subuid.ok() ? *subuid : "", user, uid);
  auto gids = parse_subids(subgid.ok() ? *subgid : "", user, gid);
  if (uids.empty() || gids.empty())
    return Error(Errc::permission, "rootless: no subordinate " + std::string(uids.empty() ? "uid" : "gid") +
                                       " range for user " + user + " in /etc/sub" + (uids.empty() ? "uid" : "gid") +
                                       " (images need ids 0-65535; add one with usermod --add-subuids/--add-subgids)");
  int sync[2];
  if (::pipe2(sync, O_CLOEXEC) != 0) return sys_error("rootless: pipe");
  UniqueFd sync_rd(sync[0]), sync_wr(sync[1]);
  pid_t self = ::getpid();
  pid_t helper = ::fork();
  if (helper < 0) return sys_error("rootless: fork");
  if (helper == 0) {
    // Outside the new namespace, where the setuid helpers must run.
    sync_wr.reset();
    char b;
    if (::read(sync_rd.get(), &b, 1) != 1) ::_exit(2);
    if (run_map_tool("newuidmap", self, id_map_args(uid, uids)) != 0) ::_exit(3);
    if (run_map_tool("newgidmap", self, id_map_args(gid, gids)) != 0) ::_exit(4);
    ::_exit(0);
  }
  sync_rd.reset();
  Status unshared;
  if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) unshared = sys_error("rootless: unshare user and mount namespaces");
  if (unshared.ok()) (void)!::write(sync_wr.get(), "x", 1);
  sync_wr.reset();
  int st = 0;
  while (::waitpid(helper, &st, 0) < 0 && errno == EINTR) {
  }
  TRY(std::move(unshared));
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return Error(Errc::permission, std::string("rootless: ") +
                                       (WIFEXITED(st) && WEXITSTATUS(st) == 4 ? "newgidmap" : "newuidmap") +
                                       " failed for user " + user + " (see its message above; is uidmap installed?)");
  // Mounts made here must not propagate back (the kernel already makes the
  // copied mounts slaves for a less privileged namespace; say it explicitly).
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0)
    return sys_error("rootless: make / a slave mount");
  return Status{};
}

}  // namespace

std::vector<IdRange> parse_subids(std::string_view text, std::string_view user, uint32_t id) {
  std::vector<IdRange> out;
  std::string idstr = std::to_string(id);
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    auto c1 = line.find(':');
    if (c1 == std::string_view::npos) continue;
    auto c2 = line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    std::string_view name = line.substr(0, c1);
    if (name != user && name != idstr) continue;
    IdRange r;
    if (!parse_u32(line.substr(c1 + 1, c2 - c1 - 1), r.start) || !parse_u32(line.substr(c2 + 1), r.count)) continue;
    if (r.count == 0) continue;
    out.push_back(r);
  }
  return out;
}

std::vector<std::string> id_map_args(uint32_t own, const std::vector<IdRange>& ranges) {
  std::vector<std::string> a = {"0", std::to_string(own), "1"};
  uint64_t next = 1;
  for (const auto& r : ranges) {
    if (next + r.count > 0xffffffffULL) break;
    a.push_back(std::to_string(next));
    a.push_back(std::to_string(r.start));
    a.push_back(std::to_string(r.count));
    next += r.count;
  }
  return a;
}

Status enter_rootless(char** argv) {
  if (::geteuid() == 0) return Status{};
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  struct passwd* pw = ::getpwuid(uid);
  std::string user = pw && pw->pw_name ? pw->pw_name : std::to_string(uid);
  // Inside, euid is 0: default_root() and paths_for() would pick root's
  // locations. Fix the caller's before switching.
  if (std::getenv("BERTH_ROOT") == nullptr || !*std::getenv("BERTH_ROOT"))
    ::setenv("BERTH_ROOT", default_root("").c_str(), 1);
  std::string xdg = env_or("XDG_RUNTIME_DIR", "");
  if (xdg.empty()) {
    xdg = "/tmp/berth-run-" + std::to_string(uid);
    TRY(private_dir(xdg, uid));
    ::setenv("XDG_RUNTIME_DIR", xdg.c_str(), 1);
  }
  std::string base = xdg + "/berth";
  TRY(private_dir(base, uid));

  // One creator at a time: two first commands racing would otherwise make
  // two namespaces, and the containers of one would be out of the other's reach.
  std::string lock_path = base + "/rootless.lock";
  UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock) return sys_error("rootless: open " + lock_path);
  while (::flock(lock.get(), LOCK_EX) != 0)
    if (errno != EINTR) return sys_error("rootless: lock " + lock_path);
  std::string pid_file = base + "/pause.pid";
  TRY_ASSIGN(bool joined, join_pause(pid_file, uid));
  if (joined) return Status{};
  TRY(create_namespaces(uid, gid, user));
  TRY_ASSIGN(pid_t pause, start_pause(argv));
  // The namespace's root is the caller: the file is the caller's on the host.
  return atomic_write_file(pid_file, std::to_string(pause) + "\n", 0600);
}

}  // namespace berth::engine
