#include "tools/graft/demo/plot.h"

#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "checkpoint/error.h"

namespace graft {
namespace {

struct Frame {
  double left, top, right, bottom;  // the plot area in device units
  double x0, x1, y0, y1;            // data range (x in log10 when log_x)
  bool log_x;
  double px(double x) const {
    const double v = log_x ? std::log10(x) : x;
    return left + (v - x0) / (x1 - x0) * (right - left);
  }
  double py(double y) const { return bottom - (y - y0) / (y1 - y0) * (bottom - top); }
};

// A step of 1, 2 or 5 x 10^k giving about `target` intervals over `span`.
double nice_step(double span, int target) {
  const double raw = span / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * mag >= raw) return m * mag;
  }
  return 10 * mag;
}

std::string tick_text(double v, double step) {
  char buf[32];
  const int digits = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

void text_at(cairo_t* cr, const std::string& s, double x, double y, double align_x, double align_y) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  cairo_move_to(cr, x - e.width * align_x - e.x_bearing, y - e.height * align_y - e.y_bearing);
  cairo_show_text(cr, s.c_str());
}

void draw(cairo_t* cr, const Chart& c) {
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  std::vector<double> xticks;
  for (const Series& s : c.series) {
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i]) || (c.log_x && s.x[i] <= 0)) continue;
      xmin = std::min(xmin, s.x[i]);
      xmax = std::max(xmax, s.x[i]);
      ymin = std::min({ymin, s.y[i], i < s.low.size() ? s.low[i] : s.y[i]});
      ymax = std::max({ymax, s.y[i], i < s.high.size() ? s.high[i] : s.y[i]});
      if (std::find(xticks.begin(), xticks.end(), s.x[i]) == xticks.end()) xticks.push_back(s.x[i]);
    }
  }
  if (!std::isfinite(xmin)) throw Error("chart '" + c.title + "' has no point to draw");
  if (ymax - ymin < 1e-6) ymin -= 0.01, ymax += 0.01;
  const double ystep = nice_step(ymax - ymin, 6);
  ymin = std::floor(ymin / ystep) * ystep;
  ymax = std::ceil(ymax / ystep) * ystep;

  Frame f{70, 40, c.width - 20.0, c.height - 55.0, 0, 1, ymin, ymax, c.log_x};
  if (c.log_x) {
    f.x0 = std::log10(xmin);
    f.x1 = std::log10(xmax);
  } else {
    f.x0 = xmin;
    f.x1 = xmax;
  }
  if (f.x1 - f.x0 < 1e-9) f.x0 -= 0.5, f.x1 += 0.5;
  // A margin so that markers at the ends are whole.
  const double margin = 0.04 * (f.x1 - f.x0);
  f.x0 -= margin;
  f.x1 += margin;

  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);

  // Grid and ticks.
  cairo_set_font_size(cr, 12);
  cairo_set_line_width(cr, 1);
  for (double y = ymin; y <= ymax + ystep / 2; y += ystep) {
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, f.left, f.py(y));
    cairo_line_to(cr, f.right, f.py(y));
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    text_at(cr, tick_text(y, ystep), f.left - 6, f.py(y), 1.0, 0.5);
  }
  double xstep = 1;
  if (!c.log_x) {
    xticks.clear();
    double step = nice_step(xmax - xmin > 0 ? xmax - xmin : 1, 8);
    if (c.integer_x) step = std::max(step, 1.0);
    xstep = step;
    for (double x = std::ceil(xmin / step) * step; x <= xmax + step / 2; x += step) xticks.push_back(x);
  }
  for (double x : xticks) {
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, f.px(x), f.top);
    cairo_line_to(cr, f.px(x), f.bottom);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    text_at(cr, tick_text(x, xstep), f.px(x), f.bottom + 6, 0.5, 0.0);
  }
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_rectangle(cr, f.left, f.top, f.right - f.left, f.bottom - f.top);
  cairo_stroke(cr);

  // Labels.
  cairo_set_font_size(cr, 14);
  text_at(cr, c.title, c.width / 2.0, 12, 0.5, 0.0);
  cairo_set_font_size(cr, 13);
  text_at(cr, c.x_label, (f.left + f.right) / 2, c.height - 8, 0.5, 1.0);
  cairo_save(cr);
  cairo_translate(cr, 16, (f.top + f.bottom) / 2);
  cairo_rotate(cr, -M_PI / 2);
  text_at(cr, c.y_label, 0, 0, 0.5, 0.5);
  cairo_restore(cr);

  // Bands, then lines and markers, clipped to the plot area.
  cairo_save(cr);
  cairo_rectangle(cr, f.left, f.top, f.right - f.left, f.bottom - f.top);
  cairo_clip(cr);
  for (const Series& s : c.series) {
    const std::size_t n = std::min(s.x.size(), s.y.size());
    if (s.low.size() < n || s.high.size() < n || n == 0) continue;
    cairo_set_source_rgba(cr, s.r, s.g, s.b, 0.18);
    cairo_move_to(cr, f.px(s.x[0]), f.py(s.high[0]));
    for (std::size_t i = 1; i < n; ++i) cairo_line_to(cr, f.px(s.x[i]), f.py(s.high[i]));
    for (std::size_t i = n; i-- > 0;) cairo_line_to(cr, f.px(s.x[i]), f.py(s.low[i]));
    cairo_close_path(cr);
    cairo_fill(cr);
    // Whiskers: the range stays visible where bands overlap.
    cairo_set_source_rgb(cr, s.r, s.g, s.b);
    cairo_set_line_width(cr, 1.2);
    for (std::size_t i = 0; i < n; ++i) {
      cairo_move_to(cr, f.px(s.x[i]), f.py(s.low[i]));
      cairo_line_to(cr, f.px(s.x[i]), f.py(s.high[i]));
      cairo_stroke(cr);
    }
  }
  for (const Series& s : c.series) {
    const std::size_t n = std::min(s.x.size(), s.y.size());
    if (n == 0) continue;
    cairo_set_source_rgb(cr, s.r, s.g, s.b);
    cairo_set_line_width(cr, 2.5);
    cairo_move_to(cr, f.px(s.x[0]), f.py(s.y[0]));
    for (std::size_t i = 1; i < n; ++i) cairo_line_to(cr, f.px(s.x[i]), f.py(s.y[i]));
    cairo_stroke(cr);
    if (s.markers) {
      for (std::size_t i = 0; i < n; ++i) {
        cairo_arc(cr, f.px(s.x[i]), f.py(s.y[i]), 4.5, 0, 2 * M_PI);
        cairo_fill(cr);
      }
    }
  }
  cairo_restore(cr);

  // Legend, bottom right inside the plot area (accuracy curves rise).
  cairo_set_font_size(cr, 13);
  double wmax = 0;
  for (const Series& s : c.series) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, s.name.c_str(), &e);
    wmax = std::max(wmax, e.x_advance);
  }
  const double row = 20, lx = f.right - wmax - 52, ly = f.bottom - row * static_cast<double>(c.series.size()) - 10;
  cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
  cairo_rectangle(cr, lx - 8, ly - 4, wmax + 56, row * static_cast<double>(c.series.size()) + 8);
  cairo_fill(cr);
  for (std::size_t i = 0; i < c.series.size(); ++i) {
    const Series& s = c.series[i];
    const double y = ly + row * (static_cast<double>(i) + 0.5);
    cairo_set_source_rgb(cr, s.r, s.g, s.b);
    cairo_set_line_width(cr, 2.5);
    cairo_move_to(cr, lx, y);
    cairo_line_to(cr, lx + 30, y);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    text_at(cr, s.name, lx + 38, y, 0.0, 0.5);
  }
}

