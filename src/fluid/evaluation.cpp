#include "aether/fluid/evaluation.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace aether::fluid {

Evaluation evaluate(const DecisionTree& tree, std::span<const LabelledInterval> intervals) {
  Evaluation evaluation;
  evaluation.predicted_classes = tree.classes();
  evaluation.actual_labels = tree.classes();
  for (const auto& interval : intervals) {
    const auto known = std::find(evaluation.actual_labels.begin(), evaluation.actual_labels.end(), interval.label);
    if (known == evaluation.actual_labels.end()) evaluation.actual_labels.push_back(interval.label);
  }
  evaluation.confusion.assign(evaluation.actual_labels.size(), std::vector<std::uint64_t>(evaluation.predicted_classes.size(), 0));
  for (const auto& interval : intervals) {
    const auto row = static_cast<std::size_t>(
        std::find(evaluation.actual_labels.begin(), evaluation.actual_labels.end(), interval.label) - evaluation.actual_labels.begin());
    const std::size_t column = tree.predict(interval.input);
    ++evaluation.confusion[row][column];
    ++evaluation.intervals;
    if (evaluation.predicted_classes[column] == interval.label) ++evaluation.correct;
  }
  return evaluation;
}

std::string format_confusion(const Evaluation& evaluation) {
  std::size_t width = std::string_view("recorded \\ predicted").size();
  for (const auto& label : evaluation.actual_labels) width = std::max(width, label.size());
  std::string text = fmt::format("{:<{}}", "recorded \\ predicted", width);
  for (const auto& name : evaluation.predicted_classes) text += fmt::format(" {:>{}}", name, std::max<std::size_t>(name.size(), 7));
  text += '\n';
  for (std::size_t row = 0; row < evaluation.actual_labels.size(); ++row) {
    text += fmt::format("{:<{}}", evaluation.actual_labels[row], width);
    for (std::size_t column = 0; column < evaluation.predicted_classes.size(); ++column) {
      text += fmt::format(" {:>{}}", evaluation.confusion[row][column], std::max<std::size_t>(evaluation.predicted_classes[column].size(), 7));
    }
    text += '\n';
  }
  return text;
}

nlohmann::json to_json(const Evaluation& evaluation) {
  nlohmann::json confusion = nlohmann::json::object();
  for (std::size_t row = 0; row < evaluation.actual_labels.size(); ++row) {
    nlohmann::json predicted = nlohmann::json::object();
    for (std::size_t column = 0; column < evaluation.predicted_classes.size(); ++column) {
      predicted[evaluation.predicted_classes[column]] = evaluation.confusion[row][column];
    }
    confusion[evaluation.actual_labels[row]] = predicted;
  }
  return {{"intervals", evaluation.intervals},
          {"correct", evaluation.correct},
          {"accuracy", evaluation.accuracy()},
          {"classes", evaluation.predicted_classes},
          {"confusion", confusion}};
}

}  // namespace aether::fluid
