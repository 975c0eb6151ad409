#pragma once
// The one-line epoch report of `graft train` and of `graft demo`'s source
// network. No test accuracy: shown every epoch it becomes a selection
// signal; graft train reports it once, for the model the run keeps.
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
  std::snprintf(line, sizeof line, "epoch %3d  loss %.4f  train acc %.4f  valid acc %s  (%.1f s)%s", r.epoch,
                r.train_loss, r.train_accuracy, acc(r.validation_accuracy).c_str(), r.seconds, r.best ? "  best" : "");
  return line;
}

}  // namespace graft
