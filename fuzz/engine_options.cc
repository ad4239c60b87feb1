// libFuzzer: `berth run` option parsers and the passwd/group readers must
// reject or accept any input, never crash, hang or throw. The first byte
// picks the parser; the rest is its input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/options.h"
#include "engine/spec_gen.h"
#include "engine/userdb.h"

using namespace berth::engine;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  EnvLookup env = [](const std::string& k) -> std::optional<std::string> {
    if (k.size() == 1) return k;  // some keys exist, most do not
    return std::nullopt;
  };
  switch (data[0] % 12) {
    case 0: (void)parse_volume(in, "/cwd"); break;
    case 1: {
      auto m = parse_mount(in, "/cwd");
      if (m.ok()) (void)resolve_mount(*m, "/vol");
      break;
    }
    case 2: (void)parse_bytes(in); break;
    case 3: (void)parse_ulimit(in); break;
    case 4: (void)parse_restart(in); break;
    case 5: (void)parse_env_text(in, "fuzz.env", env); break;
    case 6: {
      auto m = parse_tmpfs(in);
      if (m.ok()) (void)resolve_mount(*m);
      break;
    }
    case 7: (void)parse_duration(in); break;
    case 8: {
      // user spec up to the first newline, then passwd, '\f', group
      size_t nl = in.find('\n');
      std::string_view spec = in.substr(0, nl);
      std::string_view rest = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
      size_t ff = rest.find('\f');
      std::string passwd(rest.substr(0, ff));
      std::string group(ff == std::string_view::npos ? std::string_view() : rest.substr(ff + 1));
      (void)resolve_user_in(spec, passwd, group);
      break;
    }
    case 9: (void)parse_signal(in); break;
    case 10: {
      RunOptions o;
      // seccomp=FILE reads a host file (a FIFO or /dev/zero would stall the
      // fuzzer, not the parser): only the forms that read nothing.
      std::string_view val = in.size() > 8 ? in.substr(8) : std::string_view();
      bool reads_file = in.rfind("seccomp", 0) == 0 && !val.empty() && val != "unconfined" && val != "builtin";
      if (!reads_file) (void)apply_security_opt(o, in);
      (void)check_add_host(in);
      (void)check_expose(in);
      break;
    }
    case 11: (void)seccomp_from_profile(std::string(in), {"CAP_CHOWN", "CAP_SYS_ADMIN"}); break;
  }
  return 0;
}
