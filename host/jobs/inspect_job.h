#pragma once
// graft's inspection as library calls: what a checkpoint holds (its
// variables summarised: dense layers, optimizer state), what it says it is
// (graft's model description, else the network its TensorFlow graph
// defines, else why neither), and which tensors fail their checksums. The
// CLI's `graft inspect` prints these; a C++ program reads them directly.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/summary.h"
#include "host/model/model_description.h"

namespace graft {

struct CheckpointModelReport {
  std::optional<ModelDescription> model;  // the record, or the graph's network
  // Where the model came from, or why there is none (a malformed record is
  // reported here, not thrown: inspecting is how a user finds out).
  std::string note;
};

CheckpointModelReport describe_checkpoint_model(const BundleReader& reader);

struct CorruptTensor {
  std::string name;
  std::string error;
};

// Every tensor's CRC32C checked; the failures, in key order.
std::vector<CorruptTensor> verify_checkpoint(const BundleReader& reader);

}  // namespace graft
