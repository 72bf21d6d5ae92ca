// Subcommands of the `conveyor` CLI; each registers itself on the app.
#pragma once

#include <CLI/CLI.hpp>

namespace conveyor::cli {

// `conveyor webhook sign|send`: sign a body like GitHub; deliver it like GitHub.
void add_webhook_commands(CLI::App& app, int& exit_code);
// `conveyor events tail`: read the public CDEvents stream.
void add_events_commands(CLI::App& app, int& exit_code);
// `conveyor config validate FILE`.
void add_config_commands(CLI::App& app, int& exit_code);
// `conveyor values set FILE KEY=VALUE...` / `values get FILE KEY`: comment-preserving YAML edits.
void add_values_commands(CLI::App& app, int& exit_code);
// `conveyor version next --repo PATH [--branch NAME] [--tag-prefix v]`: the next version and why.
void add_version_commands(CLI::App& app, int& exit_code);
// `conveyor rollback --environment E [--config conveyor.yaml]`: asks the deployer
// to roll E back to the deployment before its current one; prints the request id.
void add_rollback_commands(CLI::App& app, int& exit_code);

// Kafka bootstrap servers: $CONVEYOR_KAFKA_BROKERS, else 127.0.0.1:19092.
std::string default_brokers();

}  // namespace conveyor::cli
