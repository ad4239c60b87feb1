#include "layer/layer.h"
namespace berth::layer {
Result<WriteStats> write_layer(const std::string& dir, int out_fd, const WriteOptions& opts) {
  return Error(Errc::unsupported, "write_layer: not yet");
}
}
