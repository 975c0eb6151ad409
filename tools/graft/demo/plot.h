#pragma once
// Line charts as PNG and SVG, drawn with cairo: one line per series, with
// markers and an optional shaded band (e.g. the range over seeds), axes with
// ticks, a legend. Small on purpose: the demo's two pictures need no more.
#include <string>
#include <vector>

namespace graft {

struct Series {
  std::string name;
  std::vector<double> x, y;
  std::vector<double> low, high;  // the band around y; empty: none
  double r = 0, g = 0, b = 0;     // colour, 0..1
  bool markers = true;
};

struct Chart {
  std::string title, x_label, y_label;
  bool log_x = false;             // x > 0 only; ticks at the series' x values
  bool integer_x = false;         // linear x ticks at whole numbers only (epochs)
  std::vector<Series> series;
  int width = 800, height = 500;  // pixels (PNG) or points (SVG)
};

// Throw graft::Error when the file cannot be written or the chart has no
// finite point.
void write_chart_png(const Chart& chart, const std::string& path);
void write_chart_svg(const Chart& chart, const std::string& path);

}  // namespace graft
