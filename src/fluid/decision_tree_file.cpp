// The model file: JSON lines (decision_tree.hpp), so every error names a line.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "aether/fluid/decision_tree.hpp"

namespace aether::fluid {
namespace {

constexpr int model_version = 1;

// Refuses any key outside `allowed`, so a typo ("treshold") is not ignored.
Result<void> only_keys(const nlohmann::json& object, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return invalid_argument(fmt::format("unknown key \"{}\" (allowed: {})", key, fmt::join(allowed, ", ")));
    }
  }
  return {};
}

Result<std::uint64_t> unsigned_field(const nlohmann::json& object, std::string_view key) {
  const auto found = object.find(key);
  if (found == object.end()) return invalid_argument(fmt::format("missing \"{}\"", key));
  if (!found->is_number_unsigned()) return invalid_argument(fmt::format("\"{}\" is {}, expected a non-negative integer", key, found->dump()));
  return found->get<std::uint64_t>();
}

Result<std::vector<std::string>> string_list(const nlohmann::json& object, std::string_view key) {
  const auto found = object.find(key);
  if (found == object.end() || !found->is_array() || found->empty()) {
    return invalid_argument(fmt::format("missing \"{}\" (a non-empty list of strings)", key));
  }
  std::vector<std::string> list;
  for (const auto& item : *found) {
    if (!item.is_string()) return invalid_argument(fmt::format("\"{}\" holds {}, not a string", key, item.dump()));
    list.push_back(item.get<std::string>());
  }
  return list;
}

struct Header {
  std::vector<std::string> classes;
  std::uint64_t trained_on = 0;
  unsigned max_depth = 0;
};

Result<Header> parse_header(const nlohmann::json& line) {
  if (auto keys = only_keys(line, {"aether_fluid_model", "features", "classes", "trained_on", "max_depth"}); !keys) return std::move(keys).error();
  auto version = unsigned_field(line, "aether_fluid_model");
  if (!version) return invalid_argument("not an aether fluid model: the first line has no \"aether_fluid_model\" version");
  if (*version != model_version) return invalid_argument(fmt::format("model version {}; this build reads version {}", *version, model_version));
  auto features = string_list(line, "features");
  if (!features) return std::move(features).error();
  const std::vector<std::string> expected(classifier_feature_names.begin(), classifier_feature_names.end());
  if (*features != expected) {
    return invalid_argument(fmt::format("the model's features [{}] are not the ones this build computes [{}]",
                                        fmt::join(*features, ", "), fmt::join(expected, ", ")));
  }
  Header header;
  auto classes = string_list(line, "classes");
  if (!classes) return std::move(classes).error();
  header.classes = std::move(*classes);
  if (std::set<std::string>(header.classes.begin(), header.classes.end()).size() != header.classes.size()) {
    return invalid_argument("\"classes\" lists a class twice");
  }
  auto trained_on = unsigned_field(line, "trained_on");
  auto max_depth = unsigned_field(line, "max_depth");
  if (!trained_on) return std::move(trained_on).error();
  if (!max_depth) return std::move(max_depth).error();
  if (*max_depth < 1 || *max_depth > 32) return invalid_argument(fmt::format("\"max_depth\" {} is outside 1..32", *max_depth));
  header.trained_on = *trained_on;
  header.max_depth = static_cast<unsigned>(*max_depth);
  return header;
}

Result<DecisionTree::Node> parse_node(const nlohmann::json& line, std::size_t expected_index, const std::vector<std::string>& classes) {
  auto index = unsigned_field(line, "node");
  if (!index) return std::move(index).error();
  if (*index != expected_index) return invalid_argument(fmt::format("node {} where node {} belongs (nodes are numbered in file order)", *index, expected_index));
  DecisionTree::Node node;
  if (line.contains("leaf")) {
    if (auto keys = only_keys(line, {"node", "leaf", "samples"}); !keys) return std::move(keys).error();
    const auto& leaf = line["leaf"];
    const auto found = leaf.is_string() ? std::find(classes.begin(), classes.end(), leaf.get<std::string>()) : classes.end();
    if (found == classes.end()) return invalid_argument(fmt::format("leaf {} is not one of the model's classes", leaf.dump()));
    node.leaf_class = static_cast<std::int32_t>(found - classes.begin());
  } else {
    if (auto keys = only_keys(line, {"node", "feature", "threshold", "left", "right", "samples"}); !keys) return std::move(keys).error();
    const auto feature = line.find("feature");
    const auto named = feature != line.end() && feature->is_string()
                           ? std::find(classifier_feature_names.begin(), classifier_feature_names.end(), feature->get<std::string>())
                           : classifier_feature_names.end();
    if (named == classifier_feature_names.end()) {
      return invalid_argument(fmt::format("a split needs \"feature\", one of {}; got {}", fmt::join(classifier_feature_names, ", "),
                                          feature == line.end() ? std::string("nothing") : feature->dump()));
    }
    node.feature = static_cast<std::uint32_t>(named - classifier_feature_names.begin());
    const auto threshold = line.find("threshold");
    if (threshold == line.end() || !threshold->is_number() || !std::isfinite(threshold->get<double>())) {
      return invalid_argument("a split needs a finite number \"threshold\"");
    }
    node.threshold = threshold->get<double>();
    auto left = unsigned_field(line, "left");
    auto right = unsigned_field(line, "right");
    if (!left) return std::move(left).error();
    if (!right) return std::move(right).error();
    // Children after their parent: predict() then always ends.
    for (const std::uint64_t child : {*left, *right}) {
      if (child <= expected_index || child > UINT32_MAX) {
        return invalid_argument(fmt::format("child {} is not a node after node {}", child, expected_index));
      }
    }
    node.left = static_cast<std::uint32_t>(*left);
    node.right = static_cast<std::uint32_t>(*right);
  }
  if (line.contains("samples")) {
    auto samples = unsigned_field(line, "samples");
    if (!samples) return std::move(samples).error();
    node.samples = *samples;
  }
  return node;
}

}  // namespace

