// berth/image: Dockerfile instructions applied to an image config, as
// `docker import --change` / `podman import --change` / `commit --change`.
//
// Supported: CMD, ENTRYPOINT (exec JSON form, or shell form wrapped in
// ["/bin/sh","-c",...]), ENV k=v... (and legacy `ENV k v`), LABEL, WORKDIR
// (relative to the previous one), USER, EXPOSE (port[/proto], ranges),
// VOLUME (JSON array or words), STOPSIGNAL, ONBUILD. Anything else is an
// error naming the instruction. $VAR, ${VAR}, ${VAR:-x}, ${VAR:+x} expand from
// the config's Env in ENV, LABEL, WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL
// (not in CMD/ENTRYPOINT, which the shell expands at run time).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "image/config.h"

namespace berth::image {

// Applies the changes in order. As in a Dockerfile, ENTRYPOINT clears an
// inherited CMD unless a CMD was set by an earlier change of the same batch.
Status apply_changes(RunConfig& cfg, const std::vector<std::string>& changes);

}  // namespace berth::image
