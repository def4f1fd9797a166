// Labelled feature traces: what `aether fluid record` writes and `aether
// fluid train|replay` read. A trace is JSON lines, one interval per line: the
// FeatureVector's JSON (features.hpp) plus "label", the phase the application
// was in. The classifier sees each interval as a few rates (per second of the
// interval) and shares, so intervals of any length compare.
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "aether/core/result.hpp"
#include "aether/fluid/features.hpp"

namespace aether::fluid {

// The classifier's inputs, in this order (the model file names them): what
// the application itself does. Involuntary switches, run-queue wait and the
// softirq share stay in the trace but are not inputs: they measure the rest
// of the host (its load, other tasks' packets) as much as the application,
// and a model fitted on a busy host would misread a quiet one. Ties between
// equally good splits go to the earlier feature.
inline constexpr std::array<std::string_view, 8> classifier_feature_names = {
    "cpu_share",    "user_page_faults_per_s", "io_per_s",   "network_per_s",
    "memory_per_s", "sync_per_s",             "other_per_s", "voluntary_switches_per_s"};
inline constexpr std::size_t classifier_feature_count = classifier_feature_names.size();
using ClassifierInput = std::array<double, classifier_feature_count>;

struct LabelledInterval {
  std::string label;
  ClassifierInput input{};
  std::string source;  // "FILE:LINE", for messages
};

// The classifier's view of one interval. An interval of length 0 gives zeros.
[[nodiscard]] ClassifierInput classifier_input(const FeatureVector& features) noexcept;

// One trace line: to_json(features) with "label".
[[nodiscard]] nlohmann::json trace_line(const FeatureVector& features, std::string_view label);

// Labels are short names: 1-32 of [a-z0-9_-], so they print in a table and a
// typo is caught when recording. Errors say what is allowed.
Result<void> check_label(std::string_view label);

// Reads every interval of a trace. Errors name "FILE:LINE" and what is wrong
// there (not JSON, a missing or negative field, a bad label); blank lines are
// skipped; a trace without intervals is an error.
Result<std::vector<LabelledInterval>> read_trace(const std::filesystem::path& path);

}  // namespace aether::fluid
