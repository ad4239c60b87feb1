// berth/image: platform strings, normalisation and selection from an index.
//
// Promises: names are normalised the way containerd and Go do (x86_64 ->
// amd64, aarch64 -> arm64/v8, armhf -> arm/v7, ...) on both sides before
// comparing, and a failed selection lists the platforms the index offers.
#pragma once

#include <string_view>

#include "image/descriptor.h"
#include "image/manifest.h"

namespace berth::image {

// "os/arch[/variant]"; a bare "arch" means linux. Normalised.
Result<Platform> parse_platform(std::string_view s);
Platform normalize(Platform p);
// This machine: linux/<uname -m normalised>[/variant].
const Platform& host_platform();
// Does a descriptor's platform `have` satisfy the request `want`? os and
// architecture must match; a requested variant must match (arm64's v8 and
// amd64's v1 are the defaults, so "" and those are equal); os.version is
// compared only when requested.
bool platform_matches(const Platform& want, const Platform& have);

// Picks the manifest for `want` from an index. Among matches, an exact
// variant beats a default one; ties keep index order (the publisher's
// preference). Entries without a platform are used only when nothing
// declares a match. Attestations ("unknown/unknown") never match.
Result<Descriptor> select_platform(const Index& ix, const Platform& want = host_platform());

}  // namespace berth::image
