// `aether feed ...`: market data, ITCH 5.0 over MoldUDP64 (docs/market-data.md).
#include "feed_commands.hpp"

namespace aether::cli {

void register_feed(CLI::App& app, int& exit_code) {
  CLI::App* feed_command = app.add_subcommand("feed", "Market data: ITCH 5.0 over MoldUDP64 (docs/market-data.md)");
  feed_command->require_subcommand(1);
  register_feed_generate(*feed_command, exit_code);
  register_feed_verify(*feed_command, exit_code);
  register_feed_handle(*feed_command, exit_code);
  register_feed_replay(*feed_command, exit_code);
}

}  // namespace aether::cli