void check(cairo_status_t status, const std::string& path) {
  if (status != CAIRO_STATUS_SUCCESS) {
    throw Error("could not write " + path + ": " + cairo_status_to_string(status));
  }
}

}  // namespace

namespace {

// Draws the chart on `surface`; returns the drawing's status. On an
// exception the surface is destroyed before it propagates.
cairo_status_t draw_on(cairo_surface_t* surface, const Chart& chart) {
  cairo_t* cr = cairo_create(surface);
  try {
    draw(cr, chart);
  } catch (...) {
    cairo_destroy(cr);
    cairo_surface_destroy(surface);
    throw;
  }
  const cairo_status_t drawn = cairo_status(cr);
  cairo_destroy(cr);
  return drawn;
}

}  // namespace

void write_chart_png(const Chart& chart, const std::string& path) {
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, chart.width, chart.height);
  const cairo_status_t drawn = draw_on(surface, chart);
  const cairo_status_t written =
      drawn == CAIRO_STATUS_SUCCESS ? cairo_surface_write_to_png(surface, path.c_str()) : drawn;
  cairo_surface_destroy(surface);
  check(written, path);
}

void write_chart_svg(const Chart& chart, const std::string& path) {
  cairo_surface_t* surface = cairo_svg_surface_create(path.c_str(), chart.width, chart.height);
  check(cairo_surface_status(surface), path);
  const cairo_status_t drawn = draw_on(surface, chart);
  cairo_surface_finish(surface);  // the file is complete only now
  const cairo_status_t written = drawn == CAIRO_STATUS_SUCCESS ? cairo_surface_status(surface) : drawn;
  cairo_surface_destroy(surface);
  check(written, path);
}

}  // namespace graft
