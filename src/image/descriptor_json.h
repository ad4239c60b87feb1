// berth/image internal: Descriptor/Platform <-> nlohmann JSON, shared by the
// manifest, index and archive code.
#pragma once

#include "image/descriptor.h"
#include "image/json_util.h"

namespace berth::image::detail {

Result<Platform> read_platform(const Obj& o);
Result<Descriptor> read_descriptor(const Obj& o);
json to_json(const Platform& p);
json to_json(const Descriptor& d);

}  // namespace berth::image::detail
