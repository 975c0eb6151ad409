#include "host/predict/prediction_output.h"

#include <fmt/format.h>

#include <fstream>
#include <map>

#include "checkpoint/error.h"
#include "host/data/npy.h"
#include "host/data/npz.h"

namespace graft {
namespace {

// RFC 4180: quoted when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

void write_predictions_csv(std::ostream& out, const RowPredictions& p, const PredictionNames& names, int top_k) {
  std::string line = "label";
  if (top_k > 0) {
    line += ",p_label";
    for (int k = 2; k <= top_k && k <= p.outputs; ++k) line += fmt::format(",label_{},p_label_{}", k, k);
  } else {
    for (const std::string& n : names.outputs) line += "," + csv_field("p_" + n);
  }
  out << line << '\n';
  for (int64_t r = 0; r < p.rows; ++r) {
    const float* probs = p.probabilities.data() + r * p.outputs;
    if (top_k > 0) {
      const std::vector<int32_t> top = top_outputs(p, r, top_k);
      line.clear();
      for (std::size_t k = 0; k < top.size(); ++k) {
        if (k) line += ',';
        line += fmt::format("{},{:.9g}", csv_field(names.outputs[static_cast<std::size_t>(top[k])]), probs[top[k]]);
      }
    } else {
      line = csv_field(names.outputs[static_cast<std::size_t>(p.predicted[static_cast<std::size_t>(r)])]);
      for (int64_t c = 0; c < p.outputs; ++c) line += fmt::format(",{:.9g}", probs[c]);
    }
    out << line << '\n';
  }
}

void write_predictions(const std::string& path, const RowPredictions& p, const PredictionNames& names, int top_k) {
  if (ends_with(path, ".npz")) {
    std::vector<int32_t> labels(p.predicted.size());
    for (std::size_t r = 0; r < labels.size(); ++r) {
      const auto o = static_cast<std::size_t>(p.predicted[r]);
      labels[r] = names.labels.empty() ? static_cast<int32_t>(o) : names.labels[o];
    }
    write_npz(path, {{"label", npy_image_i32(labels)}, {"probabilities", npy_image_f32(p.probabilities, p.rows, p.outputs)}});
    return;
  }
  const bool npy = ends_with(path, ".npy");
  if (!npy && !ends_with(path, ".csv")) throw Error(path + ": --out must end in .csv, .npy or .npz");
  std::ofstream out(path, std::ios::binary);
  if (!out) throw Error(path + ": cannot create");
  if (npy) {
    out << npy_image_f32(p.probabilities, p.rows, p.outputs);
  } else {
    write_predictions_csv(out, p, names, top_k);
  }
  out.close();
  if (!out) throw Error(path + ": write error");
}

}  // namespace graft
