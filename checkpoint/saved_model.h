#pragma once
// TF2 SavedModel directories (tf.saved_model.save, Keras model.save in the
// "tf" format): DIR/saved_model.pb (the graph and its functions; graft
// checks that it is there and does not read it), DIR/variables/variables
// (a tensor bundle, .index + .data-*, with TF2 object-based keys), Keras's
// DIR/keras_metadata.pb (each layer's config, read by
// host/restore/keras_metadata.h) and DIR/assets/. A SavedModel is input
// only: graft never writes into one (refuse_saving_into_saved_model).
#include <cstdint>
#include <optional>
#include <string>

namespace graft {

inline constexpr const char* kSavedModelFile = "saved_model.pb";
inline constexpr const char* kKerasMetadataFile = "keras_metadata.pb";

// Larger keras_metadata.pb files are refused before they are read: the JSON
// of an MLP's layers is a few kilobytes per layer.
inline constexpr std::uint64_t kMaxKerasMetadataBytes = 64ull << 20;

// Whether `dir` holds a regular file saved_model.pb.
bool is_saved_model_dir(const std::string& dir);

// "DIR/variables/variables", the prefix of a SavedModel's variables.
std::string saved_model_variables_prefix(const std::string& dir);

// DIR when `prefix` is DIR/variables/variables and DIR holds saved_model.pb;
// nullopt otherwise (a checkpoint that is not a SavedModel's variables).
std::optional<std::string> saved_model_dir_of(const std::string& prefix);

// "DIR/keras_metadata.pb".
std::string keras_metadata_path(const std::string& dir);

// The bytes of keras_metadata.pb at `path`, or nullopt when it does not
// exist. Throws graft::Error naming the file when it is not a regular file,
// is larger than kMaxKerasMetadataBytes, or cannot be read.
std::optional<std::string> read_keras_metadata_file(const std::string& path);

// Throws graft::Error when a checkpoint written at `prefix` would put files
// into a SavedModel: its directory, or the one above it (DIR/variables/...,
// DIR/assets/...), holds saved_model.pb. Writing there would replace the
// variables saved_model.pb's functions were saved with (or leave a
// `checkpoint` state file beside them). `role` names the option ("--save").
void refuse_saving_into_saved_model(const std::string& prefix, const std::string& role);

}  // namespace graft
