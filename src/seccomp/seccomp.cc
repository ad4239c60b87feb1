#include "seccomp/seccomp.h"

namespace berth::seccomp {

Result<Program> compile(const nlohmann::json&) { return Error(Errc::unsupported, "seccomp: not implemented yet"); }
int load(const Program&) { return -38; }
nlohmann::json default_profile(const std::vector<std::string>&) { return nlohmann::json::object(); }

}  // namespace berth::seccomp
