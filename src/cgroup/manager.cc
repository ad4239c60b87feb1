#include "cgroup/cgroup.h"

namespace berth::cgroup {

Result<std::unique_ptr<Manager>> Manager::create(const std::string&, const std::string&, const nlohmann::json&, bool) {
  return Error(Errc::unsupported, "cgroup: not implemented yet");
}
Result<std::unique_ptr<Manager>> Manager::open(const std::string&, const std::string&, bool) {
  return Error(Errc::unsupported, "cgroup: not implemented yet");
}

}  // namespace berth::cgroup
