#pragma once
// The check that a backend allocates its flat buffers exactly as the
// parameter table says (host/model/parameter_layout.h): for every buffer
// kind, the layout measured from the backend's memory equals the table's.
// Used by the CPU test (tests/host) and the GPU one (tests/cuda). Header-only.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <vector>

#include "checkpoint/error.h"
#include "host/backend.h"
#include "host/model/model_spec.h"

namespace graft::test {

inline void expect_backend_allocates_table_layout(const std::function<std::unique_ptr<Backend>()>& make) {
  // Odd widths, so that padding shows up between tensors.
  const ModelSpec spec = make_mlp_spec(13, {33, 7}, 5, Activation{ActivationKind::kRelu, 0.2f});
  const std::vector<DenseLayerShape> shapes = spec.backend_shapes();
  const ParameterLayout want = parameter_layout(shapes);
  for (OptimizerKind kind : {OptimizerKind::kSgd, OptimizerKind::kMomentum, OptimizerKind::kAdam}) {
    SCOPED_TRACE(optimizer_name(kind));
    OptimizerConfig config;
    config.kind = kind;
    auto backend = make();
    backend->build(shapes, config, 8);
    ASSERT_EQ(backend->num_params(), want.size());
    const std::vector<ParameterSpec> table = parameter_table(spec, kind);
    for (const ParameterSpec& p : table) {
      EXPECT_EQ(p.offset, want[p.index].offset) << p.name;
      EXPECT_EQ(p.elements(), want[p.index].count) << p.name;
      EXPECT_EQ(p.layer, want[p.index].node) << p.name;
      EXPECT_EQ(p.role, want[p.index].role) << p.name;
    }
    const int slots = static_cast<int>(optimizer_slot_suffixes(kind).size());
    std::vector<ParamBuffer> buffers = {ParamBuffer::kParams, ParamBuffer::kGrads};
    if (slots >= 1) buffers.push_back(ParamBuffer::kSlot0);
    if (slots >= 2) buffers.push_back(ParamBuffer::kSlot1);
    for (ParamBuffer buffer : buffers) {
      const ParameterLayout got = backend->allocated_layout(buffer);
      EXPECT_EQ(got, want) << "buffer " << static_cast<int>(buffer) << ":\n"
                           << got.describe() << "the table's:\n"
                           << want.describe();
    }
    if (slots < 2) EXPECT_THROW(backend->allocated_layout(ParamBuffer::kSlot1), Error);
  }
}

}  // namespace graft::test
