#pragma once
// The other names a checkpoint variable answers to when a restore plan
// matches it to the model (host/restore/restore_plan.cc): a batch norm kept
// under another scope than the model's, and a TF2 Keras key's layer name.
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "host/model/model_spec.h"
#include "host/restore/restore_plan.h"

namespace graft::restore_aliases {

// A checkpoint model variable under its model name.
struct Candidate {
  std::string key;         // as stored
  std::string model_name;  // after renames, TF2 suffix dropped
  const BundleEntry* entry = nullptr;
};

// A model's batch norm follows a dense layer; when the checkpoint keeps that
// layer's batch norm under another name (tf.layers' batch_normalization_N in
// creation order, tf.contrib's DENSE/BatchNorm, Keras's numbered layers:
// find_batch_norms says how each is attached), the model's leaf
// (DENSE/batch_normalization/gamma) is restored from it, as if renamed:
// by_model_name[leaf] = the candidate's index. A checkpoint whose batch
// norms cannot be attached gets no aliases (its variables then need
// --rename, and the plan's errors say which).
void add_batch_norm_aliases(const std::vector<ParameterSpec>& table, const BundleReader& reader,
                            const RestoreOptions& options, std::vector<Candidate>& candidates,
                            std::map<std::string, std::size_t>& by_model_name);

// A TF2 Keras checkpoint names its variables layer_with_weights-N/... (a
// SavedModel variables/K); its object graph keeps the Keras names behind
// them (dense_1/kernel, what model.summary() printed). Each variable also
// answers to that name, after the --rename rules, so --restore, --freeze and
// --rename can use the names the user knows. The key's own name still wins
// a clash.
void add_keras_name_aliases(const BundleReader& reader, const RestoreOptions& options,
                            const std::vector<Candidate>& candidates, std::map<std::string, std::size_t>& by_model_name);

}  // namespace graft::restore_aliases
