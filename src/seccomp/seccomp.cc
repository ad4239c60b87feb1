// Compiles the OCI linux.seccomp object with libseccomp and exports raw BPF,
// so the child only needs one seccomp(2) call and no library state.
#include "seccomp/seccomp.h"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>

#include "base/fd.h"
#include "base/fs.h"
#include "seccomp/cache.h"
#include "seccomp/enosys.h"

namespace berth::seccomp {
namespace {

using nlohmann::json;

// Hostile-input bounds: far above any real profile (Docker's has ~450 names),
// low enough that libseccomp's tree building stays fast.
constexpr size_t kMaxRules = 4096;
constexpr size_t kMaxNames = 16384;
constexpr size_t kMaxArgs = 6;
constexpr size_t kMaxBpfBytes = 4u << 20;

struct CtxDeleter {
  void operator()(void* c) const { seccomp_release(c); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

Error bad(std::string msg) { return Error(Errc::invalid_input, "seccomp: " + std::move(msg)); }

struct NamedValue {
  std::string_view name;
  uint32_t value;
};

// Action names without their return-data part; ERRNO and TRACE take errnoRet.
constexpr NamedValue kActions[] = {
    {"SCMP_ACT_KILL", SCMP_ACT_KILL},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0)},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0)},
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG},
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY},
};

constexpr NamedValue kOperators[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

constexpr NamedValue kFlags[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", (1u << 5)},
};

// runtime-spec architecture names; libseccomp resolves the lower-case suffix.
constexpr std::string_view kArchs[] = {
    "SCMP_ARCH_X86",      "SCMP_ARCH_X86_64",    "SCMP_ARCH_X32",       "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",  "SCMP_ARCH_MIPS",      "SCMP_ARCH_MIPS64",    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",   "SCMP_ARCH_MIPSEL64",  "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",    "SCMP_ARCH_PPC64LE",   "SCMP_ARCH_S390",      "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",   "SCMP_ARCH_PARISC64",  "SCMP_ARCH_RISCV64",
};

template <size_t N>
std::optional<uint32_t> lookup(const NamedValue (&table)[N], std::string_view name) {
  for (const auto& e : table)
    if (e.name == name) return e.value;
  return std::nullopt;
}

Result<std::string> get_string(const json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::string();
  if (!it->is_string()) return bad(where + "." + key + ": expected a string");
  return it->get<std::string>();
}

Result<std::optional<uint64_t>> get_uint(const json& obj, const char* key, const std::string& where,
                                         uint64_t max) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::optional<uint64_t>();
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<int64_t>() >= 0))
    return bad(where + "." + key + ": expected a non-negative integer");
  uint64_t v = it->get<uint64_t>();
  if (v > max) return bad(where + "." + key + ": " + std::to_string(v) + " is out of range");
  return std::optional<uint64_t>(v);
}

// Resolves an action name plus its optional errnoRet; ERRNO/TRACE default to
// EPERM like runc, other actions reject errnoRet as meaningless.
Result<uint32_t> parse_action(const std::string& name, std::optional<uint64_t> ret, const std::string& where) {
  auto a = lookup(kActions, name);
  if (!a) return bad(where + ": unknown action \"" + name + "\"");
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(static_cast<uint32_t>(ret.value_or(EPERM)));
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(static_cast<uint32_t>(ret.value_or(EPERM)));
  if (ret) return bad(where + ": errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not " + name);
  return *a;
}

Result<uint32_t> parse_arch(const json& v, const std::string& where) {
  if (!v.is_string()) return bad(where + ": expected a string");
  std::string name = v.get<std::string>();
  bool known = false;
  for (auto k : kArchs) known |= (k == name);
  if (!known) return bad(where + ": unknown architecture \"" + name + "\"");
  std::string lower = name.substr(std::string_view("SCMP_ARCH_").size());
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  uint32_t token = seccomp_arch_resolve_name(lower.c_str());
  if (token == 0) return Error(Errc::unsupported, "seccomp: " + where + ": libseccomp does not support " + name);
  return token;
}

struct Arg {
  unsigned index;
  scmp_compare op;
  uint64_t value, value_two;
};

