// The shape of compiled programs. Attaching a filter makes the kernel run it
// once per syscall number (seccomp_cache_prepare), so its cost follows the
// length of the paths, not the size of the program: a chain over Docker's
// ~370 names cost ~0.8 ms per container, the binary tree ~0.4 ms
// (docs/runtime.md, "Seccomp attach"). A small cBPF interpreter walks each
// number's path here; it also checks a few verdicts against the profile.
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <optional>

#include <gtest/gtest.h>

#include "seccomp/seccomp.h"

namespace berth::seccomp {
namespace {

struct Verdict {
  uint32_t ret = 0;
  int steps = 0;
};

// Runs a seccomp cBPF program on {nr, this arch, zero args}; nullopt when it
// does something the kernel's checker would have refused.
std::optional<Verdict> run(const std::vector<sock_filter>& prog, int nr) {
  struct seccomp_data d {};
  d.nr = nr;
  d.arch = AUDIT_ARCH_X86_64;
  const auto* bytes = reinterpret_cast<const unsigned char*>(&d);
  uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};
  Verdict v;
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const sock_filter& f = prog[pc];
    ++v.steps;
    switch (BPF_CLASS(f.code)) {
      case BPF_LD:
        if (BPF_MODE(f.code) == BPF_ABS && f.k + 4 <= sizeof d) std::memcpy(&a, bytes + f.k, 4);
        else if (BPF_MODE(f.code) == BPF_IMM) a = f.k;
        else if (BPF_MODE(f.code) == BPF_MEM && f.k < BPF_MEMWORDS) a = mem[f.k];
        else return std::nullopt;
        break;
      case BPF_LDX:
        if (BPF_MODE(f.code) == BPF_IMM) x = f.k;
        else if (BPF_MODE(f.code) == BPF_MEM && f.k < BPF_MEMWORDS) x = mem[f.k];
        else return std::nullopt;
        break;
      case BPF_ST: if (f.k >= BPF_MEMWORDS) return std::nullopt; mem[f.k] = a; break;
      case BPF_STX: if (f.k >= BPF_MEMWORDS) return std::nullopt; mem[f.k] = x; break;
      case BPF_ALU: {
        uint32_t s = BPF_SRC(f.code) == BPF_X ? x : f.k;
        switch (BPF_OP(f.code)) {
          case BPF_ADD: a += s; break;
          case BPF_SUB: a -= s; break;
          case BPF_AND: a &= s; break;
          case BPF_OR: a |= s; break;
          case BPF_LSH: a <<= s; break;
          case BPF_RSH: a >>= s; break;
          case BPF_NEG: a = -a; break;
          default: return std::nullopt;
        }
        break;
      }
      case BPF_JMP: {
        uint32_t s = BPF_SRC(f.code) == BPF_X ? x : f.k;
        bool t;
        switch (BPF_OP(f.code)) {
          case BPF_JA: pc += f.k; continue;
          case BPF_JEQ: t = a == s; break;
          case BPF_JGT: t = a > s; break;
          case BPF_JGE: t = a >= s; break;
          case BPF_JSET: t = (a & s) != 0; break;
          default: return std::nullopt;
        }
        pc += t ? f.jt : f.jf;
        break;
      }
      case BPF_RET: v.ret = BPF_RVAL(f.code) == BPF_A ? a : f.k; return v;
      case BPF_MISC: if (BPF_MISCOP(f.code) == BPF_TAX) x = a; else a = x; break;
      default: return std::nullopt;
    }
  }
  return std::nullopt;  // fell off the end
}

TEST(SeccompLayout, DefaultProfilePathsAreShort) {
#if !defined(__x86_64__)
  GTEST_SKIP() << "the emulation feeds x86_64 syscall numbers";
#endif
  auto p = compile(default_profile({}));
  ASSERT_TRUE(p.ok()) << p.error().str();
  int longest = 0, worst_nr = -1;
  for (int nr = 0; nr < 512; ++nr) {
    auto v = run(p->filter, nr);
    ASSERT_TRUE(v.has_value()) << "syscall " << nr << ": the program misbehaves";
    if (v->steps > longest) longest = v->steps, worst_nr = nr;
  }
  // A chain needs hundreds of steps for the numbers at its end; the tree
  // reaches every one in a few dozen (arg checks add a handful).
  EXPECT_LT(longest, 64) << "syscall " << worst_nr << " takes " << longest << " instructions of " << p->filter.size();
  auto action = [&](int nr) { return run(p->filter, nr)->ret & SECCOMP_RET_ACTION_FULL; };
  EXPECT_EQ(action(SYS_read), SECCOMP_RET_ALLOW);
  EXPECT_EQ(action(SYS_write), SECCOMP_RET_ALLOW);
  EXPECT_EQ(action(SYS_exit_group), SECCOMP_RET_ALLOW);
  EXPECT_EQ(run(p->filter, SYS_kexec_load)->ret, SECCOMP_RET_ERRNO | EPERM);
  EXPECT_EQ(run(p->filter, SYS_reboot)->ret, SECCOMP_RET_ERRNO | EPERM);
  EXPECT_EQ(run(p->filter, 511)->ret, SECCOMP_RET_ERRNO | ENOSYS) << "newer than the profile: ENOSYS";
}

}  // namespace
}  // namespace berth::seccomp
