#pragma once
// `graft train --resume` of a Keras SavedModel: the network its
// keras_metadata.pb defines (host/restore/keras_model.h) keeps its
// variables under TF2 object keys (variables/0/.ATTRIBUTES/VARIABLE_VALUE),
// while a trainer's parameters are named NAME/LEAF (dense/kernel). These
// give the description graft's names, remembering each one's key, and read
// the weights back through them. The SavedModel's optimizer slots and step
// are not mapped: the optimizer starts fresh (the caller says so).
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "host/backend.h"
#include "host/model/model_description.h"
#include "host/model/model_spec.h"

namespace graft {

// Renames every node's variables (and the frozen list) to NAME/LEAF; returns
// graft's name -> the SavedModel's key.
std::map<std::string, std::string> adopt_saved_model_variables(ModelDescription& model);

// Writes every parameter of `table` from the key `keys` names, shape and
// values checked (a NaN is refused, naming the tensor); returns how many.
std::size_t resume_saved_model_weights(Backend& backend, const BundleReader& reader,
                                       const std::vector<ParameterSpec>& table,
                                       const std::map<std::string, std::string>& keys);

}  // namespace graft
