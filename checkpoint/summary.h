#pragma once
// What a checkpoint holds, at a glance: parameter count, the dense layers
// (kernel [in, out] + bias [out] pairs) in natural order with the output
// layer last, optimizer state, and everything else by kind.
#include <cstdint>
#include <string>
#include <vector>

namespace graft {

class BundleReader;

struct DenseLayerSummary {
  std::string name;        // "hidden1", "dnn/outputs", "layer_with_weights-0"
  std::string keras_name;  // TF2: the layer's TF name from the object graph ("dense_1"); else ""
  std::string kernel;      // bundle keys
  std::string bias;
  int64_t inputs = 0;
  int64_t outputs = 0;
};

struct OtherVariable {
  std::string name;
  std::string kind;  // "batch normalization", "4-D kernel (not dense)", "unpaired", ...
};

struct CheckpointSummary {
  std::string format;             // "TF1 name-based" or "TF2 object-based"
  int64_t model_parameters = 0;   // elements of model variables (no optimizer state)
  int64_t optimizer_elements = 0; // elements of slots and optimizer scalars
  std::vector<DenseLayerSummary> dense_layers;
  std::string architecture;       // "784-300-50-10" when the layers chain, else ""
  std::vector<std::string> optimizer_slots;    // distinct slot names: "Adam", "Adam_1" / "m", "v"
  std::vector<std::string> optimizer_scalars;  // their keys
  std::vector<std::string> step_counters;      // global_step, save_counter
  std::vector<OtherVariable> other;
};

CheckpointSummary summarize(const BundleReader& reader);

// Orders names with embedded numbers numerically ("hidden2" < "hidden10").
bool natural_less(const std::string& a, const std::string& b);

}  // namespace graft
