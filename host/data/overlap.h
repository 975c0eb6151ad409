#pragma once
// Whether a test split holds the training split's own rows: the classic
// mistake of testing on the training folder (or a copy of it), which makes
// test accuracy measure memorisation. Rows are compared by content (their
// feature bytes), so a copied file or a re-encoded one of the same images
// is found as surely as the same path.
#include <cstdint>
#include <string>

#include "host/data/dataset.h"

namespace graft {

// Rows of `test` whose features equal some row of `train` (same columns).
// Linear in the rows of both; 0 when the column counts differ.
int64_t rows_also_in(const DataSplit& test, const DataSplit& train);

// "" when few test rows (at most 1%) are training rows, else a warning in
// words: "warning: 10000 of 10000 test rows (100%) are also training rows:
// test accuracy measures memorisation, not generalisation".
std::string train_test_overlap_warning(const DataSplit& train, const DataSplit& test);

}  // namespace graft
