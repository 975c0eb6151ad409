#include "tools/graft/demo/demo_report.h"

#include <algorithm>
#include <cstdio>

namespace graft {

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string rate_text(float lr) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(lr));
  return buf;
}

namespace {

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s += std::string(width - s.size(), ' ');
  return s;
}

std::string lpad(const std::string& s, std::size_t width) {
  return s.size() < width ? std::string(width - s.size(), ' ') + s : s;
}

// Columns padded to their widest cell; column 0 left-aligned, the rest right.
std::string format_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      line += (c ? "  " : "") + (c == 0 ? pad(row[c], width[c]) : lpad(row[c], width[c]));
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string label_of(const DemoResult& r, const std::string& key) {
  for (std::size_t i = 0; i < r.variant_keys.size() && i < r.variant_labels.size(); ++i) {
    if (r.variant_keys[i] == key) return r.variant_labels[i];
  }
  return key;
}

// "(b)" of "(b) hidden1-3 restored, fine-tuned".
std::string short_label(const DemoResult& r, const std::string& key) {
  const std::string label = label_of(r, key);
  const auto space = label.find(' ');
  return space == std::string::npos ? label : label.substr(0, space);
}

std::string per_class(int64_t n) { return std::to_string(n) + (n == 1 ? " image" : " images") + " per class"; }

}  // namespace

std::string restore_table_text(const RestorePlan& plan) {
  const std::string table = plan.table();
  std::string out;
  int slots = 0;
  std::size_t start = 0;
  while (start < table.size()) {
    std::size_t end = table.find('\n', start);
    if (end == std::string::npos) end = table.size();
    const std::string line = table.substr(start, end - start);
    if (line.find(": optimizer slot (") != std::string::npos) {
      ++slots;
    } else {
      if (slots > 0 && line.rfind("  ", 0) != 0) {
        out += "  (and " + std::to_string(slots) +
               " optimizer slots of the source's Adam: a transfer run starts a fresh optimizer)\n";
        slots = 0;
      }
      out += line + "\n";
    }
    start = end + 1;
  }
  if (slots > 0) out += "  (and " + std::to_string(slots) + " optimizer slots)\n";
  return out;
}

std::vector<Comparison> compare_to_scratch(const DemoResult& r) {
  std::vector<Comparison> out;
  for (int64_t n : r.grid()) {
    const CurvePoint* scratch = r.point(n, "scratch");
    const CurvePoint* frozen = r.point(n, "frozen");
    const CurvePoint* finetune = r.point(n, "finetune");
    if (!scratch || (!frozen && !finetune) || scratch->test_accuracy.empty()) continue;
    const CurvePoint* reuse = !frozen     ? finetune
                              : !finetune ? frozen
                              : frozen->mean() >= finetune->mean() ? frozen
                                                                   : finetune;
    if (reuse->test_accuracy.empty()) continue;
    Comparison c;
    c.per_class = n;
    c.reuse_variant = reuse->variant;
    c.points = 100.0 * (reuse->mean() - scratch->mean());
    // A claim needs a range on both sides that does not overlap the other.
    const bool ranges = reuse->test_accuracy.size() > 1 && scratch->test_accuracy.size() > 1;
    if (ranges && reuse->min() > scratch->max()) {
      c.verdict = Verdict::kReuseBeats;
    } else if (ranges && scratch->min() > reuse->max()) {
      c.verdict = Verdict::kScratchBeats;
    }
    out.push_back(c);
  }
  return out;
}

