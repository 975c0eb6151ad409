#pragma once
// Resuming a checkpoint that records its model: the recorded description is
// the model; what the caller asks for on top is checked against it. A request
// that contradicts the architecture (layer sizes, names, activations,
// output classes, frozen variables) is refused; one that changes the
// optimizer or its hyper-parameters is refused too unless the caller allows
// overrides, and then each override is reported.
#include <optional>
#include <string>
#include <vector>

#include "host/model/layer_activations.h"
#include "host/model/model_description.h"
#include "host/model/regularization_spec.h"

namespace graft {

// What the caller asked for; unset fields take the recorded values.
struct ModelRequest {
  std::optional<std::vector<int64_t>> hidden;     // units of every node but the last
  std::optional<int64_t> outputs;                 // units of the last node
  std::optional<Activation> activation;           // of every node but the last
  std::optional<LayerActivations> layer_activations;  // per hidden node (host/model/layer_activations.h)
  std::optional<std::vector<std::string>> names;  // node names, bottom to top
  std::optional<std::vector<int>> classes;        // original labels, in output order
  std::optional<std::vector<std::string>> frozen; // frozen variables
  std::optional<OptimizerKind> optimizer;
  std::optional<float> learning_rate, momentum, clip_value, clip_norm;
  std::optional<math::LrSchedule> lr_schedule;    // host/model/lr_schedule_spec.h
  // L1/L2 and max-norm (host/model/regularization_spec.h): refused or
  // overridden like the optimizer's settings (fields "l1", "l2", "max_norm",
  // "regularize_biases").
  RegularizationRequest regularization;
};

// One field of the request that differs from the record. `field` is the
// ModelRequest member ("hidden", "learning_rate", ...).
struct Contradiction {
  std::string field;
  std::string requested;
  std::string recorded;
  bool optimizer = false;  // an optimizer setting (may be overridden)
};

struct ResolvedModel {
  ModelDescription model;                     // the record, with any allowed overrides applied
  std::vector<Contradiction> contradictions;  // refused: the caller must not train
  std::vector<Contradiction> overrides;       // applied (allow_optimizer_overrides)
};

ResolvedModel resolve_resumed_model(const ModelDescription& recorded, const ModelRequest& request,
                                    bool allow_optimizer_overrides);

}  // namespace graft
