// create / start / run: the parent side of bringing a container up.
#include "base/trace.h"
#include "runtime/container.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "base/fs.h"
#include "base/userns.h"
#include "cgroup/cgroup.h"
#include "runtime/hooks.h"
#include "runtime/init.h"
#include "runtime/log.h"
#include "runtime/spawn.h"
#include "runtime/sysctl.h"

namespace berth::runtime {

using nlohmann::json;

namespace {

std::string owner_name() {
  struct passwd* pw = ::getpwuid(::geteuid());
  return pw ? pw->pw_name : std::to_string(::geteuid());
}

Result<std::string> abs_path(const std::string& p) {
  char buf[PATH_MAX];
  if (!::realpath(p.c_str(), buf)) return sys_error("resolve " + p);
  return std::string(buf);
}

// The first limit beyond device rules (which a container without a cgroup of
// its own cannot be held to anyway, but which rootless runc ignores likewise);
// empty when there is none.
std::string limited_resource(const nlohmann::json& resources) {
  if (!resources.is_object()) return "";
  for (const auto& [k, v] : resources.items())
    if (k != "devices" && !v.is_null() && !v.empty()) return k;
  return "";
}

// runc's AllowedDevices: whatever the spec's device rules say, a container
// can always create device nodes and use the standard ones (appended last, so
// they win over an earlier deny-all).
void append_default_device_rules(nlohmann::json& resources) {
  if (!resources.is_object() || !resources.contains("devices") || !resources["devices"].is_array()) return;
  auto rule = [](const char* type, int64_t major, int64_t minor, const char* access) {
    json r = {{"allow", true}, {"type", type}, {"access", access}};
    if (major >= 0) r["major"] = major;
    if (minor >= 0) r["minor"] = minor;
    return r;
  };
  auto& d = resources["devices"];
  d.push_back(rule("c", -1, -1, "m"));
  d.push_back(rule("b", -1, -1, "m"));
  for (auto [ma, mi] : {std::pair{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}, {10, 200}})
    d.push_back(rule("c", ma, mi, "rwm"));
  d.push_back(rule("c", 136, -1, "rwm"));
}

// Undoes a half-made container on any error path of create().
struct CreateGuard {
  std::string dir;
  pid_t pid = 0;
  std::unique_ptr<cgroup::Manager> cg;
  bool armed = true;
  ~CreateGuard() {
    if (!armed) return;
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (cg) (void)cg->destroy();
    if (!dir.empty()) (void)remove_all(dir);
  }
};

}  // namespace

bool is_rootless(const GlobalOptions& g) {
  return g.rootless.value_or(::geteuid() != 0 || in_user_namespace());
}

bool cgroup_is_callers(const cgroup::Manager& m) {
  for (const auto& [ctrl, dir] : m.mounts())
    if (::access(path_join(dir, "cgroup.procs").c_str(), W_OK) != 0) return false;
  return true;
}

Result<Spec> saved_spec(const GlobalOptions& g, const std::string& id) {
  auto text = read_file(path_join(container_dir(g.root, id), "config.json"), 16u << 20);
  if (!text) return std::move(text).error().wrap("container " + id);
  return parse_spec(*text);
}

Prepared::Prepared() = default;
Prepared::Prepared(Prepared&&) noexcept = default;
Prepared& Prepared::operator=(Prepared&&) noexcept = default;
Prepared::~Prepared() {
  if (cgroup) (void)cgroup->destroy();
}

Result<std::unique_ptr<cgroup::Manager>> prepare_cgroup(const GlobalOptions& g, const std::string& id,
                                                        const std::string& cgroups_path, nlohmann::json resources) {
  TRY(validate_id(id));
  append_default_device_rules(resources);
  return cgroup::Manager::create(cgroups_path, id, resources, g.systemd_cgroup);
}

static Result<pid_t> create_impl(const GlobalOptions& g, const CreateOptions& o, bool for_run, int* pidfd_out) {
  // What the caller made ahead is ours from here on, and goes if we fail.
  Prepared ahead;
  if (o.prepared) ahead = std::move(*o.prepared);
  TRY(validate_id(o.id));
  TRY_ASSIGN(std::string bundle, abs_path(o.bundle.empty() ? "." : o.bundle));
  std::string config_text = o.config_text;
  if (config_text.empty()) {
    auto t = read_file(path_join(bundle, "config.json"), 16u << 20);
    if (!t) return std::move(t).error();
    config_text = std::move(*t);
  }
  TRY_ASSIGN(Spec spec, parse_spec(config_text));
  if (!spec.process) return Error(Errc::invalid_input, "config.json: process is required to create a container");
  trace_mark("runtime: spec parsed");
  for (const auto& w : spec.process->warnings) log_message("warning", "config.json: " + w);
  TRY(validate_sysctls(spec));
  // Without one the container would share the host's mount namespace, so its
  // rootfs and mounts would be made there: runc 1.1.5 does that and leaves
  // them on the host after delete (17 for its default config). Refused.
  if (!spec.linux.ns(NsType::mount))
    return Error(Errc::unsupported,
                 "config.json: linux.namespaces has no mount namespace; berth-runtime does not mount the rootfs in the host's");
  if (spec.process->terminal && o.console_socket.empty() && !for_run)
    return Error(Errc::invalid_argument, "process.terminal is set but no --console-socket was given");
  std::string root_path = spec.root_path[0] == '/' ? spec.root_path : path_join(bundle, spec.root_path);
  TRY_ASSIGN(std::string rootfs, abs_path(root_path));
  TRY(mkdir_p(g.root, 0700));
  std::string dir = container_dir(g.root, o.id);
  if (::mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST) return Error(Errc::already_exists, "container \"" + o.id + "\" already exists");
    return sys_error("mkdir " + dir);
  }
  CreateGuard guard;
  guard.dir = dir;
  TRY(write_state_file(path_join(dir, "config.json"), config_text, 0600));

