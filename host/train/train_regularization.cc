#include "host/train/train_regularization.h"

namespace graft {

void set_model_regularization(Backend& backend, const ModelDescription& model,
                              const std::vector<DenseLayerShape>& layers) {
  std::vector<NodeRegularizer> nodes;
  for (const ModelNode& n : model.nodes) nodes.push_back(n.regularizer);
  const std::vector<ParamRegularizer> per_param = param_regularizers(parameter_layout(layers), nodes);
  if (any_regularizer(per_param)) backend.set_regularization(per_param);
}

}  // namespace graft
