// Issue 15, output: `graft train | head -1` died of SIGPIPE before saving;
// `inspect --json > /dev/full` exited 0 without a word; inspect printed
// tensor names raw, so an ANSI escape reached the terminal and a newline in a
// name could print a fake "verify: all tensors match" line.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <filesystem>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/bundle_writer.h"
#include "tests/cli/cli_util.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"
#include "tests/common/synthetic_data.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

using test::graft;
using test::quote;

TEST(CliOutput, TrainIntoAClosedPipeKeepsTrainingAndSaves) {
  test::TempDir tmp;
  const fs::path data = test::banded_data_dir(tmp.path(), 600, 100);
  const std::string prefix = (tmp / "out/model.ckpt").string();
  // head exits after the first line; the later lines meet a closed pipe.
  const auto r = test::run_command("bash -c " +
                                   quote("'" + test::graft_executable() + "' train --data " + quote(data.string()) +
                                         " --hidden 8 --epochs 6 --validation 50 --device cpu --save " +
                                         quote(prefix) + " | head -1 >/dev/null; exit ${PIPESTATUS[0]}"));
  EXPECT_EQ(r.status, 0) << r.output;  // 141 = killed by SIGPIPE
  ASSERT_TRUE(fs::exists(prefix + ".index")) << r.output;
  const BundleReader reader = BundleReader::open(prefix);
  for (const auto& e : reader.entries()) reader.verify(e);
}

TEST(CliOutput, InspectIntoAFullDeviceIsAnError) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  GRAFT_REQUIRE_FIXTURE(seed, "tf1/seed_original");
  const std::string ckpt = (seed / "my_model_final.ckpt").string();
  for (const std::string flags : {"--json", "", "--verify"}) {
    SCOPED_TRACE(flags);
    const auto r = test::run_command("{ '" + test::graft_executable() + "' inspect " + flags + " " + quote(ckpt) +
                                     " >/dev/full; }");
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_CONTAINS(r.output, "graft inspect: error: cannot write the output to standard output: No space left");
    EXPECT_EQ(test::line_count(r.output), 1) << r.output;
  }
}

TEST(CliOutput, InspectEscapesNamesForTheTerminal) {
  test::TempDir tmp;
  const std::string prefix = (tmp / "names").string();
  {
    BundleWriter w(prefix);
    const float v = 1;
    w.add_float("red\x1b[31mname", {}, &v);
    w.add_float("x\nverify: all 9 tensors match their checksums", {}, &v);
    w.finish();
  }
  for (const std::string& flags : std::vector<std::string>{"", "--verify", "--tensor " + quote("red\x1b[31mname")}) {
    SCOPED_TRACE(flags);
    const auto r = graft("inspect " + flags + " " + quote(prefix));
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.output.find('\x1b'), std::string::npos) << r.output;
    EXPECT_CONTAINS(r.output, "red\\x1b[31mname");
    EXPECT_EQ(r.output.find("\nverify: all 9"), std::string::npos) << r.output;
  }
  EXPECT_CONTAINS(graft("inspect " + quote(prefix)).output, "x\\nverify: all 9 tensors");
}

// Issue 15: `inspect --tensor` of a big tensor held three copies of it (the
// mapped bytes, floats, doubles); it now streams. A 64 MiB tensor: the
// child's peak RSS stays under 1.6x the tensor (the mapping itself is read
// once); it was about 4x.
TEST(CliOutput, InspectTensorStreamsBigTensors) {
  test::TempDir tmp;
  const std::string prefix = (tmp / "big").string();
  const int64_t n = int64_t{16} << 20;  // 64 MiB of float32
  {
    std::vector<float> values(static_cast<std::size_t>(n), 0.5f);
    values[3] = -2.0f;
    BundleWriter w(prefix);
    w.add_float("big", {n}, values.data());
    w.finish();
  }
  const auto r = graft("inspect --tensor big " + quote(prefix));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "values: 0.5 0.5 0.5 -2 0.5 0.5 ... 0.5");
  EXPECT_CONTAINS(r.output, "min -2  max 0.5  mean 0.4999999");
#if defined(__SANITIZE_ADDRESS__)
  return;  // AddressSanitizer's shadow memory and redzones inflate the RSS
#endif
  rusage usage{};
  getrusage(RUSAGE_CHILDREN, &usage);
  const long double peak = static_cast<long double>(usage.ru_maxrss) * 1024;  // kilobytes on Linux
  EXPECT_LT(peak, 1.6L * static_cast<long double>(n * 4)) << "peak RSS of a child " << usage.ru_maxrss << " KiB";
}

}  // namespace
}  // namespace graft