  SpawnPlan plan;
  plan.spec = &spec;
  plan.process = &*spec.process;
  plan.rootfs = rootfs;
  plan.bundle = bundle;
  plan.preserve_fds = o.preserve_fds;
  plan.no_pivot = o.no_pivot;
  plan.console_socket = o.console_socket;
  plan.seccomp_cache_dir = seccomp_cache_dir(g.root);
  if (!spec.linux.ns(NsType::user)) plan.netns_fd = ahead.netns.get();
  if (spec.process->terminal && o.console_socket.empty()) {
    // `run` in the foreground without a console socket: the process simply
    // shares our stdio (a terminal there stays the container's terminal).
    plan.process_copy = *spec.process;
    plan.process_copy->terminal = false;
    plan.process = &*plan.process_copy;
  }
  UniqueFd start_w;
  if (o.start_fd) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return sys_error("create container " + o.id + ": start pipe");
    plan.fifo_fd = p[0];
    start_w = UniqueFd(p[1]);
  } else {
    std::string fifo = fifo_path(g.root, o.id);
    if (::mkfifo(fifo.c_str(), 0600) != 0) return sys_error("mkfifo " + fifo);
    // O_RDWR never blocks on a fifo; the init reads from it until start writes.
    plan.fifo_fd = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);
    if (plan.fifo_fd < 0) return sys_error("open " + fifo);
  }

  trace_mark("runtime: state dir, fifo");
  append_default_device_rules(spec.linux.resources);
  auto cg = ahead.cgroup ? Result<std::unique_ptr<cgroup::Manager>>(std::move(ahead.cgroup))
                         : cgroup::Manager::create(spec.linux.cgroups_path, o.id, spec.linux.resources, g.systemd_cgroup);
  if (cg.ok() && is_rootless(g) && !cgroup_is_callers(**cg))  // not ours: dropped, never destroyed
    cg = Error(Errc::permission, "cgroup " + (*cg)->path() + " exists and is not writable by the caller");
  if (cg.ok()) {
    guard.cg = std::move(*cg);
  } else if (std::string limit = limited_resource(spec.linux.resources); !is_rootless(g) || !limit.empty()) {
    if (is_rootless(g))
      return std::move(cg).error().wrap("rootless: resource limits need a cgroup delegated to the user (linux.resources." +
                                        limit + ")");
    return std::move(cg).error();
  }
  // Rootless without a writable cgroup (none delegated): the container stays
  // in ours, as runc does when no limit was asked for; signals go to its init.
  plan.cgroup = guard.cg.get();
  trace_mark("runtime: cgroup made");

  ContainerState st;
  st.id = o.id;
  st.bundle = bundle;
  st.rootfs = rootfs;
  st.created = now_rfc3339();
  st.owner = owner_name();
  st.annotations = spec.annotations;
  st.cgroups_path = spec.linux.cgroups_path;
  st.systemd_cgroup = g.systemd_cgroup;
  st.has_pid_ns = spec.linux.ns(NsType::pid) != nullptr;
  st.poststart_hooks = !spec.hooks.poststart.empty();
  st.poststop_hooks = !spec.hooks.poststop.empty();

  plan.before_hooks = [&](pid_t pid) -> Status {
    st.pid = pid;
    std::string s = state_json(st, CStatus::creating).dump();
    TRY(run_hooks(spec.hooks.prestart, s, "prestart"));
    TRY(run_hooks(spec.hooks.create_runtime, s, "createRuntime"));
    return Status{};
  };
  plan.state_for_child = [&]() { return state_json(st, CStatus::creating).dump(); };
  TRY_ASSIGN(auto child, spawn_init(plan, &guard.pid));
  trace_mark("runtime: init ready");
  ::close(plan.fifo_fd);
  st.pid = child.pid;
  st.pid_start = process_start_time(child.pid);
  TRY(save_state(g.root, st));
  if (!o.pid_file.empty()) {
    TRY_ASSIGN(std::string pf, absolute_for_write(o.pid_file));
    TRY(atomic_write_file(pf, std::to_string(child.pid), 0644));
  }
  guard.armed = false;
  guard.cg.release();  // reopened by the later commands; stays on disk
  if (pidfd_out) *pidfd_out = child.pidfd.release();
  if (o.start_fd) *o.start_fd = start_w.release();
  return child.pid;
}

