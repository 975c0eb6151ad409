// Input standardization: the fit (population stddev, constant features get
// stddev 1 as sklearn's StandardScaler), the mean/stddev file, and the train
// job fitting on the training rows only and recording the values.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "checkpoint/error.h"
#include "host/data/standardize.h"
#include "host/jobs/train_job.h"
#include "tests/common/fixtures.h"
#include "tests/common/synthetic_data.h"

namespace graft {
namespace {

TEST(Standardize, FitsMeanAndPopulationStddevAndHandlesConstantFeatures) {
  DataSplit s;
  s.rows = 4;
  s.cols = 3;
  // Column 0: 1, 2, 3, 4 (mean 2.5, population variance 1.25); column 1
  // constant 7; column 2: 0, 0, 0, 8 (mean 2, variance (4+4+4+36)/4 = 12).
  s.features = {1, 7, 0, 2, 7, 0, 3, 7, 0, 4, 7, 8};
  const Standardization st = fit_standardization(s);
  EXPECT_FLOAT_EQ(st.mean[0], 2.5f);
  EXPECT_FLOAT_EQ(st.stddev[0], static_cast<float>(std::sqrt(1.25)));
  EXPECT_FLOAT_EQ(st.mean[1], 7.0f);
  EXPECT_EQ(st.stddev[1], 1.0f);  // constant: sklearn's scale 1
  EXPECT_EQ(st.constant_features, 1);
  EXPECT_FLOAT_EQ(st.stddev[2], static_cast<float>(std::sqrt(12.0)));
  apply_standardization(s, st.mean, st.stddev);
  EXPECT_FLOAT_EQ(s.features[0], static_cast<float>(-1.5 / std::sqrt(1.25)));
  EXPECT_EQ(s.features[1], 0.0f);
  EXPECT_FLOAT_EQ(s.features[11], static_cast<float>(6.0 / std::sqrt(12.0)));
}

TEST(Standardize, ReadsTheMeanStddevFileAndNamesWhatIsWrong) {
  test::TempDir dir;
  auto write = [&](const std::string& text) {
    const std::string p = (dir / "s.json").string();
    std::ofstream(p) << text;
    return p;
  };
  const Standardization st = read_standardization_file(write(R"({"mean": [0.5, 1], "stddev": [2, 0.25]})"), 2);
  EXPECT_EQ(st.mean[1], 1.0f);
  EXPECT_EQ(st.stddev[0], 2.0f);
  auto error = [&](const std::string& text, int64_t features) {
    try {
      read_standardization_file(write(text), features);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(error(R"({"mean": [0.5], "stddev": [2]})", 2).find("\"mean\" has 1 values, the data has 2 features"),
            std::string::npos);
  EXPECT_NE(error(R"({"mean": [0.5, 1], "stddev": [2, 0]})", 2).find("feature 1 has mean 1 and stddev 0"),
            std::string::npos);
  EXPECT_NE(error(R"({"mean": [0.5, 1]})", 2).find("needs \"stddev\""), std::string::npos);
  EXPECT_NE(error("[1, 2", 2).find("not JSON"), std::string::npos);
}

// The job fits on the training rows only: the validation rows (the folder's
// first 40) do not move the mean, and the values are recorded in the model.
TEST(Standardize, TrainJobFitsOnTrainingRowsOnlyAndRecordsTheValues) {
  test::TempDir dir;
  const auto data = test::banded_data_dir(dir.path(), 200, 50);
  TrainJob job;
  job.data.dir = data.string();
  job.data.validation = 40;
  job.model.hidden = std::vector<int64_t>{8};
  job.train.epochs = 0;
  job.device = "cpu";
  job.threads = 1;
  job.standardize = true;
  const TrainJobResult r = run_train_job(job, {});
  DatasetOptions o;
  o.dir = data.string();
  o.validation = 40;
  const Dataset loaded = load_dataset(o);
  const Standardization train_only = fit_standardization(loaded.train);
  EXPECT_EQ(r.model.input.mean, train_only.mean);
  EXPECT_EQ(r.model.input.stddev, train_only.stddev);
  DataSplit everything = loaded.train;
  everything.features.insert(everything.features.end(), loaded.validation.features.begin(),
                             loaded.validation.features.end());
  everything.rows += loaded.validation.rows;
  EXPECT_NE(fit_standardization(everything).mean, train_only.mean);
}

}  // namespace
}  // namespace graft
