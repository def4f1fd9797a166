#include "aether/fluid/trace.hpp"

#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace aether::fluid {
namespace {

constexpr std::string_view label_rule = "1-32 characters of a-z, 0-9, '_' and '-'";

// A non-negative integer field of `line`, or an error naming it.
Result<std::uint64_t> count_field(const nlohmann::json& object, std::string_view key) {
  const auto found = object.find(key);
  if (found == object.end()) return invalid_argument(fmt::format("missing \"{}\"", key));
  if (!found->is_number_unsigned()) {
    return invalid_argument(fmt::format("\"{}\" is {}, expected a non-negative integer", key, found->dump()));
  }
  return found->get<std::uint64_t>();
}

// The FeatureVector fields the classifier uses, from one trace line.
Result<FeatureVector> features_from_line(const nlohmann::json& line) {
  if (!line.is_object()) return invalid_argument("not a JSON object");
  FeatureVector features;
  const auto syscalls = line.find("syscalls");
  if (syscalls == line.end() || !syscalls->is_object()) return invalid_argument("missing \"syscalls\" (an object by class)");
  for (std::size_t i = 0; i < syscall_class_count; ++i) {
    auto count = count_field(*syscalls, syscall_class_name(static_cast<SyscallClass>(i)));
    if (!count) return invalid_argument(fmt::format("syscalls: {}", count.error().message));
    features.counts.syscalls[i] = *count;
  }
  struct Field {
    std::string_view key;
    std::uint64_t* into;
  };
  for (const Field field : {Field{"interval_ns", &features.interval_ns}, Field{"watched_cpus", &features.watched_cpus},
                            Field{"user_page_faults", &features.counts.user_page_faults},
                            Field{"voluntary_switches", &features.counts.voluntary_switches},
                            Field{"involuntary_switches", &features.counts.involuntary_switches},
                            Field{"softirq_ns", &features.counts.softirq_ns}, Field{"cpu_ns", &features.cpu_ns}}) {
    auto count = count_field(line, field.key);
    if (!count) return std::move(count).error();
    *field.into = *count;
  }
  if (features.interval_ns == 0) return invalid_argument("\"interval_ns\" is 0: an interval has a length");
  return features;
}

}  // namespace

ClassifierInput classifier_input(const FeatureVector& features) noexcept {
  ClassifierInput input{};
  if (features.interval_ns == 0) return input;
  const double seconds = static_cast<double>(features.interval_ns) / 1e9;
  const auto per_second = [seconds](std::uint64_t count) { return static_cast<double>(count) / seconds; };
  input[0] = features.cpu_share();
  input[1] = per_second(features.counts.user_page_faults);
  for (std::size_t i = 0; i < syscall_class_count; ++i) input[2 + i] = per_second(features.counts.syscalls[i]);
  input[7] = per_second(features.counts.voluntary_switches);
  return input;
}

nlohmann::json trace_line(const FeatureVector& features, std::string_view label) {
  nlohmann::json line = to_json(features);
  line["label"] = label;
  return line;
}

Result<void> check_label(std::string_view label) {
  const bool allowed = !label.empty() && label.size() <= 32 && label.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") == std::string_view::npos;
  if (!allowed) return invalid_argument(fmt::format("label \"{}\" is not a phase name: {}", label, label_rule));
  return {};
}

Result<std::vector<LabelledInterval>> read_trace(const std::filesystem::path& path) {
  std::ifstream file(path);
  if (!file) return errno_error(fmt::format("cannot open trace {}", path.native()));
  std::vector<LabelledInterval> intervals;
  std::string text;
  for (std::size_t line_number = 1; std::getline(file, text); ++line_number) {
    const std::string where = fmt::format("{}:{}", path.native(), line_number);
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const nlohmann::json line = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (line.is_discarded()) return invalid_argument(fmt::format("{}: not a JSON object (one interval per line)", where));
    auto features = features_from_line(line);
    if (!features) return invalid_argument(fmt::format("{}: {}", where, features.error().message));
    const auto label = line.find("label");
    if (label == line.end() || !label->is_string()) return invalid_argument(fmt::format("{}: missing \"label\" (a string)", where));
    if (auto checked = check_label(label->get<std::string>()); !checked) {
      return invalid_argument(fmt::format("{}: {}", where, checked.error().message));
    }
    intervals.push_back(LabelledInterval{label->get<std::string>(), classifier_input(*features), where});
  }
  if (file.bad()) return errno_error(fmt::format("cannot read trace {}", path.native()));
  if (intervals.empty()) return invalid_argument(fmt::format("{}: no intervals (an empty trace)", path.native()));
  return intervals;
}

}  // namespace aether::fluid
