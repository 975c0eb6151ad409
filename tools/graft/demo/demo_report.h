#pragma once
// What `graft demo` prints at the end and writes to report.txt: the
// learning-curve table, the timings, and the sentences that say what the
// table means. The sentences are generated from the table by
// compare_to_scratch, so that they cannot say more than the numbers do.
#include <cstdint>
#include <string>
#include <vector>

#include "tools/graft/demo/transfer_demo.h"

namespace graft {

// "0.8125" with `digits` decimals; a learning rate as printf's %g ("0.001").
std::string fixed(double v, int digits);
std::string rate_text(float lr);

// How the better reuse variant at one N compares with scratch.
enum class Verdict {
  kReuseBeats,    // reuse's worst seed beats scratch's best (needs 2+ seeds)
  kScratchBeats,  // scratch's worst seed beats reuse's best (needs 2+ seeds)
  kWithinNoise,   // the ranges overlap (or one seed: no range to judge)
};

struct Comparison {
  int64_t per_class = 0;
  std::string reuse_variant;  // "frozen" or "finetune": the higher mean at this N
  double points = 0;          // 100 x (reuse mean - scratch mean)
  Verdict verdict = Verdict::kWithinNoise;
};

// One comparison per N of the grid (ascending). A variant missing at an N
// leaves that N out.
std::vector<Comparison> compare_to_scratch(const DemoResult& result);

// The closing sentences, e.g. "With 10 images per class, reuse ((b)
// fine-tuned) beats scratch by 12.3 points on every seed. From 1000 images
// per class on, scratch catches up: the ranges overlap."
std::string summary_sentences(const DemoResult& result);

// The restore table with the source's optimizer slots (unused by a transfer
// run, one line each) folded into one line that counts them.
std::string restore_table_text(const RestorePlan& plan);

// report.txt: the header (device, source and new network, restore table,
// cache decision; printed before the runs) and the results (the tables,
// the sentences, the files written; printed at the end).
std::string format_demo_report(const DemoResult& result);
std::string format_demo_header(const DemoResult& result);
std::string format_demo_results(const DemoResult& result);

}  // namespace graft