std::string DecisionTree::serialize() const {
  std::string text = nlohmann::json{{"aether_fluid_model", model_version},
                                    {"features", classifier_feature_names},
                                    {"classes", classes_},
                                    {"trained_on", trained_on_},
                                    {"max_depth", max_depth_}}
                         .dump() +
                     '\n';
  for (std::size_t index = 0; index < nodes_.size(); ++index) {
    const Node& node = nodes_[index];
    nlohmann::json line = node.leaf_class >= 0
                              ? nlohmann::json{{"node", index}, {"leaf", classes_[static_cast<std::size_t>(node.leaf_class)]}}
                              : nlohmann::json{{"node", index},
                                               {"feature", classifier_feature_names[node.feature]},
                                               {"threshold", node.threshold},
                                               {"left", node.left},
                                               {"right", node.right}};
    line["samples"] = node.samples;
    text += line.dump() + '\n';  // dump() writes doubles so they read back exactly
  }
  return text;
}

Result<DecisionTree> DecisionTree::parse(std::string_view text, std::string_view source) {
  DecisionTree tree;
  std::vector<std::size_t> node_lines;
  bool have_header = false;
  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const auto end = text.find('\n');
    const std::string_view raw = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (raw.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const auto at_fault = [&](const Error& error) { return invalid_argument(fmt::format("{}:{}: {}", source, line_number, error.message)); };
    const nlohmann::json line = nlohmann::json::parse(raw, nullptr, /*allow_exceptions=*/false);
    if (line.is_discarded() || !line.is_object()) return at_fault(invalid_argument("not a JSON object (one per line)"));
    if (!have_header) {
      auto header = parse_header(line);
      if (!header) return at_fault(header.error());
      tree.classes_ = std::move(header->classes);
      tree.trained_on_ = header->trained_on;
      tree.max_depth_ = header->max_depth;
      have_header = true;
      continue;
    }
    auto node = parse_node(line, tree.nodes_.size(), tree.classes_);
    if (!node) return at_fault(node.error());
    tree.nodes_.push_back(*node);
    node_lines.push_back(line_number);
  }
  if (!have_header) return invalid_argument(fmt::format("{}: empty: not an aether fluid model", source));
  if (tree.nodes_.empty()) return invalid_argument(fmt::format("{}:{}: the model has no nodes", source, line_number));
  // A tree: every node but the root is the child of exactly one split.
  std::vector<unsigned> parents(tree.nodes_.size(), 0);
  for (std::size_t index = 0; index < tree.nodes_.size(); ++index) {
    const Node& node = tree.nodes_[index];
    if (node.leaf_class >= 0) continue;
    for (const std::uint32_t child : {node.left, node.right}) {
      if (child >= tree.nodes_.size()) {
        return invalid_argument(fmt::format("{}:{}: child {} is not a node (the model has {})", source, node_lines[index], child, tree.nodes_.size()));
      }
      ++parents[child];
    }
  }
  for (std::size_t index = 1; index < tree.nodes_.size(); ++index) {
    if (parents[index] != 1) {
      return invalid_argument(fmt::format("{}:{}: node {} is reached by {} splits; a tree reaches each node once", source,
                                          node_lines[index], index, parents[index]));
    }
  }
  return tree;
}

Result<void> DecisionTree::save(const std::filesystem::path& path) const {
  std::ofstream file(path, std::ios::trunc);
  file << serialize();
  file.flush();
  if (!file) return errno_error(fmt::format("cannot write model {}", path.native()));
  return {};
}

Result<DecisionTree> DecisionTree::load(const std::filesystem::path& path) {
  std::ifstream file(path);
  if (!file) return errno_error(fmt::format("cannot open model {}", path.native()));
  std::stringstream text;
  text << file.rdbuf();
  return parse(text.str(), path.native());
}

}  // namespace aether::fluid
