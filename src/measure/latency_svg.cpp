// The percentile plot of `aether bench latency`, hand-written SVG: the x
// axis counts "nines" (p90 = 1, p99 = 2, ...) so the tail gets the room, the
// y axis is logarithmic so a ring floor and a blocking socket fit together.
#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "aether/measure/latency_bench.hpp"
#include "aether/stats/duration_format.hpp"

namespace aether::measure {
namespace {

struct Series {
  std::string name;
  const LatencyHistogram* histogram;
};

constexpr double width = 920, height = 540;
constexpr double left = 90, right = 170, top = 50, bottom = 70;
constexpr const char* colors[] = {"#444444", "#d62728", "#ff7f0e", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b"};

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

}  // namespace

std::string nines_label(int nines) {
  if (nines <= 0) return "p0";
  if (nines == 1) return "p90";
  if (nines == 2) return "p99";
  return "p99." + std::string(static_cast<std::size_t>(nines - 2), '9');
}

std::string latency_report_to_svg(const LatencyBenchReport& report) {
  std::vector<Series> series;
  if (report.floor && report.floor->round_trip_ns.count() > 0) series.push_back({"ring floor", &report.floor->round_trip_ns});
  for (const auto& backend : report.backends) {
    if (backend.error.empty() && backend.generator.round_trip_ns.count() > 0) {
      const std::string label = latency_row_label(backend, report.config);
      series.push_back({backend.overloaded() ? label + " (overloaded)" : label, &backend.generator.round_trip_ns});
    }
  }
  std::uint64_t max_count = 1;
  double low = 1e18, high = 1;
  for (const auto& s : series) {
    max_count = std::max(max_count, s.histogram->count());
    low = std::min(low, static_cast<double>(std::max<std::uint64_t>(1, s.histogram->min())));
    high = std::max(high, static_cast<double>(s.histogram->max()));
  }
  if (series.empty()) low = 1;
  // As many nines as the largest sample count supports, at most 5 (p99.999).
  const double max_nines = std::clamp(std::floor(std::log10(static_cast<double>(max_count))), 2.0, 5.0);
  const double y_low = std::floor(std::log10(low));
  const double y_high = std::max(y_low + 1, std::ceil(std::log10(high)));
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  auto x_of = [&](double nines) { return left + plot_w * nines / max_nines; };
  auto y_of = [&](double ns) { return top + plot_h * (1 - (std::log10(std::max(ns, 1.0)) - y_low) / (y_high - y_low)); };

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"13\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      width, height);
  svg += fmt::format("<text x=\"{}\" y=\"24\" font-size=\"16\" font-weight=\"bold\">Round trip by percentile, {}-byte UDP probes{}</text>\n",
                     left, report.config.frame_size,
                     report.config.rate_per_second > 0 ? fmt::format(" at {:.0f}/s", report.config.rate_per_second)
                                                       : std::string(", closed loop"));
  for (int nines = 0; nines <= static_cast<int>(max_nines); ++nines) {
    const double x = x_of(nines);
    svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#ddd\"/>\n", x, top, top + plot_h);
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", x, top + plot_h + 20,
                       nines_label(nines));
  }
  for (double decade = y_low; decade <= y_high; decade += 1) {
    const double ns = std::pow(10.0, decade);
    const double y = y_of(ns);
    svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#ddd\"/>\n", left, y, left + plot_w);
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", left - 8, y + 4,
                       format_duration_ns(static_cast<std::uint64_t>(ns)));
  }
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#888\"/>\n", left, top, plot_w, plot_h);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">percentile</text>\n", left + plot_w / 2, height - 20);
  svg += fmt::format("<text x=\"20\" y=\"{0}\" transform=\"rotate(-90 20 {0})\" text-anchor=\"middle\">round trip</text>\n",
                     top + plot_h / 2);

  for (std::size_t i = 0; i < series.size(); ++i) {
    const auto& s = series[i];
    const char* color = colors[i % std::size(colors)];
    std::string points;
    constexpr int steps = 240;
    for (int step = 0; step <= steps; ++step) {
      const double nines = max_nines * step / steps;
      const double p = 100.0 * (1.0 - std::pow(10.0, -nines));
      const double value = static_cast<double>(step == steps ? s.histogram->max() : s.histogram->percentile(p));
      points += fmt::format("{:.1f},{:.1f} ", x_of(nines), y_of(value));
    }
    svg += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>\n", color, points);
    const double legend_y = top + 10 + 22 * static_cast<double>(i);
    svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"{3}\" stroke-width=\"3\"/>\n",
                       left + plot_w + 14, legend_y, left + plot_w + 38, color);
    svg += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", left + plot_w + 44, legend_y + 4, escape(s.name));
  }
  svg += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#666\">clock {}; the last point of each line is its max</text>\n",
                     left, height - 4, escape(report.clock));
  svg += "</svg>\n";
  return svg;
}

}  // namespace aether::measure
