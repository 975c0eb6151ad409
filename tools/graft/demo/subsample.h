#pragma once
// The learning curve's training sets: n images per class drawn from the
// target's training split, a different sample for each seed. For one seed
// the samples are nested (the 10 images of a class are among its 30), so a
// curve shows the effect of more labels, not of another draw.
#include <cstdint>

#include "host/data/dataset.h"

namespace graft {

// `data` with its training split cut to the first n images of each class in
// an order shuffled by `seed` (all of a class when it has fewer than n);
// validation and test are copied unchanged.
Dataset subsample_per_class(const Dataset& data, int64_t n, uint64_t seed);

}  // namespace graft
