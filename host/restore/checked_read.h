#pragma once
// Reading a checkpoint tensor into a model variable, refusing what would be
// silently wrong: a dtype other than float32 (the model's variables are
// float32; graft converts no other dtype rather than round an int32 or
// float64 kernel unannounced) and a NaN or Inf value (it would surface only
// as a divergence many steps later, or as an accuracy in eval). Errors name
// the checkpoint, the tensor and the first bad element.
#include <vector>

#include "checkpoint/bundle_reader.h"

namespace graft {

std::vector<float> read_checked_float(const BundleReader& reader, const BundleEntry& entry);

}  // namespace graft
