#include "seccomp/enosys.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <optional>

namespace berth::seccomp {
namespace {

constexpr uint32_t kX32Bit = 0x40000000;  // __X32_SYSCALL_BIT

// A tiny cBPF assembler with forward labels, so the stub reads top-down.
class Asm {
 public:
  int label() {
    pos_.push_back(-1);
    return static_cast<int>(pos_.size()) - 1;
  }
  void bind(int l) { pos_[l] = static_cast<int>(code_.size()); }
  void load(uint32_t offset) { code_.push_back({BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offset), -1, -1, -1}); }
  // -1 as a target means "the next instruction".
  void jump_if(uint16_t op, uint32_t k, int if_true, int if_false) {
    code_.push_back({BPF_JUMP(BPF_JMP | op | BPF_K, k, 0, 0), if_true, if_false, -1});
  }
  void jump(int l) { code_.push_back({BPF_STMT(BPF_JMP | BPF_JA, 0), -1, -1, l}); }
  void ret(uint32_t k) { code_.push_back({BPF_STMT(BPF_RET | BPF_K, k), -1, -1, -1}); }

  // False if a conditional jump is longer than cBPF's 8-bit offsets allow.
  bool assemble(std::vector<sock_filter>& out) const {
    out.clear();
    for (size_t i = 0; i < code_.size(); ++i) {
      sock_filter f = code_[i].f;
      auto dist = [&](int l) { return pos_[l] - static_cast<int>(i) - 1; };
      if (code_[i].jt >= 0) {
        if (dist(code_[i].jt) < 0 || dist(code_[i].jt) > 255) return false;
        f.jt = static_cast<uint8_t>(dist(code_[i].jt));
      }
      if (code_[i].jf >= 0) {
        if (dist(code_[i].jf) < 0 || dist(code_[i].jf) > 255) return false;
        f.jf = static_cast<uint8_t>(dist(code_[i].jf));
      }
      if (code_[i].ja >= 0) f.k = static_cast<uint32_t>(dist(code_[i].ja));
      out.push_back(f);
    }
    return true;
  }

 private:
  struct Ins {
    sock_filter f;
    int jt, jf, ja;
  };
  std::vector<Ins> code_;
  std::vector<int> pos_;
};

struct Highest {
  std::optional<uint32_t> native, x32;  // x32 shares AUDIT_ARCH_X86_64, marked by kX32Bit
};

}  // namespace

std::vector<sock_filter> enosys_stub(const std::vector<uint32_t>& arch_tokens, const std::vector<std::string>& names) {
  std::map<uint32_t, Highest> by_audit;
  for (uint32_t token : arch_tokens) {
    int highest = -1;
    for (const auto& n : names) highest = std::max(highest, seccomp_syscall_resolve_name_arch(token, n.c_str()));
    if (highest <= 0) continue;
    if (token == SCMP_ARCH_X32)
      by_audit[AUDIT_ARCH_X86_64].x32 = static_cast<uint32_t>(highest);
    else
      by_audit[token].native = static_cast<uint32_t>(highest);
  }
  if (by_audit.empty()) return {};

  Asm a;
  int filter = a.label(), enosys = a.label();
  std::vector<std::pair<int, const std::pair<const uint32_t, Highest>*>> sections;
  a.load(offsetof(struct seccomp_data, arch));
  for (const auto& e : by_audit) {
    int l = a.label();
    sections.emplace_back(l, &e);
    a.jump_if(BPF_JEQ, e.first, l, -1);
  }
  a.jump(filter);  // an architecture the profile does not name: libseccomp's bad-arch action decides
  for (const auto& [l, e] : sections) {
    a.bind(l);
    a.load(offsetof(struct seccomp_data, nr));
    const Highest& h = e->second;
    if (e->first == AUDIT_ARCH_X86_64) {
      int x32 = a.label();
      a.jump_if(BPF_JSET, kX32Bit, x32, -1);
      if (h.native)
        a.jump_if(BPF_JGT, *h.native, enosys, filter);
      else
        a.jump(filter);
      a.bind(x32);
      if (h.x32)
        a.jump_if(BPF_JGT, *h.x32, enosys, filter);
      else
        a.jump(filter);
    } else {
      a.jump_if(BPF_JGT, *h.native, enosys, filter);
    }
  }
  a.bind(enosys);
  a.ret(SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
  a.bind(filter);
  std::vector<sock_filter> out;
  if (!a.assemble(out)) return {};
  return out;
}

}  // namespace berth::seccomp
