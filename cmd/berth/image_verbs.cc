// Image verbs: images, inspect, tag, rmi, load, save, import, unpack, gc.
#include "cli.h"

namespace berth::cli {
void register_image_verbs(CLI::App&) {}
}  // namespace berth::cli
