#include "cgroup/devices_v1.h"

#include <sstream>

namespace berth::cgroup::devices_v1 {
namespace {

unsigned bits(const std::string& access) {
  unsigned b = 0;
  for (char c : access) b |= c == 'r' ? 1u : c == 'w' ? 2u : c == 'm' ? 4u : 0u;
  return b;
}

std::string access_string(unsigned b) {
  std::string s;
  if (b & 1) s += 'r';
  if (b & 2) s += 'w';
  if (b & 4) s += 'm';
  return s;
}

std::string line(const std::tuple<char, int64_t, int64_t>& key, unsigned access) {
  auto num = [](int64_t n) { return n < 0 ? std::string("*") : std::to_string(n); };
  return std::string(1, std::get<0>(key)) + " " + num(std::get<1>(key)) + ":" + num(std::get<2>(key)) + " " +
         access_string(access);
}

bool parse_num(const std::string& s, int64_t& out) {
  if (s == "*") {
    out = -1;
    return true;
  }
  if (s.empty() || s.size() > 10) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

}  // namespace

State emulate(const std::vector<DeviceRule>& rules) {
  State st;
  for (const auto& r : rules) {
    if (r.type == 'a') {
      st.default_allow = r.allow;
      st.exceptions.clear();
      continue;
    }
    auto key = std::make_tuple(r.type, r.major, r.minor);
    unsigned acc = bits(r.access);
    if (r.allow == st.default_allow) {
      auto it = st.exceptions.find(key);
      if (it != st.exceptions.end() && (it->second &= ~acc) == 0) st.exceptions.erase(it);
    } else {
      st.exceptions[key] |= acc;
    }
  }
  return st;
}

std::optional<State> parse_list(const std::string& text) {
  State st;
  std::istringstream in(text);
  std::string type, nums, access;
  while (in >> type >> nums >> access) {
    if (type == "a") return std::nullopt;  // allow mode: exceptions are not shown
    size_t colon = nums.find(':');
    int64_t major, minor;
    if ((type != "c" && type != "b") || colon == std::string::npos || !parse_num(nums.substr(0, colon), major) ||
        !parse_num(nums.substr(colon + 1), minor))
      return std::nullopt;
    st.exceptions[std::make_tuple(type[0], major, minor)] |= bits(access);
  }
  return st;
}

std::optional<std::vector<std::pair<bool, std::string>>> transition(const State& from, const State& to) {
  if (from.default_allow || to.default_allow) return std::nullopt;
  std::vector<std::pair<bool, std::string>> writes;
  for (const auto& [key, acc] : to.exceptions) {
    auto it = from.exceptions.find(key);
    unsigned have = it == from.exceptions.end() ? 0 : it->second;
    if (acc & ~have) writes.emplace_back(true, line(key, acc & ~have));
  }
  for (const auto& [key, acc] : from.exceptions) {
    auto it = to.exceptions.find(key);
    unsigned keep = it == to.exceptions.end() ? 0 : it->second;
    if (acc & ~keep) writes.emplace_back(false, line(key, acc & ~keep));
  }
  return writes;
}

}  // namespace berth::cgroup::devices_v1
