#pragma once
// The trainer's side of regularization: the model description's per-node
// regularizers (host/model/regularization.h) handed to the backend, per
// parameter of the layout the backend allocated.
#include <vector>

#include "host/backend.h"
#include "host/model/model_description.h"

namespace graft {

// Sets the regularizers of `model`'s nodes on `backend` (built for
// `layers`); does nothing when the model has none, so a backend without
// regularization trains unregularized models as before.
void set_model_regularization(Backend& backend, const ModelDescription& model,
                              const std::vector<DenseLayerShape>& layers);

}  // namespace graft