Result<pid_t> create(const GlobalOptions& g, const CreateOptions& o) { return create_impl(g, o, false, nullptr); }

static Status start_through(const GlobalOptions& g, const std::string& id, const ContainerState& st, UniqueFd fd) {
  // The init may have died since create (a failed privilege drop, a kill).
  if (write_nosigpipe(fd.get(), "0", 1) != 1) return sys_error("start container " + id + ": write exec fifo");
  // The init holds the fifo (close-on-exec) until it execs the process, so
  // "no reader left" means the container process is really running when
  // start returns: a signal sent right after must reach it, not the runtime.
  struct pollfd pfd = {fd.get(), 0, 0};
  for (int waited = 0; waited < 10000; waited += 10) {
    if (::poll(&pfd, 1, 10) > 0 && (pfd.revents & (POLLERR | POLLHUP))) break;
    if (!process_alive(st.pid, st.pid_start)) break;
  }
  fd.reset();
  ::unlink(fifo_path(g.root, id).c_str());
  if (st.poststart_hooks == false) return Status{};
  auto spec = saved_spec(g, id);
  if (spec.ok() && !spec->hooks.poststart.empty()) {
    // The runtime-spec makes poststart failures warnings, not errors.
    auto hs = run_hooks(spec->hooks.poststart, state_json(st, CStatus::running).dump(), "poststart");
    if (!hs.ok()) log_warning("container " + id + ": " + hs.error().str());
  }
  return Status{};
}

Status start(const GlobalOptions& g, const std::string& id) {
  TRY_ASSIGN(ContainerState st, load_state(g.root, id));
  CStatus s = container_status(g.root, st);
  if (s != CStatus::created)
    return Error(Errc::invalid_argument, "cannot start container " + id + " in status " + status_name(s));
  std::string fifo = fifo_path(g.root, id);
  UniqueFd fd(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return sys_error("start container " + id + ": open exec fifo");
  return start_through(g, id, st, std::move(fd));
}

Status start_with(const GlobalOptions& g, const std::string& id, int start_fd) {
  UniqueFd fd(start_fd);
  TRY_ASSIGN(ContainerState st, load_state(g.root, id));
  if (!process_alive(st.pid, st.pid_start))
    return Error(Errc::invalid_argument, "cannot start container " + id + ": its init is gone");
  return start_through(g, id, st, std::move(fd));
}

Result<int> run(const GlobalOptions& g, const CreateOptions& o, bool detach, bool keep) {
  // Signals are blocked before the clone so none is lost between the start
  // and the forwarding loop; the init unblocks its own copy.
  sigset_t fwd, old;
  sigfillset(&fwd);
  sigdelset(&fwd, SIGSEGV);
  sigdelset(&fwd, SIGBUS);
  sigdelset(&fwd, SIGILL);
  sigdelset(&fwd, SIGFPE);
  if (!detach) ::sigprocmask(SIG_BLOCK, &fwd, &old);
  int pidfd = -1;
  // Created and started in this call: a pipe, not a fifo in the state dir.
  int start_fd = -1;
  CreateOptions co = o;
  co.start_fd = &start_fd;
  auto pid = create_impl(g, co, !detach, detach ? nullptr : &pidfd);
  if (!pid.ok()) {
    if (!detach) ::sigprocmask(SIG_SETMASK, &old, nullptr);
    return std::move(pid).error();
  }
  UniqueFd pfd(pidfd);
  if (auto s = start_with(g, o.id, start_fd); !s.ok()) {
    (void)remove(g, o.id, true);
    return std::move(s).error();
  }
  if (detach) return 0;
  trace_mark("run: started");
  int code = wait_forwarding(*pid, fwd);
  trace_mark("run: process exited");
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  if (!keep) {
    auto d = remove(g, o.id, true);
    trace_mark("run: deleted");
    if (!d.ok()) log_warning(d.error().str());
  }
  return code;
}

}  // namespace berth::runtime
