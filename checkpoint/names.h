#pragma once
// Telling model variables from optimizer state in TF1 (tf.train.Saver) and
// TF2 (object-based) checkpoint keys. Names are never changed when stored;
// this only classifies them.
#include <string>

namespace graft {

enum class VariableRole {
  kModel,            // hidden1/kernel, layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE
  kOptimizerSlot,    // hidden1/kernel/Adam_1, .../.OPTIMIZER_SLOT/optimizer/m/...
  kOptimizerScalar,  // beta1_power, train/beta2_power, optimizer/iter, optimizer/learning_rate
  kGlobalStep,       // global_step
  kObjectGraph,      // _CHECKPOINTABLE_OBJECT_GRAPH
  kModelDescription, // _graft_model_description (graft's own metadata; TF ignores it)
};

// The string tensor in which graft stores a checkpoint's model description
// (host/model/model_io.h). Not a variable: tf.train.Saver restores only the
// variables it is given, and TF2's object-based restore only the keys its
// object graph names, so TensorFlow reads graft's checkpoints as before.
inline constexpr const char* kModelDescriptionKey = "_graft_model_description";

struct NameInfo {
  VariableRole role = VariableRole::kModel;
  // kModel: the name with TF2's "/.ATTRIBUTES/VARIABLE_VALUE" stripped.
  // kOptimizerSlot: the variable the slot belongs to (same stripping).
  std::string variable;
  // kOptimizerSlot: "Adam", "Adam_1", "Momentum", "m", "v", ...
  std::string slot;
};

NameInfo classify_name(const std::string& key);
const char* role_name(VariableRole role);  // "model", "optimizer slot", ...

}  // namespace graft
