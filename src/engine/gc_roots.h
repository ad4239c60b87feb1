// berth/engine: what containers keep alive during garbage collection.
#pragma once

#include "store/gc.h"

namespace berth::engine {

GcRootProvider container_gc_roots();

}  // namespace berth::engine
