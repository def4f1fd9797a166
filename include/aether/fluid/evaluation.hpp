// Replaying labelled intervals through a model: accuracy and the confusion
// matrix (rows: the label recorded; columns: the class predicted).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "aether/fluid/decision_tree.hpp"

namespace aether::fluid {

struct Evaluation {
  std::vector<std::string> predicted_classes;  // the model's classes: the columns
  std::vector<std::string> actual_labels;      // the model's classes, then labels it never saw: the rows
  std::vector<std::vector<std::uint64_t>> confusion;  // [row][column]
  std::uint64_t intervals = 0;
  std::uint64_t correct = 0;

  [[nodiscard]] double accuracy() const noexcept {
    return intervals == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(intervals);
  }
};

[[nodiscard]] Evaluation evaluate(const DecisionTree& tree, std::span<const LabelledInterval> intervals);

// The matrix as an aligned text table with a row and column per class.
[[nodiscard]] std::string format_confusion(const Evaluation& evaluation);

// {"intervals","correct","accuracy","classes","confusion":{actual:{predicted:n}}}
[[nodiscard]] nlohmann::json to_json(const Evaluation& evaluation);

}  // namespace aether::fluid
