#pragma once
// The bodies of the libFuzzer targets, shared with the regression test
// (tests/reliability/fuzz_regression_test.cc) that replays every input the
// fuzzers once crashed on. Each function feeds one input to a parser; a bad
// input must end in graft::Error (caught here) and nothing else: any other
// exception, a sanitizer report or a crash is a bug.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace graft {
class BundleReader;
}

namespace graft::fuzz {

// The bytes as a .index file (checksums as given, then again with every
// block checksum recomputed so the bytes reach the block and entry parsers),
// opened with BundleReader beside a zero-filled data shard, summarised, and
// each small tensor verified and read.
void index_one(const uint8_t* data, std::size_t size);
// The bytes as one BundleEntryProto value in an otherwise valid .index, with
// the same bytes as the data shard; then read as above. Also decodes the
// bytes as a string tensor.
void entry_one(const uint8_t* data, std::size_t size);
// The bytes as a directory's `checkpoint` state file: parsed, then resolved.
void state_file_one(const uint8_t* data, std::size_t size);
// The bytes as an IDX file (raw or gzip) read as rank 1, 2 and 3.
void idx_one(const uint8_t* data, std::size_t size);
// The bytes as a `.meta` MetaGraphDef: parsed and walked for the dense
// network (host/restore/graph_import.h); a description it returns must validate.
void meta_graph_one(const uint8_t* data, std::size_t size);
// The bytes as a .npy image (parsed, then read as features and as labels),
// as a CSV file (with and without a label column) and as an .npz archive,
// each also through read_data_file; a small memory limit keeps lying
// headers cheap.
void npy_one(const uint8_t* data, std::size_t size);
void csv_one(const uint8_t* data, std::size_t size);
void npz_one(const uint8_t* data, std::size_t size);

// The bytes as a SavedModel's keras_metadata.pb: parsed
// (host/restore/keras_metadata.h) and, when graft can represent the model,
// laid over a fixed small SavedModel's variables (dense 8-4, batch norm,
// dense 4-3; host/restore/keras_model.h); a description it returns must validate.
void keras_metadata_one(const uint8_t* data, std::size_t size);
// Seeds for it: keras_metadata.pb files as Keras writes them (name, bytes),
// the first one a model the fixed variables hold.
std::vector<std::pair<std::string, std::string>> keras_metadata_seeds();
// The fixed SavedModel's variables keras_metadata_one lays a model over.
const BundleReader& keras_metadata_variables();

// Recomputes the masked CRC32C of every block the footer and the index block
// point to (those that lie inside the file); other bytes are unchanged.
std::string with_fixed_block_crcs(std::string file);

}  // namespace graft::fuzz
