// host/jobs/inspect_job.h: what a checkpoint says it is, and its checksums,
// as library calls (graft inspect prints them).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "host/jobs/inspect_job.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

TEST(InspectJob, TheGraphDescribesATensorFlowCheckpoint) {
  GRAFT_REQUIRE_FIXTURE(dir, "tf1/adam_digits_0_to_4");
  const BundleReader r = BundleReader::open((dir / "ch11-exercise_model_0_to_4.ckpt").string());
  const CheckpointModelReport m = describe_checkpoint_model(r);
  ASSERT_TRUE(m.model.has_value()) << m.note;
  EXPECT_CONTAINS(m.note, "model: recovered from the TensorFlow graph");
  EXPECT_EQ(m.model->nodes.size(), 6u);
  EXPECT_EQ(m.model->nodes[0].activation.kind, ActivationKind::kElu);
  EXPECT_TRUE(verify_checkpoint(r).empty());
}

TEST(InspectJob, NoRecordNoGraphSaysSoAndCorruptTensorsAreNamed) {
  GRAFT_REQUIRE_FIXTURE(dir, "tf1/seed_new");
  test::TempDir tmp;
  for (const char* ext : {".index", ".data-00000-of-00001"}) {  // no .meta
    fs::copy_file(dir / (std::string("my_new_model_final.ckpt") + ext), tmp / (std::string("m") + ext));
    fs::permissions(tmp / (std::string("m") + ext), fs::perms::owner_write, fs::perm_options::add);
  }
  {
    std::fstream f(tmp / "m.data-00000-of-00001", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(5000);  // inside hidden1/kernel
    f.put('\x7f');
  }
  const BundleReader r = BundleReader::open((tmp / "m").string());
  const CheckpointModelReport m = describe_checkpoint_model(r);
  EXPECT_FALSE(m.model.has_value());
  EXPECT_CONTAINS(m.note, "no model description (not written by graft)");
  const std::vector<CorruptTensor> bad = verify_checkpoint(r);
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].name, "hidden1/kernel");
  EXPECT_CONTAINS(bad[0].error, "checksum mismatch");
}

}  // namespace
}  // namespace graft
