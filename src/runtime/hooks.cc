#include "runtime/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/fd.h"
#include "base/fs.h"

namespace berth::runtime {

namespace {

Status run_hook(const Hook& h, const std::string& state, std::string_view phase) {
  std::string what = "hook " + std::string(phase) + " " + h.path;
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return sys_error(what + ": pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  std::vector<char*> argv, envp;
  std::string arg0 = h.path;
  if (h.args.empty()) argv.push_back(arg0.data());
  for (const auto& a : h.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : h.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return sys_error(what + ": fork");
  if (pid == 0) {
    ::dup2(rd.get(), 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::syscall(SYS_close_range, 3, ~0U, 0);
    ::execve(h.path.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  rd.reset();
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  // A hook that never reads stdin must not wedge us: the state is far below
  // the pipe buffer, and EPIPE is fine.
  ::signal(SIGPIPE, SIG_IGN);
  (void)write_all(wr.get(), state.data(), state.size());
  wr.reset();
  int status = 0;
  if (h.timeout > 0 && pidfd) {
    struct pollfd pfd = {pidfd.get(), POLLIN, 0};
    int rc;
    do rc = ::poll(&pfd, 1, h.timeout * 1000);
    while (rc < 0 && errno == EINTR);
    if (rc == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return Error(Errc::timeout, what + ": timed out after " + std::to_string(h.timeout) + "s");
    }
  }
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return sys_error(what + ": wait");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status{};
  if (WIFEXITED(status))
    return Error(Errc::io, what + ": exited with status " + std::to_string(WEXITSTATUS(status)));
  return Error(Errc::io, what + ": killed by signal " + std::to_string(WTERMSIG(status)));
}

}  // namespace

Status run_hooks(const std::vector<Hook>& hooks, const std::string& state_json, std::string_view phase) {
  for (const auto& h : hooks) TRY(run_hook(h, state_json, phase));
  return Status{};
}

}  // namespace berth::runtime
