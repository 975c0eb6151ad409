#pragma once
// A restored dense layer runs with the activation the new model gives it;
// when the source network used another one (an ELU layer restored into the
// default ReLU model), the restored features are not the ones the source
// learned, and the run trains on them without a word. This finds those
// layers, from what the source records (graft's model description, or its
// TensorFlow graph): the caller refuses or says so.
#include <string>
#include <vector>

#include "host/model/model_description.h"
#include "host/model/model_spec.h"
#include "host/restore/restore_plan.h"

namespace graft {

struct ActivationMismatch {
  std::string layer;         // the model's layer, e.g. "hidden1"
  std::string source_layer;  // the source node its kernel comes from
  Activation model, source;
};

// Hidden layers of `spec` whose kernel `plan` restores from a kernel of a
// `source` node with a different activation (the source's output node, whose
// activation is the identity, is compared only when the model layer is
// also an output layer).
std::vector<ActivationMismatch> restored_activation_mismatches(const ModelSpec& spec, const RestorePlan& plan,
                                                               const ModelDescription& source);

}  // namespace graft
