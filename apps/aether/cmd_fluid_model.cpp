// `aether fluid train` and `aether fluid replay`: the phase classifier
// (docs/fluid.md). train fits a decision tree to recorded traces and writes
// the model; replay runs held-out traces through a model and reports the
// accuracy and the confusion matrix.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "fluid_commands.hpp"

#if defined(AETHER_HAVE_FLUID)
#include "aether/fluid/decision_tree.hpp"
#include "aether/fluid/evaluation.hpp"
#include "aether/fluid/trace.hpp"
#endif

namespace aether::cli {
namespace {

struct FluidTrainOptions {
  std::vector<std::string> traces;
  std::string out_path;
  unsigned max_depth = 8;
};

struct FluidReplayOptions {
  std::string model_path;
  std::vector<std::string> traces;
  std::string json_path;
};

#if defined(AETHER_HAVE_FLUID)

Result<std::vector<fluid::LabelledInterval>> read_traces(const std::vector<std::string>& paths) {
  std::vector<fluid::LabelledInterval> intervals;
  for (const auto& path : paths) {
    auto trace = fluid::read_trace(path);
    if (!trace) return std::move(trace).error();
    intervals.insert(intervals.end(), std::make_move_iterator(trace->begin()), std::make_move_iterator(trace->end()));
  }
  return intervals;
}

int run_fluid_train(const FluidTrainOptions& options) {
  auto intervals = read_traces(options.traces);
  if (!intervals) {
    fmt::print(stderr, "aether fluid train: {}\n", intervals.error().describe());
    return exit_failure;
  }
  auto tree = fluid::DecisionTree::train(*intervals, fluid::TreeOptions{options.max_depth, 2});
  if (!tree) {
    fmt::print(stderr, "aether fluid train: {}\n", tree.error().describe());
    return exit_failure;
  }
  if (auto saved = tree->save(options.out_path); !saved) {
    fmt::print(stderr, "aether fluid train: {}\n", saved.error().describe());
    return exit_failure;
  }
  const fluid::Evaluation fit = fluid::evaluate(*tree, *intervals);
  fmt::print("aether fluid train: {} intervals of {} classes ({}) -> {} nodes in {}; accuracy on the training traces {:.1f}% "
             "(replay held-out traces for the real figure)\n",
             intervals->size(), tree->classes().size(), fmt::join(tree->classes(), ", "), tree->nodes().size(),
             options.out_path, fit.accuracy() * 100.0);
  return exit_ok;
}

int run_fluid_replay(const FluidReplayOptions& options) {
  auto tree = fluid::DecisionTree::load(options.model_path);
  if (!tree) {
    fmt::print(stderr, "aether fluid replay: {}\n", tree.error().describe());
    return exit_failure;
  }
  auto intervals = read_traces(options.traces);
  if (!intervals) {
    fmt::print(stderr, "aether fluid replay: {}\n", intervals.error().describe());
    return exit_failure;
  }
  const fluid::Evaluation evaluation = fluid::evaluate(*tree, *intervals);
  fmt::print("aether fluid replay: model {} on {} intervals: accuracy {:.1f}% ({} of {})\n\n{}", options.model_path,
             evaluation.intervals, evaluation.accuracy() * 100.0, evaluation.correct, evaluation.intervals,
             fluid::format_confusion(evaluation));
  if (!options.json_path.empty()) {
    std::ofstream json(options.json_path, std::ios::trunc);
    nlohmann::json report = fluid::to_json(evaluation);
    report["model"] = options.model_path;
    report["traces"] = options.traces;
    json << report.dump(2) << '\n';
    if (!json.flush()) {
      fmt::print(stderr, "aether fluid replay: cannot write {}\n", options.json_path);
      return exit_failure;
    }
  }
  return exit_ok;
}

#else

int run_fluid_train(const FluidTrainOptions&) { return fluid_missing("train"); }
int run_fluid_replay(const FluidReplayOptions&) { return fluid_missing("replay"); }

#endif

}  // namespace

void register_fluid_model(CLI::App& fluid_command, int& exit_code) {
  auto train_options = std::make_shared<FluidTrainOptions>();
  CLI::App* train = fluid_command.add_subcommand(
      "train", "Fit the phase classifier (a decision tree) to labelled traces from `aether fluid record`; write the model (JSON lines)");
  train->add_option("traces", train_options->traces, "Trace files (JSON lines)")->required();
  train->add_option("--out", train_options->out_path, "The model file to write")->required();
  train->add_option("--max-depth", train_options->max_depth, "Deepest split")->default_val(8)->check(CLI::Range(1, 32));
  train->callback([train_options, &exit_code] { exit_code = run_fluid_train(*train_options); });

  auto replay_options = std::make_shared<FluidReplayOptions>();
  CLI::App* replay = fluid_command.add_subcommand(
      "replay", "Classify the intervals of held-out traces with a model: accuracy and the confusion matrix");
  replay->add_option("--model", replay_options->model_path, "The model file from `aether fluid train`")->required();
  replay->add_option("traces", replay_options->traces, "Trace files (JSON lines)")->required();
  replay->add_option("--json", replay_options->json_path, "Also write the figures as JSON to FILE");
  replay->callback([replay_options, &exit_code] { exit_code = run_fluid_replay(*replay_options); });
}

}  // namespace aether::cli
