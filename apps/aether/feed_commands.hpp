// The `aether feed` subcommands, one file each (cmd_feed_<name>.cpp).
#pragma once

#include "commands.hpp"

namespace aether::cli {

void register_feed_generate(CLI::App& feed_command, int& exit_code);
void register_feed_verify(CLI::App& feed_command, int& exit_code);
void register_feed_handle(CLI::App& feed_command, int& exit_code);
void register_feed_replay(CLI::App& feed_command, int& exit_code);

}  // namespace aether::cli
