// The phase classifier: a small CART decision tree (Gini impurity, axis-
// aligned splits "feature <= threshold"), written here, no ML runtime. A tree
// suits the problem: the phases differ by which counters move at all, the
// features need no scaling, and the fitted model reads as a few rules
// ("network_per_s <= 812 -> ...") a person can check against docs/fluid.md.
//
// Model file: JSON lines, so every error names its line. Line 1 is the header
//   {"aether_fluid_model":1,"features":[...],"classes":[...],"trained_on":N,"max_depth":D}
// then one node per line in preorder, node 0 the root:
//   {"node":0,"feature":"cpu_share","threshold":0.41,"left":1,"right":4}    (<= goes left)
//   {"node":1,"leaf":"idle","samples":12}
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aether/core/result.hpp"
#include "aether/fluid/trace.hpp"

namespace aether::fluid {

struct TreeOptions {
  unsigned max_depth = 8;          // 1..32
  std::size_t min_samples_split = 2;  // a node with fewer becomes a leaf
};

class DecisionTree {
 public:
  struct Node {
    // A split when `leaf_class` < 0: input[feature] <= threshold goes to `left`.
    std::uint32_t feature = 0;
    double threshold = 0.0;
    std::uint32_t left = 0;
    std::uint32_t right = 0;
    std::int32_t leaf_class = -1;  // index into classes() for a leaf
    std::uint64_t samples = 0;     // training intervals that reached it
  };

  // Fits a tree to `intervals` (at least one). Classes are the labels, sorted;
  // ties in a leaf go to the first class. Deterministic: same input, same tree.
  static Result<DecisionTree> train(std::span<const LabelledInterval> intervals, TreeOptions options = {});

  // The model file text (format above) and back. Errors of parse() name
  // "SOURCE:LINE": not JSON, an unknown or missing key, a feature this build
  // does not compute, a child that is not a later node, a node no split reaches.
  [[nodiscard]] std::string serialize() const;
  static Result<DecisionTree> parse(std::string_view text, std::string_view source);
  Result<void> save(const std::filesystem::path& path) const;
  static Result<DecisionTree> load(const std::filesystem::path& path);

  // The class index of `input`.
  [[nodiscard]] std::size_t predict(const ClassifierInput& input) const noexcept;

  [[nodiscard]] const std::vector<std::string>& classes() const noexcept { return classes_; }
  [[nodiscard]] const std::vector<Node>& nodes() const noexcept { return nodes_; }
  [[nodiscard]] std::uint64_t trained_on() const noexcept { return trained_on_; }

 private:
  std::vector<std::string> classes_;
  std::vector<Node> nodes_;
  std::uint64_t trained_on_ = 0;
  unsigned max_depth_ = 0;
};

}  // namespace aether::fluid