std::string summary_sentences(const DemoResult& r) {
  const std::vector<Comparison> cs = compare_to_scratch(r);
  if (cs.empty()) return "";
  const auto reuse_name = [&](const Comparison& c) {
    return "reuse (" + short_label(r, c.reuse_variant) + ", the better of (a) and (b))";
  };
  std::string out;
  const Comparison& first = cs.front();
  out += "With " + per_class(first.per_class) + ", ";
  switch (first.verdict) {
    case Verdict::kReuseBeats:
      out += reuse_name(first) + " beats scratch by " + fixed(first.points, 1) + " points, on every seed.";
      break;
    case Verdict::kScratchBeats:
      out += "scratch beats " + reuse_name(first) + " by " + fixed(-first.points, 1) + " points, on every seed.";
      break;
    case Verdict::kWithinNoise:
      if (r.seeds > 1) {
        out += reuse_name(first) + " and scratch are within noise of each other (" + fixed(first.points, 1) +
               " points on average; the ranges overlap).";
      } else {
        out += reuse_name(first) + " is " + fixed(first.points, 1) +
               " points from scratch on one seed (no range to judge: run more seeds).";
      }
      break;
  }
  // The catch-up point: the smallest N from which reuse no longer beats
  // scratch at this N or any larger one.
  std::size_t catch_up = cs.size();
  while (catch_up > 0 && cs[catch_up - 1].verdict != Verdict::kReuseBeats) --catch_up;
  const Comparison& last = cs.back();
  if (cs.size() == 1) {
    // One label count: nothing to say about where scratch catches up.
  } else if (first.verdict == Verdict::kReuseBeats) {
    if (catch_up == cs.size()) {
      out += " Reuse still beats scratch at " + per_class(last.per_class) + ", by " + fixed(last.points, 1) +
             " points.";
    } else {
      out += " From " + per_class(cs[catch_up].per_class) + " on, scratch catches up";
      out += last.verdict == Verdict::kScratchBeats
                 ? " and at " + per_class(last.per_class) + " beats reuse by " + fixed(-last.points, 1) + " points."
                 : ": the ranges overlap.";
    }
  } else if (catch_up > 0) {
    std::string where;
    for (const Comparison& c : cs) {
      if (c.verdict == Verdict::kReuseBeats) {
        where += (where.empty() ? "" : ", ") + per_class(c.per_class) + " (" + short_label(r, c.reuse_variant) +
                 ", by " + fixed(c.points, 1) + " points)";
      }
    }
    out += " Reuse beats scratch on every seed only at " + where + ".";
  } else {
    out += " Reuse does not beat scratch on every seed at any label count tried.";
  }
  return out;
}

std::string format_demo_report(const DemoResult& r) { return format_demo_header(r) + format_demo_results(r); }

std::string format_demo_header(const DemoResult& r) {
  std::string out;
  out += "graft transfer-learning demo on " + r.device_note + "\n";
  if (r.quick) out += "--quick: tiny budgets for a smoke test; these numbers say nothing about transfer learning\n";
  out += "\n";
  out += "source network " + r.source_model + " on " + r.source_description + " (" + r.source_data +
         "): test accuracy " + fixed(r.source_test_accuracy, 4) + " on the source labels after " +
         std::to_string(r.source_epochs) + " epochs (" + fixed(r.source_seconds, 1) + " s)\n";
  out += "new network " + r.target_model + " on " + r.target_data + "\n\n";
  out += "restore table of (a) and (b):\n" + restore_table_text(r.restore_plan);
  if (!r.cache_note.empty()) out += "cache of (a): " + r.cache_note + "\n";
  out += "\n";
  return out;
}

