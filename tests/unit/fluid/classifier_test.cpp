// The phase classifier: fitting and replay on a committed recorded trace,
// the model file's exact round trip, and malformed traces and models refused
// with FILE:LINE.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aether/fluid/decision_tree.hpp"
#include "aether/fluid/evaluation.hpp"
#include "aether/fluid/trace.hpp"
#include "aether/fluid/watch.hpp"

namespace aether::fluid {
namespace {

const std::filesystem::path data_dir = std::filesystem::path(AETHER_TEST_DATA_DIR) / "fluid";

// A labelled interval whose only activity is one feature.
LabelledInterval synthetic(std::size_t feature, double value, std::string label) {
  LabelledInterval interval;
  interval.input[feature] = value;
  interval.label = std::move(label);
  return interval;
}

std::vector<LabelledInterval> synthetic_set() {
  std::vector<LabelledInterval> intervals;
  for (int i = 0; i < 20; ++i) {
    intervals.push_back(synthetic(2, 1000.0 + i, "syscall"));
    intervals.push_back(synthetic(3, 5000.0 + i, "packets"));
    intervals.push_back(synthetic(1, 20000.0 + i, "faults"));
    intervals.push_back(synthetic(0, 0.5 + i / 100.0, "compute"));
    intervals.push_back(synthetic(0, 0.0, "idle"));
  }
  return intervals;
}

// A temporary file holding `text`, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& text)
      : path_(std::filesystem::temp_directory_path() / ("aether-fluid-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++))) {
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

TEST(FluidClassifier, FitsSeparableSyntheticPhasesExactly) {
  const auto intervals = synthetic_set();
  auto tree = DecisionTree::train(intervals);
  ASSERT_TRUE(tree) << tree.error().describe();
  EXPECT_EQ(tree->classes(), (std::vector<std::string>{"compute", "faults", "idle", "packets", "syscall"}));
  const Evaluation fit = evaluate(*tree, intervals);
  EXPECT_EQ(fit.correct, intervals.size());
  EXPECT_EQ(tree->nodes().size(), 9u);  // four splits, five leaves: one rule per phase
  EXPECT_EQ(tree->trained_on(), intervals.size());
}

TEST(FluidClassifier, RefusesNothingToTrainOnAndBadDepth) {
  EXPECT_FALSE(DecisionTree::train({}));
  const auto intervals = synthetic_set();
  EXPECT_FALSE(DecisionTree::train(intervals, TreeOptions{0, 2}));
  auto stump = DecisionTree::train(intervals, TreeOptions{1, 2});
  ASSERT_TRUE(stump);
  EXPECT_EQ(stump->nodes().size(), 3u);  // depth 1: one split
}

TEST(FluidClassifier, TrainsOnRecordedTraceAndReplaysHeldOutTrace) {
  // Recorded on this host with `aether fluid record --workload ...` (docs/fluid.md).
  auto training = read_trace(data_dir / "train.jsonl");
  auto held_out = read_trace(data_dir / "heldout.jsonl");
  ASSERT_TRUE(training) << training.error().describe();
  ASSERT_TRUE(held_out) << held_out.error().describe();
  auto tree = DecisionTree::train(*training);
  ASSERT_TRUE(tree) << tree.error().describe();
  EXPECT_EQ(tree->classes(), (std::vector<std::string>{"compute", "faults", "idle", "packets", "syscall"}));
  const Evaluation replay = evaluate(*tree, *held_out);
  EXPECT_EQ(replay.intervals, held_out->size());
  EXPECT_GE(replay.accuracy(), 0.95) << format_confusion(replay);
  std::uint64_t total = 0;
  for (const auto& row : replay.confusion) {
    for (const std::uint64_t count : row) total += count;
  }
  EXPECT_EQ(total, replay.intervals);
  const nlohmann::json json = to_json(replay);
  EXPECT_EQ(json["intervals"], replay.intervals);
  EXPECT_TRUE(json["confusion"].contains("packets"));
}

TEST(FluidClassifier, LabelsTheModelNeverSawGetTheirOwnRow) {
  auto tree = DecisionTree::train(synthetic_set());
  ASSERT_TRUE(tree);
  const std::vector<LabelledInterval> unseen = {synthetic(0, 0.0, "sleepy")};
  const Evaluation replay = evaluate(*tree, unseen);
  EXPECT_EQ(replay.actual_labels.back(), "sleepy");
  EXPECT_EQ(replay.correct, 0u);
  EXPECT_NE(format_confusion(replay).find("sleepy"), std::string::npos);
}

TEST(FluidModelFile, RoundTripsExactly) {
  auto training = read_trace(data_dir / "train.jsonl");
  ASSERT_TRUE(training) << training.error().describe();
  auto tree = DecisionTree::train(*training);
  ASSERT_TRUE(tree);
  const TempFile file("");
  ASSERT_TRUE(tree->save(file.path()));
  auto loaded = DecisionTree::load(file.path());
  ASSERT_TRUE(loaded) << loaded.error().describe();
  EXPECT_EQ(loaded->serialize(), tree->serialize());
  EXPECT_EQ(loaded->classes(), tree->classes());
  for (const auto& interval : *training) EXPECT_EQ(loaded->predict(interval.input), tree->predict(interval.input)) << interval.source;
}

TEST(FluidModelFile, MalformedModelsNameFileAndLine) {
  auto tree = DecisionTree::train(synthetic_set());
  ASSERT_TRUE(tree);
  const std::string good = tree->serialize();
  const std::string header = good.substr(0, good.find('\n') + 1);
  const std::string root = "{\"node\":0,\"feature\":\"cpu_share\",\"threshold\":0.5,\"left\":1,\"right\":2}\n";
  const std::string leaves = "{\"node\":1,\"leaf\":\"idle\"}\n{\"node\":2,\"leaf\":\"compute\"}\n";
  ASSERT_TRUE(DecisionTree::parse(header + root + leaves, "m.json")) << DecisionTree::parse(header + root + leaves, "m.json").error().message;
  struct Case {
    std::string text;
    std::string expected;  // in the message, after "m.json:"
  };
  const Case cases[] = {
      {"", "m.json: empty"},
      {"not json\n", "m.json:1: not a JSON object"},
      {"{\"features\":[]}\n", "m.json:1: not an aether fluid model"},
      {"{\"aether_fluid_model\":2}\n", "m.json:1: model version 2"},
      {"{\"aether_fluid_model\":1,\"features\":[\"io_per_s\"],\"classes\":[\"idle\"],\"trained_on\":1,\"max_depth\":8}\n", "m.json:1: the model's features [io_per_s]"},
      {header.substr(0, header.size() - 2) + ",\"colour\":1}\n", "m.json:1: unknown key \"colour\""},
      {header, "m.json:1: the model has no nodes"},
      {header + "\n" + root + "{\"node\":1,\"leaf\":\"idle\"}\n{\"node\":2,\"leaf\":\"sleepy\"}\n", "m.json:5: leaf \"sleepy\" is not one"},
      {header + root + "{\"node\":2,\"leaf\":\"idle\"}\n", "m.json:3: node 2 where node 1 belongs"},
      {header + "{\"node\":0,\"feature\":\"cpu_share\",\"threshold\":0.5,\"left\":0,\"right\":2}\n" + leaves, "m.json:2: child 0 is not a node after node 0"},
      {header + "{\"node\":0,\"feature\":\"cpu_share\",\"threshold\":0.5,\"left\":1,\"right\":7}\n" + leaves, "m.json:2: child 7 is not a node (the model has 3)"},
      {header + "{\"node\":0,\"feature\":\"cpu_share\",\"threshold\":0.5,\"left\":1,\"right\":1}\n" + leaves, "m.json:3: node 1 is reached by 2 splits"},
      {header + "{\"node\":0,\"feature\":\"ipc\",\"threshold\":0.5,\"left\":1,\"right\":2}\n" + leaves, "m.json:2: a split needs \"feature\""},
      {header + "{\"node\":0,\"feature\":\"cpu_share\",\"threshold\":\"x\",\"left\":1,\"right\":2}\n" + leaves, "m.json:2: a split needs a finite number"},
      {header + "{\"node\":0,\"feature\":\"cpu_share\",\"treshold\":0.5,\"left\":1,\"right\":2}\n" + leaves, "m.json:2: unknown key \"treshold\""},
      {header + root + "{\"node\":1,\"leaf\":\"idle\"}\n{\"node\":2,\"leaf\":\"compute\",\"samples\":-1}\n", "m.json:4: \"samples\" is -1"},
  };
  for (const Case& bad : cases) {
    auto parsed = DecisionTree::parse(bad.text, "m.json");
    ASSERT_FALSE(parsed) << bad.text;
    EXPECT_NE(parsed.error().message.find(bad.expected), std::string::npos) << "got: " << parsed.error().message << "\nwanted: " << bad.expected;
  }
  auto missing = DecisionTree::load("/nonexistent-aether-model.json");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("/nonexistent-aether-model.json"), std::string::npos);
}

std::string good_trace_line(const std::string& label = "idle") {
  FeatureVector features;
  features.interval_ns = 100'000'000;
  features.watched_cpus = 2;
  features.counts.syscalls[0] = 300;
  features.counts.user_page_faults = 50;
  features.cpu_ns = 40'000'000;
  return trace_line(features, label).dump() + "\n";
}

TEST(FluidTrace, ReadsWhatRecordWritesAsRatesPerSecond) {
  const TempFile file(good_trace_line() + "\n" + good_trace_line("compute"));
  auto trace = read_trace(file.path());
  ASSERT_TRUE(trace) << trace.error().describe();
  ASSERT_EQ(trace->size(), 2u);
  EXPECT_EQ((*trace)[1].label, "compute");
  EXPECT_EQ((*trace)[1].source, file.path().native() + ":3");
  EXPECT_DOUBLE_EQ((*trace)[0].input[0], 0.4);     // cpu share
  EXPECT_DOUBLE_EQ((*trace)[0].input[1], 500.0);   // user page faults per second
  EXPECT_DOUBLE_EQ((*trace)[0].input[2], 3000.0);  // 300 io syscalls in 0.1 s
}

TEST(FluidTrace, MalformedTracesNameFileAndLine) {
  const std::string good = good_trace_line();
  nlohmann::json no_label = nlohmann::json::parse(good);
  no_label.erase("label");
  nlohmann::json negative = nlohmann::json::parse(good);
  negative["user_page_faults"] = -3;
  nlohmann::json zero_length = nlohmann::json::parse(good);
  zero_length["interval_ns"] = 0;
  nlohmann::json no_network = nlohmann::json::parse(good);
  no_network["syscalls"].erase("network");
  struct Case {
    std::string text;
    std::string expected;  // after "FILE:"
  };
  const Case cases[] = {
      {good + "{\"interval\":\n", ":2: not a JSON object"},
      {good + good + no_label.dump() + "\n", ":3: missing \"label\""},
      {negative.dump() + "\n", ":1: \"user_page_faults\" is -3"},
      {zero_length.dump() + "\n", ":1: \"interval_ns\" is 0"},
      {no_network.dump() + "\n", ":1: syscalls: missing \"network\""},
      {good_trace_line("Idle Phase"), ":1: label \"Idle Phase\" is not a phase name"},
      {"[1,2]\n", ":1: not a JSON object"},
      {"\n\n", ": no intervals"},
  };
  for (const Case& bad : cases) {
    const TempFile file(bad.text);
    auto trace = read_trace(file.path());
    ASSERT_FALSE(trace) << bad.text;
    EXPECT_NE(trace.error().message.find(file.path().native() + bad.expected), std::string::npos)
        << "got: " << trace.error().message << "\nwanted: " << bad.expected;
  }
  EXPECT_FALSE(read_trace("/nonexistent-aether-trace.jsonl"));
}

TEST(FluidTrace, LabelsAreShortLowercaseNames) {
  EXPECT_TRUE(check_label("packet-burst"));
  EXPECT_TRUE(check_label("io_heavy2"));
  EXPECT_FALSE(check_label(""));
  EXPECT_FALSE(check_label("Compute"));
  EXPECT_FALSE(check_label(std::string(33, 'a')));
}

TEST(FluidProcessCpu, ReadsThisProcessAndNotAMissingOne) {
  EXPECT_TRUE(process_cpu_ns(::getpid()).has_value());
  EXPECT_FALSE(process_cpu_ns(4'194'304).has_value());  // above PID_MAX_LIMIT: never a process
}

}  // namespace
}  // namespace aether::fluid