Result<std::vector<Arg>> parse_args(const json& rule, const std::string& where) {
  std::vector<Arg> out;
  auto it = rule.find("args");
  if (it == rule.end() || it->is_null()) return out;
  if (!it->is_array()) return bad(where + ".args: expected an array");
  if (it->size() > kMaxArgs * 8) return bad(where + ".args: too many conditions");
  for (size_t i = 0; i < it->size(); ++i) {
    const json& a = (*it)[i];
    std::string w = where + ".args[" + std::to_string(i) + "]";
    if (!a.is_object()) return bad(w + ": expected an object");
    TRY_ASSIGN(auto index, get_uint(a, "index", w, kMaxArgs - 1));
    if (!index) return bad(w + ".index: required");
    TRY_ASSIGN(auto value, get_uint(a, "value", w, UINT64_MAX));
    TRY_ASSIGN(auto value_two, get_uint(a, "valueTwo", w, UINT64_MAX));
    TRY_ASSIGN(std::string op_name, get_string(a, "op", w));
    auto op = lookup(kOperators, op_name);
    if (!op) return bad(w + ".op: unknown operator \"" + op_name + "\"");
    out.push_back(Arg{static_cast<unsigned>(*index), static_cast<scmp_compare>(*op), value.value_or(0),
                      value_two.value_or(0)});
  }
  return out;
}

scmp_arg_cmp to_cmp(const Arg& a) {
  // For MASKED_EQ libseccomp takes (mask, datum), which is (value, valueTwo).
  return scmp_arg_cmp{a.index, a.op, a.value, a.value_two};
}

std::string errstr(int rc) { return std::strerror(rc < 0 ? -rc : rc); }

Status add_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const std::string& name,
                const std::vector<Arg>& args, const std::string& where) {
  auto fail = [&](int rc) {
    return Error(Errc::invalid_input, "seccomp: " + where + ": adding rule for " + name + ": " + errstr(rc));
  };
  if (args.empty()) {
    int rc = seccomp_rule_add_array(ctx, action, nr, 0, nullptr);
    return rc == 0 ? Status{} : Status(fail(rc));
  }
  // libseccomp cannot AND two comparisons on one argument, so (as runc does)
  // a rule that repeats an argument index becomes one rule per condition.
  bool repeated = false;
  for (size_t i = 0; i < args.size(); ++i)
    for (size_t j = i + 1; j < args.size(); ++j) repeated |= args[i].index == args[j].index;
  if (repeated) {
    for (const auto& a : args) {
      scmp_arg_cmp c = to_cmp(a);
      int rc = seccomp_rule_add_array(ctx, action, nr, 1, &c);
      if (rc != 0) return fail(rc);
    }
    return Status{};
  }
  std::vector<scmp_arg_cmp> cmps;
  for (const auto& a : args) cmps.push_back(to_cmp(a));
  int rc = seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned>(cmps.size()), cmps.data());
  return rc == 0 ? Status{} : Status(fail(rc));
}

Result<std::vector<sock_filter>> export_bpf(scmp_filter_ctx ctx) {
  UniqueFd fd(static_cast<int>(::syscall(SYS_memfd_create, "berth-seccomp", MFD_CLOEXEC)));
  if (!fd) return sys_error("seccomp: memfd_create");
  int rc = seccomp_export_bpf(ctx, fd.get());
  if (rc != 0) return Error(Errc::internal, "seccomp: exporting BPF: " + errstr(rc));
  off_t size = ::lseek(fd.get(), 0, SEEK_END);
  if (size < 0) return sys_error("seccomp: lseek memfd");
  if (size == 0 || size % sizeof(sock_filter) != 0 || static_cast<size_t>(size) > kMaxBpfBytes)
    return Error(Errc::limit, "seccomp: exported program has invalid size " + std::to_string(size));
  if (size / sizeof(sock_filter) > BPF_MAXINSNS)
    return Error(Errc::limit, "seccomp: program has " + std::to_string(size / sizeof(sock_filter)) +
                                  " instructions, the kernel allows " + std::to_string(BPF_MAXINSNS));
  std::vector<sock_filter> out(static_cast<size_t>(size) / sizeof(sock_filter));
  if (::lseek(fd.get(), 0, SEEK_SET) < 0) return sys_error("seccomp: lseek memfd");
  TRY_ASSIGN(size_t got, read_full(fd.get(), out.data(), static_cast<size_t>(size)));
  if (got != static_cast<size_t>(size)) return Error(Errc::io, "seccomp: short read of exported program");
  return out;
}

