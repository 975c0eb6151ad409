// The hand-built fuzz seeds of fuzz_meta_graph (tests/common/meta_graph_seeds.h;
// tools/fuzz.sh writes them with fuzz_seed_meta_graph beside the fixtures'
// graphs, none is stored in the repository): graphs with the fused and
// tf.contrib batch norms and an input transform. Each must import with its
// batch norm, so a seed keeps reaching the recogniser it was made for, and
// survive a serialise/parse round trip and the fuzz harness.
#include "tests/common/meta_graph_seeds.h"

#include <gtest/gtest.h>

#include <string>

#include "host/model/model_description.h"
#include "host/restore/graph_import.h"
#include "tools/fuzz/harness.h"


namespace graft {
namespace {

TEST(MetaGraphSeeds, EachSeedImportsWithItsBatchNorm) {
  int batch_norms = 0;
  const auto seeds = test::meta_graph_seeds();
  ASSERT_EQ(seeds.size(), 4u);
  for (const auto& [name, bytes] : seeds) {
    SCOPED_TRACE(name);
    const ModelDescription m = model_from_meta_graph_bytes(bytes, name);
    int here = 0;
    for (const ModelNode& n : m.nodes) here += n.kind == NodeKind::kBatchNorm;
    EXPECT_GE(here, 1) << model_to_json(m);
    batch_norms += here;
    EXPECT_NO_THROW(fuzz::meta_graph_one(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  }
  EXPECT_EQ(batch_norms, 4);
}

}  // namespace
}  // namespace graft
