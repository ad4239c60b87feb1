// berth-init: pid 1 for `berth run --init` (what tini is for Docker).
//   /dev/init -- PROGRAM ARGS...
// Runs PROGRAM as its child, forwards every catchable signal to it, reaps
// every orphan re-parented to it, and exits with PROGRAM's status (128+N
// when PROGRAM was killed by signal N).
//   /dev/init --pause
// Runs nothing: keeps a container alive (reaping orphans) until SIGTERM,
// SIGINT or SIGHUP. `berth build --flat` execs each RUN into such a container.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

static int pause_forever() {
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, nullptr);
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&all, &si);
    if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) return 0;
    if (sig == SIGCHLD)
      while (waitpid(-1, nullptr, WNOHANG) > 0) {
      }
  }
}

int main(int argc, char** argv) {
  int first = 1;
  if (first < argc && std::strcmp(argv[first], "--pause") == 0) return pause_forever();
  if (first < argc && std::strcmp(argv[first], "--") == 0) first++;
  if (first >= argc) {
    std::fprintf(stderr, "berth-init: usage: berth-init -- PROGRAM [ARGS...]\n");
    return 2;
  }
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t child = fork();
  if (child < 0) {
    std::perror("berth-init: fork");
    return 1;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, nullptr);
    setpgid(0, 0);
    // The child gets the terminal's foreground, as it would without an init.
    if (isatty(0)) {
      signal(SIGTTOU, SIG_IGN);
      tcsetpgrp(0, getpid());
      signal(SIGTTOU, SIG_DFL);
    }
    execvp(argv[first], argv + first);
    std::fprintf(stderr, "berth-init: exec %s: %s\n", argv[first], std::strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  int code = 0;
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&all, &si);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      kill(child, sig);
      continue;
    }
    int st;
    pid_t w;
    bool done = false;
    while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
      if (w != child) continue;
      code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      done = true;
    }
    if (done) return code;
  }
}
