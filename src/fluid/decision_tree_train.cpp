// CART fitting (Breiman et al. 1984, ch. 4): grow a node by the split that
// lowers the weighted Gini impurity most; stop when a node is pure, too small
// or at the depth limit.
#include <algorithm>
#include <map>
#include <numeric>

#include <fmt/format.h>

#include "aether/fluid/decision_tree.hpp"

namespace aether::fluid {
namespace {

struct Split {
  bool found = false;
  std::uint32_t feature = 0;
  double threshold = 0.0;
  double impurity = 0.0;  // weighted Gini of the two children
  std::size_t left_count = 0;
};

double gini(const std::vector<std::size_t>& counts, std::size_t total) {
  if (total == 0) return 0.0;
  double sum_of_squares = 0.0;
  for (const std::size_t count : counts) {
    const double share = static_cast<double>(count) / static_cast<double>(total);
    sum_of_squares += share * share;
  }
  return 1.0 - sum_of_squares;
}

class TreeBuilder {
 public:
  TreeBuilder(std::span<const LabelledInterval> intervals, const std::vector<std::size_t>& labels, std::size_t class_count,
              TreeOptions options)
      : intervals_(intervals), labels_(labels), class_count_(class_count), options_(options) {}

  // Appends the subtree over `members` (indices into intervals) and returns its node index.
  std::uint32_t grow(std::vector<std::size_t> members, unsigned depth, std::vector<DecisionTree::Node>& nodes) {
    std::vector<std::size_t> counts(class_count_, 0);
    for (const std::size_t member : members) ++counts[labels_[member]];
    const auto index = static_cast<std::uint32_t>(nodes.size());
    nodes.push_back({});
    nodes[index].samples = members.size();
    const auto majority = std::max_element(counts.begin(), counts.end()) - counts.begin();  // first of equals
    const bool pure = counts[static_cast<std::size_t>(majority)] == members.size();
    const Split split = pure || depth >= options_.max_depth || members.size() < options_.min_samples_split
                            ? Split{}
                            : best_split(members, gini(counts, members.size()));
    if (!split.found) {
      nodes[index].leaf_class = static_cast<std::int32_t>(majority);
      return index;
    }
    std::vector<std::size_t> left;
    std::vector<std::size_t> right;
    for (const std::size_t member : members) {
      (intervals_[member].input[split.feature] <= split.threshold ? left : right).push_back(member);
    }
    members.clear();
    members.shrink_to_fit();
    nodes[index].feature = split.feature;
    nodes[index].threshold = split.threshold;
    nodes[index].left = grow(std::move(left), depth + 1, nodes);
    nodes[index].right = grow(std::move(right), depth + 1, nodes);
    return index;
  }

 private:
  // The split with the lowest weighted child impurity that is lower than the
  // parent's; thresholds are midpoints between neighbouring distinct values.
  Split best_split(std::vector<std::size_t> members, double parent_impurity) const {
    Split best;
    best.impurity = parent_impurity;
    const std::size_t total = members.size();
    for (std::uint32_t feature = 0; feature < classifier_feature_count; ++feature) {
      const auto value = [&](std::size_t member) { return intervals_[member].input[feature]; };
      std::stable_sort(members.begin(), members.end(), [&](std::size_t a, std::size_t b) { return value(a) < value(b); });
      std::vector<std::size_t> left_counts(class_count_, 0);
      std::vector<std::size_t> right_counts(class_count_, 0);
      for (const std::size_t member : members) ++right_counts[labels_[member]];
      for (std::size_t i = 0; i + 1 < total; ++i) {
        ++left_counts[labels_[members[i]]];
        --right_counts[labels_[members[i]]];
        if (!(value(members[i]) < value(members[i + 1]))) continue;  // no threshold between equal values
        const std::size_t left_total = i + 1;
        const double impurity =
            (static_cast<double>(left_total) * gini(left_counts, left_total) +
             static_cast<double>(total - left_total) * gini(right_counts, total - left_total)) /
            static_cast<double>(total);
        if (impurity < best.impurity - 1e-12) {
          best = Split{true, feature, value(members[i]) + (value(members[i + 1]) - value(members[i])) / 2.0, impurity, left_total};
        }
      }
    }
    return best;
  }

  std::span<const LabelledInterval> intervals_;
  const std::vector<std::size_t>& labels_;
  std::size_t class_count_;
  TreeOptions options_;
};

}  // namespace

Result<DecisionTree> DecisionTree::train(std::span<const LabelledInterval> intervals, TreeOptions options) {
  if (intervals.empty()) return invalid_argument("no intervals to train on");
  if (options.max_depth < 1 || options.max_depth > 32) {
    return invalid_argument(fmt::format("max depth {} is outside 1..32", options.max_depth));
  }
  std::map<std::string, std::size_t> class_index;
  for (const auto& interval : intervals) class_index.emplace(interval.label, 0);
  DecisionTree tree;
  for (auto& [label, index] : class_index) {
    index = tree.classes_.size();
    tree.classes_.push_back(label);
  }
  std::vector<std::size_t> labels;
  labels.reserve(intervals.size());
  for (const auto& interval : intervals) labels.push_back(class_index.at(interval.label));
  std::vector<std::size_t> members(intervals.size());
  std::iota(members.begin(), members.end(), std::size_t{0});
  TreeBuilder builder(intervals, labels, tree.classes_.size(), options);
  builder.grow(std::move(members), 0, tree.nodes_);
  tree.trained_on_ = intervals.size();
  tree.max_depth_ = options.max_depth;
  return tree;
}

std::size_t DecisionTree::predict(const ClassifierInput& input) const noexcept {
  std::uint32_t at = 0;
  // parse() and train() guarantee children are later nodes, so this ends.
  while (nodes_[at].leaf_class < 0) at = input[nodes_[at].feature] <= nodes_[at].threshold ? nodes_[at].left : nodes_[at].right;
  return static_cast<std::size_t>(nodes_[at].leaf_class);
}

}  // namespace aether::fluid
