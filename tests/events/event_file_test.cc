// Reads graft's TensorBoard event files back with an independent TFRecord and
// protobuf-wire reader (tests/events/event_reader.h: bitwise CRC32C,
// hand-decoded varints), not with the writer's code.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "checkpoint/event_writer.h"
#include "tests/common/fixtures.h"
#include "tests/events/event_reader.h"

namespace {

using graft::test::read_event_file;

TEST(EventFile, FramingCrcsAndScalarValues) {
  graft::test::TempDir dir;
  std::string path;
  {
    graft::EventWriter writer((dir / "run").string());
    path = writer.path();
    writer.scalars(1, {{"loss", 0.5f}, {"accuracy/test", 0.0f}});
    writer.scalar(2, "loss", 0.25f);
  }
  const auto name = std::filesystem::path(path).filename().string();
  EXPECT_EQ(name.rfind("events.out.tfevents.", 0), 0u) << name;
  // 10-digit unix seconds after the prefix.
  EXPECT_EQ(name.substr(20, 10).find_first_not_of("0123456789"), std::string::npos) << name;

  const auto events = read_event_file(path);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  EXPECT_GT(events[0].wall_time, 1.6e9);
  EXPECT_EQ(events[1].step, 1);
  ASSERT_EQ(events[1].scalars.count("loss"), 1u);
  EXPECT_FLOAT_EQ(events[1].scalars.at("loss"), 0.5f);
  // A zero value must still be written (proto3 would drop a plain float 0).
  ASSERT_EQ(events[1].scalars.count("accuracy/test"), 1u);
  EXPECT_FLOAT_EQ(events[1].scalars.at("accuracy/test"), 0.0f);
  EXPECT_EQ(events[2].step, 2);
  EXPECT_FLOAT_EQ(events[2].scalars.at("loss"), 0.25f);
}

TEST(EventFile, UnwritableLogdirIsAClearError) {
  graft::test::TempDir dir;
  std::ofstream(dir / "file") << "x";
  try {
    graft::EventWriter writer((dir / "file" / "sub").string());
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("file"), std::string::npos) << e.what();
  }
}

}  // namespace