Result<Program> compile_checked(const json& spec) {
  if (!spec.is_object()) return bad("linux.seccomp: expected an object");
  Program prog;

  TRY_ASSIGN(std::string default_name, get_string(spec, "defaultAction", "linux.seccomp"));
  if (default_name.empty()) return bad("linux.seccomp.defaultAction: required");
  TRY_ASSIGN(auto default_ret, get_uint(spec, "defaultErrnoRet", "linux.seccomp", 0xffff));
  TRY_ASSIGN(uint32_t default_action, parse_action(default_name, default_ret, "linux.seccomp.defaultAction"));
  if (default_action == SCMP_ACT_NOTIFY) return bad("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default");

  Ctx ctx(seccomp_init(default_action));
  if (!ctx) return bad("linux.seccomp.defaultAction: libseccomp rejected " + default_name);
  // A binary tree over the syscall numbers instead of libseccomp's default
  // chain. Attaching a filter costs the kernel one emulation run per syscall
  // number (seccomp_cache_prepare, to find the always-allowed ones), each as
  // long as that number's path: O(log n) here instead of O(n) for Docker's
  // ~370 names (docs/runtime.md, "Seccomp attach").
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2); rc != 0)
    return Error(Errc::internal, "seccomp: binary-tree layout: " + errstr(rc));

  std::vector<uint32_t> arch_tokens{seccomp_arch_native()};
  std::vector<std::string> known_names;
  if (auto it = spec.find("architectures"); it != spec.end() && !it->is_null()) {
    if (!it->is_array()) return bad("linux.seccomp.architectures: expected an array");
    for (size_t i = 0; i < it->size(); ++i) {
      std::string w = "linux.seccomp.architectures[" + std::to_string(i) + "]";
      TRY_ASSIGN(uint32_t arch, parse_arch((*it)[i], w));
      if (std::find(arch_tokens.begin(), arch_tokens.end(), arch) == arch_tokens.end()) arch_tokens.push_back(arch);
      int rc = seccomp_arch_add(ctx.get(), arch);
      if (rc != 0 && rc != -EEXIST) return Error(Errc::internal, "seccomp: " + w + ": " + errstr(rc));
    }
  }

  if (auto it = spec.find("flags"); it != spec.end() && !it->is_null()) {
    if (!it->is_array()) return bad("linux.seccomp.flags: expected an array");
    for (size_t i = 0; i < it->size(); ++i) {
      std::string w = "linux.seccomp.flags[" + std::to_string(i) + "]";
      if (!(*it)[i].is_string()) return bad(w + ": expected a string");
      auto f = lookup(kFlags, (*it)[i].get<std::string>());
      if (!f) return bad(w + ": unknown flag \"" + (*it)[i].get<std::string>() + "\"");
      prog.flags |= *f;
    }
  }
  TRY_ASSIGN(prog.listener_path, get_string(spec, "listenerPath", "linux.seccomp"));
  TRY_ASSIGN(prog.listener_metadata, get_string(spec, "listenerMetadata", "linux.seccomp"));

  size_t total_names = 0;
  if (auto it = spec.find("syscalls"); it != spec.end() && !it->is_null()) {
    if (!it->is_array()) return bad("linux.seccomp.syscalls: expected an array");
    if (it->size() > kMaxRules) return bad("linux.seccomp.syscalls: more than " + std::to_string(kMaxRules) + " rules");
    for (size_t i = 0; i < it->size(); ++i) {
      const json& rule = (*it)[i];
      std::string w = "linux.seccomp.syscalls[" + std::to_string(i) + "]";
      if (!rule.is_object()) return bad(w + ": expected an object");
      TRY_ASSIGN(std::string action_name, get_string(rule, "action", w));
      if (action_name.empty()) return bad(w + ".action: required");
      TRY_ASSIGN(auto ret, get_uint(rule, "errnoRet", w, 0xffff));
      TRY_ASSIGN(uint32_t action, parse_action(action_name, ret, w + ".action"));
      TRY_ASSIGN(std::vector<Arg> args, parse_args(rule, w));
      auto names = rule.find("names");
      if (names == rule.end() || !names->is_array() || names->empty())
        return bad(w + ".names: expected a non-empty array");
      total_names += names->size();
      if (total_names > kMaxNames) return bad("linux.seccomp.syscalls: more than " + std::to_string(kMaxNames) + " names");
      for (size_t j = 0; j < names->size(); ++j) {
        const json& n = (*names)[j];
        if (!n.is_string() || n.get_ref<const std::string&>().empty())
          return bad(w + ".names[" + std::to_string(j) + "]: expected a syscall name");
        const std::string& name = n.get_ref<const std::string&>();
        if (action == SCMP_ACT_NOTIFY) {
          // The runtime tells its parent the listener fd with write once
          // the filter is live, before anyone else holds the listener: a
          // notify there would wait for an agent that never comes.
          if (name == "write") return bad(w + ": SCMP_ACT_NOTIFY cannot be used for write");
          prog.notify = true;
        }
        int nr = seccomp_syscall_resolve_name(name.c_str());
        if (nr == __NR_SCMP_ERROR) {
          prog.skipped_syscalls.push_back(name);
          continue;
        }
        known_names.push_back(name);
        // libseccomp refuses a rule equal to the default action; it is a no-op anyway.
        if (action == default_action) continue;
        TRY(add_rule(ctx.get(), action, nr, name, args, w));
      }
    }
  }
  if (prog.notify && prog.listener_path.empty())
    return bad("linux.seccomp.listenerPath: required when SCMP_ACT_NOTIFY is used");
  if ((prog.flags & (1u << 5)) && !prog.notify)
    return bad("linux.seccomp.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs an SCMP_ACT_NOTIFY rule");
  if (prog.notify) {
    prog.flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    // TSYNC and NEW_LISTENER both use the return value; TSYNC_ESRCH resolves it.
    if (prog.flags & SECCOMP_FILTER_FLAG_TSYNC) prog.flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
  }
  TRY_ASSIGN(prog.filter, export_bpf(ctx.get()));
  // Deny-by-default profiles answer syscalls newer than themselves with
  // ENOSYS (runc's behaviour), so libc falls back instead of failing EPERM.
  bool permissive = default_action == SCMP_ACT_ALLOW || default_action == SCMP_ACT_LOG;
  if (!permissive && default_action != SCMP_ACT_ERRNO(ENOSYS)) {
    std::sort(known_names.begin(), known_names.end());
    known_names.erase(std::unique(known_names.begin(), known_names.end()), known_names.end());
    auto stub = enosys_stub(arch_tokens, known_names);
    if (!stub.empty() && stub.size() + prog.filter.size() <= BPF_MAXINSNS)
      prog.filter.insert(prog.filter.begin(), stub.begin(), stub.end());
  }
  return prog;
}

}  // namespace

