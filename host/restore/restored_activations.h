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

// Hidden dense layers of `spec` whose kernel `plan` restores from a kernel
// of a `source` dense node applying a different activation — a layer's
// activation being its own, or that of the batch-norm node after it when
// batch norm comes before the activation. The source's output layer is
// compared only with a model output layer.
std::vector<ActivationMismatch> restored_activation_mismatches(const ModelSpec& spec, const RestorePlan& plan,
                                                               const ModelDescription& source);

}  // namespace graft
