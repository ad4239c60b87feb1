// Docker's default seccomp profile (moby profiles/seccomp/default.json),
// written as a table here so the engine needs no data file. The shape is the
// same: an allow-list under ERRNO(EPERM), groups gated on capabilities and
// architectures, and a clone flag filter that refuses namespace creation to
// containers without CAP_SYS_ADMIN.
#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string_view>

#include "seccomp/seccomp.h"

namespace berth::seccomp {
namespace {

using nlohmann::json;

// Namespace creation flags (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET).
constexpr uint64_t kCloneNsMask = 2114060288;

struct Group {
  const char* names;  // space separated
  const char* action = "SCMP_ACT_ALLOW";
  int errno_ret = -1;
  std::vector<json> args = {};
  const char* include_caps = "";    // space separated; any one suffices
  const char* include_arches = "";  // GOARCH-style names, as in the moby file
  const char* exclude_caps = "";
  const char* exclude_arches = "";
  int min_kernel_major = 0, min_kernel_minor = 0;
};

json arg(unsigned index, uint64_t value, const char* op) {
  return json{{"index", index}, {"value", value}, {"valueTwo", 0}, {"op", op}};
}

const std::vector<Group>& groups() {
  static const std::vector<Group> g = {
      {"accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32 clock_adjtime "
       "clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep "
       "clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3 epoll_create "
       "epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 "
       "execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir "
       "fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork "
       "fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex "
       "futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 "
       "getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority "
       "getrandom getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid "
       "getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch "
       "inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents "
       "io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit io_uring_enter io_uring_register "
       "io_uring_setup ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32 "
       "lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 "
       "madvise membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall "
       "mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend "
       "mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap "
       "name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause pidfd_open pidfd_send_signal "
       "pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 "
       "prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink "
       "readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename "
       "renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo "
       "rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity "
       "sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler "
       "sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam "
       "sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send "
       "sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 "
       "setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid "
       "setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area "
       "set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd "
       "signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statx symlink "
       "symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun "
       "timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime "
       "timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask "
       "uname unlink unlinkat utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write "
       "writev"},
      {.names = "process_vm_readv process_vm_writev ptrace", .min_kernel_major = 4, .min_kernel_minor = 8},
      // AF_VSOCK (40) stays blocked: it reaches the host outside the network namespace.
      {.names = "socket", .args = {arg(0, 40, "SCMP_CMP_NE")}},
      {.names = "personality", .args = {arg(0, 0, "SCMP_CMP_EQ")}},
      {.names = "personality", .args = {arg(0, 8, "SCMP_CMP_EQ")}},
      {.names = "personality", .args = {arg(0, 131072, "SCMP_CMP_EQ")}},
      {.names = "personality", .args = {arg(0, 131080, "SCMP_CMP_EQ")}},
      {.names = "personality", .args = {arg(0, 4294967295, "SCMP_CMP_EQ")}},
      {.names = "sync_file_range2 swapcontext", .include_arches = "ppc64le"},
      {.names = "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls",
       .include_arches = "arm arm64"},
      {.names = "arch_prctl", .include_arches = "amd64 x32"},
      {.names = "modify_ldt", .include_arches = "amd64 x32 x86"},
      {.names = "s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr", .include_arches = "s390 s390x"},
      {.names = "riscv_flush_icache", .include_arches = "riscv64"},
      {.names = "open_by_handle_at", .include_caps = "CAP_DAC_READ_SEARCH"},
      {.names = "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr "
                "move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog "
                "umount umount2 unshare",
       .include_caps = "CAP_SYS_ADMIN"},
      {.names = "clone", .args = {arg(0, kCloneNsMask, "SCMP_CMP_MASKED_EQ")}, .exclude_caps = "CAP_SYS_ADMIN",
       .exclude_arches = "s390 s390x"},
      // s390 passes the clone flags as the second argument.
      {.names = "clone", .args = {arg(1, kCloneNsMask, "SCMP_CMP_MASKED_EQ")}, .include_arches = "s390 s390x",
       .exclude_caps = "CAP_SYS_ADMIN"},
      // clone3 hides its flags behind a pointer; ENOSYS makes libc fall back to clone.
      {.names = "clone3", .action = "SCMP_ACT_ERRNO", .errno_ret = 38, .exclude_caps = "CAP_SYS_ADMIN"},
      {.names = "reboot", .include_caps = "CAP_SYS_BOOT"},
      {.names = "chroot", .include_caps = "CAP_SYS_CHROOT"},
      {.names = "delete_module init_module finit_module", .include_caps = "CAP_SYS_MODULE"},
      {.names = "acct", .include_caps = "CAP_SYS_PACCT"},
      {.names = "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace",
       .include_caps = "CAP_SYS_PTRACE"},
      {.names = "iopl ioperm", .include_caps = "CAP_SYS_RAWIO"},
      {.names = "settimeofday stime clock_settime clock_settime64", .include_caps = "CAP_SYS_TIME"},
      {.names = "vhangup", .include_caps = "CAP_SYS_TTY_CONFIG"},
      {.names = "get_mempolicy mbind set_mempolicy set_mempolicy_home_node", .include_caps = "CAP_SYS_NICE"},
      {.names = "syslog", .include_caps = "CAP_SYSLOG"},
      {.names = "bpf", .include_caps = "CAP_BPF"},
      {.names = "perf_event_open", .include_caps = "CAP_PERFMON"},
  };
  return g;
}

std::vector<std::string> split(const char* s) {
  std::vector<std::string> out;
  std::string cur;
  for (const char* p = s; *p; ++p) {
    if (*p == ' ') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(*p);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

bool any_in(const char* list, const std::vector<std::string>& have) {
  for (const auto& x : split(list))
    if (std::find(have.begin(), have.end(), x) != have.end()) return true;
  return false;
}

// The moby file names architectures the way Go does (GOARCH).
const char* native_goarch() {
#if defined(__x86_64__) && defined(__ILP32__)
  return "x32";
#elif defined(__x86_64__)
  return "amd64";
#elif defined(__i386__)
  return "x86";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__arm__)
  return "arm";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return "ppc64le";
#elif defined(__s390x__)
  return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#else
  return "unknown";
#endif
}

// The native architecture and the compat ones it can execute (moby's archMap).
json architectures() {
#if defined(__x86_64__)
  return json::array({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"});
#elif defined(__aarch64__)
  return json::array({"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"});
#elif defined(__s390x__)
  return json::array({"SCMP_ARCH_S390X", "SCMP_ARCH_S390"});
#elif defined(__riscv) && __riscv_xlen == 64
  return json::array({"SCMP_ARCH_RISCV64"});
#else
  return json::array();
#endif
}

bool kernel_at_least(int major, int minor) {
  if (major == 0) return true;
  struct utsname u;
  if (::uname(&u) != 0) return true;
  int ma = 0, mi = 0;
  if (std::sscanf(u.release, "%d.%d", &ma, &mi) != 2) return true;
  return ma > major || (ma == major && mi >= minor);
}

}  // namespace

nlohmann::json default_profile(const std::vector<std::string>& capabilities) {
  std::vector<std::string> caps;
  for (auto c : capabilities) {
    for (auto& ch : c) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (c.rfind("CAP_", 0) != 0) c = "CAP_" + c;
    caps.push_back(std::move(c));
  }
  const std::vector<std::string> arch{native_goarch()};

  json syscalls = json::array();
  for (const auto& g : groups()) {
    if (*g.include_caps && !any_in(g.include_caps, caps)) continue;
    if (*g.include_arches && !any_in(g.include_arches, arch)) continue;
    if (*g.exclude_caps && any_in(g.exclude_caps, caps)) continue;
    if (*g.exclude_arches && any_in(g.exclude_arches, arch)) continue;
    if (!kernel_at_least(g.min_kernel_major, g.min_kernel_minor)) continue;
    json rule{{"names", split(g.names)}, {"action", g.action}};
    if (g.errno_ret >= 0) rule["errnoRet"] = g.errno_ret;
    if (!g.args.empty()) rule["args"] = g.args;
    syscalls.push_back(std::move(rule));
  }
  return json{{"defaultAction", "SCMP_ACT_ERRNO"},
              {"defaultErrnoRet", 1},
              {"architectures", architectures()},
              {"syscalls", std::move(syscalls)}};
}

}  // namespace berth::seccomp