Result<Program> compile_uncached(const nlohmann::json& seccomp) {
  try {
    return compile_checked(seccomp);
  } catch (const std::exception& e) {
    // Every access is type-checked above; this only guards against bad_alloc.
    return Error(Errc::internal, std::string("seccomp: compiling: ") + e.what());
  }
}

int load(const Program& p) {
  struct sock_fprog fprog;
  fprog.len = static_cast<unsigned short>(p.filter.size());
  fprog.filter = const_cast<struct sock_filter*>(p.filter.data());
  long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p.flags, &fprog);
  if (rc < 0) {
    int err = errno;
    // Kernels before 3.17 have no seccomp(2); prctl takes no flags.
    if (err == ENOSYS && p.flags == 0) {
      if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) == 0) return -1;
      err = errno;
    }
    // -1 means "loaded, no listener"; keep failures distinguishable.
    return err == EPERM ? -EACCES : -err;
  }
  return (p.flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) ? static_cast<int>(rc) : -1;
}

nlohmann::json features() {
  json actions = json::array(), ops = json::array(), known = json::array(), supported = json::array(),
       archs = json::array();
  for (const auto& a : kActions) actions.push_back(a.name);
  for (const auto& o : kOperators) ops.push_back(o.name);
  for (auto a : kArchs) {
    std::string lower(a.substr(std::string_view("SCMP_ARCH_").size()));
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (seccomp_arch_resolve_name(lower.c_str()) != 0) archs.push_back(a);
  }
  for (const auto& f : kFlags) {
    known.push_back(f.name);
    // SECCOMP_GET_ACTION_AVAIL cannot probe flags; an invalid-pointer load
    // with the flag fails EFAULT when the flag is known and EINVAL when not.
    // WAIT_KILLABLE_RECV is only valid together with NEW_LISTENER.
    unsigned probe = f.value == (1u << 5) ? (f.value | SECCOMP_FILTER_FLAG_NEW_LISTENER) : f.value;
    long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, probe, nullptr);
    if (rc < 0 && errno == EFAULT) supported.push_back(f.name);
  }
  return json{{"enabled", true}, {"actions", actions}, {"operators", ops},
              {"archs", archs},  {"knownFlags", known}, {"supportedFlags", supported}};
}

}  // namespace berth::seccomp
