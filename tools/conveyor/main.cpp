// conveyor: the command-line tool (webhook signing and delivery, the event
// stream, config validation).
#include <cstdlib>

#include "commands.hpp"

namespace conveyor::cli {
std::string default_brokers() {
  const char* env = std::getenv("CONVEYOR_KAFKA_BROKERS");
  return env ? env : "127.0.0.1:19092";
}
}  // namespace conveyor::cli

int main(int argc, char** argv) {
  CLI::App app{"conveyor: command-line tool of the conveyor delivery suite"};
  app.require_subcommand(1);
  int exit_code = 0;
  conveyor::cli::add_webhook_commands(app, exit_code);
  conveyor::cli::add_events_commands(app, exit_code);
  conveyor::cli::add_config_commands(app, exit_code);
  conveyor::cli::add_version_commands(app, exit_code);
  conveyor::cli::add_values_commands(app, exit_code);
  conveyor::cli::add_rollback_commands(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return exit_code;
}
