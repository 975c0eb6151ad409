#pragma once
// The demo's two pictures (plot.h), each as PNG and SVG in the output folder:
//   learning_curve.{png,svg}   test accuracy against labelled images per
//                              class, one line per variant, range over seeds
//   training_curves.{png,svg}  validation accuracy per epoch of the three
//                              variants at one label count (first seed)
#include <string>
#include <vector>

#include "tools/graft/demo/plot.h"
#include "tools/graft/demo/transfer_demo.h"

namespace graft {

Chart learning_curve_chart(const DemoResult& result);
Chart training_curves_chart(const DemoResult& result);

// Writes the four files; returns report lines "PATH  what it shows".
std::vector<std::string> write_demo_pictures(const DemoResult& result);

}  // namespace graft
