// berth/cgroup (internal): the two Manager implementations behind
// Manager::create/open, exposed so tests can drive the v2 manager against a
// cgroup2 mount on a hybrid host.
#pragma once

#include <memory>
#include <string>

#include "cgroup/cgroup.h"
#include "cgroup/layout.h"
#include "cgroup/resources.h"

namespace berth::cgroup::detail {

// `path` is a resolved cgroup path (see paths.h). With create, missing
// directories are made and `res` applied; otherwise the leaf must exist.
Result<std::unique_ptr<Manager>> make_v1(const HostLayout& host, const std::string& path, bool create,
                                         const Resources& res);
Result<std::unique_ptr<Manager>> make_v2(const HostLayout& host, const std::string& path, bool create,
                                         const Resources& res);

}  // namespace berth::cgroup::detail
