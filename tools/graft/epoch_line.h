#pragma once
// The one-line epoch report of `graft train` (tools/graft/cmd_train.cc
// prints the same format; tests/cli's QuickDemo compares the two), for
// `graft demo`'s source network. cmd_train.cc does not call it yet because
// it is being reworked on main (TrainJob).
#include <cstdio>
#include <optional>
#include <string>

#include "host/train/trainer.h"

namespace graft {

inline std::string epoch_line(const EpochReport& r) {
  const auto acc = [](const std::optional<double>& v) {
    char buf[32];
    if (!v) return std::string("-");
    std::snprintf(buf, sizeof buf, "%.4f", *v);
    return std::string(buf);
  };
  char line[256];
  std::snprintf(line, sizeof line, "epoch %3d  loss %.4f  train acc %.4f  valid acc %s  test acc %s  (%.1f s)%s",
                r.epoch, r.train_loss, r.train_accuracy, acc(r.validation_accuracy).c_str(),
                acc(r.test_accuracy).c_str(), r.seconds, r.best ? "  best" : "");
  return line;
}

}  // namespace graft
