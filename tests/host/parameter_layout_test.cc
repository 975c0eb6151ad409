// The parameter table owns the memory layout (host/model/parameter_layout.h):
// offsets, counts, nodes and roles; the CPU backend allocates exactly it.
#include "host/model/parameter_layout.h"

#include <gtest/gtest.h>

#include "host/backend.h"
#include "host/model/model_spec.h"
#include "tests/common/layout_check.h"

namespace graft {
namespace {

TEST(ParameterLayout, DenseStackIsKernelThenBiasOnAlignedOffsets) {
  const Activation relu{ActivationKind::kRelu, 0.2f};
  const ParameterLayout layout = parameter_layout({{784, 300, relu}, {300, 100, relu}, {100, 10, Activation{}}});
  ASSERT_EQ(layout.size(), 6);
  ASSERT_EQ(layout.num_nodes(), 3);
  // Where the CUDA backend put them before the table owned the layout: every
  // tensor on a 64-float (256-byte) boundary, kernel then bias.
  const int64_t offsets[] = {0, 235200, 235520, 265536, 265664, 266688};
  const int64_t counts[] = {235200, 300, 30000, 100, 1000, 10};
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(layout[i].offset, offsets[i]) << i;
    EXPECT_EQ(layout[i].count, counts[i]) << i;
    EXPECT_EQ(layout[i].offset % ParameterLayout::kAlignElems, 0) << i;
    EXPECT_EQ(layout[i].node, i / 2) << i;
    EXPECT_EQ(layout[i].role, i % 2 == 0 ? ParamRole::kKernel : ParamRole::kBias) << i;
  }
  for (int n = 0; n < 3; ++n) {
    EXPECT_EQ(layout.kernel(n), 2 * n);
    EXPECT_EQ(layout.bias(n), 2 * n + 1);
  }
  EXPECT_EQ(layout.total, 266752);
  EXPECT_EQ(layout.describe().substr(0, 40), "0 node 0 kernel offset 0 count 235200\n1 ");
}

TEST(ParameterLayout, TableEntriesCarryTheLayout) {
  const ModelSpec spec = make_mlp_spec(13, {33, 7}, 5, Activation{});
  const ParameterLayout layout = parameter_layout(spec.backend_shapes());
  const std::vector<ParameterSpec> table = parameter_table(spec, OptimizerKind::kAdam);
  ASSERT_EQ(static_cast<int>(table.size()), layout.size());
  for (std::size_t i = 0; i < table.size(); ++i) {
    EXPECT_EQ(table[i].index, static_cast<int>(i));
    EXPECT_EQ(table[i].offset, layout[table[i].index].offset) << table[i].name;
  }
  // hidden1/kernel 13*33 = 429 floats -> hidden1/bias at 448; 448 + 33 ->
  // hidden2/kernel at 512; 512 + 33*7 -> hidden2/bias at 768.
  EXPECT_EQ(table[1].offset, 448);
  EXPECT_EQ(table[2].offset, 512);
  EXPECT_EQ(table[3].name, "hidden2/bias");
  EXPECT_EQ(table[3].offset, 768);
}

TEST(ParameterLayout, CpuBackendAllocatesTheTablesLayout) {
  test::expect_backend_allocates_table_layout([] { return make_cpu_backend(1); });
}

}  // namespace
}  // namespace graft
