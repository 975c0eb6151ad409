// graft inspect: list a checkpoint's variables, summarise what they are,
// show one tensor's values, or verify every checksum.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/error.h"
#include "checkpoint/meta_graph.h"
#include "checkpoint/names.h"
#include "checkpoint/printable.h"
#include "checkpoint/summary.h"
#include "host/jobs/inspect_job.h"
#include "host/restore/checkpoint_layers.h"
#include "tools/graft/commands.h"
#include "tools/graft/tensor_values.h"

namespace graft::cli {
namespace {

using json = nlohmann::ordered_json;

struct InspectOptions {
  std::string path;
  bool json = false;
  bool verify = false;
  std::string tensor;
};

// Names from the file are escaped for the terminal (checkpoint/printable.h):
// a control character or ANSI escape in a name cannot fake output lines.
std::string pad(const std::string& raw, std::size_t width) {
  const std::string s = printable(raw);
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}
std::string pad_left(const std::string& s, std::size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

std::string joined(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + printable(s);
  return out;
}

void print_variables(const BundleReader& r) {
  const bool sharded = r.num_shards() > 1;
  std::size_t wn = 4, wd = 5, ws = 5, wb = 5;
  for (const auto& e : r.entries()) {
    wn = std::max(wn, printable(e.info.name).size());
    wd = std::max(wd, dtype_name(e.info.dtype).size());
    ws = std::max(ws, shape_string(e.info.shape).size());
    wb = std::max(wb, std::to_string(e.size).size());
  }
  std::printf("%s  %s  %s  %s%s\n", pad("name", wn).c_str(), pad("dtype", wd).c_str(), pad("shape", ws).c_str(),
              pad_left("bytes", wb).c_str(), sharded ? "  shard" : "");
  int64_t total = 0;
  for (const auto& e : r.entries()) {
    std::printf("%s  %s  %s  %s", pad(e.info.name, wn).c_str(), pad(dtype_name(e.info.dtype), wd).c_str(),
                pad(shape_string(e.info.shape), ws).c_str(), pad_left(std::to_string(e.size), wb).c_str());
    if (sharded) std::printf("  %d", e.shard);
    if (e.sliced) std::printf("  (partitioned)");
    std::printf("\n");
    if (!e.sliced) total += e.size;  // a partitioned variable's size field is not checked (nor used)
  }
  std::printf("\n%zu variables, %lld bytes in %d data file%s\n", r.entries().size(),
              static_cast<long long>(total), r.num_shards(), r.num_shards() == 1 ? "" : "s");
}

// The batch normalizations a checkpoint's variables hold, attached to their
// dense layers (host/restore/checkpoint_layers.h); empty with a note when the
// names do not say where they belong.
std::vector<CheckpointBatchNorm> attached_batch_norms(const BundleReader& r, std::string& note) {
  try {
    return find_batch_norms(r, {}, find_dense_layers(r, {}));
  } catch (const Error& e) {
    note = e.what();
    return {};
  }
}

void print_summary(const BundleReader& r, const CheckpointSummary& s) {
  std::string bn_note;
  const std::vector<CheckpointBatchNorm> norms = attached_batch_norms(r, bn_note);
  std::set<std::string> attached_keys;
  for (const CheckpointBatchNorm& b : norms) {
    for (const auto& [leaf, key] : b.leaf_keys) attached_keys.insert(key);
  }
  std::printf("format: %s\n", s.format.c_str());
  std::printf("parameters: %lld (model), %lld (optimizer state)\n", static_cast<long long>(s.model_parameters),
              static_cast<long long>(s.optimizer_elements));
  if (s.dense_layers.empty()) {
    std::printf("dense layers: none recognised\n");
  } else {
    std::printf("dense layers: %zu%s\n", s.dense_layers.size(),
                s.architecture.empty() ? " (they do not chain)" : (", " + s.architecture).c_str());
    std::size_t w = 0;
    for (const auto& d : s.dense_layers) w = std::max(w, d.name.size());
    for (const auto& d : s.dense_layers) {
      std::printf("  %s  %lld -> %lld%s\n", pad(d.name, w).c_str(), static_cast<long long>(d.inputs),
                  static_cast<long long>(d.outputs), d.keras_name.empty() ? "" : ("  (" + printable(d.keras_name) + ")").c_str());
      for (const CheckpointBatchNorm& b : norms) {
        if (b.after != d.name) continue;
        std::string leaves;
        for (const auto& [leaf, key] : b.leaf_keys) leaves += (leaves.empty() ? "" : ", ") + leaf;
        std::printf("  %s    + batch normalization %s (%s)\n", pad("", w).c_str(), printable(b.scope).c_str(), leaves.c_str());
      }
    }
  }
  if (!s.optimizer_slots.empty()) std::printf("optimizer slots: %s\n", joined(s.optimizer_slots).c_str());
  if (!s.optimizer_scalars.empty()) {
    std::vector<std::string> shown;  // TF2 keys without "/.ATTRIBUTES/VARIABLE_VALUE"
    for (const auto& key : s.optimizer_scalars) shown.push_back(classify_name(key).variable);
    std::printf("optimizer scalars: %s\n", joined(shown).c_str());
  }
  if (!s.step_counters.empty()) std::printf("step counters: %s\n", joined(s.step_counters).c_str());
  std::vector<OtherVariable> other;
  for (const auto& o : s.other) {
    if (!attached_keys.count(o.name)) other.push_back(o);
  }
  if (!other.empty()) {
    std::printf("other variables: %zu\n", other.size());
    std::size_t w = 0;
    for (const auto& o : other) w = std::max(w, o.name.size());
    for (const auto& o : other) std::printf("  %s  %s\n", pad(o.name, w).c_str(), o.kind.c_str());
  }
  if (!bn_note.empty() && bn_note.find("batch normalization") != std::string::npos) {
    std::printf("batch norm: not attached to a layer: %s\n", bn_note.c_str());
  }
}

json summary_json(const CheckpointSummary& s) {
  json layers = json::array();
  for (const auto& d : s.dense_layers) {
    layers.push_back({{"name", d.name}, {"keras_name", d.keras_name}, {"kernel", d.kernel}, {"bias", d.bias},
                      {"inputs", d.inputs}, {"outputs", d.outputs}});
  }
  json other = json::array();
  for (const auto& o : s.other) other.push_back({{"name", o.name}, {"kind", o.kind}});
  return {{"format", s.format},
          {"total_parameters", s.model_parameters},
          {"optimizer_elements", s.optimizer_elements},
          {"architecture", s.architecture},
          {"dense_layers", layers},
          {"optimizer_slots", s.optimizer_slots},
          {"optimizer_scalars", s.optimizer_scalars},
          {"step_counters", s.step_counters},
          {"other", other}};
}

json variables_json(const BundleReader& r) {
  json vars = json::array();
  for (const auto& e : r.entries()) {
    vars.push_back({{"name", e.info.name},
                    {"dtype", dtype_name(e.info.dtype)},
                    {"shape", e.info.shape},
                    {"bytes", e.size},
                    {"shard", e.shard}});
  }
  return vars;
}

const BundleEntry& find_tensor(const BundleReader& r, const std::string& name) {
  if (const BundleEntry* e = r.find(name)) return *e;
  std::vector<std::string> close;
  for (const auto& e : r.entries()) {
    if (e.info.name.find(name) != std::string::npos && close.size() < 3) close.push_back(e.info.name);
  }
  throw Error("no tensor '" + name + "' in " + r.prefix() +
              (close.empty() ? "" : " (did you mean " + joined(close, " or ") + "?)"));
}

void print_tensor(const BundleReader& r, const BundleEntry& e) {
  const TensorValues v = describe_values(r, e);
  std::printf("%s: %s %s, %lld element%s, %lld bytes\n", printable(e.info.name).c_str(), dtype_name(e.info.dtype).c_str(),
              shape_string(e.info.shape).c_str(), static_cast<long long>(v.elements), v.elements == 1 ? "" : "s",
              static_cast<long long>(e.size));
  if (!v.note.empty()) {
    std::printf("%s\n", v.note.c_str());
    return;
  }
  std::string line = "values:";
  for (const auto& x : v.head) line += " " + x.text;
  if (!v.tail.empty()) {
    line += " ...";
    for (const auto& x : v.tail) line += " " + x.text;
  }
  std::printf("%s\n", line.c_str());
  if (v.min) std::printf("min %.7g  max %.7g  mean %.7g\n", *v.min, *v.max, *v.mean);
  if (v.nan_count) std::printf("nan: %lld\n", static_cast<long long>(v.nan_count));
}

json tensor_json(const BundleReader& r, const BundleEntry& e) {
  const TensorValues v = describe_values(r, e);
  json j{{"name", e.info.name},
         {"dtype", dtype_name(e.info.dtype)},
         {"shape", e.info.shape},
         {"bytes", e.size},
         {"elements", v.elements}};
  auto values = [](const std::vector<ShownValue>& xs) {
    json a = json::array();
    for (const auto& x : xs) a.push_back(x.json);
    return a;
  };
  if (!v.note.empty()) j["note"] = v.note;
  if (v.tail.empty()) {
    j["values"] = values(v.head);
  } else {
    j["first"] = values(v.head);
    j["last"] = values(v.tail);
  }
  if (v.min) {
    j["min"] = *v.min;
    j["max"] = *v.max;
    j["mean"] = *v.mean;
  }
  if (v.nan_count) j["nan_count"] = v.nan_count;
  return j;
}

// Checks every tensor (host/jobs/inspect_job.h); reports each bad one on
// stderr. Returns the failures.
std::vector<std::pair<std::string, std::string>> verify_all(const BundleReader& r) {
  std::vector<std::pair<std::string, std::string>> bad;
  for (const CorruptTensor& t : verify_checkpoint(r)) {
    std::fprintf(stderr, "graft inspect: error: %s\n", printable(t.error).c_str());
    bad.emplace_back(t.name, t.error);
  }
  return bad;
}

// A copy whose data file is missing still has its index: list what it
// names (names, dtypes, shapes, sizes), say which data is missing, and fail.
int run_inspect_index_only(const BundleReader& r) {
  print_variables(r);
  try {
    print_summary(r, summarize(r));
  } catch (const Error& e) {
    std::printf("summary: not available (%s)\n", printable(e.what()).c_str());
  }
  int64_t unreadable = 0;
  for (const auto& e : r.entries()) {
    const std::string shard = r.shard_path(e.shard);
    for (const auto& m : r.missing_shards()) unreadable += (!e.sliced && m == shard) ? 1 : 0;
  }
  std::string files;
  for (const auto& m : r.missing_shards()) files += (files.empty() ? "" : ", ") + m;
  throw Error("missing data shard " + files + ": listed from the index only; the values of " +
              std::to_string(unreadable) + " of " + std::to_string(r.entries().size()) + " tensors cannot be read");
}

int run_inspect(const InspectOptions& o) {
  const bool listing = !o.json && o.tensor.empty() && !o.verify;
  const BundleReader r = listing ? BundleReader::open_index_only(o.path) : BundleReader::open(o.path);
  if (!r.resolution_note().empty() && !o.json) std::fprintf(stderr, "graft inspect: %s\n", r.resolution_note().c_str());
  if (!r.missing_shards().empty()) return run_inspect_index_only(r);

  if (o.json) {
    json out{{"prefix", r.prefix()}, {"resolution_note", r.resolution_note()}, {"num_shards", r.num_shards()}};
    if (!o.tensor.empty()) {
      out["tensor"] = tensor_json(r, find_tensor(r, o.tensor));
    } else {
      out["variables"] = variables_json(r);
      out["summary"] = summary_json(summarize(r));
      const CheckpointModelReport m = describe_checkpoint_model(r);
      out["model"] = m.model ? json::parse(model_to_json(*m.model)) : json(nullptr);
      if (!m.note.empty()) out["model_note"] = m.note;
    }
    int rc = 0;
    if (o.verify) {
      const auto bad = verify_all(r);
      json list = json::array();
      for (const auto& [name, error] : bad) list.push_back({{"name", name}, {"error", error}});
      out["verify"] = {{"ok", bad.empty()}, {"tensors", r.entries().size()}, {"bad", list}};
      rc = bad.empty() ? 0 : 1;
    }
    std::printf("%s\n", out.dump(2, ' ', false, json::error_handler_t::replace).c_str());
    return rc;
  }

  if (!o.tensor.empty()) {
    print_tensor(r, find_tensor(r, o.tensor));
  } else {
    print_variables(r);
    print_summary(r, summarize(r));
    const CheckpointModelReport m = describe_checkpoint_model(r);
    std::printf("\n%s%s", m.note.empty() ? "" : (m.note + "\n").c_str(), m.model ? m.model->summary().c_str() : "");
  }
  if (!o.verify) return 0;
  const auto bad = verify_all(r);
  if (!bad.empty()) {
    std::printf("verify: %zu of %zu tensors are corrupt\n", bad.size(), r.entries().size());
    return 1;
  }
  std::printf("verify: all %zu tensors match their checksums\n", r.entries().size());
  return 0;
}

}  // namespace

void register_inspect(CLI::App& app) {
  auto opts = std::make_shared<InspectOptions>();
  CLI::App* sub = app.add_subcommand(
      "inspect",
      "List a TensorFlow checkpoint's variables and summarise them (dense layers, optimizer state)");
  sub->add_option("checkpoint", opts->path,
                  "Checkpoint prefix (dir/model.ckpt), one of its files (.index, .data-*, .meta), "
                  "a directory with a `checkpoint` state file, or a TF2 SavedModel directory (saved_model.pb)")
      ->required();
  sub->add_flag("--json", opts->json,
                "Print one JSON object: prefix, resolution_note, num_shards, variables "
                "[{name, dtype, shape, bytes, shard}] and summary (or tensor with --tensor)");
  sub->add_option("--tensor", opts->tensor,
                  "Show this tensor's dtype, shape and values (first and last few when large) "
                  "with min/max/mean, instead of the list");
  sub->add_flag("--verify", opts->verify,
                "Read every tensor and check its CRC32C; exit 1 naming each corrupt tensor");
  sub->footer(
      "Prints one line per variable (name, dtype, shape, bytes), then a summary: parameter count,\n"
      "dense layers (kernel [in, out] + bias [out]) in order with the output layer last, optimizer\n"
      "slots and scalars, and other variables (batch norm, conv kernels, unpaired names).\n"
      "Examples:\n"
      "  graft inspect runs/mnist/model.ckpt\n"
      "  graft inspect runs/mnist                 (uses runs/mnist/checkpoint)\n"
      "  graft inspect model.ckpt --tensor hidden1/bias\n"
      "  graft inspect model.ckpt --verify --json\n"
      "Exit status: 0 on success, 1 on any error (one line on stderr).");
  sub->callback([opts] { run_guarded("inspect", [opts] { return run_inspect(*opts); }); });
}

}  // namespace graft::cli
