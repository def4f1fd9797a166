#include "aether/telemetry/metric_writer.hpp"

#include <cassert>
#include <cmath>
#include <iterator>

#include <fmt/format.h>

namespace aether::telemetry {
namespace {

[[maybe_unused]] bool valid_name(std::string_view name, bool allow_colon) noexcept {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

// Label values: backslash, double quote and newline are escaped
// (OpenMetrics 1.0, "Escaping"; the same in Prometheus 0.0.4).
void append_escaped(std::string& out, std::string_view text, bool escape_quote) {
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void append_double(std::string& out, double value) {
  // Both formats spell the special values this way (Go's ParseFloat reads them).
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    fmt::format_to(std::back_inserter(out), "{}", value);
  }
}

const char* type_name(MetricType type, ExpositionFormat format) noexcept {
  switch (type) {
    case MetricType::counter: return "counter";
    case MetricType::gauge: return "gauge";
    case MetricType::summary: return "summary";
    case MetricType::unknown: break;
  }
  return format == ExpositionFormat::openmetrics ? "unknown" : "untyped";
}

}  // namespace

const char* content_type(ExpositionFormat format) noexcept {
  return format == ExpositionFormat::openmetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                                 : "text/plain; version=0.0.4; charset=utf-8";
}

MetricWriter::FamilyId MetricWriter::family(std::string_view name, MetricType type, std::string_view unit,
                                            std::string_view help) {
  for (std::size_t i = 0; i < used_; ++i) {
    if (families_[i].name == name) {
      assert(families_[i].type == type && "a metric family declared twice with different types");
      return i;
    }
  }
  assert(valid_name(name, true) && "metric names match [a-zA-Z_:][a-zA-Z0-9_:]*");
  assert(!name.ends_with("_total") && "counters get _total on each sample, not in the family name");
  assert((unit.empty() || (name.size() > unit.size() && name.ends_with(unit) &&
                           name[name.size() - unit.size() - 1] == '_')) &&
         "a family with a unit ends in _<unit>");
  if (used_ == families_.size()) families_.emplace_back();
  Family& family = families_[used_];
  family.name.assign(name);
  family.type = type;
  family.unit.assign(unit);
  family.help.assign(help);
  family.body.clear();
  return used_++;
}

void MetricWriter::begin_sample(FamilyId family, std::string_view suffix, Labels labels, const Label* extra) {
  std::string& out = families_[family].body;
  target_ = &out;
  out += families_[family].name;
  out += suffix;
  if (labels.size() == 0 && extra == nullptr) {
    out += ' ';
    return;
  }
  out += '{';
  bool first = true;
  auto append_label = [&](const Label& label) {
    assert(valid_name(label.first, false) && "label names match [a-zA-Z_][a-zA-Z0-9_]*");
    if (!first) out += ',';
    first = false;
    out += label.first;
    out += "=\"";
    append_escaped(out, label.second, true);
    out += '"';
  };
  for (const Label& label : labels) append_label(label);
  if (extra != nullptr) append_label(*extra);
  out += "} ";
}

void MetricWriter::sample(FamilyId family, Labels labels, std::uint64_t value) {
  begin_sample(family, families_[family].type == MetricType::counter ? "_total" : "", labels, nullptr);
  fmt::format_to(std::back_inserter(*target_), "{}\n", value);
  ++series_;
}

void MetricWriter::sample(FamilyId family, Labels labels, double value) {
  begin_sample(family, families_[family].type == MetricType::counter ? "_total" : "", labels, nullptr);
  append_double(*target_, value);
  *target_ += '\n';
  ++series_;
}

void MetricWriter::summary(FamilyId family, Labels labels, std::span<const std::pair<double, double>> quantile_values,
                           std::uint64_t count, double sum) {
  assert(families_[family].type == MetricType::summary);
  std::string quantile;
  for (const auto& [q, value] : quantile_values) {
    quantile.clear();
    append_double(quantile, q);
    const Label extra{"quantile", quantile};
    begin_sample(family, "", labels, &extra);
    append_double(*target_, value);
    *target_ += '\n';
    ++series_;
  }
  begin_sample(family, "_count", labels, nullptr);
  fmt::format_to(std::back_inserter(*target_), "{}\n", count);
  begin_sample(family, "_sum", labels, nullptr);
  append_double(*target_, sum);
  *target_ += '\n';
  series_ += 2;
}

void MetricWriter::render(std::string& out, ExpositionFormat format) const {
  const bool openmetrics = format == ExpositionFormat::openmetrics;
  for (std::size_t i = 0; i < used_; ++i) {
    const Family& family = families_[i];
    // Prometheus 0.0.4 names a counter's family like its samples (NAME_total);
    // OpenMetrics names the family without the suffix.
    const std::string_view suffix = !openmetrics && family.type == MetricType::counter ? "_total" : "";
    out += "# HELP ";
    out += family.name;
    out += suffix;
    out += ' ';
    append_escaped(out, family.help, openmetrics);
    out += "\n# TYPE ";
    out += family.name;
    out += suffix;
    out += ' ';
    out += type_name(family.type, format);
    out += '\n';
    if (openmetrics && !family.unit.empty()) {
      out += "# UNIT ";
      out += family.name;
      out += ' ';
      out += family.unit;
      out += '\n';
    }
    out += family.body;
  }
  if (openmetrics) out += "# EOF\n";
}

void MetricWriter::clear() noexcept {
  used_ = 0;
  series_ = 0;
  target_ = nullptr;
}

}  // namespace aether::telemetry
