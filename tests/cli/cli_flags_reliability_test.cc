// Issue 15, flags and messages: every flag-parse error is one line on
// stderr and exit 1 (CLI11 printed two lines and exited 104-114); --threads
// has an upper bound naming the number and the limit.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/cli/cli_util.h"
#include "tests/common/expect_contains.h"

namespace graft {
namespace {

using test::graft;

TEST(CliFlags, EveryParseErrorIsOneLineAndExit1) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"train --epochs x", "graft train: error: Could not convert: --epochs = x"},
      {"train --bogus", "graft train: error: The following argument was not expected: --bogus"},
      {"inspect", "graft inspect: error: checkpoint is required"},
      {"train --epochs 1 --epochs 2", "graft train: error: --epochs"},
      {"", "graft: error: A subcommand is required"},
      {"eval --threads a", "graft eval: error: --threads: Value a not in range"},
      {"train --batch-size a", "graft train: error: Could not convert: --batch-size = a"},
      {"train --keep -1 --save x --save-every 1", "graft train: error: --keep: must be at least 0, got '-1'"},
      {"train --log-every 0 --logdir x", "graft train: error: --log-every: must be at least 1, got '0'"},
      {"train --threads 100000", "graft train: error: --threads: Value 100000 not in range"},
      {"eval x --threads 100000", "graft eval: error: --threads: Value 100000 not in range"},
      {"train --lr nan", "graft train: error: --lr: must be a finite number, got 'nan'"},
      {"train --lr inf", "graft train: error: --lr: must be a finite number, got 'inf'"},
      {"train --momentum -inf", "graft train: error: --momentum: must be a finite number"},
      {"train --clip-norm nan", "graft train: error: --clip-norm: must be a finite number"},
      {"nosuchcommand", "graft: error: A subcommand is required"},
  };
  for (const auto& [args, message] : cases) {
    SCOPED_TRACE(args);
    const auto r = graft(args);
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_EQ(test::line_count(r.output), 1) << r.output;
    EXPECT_CONTAINS(r.output, message);
  }
  // Help and version still print and exit 0.
  EXPECT_EQ(graft("--help").status, 0);
  EXPECT_EQ(graft("train --help").status, 0);
  EXPECT_EQ(graft("--version").status, 0);
}

TEST(CliFlags, ParseErrorWithControlCharactersStaysOneLine) {
  const auto r = graft("train --epochs $'1\\n2'");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(test::line_count(r.output), 1) << r.output;
}

}  // namespace
}  // namespace graft