std::string format_demo_results(const DemoResult& r) {
  std::string out;

  // The learning curve.
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head = {"images/class"};
  for (const std::string& key : r.variant_keys) head.push_back(label_of(r, key));
  rows.push_back(head);
  for (int64_t n : r.grid()) {
    std::vector<std::string> row = {std::to_string(n)};
    for (const std::string& key : r.variant_keys) {
      const CurvePoint* p = r.point(n, key);
      std::string cell = !p ? "-" : fixed(p->mean(), 4);
      if (p && r.seeds > 1) cell += " (" + fixed(p->min(), 4) + "-" + fixed(p->max(), 4) + ")";
      row.push_back(cell);
    }
    rows.push_back(row);
  }
  out += "test accuracy" +
         std::string(r.seeds > 1 ? " (mean and range over " + std::to_string(r.seeds) + " seeds)" : "") +
         ", at each run's best validation epoch, on the test images of the new task:\n";
  out += format_table(rows) + "\n";

  // How it was measured: rates, epochs, time.
  rows.clear();
  rows = {{"images/class", "variant", "lr", "valid acc by lr", "epochs (best) per seed", "s/run", "ms/epoch"}};
  int ran_out = 0;
  for (int64_t n : r.grid()) {
    for (const std::string& key : r.variant_keys) {
      const CurvePoint* p = r.point(n, key);
      if (!p) continue;
      std::string val, epochs;
      for (std::size_t i = 0; i < p->validation_by_rate.size(); ++i) {
        val += (i ? " " : "") + fixed(p->validation_by_rate[i], 3);
      }
      for (std::size_t i = 0; i < p->epochs.size(); ++i) {
        epochs += (i ? " " : "") + std::to_string(p->epochs[i]) + " (" + std::to_string(p->best_epoch[i]) + ")";
      }
      rows.push_back({std::to_string(n), short_label(r, key), rate_text(p->learning_rate), val, epochs,
                      fixed(p->run_seconds, 2), fixed(1000 * p->epoch_seconds, 1)});
      ran_out += p->budget_ran_out;
    }
  }
  std::string rates;
  if (!r.points.empty()) {
    for (float lr : r.points.front().rates_tried) rates += (rates.empty() ? "" : ", ") + rate_text(lr);
  }
  out += "each variant's Adam learning rate, chosen from " + rates +
         " by the mean validation accuracy; early stopping after " + std::to_string(r.patience) +
         " epochs (and at least " + std::to_string(r.patience_steps) +
         " steps) without a lower validation loss, budget " + std::to_string(r.max_epochs) + " epochs:\n";
  out += format_table(rows);
  out += "(s/run: restore, upload, cache and all epochs; ms/epoch: one epoch's training and validation pass)\n";
  if (ran_out == 0) {
    out += "no run's budget ran out: every run stopped early\n";
  } else {
    for (const CurvePoint& p : r.points) {
      if (p.budget_ran_out > 0) {
        out += "at " + per_class(p.per_class) + ", " + label_of(r, p.variant) + " ran out of its budget of " +
               std::to_string(r.max_epochs) + " epochs before early stopping ended it (" +
               std::to_string(p.budget_ran_out) + " of " + std::to_string(p.epochs.size()) +
               (p.epochs.size() == 1 ? " seed)\n" : " seeds)\n");
      }
    }
  }
  if (r.cached_epoch_seconds > 0 && r.uncached_epoch_seconds > 0) {
    out += "the frozen-layer cache: an epoch of (a) at " + per_class(r.grid().back()) + " takes " +
           fixed(1000 * r.cached_epoch_seconds, 1) + " ms with it and " + fixed(1000 * r.uncached_epoch_seconds, 1) +
           " ms without (" + fixed(r.uncached_epoch_seconds / r.cached_epoch_seconds, 1) + "x, " +
           std::to_string(r.cache_epochs) + (r.cache_epochs == 1 ? " epoch each" : " epochs each") +
           "; computing the cache took " +
           fixed(1000 * r.cache_seconds, 1) + " ms)\n";
  }
  out += "\n" + summary_sentences(r) + "\n";

  out += "\nwritten to " + r.out_dir + ":\n";
  out += "  " + r.source_checkpoint + "  the source network (TF checkpoint)\n";
  for (std::size_t i = 0; i < r.checkpoints.size() && i < r.variant_keys.size(); ++i) {
    out += "  " + r.checkpoints[i] + "  " + label_of(r, r.variant_keys[i]) + ", largest N, first seed\n";
  }
  for (const std::string& p : r.pictures) out += "  " + p + "\n";
  out += "  " + r.logdir + "  TensorBoard runs (tensorboard --logdir " + r.logdir + ")\n";
  out += "  " + r.report_path + "  this report\n";
  out += "1 source run, " + std::to_string(r.runs) + " runs of the learning curve" +
         (r.cache_epochs > 0 ? ", 2 of the cache timing" : "") + "; total time " + fixed(r.total_seconds, 1) + " s\n";
  return out;
}

}  // namespace graft
