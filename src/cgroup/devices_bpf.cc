#include "cgroup/devices_bpf.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/fd.h"

namespace berth::cgroup {
namespace {

// Registers: r1 = ctx on entry; r2 type, r3 access, r4 major, r5 minor.
bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

uint32_t access_bits(const std::string& a) {
  uint32_t b = 0;
  for (char c : a) {
    if (c == 'r') b |= BPF_DEVCG_ACC_READ;
    if (c == 'w') b |= BPF_DEVCG_ACC_WRITE;
    if (c == 'm') b |= BPF_DEVCG_ACC_MKNOD;
  }
  return b;
}

long bpf(int cmd, union bpf_attr* attr) { return ::syscall(SYS_bpf, cmd, attr, sizeof(*attr)); }

}  // namespace

std::vector<bpf_insn> device_filter_program(const std::vector<DeviceRule>& rules) {
  std::vector<bpf_insn> p;
  // ctx is struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major; u32 minor; }.
  p.push_back(insn(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0));
  p.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_X, 3, 2, 0, 0));
  p.push_back(insn(BPF_ALU | BPF_AND | BPF_K, 2, 0, 0, 0xffff));
  p.push_back(insn(BPF_ALU | BPF_RSH | BPF_K, 3, 0, 0, 16));
  p.push_back(insn(BPF_LDX | BPF_MEM | BPF_W, 4, 1, 4, 0));
  p.push_back(insn(BPF_LDX | BPF_MEM | BPF_W, 5, 1, 8, 0));
  // The v1 controller lets later rules override earlier ones, so walk the
  // list backwards and let the first match decide.
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    const DeviceRule& r = *it;
    std::vector<size_t> to_next;  // jumps to patch to the end of this block
    auto jump_next = [&](uint8_t code, uint8_t reg, int32_t imm) {
      to_next.push_back(p.size());
      p.push_back(insn(BPF_JMP | code | BPF_K, reg, 0, 0, imm));
    };
    if (r.type != 'a') jump_next(BPF_JNE, 2, r.type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK);
    uint32_t acc = access_bits(r.access);
    p.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_X, 6, 3, 0, 0));
    if (r.allow) {
      // Allow only if every requested access is granted by this rule.
      p.push_back(insn(BPF_ALU | BPF_AND | BPF_K, 6, 0, 0, static_cast<int32_t>(~acc & 0x7)));
      jump_next(BPF_JNE, 6, 0);
    } else {
      // Deny if any requested access is named by this rule.
      p.push_back(insn(BPF_ALU | BPF_AND | BPF_K, 6, 0, 0, static_cast<int32_t>(acc)));
      jump_next(BPF_JEQ, 6, 0);
    }
    if (r.major >= 0) jump_next(BPF_JNE, 4, static_cast<int32_t>(r.major));
    if (r.minor >= 0) jump_next(BPF_JNE, 5, static_cast<int32_t>(r.minor));
    p.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, r.allow ? 1 : 0));
    p.push_back(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
    for (size_t j : to_next) p[j].off = static_cast<int16_t>(p.size() - j - 1);
  }
  p.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0));
  p.push_back(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  return p;
}

Status apply_device_filter(const std::string& dir, const std::vector<DeviceRule>& rules) {
  if (rules.size() > 1024) return Error(Errc::limit, "cgroup: more than 1024 device rules");
  auto prog = device_filter_program(rules);

  UniqueFd cg(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cg) return sys_error("cgroup: open " + dir);

  // Programs already attached (ours, from create or an earlier update).
  uint32_t ids[64];
  union bpf_attr q{};
  q.query.target_fd = static_cast<uint32_t>(cg.get());
  q.query.attach_type = BPF_CGROUP_DEVICE;
  q.query.prog_ids = reinterpret_cast<uint64_t>(ids);
  q.query.prog_cnt = 64;
  uint32_t old_count = 0;
  if (bpf(BPF_PROG_QUERY, &q) == 0) old_count = q.query.prog_cnt;

  static const char license[] = "Apache-2.0";
  auto load = [&](char* log, uint32_t log_size) {
    union bpf_attr a{};
    a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    a.insns = reinterpret_cast<uint64_t>(prog.data());
    a.insn_cnt = static_cast<uint32_t>(prog.size());
    a.license = reinterpret_cast<uint64_t>(license);
    if (log) {
      a.log_buf = reinterpret_cast<uint64_t>(log);
      a.log_size = log_size;
      a.log_level = 1;
    }
    return static_cast<int>(bpf(BPF_PROG_LOAD, &a));
  };
  // Load without a verifier log (a full log buffer itself fails the load
  // with ENOSPC); only on failure load again to say why.
  UniqueFd pfd(load(nullptr, 0));
  if (!pfd) {
    int err = errno;
    std::vector<char> log(1 << 16, '\0');
    (void)!load(log.data(), static_cast<uint32_t>(log.size()));
    // The verifier's last line carries the reason.
    std::string text(log.data(), strnlen(log.data(), log.size()));
    while (!text.empty() && text.back() == '\n') text.pop_back();
    std::string why = text.substr(text.find_last_of('\n') == std::string::npos ? 0 : text.find_last_of('\n') + 1);
    if (why.size() > 200) why.resize(200);
    return Error(err == EPERM ? Errc::permission : Errc::io,
                 "cgroup: loading device eBPF program for " + dir + (why.empty() ? "" : " (verifier: " + why + ")"), err);
  }

  // Attach the new program before detaching the old ones so there is never a
  // moment without a device filter.
  union bpf_attr att{};
  att.target_fd = static_cast<uint32_t>(cg.get());
  att.attach_bpf_fd = static_cast<uint32_t>(pfd.get());
  att.attach_type = BPF_CGROUP_DEVICE;
  att.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf(BPF_PROG_ATTACH, &att) != 0) return sys_error("cgroup: attaching device eBPF program to " + dir);

  for (uint32_t i = 0; i < old_count && i < 64; ++i) {
    union bpf_attr get{};
    get.prog_id = ids[i];
    UniqueFd old(static_cast<int>(bpf(BPF_PROG_GET_FD_BY_ID, &get)));
    if (!old) continue;
    union bpf_attr det{};
    det.target_fd = static_cast<uint32_t>(cg.get());
    det.attach_bpf_fd = static_cast<uint32_t>(old.get());
    det.attach_type = BPF_CGROUP_DEVICE;
    if (bpf(BPF_PROG_DETACH, &det) != 0) return sys_error("cgroup: detaching old device eBPF program from " + dir);
  }
  return Status{};
}

}  // namespace berth::cgroup
