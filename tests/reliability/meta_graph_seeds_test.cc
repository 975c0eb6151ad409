// The fuzz seeds of fuzz_meta_graph kept in the repository
// (tools/fuzz/seeds/fuzz_meta_graph/, copied in by tools/fuzz.sh beside the
// fixtures' graphs): hand-built graphs with the fused and tf.contrib batch
// norms and an input transform (tests/common/meta_graph_seeds.h). Each must
// import as the graph its builder makes today, so a seed keeps reaching the
// recognisers it was made for; and each runs through the fuzz harness.
//   GRAFT_WRITE_FUZZ_SEEDS=1 reliability_tests --gtest_filter='MetaGraphSeeds.*'
// rewrites them from the builders.
#include "tests/common/meta_graph_seeds.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "host/model/model_description.h"
#include "host/restore/graph_import.h"
#include "tools/fuzz/harness.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

TEST(MetaGraphSeeds, CommittedSeedsImportAsTheirBuildersGraphs) {
  const fs::path dir = fs::path(GRAFT_SOURCE_DIR) / "tools" / "fuzz" / "seeds" / "fuzz_meta_graph";
  const bool write = std::getenv("GRAFT_WRITE_FUZZ_SEEDS") != nullptr;
  int batch_norms = 0;
  for (const auto& [name, bytes] : test::meta_graph_seeds()) {
    SCOPED_TRACE(name);
    if (write) std::ofstream(dir / name, std::ios::binary) << bytes;
    std::ifstream in(dir / name, std::ios::binary);
    ASSERT_TRUE(in) << "missing seed " << (dir / name) << " (GRAFT_WRITE_FUZZ_SEEDS=1 writes it)";
    std::stringstream ss;
    ss << in.rdbuf();
    const ModelDescription kept = model_from_meta_graph_bytes(ss.str(), name);
    EXPECT_EQ(model_to_json(kept), model_to_json(model_from_meta_graph_bytes(bytes, name)));
    for (const ModelNode& n : kept.nodes) batch_norms += n.kind == NodeKind::kBatchNorm;
    EXPECT_NO_THROW(fuzz::meta_graph_one(reinterpret_cast<const uint8_t*>(ss.str().data()), ss.str().size()));
  }
  EXPECT_EQ(batch_norms, 4);
}

}  // namespace
}  // namespace graft
