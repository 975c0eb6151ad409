#include "tools/graft/demo/demo_pictures.h"

#include <filesystem>

namespace fs = std::filesystem;

namespace graft {
namespace {

// One colour per variant, in variant_keys order (Okabe-Ito: blue, vermilion,
// bluish green; colour-blind safe). tests/host/check_picture.py looks for them.
void colour(Series& s, std::size_t i) {
  static const double rgb[][3] = {{0.0, 0.45, 0.70}, {0.84, 0.37, 0.0}, {0.0, 0.62, 0.45}};
  s.r = rgb[i % 3][0];
  s.g = rgb[i % 3][1];
  s.b = rgb[i % 3][2];
}

std::string label(const DemoResult& r, std::size_t i) {
  return i < r.variant_labels.size() ? r.variant_labels[i] : r.variant_keys[i];
}

}  // namespace

Chart learning_curve_chart(const DemoResult& r) {
  Chart c;
  c.title = "Test accuracy against labelled images per class" +
            std::string(r.seeds > 1 ? " (mean, range over " + std::to_string(r.seeds) + " seeds)" : "");
  c.x_label = "labelled training images per class (log scale)";
  c.y_label = "test accuracy";
  c.log_x = true;
  for (std::size_t v = 0; v < r.variant_keys.size(); ++v) {
    Series s;
    s.name = label(r, v);
    colour(s, v);
    for (int64_t n : r.grid()) {
      const CurvePoint* p = r.point(n, r.variant_keys[v]);
      if (!p || p->test_accuracy.empty()) continue;
      s.x.push_back(static_cast<double>(n));
      s.y.push_back(p->mean());
      s.low.push_back(p->min());
      s.high.push_back(p->max());
    }
    c.series.push_back(std::move(s));
  }
  return c;
}

Chart training_curves_chart(const DemoResult& r) {
  Chart c;
  c.title = "Validation accuracy per epoch, " + std::to_string(r.curves_per_class) +
            " images per class (first seed, chosen rate)";
  c.x_label = "epoch";
  c.integer_x = true;
  c.y_label = "validation accuracy";
  for (const TrainingCurve& curve : r.curves) {
    std::size_t v = 0;
    while (v < r.variant_keys.size() && r.variant_keys[v] != curve.variant) ++v;
    Series s;
    s.name = v < r.variant_keys.size() ? label(r, v) : curve.variant;
    colour(s, v);
    s.markers = curve.validation_accuracy.size() <= 40;
    for (std::size_t e = 0; e < curve.validation_accuracy.size(); ++e) {
      s.x.push_back(static_cast<double>(e + 1));
      s.y.push_back(curve.validation_accuracy[e]);
    }
    c.series.push_back(std::move(s));
  }
  return c;
}

std::vector<std::string> write_demo_pictures(const DemoResult& r) {
  std::vector<std::string> lines;
  const auto both = [&](const Chart& c, const std::string& name, const std::string& what) {
    const std::string base = (fs::path(r.out_dir) / name).string();
    write_chart_png(c, base + ".png");
    write_chart_svg(c, base + ".svg");
    lines.push_back(base + ".png, " + name + ".svg  " + what);
  };
  both(learning_curve_chart(r), "learning_curve", "the learning curves (test accuracy vs images per class)");
  both(training_curves_chart(r), "training_curves",
       "training curves of the three variants at " + std::to_string(r.curves_per_class) + " images per class");
  return lines;
}

}  // namespace graft
