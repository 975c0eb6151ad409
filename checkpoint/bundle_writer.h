#pragma once
// Writing a TensorFlow V2 checkpoint that TensorFlow reads, byte-identical to
// TF's BundleWriter for the same tensors added in the same order. Atomic,
// with no window even under SIGKILL (docs/reliability.md, "The save
// protocol"): the bundle is staged under a temporary prefix, the old files
// kept as a backup the state file names while the prefix is replaced; a
// failure leaves any earlier checkpoint with the same prefix intact and no
// temporary files behind. Holds PREFIX.lock from construction to
// destruction: a second writer to the prefix is refused.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint/tensor_info.h"

namespace graft {

class BundleWriter {
 public:
  explicit BundleWriter(std::string prefix);
  ~BundleWriter();  // abandons (removes temporaries) when finish() was not reached
  BundleWriter(const BundleWriter&) = delete;
  BundleWriter& operator=(const BundleWriter&) = delete;

  // Appends a numeric tensor's raw little-endian bytes (data file order =
  // call order). size must equal elements × dtype size.
  void add(const TensorInfo& info, const void* bytes, std::size_t size);
  void add_float(const std::string& name, const Shape& shape, const float* values);
  void add_strings(const std::string& name, const Shape& shape,
                   const std::vector<std::string>& values);

  // Writes the index, syncs and renames into place. Throws graft::Error on
  // any failure, after cleaning up.
  void finish();

  const std::string& prefix() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace graft
